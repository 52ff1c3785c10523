//! The input format of the signer and emulator targets, and helpers the checks share.
//!
//! An input is a list of records separated by the byte `0xFF` (which never occurs in UTF-8).
//! The first byte of a record is its tag, the rest its content; text is read as lossy UTF-8:
//!
//! | tag | content |
//! | --- | --- |
//! | `M` | method |
//! | `H` | host (`host[:port]`) |
//! | `P` | path (raw, as sent) |
//! | `p` | one path segment, raw (the round trip percent-encodes it) |
//! | `Q` | query pair: key, `0xFE`, value (raw, decoded) |
//! | `h` | header: name, `0xFE`, value |
//! | `A` / `S` | access key / secret key |
//! | `T` | signing time, `[-]seconds[.nanoseconds]` since the Unix epoch |
//! | `Z` | an `Authorization` value to parse |
//! | `X` | knob bytes (which byte to flip, what to append, ...) |
//! | `B` | the body: every byte after the tag up to the end of the input, `0xFF` included |
//!
//! Unknown tags are ignored. The error-body target takes the input as the body itself.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2024-03-15T08:35:30Z, the time of an input without a readable `T` record.
const DEFAULT_TIME: u64 = 1_710_491_730;

/// Record separator and key/value separator.
const SEP: u8 = 0xFF;
const KV: u8 = 0xFE;

/// The decoded records of one input.
#[derive(Debug, Default, Clone)]
pub(crate) struct Input {
    pub method: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub ak: Option<String>,
    pub sk: Option<String>,
    pub time: Option<String>,
    pub auths: Vec<String>,
    pub knobs: Vec<u8>,
    pub body: Vec<u8>,
}

/// Lossy UTF-8.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn split_kv(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == KV) {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

impl Input {
    pub(crate) fn parse(data: &[u8]) -> Input {
        let mut input = Input::default();
        let mut rest = data;
        while let Some((&tag, after)) = rest.split_first() {
            if tag == b'B' {
                input.body = after.to_vec();
                break;
            }
            let end = after.iter().position(|&b| b == SEP).unwrap_or(after.len());
            let content = &after[..end];
            rest = after.get(end + 1..).unwrap_or_default();
            match tag {
                b'M' => input.method = Some(text(content)),
                b'H' => input.host = Some(text(content)),
                b'P' => input.path = Some(text(content)),
                b'p' => input.segments.push(text(content)),
                b'Q' => {
                    let (k, v) = split_kv(content);
                    input.query.push((text(k), text(v)));
                }
                b'h' => {
                    let (n, v) = split_kv(content);
                    input.headers.push((n.to_vec(), v.to_vec()));
                }
                b'A' => input.ak = Some(text(content)),
                b'S' => input.sk = Some(text(content)),
                b'T' => input.time = Some(text(content)),
                b'Z' => input.auths.push(text(content)),
                b'X' => input.knobs.extend_from_slice(content),
                _ => {}
            }
        }
        input
    }

    /// Knob byte `i`, 0 when absent.
    pub(crate) fn knob(&self, i: usize) -> u8 {
        self.knobs.get(i).copied().unwrap_or(0)
    }

    /// The `T` record as a time (whole seconds and nanoseconds, either side of the epoch), or
    /// the default when absent or unreadable.
    pub(crate) fn time(&self) -> SystemTime {
        self.time
            .as_deref()
            .and_then(parse_time)
            .unwrap_or(UNIX_EPOCH + Duration::from_secs(DEFAULT_TIME))
    }

    /// The headers as lossy text.
    pub(crate) fn text_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(n, v)| (text(n), text(v)))
            .collect()
    }
}

fn parse_time(text: &str) -> Option<SystemTime> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (secs, nanos) = digits.split_once('.').unwrap_or((digits, "0"));
    let secs: u64 = secs.parse().ok()?;
    let nanos: u32 = nanos.parse().ok().filter(|n| *n < 1_000_000_000)?;
    let offset = Duration::new(secs, nanos);
    if negative {
        UNIX_EPOCH.checked_sub(offset)
    } else {
        UNIX_EPOCH.checked_add(offset)
    }
}

/// True if `text` is 64 lowercase hex digits (a signature or a SHA-256 in hex).
pub(crate) fn is_lower_hex_64(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The pairs with the value of every sensitive header (`Authorization`, `X-Auth-Token`,
/// `X-Security-Token`, any case) replaced by `replacement`: what is shown of a request must
/// not change.
pub(crate) fn with_secrets_replaced<V: Clone>(
    headers: &[(String, V)],
    replacement: &V,
) -> Vec<(String, V)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if hss_image_sync::signer::is_sensitive_header(name) {
                replacement.clone()
            } else {
                value.clone()
            };
            (name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read() {
        let input = Input::parse(
            b"MGET\xffP/a\xffQk\xfev\xffhX-A\xfe1\xffT-1.500000000\xffX\x01\x02\xffBbody\xffmore",
        );
        assert_eq!(input.method.as_deref(), Some("GET"));
        assert_eq!(input.path.as_deref(), Some("/a"));
        assert_eq!(input.query, [("k".to_owned(), "v".to_owned())]);
        assert_eq!(input.text_headers(), [("X-A".to_owned(), "1".to_owned())]);
        assert_eq!((input.knob(0), input.knob(1), input.knob(2)), (1, 2, 0));
        assert_eq!(input.body, b"body\xffmore");
        assert_eq!(
            UNIX_EPOCH.duration_since(input.time()).unwrap(),
            Duration::from_millis(1_500)
        );
        assert_eq!(
            Input::parse(b"T1.1000000000").time(),
            UNIX_EPOCH + Duration::from_secs(DEFAULT_TIME)
        );
    }
}
