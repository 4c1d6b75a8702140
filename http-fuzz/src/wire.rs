//! A raw HTTP/1.1 client: any method, any bytes in the target, headers and body, one
//! connection per request, so a fuzzer can send what browsers and HTTP libraries never do.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request as it goes on the wire (`Host`, `Connection: close` and, for a body or a
/// POST, `Content-Length` are added).
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
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header (any bytes in the value).
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Request {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The path the server routes on (without the query).
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The target as a failure message shows it (cut when long).
    pub fn shown_target(&self) -> String {
        cut(&self.target, 300)
    }

    /// The request as a failure message shows it: long parts cut.
    pub fn shown(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {}", cut(&String::from_utf8_lossy(v), 200)))
            .collect();
        format!(
            "{} {} {headers:?} body {:?} ({} bytes)",
            self.method,
            cut(&self.target, 300),
            cut(&String::from_utf8_lossy(&self.body), 300),
            self.body.len()
        )
    }

    /// The bytes sent for this request.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 512);
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

/// The first `max` characters of `text`, marked when cut: failure messages stay readable
/// when a case holds megabytes.
pub fn cut(text: &str, max: usize) -> String {
    let shown: String = text.chars().take(max).collect();
    if shown.len() < text.len() {
        format!("{shown}… ({} bytes)", text.len())
    } else {
        shown
    }
}

/// An answer, parsed loosely (a fuzzer must read whatever comes back).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Type`, or "" without one.
    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The `name=value` of each `Set-Cookie`.
    pub fn cookies_set(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next()?.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    fn content_length(&self) -> Option<usize> {
        self.header("content-length")
            .and_then(|l| l.parse::<usize>().ok())
    }

    /// Status, content type and the start of the body, for failure messages.
    pub fn summary(&self) -> String {
        format!(
            "{} {:?} {}",
            self.status,
            self.content_type(),
            cut(&self.text(), 400)
        )
    }
}

/// Parses what the server sent on one connection: the first answer only (a pipelined
/// request's may follow it).
pub fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    if raw.is_empty() {
        return Err("the connection closed without an answer".into());
    }
    let Some(end) = head_end(raw) else {
        return Err(format!(
            "an incomplete answer: {:?}",
            cut(&String::from_utf8_lossy(raw), 200)
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
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    if let Some(len) = reply.content_length() {
        reply.body.truncate(len);
    }
    Ok(reply)
}

/// Where the head of an answer ends (its blank line).
fn head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Whether `raw` holds a whole answer with a `Content-Length`.
fn answer_complete(raw: &[u8]) -> bool {
    let Some(end) = head_end(raw) else {
        return false;
    };
    parse_reply(raw).is_ok_and(|r| r.content_length().is_some_and(|l| raw.len() - end - 4 >= l))
}

/// When the client stops reading an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadUntil {
    /// The server closes: an answer the server does not close after is a stall.
    Close,
    /// The server closes, or one whole answer with a `Content-Length` is in: for bytes
    /// that may keep the connection alive.
    CloseOrAnswer,
}

/// Writes `raw`, then (with `half_close`) shuts the write side so a message cut short
/// ends at once, and reads as `until` says, within `deadline`. `Err` says why there was
/// no answer; one that contains "stall" means the deadline passed.
pub async fn exchange(
    addr: SocketAddr,
    raw: &[u8],
    half_close: bool,
    until: ReadUntil,
    deadline: Duration,
) -> Result<Reply, String> {
    let work = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        // The server may answer (and close) before reading everything, e.g. a 413.
        let _ = stream.write_all(raw).await;
        if half_close {
            let _ = stream.shutdown().await;
        }
        let mut answer = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
                // A reset after an answer (unread request bytes) still counts.
                Err(_) if !answer.is_empty() => break,
                Err(e) => return Err(format!("read: {e}")),
            }
            if until == ReadUntil::CloseOrAnswer && answer_complete(&answer) {
                break;
            }
        }
        parse_reply(&answer)
    };
    tokio::time::timeout(deadline, work)
        .await
        .map_err(|_| format!("no answer within {deadline:?} (a stall)"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reply_reads_status_headers_and_the_first_body() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n";
        let reply = parse_reply(raw).unwrap();
        assert_eq!(reply.status, 404);
        assert_eq!(reply.content_type(), "text/html");
        assert_eq!(reply.header("CONTENT-LENGTH"), Some("5"));
        assert_eq!(reply.text(), "hello");
        assert!(answer_complete(raw));
        assert!(!answer_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello"
        ));
    }

    #[test]
    fn parse_reply_says_why_there_is_no_answer() {
        assert!(parse_reply(b"").unwrap_err().contains("without an answer"));
        assert!(
            parse_reply(b"HTTP/1.1 200 OK\r\n")
                .unwrap_err()
                .contains("incomplete")
        );
        assert!(
            parse_reply(b"junk\r\n\r\n")
                .unwrap_err()
                .contains("no status")
        );
    }

    #[test]
    fn cut_marks_what_it_leaves_out() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdef", 3), "abc… (6 bytes)");
        // Characters, not bytes: never inside a UTF-8 sequence.
        assert_eq!(cut("ééé", 2), "éé… (6 bytes)");
    }

    #[test]
    fn a_request_on_the_wire() {
        let req = Request::new("POST", "/a?b=1").header("X-A", "1").body("hi");
        assert_eq!(req.path(), "/a");
        assert_eq!(
            req.to_bytes(),
            b"POST /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nhi"
        );
    }
}
