//! A bare hyper HTTP/1 server that reads each request's body and answers 200 with the body of
//! a successful `RunImageSynchronize`: the floor the emulator is compared with in
//! `cargo xtask bench` (same runtime shape as `hss-image-sync emulator`: two worker threads).
//!
//! ```sh
//! cargo run --release --features emulator --example bench_hyper_server -- 127.0.0.1:0
//! ```
//!
//! Prints `listening on http://ADDR`, then serves until killed.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write;

const ANSWER: &[u8] = br#"{"error_code":0,"error_description":"success"}"#;

fn main() {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("addr")
        );
        let _ = std::io::stdout().flush();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = service_fn(|request: Request<hyper::body::Incoming>| async move {
                    let _ = request.into_body().collect().await;
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("Content-Type", "application/json")
                            .body(Full::new(Bytes::from_static(ANSWER)))
                            .expect("response"),
                    )
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
