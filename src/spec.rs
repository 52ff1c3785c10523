//! The spec's parameter rules, as `build.rs` reads them from `spec/hss-image-sync.yaml`
//! ([`RULES`]): one table for the client and the emulator.
//!
//! The generated constrained types already refuse a string of the wrong length or an unknown
//! enum value when a request is built; what they do not check is an integer's range, and a
//! generated setter that refuses a value does not say why. The client checks the ranges before
//! sending ([`check_query`]) and names the rule a setter refused ([`rule_text`]); the emulator
//! checks every rule on what arrives ([`check`]).

pub(crate) use crate::generated::{PATHS, RULES};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Path,
    Query,
    Header,
}

/// One parameter of one operation, and what the spec allows for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// The operation, as progenitor names it (`list_registry`).
    pub operation: &'static str,
    pub name: &'static str,
    pub location: Location,
    #[allow(dead_code)] // the emulator checks that required parameters are present
    pub required: bool,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    /// An enum's values; empty for any value.
    pub values: &'static [&'static str],
}

impl Rule {
    fn is_integer(&self) -> bool {
        self.minimum.is_some() || self.maximum.is_some()
    }
}

/// The spec's `iamToken` security scheme: an IAM token (`X-Auth-Token`) is 1..32768
/// characters. Not in [`RULES`]: it is a security scheme, not a parameter of an operation.
pub(crate) const AUTH_TOKEN: Rule = Rule {
    operation: "",
    name: "X-Auth-Token",
    location: Location::Header,
    required: false,
    min_length: Some(1),
    max_length: Some(32768),
    minimum: None,
    maximum: None,
    values: &[],
};

/// An operation's method and path template (`/v5/{project_id}/image/registries`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OperationPath {
    pub operation: &'static str,
    pub method: &'static str,
    pub path: &'static str,
}

/// The operation `method` and the raw (percent-encoded) `path` name, and its path parameters
/// decoded (an encoded `/` is the parameter's own, as the official SDK sends it). The
/// emulator's routing.
#[cfg(any(feature = "emulator", test))]
pub(crate) fn route(
    method: &str,
    path: &str,
) -> Option<(&'static OperationPath, Vec<(&'static str, String)>)> {
    PATHS.iter().filter(|p| p.method == method).find_map(|p| {
        let mut params = Vec::new();
        matches_path(p.path, path, |name, value| {
            params.push((name, value.into_owned()))
        })
        .then_some((p, params))
    })
}

/// Whether `method` and the raw `path` name `operation` (without copying anything).
pub(crate) fn names_operation(operation: &str, method: &str, path: &str) -> bool {
    PATHS.iter().any(|p| {
        p.operation == operation && p.method == method && matches_path(p.path, path, |_, _| {})
    })
}

/// Whether `path` fits `template`, each `{name}` segment handed to `param` decoded. A segment
/// that decodes to `.`, `..` or nothing fits no parameter.
fn matches_path<'p>(
    template: &'static str,
    path: &'p str,
    mut param: impl FnMut(&'static str, std::borrow::Cow<'p, str>),
) -> bool {
    let mut parts = segments(path);
    for t in segments(template) {
        let Some(s) = parts.next() else {
            return false;
        };
        match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            // Unreserved characters decode to themselves (the usual project ID): no pass.
            Some(name) if s.bytes().all(crate::signer::is_unreserved) => match s {
                "" | "." | ".." => return false,
                value => param(name, std::borrow::Cow::Borrowed(value)),
            },
            Some(name) => match percent_encoding::percent_decode_str(s).decode_utf8() {
                Ok(value) if !matches!(&*value, "" | "." | "..") => param(name, value),
                _ => return false,
            },
            None if t == s => {}
            None => return false,
        }
    }
    parts.next().is_none()
}

