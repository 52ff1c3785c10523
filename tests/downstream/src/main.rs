use hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo;
use hss_image_sync::{Credentials, HssClient};

fn main() {
    let client = HssClient::builder()
        .region("cn-north-4")
        .credentials(Credentials::new("AK", "SK").with_project_id("project"))
        .build()
        .expect("a valid configuration");
    let body = CreateImageSynchronizeTaskRequestInfo {
        sync_all_registries: true,
        registry_info: Vec::new(),
    };
    let request = client
        .operations()
        .create_image_synchronize_task()
        .project_id("project")
        .body(body);
    println!("{request:?}");
}
