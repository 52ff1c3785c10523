//! The checks of a built request that the generated code does not make, run by the `pre` hook
//! on every operation: its URL still names the operation (a path parameter such as `..` would
//! not), and its integer query parameters are within the spec's ranges.

use crate::spec;

/// `Err` is `"{parameter}: {rule}"`, read back by the call path into
/// [`Error::InvalidInput`](crate::Error::InvalidInput).
pub(super) fn request(request: &reqwest::Request, operation: &str) -> Result<(), String> {
    let routed = spec::route(request.method().as_str(), request.url().path());
    if routed.is_none_or(|(op, _)| op.operation != operation) {
        let names: Vec<&str> = spec::rules(operation)
            .filter(|r| r.location == spec::Location::Path)
            .map(|r| r.name)
            .collect();
        return Err(format!(
            "{}: \".\", \"..\" and \"\" cannot be sent as a URL path segment",
            names.join(", ")
        ));
    }
    spec::check_query(operation, request.url().query_pairs())
        .map_err(|(name, rule)| format!("{name}: {rule}"))
}
