//! The official SDKs' wire form. progenitor builds a correct request; this rewrites it into the
//! exact bytes the official SDKs send, so a gateway sees nothing new from us:
//! SDK-spaced JSON, the path encoded as `quote(segment, safe='')`, the canonical query string,
//! and the SDK's header set (`Content-Type`, `User-Agent`, `X-Project-Id`, `X-Security-Token` or
//! `X-Auth-Token`, `Host`, and the operation's own headers; no `Accept`, no `api-version`).

use crate::credentials::{AuthToken, Credentials};
use crate::signer::{self, SigningError};
use percent_encoding::percent_decode_str;
use secrecy::ExposeSecret;
use smallvec::SmallVec;
use std::borrow::Cow;

/// Headers progenitor adds that the official SDKs never send.
const DROPPED_HEADERS: [&str; 2] = ["api-version", "accept"];

/// The body to sign and send: progenitor's compact JSON re-spaced as the SDKs write it.
pub(super) fn body(request: &reqwest::Request) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(compact) = request.body().and_then(|b| b.as_bytes()) {
        python_style_json(compact, &mut body);
    }
    body
}

/// Rewrites `url` into the wire form; returns its query parameters, decoded (the URL's query
/// is their canonical string).
pub(super) fn rewrite_url(url: &mut reqwest::Url) -> Vec<(String, String)> {
    // Each setter re-parses the URL: skipped when the URL is already in wire form.
    if let Cow::Owned(path) = sdk_encoded_path(url.path()) {
        url.set_path(&path);
    }
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if !url.query().is_none_or(is_canonical_query) {
        let canonical_query = signer::canonical_query(&query);
        url.set_query((!canonical_query.is_empty()).then_some(canonical_query.as_str()));
    }
    query
}

/// The project an AK/SK call is for, sent as `X-Project-Id`: the one in the path, not
/// necessarily the credentials' own.
pub(super) fn project_id<'a>(path: &'a str, creds: &'a Credentials) -> Option<Cow<'a, str>> {
    path_project_id(path).or_else(|| creds.project_id().map(Cow::Borrowed))
}

/// A request's header list: on the stack for any usual request.
pub(super) type Headers<'a> = SmallVec<[(&'a str, &'a str); 12]>;

/// The wire form's headers, in the order sent, for a client that sends `user_agent` to
/// `host`, with `token` (IAM token authentication) or `creds` (AK/SK) and their `project_id`:
/// `headers`' own (progenitor's, less those the SDKs never send) and those the SDKs add.
/// Values are trimmed as the signer trims them, so what is signed is what is sent. Borrowed,
/// not copied: no copy of a secret value is left to wipe.
pub(super) fn headers<'a>(
    headers: &'a reqwest::header::HeaderMap,
    token: Option<&'a AuthToken>,
    creds: Option<&'a Credentials>,
    project_id: Option<&'a str>,
    user_agent: &'a str,
    host: &'a str,
) -> Result<Headers<'a>, SigningError> {
    let mut wire = Headers::new();
    let mut push = |name, value| wire.push((name, signer::trim_header_value(value)));
    if let Some(token) = token {
        push("X-Auth-Token", token.expose());
    }
    for (name, value) in headers {
        if DROPPED_HEADERS.contains(&name.as_str()) || name == reqwest::header::CONTENT_TYPE {
            continue;
        }
        let value = std::str::from_utf8(value.as_bytes())
            .map_err(|_| SigningError::InvalidHeaderValue(name.as_str().to_owned()))?;
        push(name.as_str(), value);
    }
    // The official SDKs send (and sign) it on every request of these APIs, a GET without a
    // body included.
    push("Content-Type", "application/json");
    push("User-Agent", user_agent);
    if let Some(creds) = creds {
        if let Some(project_id) = project_id {
            push("X-Project-Id", project_id);
        }
        if let Some(token) = creds.security_token() {
            push("X-Security-Token", token.expose_secret());
        }
    }
    push("Host", host);
    Ok(wire)
}

/// Every HSS v5 path is `/v5/{project_id}/...`: the decoded project ID it carries.
fn path_project_id(path: &str) -> Option<Cow<'_, str>> {
    let mut segments = path.strip_prefix("/v5/")?.split('/');
    let project = segments.next().filter(|s| !s.is_empty())?;
    segments.next()?;
    // Unreserved characters decode to themselves: no decoding pass (the usual project ID).
    if project.bytes().all(signer::is_unreserved) {
        return Some(Cow::Borrowed(project));
    }
    Some(percent_decode_str(project).decode_utf8_lossy())
}

