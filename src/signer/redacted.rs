//! Types that carry secrets next to ordinary text and mask them by type, whatever prints them:
//! a header with a sensitive flag, and the canonical request.

use std::fmt;

/// What every masked secret is shown as.
pub const MASK: &str = "******";

/// Header names whose values are secrets (or, for `Authorization`, replayable for the life of
/// the signature): never printed.
pub fn is_sensitive_header(name: &str) -> bool {
    ["authorization", "x-auth-token", "x-security-token"]
        .iter()
        .any(|secret| name.eq_ignore_ascii_case(secret))
}

/// One header of a signed request. Its `Debug` masks the value when `sensitive` is set.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// The name as it is sent.
    pub name: String,
    /// The value as it is sent (trimmed).
    pub value: String,
    /// True for `Authorization`, `X-Auth-Token` and `X-Security-Token`.
    pub sensitive: bool,
}

impl Header {
    /// A header, marked sensitive by its name.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        Header {
            sensitive: is_sensitive_header(&name),
            name,
            value: value.into(),
        }
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if self.sensitive { &MASK } else { &self.value };
        write!(f, "{}: {value:?}", self.name)
    }
}

/// A canonical request: the exact text that is hashed and signed. It may hold a signed
/// security token, so `Display` and `Debug` mask the value of every sensitive header line,
/// and the text is wiped from memory when dropped; [`as_str`](Self::as_str) gives the exact
/// text.
#[derive(Clone, PartialEq, Eq)]
pub struct CanonicalRequest(String);

impl CanonicalRequest {
    /// Wraps canonical-request text (built by the signer, or by the emulator from what
    /// arrived).
    pub(crate) fn new(text: String) -> Self {
        CanonicalRequest(text)
    }

    /// The exact text, secrets included: what was hashed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lines as shown: sensitive header values masked.
    fn shown_lines(&self) -> impl Iterator<Item = &str> {
        self.0.split('\n').map(|line| match line.split_once(':') {
            Some((name, _)) if is_sensitive_header(name) => sensitive_line(name),
            _ => line,
        })
    }
}

/// `name:******` for the sensitive names (always lowercase in a canonical request).
fn sensitive_line(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "x-security-token" => "x-security-token:******",
        "x-auth-token" => "x-auth-token:******",
        _ => "authorization:******",
    }
}

impl Drop for CanonicalRequest {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Display for CanonicalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.shown_lines().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(line)?;
        }
        Ok(())
    }
}

impl fmt::Debug for CanonicalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CanonicalRequest({:?})", self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_request_masks_signed_tokens() {
        let text = "POST\n/v5/p/\n\nhost:h\nx-security-token:TOKEN-VALUE\nx-sdk-date:d\n\nhost;x-security-token;x-sdk-date\nabc";
        let canonical = CanonicalRequest::new(text.to_owned());
        let shown = canonical.to_string();
        assert!(!shown.contains("TOKEN-VALUE"), "{shown}");
        assert!(shown.contains("x-security-token:******\nx-sdk-date:d"));
        assert!(!format!("{canonical:?}").contains("TOKEN-VALUE"));
        assert_eq!(canonical.as_str(), text);
    }

    #[test]
    fn header_debug_masks_sensitive_values() {
        let header = Header::new("X-Auth-Token", "IAM-TOKEN");
        assert!(header.sensitive);
        assert_eq!(format!("{header:?}"), "X-Auth-Token: \"******\"");
        let header = Header::new("Host", "h");
        assert!(!header.sensitive);
        assert_eq!(format!("{header:?}"), "Host: \"h\"");
    }
}
