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

    /// The lines as shown: every line of a sensitive header's value masked, whatever the
    /// value holds (a value with line breaks spans several lines: all of them are hidden, the
    /// first shown as `name:******`).
    fn shown_lines(&self) -> impl Iterator<Item = &str> {
        let lines: Vec<&str> = self.0.split('\n').collect();
        let masks = masked_lines(&lines);
        lines
            .into_iter()
            .zip(masks)
            .filter_map(|(line, mask)| match mask {
                Mask::Shown => Some(line),
                Mask::Start(shown) => Some(shown),
                Mask::Continued => None,
            })
    }
}

/// How one line of a canonical request is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mask {
    Shown,
    /// The first line of a sensitive header: shown as `name:******`.
    Start(&'static str),
    /// A further line of a sensitive header's value: hidden.
    Continued,
}

/// For each line, how it is shown. A canonical request is the method, the path, the query, one
/// `name:value` line per signed header (sorted), an empty line, the signed header names and
/// the payload hash; a value holding a line break spans lines, and may even hold a line that
/// looks like another header's. So a sensitive header is hidden from the earliest line its
/// value can start on to the latest line the next header can start on: whatever the values
/// hold, that covers the whole value (more, at worst). Text not of that shape hides everything
/// after a sensitive line.
fn masked_lines(lines: &[&str]) -> Vec<Mask> {
    let n = lines.len();
    let mut masks = vec![Mask::Shown; n];
    let starts = |line: &str, name: &str| {
        line.split_once(':')
            .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let hide = |masks: &mut [Mask], range: std::ops::Range<usize>, name: &str| {
        if let Some(first) = masks.get_mut(range.start)
            && *first == Mask::Shown
        {
            *first = Mask::Start(sensitive_line(name));
        }
        for mask in masks.iter_mut().take(range.end).skip(range.start + 1) {
            *mask = Mask::Continued;
        }
    };
    if n >= 6 && lines[n - 3].is_empty() {
        let block = 3..n - 3;
        let signed: Vec<&str> = lines[n - 2].split(';').collect();
        // The earliest and the latest line each header can start on.
        let mut earliest = Vec::with_capacity(signed.len());
        let mut from = block.start;
        for name in &signed {
            match (from..block.end).find(|&j| starts(lines[j], name)) {
                Some(j) => earliest.push(j),
                None => break,
            }
            from = earliest[earliest.len() - 1] + 1;
        }
        let mut latest = vec![0; signed.len()];
        let mut until = block.end;
        let mut found = 0;
        for (k, name) in signed.iter().enumerate().rev() {
            match (block.start..until).rev().find(|&j| starts(lines[j], name)) {
                Some(j) => latest[k] = j,
                None => break,
            }
            until = latest[k];
            found += 1;
        }
        if earliest.len() == signed.len() && found == signed.len() {
            for (k, name) in signed.iter().enumerate() {
                if is_sensitive_header(name) {
                    let end = latest.get(k + 1).copied().unwrap_or(block.end);
                    hide(&mut masks, earliest[k]..end.max(earliest[k] + 1), name);
                }
            }
            // A sensitive line outside every signed header's place (not of the shape after
            // all): everything after it in the headers.
            for j in block.clone() {
                if masks[j] == Mask::Shown
                    && let Some((name, _)) = lines[j].split_once(':')
                    && is_sensitive_header(name)
                {
                    hide(&mut masks, j..block.end, name);
                }
            }
            return masks;
        }
    }
    if let Some((j, name)) = lines.iter().enumerate().find_map(|(j, line)| {
        let (name, _) = line.split_once(':')?;
        is_sensitive_header(name).then_some((j, name))
    }) {
        hide(&mut masks, j..n, name);
    }
    masks
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
    fn canonical_request_masks_every_line_of_a_sensitive_value() {
        let signed = "host;x-auth-token;x-project-id;x-sdk-date;x-security-token;zz";
        for token in [
            "FIRST\nSECOND-PART",
            "FIRST\r\nSECOND-PART\nTHIRD-PART",
            "FIRST\n\nSECOND-PART",
            // A value forging the next header's line is hidden with it.
            "FIRST\nx-project-id:SECOND-PART",
            "FIRST\nx-sdk-date:SECOND-PART\nTHIRD-PART",
        ] {
            let text = format!(
                "POST\n/v5/p/\n\nhost:h\nx-auth-token:{token}\nx-project-id:p\nx-sdk-date:d\n\
                 x-security-token:{token}\nzz:z\n\n{signed}\nabc"
            );
            let canonical = CanonicalRequest::new(text.clone());
            for shown in [canonical.to_string(), format!("{canonical:?}")] {
                for part in ["FIRST", "SECOND-PART", "THIRD-PART"] {
                    assert!(!shown.contains(part), "{part} in {shown:?}");
                }
            }
            assert_eq!(
                canonical.to_string(),
                format!(
                    "POST\n/v5/p/\n\nhost:h\nx-auth-token:******\nx-project-id:p\nx-sdk-date:d\n\
                     x-security-token:******\nzz:z\n\n{signed}\nabc"
                ),
                "{token:?}"
            );
            assert_eq!(canonical.as_str(), text);
        }
        // The last header, and text of another shape: everything after a sensitive line.
        for text in [
            "GET\n/\n\nhost:h\nx-security-token:A\nLEAK\n\nhost;x-security-token\nabc",
            "x-security-token:A\nLEAK\nzz:z",
        ] {
            let shown = CanonicalRequest::new(text.into()).to_string();
            assert!(!shown.contains("LEAK") && !shown.contains(":A"), "{shown}");
        }
    }

    #[test]
    fn header_debug_masks_sensitive_values() {
        for name in [
            "Authorization",
            "authorization",
            "X-Auth-Token",
            "x-auth-token",
            "X-Security-Token",
            "X-SECURITY-TOKEN",
        ] {
            let header = Header::new(name, "SECRET-VALUE\nSECOND-LINE");
            assert!(header.sensitive, "{name}");
            assert_eq!(format!("{header:?}"), format!("{name}: \"******\""));
            assert!(is_sensitive_header(name));
        }
        let header = Header::new("Host", "h");
        assert!(!header.sensitive);
        assert_eq!(format!("{header:?}"), "Host: \"h\"");
        assert!(!is_sensitive_header("X-Sdk-Date"));
    }
}
