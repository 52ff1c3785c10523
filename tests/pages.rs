//! Pagination and the generic call path against a scripted server on 127.0.0.1: where a walk
//! ends, what each page asks for, and the checks made before anything is sent.

mod common;

use common::{CaptureServer, Reply};
use futures_util::{StreamExt, TryStreamExt};
use hss_image_sync::types::RegistryInfo;
use hss_image_sync::{Credentials, Error, HssClient, MAX_OFFSET, PAGE_LIMIT, Response};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn client(server: &CaptureServer) -> HssClient {
    HssClient::builder()
        .endpoint(server.endpoint())
        .credentials(Credentials::new("AKAKAKAKAKAK", "SKSKSKSKSKSKSKSK").with_project_id(PROJECT))
        .build()
        .unwrap()
}

/// Every page of `ListRegistry` from `server`, each as the stream gave it.
async fn walk(server: &CaptureServer) -> Vec<Result<Response<Vec<RegistryInfo>>, Error>> {
    let client = client(server);
    let op = client
        .in_project(client.operations().list_registry())
        .await
        .unwrap();
    client.pages(op).collect().await
}

/// A `ListRegistry` page of registries `first..first + count`, and `total_num` if given.
fn page(first: usize, count: usize, total: Option<usize>) -> Reply {
    let items: Vec<String> = (first..first + count)
        .map(|i| format!(r#"{{"id":"r{i}","registry_type":"Harbor"}}"#))
        .collect();
    let total = total.map_or(String::new(), |t| format!(r#","total_num":{t}"#));
    Reply::json(
        200,
        &format!(r#"{{"data_list":[{}]{total}}}"#, items.join(",")),
    )
}

/// The `offset` and `limit` of each request the server saw.
fn offsets(server: &CaptureServer) -> Vec<(String, String)> {
    server
        .requests()
        .iter()
        .map(|r| {
            let query = r.query();
            let get = |name: &str| {
                query
                    .split('&')
                    .find_map(|p| p.strip_prefix(&format!("{name}=")))
                    .unwrap_or_default()
                    .to_owned()
            };
            (get("offset"), get("limit"))
        })
        .collect()
}

#[tokio::test]
async fn a_walk_ends_at_total_num_each_page_asking_for_the_next_offset() {
    let server = CaptureServer::start(0).await;
    server.reply_with(page(0, 2, Some(3)));
    server.reply_with(page(2, 1, Some(3)));
    server.reply_with(page(99, 5, Some(3))); // never asked for
    let client = client(&server);
    let op = client
        .in_project(client.operations().list_registry())
        .await
        .unwrap();
    let pages: Vec<_> = client.pages(op).try_collect().await.unwrap();
    let ids: Vec<_> = pages
        .iter()
        .flat_map(|p| p.value.iter().map(|r| r.id.clone().unwrap()))
        .collect();
    assert_eq!(ids, ["r0", "r1", "r2"]);
    let limit = PAGE_LIMIT.to_string();
    assert_eq!(
        offsets(&server),
        [("0".into(), limit.clone()), ("2".into(), limit)]
    );
    assert_eq!(pages[0].request_id.as_deref(), Some("req-200"));
    // Every page is a signed GET of the operation's path.
    for request in server.requests() {
        assert_eq!(request.method, "GET");
        assert_eq!(request.path(), format!("/v5/{PROJECT}/image/registries"));
        assert!(request.header("Authorization").is_some());
    }
}

#[tokio::test]
async fn without_total_num_an_empty_page_ends_the_walk() {
    let server = CaptureServer::start(0).await;
    server.reply_with(page(0, 3, None));
    server.reply_with(page(3, 0, None));
    let client = client(&server);
    let op = client
        .in_project(client.operations().list_registry())
        .await
        .unwrap();
    let pages: Vec<_> = client.pages(op).try_collect().await.unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].value.len(), 3);
    assert!(pages[1].value.is_empty());
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_server_that_repeats_a_page_ends_the_walk_with_an_error() {
    let server = CaptureServer::start(0).await;
    for _ in 0..5 {
        server.reply_with(page(0, 2, Some(100)));
    }
    let results = walk(&server).await;
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[0].is_ok());
    let Err(Error::InvalidResponse { message, .. }) = &results[1] else {
        panic!("{:?}", results[1])
    };
    assert!(message.contains("repeats an earlier one"), "{message}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_server_that_answers_two_pages_in_turn_ends_the_walk_with_an_error() {
    // A, B, A, B, ...: never the same page twice in a row, and always more to come.
    let server = CaptureServer::start(0).await;
    for n in 0..20 {
        server.reply_with(page((n % 2) * 2, 2, Some(1_000)));
    }
    let results = walk(&server).await;
    let Some(Err(Error::InvalidResponse { message, .. })) = results.last() else {
        panic!("{results:?}")
    };
    assert!(message.contains("repeats an earlier one"), "{message}");
    assert!(results[..results.len() - 1].iter().all(Result::is_ok));
    // Caught within a few pages, not at the largest offset.
    assert!(server.requests().len() <= 6, "{}", server.requests().len());
}

#[tokio::test]
async fn an_error_ends_the_walk_after_the_pages_before_it() {
    let server = CaptureServer::start(0).await;
    server.reply_with(page(0, 2, Some(10)));
    server.reply_with(Reply::json(
        403,
        r#"{"error_code":"HSS.1005","error_msg":"no permission"}"#,
    ));
    let results = walk(&server).await;
    assert_eq!(results.len(), 2);
    assert!(matches!(&results[1], Err(Error::Service(e)) if e.status == 403));
}

/// A server that claims more items than the spec lets anyone page to is walked up to the
/// largest offset, and no further.
#[tokio::test]
async fn the_walk_stops_at_the_spec_s_largest_offset() {
    let server = CaptureServer::start(0).await;
    // Pages of 20,000 items (more than asked for): 101 pages reach offset 2,020,000.
    let per_page = 20_000;
    for n in 0..=(MAX_OFFSET as usize / per_page) + 1 {
        server.reply_with(page(n * per_page, per_page, Some(usize::MAX / 2)));
    }
    let client = HssClient::builder()
        .endpoint(server.endpoint())
        .credentials(Credentials::new("AKAKAKAKAKAK", "SKSKSKSKSKSKSKSK").with_project_id(PROJECT))
        .max_response_bytes(4 << 20)
        .build()
        .unwrap();
    let op = client
        .in_project(client.operations().list_registry())
        .await
        .unwrap();
    let pages: Vec<_> = client.pages(op).try_collect().await.unwrap();
    let asked = offsets(&server);
    let last: i64 = asked.last().unwrap().0.parse().unwrap();
    assert!(last <= MAX_OFFSET, "{last}");
    assert_eq!(pages.len(), asked.len());
    assert_eq!(asked.len(), MAX_OFFSET as usize / per_page + 1);
}

/// What the generated code does not check is checked before sending, and named.
#[tokio::test]
async fn integer_ranges_and_path_segments_are_checked_before_sending() {
    let server = CaptureServer::start(0).await;
    let client = client(&server);
    let ops = client.operations();
    for (limit, ok) in [(9, false), (10, true), (200, true), (201, false)] {
        let op = ops.list_registry().project_id(PROJECT).limit(limit);
        match client.send(op).await {
            Ok(_) => assert!(ok, "{limit}"),
            Err(Error::InvalidInput { field, rule }) => {
                assert!(!ok, "{limit}");
                assert_eq!(
                    (field, rule.as_str()),
                    ("limit", "must be an integer in 10..=200")
                );
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    let op = ops
        .list_image_scan_task()
        .project_id(PROJECT)
        .type_(hss_image_sync::types::TaskKind::ImageSync);
    let err = client.send(op.clone().offset(2_000_001)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "offset",
                ..
            }
        ),
        "{err:?}"
    );
    let err = client.send(op.create_time(-1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "create_time",
                ..
            }
        ),
        "{err:?}"
    );
    // A required parameter left out, and a value a setter refused, are named.
    let err = client
        .send(ops.list_image_scan_task().project_id(PROJECT))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field: "type", rule } if rule == "is required"),
        "{err:?}"
    );
    let err = client
        .send(
            ops.list_registry()
                .project_id(PROJECT)
                .registry_name("n".repeat(129)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field: "registry_name", rule } if rule == "must be 1..128 characters"),
        "{err:?}"
    );
    for task_id in [".", ".."] {
        let op = ops
            .list_associate_registries()
            .project_id(PROJECT)
            .task_id(task_id);
        let err = client.send(op).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }),
            "{task_id}: {err:?}"
        );
    }
    // Only the two allowed limits reached the server.
    assert_eq!(server.requests().len(), 2);
    // A task ID with a slash is sent encoded, as the official SDK sends it.
    let op = ops
        .list_associate_registries()
        .project_id(PROJECT)
        .task_id("a/b c");
    // The server's default answer has other fields than this model: extra fields are ignored.
    let answer = client.send(op).await.unwrap();
    assert!(answer.value.data_list.is_empty());
    let sent = server.requests().pop().unwrap();
    assert_eq!(
        sent.path(),
        format!("/v5/{PROJECT}/image/image-sync/tasks/a%2Fb%20c/registries")
    );
}
