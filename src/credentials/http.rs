//! The HTTP plumbing the credential providers share: one lazily built client per provider (the
//! crate's, from `crate::http`: rustls with aws-lc-rs, platform verifier, redirects never followed),
//! answers read into a bounded buffer, request bodies written the way Python's `json.dumps`
//! writes them, and error messages that name the provider and what failed, never a secret.

use super::CredentialsError;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use zeroize::Zeroizing;

/// A credentials answer is a few hundred bytes; anything larger is not one.
pub(crate) const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The `User-Agent` of the providers' requests (the crate's default one).
pub(crate) const USER_AGENT: &str = concat!("hss-image-sync/", env!("CARGO_PKG_VERSION"));

/// The content type the official SDKs send to STS and IAM.
pub(crate) const JSON_UTF8: &str = "application/json;charset=UTF-8";

/// An HTTP client built on first use (building one loads the platform's certificates), shared
/// by clones.
#[derive(Clone)]
pub(crate) struct LazyClient {
    connect_timeout: Duration,
    client: Arc<OnceLock<reqwest::Client>>,
}

impl LazyClient {
    pub(crate) fn new(connect_timeout: Duration) -> Self {
        LazyClient {
            connect_timeout,
            client: Arc::default(),
        }
    }

    /// For STS, IAM and pod identity: the crate's default connect timeout.
    pub(crate) fn for_services() -> Self {
        Self::new(crate::http::DEFAULT_CONNECT_TIMEOUT)
    }

    /// The client, built now if it was not yet.
    pub(crate) fn get(&self, provider: &'static str) -> Result<reqwest::Client, CredentialsError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let client = crate::http::http_client(self.connect_timeout, Vec::new()).map_err(|e| {
            fetch_error(provider, "cannot set up an HTTP client", Some(Box::new(e)))
        })?;
        // Another caller may have won the race; either client does.
        Ok(self.client.get_or_init(|| client).clone())
    }
}

impl fmt::Debug for LazyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("connect_timeout", &self.connect_timeout)
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

/// An answer, its body read whole (at most [`MAX_ANSWER_BYTES`]) and wiped from memory on drop.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

/// A request that got no usable answer.
#[derive(Debug)]
pub(crate) struct SendError {
    /// Nothing answered: the connection was refused or timed out, or closed before any answer.
    pub(crate) no_answer: bool,
    pub(crate) error: CredentialsError,
}

impl From<SendError> for CredentialsError {
    fn from(e: SendError) -> Self {
        e.error
    }
}

/// Sends `request` (described as `what`, e.g. `POST http://host/path`, in errors) and reads its
/// answer, bounded by [`MAX_ANSWER_BYTES`].
pub(crate) async fn send(
    provider: &'static str,
    what: &str,
    request: reqwest::RequestBuilder,
) -> Result<Answer, SendError> {
    let mut response = request.send().await.map_err(|e| {
        // The URL is already in `what`, without its query; reqwest's copy would keep it.
        let e = e.without_url();
        let (no_answer, failed) = if e.is_builder() {
            (false, "cannot be built")
        } else if e.is_timeout() {
            (true, "no answer in time")
        } else if e.is_connect() {
            (true, "cannot connect")
        } else {
            (true, "failed before an answer")
        };
        SendError {
            no_answer,
            error: fetch_error(provider, format!("{what}: {failed}"), Some(Box::new(e))),
        }
    })?;
    let too_large = || SendError {
        no_answer: false,
        error: fetch_error(
            provider,
            format!("{what}: the answer is larger than {MAX_ANSWER_BYTES} bytes"),
            None,
        ),
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    // Reserved once: growing the buffer would leave copies of its secrets behind.
    let mut body = Zeroizing::new(Vec::with_capacity(MAX_ANSWER_BYTES));
    loop {
        let chunk = response.chunk().await.map_err(|e| SendError {
            no_answer: false,
            error: fetch_error(
                provider,
                format!("{what}: reading the answer failed"),
                Some(Box::new(e.without_url())),
            ),
        })?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body,
    })
}

/// [`send`], and an answer of another status than 2xx is an error ([`status_error`], with
/// `sent_secrets` masked in it).
pub(crate) async fn send_ok(
    provider: &'static str,
    what: &str,
    request: reqwest::RequestBuilder,
    sent_secrets: &[&str],
) -> Result<Answer, CredentialsError> {
    let answer = send(provider, what, request).await?;
    if !answer.status.is_success() {
        return Err(status_error(provider, what, &answer, sent_secrets));
    }
    Ok(answer)
}

/// A [`CredentialsError::Fetch`].
pub(crate) fn fetch_error(
    provider: &'static str,
    message: impl Into<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
) -> CredentialsError {
    CredentialsError::Fetch {
        provider,
        message: message.into(),
        source,
    }
}

/// The error for an answer with an unexpected status: the status, and the error code and message
/// of the body (as the crate reads error bodies), shortened, with every secret that was sent
/// masked in case the server echoes it.
pub(crate) fn status_error(
    provider: &'static str,
    what: &str,
    answer: &Answer,
    sent_secrets: &[&str],
) -> CredentialsError {
    let status = answer.status;
    let mut message = format!("{what} answered {status}");
    if !answer.body.is_empty() {
        let fields = crate::error_body::parse(status.as_u16(), &answer.body);
        let detail = if fields.error_code == status.as_u16().to_string() {
            fields.error_msg
        } else {
            format!("{} {}", fields.error_code, fields.error_msg)
        };
        let detail = shorten(&mask(&detail, sent_secrets), 200);
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(&detail);
        }
    }
    fetch_error(provider, message, None)
}

