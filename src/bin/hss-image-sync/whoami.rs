//! `hss-image-sync whoami`: what a call would use, and nothing secret.

use crate::connection::{ConnectionArgs, report};
use crate::terminal::printable;
use clap::Args;
use std::process::ExitCode;
use std::time::SystemTime;

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

pub async fn run(mut args: WhoamiArgs) -> ExitCode {
    // The emulator, if any, must outlive the call.
    let (_emulator, client) = match args.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    match client.identity().await {
        Ok(identity) => {
            println!("credentials: {}", identity.credential_source);
            if let Some(ak) = &identity.access_key {
                println!("access key: {}", printable(ak));
            }
            if let Some(expiry) = identity.expiry {
                let left = expiry
                    .duration_since(SystemTime::now())
                    .map_or(0, |d| d.as_secs());
                println!("expires: {} (in {left} s)", httpdate::fmt_http_date(expiry));
            }
            match identity.algorithm {
                Some(algorithm) => println!("signing: {algorithm}"),
                None => println!("signing: none (X-Auth-Token)"),
            }
            println!("endpoint: {}", identity.endpoint);
            println!(
                "project: {} ({})",
                printable(&identity.project_id),
                identity.project_source
            );
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}
