//! The parts of the canonical request that do not depend on the algorithm: percent-encoding,
//! canonical URI, canonical query string and header normalisation.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Everything but the RFC 3986 unreserved set `A-Z a-z 0-9 - . _ ~` is escaped, with uppercase
/// hex, space as `%20`.
const ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `text` the way the canonical request (and the query string sent) requires.
pub fn encode(text: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(text, ENCODE_SET)
}

/// Canonical URI of `path` (as sent): decoded, split on `/` (so `%2F` becomes a separator),
/// each segment re-encoded, and always ending in `/`. Invalid UTF-8 after decoding becomes
/// U+FFFD, as Python's `unquote` does.
pub fn canonical_uri(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut uri = String::with_capacity(decoded.len() + 8);
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            uri.push('/');
        }
        uri.push_str(&encode(segment).to_string());
    }
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Canonical query string: pairs sorted by raw key then raw value (code point order, which is
/// UTF-8 byte order), each written `E(key)=E(value)`, joined by `&`. It is also the query sent.
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut sorted: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    sorted.sort_unstable();
    let mut out = String::new();
    for (i, (key, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        use std::fmt::Write;
        let _ = write!(out, "{}={}", encode(key), encode(value));
    }
    out
}

/// Trims a header value at both ends the way Python's `str.strip()` does: Unicode white space
/// plus the separators U+001C..U+001F, which Rust does not count as white space.
pub fn trim_header_value(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(encode("aZ09-._~").to_string(), "aZ09-._~");
        assert_eq!(
            encode(" +/*%=&é").to_string(),
            "%20%2B%2F%2A%25%3D%26%C3%A9"
        );
    }

    #[test]
    fn canonical_uri_quirks() {
        assert_eq!(
            canonical_uri("/v5/p/image/synchronize"),
            "/v5/p/image/synchronize/"
        );
        assert_eq!(canonical_uri("/v5/p/"), "/v5/p/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/v5/a%2Fb/x"), "/v5/a/b/x/");
        assert_eq!(canonical_uri("/a:b@c+d"), "/a%3Ab%40c%2Bd/");
        assert_eq!(canonical_uri("/%7e%41"), "/~A/");
        assert_eq!(canonical_uri("/%FF"), "/%EF%BF%BD/");
    }

    #[test]
    fn query_sorted_by_raw_pairs() {
        let q = [("b", "2"), ("a", "3"), ("a", "10"), ("a", "1")];
        assert_eq!(canonical_query(&q), "a=1&a=10&a=3&b=2");
        let q = [("aé", "1"), ("a~", "1"), ("B", "x")];
        assert_eq!(canonical_query(&q), "B=x&a~=1&a%C3%A9=1");
        let q = [("k", ""), ("s", "a b")];
        assert_eq!(canonical_query(&q), "k=&s=a%20b");
        assert_eq!(canonical_query::<&str, &str>(&[]), "");
    }

    #[test]
    fn trims_like_python_strip() {
        assert_eq!(trim_header_value(" \t a  b \u{3000}\u{1f}"), "a  b");
        assert_eq!(trim_header_value("\u{85}x\u{a0}"), "x");
    }
}