/// `text` with every occurrence of each non-empty secret replaced by `[REDACTED]`.
pub(crate) fn mask(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret, "[REDACTED]")
        })
}

/// At most `max` characters of `text` on one line, control characters replaced.
fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text
        .trim()
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.trim().chars().count() > max {
        out.push('…');
    }
    out
}

/// A URL for messages: scheme, host, port and path, without user info or query (which may carry
/// secrets), e.g. `POST https://sts.cn-north-4.myhuaweicloud.com/v5/agencies/assume-with-oidc`.
pub(crate) fn describe(method: &str, url: &Url) -> String {
    format!(
        "{method} {}{}",
        url.origin().ascii_serialization(),
        url.path()
    )
}

/// `scheme://host[:port]` of an endpoint checked by the crate's one endpoint check
/// (`crate::http::check_endpoint`): the path of a configured endpoint is dropped, as the
/// official SDKs drop it. The error, for `provider`, names `setting` and the rule broken, never
/// the endpoint (it may hold a password).
pub(crate) fn endpoint_origin(
    provider: &'static str,
    setting: &str,
    endpoint: &str,
) -> Result<String, CredentialsError> {
    match crate::http::check_endpoint(endpoint) {
        Ok(url) => Ok(url.origin().ascii_serialization()),
        Err(problem) => Err(fetch_error(provider, format!("{setting}: {problem}"), None)),
    }
}

/// A JSON value, written the way Python's `json.dumps` writes it with its default settings:
/// `", "` and `": "` separators, keys in the order given, non-ASCII escaped as `\uXXXX`.
pub(crate) enum PyJson<'a> {
    Str(&'a str),
    Int(i64),
    List(Vec<PyJson<'a>>),
    Object(Vec<(&'a str, PyJson<'a>)>),
}

impl PyJson<'_> {
    /// The serialized value, wiped from memory on drop (request bodies carry tokens).
    pub(crate) fn to_zeroizing_string(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(self.len_hint()));
        self.write(&mut out);
        out
    }

    fn len_hint(&self) -> usize {
        match self {
            PyJson::Str(s) => s.len() * 6 + 2,
            PyJson::Int(_) => 20,
            PyJson::List(items) => items.iter().map(|i| i.len_hint() + 2).sum::<usize>() + 2,
            PyJson::Object(members) => {
                members
                    .iter()
                    .map(|(k, v)| k.len() * 6 + 6 + v.len_hint())
                    .sum::<usize>()
                    + 2
            }
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            PyJson::Str(s) => write_py_str(out, s),
            PyJson::Int(n) => out.push_str(&n.to_string()),
            PyJson::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push(']');
            }
            PyJson::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_py_str(out, key);
                    out.push_str(": ");
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string as Python's `json.dumps(ensure_ascii=True)` writes it.
fn write_py_str(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_bodies_are_written_like_python_json_dumps() {
        // json.dumps({"a": "x\"\\\n\t\u0001\u007f é 😀", "n": -5, "l": ["p", "q"], "o": {}})
        let body = PyJson::Object(vec![
            ("a", PyJson::Str("x\"\\\n\t\u{1}\u{7f} é 😀")),
            ("n", PyJson::Int(-5)),
            ("l", PyJson::List(vec![PyJson::Str("p"), PyJson::Str("q")])),
            ("o", PyJson::Object(vec![])),
        ]);
        assert_eq!(
            body.to_zeroizing_string().as_str(),
            r#"{"a": "x\"\\\n\t\u0001\u007f \u00e9 \ud83d\ude00", "n": -5, "l": ["p", "q"], "o": {}}"#
        );
    }

    #[test]
    fn credentials_endpoints_keep_only_their_origin() {
        let origin = |e: &str| endpoint_origin("test", "SETTING", e).map_err(|e| e.to_string());
        assert_eq!(
            origin("https://sts.example.com/some/path?q=1").as_deref(),
            Ok("https://sts.example.com")
        );
        assert_eq!(
            origin(" http://127.0.0.1:8080/ ").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        assert_eq!(
            origin("https://[::1]:9443").as_deref(),
            Ok("https://[::1]:9443")
        );
        for bad in [
            "sts.example.com",
            "ftp://sts.example.com",
            "",
            "http://127.0.0.1:80\t81",
            "https://u:PASSWORD@sts.example.com",
        ] {
            let err = origin(bad).unwrap_err();
            assert!(err.starts_with("test: SETTING: "), "{bad:?}: {err}");
            assert!(
                !err.contains("PASSWORD") && !err.contains("example"),
                "{err}"
            );
        }
    }

    #[test]
    fn credentials_error_details_mask_what_was_sent() {
        assert_eq!(
            mask("bad token eyJabc in eyJabc", &["eyJabc", ""]),
            "bad token [REDACTED] in [REDACTED]"
        );
        assert_eq!(shorten(" a\nb ", 10), "a b");
        assert_eq!(shorten("abcdef", 3), "abc…");
        let url = Url::parse("https://user:pw@pod.local:8443/creds?sig=secret").unwrap();
        assert_eq!(describe("POST", &url), "POST https://pod.local:8443/creds");
    }
}
