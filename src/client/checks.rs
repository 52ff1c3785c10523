//! The checks of a built request that the generated code does not make, run by the `pre` hook
//! on every operation: its URL still names the operation (a path parameter such as `..` would
//! not), and its integer query parameters are within the spec's ranges.

use crate::error::Error;
use crate::spec;

pub(super) fn request(request: &reqwest::Request, operation: &str) -> Result<(), Error> {
    if !spec::names_operation(operation, request.method().as_str(), request.url().path()) {
        // Which parameter it was is lost once the URL parser has resolved the dot segment: the
        // error names the last (the one callers set; the project is usually the client's) and
        // lists them all.
        let names: Vec<&'static str> = spec::rules(operation)
            .filter(|r| r.location == spec::Location::Path)
            .map(|r| r.name)
            .collect();
        return Err(Error::InvalidInput {
            field: names.last().copied().unwrap_or("path"),
            rule: format!(
                "\".\", \"..\" and \"\" cannot be sent as a URL path segment ({})",
                names.join(", ")
            ),
        });
    }
    spec::check_query(operation, request.url().query_pairs())
        .map_err(|(field, rule)| Error::InvalidInput { field, rule })
}
