//! The mock's side of the raw HTTP/1.1 client (`http_fuzz::wire`): form requests with an
//! account key, and a webhook receiver that answers 200.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use http_fuzz::wire::Request;

/// A form-encoded request authenticated with `key` (GETs carry the form as a query).
pub fn form(method: &str, path: &str, key: &str, form: &str) -> Request {
    let mut r = Request::new(method, path).header("Authorization", format!("Bearer {key}"));
    if method == "GET" || method == "DELETE" {
        if !form.is_empty() {
            r.target = format!("{path}?{form}");
        }
    } else {
        r = r
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form);
    }
    r
}

/// A webhook endpoint that answers 200 to everything; returns its URL.
pub async fn start_receiver() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}/webhook")
}
