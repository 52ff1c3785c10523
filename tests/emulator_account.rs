//! The emulator as an account of many projects: IAM's listing of them (`GET /v3/auth/projects`,
//! sub-projects, `MOS`), HSS per project (own tasks, unknown and failing projects refused), the
//! gateway's throttling per access key and operation, and the per-project call counts; then the
//! `hss-image-sync emulator` flags for them. Everything on 127.0.0.1; the throttling window is
//! slid with the emulator's clock, never by sleeping.

use hss_image_sync::emulator::{
    DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY, Emulator, FAILED_PROJECT_ERROR_CODE,
    MAX_ACCOUNT_PROJECTS, MAX_PROJECTS, MOS_PROJECT_ID, ProjectCalls, RunningEmulator,
    UNKNOWN_PROJECT_ERROR_CODE, Verdict,
};
use hss_image_sync::region::REGIONS;
use hss_image_sync::signer::{self, SignableRequest};
use hss_image_sync::types::{CreateImageSynchronizeTaskRequestInfo, ImageType, TaskKind};
use hss_image_sync::{AuthToken, Error, HssClient, ServiceError};
use secrecy::SecretString;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

const HARBOR: &str = "9b2f6c1e-3d4a-4f5b-8c7d-0e1f2a3b4c03";

/// A signed IAM `GET path?query` (the demo keys) to `addr`: the status and the JSON body.
async fn iam_get(addr: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let request: SignableRequest = SignableRequest {
        method: "GET",
        host: addr,
        path,
        query: &query,
        headers: &[],
        body: b"",
    };
    let sk = SecretString::from(DEMO_SECRET_KEY);
    let signed = signer::sign(&request, DEMO_ACCESS_KEY, &sk, SystemTime::now()).unwrap();
    let headers: Vec<(String, String)> = signed
        .headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    send_raw(addr, &signed.uri, &headers).await
}

