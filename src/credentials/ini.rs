//! The profile file's INI dialect, read as Python's `configparser` reads it for the official
//! SDKs (key case ignored, `key = value` and `key: value`, `#`/`;` comment lines, `[DEFAULT]`
//! values inherited, indented continuation lines), with two deliberate differences, each with a
//! warning where the SDKs would fail: `%` is taken literally (the SDKs interpolate it), and a
//! UTF-8 byte order mark is skipped (the SDKs reject the file). Lines the SDKs would reject (no
//! `=`, before any section, repeated keys) are skipped or the last one used, also with a warning.

use std::path::Path;
use zeroize::Zeroizing;

/// One `key = value` of an INI section; the key lower-cased, the value trimmed (continuation
/// lines joined with `\n`).
struct Entry {
    key: String,
    value: Zeroizing<String>,
}

/// An INI file as Python's `configparser` reads the official SDKs' profile with its default
/// settings, except that nothing is fatal and `%` is literal.
#[derive(Default)]
pub(super) struct Ini {
    defaults: Vec<Entry>,
    sections: Vec<(String, Vec<Entry>)>,
}

impl Ini {
    pub(super) fn parse(text: &str, path: &Path) -> Ini {
        let warn = |line: usize, problem: &str| {
            tracing::warn!(path = %path.display(), line, "credentials file: {problem}");
        };
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => {
                warn(
                    1,
                    "starts with a UTF-8 byte order mark, skipped (the official SDKs reject \
                     such a file)",
                );
                rest
            }
            None => text,
        };
        let mut ini = Ini::default();
        // Where `key = value` lines go: nowhere yet, `[DEFAULT]`, or a section (by index).
        let mut target: Option<Option<usize>> = None;
        // Whether the last option line can take continuation lines, and its indentation.
        let mut open_value = false;
        let mut indent_level = usize::MAX;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let stripped = raw.trim();
            if stripped.starts_with('#') || stripped.starts_with(';') {
                continue;
            }
            if stripped.is_empty() {
                // An empty line inside a value is kept if a continuation line follows.
                if open_value && let Some(entry) = ini.last_entry(target) {
                    entry.value.push('\n');
                }
                continue;
            }
            let indent = raw.len() - raw.trim_start().len();
            if open_value && indent > indent_level {
                if let Some(entry) = ini.last_entry(target) {
                    entry.value.push('\n');
                    entry.value.push_str(stripped);
                }
                continue;
            }
            indent_level = indent;
            open_value = false;
            if let Some(header) = stripped
                .strip_prefix('[')
                .and_then(|rest| rest.rfind(']').map(|end| &rest[..end]))
                .filter(|header| !header.is_empty())
            {
                target = Some(if header == "DEFAULT" {
                    None
                } else {
                    Some(ini.section_index(header))
                });
                continue;
            }
            let Some(current) = target else {
                warn(line_no, "a line before any [section], skipped");
                continue;
            };
            let Some(at) = stripped.find(['=', ':']) else {
                warn(line_no, "a line without = or :, skipped");
                continue;
            };
            let key = stripped[..at].trim_end().to_lowercase();
            if key.is_empty() {
                warn(line_no, "a line without a key, skipped");
                continue;
            }
            let entries = ini.entries(current);
            if entries.iter().any(|e| e.key == key) {
                warn(
                    line_no,
                    "a key given twice in one section; the last one is used (the official \
                     SDKs reject such a file)",
                );
            }
            entries.push(Entry {
                key,
                value: Zeroizing::new(stripped[at + 1..].trim().to_owned()),
            });
            open_value = true;
        }
        for entry in ini
            .defaults
            .iter_mut()
            .chain(ini.sections.iter_mut().flat_map(|(_, e)| e.iter_mut()))
        {
            let trimmed = entry.value.trim_end().len();
            entry.value.truncate(trimmed);
        }
        ini
    }

    fn section_index(&mut self, name: &str) -> usize {
        match self.sections.iter().position(|(n, _)| n == name) {
            Some(at) => at,
            None => {
                self.sections.push((name.to_owned(), Vec::new()));
                self.sections.len() - 1
            }
        }
    }

    fn entries(&mut self, target: Option<usize>) -> &mut Vec<Entry> {
        match target {
            None => &mut self.defaults,
            Some(at) => &mut self.sections[at].1,
        }
    }

    fn last_entry(&mut self, target: Option<Option<usize>>) -> Option<&mut Entry> {
        self.entries(target?).last_mut()
    }

    /// Whether the file has `[name]` (section names are case-sensitive; `[DEFAULT]` alone is
    /// not a section).
    pub(super) fn has_section(&self, name: &str) -> bool {
        self.sections.iter().any(|(n, _)| n == name)
    }

    /// The non-empty value of `key` in `[section]`, else in `[DEFAULT]`; the last one given wins.
    pub(super) fn get(&self, section: &str, key: &str, path: &Path) -> Option<&str> {
        let in_section = self
            .sections
            .iter()
            .filter(|(name, _)| name == section)
            .flat_map(|(_, entries)| entries.iter().rev());
        let value = in_section
            .chain(self.defaults.iter().rev())
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
            .filter(|v| !v.is_empty())?;
        if value.contains('%') {
            tracing::warn!(
                path = %path.display(),
                key,
                "credentials file: a value with %, taken literally (the official SDKs \
                 interpolate it, and fail on a lone %)"
            );
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(ini: &Ini, section: &str) -> Vec<(String, String)> {
        ini.sections
            .iter()
            .filter(|(n, _)| n == section)
            .flat_map(|(_, e)| e.iter())
            .map(|e| (e.key.clone(), e.value.to_string()))
            .collect()
    }

    #[test]
    fn credentials_ini_reads_like_configparser() {
        let path = Path::new("test.ini");
        let text = "[global]\nak = wrong\nsk = wrong\n\n[basic]\n# comment\n  ; indented comment\nAK = right\nsk: s=k \nproject_id=p\n[other]\nsecurity_token = no\n";
        assert_eq!(
            pairs(&Ini::parse(text, path), "basic"),
            vec![
                ("ak".into(), "right".into()),
                ("sk".into(), "s=k".into()),
                ("project_id".into(), "p".into())
            ]
        );
        // CRLF, `key: value`, inline `;` kept, quotes kept, continuation lines (with an empty
        // line inside), `%` literal, keys case-insensitive.
        let text = "[basic]\r\nAk: A ; not a comment\r\nSK = \"q\"\r\nsecurity_token = first\r\n   second\r\n\r\n   third\r\n\r\nproject_ID = 50%\r\n";
        let ini = Ini::parse(text, path);
        assert_eq!(ini.get("basic", "ak", path), Some("A ; not a comment"));
        assert_eq!(ini.get("basic", "sk", path), Some("\"q\""));
        assert_eq!(
            ini.get("basic", "security_token", path),
            Some("first\nsecond\n\nthird")
        );
        assert_eq!(ini.get("basic", "project_id", path), Some("50%"));
        // Section names are case-sensitive; `[DEFAULT]` is inherited but not a section.
        let ini = Ini::parse(
            "[DEFAULT]\nproject_id = d\nsk = dsk\n[Basic]\nak = no\n[basic]\nak = A\nproject_id =\n",
            path,
        );
        assert!(ini.has_section("basic") && ini.has_section("Basic"));
        assert!(!ini.has_section("DEFAULT"));
        assert_eq!(ini.get("basic", "ak", path), Some("A"));
        assert_eq!(ini.get("basic", "sk", path), Some("dsk"));
        // An empty value in the section is unset, not inherited (configparser: '' is a value).
        assert_eq!(ini.get("basic", "project_id", path), None);
        assert!(!Ini::parse("[DEFAULT]\nak = A\n", path).has_section("basic"));
    }

    #[test]
    fn credentials_ini_skips_what_configparser_rejects() {
        let path = Path::new("test.ini");
        // A byte order mark, a line before any section, a line without `=`, a repeated key.
        let text = "\u{feff}ak = outside\n[basic]\nno equals sign\nak = first\nak = second\n[basic]\nsk = S\n";
        let ini = Ini::parse(text, path);
        assert_eq!(ini.get("basic", "ak", path), Some("second"));
        assert_eq!(ini.get("basic", "sk", path), Some("S"));
        assert!(Ini::parse("", path).sections.is_empty());
    }
}
