//! `hss-image-sync registries list`: the registries connected to HSS (`ListRegistry`), where
//! `sync --registries` finds IDs and types.

use crate::output::{self, Maybe};
use clap::{Args, Subcommand};
use hss_image_sync::types::{ListRegistryRegistryName, ListRegistryRegistryType};
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
    registry_type: Option<ListRegistryRegistryType>,
    /// Registry name.
    #[arg(long)]
    name: Option<ListRegistryRegistryName>,
    #[command(flatten)]
    list: output::ListOptions,
}

pub async fn run(command: RegistriesCommand) -> Result<ExitCode, ExitCode> {
    let RegistriesCommand::List(mut args) = command;
    let (_emulator, client) = args.list.connection.connect().await?;
    let op = (client.operations().list_registry())
        .maybe(args.registry_type, |op, kind| op.registry_type(kind))
        .maybe(args.name, |op, name| op.registry_name(name));
    Ok(output::list(&client, op, args.list.dry_run).await)
}
