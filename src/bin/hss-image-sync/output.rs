//! What every command does with an operation: send it (or, with `--dry-run`, show it signed)
//! and print the answer as JSON on stdout; with the embedded emulator, what it verified on
//! stderr.

use crate::connection::report_for;
use crate::terminal::{json_for_terminal, printable};
use futures_util::TryStreamExt;
use hss_image_sync::emulator::RunningEmulator;
use hss_image_sync::{Error, HssClient, Operation, Paged};
use std::process::ExitCode;

/// Sends `operation` and prints its answer, or shows it with `dry_run`.
pub async fn send<O: Operation>(client: &HssClient, operation: O, dry_run: bool) -> ExitCode
where
    O::Answer: serde::Serialize,
{
    if dry_run {
        return show(client, operation).await;
    }
    match client.send(operation).await {
        Ok(answer) => {
            // The answer's fields, then what the call took, in one object.
            let mut shown = match serde_json::to_value(&answer.value) {
                Ok(serde_json::Value::Object(fields)) => fields,
                _ => serde_json::Map::new(),
            };
            shown.insert("request_id".into(), answer.request_id.clone().into());
            shown.insert("attempts".into(), answer.attempts.into());
            print_json(&shown, answer.request_id.as_deref())
        }
        Err(e) => report_for(&e, Some(client.credential_source())),
    }
}

/// Every page of `operation`, printed as one JSON array of its items; or the first page's
/// request shown, with `dry_run`.
pub async fn list<'a, O>(client: &'a HssClient, operation: O, dry_run: bool) -> ExitCode
where
    O: Paged + 'a,
    O::Item: serde::Serialize,
{
    if dry_run {
        return show(client, operation.page(0, hss_image_sync::PAGE_LIMIT)).await;
    }
    match all_items(client, operation).await {
        Ok(items) => print_json(&items, None),
        Err(code) => code,
    }
}

/// Every item of every page of `operation`, or exit with the error.
pub async fn all_items<'a, O>(client: &'a HssClient, operation: O) -> Result<Vec<O::Item>, ExitCode>
where
    O: Paged + 'a,
    O::Item: serde::Serialize,
{
    let pages: Vec<_> = client
        .pages(operation)
        .try_collect()
        .await
        .map_err(|e| report_for(&e, Some(client.credential_source())))?;
    Ok(pages.into_iter().flat_map(|page| page.value).collect())
}

/// `operation` in the client's project, or exit with the error.
pub async fn in_project<O: Operation>(client: &HssClient, operation: O) -> Result<O, ExitCode> {
    client
        .in_project(operation)
        .await
        .map_err(|e| report_for(&e, Some(client.credential_source())))
}

/// The fully signed request, its signature masked, and exit 0 without sending it.
async fn show<O: Operation>(client: &HssClient, operation: O) -> ExitCode {
    match client.prepare(operation).await {
        Ok(prepared) => {
            let text = prepared.to_string();
            let lines: Vec<_> = text.lines().map(printable).collect();
            println!("{}", lines.join("\n"));
            ExitCode::SUCCESS
        }
        Err(e) => report_for(&e, Some(client.credential_source())),
    }
}

/// `value` as pretty JSON on stdout (made safe for a terminal), the request ID on stderr.
pub fn print_json(value: &impl serde::Serialize, request_id: Option<&str>) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(json) => println!("{}", json_for_terminal(&json)),
        Err(e) => {
            eprintln!("error: cannot print the answer: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(id) = request_id {
        eprintln!("request id: {}", printable(id));
    }
    ExitCode::SUCCESS
}

/// A user's value for a generated type, or exit 2 naming the option and the rule.
pub fn parse<T: std::str::FromStr>(option: &'static str, value: &str) -> Result<T, ExitCode>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e: T::Err| {
        crate::connection::report(&Error::InvalidInput {
            field: option,
            rule: e.to_string(),
        })
    })
}

/// What the embedded emulator checked, on stderr.
pub fn show_verification(emulator: &RunningEmulator) {
    for exchange in emulator.exchanges() {
        eprintln!("emulator: {}", exchange.log_line());
        if let Some(canonical) = &exchange.canonical_request {
            eprintln!("emulator: signature verified over the canonical request:");
            for line in canonical.to_string().lines() {
                eprintln!("emulator:   {line}");
            }
        }
    }
    let state = emulator.state();
    if let Ok(json) = serde_json::to_string(&state) {
        eprintln!("emulator: state {json}");
    }
}
