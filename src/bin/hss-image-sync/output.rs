//! What every command does with an operation: send it (or, with `--dry-run`, show it signed)
//! and print the answer on stdout in the run's `--output` format, naming its target (region,
//! project, operation); with the embedded emulator, what it verified on stderr.

use crate::connection::report_for;
use crate::render;
use crate::terminal::printable;
use futures_util::TryStreamExt;
use hss_image_sync::emulator::RunningEmulator;
use hss_image_sync::{Error, HssClient, Operation, Paged};
use serde_json::{Map, Value};
use std::process::ExitCode;

/// What every list command takes besides its filters.
#[derive(Debug, clap::Args)]
pub struct ListOptions {
    /// Print the signed request of the first page and exit 0 without sending it.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub connection: crate::connection::ConnectionArgs,
}

/// Sets a parameter of an operation from an option the user may have given (clap parsed it
/// into the spec's type, so a refused value names the option).
pub trait Maybe: Operation {
    fn maybe<T>(self, value: Option<T>, set: impl FnOnce(Self, T) -> Self) -> Self {
        match value {
            Some(value) => set(self, value),
            None => self,
        }
    }
}

impl<O: Operation> Maybe for O {}

/// Sends `operation` and prints its answer, or shows it with `dry_run`.
pub async fn send<O: Operation>(client: &HssClient, operation: O, dry_run: bool) -> ExitCode
where
    O::Answer: serde::Serialize,
{
    let sent = client.within_timeout(async {
        let operation = client.in_project(operation).await?;
        if dry_run {
            return client.prepare(operation).await.map(Err);
        }
        client.send(operation).await.map(Ok)
    });
    match sent.await {
        Ok(Err(prepared)) => show(&prepared),
        Ok(Ok(answer)) => {
            // The answer's fields, what the call took and where, in one object.
            let mut shown = match serde_json::to_value(&answer.value) {
                Ok(Value::Object(fields)) => fields,
                _ => Map::new(),
            };
            shown.insert("request_id".into(), answer.request_id.clone().into());
            shown.insert("attempts".into(), answer.attempts.into());
            name_target(&mut shown, &target(client, Some(O::ID)).await);
            print_json(&shown, answer.request_id.as_deref())
        }
        Err(e) => report_for(&e, Some(client.credential_source())),
    }
}

/// Every page of `operation` (in the client's project), printed as one list of its items; or
/// the first page's request shown, with `dry_run`.
pub async fn list<'a, O>(client: &'a HssClient, operation: O, dry_run: bool) -> ExitCode
where
    O: Paged + 'a,
    O::Item: serde::Serialize,
{
    if dry_run {
        return send(client, operation.page(0, hss_image_sync::PAGE_LIMIT), true).await;
    }
    match all_items(client, operation).await {
        Ok(items) => {
            // Where every item comes from, found once.
            let target = target(client, Some(O::ID)).await;
            let mut shown = Vec::with_capacity(items.len());
            for item in items {
                let mut fields = match serde_json::to_value(item) {
                    Ok(Value::Object(fields)) => fields,
                    _ => Map::new(),
                };
                name_target(&mut fields, &target);
                shown.push(Value::Object(fields));
            }
            print_json(&shown, None)
        }
        Err(code) => code,
    }
}

/// Where a result comes from: the region, the project and the operation.
pub async fn target(client: &HssClient, operation: Option<&str>) -> Map<String, Value> {
    let project = client.default_project_id().await.ok();
    [
        ("region", client.region().map(str::to_owned)),
        ("project_id", project),
        ("operation", operation.map(str::to_owned)),
    ]
    .into_iter()
    .filter_map(|(key, value)| Some((key.to_owned(), Value::from(value?))))
    .collect()
}

/// Adds `target`'s fields to a result, unless the model has such fields of its own.
pub fn name_target(fields: &mut Map<String, Value>, target: &Map<String, Value>) {
    for (key, value) in target {
        fields.entry(key.as_str()).or_insert_with(|| value.clone());
    }
}

/// Every item of every page of `operation` (in the client's project), or exit with the error.
pub async fn all_items<'a, O>(client: &'a HssClient, operation: O) -> Result<Vec<O::Item>, ExitCode>
where
    O: Paged + 'a,
    O::Item: serde::Serialize,
{
    client
        .within_timeout(every_item(client, operation))
        .await
        .map_err(|e| report_for(&e, Some(client.credential_source())))
}

/// Every item of every page of `operation`, in the client's project.
pub async fn every_item<'a, O>(client: &'a HssClient, operation: O) -> Result<Vec<O::Item>, Error>
where
    O: Paged + 'a,
    O::Item: serde::Serialize,
{
    let operation = client.in_project(operation).await?;
    let pages: Vec<_> = client.pages(operation).try_collect().await?;
    Ok(pages.into_iter().flat_map(|page| page.value).collect())
}

/// The fully signed request, its signature masked, and exit 0 without sending it.
fn show(prepared: &hss_image_sync::PreparedRequest) -> ExitCode {
    let text = prepared.to_string();
    let lines: Vec<_> = text.lines().map(printable).collect();
    println!("{}", lines.join("\n"));
    ExitCode::SUCCESS
}

/// `value` on stdout in the run's format (made safe for a terminal), the request ID on stderr.
pub fn print_json(value: &impl serde::Serialize, request_id: Option<&str>) -> ExitCode {
    match serde_json::to_value(value) {
        Ok(value) => render::print(&value),
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
