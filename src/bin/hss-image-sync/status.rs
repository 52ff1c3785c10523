//! Exit statuses, one place: what a CI job can act on.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the service refused (retrying will not help) |
//! | 2 | invalid input or configuration, TLS mismatches included; nothing was done |
//! | 3 | retry later: no answer, or 408/429/5xx after the retries ([`Error::is_retryable`]) |
//! | 4 | a task, a registry, or in a fan-out a target, failed |
//! | 5 | gave up waiting while a task still ran |
//! | 130 | interrupted (Ctrl-C) before every target started |

use hss_image_sync::{Error, TransportKind};
use serde_json::{Value, json};

pub const EXIT_REFUSED: u8 = 1;
pub const EXIT_INVALID: u8 = 2;
pub const EXIT_RETRY_LATER: u8 = 3;
pub const EXIT_FAILED: u8 = 4;
pub const EXIT_GAVE_UP: u8 = 5;
pub const EXIT_INTERRUPTED: u8 = 130;

/// The exit status for `error`: 3 exactly when [`Error::is_retryable`] says so.
pub fn exit_status(error: &Error) -> u8 {
    if error.is_retryable() {
        return EXIT_RETRY_LATER;
    }
    match error {
        Error::InvalidInput { .. }
        | Error::Config { .. }
        | Error::Credentials(_)
        | Error::Signing(_) => EXIT_INVALID,
        // An https endpoint that speaks plain HTTP, an untrusted CA, a wrong host name: the
        // configuration, not the network.
        Error::Transport {
            kind: TransportKind::Tls,
            ..
        } => EXIT_INVALID,
        _ => EXIT_REFUSED,
    }
}

/// `error` and its causes, in one line.
pub fn with_causes(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `error` as a JSON object, for `--output json`: the message, what the service said, whether
/// retrying may help, and the exit status.
pub fn error_json(error: &Error) -> Value {
    let mut fields = json!({
        "message": with_causes(error),
        "retryable": error.is_retryable(),
        "exit_status": exit_status(error),
    });
    if let Some(status) = error.status() {
        fields["status"] = status.into();
    }
    if let Some(id) = error.request_id() {
        fields["request_id"] = id.into();
    }
    if let Error::Service(e) = error {
        fields["error_code"] = e.error_code.clone().into();
        fields["error_msg"] = e.error_msg.clone().into();
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_later_is_exactly_what_the_library_calls_retryable() {
        let service = |status| {
            Error::Service(
                hss_image_sync::ServiceError::new(status, "HSS.0001", "no").with_request_id("r"),
            )
        };
        for (error, status) in [
            (service(403), EXIT_REFUSED),
            (service(400), EXIT_REFUSED),
            (service(429), EXIT_RETRY_LATER),
            (service(503), EXIT_RETRY_LATER),
            (service(500), EXIT_RETRY_LATER),
            (
                Error::InvalidInput {
                    field: "project_id",
                    rule: "x".into(),
                },
                EXIT_INVALID,
            ),
        ] {
            assert_eq!(exit_status(&error), status, "{error}");
            assert_eq!(error.is_retryable(), status == EXIT_RETRY_LATER, "{error}");
        }
        let json = error_json(&service(429));
        assert_eq!(json["exit_status"], 3);
        assert_eq!(json["retryable"], true);
        assert_eq!(json["error_code"], "HSS.0001");
        assert_eq!(json["request_id"], "r");
    }
}
