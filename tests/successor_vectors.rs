//! Replays the requests Huawei's official Python SDK sends for the four successor operations
//! (tests/vectors/successor/, recorded by tests/oracle/record_successor_vectors.py): our client,
//! given the same inputs and the same clock, on the same port, must send the same method, path,
//! sorted query, body bytes and signed headers (names and values), hence the same Authorization.

mod common;

use common::{CaptureServer, Captured, Reply};
use hss_image_sync::signer::sdk_date;
use hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo;
use hss_image_sync::{Credentials, Error, HssClient};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The port the recorder's capture server used (SUCCESSOR_CASE_PORT in
/// tests/oracle/record_successor_vectors.py), so that our client signs the same `Host`.
const SUCCESSOR_CASE_PORT: u16 = 28518;

#[derive(Deserialize)]
struct Vector {
    name: String,
    operation: String,
    time: String,
    inputs: Inputs,
    expected: Expected,
}

#[derive(Deserialize)]
struct Inputs {
    ak: String,
    sk: String,
    project_id: String,
    security_token: Option<String>,
    /// The operation's parameters, named as the SDK's request models name them.
    params: Map<String, Value>,
    body: Option<Value>,
}

#[derive(Deserialize)]
struct Expected {
    method: String,
    path: String,
    /// `key=value` as sent (percent-encoded), sorted.
    query: Vec<String>,
    body: String,
    /// Lowercase names, in `SignedHeaders` order, with the values as sent.
    signed_headers: Vec<(String, String)>,
    authorization: String,
}

/// Headers sent besides the signed ones: by the SDK's HTTP stack (`Accept`, `Accept-Encoding`,
/// `Connection`), and `Authorization` and `Content-Length`.
const UNSIGNED_HEADERS: [&str; 5] = [
    "accept",
    "accept-encoding",
    "connection",
    "authorization",
    "content-length",
];

fn vectors() -> Vec<(PathBuf, Vector)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/successor");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let vector =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, vector)
        })
        .collect()
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"))
}

fn int(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("{value} is not an integer"))
}

/// Sends the vector's operation with its inputs through `client`.
async fn send(client: &HssClient, v: &Vector) -> Result<(), Error> {
    let ops = client.operations();
    let project = v.inputs.project_id.as_str();
    let params = &v.inputs.params;
    let unknown = |name: &str| -> ! { panic!("{}: unknown parameter {name}", v.name) };
    match v.operation.as_str() {
        "create_image_synchronize_task" => {
            let mut op = ops.create_image_synchronize_task().project_id(project);
            for (name, value) in params {
                op = match name.as_str() {
                    "enterprise_project_id" => op.enterprise_project_id(text(value)),
                    "region" => op.region(text(value)),
                    _ => unknown(name),
                };
            }
            let body: CreateImageSynchronizeTaskRequestInfo =
                serde_json::from_value(v.inputs.body.clone().expect("a body")).unwrap();
            client.send(op.body(body)).await.map(drop)
        }
        "list_image_scan_task" => {
            let mut op = ops.list_image_scan_task().project_id(project);
            for (name, value) in params {
                op = match name.as_str() {
                    "enterprise_project_id" => op.enterprise_project_id(text(value)),
                    "type" => op.type_(text(value)),
                    "task_type" => op.task_type(text(value)),
                    "task_name" => op.task_name(text(value)),
                    "task_id" => op.task_id(text(value)),
                    "task_status" => op.task_status(text(value)),
                    "global_image_type" => op.global_image_type(text(value)),
                    "create_time" => op.create_time(int(value)),
                    "end_time" => op.end_time(int(value)),
                    "scan_scope" => op.scan_scope(int(value)),
                    "offset" => op.offset(int(value)),
                    "limit" => op.limit(int(value)),
                    _ => unknown(name),
                };
            }
            client.send(op).await.map(drop)
        }
        "list_associate_registries" => {
            let mut op = ops.list_associate_registries().project_id(project);
            for (name, value) in params {
                op = match name.as_str() {
                    "enterprise_project_id" => op.enterprise_project_id(text(value)),
                    "task_id" => op.task_id(text(value)),
                    "registry_name" => op.registry_name(text(value)),
                    "registry_type" => op.registry_type(text(value)),
                    "sync_status" => op.sync_status(text(value)),
                    "offset" => op.offset(int(value)),
                    "limit" => op.limit(int(value)),
                    _ => unknown(name),
                };
            }
            client.send(op).await.map(drop)
        }
        "list_registry" => {
            let mut op = ops.list_registry().project_id(project);
            for (name, value) in params {
                op = match name.as_str() {
                    "enterprise_project_id" => op.enterprise_project_id(text(value)),
                    "registry_name" => op.registry_name(text(value)),
                    "registry_id" => op.registry_id(text(value)),
                    "registry_type" => op.registry_type(text(value)),
                    "registry_addr" => op.registry_addr(text(value)),
                    "status" => op.status(text(value)),
                    "offset" => op.offset(int(value)),
                    "limit" => op.limit(int(value)),
                    _ => unknown(name),
                };
            }
            client.send(op).await.map(drop)
        }
        other => panic!("{}: unknown operation {other}", v.name),
    }
}

