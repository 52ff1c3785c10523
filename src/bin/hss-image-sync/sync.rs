//! `hss-image-sync sync`.

use crate::connection::{ConnectionArgs, report_for};
use crate::terminal::{json_for_terminal, printable};
use clap::Args;
use hss_image_sync::emulator::RunningEmulator;
use hss_image_sync::{HssClient, ImageType, SyncRequest};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Which SWR image repositories to synchronize.
    #[arg(long, value_enum)]
    image_type: ImageType,

    /// Enterprise project ID (1..256 characters): "0" is the default project, "all_granted_eps"
    /// all of them. Not sent unless given (the service then uses "0").
    #[arg(long)]
    enterprise_project_id: Option<String>,

    /// Value of the API's `region` header (0..128 characters). Not sent unless given.
    #[arg(long)]
    region_header: Option<String>,

    /// Print the fully signed request (method, URL, headers with tokens masked, body) and exit
    /// 0 without sending it. The project ID may still be looked up in IAM.
    #[arg(long)]
    dry_run: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}

pub async fn run(mut args: SyncArgs) -> ExitCode {
    let (emulator, client) = match args.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let code = if args.dry_run {
        dry_run(&client, &args).await
    } else {
        sync(&client, &args).await
    };
    if let Some(running) = emulator.filter(|_| !args.dry_run) {
        show_verification(&running);
    }
    code
}

/// What the embedded emulator checked, on stderr.
fn show_verification(emulator: &RunningEmulator) {
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

fn request(args: &SyncArgs) -> SyncRequest {
    let mut request = SyncRequest::new(args.image_type);
    if let Some(id) = &args.enterprise_project_id {
        request = request.enterprise_project_id(id);
    }
    if let Some(region) = &args.region_header {
        request = request.region_header(region);
    }
    request
}

async fn dry_run(client: &HssClient, args: &SyncArgs) -> ExitCode {
    match client.prepare_run_image_synchronize(&request(args)).await {
        Ok(prepared) => {
            println!("{}", printable_lines(&prepared.to_string()));
            ExitCode::SUCCESS
        }
        Err(e) => report_for(&e, Some(client.credential_source())),
    }
}

/// Each line made safe for a terminal, the line breaks kept.
fn printable_lines(text: &str) -> String {
    text.lines().map(printable).collect::<Vec<_>>().join("\n")
}

async fn sync(client: &HssClient, args: &SyncArgs) -> ExitCode {
    match client.run_image_synchronize(&request(args)).await {
        Ok(response) => {
            match serde_json::to_string_pretty(&response) {
                Ok(json) => println!("{}", json_for_terminal(&json)),
                Err(e) => eprintln!("error: cannot print the response: {e}"),
            }
            if let Some(id) = &response.request_id {
                eprintln!("request id: {}", printable(id));
            }
            ExitCode::SUCCESS
        }
        Err(e) => report_for(&e, Some(client.credential_source())),
    }
}
