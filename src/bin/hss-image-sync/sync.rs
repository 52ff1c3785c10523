//! `hss-image-sync sync`: `CreateImageSynchronizeTask` for every registry or those named;
//! with `--image-type`, the deprecated `RunImageSynchronize`.

use crate::connection::{ConnectionArgs, report};
use crate::output;
use clap::Args;
use hss_image_sync::types::{self, CreateImageSynchronizeTaskRequestInfo, RegistryRef};
use hss_image_sync::{Error, HssClient};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The registries whose image lists to synchronize: `all`, or ID:TYPE[,ID:TYPE...] with the
    /// IDs and types `registries list` shows (TYPE: SwrPrivate, SwrShared, SwrEnterprise,
    /// Harbor, Jfrog, Other). The default, with neither this nor --image-type.
    #[arg(long, conflicts_with = "image_type")]
    registries: Option<String>,

    /// Use the deprecated RunImageSynchronize for SWR private_image or shared_image
    /// repositories instead (any case).
    #[arg(long)]
    image_type: Option<String>,

    /// Enterprise project ID (1..256 characters): "0" is the default project, "all_granted_eps"
    /// all of them. Not sent unless given (the service then uses "0").
    #[arg(long)]
    enterprise_project_id: Option<String>,

    /// Value of the API's `region` header (0..128 characters). Not sent unless given.
    #[arg(long)]
    region_header: Option<String>,

    /// Print the fully signed request (method, URL, headers with the signature and tokens
    /// masked, body) and exit 0 without sending it. The project ID may still be looked up in
    /// IAM.
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
    let code = match sync(&client, &args).await {
        Ok(code) | Err(code) => code,
    };
    if let Some(running) = emulator.filter(|_| !args.dry_run) {
        output::show_verification(&running);
    }
    code
}

async fn sync(client: &HssClient, args: &SyncArgs) -> Result<ExitCode, ExitCode> {
    let eps = args.enterprise_project_id.as_deref();
    let region = args.region_header.as_deref();
    if let Some(image_type) = &args.image_type {
        eprintln!(
            "note: --image-type uses RunImageSynchronize, which HSS has deprecated; \
             --registries uses its successor"
        );
        // Any case, as regions: `PRIVATE_IMAGE` is `private_image`.
        let image_type: types::ImageType =
            output::parse("image_type", &image_type.trim().to_ascii_lowercase())?;
        let body = types::RunImageSynchronizeRequestInfo { image_type };
        let mut op =
            output::in_project(client, client.operations().run_image_synchronize()).await?;
        op = op.body(body);
        if let Some(eps) = eps {
            op = op.enterprise_project_id(eps);
        }
        if let Some(region) = region {
            op = op.region(region);
        }
        return Ok(output::send(client, op, args.dry_run).await);
    }
    let body = registries(args.registries.as_deref().unwrap_or("all"))?;
    let mut op =
        output::in_project(client, client.operations().create_image_synchronize_task()).await?;
    op = op.body(body);
    if let Some(eps) = eps {
        op = op.enterprise_project_id(eps);
    }
    if let Some(region) = region {
        op = op.region(region);
    }
    let code = output::send(client, op, args.dry_run).await;
    if code == ExitCode::SUCCESS && !args.dry_run {
        eprintln!("task created: `hss-image-sync tasks list --task-type manualSync` follows it");
    }
    Ok(code)
}

/// `all`, or `ID:TYPE[,ID:TYPE...]`, as the create request's body.
fn registries(text: &str) -> Result<CreateImageSynchronizeTaskRequestInfo, ExitCode> {
    if text == "all" {
        return Ok(CreateImageSynchronizeTaskRequestInfo {
            sync_all_registries: true,
            registry_info: Vec::new(),
        });
    }
    let mut registry_info = Vec::new();
    for item in text.split(',') {
        let Some((id, kind)) = item.split_once(':') else {
            return Err(report(&Error::InvalidInput {
                field: "registries",
                rule: "must be `all` or ID:TYPE[,ID:TYPE...]".into(),
            }));
        };
        registry_info.push(RegistryRef {
            registry_id: output::parse("registry_id", id)?,
            registry_type: output::parse("registry_type", kind)?,
        });
    }
    Ok(CreateImageSynchronizeTaskRequestInfo {
        sync_all_registries: false,
        registry_info,
    })
}