/// Each path segment decoded and re-encoded with the signer's encoder: the form the official
/// SDKs send (`quote(segment, safe='')`), whatever escaping progenitor chose. Only values that
/// survive progenitor's encoding and URL parsing unchanged reach this point (the client refuses
/// the others before sending, see `checks::request`).
pub(super) fn sdk_encoded_path(path: &str) -> Cow<'_, str> {
    // Already in that form when it has only unreserved characters (and `/`).
    if path.bytes().all(|b| signer::is_unreserved(b) || b == b'/') {
        return Cow::Borrowed(path);
    }
    let encoded = path
        .split('/')
        .map(|segment| {
            let decoded = percent_decode_str(segment).decode_utf8_lossy();
            signer::encode(&decoded).to_string()
        })
        .collect::<Vec<_>>()
        .join("/");
    if encoded == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(encoded)
    }
}

/// Whether `query` is already its own canonical form, so that decoding and re-encoding it can
/// be skipped: `key=value` pairs of unreserved characters only (which decode and encode to
/// themselves), in the canonical order. Anything else goes the long way.
fn is_canonical_query(query: &str) -> bool {
    let mut previous: Option<(&str, &str)> = None;
    for pair in query.split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            return false;
        };
        if key.is_empty() || !key.bytes().chain(value.bytes()).all(signer::is_unreserved) {
            return false;
        }
        if previous.is_some_and(|p| p > (key, value)) {
            return false;
        }
        previous = Some((key, value));
    }
    true
}

