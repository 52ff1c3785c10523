//! Lenient on what we receive: every answer model of the spec decodes what a server may send
//! beyond the documentation: no field at all, `null` where a value was documented, strings far
//! past their documented length (with escapes, control characters and non-ASCII), new status
//! and type values, integers at the ends of their range, and fields the spec does not know.
//! (`build.rs` keeps constraints out of response schemas; this checks what the models do.)

use hss_image_sync::types::{
    ListAssociateRegistriesResponse, ListImageScanTaskResponse, ListRegistryResponse,
    RunImageSynchronizeResponse,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A string 40 times a documented 256 characters, with what a terminal or a parser may trip on.
fn long() -> String {
    "é\u{1b}[31m\"\\\n\t名".repeat(10_240 / 10)
}

fn decode<T: DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value}"))
}

#[test]
fn every_answer_decodes_from_an_empty_object_and_from_nulls() {
    for empty in [json!({}), json!({"data_list": null, "total_num": null})] {
        let tasks: ListImageScanTaskResponse = decode(&empty);
        assert!(tasks.data_list.is_empty() && tasks.total_num.is_none());
        let registries: ListAssociateRegistriesResponse = decode(&empty);
        assert!(registries.data_list.is_empty());
        let listed: ListRegistryResponse = decode(&empty);
        assert!(listed.data_list.is_empty());
    }
    let run: RunImageSynchronizeResponse =
        decode(&json!({"error_code": null, "error_description": null}));
    assert_eq!(run.error_code, None);
    let task: ListImageScanTaskResponse = decode(&json!({"data_list": [{"failed_images": null}]}));
    assert!(task.data_list[0].failed_images.is_empty());
}

#[test]
fn a_task_listing_keeps_what_the_documentation_does_not_promise() {
    let text = long();
    let answer = json!({
        "data_list": [{
            "task_id": text, "task_name": text, "policy_id": text,
            "task_type": "nightlySync", "image_type": "a-new-kind", "sync_task_type": text,
            "begin_time": i64::MIN, "end_time": i64::MAX, "remain_min": -1,
            "task_status": -99, "scan_scope": i64::MAX, "rate_limit": 0, "is_all": true,
            "failed_num": i64::MAX, "success_num": 0, "total_num": 1, "risky_num": -5,
            "failed_reason": text,
            "failed_images": [{
                "id": i64::MIN, "registry_id": text, "registry_name": text,
                "image_name": text, "image_version": text, "namespace": text,
                "registry_type": "Quay", "failed_reason": text, "new_field": [1, 2, 3]
            }],
            "a_field_of_next_year": {"nested": true}
        }],
        "total_num": 1_000_000_000_000i64,
        "request_id": "extra"
    });
    let tasks: ListImageScanTaskResponse = decode(&answer);
    let task = &tasks.data_list[0];
    assert_eq!(task.task_name.as_deref(), Some(text.as_str()));
    assert_eq!(task.task_type.as_deref(), Some("nightlySync"));
    assert_eq!(task.begin_time, Some(i64::MIN));
    assert_eq!(task.task_status, Some(-99));
    assert_eq!(task.failed_images[0].registry_type.as_deref(), Some("Quay"));
    assert_eq!(
        task.failed_images[0].failed_reason.as_deref(),
        Some(text.as_str())
    );
    assert_eq!(tasks.total_num, Some(1_000_000_000_000));
}

#[test]
fn registry_listings_keep_new_types_and_statuses_and_long_names() {
    let text = long();
    let associated: ListAssociateRegistriesResponse = decode(&json!({
        "data_list": [{
            "registry_id": text, "registry_name": text, "registry_type": "Quay",
            "sync_status": "queued", "failed_reason": text, "extra": null
        }],
        "total_num": -1
    }));
    let registry = &associated.data_list[0];
    assert_eq!(registry.sync_status.as_deref(), Some("queued"));
    assert_eq!(registry.registry_name.as_deref(), Some(text.as_str()));
    assert_eq!(associated.total_num, Some(-1));

    let listed: ListRegistryResponse = decode(&json!({
        "data_list": [{
            "id": text, "registry_name": text, "registry_type": "Quay", "api_version": "v9",
            "protocol": "gopher", "registry_addr": text, "registry_username": text,
            "namespace": text, "connect_cluster_id": text, "get_scan_image_channel": "pigeon",
            "status": "degraded", "fail_reason": text, "images_num": i64::MAX,
            "latest_sync_time": 0, "registry_password": "never-documented"
        }],
        "total_num": 1
    }));
    let registry = &listed.data_list[0];
    assert_eq!(registry.registry_type.as_deref(), Some("Quay"));
    assert_eq!(registry.status.as_deref(), Some("degraded"));
    assert_eq!(registry.images_num, Some(i64::MAX));
    assert_eq!(registry.fail_reason.as_deref(), Some(text.as_str()));
}

#[test]
fn the_deprecated_answer_keeps_a_long_description_and_unknown_fields() {
    let text = long();
    let run: RunImageSynchronizeResponse = decode(&json!({
        "error_code": i64::MIN, "error_description": text, "request_id": "r", "more": {}
    }));
    assert_eq!(run.error_code, Some(i64::MIN));
    assert_eq!(run.error_description.as_deref(), Some(text.as_str()));
}