/// One `GET target` over a fresh connection: the status and the body as JSON (`Null` if not).
async fn send_raw(addr: &str, target: &str, headers: &[(String, String)]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("host") {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("answered within 30 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A client of the emulator for `project_id`, retrying nothing (a refusal is seen as it came).
fn client_for(emulator: &RunningEmulator, project_id: &str) -> HssClient {
    emulator
        .client_builder()
        .project_id(project_id)
        .no_retry()
        .build()
        .unwrap()
}

fn every_registry() -> CreateImageSynchronizeTaskRequestInfo {
    CreateImageSynchronizeTaskRequestInfo {
        sync_all_registries: true,
        registry_info: vec![],
    }
}

fn service_error(error: Error) -> ServiceError {
    match error {
        Error::Service(e) => e,
        other => panic!("not the service's refusal: {other}"),
    }
}

fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {value}"))
}

fn is_project_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn iam_lists_every_project_of_the_account_with_sub_projects_and_mos() {
    let emulator = Emulator::new().projects(40).start().await.unwrap();
    let addr = emulator.addr().to_string();
    let (status, listing) = iam_get(&addr, "/v3/auth/projects", &[]).await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing["links"]["self"], "/v3/auth/projects");
    assert!(listing["links"]["next"].is_null());
    let projects = listing["projects"].as_array().unwrap();
    // 40 projects HSS serves, and IAM's own MOS.
    assert_eq!(projects.len(), 41);
    let domain_id = text(&projects[0], "domain_id").to_owned();
    let mut by_id: BTreeMap<String, &Value> = BTreeMap::new();
    for project in projects {
        for field in [
            "id",
            "name",
            "enabled",
            "parent_id",
            "domain_id",
            "is_domain",
            "description",
            "links",
        ] {
            assert!(project.get(field).is_some(), "{field} in {project}");
        }
        assert!(is_project_id(text(project, "id")), "{project}");
        assert_eq!(text(project, "domain_id"), domain_id);
        assert_eq!(project["enabled"], true);
        assert_eq!(project["is_domain"], false);
        assert!(
            by_id
                .insert(text(project, "id").to_owned(), project)
                .is_none(),
            "an ID listed twice: {project}"
        );
    }
    let mos: Vec<&&Value> = by_id.values().filter(|p| p["name"] == "MOS").collect();
    assert_eq!(mos.len(), 1);
    assert_eq!(text(mos[0], "id"), MOS_PROJECT_ID);

    // Region projects: named after a region HSS serves, under the domain; the emulator's own
    // region's is its project.
    let regional: Vec<&&Value> = by_id
        .values()
        .filter(|p| p["name"] != "MOS" && text(p, "parent_id") == domain_id)
        .collect();
    assert_eq!(regional.len(), 30);
    let region_names: BTreeSet<&str> = regional.iter().map(|p| text(p, "name")).collect();
    assert_eq!(region_names.len(), 30, "one project per region");
    assert!(region_names.iter().all(|name| REGIONS.contains(name)));
    let own = regional.iter().find(|p| p["name"] == "cn-north-4").unwrap();
    assert_eq!(text(own, "id"), DEMO_PROJECT_ID);

    // Sub-projects: `<region>_...` under that region's project.
    let subs: Vec<&&Value> = by_id
        .values()
        .filter(|p| text(p, "parent_id") != domain_id)
        .collect();
    assert_eq!(subs.len(), 10);
    for sub in &subs {
        let parent = by_id[text(sub, "parent_id")];
        assert_eq!(text(parent, "parent_id"), domain_id, "{sub}");
        let region = text(parent, "name");
        assert!(
            text(sub, "name").starts_with(&format!("{region}_")),
            "{sub} under {parent}"
        );
    }

    // The library's list is IAM's without MOS, region included.
    let expected = emulator.account_projects();
    assert_eq!(expected.len(), 40);
    for project in &expected {
        let listed = by_id[&project.id];
        assert_eq!(text(listed, "name"), project.name);
        assert_eq!(text(listed, "parent_id"), project.parent_id);
        assert!(
            project.name == project.region
                || project.name.starts_with(&format!("{}_", project.region))
        );
    }

    // `GET /v3/projects?name=` agrees: a region's project, a sub-project by its name.
    let south = by_id.values().find(|p| p["name"] == "cn-south-1").unwrap();
    let (status, found) = iam_get(&addr, "/v3/projects", &[("name", "cn-south-1")]).await;
    assert_eq!(status, 200, "{found}");
    let found = found["projects"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], south["id"]);
    let sub_name = text(subs[0], "name");
    let (_, found) = iam_get(&addr, "/v3/projects", &[("name", sub_name)]).await;
    assert_eq!(found["projects"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["projects"][0]["id"], subs[0]["id"]);
    // A region outside the account: nothing.
    let outside = REGIONS.iter().find(|r| !region_names.contains(*r)).unwrap();
    let (_, found) = iam_get(&addr, "/v3/projects", &[("name", outside)]).await;
    assert_eq!(found["projects"].as_array().unwrap().len(), 0, "{found}");

    // Unsigned: refused. IAM's calls are counted per endpoint.
    let (status, refused) = send_raw(&addr, "/v3/auth/projects", &[]).await;
    assert_eq!((status, text(&refused, "error_code")), (401, "APIG.0301"));
    let calls = emulator.identity_calls();
    assert_eq!((calls.iam_auth_projects, calls.iam_projects), (2, 3));
}

#[tokio::test]
async fn without_an_account_iam_lists_the_emulators_project_and_hss_serves_any() {
    let emulator = Emulator::new().start().await.unwrap();
    let addr = emulator.addr().to_string();
    let (status, listing) = iam_get(&addr, "/v3/auth/projects", &[]).await;
    assert_eq!(status, 200, "{listing}");
    let projects = listing["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1, "{listing}");
    assert_eq!(projects[0]["id"], DEMO_PROJECT_ID);
    assert_eq!(projects[0]["name"], "cn-north-4");
    assert_eq!(projects[0]["parent_id"], projects[0]["domain_id"]);
    assert!(emulator.account_projects().is_empty());
    let anywhere = client_for(&emulator, "0123456789abcdef0123456789abcdef");
    anywhere.list_registry(|op| op).await.unwrap();
}

#[tokio::test]
async fn each_project_has_its_own_tasks_timing_and_failures() {
    let emulator = Emulator::new()
        .projects(8)
        .task_seconds(600)
        .fail_registry(HARBOR)
        .start()
        .await
        .unwrap();
    let projects = emulator.account_projects();
    let region = &projects[1];
    let sub = projects.iter().find(|p| p.name.contains('_')).unwrap();
    assert_eq!(sub.parent_id, projects[0].id);
    let (a, b) = (
        client_for(&emulator, &region.id),
        client_for(&emulator, &sub.id),
    );

    // Every project has the default registries.
    for client in [&a, &b] {
        let registries = client.list_registry(|op| op).await.unwrap().into_inner();
        assert_eq!(registries.total_num, Some(3));
    }
    a.create_image_synchronize_task(|op| op.body(every_registry()))
        .await
        .unwrap();
    a.create_image_synchronize_task(|op| op.body(every_registry()))
        .await
        .unwrap();
    b.create_image_synchronize_task(|op| op.body(every_registry()))
        .await
        .unwrap();
    b.run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();

    let tasks = |client: HssClient| async move {
        client
            .list_image_scan_task(|op| op.type_(TaskKind::ImageSync))
            .await
            .unwrap()
            .into_inner()
            .data_list
    };
    let (tasks_a, tasks_b) = (tasks(a.clone()).await, tasks(b.clone()).await);
    assert_eq!((tasks_a.len(), tasks_b.len()), (2, 1));
    let b_task = tasks_b[0].task_id.clone().unwrap();
    assert!(tasks_a.iter().all(|t| t.task_id.as_ref() != Some(&b_task)));
    // Running, in each project (600 s to go).
    for task in tasks_a.iter().chain(&tasks_b) {
        assert!((0..100).contains(&task.task_status.unwrap()), "{task:?}");
    }
    // One project's task is not another's.
    let err = a
        .list_associate_registries(|op| op.task_id(&*b_task))
        .await
        .unwrap_err();
    assert_eq!(service_error(err).status, 400);

    // Ten minutes later, on the emulator's clock: every task ended, the Harbor registry failed.
    emulator.advance_clock(Duration::from_secs(601));
    for task in tasks(a.clone()).await.iter().chain(&tasks(b.clone()).await) {
        assert_eq!(
            (task.task_status, task.success_num, task.failed_num),
            (Some(100), Some(2), Some(1)),
            "{task:?}"
        );
    }
    let registries = b
        .list_associate_registries(|op| op.task_id(&*b_task))
        .await
        .unwrap()
        .into_inner()
        .data_list;
    let failed: Vec<_> = registries
        .iter()
        .filter(|r| r.sync_status.as_deref() == Some("failed"))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].registry_id.as_deref(), Some(HARBOR));

    // The counts: accepted synchronizations per project; the lists are not counted.
    let calls = emulator.project_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let count = |calls: &ProjectCalls| (calls.create, calls.run);
    assert_eq!(count(&calls[&region.id]), (2, 0));
    assert_eq!(count(&calls[&sub.id]), (1, 1));
    // Every HSS exchange names its project.
    for exchange in emulator
        .exchanges()
        .iter()
        .filter(|e| e.request.target.starts_with("/v5/"))
    {
        let project = exchange.project_id.as_deref().unwrap();
        assert!(project == region.id || project == sub.id);
        assert!(
            exchange
                .log_line()
                .contains(&format!(" project={project} "))
        );
    }
}

