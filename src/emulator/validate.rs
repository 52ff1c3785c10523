//! The service's checks of a routed request, generic over the spec's operations: every
//! parameter of the operation against its rule in [`crate::spec::rules`] (the table `build.rs`
//! reads from the spec, so client and emulator enforce the same document), and the body decoded
//! into the operation's generated request type.

use super::verify::RawRequest;
use crate::generated::types;
use crate::spec::{self, Location, OperationPath};
use std::collections::BTreeMap;

/// A valid call: its operation, its parameters (decoded) and its body.
#[derive(Debug, Clone)]
pub(crate) struct ValidCall {
    pub operation: &'static str,
    /// Path, query and header parameters the spec knows, by the spec's name.
    pub params: BTreeMap<&'static str, String>,
    pub body: CallBody,
}

impl ValidCall {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub fn project_id(&self) -> &str {
        self.param("project_id").unwrap_or_default()
    }
}

/// The body, decoded into the operation's generated request type.
#[derive(Debug, Clone)]
pub(crate) enum CallBody {
    None,
    Run(types::RunImageSynchronizeRequestInfo),
    Create(types::CreateImageSynchronizeTaskRequestInfo),
}

/// Why a call is invalid: `HSS.0001` (invalid parameter) or `HSS.0002` (unparsable body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub error_code: &'static str,
    pub message: String,
}

pub(crate) fn invalid(field: &str, rule: impl std::fmt::Display) -> Invalid {
    Invalid {
        error_code: "HSS.0001",
        message: format!("Invalid parameter: {field}: {rule}"),
    }
}

fn unparsable(why: impl std::fmt::Display) -> Invalid {
    Invalid {
        error_code: "HSS.0002",
        message: format!("Failed to parse the request: {why}"),
    }
}

/// Checks the parameters, headers and body of a request routed to `route` with the decoded
/// path parameters `path_params`.
pub(crate) fn validate(
    request: &RawRequest,
    route: &OperationPath,
    path_params: Vec<(&'static str, String)>,
) -> Result<ValidCall, Invalid> {
    let operation = route.operation;
    let mut params: BTreeMap<&'static str, String> = path_params.into_iter().collect();

    // The query's parameters the operation has; others are ignored, as the gateway does. The
    // first of a repeated parameter counts, but every one must be valid.
    for pair in request.raw_query().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(rule) = spec::rules(operation)
            .find(|r| r.location == Location::Query && r.name.as_bytes() == key.as_bytes())
        else {
            continue;
        };
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| invalid(rule.name, "not UTF-8"))?;
        spec::check(rule, &value).map_err(|text| invalid(rule.name, text))?;
        params
            .entry(rule.name)
            .or_insert_with(|| value.into_owned());
    }

    for rule in spec::rules(operation).filter(|r| r.location == Location::Header) {
        for value in request.header_values(rule.name) {
            let value = std::str::from_utf8(value).map_err(|_| invalid(rule.name, "not UTF-8"))?;
            spec::check(rule, value.trim()).map_err(|text| invalid(rule.name, text))?;
            params
                .entry(rule.name)
                .or_insert_with(|| value.trim().to_owned());
        }
    }

    for rule in spec::rules(operation) {
        match params.get(rule.name) {
            // Path parameters were decoded by the router but not yet checked.
            Some(value) if rule.location == Location::Path => {
                spec::check(rule, value).map_err(|text| invalid(rule.name, text))?;
            }
            Some(_) => {}
            None if rule.required => return Err(invalid(rule.name, "is required")),
            None => {}
        }
    }

    if let Some(header) = request.header("x-project-id")
        && Some(header.trim()) != params.get("project_id").map(String::as_str)
    {
        return Err(invalid(
            "X-Project-Id",
            "does not match the project in the path",
        ));
    }
    for value in request.header_values("x-auth-token") {
        let value = std::str::from_utf8(value).map_err(|_| invalid("X-Auth-Token", "not UTF-8"))?;
        crate::spec::check(&crate::spec::AUTH_TOKEN, value.trim())
            .map_err(|rule| invalid("X-Auth-Token", rule))?;
    }

    let body = match operation {
        "run_image_synchronize" => CallBody::Run(decode(&request.body)?),
        "create_image_synchronize_task" => CallBody::Create(decode(&request.body)?),
        // A GET's body, if any, means nothing to the service.
        _ => CallBody::None,
    };
    Ok(ValidCall {
        operation,
        params,
        body,
    })
}

/// A JSON object decoded into `T`: not JSON or not an object is `HSS.0002`; an object the
/// type refuses (a missing field, an unknown enum value, a string too long) is `HSS.0001`.
fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Invalid> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(unparsable)?;
    if !value.is_object() {
        return Err(unparsable("the body is not a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| invalid("body", e))
}