/// Re-spaces compact JSON the way the official Python SDK writes bodies (`simplejson.dumps`
/// defaults: `", "` and `": "` separators, non-ASCII as `\uXXXX`), so our requests carry the
/// same bytes as the SDK's, appended to `out`. Input that is not UTF-8 is appended unchanged.
fn python_style_json(compact: &[u8], out: &mut Vec<u8>) {
    let Ok(text) = std::str::from_utf8(compact) else {
        out.extend_from_slice(compact);
        return;
    };
    fn push(out: &mut Vec<u8>, c: char) {
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
    // The compact text, a space after each separator and longer escapes for non-ASCII: room
    // for the usual body at once instead of growing the buffer as it is written.
    out.reserve(compact.len() + compact.len() / 4 + 16);
    let (mut in_string, mut escaped) = (false, false);
    // Byte by byte: JSON's structure is ASCII; a non-ASCII character is taken whole.
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if !b.is_ascii() {
            let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            at += c.len_utf8();
            if in_string {
                escaped = false;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    use std::io::Write;
                    let _ = write!(out, "\\u{unit:04x}");
                }
            } else {
                push(out, c);
            }
            continue;
        }
        at += 1;
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            if b == 0x7f {
                out.extend_from_slice(b"\\u007f");
            } else {
                out.push(b);
            }
            continue;
        }
        out.push(b);
        match b {
            b'"' => in_string = true,
            b',' | b':' => out.push(b' '),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(s: &str) -> String {
        let mut out = Vec::new();
        python_style_json(s.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn spaces_separators_outside_strings_only() {
        assert_eq!(
            py(r#"{"image_type":"private_image"}"#),
            r#"{"image_type": "private_image"}"#
        );
        assert_eq!(
            py(r#"{"a":[1,2],"b":"x,y:z"}"#),
            r#"{"a": [1, 2], "b": "x,y:z"}"#
        );
        assert_eq!(
            py(r#"{"a":"q\"u,o:te\\","b":1}"#),
            r#"{"a": "q\"u,o:te\\", "b": 1}"#
        );
    }

    #[test]
    fn escapes_non_ascii_like_ensure_ascii() {
        assert_eq!(py(r#"{"k":"é😀"}"#), r#"{"k": "\u00e9\ud83d\ude00"}"#);
        assert_eq!(py("[\"\u{7f}\"]"), r#"["\u007f"]"#);
    }

    /// The query's canonical form, the long way: decoded as the URL parser decodes it, then
    /// canonicalized by the signer.
    fn canonical(query: &str) -> String {
        let url = reqwest::Url::parse(&format!("http://h/?{query}")).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        signer::canonical_query(&pairs)
    }

    #[test]
    fn a_query_is_taken_as_canonical_only_when_it_is() {
        for query in [
            "a=1",
            "a=1&a=10&a=2&b=",
            "enterprise_project_id=all_granted_eps",
        ] {
            assert!(is_canonical_query(query), "{query}");
            assert_eq!(canonical(query), query);
        }
        for query in [
            "b=1&a=1", "a=1&a=", "a", "=1", "a=%41", "a=x+y", "a=b=c", "a=1&&b=2",
        ] {
            assert!(!is_canonical_query(query), "{query}");
        }
    }

    proptest::proptest! {
        /// Queries of unreserved pairs, sorted half the time: every sorted one takes the
        /// shortcut (and must equal its canonical form), every unsorted one goes the long way.
        #[test]
        fn the_canonical_shortcut_agrees_with_the_long_way(
            mut pairs in proptest::collection::vec(
                ("[ab1A~._-]{1,3}", "[ab1A~._-]{0,3}"),
                1..6,
            ),
            sort in proptest::bool::ANY,
        ) {
            if sort {
                pairs.sort();
            }
            let query = pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&");
            let in_order = pairs.windows(2).all(|w| w[0] <= w[1]);
            proptest::prop_assert_eq!(is_canonical_query(&query), in_order, "{}", query);
            if in_order {
                proptest::prop_assert_eq!(canonical(&query), query);
            }
        }

        /// Any text: where the shortcut is taken, it agrees.
        #[test]
        fn the_shortcut_is_taken_only_for_canonical_text(query in "[ab1=&%+~é._-]{0,12}") {
            if is_canonical_query(&query) {
                proptest::prop_assert_eq!(canonical(&query), query);
            }
        }
    }

    #[test]
    fn paths_in_wire_form_are_borrowed() {
        assert!(matches!(
            sdk_encoded_path("/v5/a-b_c.d~e/x"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(sdk_encoded_path("/v5/a%3Ab/x"), Cow::Borrowed(_)));
        assert_eq!(sdk_encoded_path("/v5/a:b/x"), "/v5/a%3Ab/x");
    }

    #[test]
    fn headers_are_the_sdks_borrowed_and_trimmed() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let mut given = HeaderMap::new();
        given.insert("accept", HeaderValue::from_static("application/json"));
        given.insert("api-version", HeaderValue::from_static("5"));
        given.insert("content-type", HeaderValue::from_static("text/plain"));
        given.insert("region", HeaderValue::from_static(" cn-north-4 "));
        let creds = Credentials::new("AK", "SK").with_security_token(" session ");
        let sent = headers(&given, None, Some(&creds), Some("p1"), "agent/1", "h:443").unwrap();
        assert_eq!(
            sent[..],
            [
                ("region", "cn-north-4"),
                ("Content-Type", "application/json"),
                ("User-Agent", "agent/1"),
                ("X-Project-Id", "p1"),
                ("X-Security-Token", "session"),
                ("Host", "h:443"),
            ]
        );
        // The value sent is the one given, not a copy.
        assert!(std::ptr::eq(
            sent[0].1.as_ptr(),
            given["region"].as_bytes()[1..].as_ptr()
        ));
        // A token comes first; without credentials, no project or security token.
        let token = AuthToken::new(" tok ");
        let none = HeaderMap::new();
        let sent = headers(&none, Some(&token), None, Some("p1"), "a", "h").unwrap();
        assert_eq!(
            sent[..],
            [
                ("X-Auth-Token", "tok"),
                ("Content-Type", "application/json"),
                ("User-Agent", "a"),
                ("Host", "h"),
            ]
        );
    }

    #[test]
    fn a_header_value_that_is_not_text_is_refused_by_name() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let mut given = HeaderMap::new();
        given.insert("region", HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(
            headers(&given, None, None, None, "a", "h"),
            Err(SigningError::InvalidHeaderValue("region".into()))
        );
    }

    #[test]
    fn project_id_comes_from_the_path() {
        assert_eq!(
            path_project_id("/v5/a%2Fb/image/synchronize").as_deref(),
            Some("a/b")
        );
        assert_eq!(path_project_id("/v5/p").as_deref(), None);
        assert_eq!(path_project_id("/v3/p/x").as_deref(), None);
    }
}