#[tokio::test]
async fn a_project_the_account_does_not_have_is_refused() {
    let emulator = Emulator::new().projects(3).start().await.unwrap();
    let known = emulator.account_projects();
    assert_eq!(known.len(), 3);
    let past_the_end = "acc00000000000000000000000000003";
    assert!(known.iter().all(|p| p.id != past_the_end));
    for project in [
        past_the_end,
        MOS_PROJECT_ID,
        "0123456789abcdef0123456789abcdef",
    ] {
        let client = client_for(&emulator, project);
        let refused = service_error(
            client
                .create_image_synchronize_task(|op| op.body(every_registry()))
                .await
                .unwrap_err(),
        );
        assert_eq!(refused.status, 403, "{project}");
        assert_eq!(refused.error_code, UNKNOWN_PROJECT_ERROR_CODE);
        assert!(
            refused.error_msg.contains("project_id") && refused.error_msg.contains(project),
            "{}",
            refused.error_msg
        );
        let err = client.list_registry(|op| op).await.unwrap_err();
        assert!(!err.is_retryable(), "{err}");
    }
    // Nothing was kept for them; the account's projects are served.
    assert!(emulator.project_calls().is_empty());
    assert!(emulator.state().tasks.is_empty());
    for project in &known {
        client_for(&emulator, &project.id)
            .create_image_synchronize_task(|op| op.body(every_registry()))
            .await
            .unwrap();
    }
    assert_eq!(emulator.project_calls().len(), 3);
}

