use hss_image_sync::{Credentials, HssClient, ImageType, SyncRequest};

fn main() {
    let client = HssClient::builder()
        .region("cn-north-4")
        .credentials(Credentials::new("AK", "SK").with_project_id("project"))
        .build();
    let request = SyncRequest::new(ImageType::PrivateImage);
    println!("{:?} {:?}", client.is_ok(), request.image_type());
}
