//! The spec's request constraints, checked on what arrived. The length rules come from the
//! spec through the generated types, so client and emulator enforce the same document.

use super::verify::RawRequest;
use crate::generated::types;

/// A valid `RunImageSynchronize` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCall {
    pub project_id: String,
    pub enterprise_project_id: Option<String>,
    pub image_type: String,
}

/// Why a call is invalid: `HSS.0001` (invalid parameter) or `HSS.0002` (unparsable body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub error_code: &'static str,
    pub message: String,
}

fn invalid(field: &str, rule: impl std::fmt::Display) -> Invalid {
    Invalid {
        error_code: "HSS.0001",
        message: format!("Invalid parameter: {field}: {rule}"),
    }
}

/// `value` against the spec's rule for `RunImageSynchronize`'s parameter `name`.
fn check_rule(name: &str, value: &str) -> Result<(), Invalid> {
    match crate::spec::rules("run_image_synchronize").find(|r| r.name == name) {
        Some(rule) => crate::spec::check(rule, value).map_err(|rule| invalid(name, rule)),
        None => Ok(()),
    }
}

/// The project ID if `raw_path` is `/v5/{project_id}/image/synchronize`.
pub fn route(raw_path: &str) -> Option<String> {
    let rest = raw_path.strip_prefix("/v5/")?;
    let project = rest.strip_suffix("/image/synchronize")?;
    if project.is_empty() || project.contains('/') {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(project)
        .decode_utf8()
        .ok()?;
    Some(decoded.into_owned())
}

/// Checks the query, headers and body of a routed request.
pub fn validate(request: &RawRequest, project_id: String) -> Result<ValidCall, Invalid> {
    check_rule("project_id", &project_id)?;
    if let Some(header) = request.header("x-project-id")
        && header.trim() != project_id
    {
        return Err(invalid(
            "X-Project-Id",
            "does not match the project in the path",
        ));
    }

    let mut enterprise_project_id = None;
    for pair in request.raw_query().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "enterprise_project_id" {
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| invalid("enterprise_project_id", "not UTF-8"))?;
            check_rule("enterprise_project_id", &value)?;
            enterprise_project_id = Some(value.into_owned());
        }
    }

    for (name, field) in [("region", "region"), ("x-auth-token", "X-Auth-Token")] {
        for value in request.header_values(name) {
            let value = std::str::from_utf8(value).map_err(|_| invalid(field, "not UTF-8"))?;
            match name {
                "region" => check_rule("region", value.trim())?,
                _ if value.trim().is_empty() || value.trim().chars().count() > 32768 => {
                    return Err(invalid(field, "must be 1..32768 characters"));
                }
                _ => {}
            }
        }
    }

    let body: serde_json::Value = serde_json::from_slice(&request.body).map_err(|e| Invalid {
        error_code: "HSS.0002",
        message: format!("Failed to parse the request: {e}"),
    })?;
    if !body.is_object() {
        return Err(Invalid {
            error_code: "HSS.0002",
            message: "Failed to parse the request: the body is not a JSON object".into(),
        });
    }
    let info: types::RunImageSynchronizeRequestInfo =
        serde_json::from_value(body).map_err(|e| invalid("image_type", e))?;
    Ok(ValidCall {
        project_id,
        enterprise_project_id,
        image_type: info.image_type.to_string(),
    })
}