#[tokio::test]
async fn a_failing_project_fails_every_call_and_only_its_own() {
    let emulator = Emulator::new().projects(4).start().await.unwrap();
    let projects = emulator.account_projects();
    let failing = projects[2].id.clone();
    drop(emulator);
    let emulator = Emulator::new()
        .projects(4)
        .fail_project(&failing)
        .start()
        .await
        .unwrap();
    // IAM still lists it.
    let (_, listing) = iam_get(&emulator.addr().to_string(), "/v3/auth/projects", &[]).await;
    assert!(
        listing["projects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == failing.as_str())
    );
    let client = client_for(&emulator, &failing);
    let errors = [
        client
            .create_image_synchronize_task(|op| op.body(every_registry()))
            .await
            .unwrap_err(),
        client
            .run_image_synchronize(ImageType::PrivateImage, |op| op)
            .await
            .unwrap_err(),
        client.list_registry(|op| op).await.unwrap_err(),
        client
            .list_image_scan_task(|op| op.type_(TaskKind::ImageSync))
            .await
            .unwrap_err(),
        client
            .list_associate_registries(|op| op.task_id("some-task"))
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert!(!err.is_retryable(), "{err}");
        let refused = service_error(err);
        assert_eq!(
            (refused.status, refused.error_code.as_str()),
            (403, FAILED_PROJECT_ERROR_CODE)
        );
        assert!(refused.error_msg.contains("not enabled"), "{refused:?}");
    }
    // A retrying client does not retry it either.
    let retrying = emulator
        .client_builder()
        .project_id(&failing)
        .build()
        .unwrap();
    let refused = service_error(retrying.list_registry(|op| op).await.unwrap_err());
    assert_eq!(refused.attempts, 1);
    // The others are served.
    for project in projects.iter().filter(|p| p.id != failing) {
        client_for(&emulator, &project.id)
            .create_image_synchronize_task(|op| op.body(every_registry()))
            .await
            .unwrap();
    }
    let calls = emulator.project_calls();
    assert_eq!(calls.len(), 3);
    assert!(!calls.contains_key(&failing));

    // Without an account too.
    let emulator = Emulator::new()
        .fail_project(DEMO_PROJECT_ID)
        .start()
        .await
        .unwrap();
    let err = emulator
        .client_builder()
        .no_retry()
        .build()
        .unwrap()
        .list_registry(|op| op)
        .await
        .unwrap_err();
    assert_eq!(service_error(err).error_code, FAILED_PROJECT_ERROR_CODE);
}

#[tokio::test]
async fn throttling_past_n_calls_a_minute_per_access_key_and_operation() {
    let emulator = Emulator::new()
        .projects(2)
        .rate_limit(3)
        .auth_token("emulator-iam-token-for-throttling")
        .start()
        .await
        .unwrap();
    let projects = emulator.account_projects();
    let client = client_for(&emulator, &projects[0].id);
    for _ in 0..3 {
        client.list_registry(|op| op).await.unwrap();
    }
    let throttled = service_error(client.list_registry(|op| op).await.unwrap_err());
    assert_eq!(
        (throttled.status, throttled.error_code.as_str()),
        (429, "APIG.0308")
    );
    assert!(
        throttled.error_msg.contains("throttl"),
        "{}",
        throttled.error_msg
    );
    assert_eq!(throttled.retry_after, None, "no Retry-After");
    // The same key in another project of the account: the same budget.
    let other_project = client_for(&emulator, &projects[1].id);
    let err = other_project.list_registry(|op| op).await.unwrap_err();
    assert_eq!(service_error(err).status, 429);

    // Another operation, or another caller (the IAM token): a budget of their own.
    for _ in 0..3 {
        client
            .list_image_scan_task(|op| op.type_(TaskKind::ImageSync))
            .await
            .unwrap();
    }
    let by_token = emulator
        .client_builder()
        .project_id(&projects[0].id)
        .auth_token(AuthToken::new("emulator-iam-token-for-throttling"))
        .no_retry()
        .build()
        .unwrap();
    for _ in 0..3 {
        by_token.list_registry(|op| op).await.unwrap();
    }
    assert_eq!(
        service_error(by_token.list_registry(|op| op).await.unwrap_err()).status,
        429
    );
    // IAM is not throttled.
    let addr = emulator.addr().to_string();
    for _ in 0..5 {
        assert_eq!(iam_get(&addr, "/v3/auth/projects", &[]).await.0, 200);
    }

    // Half a minute on: still within the window (refused calls did not count, but the first
    // three still do). A minute on: served again.
    emulator.advance_clock(Duration::from_secs(30));
    assert_eq!(
        service_error(client.list_registry(|op| op).await.unwrap_err()).status,
        429
    );
    emulator.advance_clock(Duration::from_secs(31));
    for _ in 0..3 {
        client.list_registry(|op| op).await.unwrap();
    }
    let err = client.list_registry(|op| op).await.unwrap_err();
    assert_eq!(service_error(err).status, 429);

    // A throttled synchronization synchronized nothing.
    for _ in 0..3 {
        client
            .create_image_synchronize_task(|op| op.body(every_registry()))
            .await
            .unwrap();
    }
    let err = client
        .create_image_synchronize_task(|op| op.body(every_registry()))
        .await
        .unwrap_err();
    assert_eq!(service_error(err).status, 429);
    assert_eq!(emulator.project_calls()[&projects[0].id].create, 3);
    let last = emulator.exchanges().pop().unwrap();
    assert_eq!(
        (last.status, last.verdict, last.project_id.as_deref()),
        (429, Verdict::Rejected, Some(projects[0].id.as_str()))
    );
}

#[tokio::test]
async fn throttling_over_a_shorter_window() {
    let emulator = Emulator::new()
        .rate_limit_per(1, Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let client = client_for(&emulator, DEMO_PROJECT_ID);
    client.list_registry(|op| op).await.unwrap();
    let throttled = service_error(client.list_registry(|op| op).await.unwrap_err());
    assert_eq!(throttled.status, 429);
    assert!(
        throttled.error_msg.contains("limit:1, time:30 seconds"),
        "{}",
        throttled.error_msg
    );
    emulator.advance_clock(Duration::from_secs(30));
    client.list_registry(|op| op).await.unwrap();
}

#[tokio::test]
async fn the_account_stays_within_its_bounds() {
    // Clamped to 1..=MAX_ACCOUNT_PROJECTS.
    let none = Emulator::new().projects(0).start().await.unwrap();
    assert_eq!(none.account_projects().len(), 1);
    let emulator = Emulator::new()
        .projects(MAX_ACCOUNT_PROJECTS + 1)
        .task_seconds(0)
        .start()
        .await
        .unwrap();
    let projects = emulator.account_projects();
    assert_eq!(projects.len(), MAX_ACCOUNT_PROJECTS);
    assert!(projects.iter().all(|p| is_project_id(&p.id)));
    let (status, listing) = iam_get(&emulator.addr().to_string(), "/v3/auth/projects", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        listing["projects"].as_array().unwrap().len(),
        MAX_ACCOUNT_PROJECTS + 1
    );
    // More projects than MAX_PROJECTS keep their state: none is evicted for another.
    let client = emulator.client_builder().build().unwrap();
    let targets: Vec<String> = projects
        .iter()
        .step_by(MAX_ACCOUNT_PROJECTS / (MAX_PROJECTS + 1))
        .map(|p| p.id.clone())
        .collect();
    assert!(targets.len() > MAX_PROJECTS);
    let mut calls = tokio::task::JoinSet::new();
    for chunk in targets.chunks(targets.len().div_ceil(8)) {
        let (client, chunk) = (client.clone(), chunk.to_vec());
        calls.spawn(async move {
            for project in chunk {
                let op = client
                    .operations()
                    .create_image_synchronize_task()
                    .project_id(project.as_str())
                    .body(every_registry());
                client.send(op).await.unwrap();
            }
        });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap();
    }
    let counted = emulator.project_calls();
    assert_eq!(counted.len(), targets.len());
    assert!(counted.values().all(|c| c.create == 1));
    assert_eq!(emulator.state().tasks.len(), targets.len());
}

/// The `hss-image-sync emulator` flags, on the process.
#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::io::BufRead;
    use std::process::{Child, Command, Stdio};

    const BIN: &str = env!("CARGO_BIN_EXE_hss-image-sync");

    fn emulator_command(args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args);
        command
    }

    #[test]
    fn bad_account_flags_are_refused_naming_the_flag_and_the_rule() {
        for (args, flag, rule) in [
            (vec!["--projects", "0"], "--projects", "1..=10000"),
            (vec!["--projects", "10001"], "--projects", "1..=10000"),
            (vec!["--projects", "many"], "--projects", "whole number"),
            (vec!["--rate-limit", "0"], "--rate-limit", "N/min"),
            (vec!["--rate-limit", "5/h"], "--rate-limit", "N/min"),
            (vec!["--rate-limit", "/min"], "--rate-limit", "N/min"),
            (vec!["--rate-limit", "five"], "--rate-limit", "1..=10000"),
            (
                vec!["--rate-limit", "10001/min"],
                "--rate-limit",
                "1..=10000",
            ),
            (vec!["--fail-project"], "--fail-project", "value"),
        ] {
            let out = emulator_command(&args)
                .stdout(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(flag) && stderr.contains(rule),
                "{args:?}: {stderr}"
            );
        }
        // The forms accepted: the process starts (Process::start reads its listening line).
        for limit in ["7", "7/min", "7/s", "10000/min"] {
            drop(Process::start(&[
                "--projects",
                "10000",
                "--rate-limit",
                limit,
            ]));
        }
    }

    /// A running emulator process, killed when dropped, and its log lines as they come.
    struct Process {
        child: Child,
        addr: String,
        lines: std::sync::mpsc::Receiver<String>,
    }

    impl Process {
        fn start(args: &[&str]) -> Self {
            let mut child = emulator_command(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut first = String::new();
            stdout.read_line(&mut first).unwrap();
            let addr = first
                .trim()
                .strip_prefix("listening on http://")
                .unwrap_or_else(|| panic!("first line: {first:?}"))
                .to_owned();
            let (send, lines) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in stdout.lines() {
                    let Ok(line) = line else { return };
                    if send.send(line).is_err() {
                        return;
                    }
                }
            });
            Process { child, addr, lines }
        }

        /// The next `n` log lines (each within 10 s).
        fn log_lines(&self, n: usize) -> Vec<String> {
            (0..n)
                .map(|i| {
                    self.lines
                        .recv_timeout(Duration::from_secs(10))
                        .unwrap_or_else(|_| panic!("log line {i} of {n} not written"))
                })
                .collect()
        }
    }

    impl Drop for Process {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[test]
    fn an_account_with_a_failing_project_and_throttling_logged_per_project() {
        let failing = "acc00000000000000000000000000002";
        let process = Process::start(&[
            "--projects",
            "3",
            "--fail-project",
            failing,
            "--rate-limit",
            "2/min",
        ]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (status, listing) = iam_get(&process.addr, "/v3/auth/projects", &[]).await;
            assert_eq!(status, 200, "{listing}");
            let ids: Vec<&str> = listing["projects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| text(p, "id"))
                .collect();
            assert_eq!(ids.len(), 4, "three projects and MOS: {ids:?}");
            assert!(ids.contains(&DEMO_PROJECT_ID) && ids.contains(&failing));

            let client = |project: &str| {
                HssClient::builder()
                    .endpoint(format!("http://{}", process.addr))
                    .credentials(hss_image_sync::Credentials::new(
                        DEMO_ACCESS_KEY,
                        DEMO_SECRET_KEY,
                    ))
                    .project_id(project)
                    .no_retry()
                    .build()
                    .unwrap()
            };
            let own = client(DEMO_PROJECT_ID);
            for _ in 0..2 {
                own.create_image_synchronize_task(|op| op.body(every_registry()))
                    .await
                    .unwrap();
            }
            let err = own
                .create_image_synchronize_task(|op| op.body(every_registry()))
                .await
                .unwrap_err();
            assert_eq!(service_error(err).error_code, "APIG.0308");
            let err = client(failing).list_registry(|op| op).await.unwrap_err();
            assert_eq!(service_error(err).error_code, FAILED_PROJECT_ERROR_CODE);
            // The synchronizations per project, for a test that drives the process.
            let (status, calls) = send_raw(&process.addr, "/_emulator/calls", &[]).await;
            assert_eq!(status, 200);
            assert_eq!(
                calls,
                serde_json::json!({DEMO_PROJECT_ID: {"create": 2, "run": 0}})
            );
        });
        // One line per request: IAM's without a project, then each HSS call with its own (the
        // admin request is not logged).
        let lines = process.log_lines(5);
        assert!(lines[0].contains(" project=- "), "{lines:#?}");
        let own = format!(" project={DEMO_PROJECT_ID} ");
        assert_eq!(
            lines[1..4]
                .iter()
                .filter(|l| l.contains(&own) && l.contains("/image/image-sync/tasks"))
                .count(),
            3,
            "{lines:#?}"
        );
        assert!(lines[3].contains(" -> 429 ") && lines[3].contains("code=APIG.0308"));
        assert!(
            lines[4].contains(&format!(" project={failing} "))
                && lines[4].contains(" -> 403 ")
                && lines[4].contains(FAILED_PROJECT_ERROR_CODE),
            "{lines:#?}"
        );
    }
}
