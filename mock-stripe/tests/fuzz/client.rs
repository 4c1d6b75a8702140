//! A raw HTTP/1.1 client (any method, any bytes in the target and headers, one connection
//! per request) and a webhook receiver that answers 200.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as it goes on the wire (`Host`, `Connection: close` and `Content-Length`
/// are added).
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A form-encoded request authenticated with `key` (GETs carry the form as a query).
    pub fn form(method: &str, path: &str, key: &str, form: &str) -> Request {
        let mut r = Request::new(method, path);
        r.headers
            .push(("Authorization".into(), format!("Bearer {key}").into_bytes()));
        if method == "GET" || method == "DELETE" {
            if !form.is_empty() {
                r.target = format!("{path}?{form}");
            }
        } else {
            r.headers.push((
                "Content-Type".into(),
                b"application/x-www-form-urlencoded".to_vec(),
            ));
            r.body = form.as_bytes().to_vec();
        }
        r
    }

    /// The path the server routes on.
    pub fn path(&self) -> String {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
            .to_string()
    }

    /// The target as a failure message shows it (cut when long).
    pub fn shown_target(&self) -> String {
        let t: String = self.target.chars().take(300).collect();
        if t.len() < self.target.len() {
            format!("{t}… ({} bytes)", self.target.len())
        } else {
            t
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 256);
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !self.body.is_empty() || self.method == "POST" {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// An answer, parsed loosely.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn summary(&self) -> String {
        let body: String = self.text().chars().take(400).collect();
        format!("{} {:?} {body}", self.status, self.content_type())
    }
}

/// Parses what the server sent on a `Connection: close` exchange.
pub fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    if raw.is_empty() {
        return Err("the connection closed without an answer".into());
    }
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(format!(
            "an incomplete answer: {:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(200)])
        ));
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {status_line:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    // Only the first answer (a pipelined request's follows it).
    if let Some(len) = reply
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        reply.body.truncate(len);
    }
    Ok(reply)
}

/// Whether `raw` holds a whole answer with a `Content-Length`.
fn answer_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    parse_reply(raw).is_ok_and(|r| {
        r.header("content-length")
            .and_then(|l| l.parse::<usize>().ok())
            .is_some_and(|l| raw.len() - end - 4 >= l)
    })
}

/// Writes `raw`, reads until the server closes, within `deadline`.
pub async fn exchange(addr: SocketAddr, raw: &[u8], deadline: Duration) -> Result<Reply, String> {
    let work = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        // The server may answer (and close) before reading everything, e.g. a 413.
        let _ = stream.write_all(raw).await;
        // Until the server closes, or one whole answer is in (a kept-alive connection).
        let mut answer = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
                // A reset after a complete answer (unread request bytes) still counts.
                Err(_) if !answer.is_empty() => break,
                Err(e) => return Err(format!("read: {e}")),
            }
            if answer_complete(&answer) {
                break;
            }
        }
        parse_reply(&answer)
    };
    tokio::time::timeout(deadline, work)
        .await
        .map_err(|_| format!("no answer within {deadline:?} (a stall)"))?
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