/// The `SignedHeaders` list of an Authorization value.
fn signed_header_names(authorization: &str) -> Vec<String> {
    authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_default()
        .split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn sorted_query(target: &Captured) -> Vec<String> {
    let mut items: Vec<String> = target
        .query()
        .split('&')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    items.sort();
    items
}

/// Where our request differs from the SDK's: one line per difference.
fn differences(v: &Vector, ours: &Captured) -> Vec<String> {
    let e = &v.expected;
    let mut out = Vec::new();
    let mut differ = |what: &str, sdk: &dyn std::fmt::Debug, ours: &dyn std::fmt::Debug| {
        let (sdk, ours) = (format!("{sdk:?}"), format!("{ours:?}"));
        if sdk != ours {
            out.push(format!("{what}: SDK {sdk}, ours {ours}"));
        }
    };
    differ("method", &e.method, &ours.method);
    differ("path", &e.path, &ours.path());
    differ("sorted query", &e.query, &sorted_query(ours));
    // Lossy text shows any byte that is not UTF-8 as U+FFFD, which the SDK's text lacks.
    differ("body", &e.body, &String::from_utf8_lossy(&ours.body));
    let authorization = ours.header("Authorization").unwrap_or_default();
    let sdk_names: Vec<String> = e.signed_headers.iter().map(|(n, _)| n.clone()).collect();
    differ(
        "signed headers",
        &sdk_names,
        &signed_header_names(authorization),
    );
    for (name, value) in &e.signed_headers {
        differ(
            &format!("header {name}"),
            &Some(value.as_str()),
            &ours.header(name),
        );
    }
    differ(
        "Content-Length",
        &e.body.len().to_string(),
        &ours.header("Content-Length").unwrap_or("0"),
    );
    differ("Authorization", &e.authorization, &authorization);
    for (name, _) in &ours.headers {
        let lower = name.to_ascii_lowercase();
        let known = UNSIGNED_HEADERS.contains(&lower.as_str())
            || e.signed_headers.iter().any(|(n, _)| *n == lower);
        if !known {
            out.push(format!("we send {name}, which the SDK does not"));
        }
    }
    out
}

/// Every vector with the request our client sent for it, replayed once per process (both tests
/// read it; the port is fixed, so they cannot each serve on it).
fn replayed() -> &'static [(Vector, Captured)] {
    static REPLAYED: OnceLock<Vec<(Vector, Captured)>> = OnceLock::new();
    REPLAYED.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(replay())
    })
}

/// Sends every vector's request through a client built from its inputs, against a capture
/// server on the recorder's port; each request as it arrived, with its vector.
async fn replay() -> Vec<(Vector, Captured)> {
    let server = CaptureServer::start(SUCCESSOR_CASE_PORT).await;
    let vectors = vectors();
    assert!(vectors.len() >= 12, "only {} vectors", vectors.len());
    let mut out = Vec::new();
    for (path, v) in vectors {
        let time = sdk_date::parse(&v.time).expect("vector time");
        let user_agent = v
            .expected
            .signed_headers
            .iter()
            .find(|(n, _)| n == "user-agent")
            .map(|(_, value)| value.clone())
            .unwrap();
        let mut credentials = Credentials::new(&v.inputs.ak, &v.inputs.sk);
        if let Some(token) = &v.inputs.security_token {
            credentials = credentials.with_security_token(token);
        }
        let client = HssClient::builder()
            .endpoint(server.endpoint())
            .credentials(credentials)
            .user_agent(user_agent)
            .time_source(move || time)
            .build()
            .unwrap();
        server.reply_with(if v.expected.method == "GET" {
            Reply::json(200, r#"{"data_list":[],"total_num":0}"#)
        } else {
            Reply {
                status: 200,
                headers: vec![("X-Request-Id".into(), "req-200".into())],
                body: Vec::new(),
            }
        });
        let before = server.requests().len();
        send(&client, &v)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let requests = server.requests();
        assert_eq!(requests.len(), before + 1, "{}: one request", v.name);
        let ours = requests[before].clone();
        out.push((v, ours));
    }
    out
}

/// Everything the SDK sends, byte for byte, the signature included (the SDK sends and signs
/// `Content-Type: application/json` on a GET too, and a body's keys in the spec's order), for
/// every case of the four operations.
#[test]
fn successor_requests_match_the_official_sdk() {
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (v, ours) in replayed() {
        seen.insert(v.operation.as_str());
        let diffs = differences(v, ours);
        if !diffs.is_empty() {
            failures.push(format!("{}:\n  {}", v.name, diffs.join("\n  ")));
        }
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        failures.is_empty(),
        "{} case(s) differ from the SDK:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
