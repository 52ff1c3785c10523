//! `hss-image-sync emulator`: serve the HSS emulator until interrupted.

use clap::Args;
use hss_image_sync::emulator::{DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY, Emulator};
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free one. The first line printed on stdout is
    /// `listening on http://ADDR`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// Access key ID to accept (default: the demo key).
    #[arg(long, requires = "sk")]
    ak: Option<String>,

    /// Secret key of --ak (default: the demo key).
    #[arg(long, requires = "ak", hide_env_values = true, env = "HSS_EMULATOR_SK")]
    sk: Option<String>,

    /// Treat the access key as temporary: require and verify this X-Security-Token.
    #[arg(long, hide_env_values = true)]
    security_token: Option<String>,

    /// Also accept IAM-token authentication with this X-Auth-Token.
    #[arg(long, hide_env_values = true, env = "HSS_EMULATOR_TOKEN")]
    token: Option<String>,

    /// Run the emulator's clock this many seconds ahead (negative: behind) of the system clock.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    clock_offset: i64,
}

pub async fn run(args: EmulatorArgs) -> ExitCode {
    let mut emulator = Emulator::new().clock_offset_secs(args.clock_offset);
    let demo = args.ak.is_none();
    if let (Some(ak), Some(sk)) = (&args.ak, &args.sk) {
        emulator = emulator.access_key(ak, sk);
    }
    if let Some(token) = &args.security_token {
        emulator = emulator.security_token(token);
    }
    if let Some(token) = &args.token {
        emulator = emulator.auth_token(token);
    }
    let emulator = emulator.on_exchange(|exchange| println!("{}", exchange.log_line()));
    let running = match emulator.start_on(args.listen).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    println!("listening on {}", running.endpoint());
    if demo {
        eprintln!(
            "demo credentials: HUAWEICLOUD_SDK_AK={DEMO_ACCESS_KEY} HUAWEICLOUD_SDK_SK={DEMO_SECRET_KEY} \
             HUAWEICLOUD_SDK_PROJECT_ID={DEMO_PROJECT_ID}"
        );
    }
    eprintln!(
        "state: GET {}/_emulator/state; stop with Ctrl-C",
        running.endpoint()
    );
    match tokio::signal::ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: waiting for Ctrl-C: {e}");
            ExitCode::FAILURE
        }
    }
}
