//! `--output json|table|text`: how results reach stdout. JSON for pipelines (an object per
//! result, each naming its target), a table that fits the terminal, or plain lines.
//! Server text is made safe for a terminal in every format.

use crate::terminal::{json_for_terminal, printable};
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The format of everything printed on stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// JSON: one document per result (a fan-out prints one line per target, then a summary).
    #[default]
    Json,
    /// A table that fits the terminal (lists and summaries); an object as two columns.
    Table,
    /// Plain lines: `key: value` for an object, one line per list item.
    Text,
}

static FORMAT: OnceLock<Format> = OnceLock::new();
/// The widest table when stdout is not a terminal (and `COLUMNS` is not set).
const DEFAULT_WIDTH: u16 = 120;
/// The longest cell of a table or text line, in characters: server text is cut to it.
const MAX_CELL_CHARS: usize = 200;

/// Sets the format for this run (once, from the command line).
pub fn set_format(format: Format) {
    let _ = FORMAT.set(format);
}

/// The format for this run.
pub fn format() -> Format {
    FORMAT.get().copied().unwrap_or_default()
}

/// Prints `value` (an object or a list of objects) on stdout in the run's format.
pub fn print(value: &Value) {
    println!("{}", render(value, format(), width()));
}

/// One result of many (a fan-out's target, a progress line): a single line in JSON, else as
/// [`print`] would show it.
pub fn print_line(value: &Value) {
    println!("{}", line(value));
}

/// The line [`print_line`] prints, without its newline.
pub fn line(value: &Value) -> String {
    match format() {
        Format::Json => json_for_terminal(&value.to_string()),
        Format::Text | Format::Table => text_line(value),
    }
}

/// `value` in `format`, for a terminal `width` columns wide.
pub fn render(value: &Value, format: Format, width: u16) -> String {
    match (format, value) {
        (Format::Json, _) => json_for_terminal(
            &serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()),
        ),
        (Format::Table, Value::Array(items)) => table(items, width),
        (Format::Table, Value::Object(fields)) => two_columns(fields, width),
        (Format::Text, Value::Array(items)) => {
            items.iter().map(text_line).collect::<Vec<_>>().join("\n")
        }
        (Format::Text, Value::Object(fields)) => fields
            .iter()
            .map(|(key, value)| format!("{key}: {}", cell(value)))
            .collect::<Vec<_>>()
            .join("\n"),
        (_, scalar) => cell(scalar),
    }
}

/// The terminal's width, else `COLUMNS`, else [`DEFAULT_WIDTH`].
fn width() -> u16 {
    let term = console::Term::stdout();
    term.size_checked()
        .map(|(_rows, columns)| columns)
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .filter(|w| *w >= 20)
        .unwrap_or(DEFAULT_WIDTH)
}

/// A list of objects as a table: a column per key, the most telling first (IDs, names, types,
/// statuses), as many as fit `width` legibly; the rest are left out, with a note on stderr.
fn table(items: &[Value], width: u16) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for item in items {
        if let Value::Object(fields) = item {
            for key in fields.keys() {
                if !columns.contains(&key.as_str()) {
                    columns.push(key);
                }
            }
        }
    }
    // A stable sort: within a rank, the keys keep their order.
    columns.sort_by_key(|key| rank(key));
    let fit = (usize::from(width).saturating_sub(1) / (MIN_COLUMN_WIDTH + 3)).max(1);
    if columns.len() > fit {
        eprintln!(
            "note: {} of {} columns shown to fit the terminal; --output json shows every field",
            fit,
            columns.len()
        );
        columns.truncate(fit);
    }
    let mut table = new_table(width);
    table.set_header(columns.iter().copied());
    for item in items {
        let row = columns.iter().map(|key| match item.get(*key) {
            Some(value) => cell(value),
            None => String::new(),
        });
        table.add_row(row);
    }
    table.to_string()
}

/// The narrowest column worth showing, in characters.
const MIN_COLUMN_WIDTH: usize = 12;

/// Where a key's column goes: what tells items apart first, what they share last.
fn rank(key: &str) -> u8 {
    match key {
        "region" | "project_id" | "operation" => 6,
        "id" | "task_id" | "registry_id" => 0,
        _ if key.ends_with("name") => 1,
        _ if key.ends_with("type") => 2,
        _ if key.ends_with("status") || key == "outcome" => 3,
        _ if key.ends_with("_id") => 5,
        _ => 4,
    }
}

fn two_columns(fields: &Map<String, Value>, width: u16) -> String {
    let mut table = new_table(width);
    for (key, value) in fields {
        table.add_row([key.clone(), cell(value)]);
    }
    table.to_string()
}

fn new_table(width: u16) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_width(width);
    table
}

/// An object as one line: `key=value` pairs, values with spaces quoted.
fn text_line(value: &Value) -> String {
    match value {
        Value::Object(fields) => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(key, v)| {
                let shown = cell(v);
                if shown.contains(' ') || shown.is_empty() {
                    format!("{key}={shown:?}")
                } else {
                    format!("{key}={shown}")
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => cell(other),
    }
}

/// A value as a cell: strings as they are (made printable, cut), others as compact JSON.
fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut shown = printable(&text).into_owned();
    if let Some((cut, _)) = shown.char_indices().nth(MAX_CELL_CHARS) {
        shown.truncate(cut);
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items() -> Value {
        json!([
            {"id": "r1", "registry_type": "Harbor", "images_num": 3},
            {"id": "r2", "registry_name": "team\u{1b}[2J", "images_num": 40}
        ])
    }

    #[test]
    fn a_table_has_every_key_as_a_column_and_fits_the_width() {
        let shown = render(&items(), Format::Table, 80);
        let lines: Vec<&str> = shown.lines().collect();
        let header = lines[1];
        let at = |name: &str| {
            header
                .find(name)
                .unwrap_or_else(|| panic!("{name}: {shown}"))
        };
        assert!(at("id") < at("registry_name") && at("registry_name") < at("registry_type"));
        assert!(at("registry_type") < at("images_num"), "{shown}");
        for line in &lines {
            assert!(line.chars().count() <= 80, "{line:?} wider than 80");
        }
        // Too narrow for every column: the most telling ones are kept.
        let narrow = render(&items(), Format::Table, 40);
        assert!(
            narrow.contains("id") && !narrow.contains("images_num"),
            "{narrow}"
        );
        assert!(!shown.contains('\u{1b}'), "controls escaped: {shown}");
        assert!(shown.contains("\\u{1b}"), "{shown}");
    }

    #[test]
    fn text_is_a_line_per_item_and_json_stays_json() {
        let shown = render(&items(), Format::Text, 80);
        assert_eq!(shown.lines().count(), 2);
        // serde_json keeps an object's keys sorted.
        assert!(
            shown.starts_with("id=r1 images_num=3 registry_type=Harbor\n"),
            "{shown}"
        );
        let json = render(&items(), Format::Json, 80);
        let back: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, items());
    }

    #[test]
    fn long_server_text_is_cut() {
        let long = json!({"error_msg": "x".repeat(100_000)});
        let shown = render(&long, Format::Text, 80);
        assert!(
            shown.chars().count() < MAX_CELL_CHARS + 20,
            "{}",
            shown.len()
        );
        assert!(shown.ends_with('…'));
    }
}
