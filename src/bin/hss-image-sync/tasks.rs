//! `hss-image-sync tasks list|show`: image synchronization tasks (`ListImageScanTask` with
//! type `image_sync`) and a task's registries (`ListAssociateRegistries`).

use crate::connection::{ConnectionArgs, report_for};
use crate::output::{self, Maybe};
use clap::{Args, Subcommand};
use hss_image_sync::types::{ListImageScanTaskTaskId, TaskKind, TaskStatusFilter, TaskType};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List image synchronization tasks (every page), newest first as HSS answers them.
    List(ListArgs),
    /// Show a task and the registries it synchronizes, with each one's status.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// cycle, manual, autoSync or manualSync (tasks created by `sync`).
    #[arg(long)]
    task_type: Option<TaskType>,
    /// Only the task with this ID.
    #[arg(long)]
    task_id: Option<ListImageScanTaskTaskId>,
    /// scanning (running) or finished.
    #[arg(long)]
    status: Option<TaskStatusFilter>,
    #[command(flatten)]
    list: output::ListOptions,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The task's ID (`tasks list` shows it).
    task_id: String,
    /// Print the signed request of the registries' first page and exit 0 without sending it.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

pub async fn run(command: TasksCommand) -> Result<ExitCode, ExitCode> {
    match command {
        TasksCommand::List(args) => list(args).await,
        TasksCommand::Show(args) => show(args).await,
    }
}

async fn list(mut args: ListArgs) -> Result<ExitCode, ExitCode> {
    let (_emulator, client) = args.list.connection.connect().await?;
    let op = (client.operations().list_image_scan_task())
        .type_(TaskKind::ImageSync)
        .maybe(args.task_type, |op, kind| op.task_type(kind))
        .maybe(args.task_id, |op, id| op.task_id(id))
        .maybe(args.status, |op, status| op.task_status(status));
    Ok(output::list(&client, op, args.list.dry_run).await)
}

async fn show(mut args: ShowArgs) -> Result<ExitCode, ExitCode> {
    let (_emulator, client) = args.connection.connect().await?;
    let ops = client.operations();
    let task_id = output::parse::<hss_image_sync::types::ListAssociateRegistriesTaskId>(
        "task_id",
        &args.task_id,
    )?;
    let registries = ops.list_associate_registries().task_id(task_id);
    if args.dry_run {
        return Ok(output::list(&client, registries, true).await);
    }
    let task = ops
        .list_image_scan_task()
        .type_(TaskKind::ImageSync)
        .task_id(args.task_id.as_str());
    // The task and its registries, under one deadline.
    let (task, registries) = client
        .within_timeout(async {
            let task = client.send(client.in_project(task).await?).await?;
            Ok((task, output::every_item(&client, registries).await?))
        })
        .await
        .map_err(|e| report_for(&e, Some(client.credential_source())))?;
    let mut shown = serde_json::json!({
        "task": task.value.data_list.first(),
        "registries": registries,
    });
    if let serde_json::Value::Object(fields) = &mut shown {
        let target = output::target(&client, Some("list_associate_registries")).await;
        output::name_target(fields, &target);
    }
    Ok(output::print_json(&shown, task.request_id.as_deref()))
}
