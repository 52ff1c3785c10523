//! `hss-image-sync whoami`: what a call would use, and nothing secret.

use crate::connection::{ConnectionArgs, report};
use crate::render;
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
            let expires_in = identity.expiry.map(|expiry| {
                expiry
                    .duration_since(SystemTime::now())
                    .map_or(0, |d| d.as_secs())
            });
            let signing = match identity.algorithm {
                Some(algorithm) => algorithm.to_string(),
                None => "none (X-Auth-Token)".to_owned(),
            };
            if render::format() == render::Format::Text {
                // The lines people read (and scripts of earlier versions grep).
                println!("credentials: {}", identity.credential_source);
                if let Some(ak) = &identity.access_key {
                    println!("access key: {}", printable(ak));
                }
                if let (Some(expiry), Some(left)) = (identity.expiry, expires_in) {
                    println!("expires: {} (in {left} s)", httpdate::fmt_http_date(expiry));
                }
                println!("signing: {signing}");
                println!("endpoint: {}", identity.endpoint);
                println!(
                    "project: {} ({})",
                    printable(&identity.project_id),
                    identity.project_source
                );
            } else {
                render::print(&serde_json::json!({
                    "credentials": identity.credential_source,
                    "access_key": identity.access_key,
                    "expires": identity.expiry.map(httpdate::fmt_http_date),
                    "expires_in_s": expires_in,
                    "signing": signing,
                    "endpoint": identity.endpoint,
                    "project_id": identity.project_id,
                    "project_source": identity.project_source.to_string(),
                }));
            }
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}
