//! `hss-image-sync registries list`: the registries connected to HSS (`ListRegistry`), where
//! `sync --registries` finds IDs and types.

use crate::connection::ConnectionArgs;
use crate::output;
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum RegistriesCommand {
    /// List the registries (every page).
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Registry types, comma-separated (SwrPrivate, SwrShared, SwrEnterprise, Harbor, Jfrog,
    /// Other).
    #[arg(long = "type")]
    registry_type: Option<String>,
    /// Registry name.
    #[arg(long)]
    name: Option<String>,
    /// Print the signed request of the first page and exit 0 without sending it.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

pub async fn run(command: RegistriesCommand) -> ExitCode {
    let RegistriesCommand::List(mut args) = command;
    let (_emulator, client) = match args.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let mut op = client.operations().list_registry();
    if let Some(kind) = &args.registry_type {
        match output::parse::<hss_image_sync::types::ListRegistryRegistryType>("type", kind) {
            Ok(kind) => op = op.registry_type(kind),
            Err(code) => return code,
        }
    }
    if let Some(name) = &args.name {
        match output::parse::<hss_image_sync::types::ListRegistryRegistryName>("name", name) {
            Ok(name) => op = op.registry_name(name),
            Err(code) => return code,
        }
    }
    output::list(&client, op, args.dry_run).await
}