/// `text` split at each `/`, as `str::split` would, by a plain byte scan: paths have a few
/// short segments, and this runs for every request the client sends.
fn segments(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.bytes().position(|b| b == b'/') {
            Some(at) => {
                rest = Some(&text[at + 1..]);
                Some(&text[..at])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// The rules of `operation`'s parameters.
pub(crate) fn rules(operation: &str) -> impl Iterator<Item = &'static Rule> + '_ {
    RULES.iter().filter(move |r| r.operation == operation)
}

/// `value` against `rule`: `Err` says what the rule is.
pub(crate) fn check(rule: &Rule, value: &str) -> Result<(), String> {
    let fits = if rule.is_integer() {
        value.parse::<i64>().is_ok_and(|n| {
            rule.minimum.is_none_or(|min| n >= min) && rule.maximum.is_none_or(|max| n <= max)
        })
    } else if !rule.values.is_empty() {
        rule.values.contains(&value)
    } else {
        let chars = value.chars().count();
        rule.min_length.is_none_or(|min| chars >= min)
            && rule.max_length.is_none_or(|max| chars <= max)
    };
    if fits { Ok(()) } else { Err(rule_text(rule)) }
}

/// What `rule` allows, in words: `must be an integer in 10..=200`.
pub(crate) fn rule_text(rule: &Rule) -> String {
    if rule.is_integer() {
        let bound = |b: Option<i64>| b.map(|n| n.to_string()).unwrap_or_default();
        format!(
            "must be an integer in {}..={}",
            bound(rule.minimum),
            bound(rule.maximum)
        )
    } else if !rule.values.is_empty() {
        format!("must be one of {}", rule.values.join(", "))
    } else {
        match (rule.min_length, rule.max_length) {
            (Some(min), Some(max)) => format!("must be {min}..{max} characters"),
            (None, Some(max)) => format!("must be at most {max} characters"),
            (Some(min), None) => format!("must be at least {min} characters"),
            (None, None) => "must be a string".to_owned(),
        }
    }
}

/// The query of a request of `operation` against the integer ranges (the only rules the
/// generated code does not enforce): the first parameter out of range, and its rule.
pub(crate) fn check_query<'a>(
    operation: &str,
    query: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
) -> Result<(), (&'static str, String)> {
    for (name, value) in query {
        if let Some(rule) = rules(operation)
            .find(|r| r.location == Location::Query && r.is_integer() && r.name == name)
        {
            check(rule, &value).map_err(|text| (rule.name, text))?;
        }
    }
    Ok(())
}

/// The parameter a generated setter refused, read from its message (`conversion to
/// `ProjectId` for project_id failed`), and its rule.
pub(crate) fn refused_setter(operation: &str, message: &str) -> Option<(&'static str, String)> {
    let name = message
        .strip_prefix("conversion to `")?
        .split_once("` for ")?
        .1
        .strip_suffix(" failed")?
        // A parameter named like a Rust keyword is a field ending in `_` (`type_`).
        .trim_end_matches('_');
    let rule = rules(operation).find(|r| r.name == name)?;
    Some((rule.name, rule_text(rule)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(operation: &str, name: &str) -> &'static Rule {
        rules(operation).find(|r| r.name == name).unwrap()
    }

    #[test]
    fn the_table_holds_the_spec_s_ranges_and_lengths() {
        let limit = rule("list_registry", "limit");
        assert_eq!((limit.minimum, limit.maximum), (Some(10), Some(200)));
        assert_eq!(limit.location, Location::Query);
        let offset = rule("list_image_scan_task", "offset");
        assert_eq!((offset.minimum, offset.maximum), (Some(0), Some(2_000_000)));
        let task = rule("list_associate_registries", "task_id");
        assert_eq!((task.location, task.max_length), (Location::Path, Some(64)));
        assert!(rule("list_image_scan_task", "type").required);
        assert_eq!(
            rule("list_image_scan_task", "type").values,
            ["image_sync", "image_scan"]
        );
        assert_eq!(
            rule("create_image_synchronize_task", "region").location,
            Location::Header
        );
        // Every operation has its project.
        for op in [
            "run_image_synchronize",
            "create_image_synchronize_task",
            "list_image_scan_task",
            "list_associate_registries",
            "list_registry",
        ] {
            assert!(rule(op, "project_id").required, "{op}");
        }
    }

    #[test]
    fn segments_are_those_of_str_split() {
        for text in [
            "",
            "/",
            "//",
            "a",
            "/a",
            "a/",
            "/v5/p/image/registries",
            "/v5//x/",
            "é/ü//",
            "/v5/%2F/x",
        ] {
            let ours: Vec<&str> = segments(text).collect();
            let split: Vec<&str> = text.split('/').collect();
            assert_eq!(ours, split, "{text:?}");
        }
    }

    #[test]
    fn routes_come_from_the_spec_s_paths() {
        let (op, params) = route("GET", "/v5/p%201/image/image-sync/tasks/t1/registries").unwrap();
        assert_eq!(op.operation, "list_associate_registries");
        assert_eq!(params[0], ("project_id", "p 1".to_owned()));
        assert_eq!(params[1], ("task_id", "t1".to_owned()));
        // An encoded slash belongs to the parameter, as the official SDK sends it.
        let (_, params) = route("GET", "/v5/p/image/image-sync/tasks/a%2Fb/registries").unwrap();
        assert_eq!(params[1], ("task_id", "a/b".to_owned()));
        let (op, _) = route("POST", "/v5/p/image/image-sync/tasks").unwrap();
        assert_eq!(op.operation, "create_image_synchronize_task");
        assert!(names_operation(
            "create_image_synchronize_task",
            "POST",
            "/v5/p/image/image-sync/tasks"
        ));
        assert!(!names_operation(
            "list_registry",
            "GET",
            "/v5/p/image/tasks"
        ));
        assert!(!names_operation(
            "list_registry",
            "GET",
            "/v5/./image/registries"
        ));
        assert_eq!(
            route("GET", "/v5/p/image/image-sync/tasks").map(|r| r.0.operation),
            None
        );
        assert!(route("GET", "/v5/%2E%2E/image/registries").is_none());
        assert!(route("GET", "/v5//image/registries").is_none());
        assert!(route("GET", "/v5/p/image/registries/extra").is_none());
    }

    #[test]
    fn check_names_the_rule_broken() {
        let limit = rule("list_registry", "limit");
        assert_eq!(check(limit, "10"), Ok(()));
        assert_eq!(check(limit, "200"), Ok(()));
        assert_eq!(
            check(limit, "201"),
            Err("must be an integer in 10..=200".into())
        );
        assert!(check(limit, "9").is_err());
        assert!(check(limit, "ten").is_err());
        let name = rule("list_registry", "registry_name");
        assert!(check(name, "").is_err());
        assert!(
            check(name, &"é".repeat(128)).is_ok(),
            "characters, not bytes"
        );
        assert_eq!(
            check(name, &"a".repeat(129)),
            Err("must be 1..128 characters".into())
        );
        let status = rule("list_registry", "status");
        assert_eq!(
            check(status, "failed"),
            Err("must be one of success, fail, accessing".into())
        );
    }

    #[test]
    fn query_ranges_and_refused_setters_are_named() {
        let query = [("offset", "5"), ("limit", "500")]
            .map(|(n, v)| (n.into(), v.into()))
            .into_iter();
        assert_eq!(
            check_query("list_registry", query),
            Err(("limit", "must be an integer in 10..=200".into()))
        );
        assert_eq!(
            refused_setter(
                "list_registry",
                "conversion to `ProjectId` for project_id failed"
            ),
            Some(("project_id", "must be 1..256 characters".into()))
        );
        assert_eq!(refused_setter("list_registry", "something else"), None);
    }
}
