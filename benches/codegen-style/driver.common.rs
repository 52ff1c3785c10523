// Supplementary "driven" variant: every operation called once with every parameter set, its
// future boxed as `dyn Future`, so that rustc generates the code of each operation's send path
// and of the serde impls it reaches (the library alone leaves async bodies and the generic
// serde impls to the crate that uses them). Same arguments for both styles.
use crate::generated::{types, Client};
use std::{future::Future, pin::Pin};

pub type Call<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

pub struct Args {
    pub project_id: types::ProjectId,
    pub enterprise_project_id: types::EnterpriseProjectId,
    pub region: types::RegionHeader,
    pub run_body: types::RunImageSynchronizeRequestInfo,
    pub create_body: types::CreateImageSynchronizeTaskRequestInfo,
    pub create_time: i64,
    pub end_time: i64,
    pub global_image_type: types::GlobalImageType,
    pub limit: i32,
    pub offset: i32,
    pub scan_scope: i64,
    pub scan_task_id: types::ListImageScanTaskTaskId,
    pub scan_task_name: types::ListImageScanTaskTaskName,
    pub task_status: types::TaskStatusFilter,
    pub task_type: types::TaskType,
    pub task_kind: types::TaskKind,
    pub assoc_task_id: types::ListAssociateRegistriesTaskId,
    pub assoc_registry_name: types::ListAssociateRegistriesRegistryName,
    pub assoc_registry_type: types::ListAssociateRegistriesRegistryType,
    pub sync_status: types::SyncStatus,
    pub registry_addr: types::ListRegistryRegistryAddr,
    pub registry_id: types::ListRegistryRegistryId,
    pub registry_name: types::ListRegistryRegistryName,
    pub registry_type: types::ListRegistryRegistryType,
    pub registry_status: types::RegistryStatus,
}
