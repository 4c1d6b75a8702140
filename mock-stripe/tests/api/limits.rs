//! What one client may take, each limit with what the client sees: body size (413),
//! header size and count (hyper's 431), form nesting, arrays and parameter counts (400),
//! Stripe's metadata limits on every resource that takes metadata, the request target
//! (414), slow and idle connections (cut), bodies that never finish (408), and the cap on
//! concurrent connections (503 with `Stripe-Should-Retry`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mock_stripe::{Config, MockStripe};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestMock, client, spawn_mock};

const KEY: &str = "sk_test_limits";

/// Writes `raw` on a fresh connection and reads until the server closes it (or `within`
/// passes): what came back, and whether the server closed.
async fn raw_exchange(addr: SocketAddr, raw: &[u8], within: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(raw).await;
    read_until_closed(&mut stream, within).await
}

async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&answer).into(), true),
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&answer).into(), false),
        }
    }
}

/// The status and JSON body of a raw answer.
fn parse(answer: &str) -> (u16, String, Value) {
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn addr(mock: &TestMock) -> SocketAddr {
    mock.mock.local_addr()
}

async fn start(config: Config) -> MockStripe {
    MockStripe::start(Config { port: 0, ..config })
        .await
        .unwrap()
}

async fn alive(mock: &TestMock) {
    let health = mock
        .http
        .get(mock.url("/_config/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_body_over_a_megabyte_is_a_413_in_stripes_shape() {
    let mock = spawn_mock(vec![]).await;
    let body = format!("name={}", "x".repeat(1024 * 1024));
    for path in ["/v1/customers", "/_config/settings"] {
        let resp = mock.post(KEY, path, &body).await;
        assert_eq!(resp.status(), 413, "{path}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["type"], "invalid_request_error");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("1048576 bytes"),
            "{err}"
        );
    }
    // The payment page answers a browser with a page.
    let session = mock.create_session(KEY).await;
    let resp = mock
        .http
        .post(session["url"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // Just under the limit is read (and refused for what it says, not for its size).
    let just_under = format!("name={}", "x".repeat(1024 * 1024 - 10));
    assert_eq!(
        mock.post(KEY, "/v1/customers", &just_under).await.status(),
        200
    );
    alive(&mock).await;
}

#[tokio::test]
async fn a_declared_content_length_over_the_limit_is_refused_before_reading() {
    let mock = spawn_mock(vec![]).await;
    // Headers only: a server that read the body first would wait for 10 MB forever.
    let raw = format!(
        "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000\r\n\r\n"
    );
    let started = Instant::now();
    let (answer, closed) = raw_exchange(addr(&mock), raw.as_bytes(), Duration::from_secs(5)).await;
    let (status, head, body) = parse(&answer);
    assert_eq!(status, 413, "{answer}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(closed, "the connection is closed (its body was never read)");
    assert!(started.elapsed() < Duration::from_secs(2));
    alive(&mock).await;
}

#[tokio::test]
async fn too_many_or_too_large_headers_are_a_431_and_a_closed_connection() {
    let mock = spawn_mock(vec![]).await;
    let request = |extra: &str| {
        format!("GET /_config/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n")
    };
    let lines = |n: usize| (0..n).map(|i| format!("X-H{i}: v\r\n")).collect::<String>();
    // 90 headers (92 with Host and Connection) are fine; 120 are not.
    let (answer, _) = raw_exchange(
        addr(&mock),
        request(&lines(90)).as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(parse(&answer).0, 200, "{answer}");
    let (answer, closed) = raw_exchange(
        addr(&mock),
        request(&lines(120)).as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(parse(&answer).0, 431, "{answer}");
    assert!(closed);
    // 60 KB of headers are fine; 70 KB are not.
    let big = |n: usize| format!("X-Big: {}\r\n", "v".repeat(n));
    let (answer, _) = raw_exchange(
        addr(&mock),
        request(&big(60 * 1024)).as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(parse(&answer).0, 200, "{answer}");
    let (answer, closed) = raw_exchange(
        addr(&mock),
        request(&big(70 * 1024)).as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(parse(&answer).0, 431, "{answer}");
    assert!(closed);
    alive(&mock).await;
}

#[tokio::test]
async fn a_long_request_target_is_a_414_in_stripes_shape() {
    let mock = spawn_mock(vec![]).await;
    // 16 KB of target is the limit: a list call with a long filter just fits (and is
    // refused for what it says: no email is that long).
    let fits = format!("/v1/customers?email={}", "a".repeat(16 * 1024 - 40));
    let resp = mock.get(KEY, &fits).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["param"], "email", "{err}");
    let long = format!("/v1/customers?email={}", "a".repeat(16 * 1024));
    let resp = mock.get(KEY, &long).await;
    assert_eq!(resp.status(), 414);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("16384"),
        "{err}"
    );
    // A long path too, and on the control API.
    let resp = mock
        .get(KEY, &format!("/v1/customers/cus_{}", "a".repeat(17 * 1024)))
        .await;
    assert_eq!(resp.status(), 414);
    let resp = mock
        .get(
            KEY,
            &format!("/_config/deliveries?event={}", "e".repeat(17 * 1024)),
        )
        .await;
    assert_eq!(resp.status(), 414);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
    // The payment page: a page.
    let resp = mock
        .http
        .get(mock.url(&format!("/c/pay/cs_test_x?{}", "q".repeat(17 * 1024))))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 414);
    assert!(resp.text().await.unwrap().contains("<html"));
    alive(&mock).await;
}

#[tokio::test]
async fn form_nesting_arrays_and_parameter_counts_are_bounded_over_http() {
    let mock = spawn_mock(vec![]).await;
    let refused = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), 400);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["type"], "invalid_request_error");
        err["error"].clone()
    };
    // Depth: 8 bracket levels are read (and refused as unknown); 9 are a nesting error.
    let eight = format!("metadata{}=1", "[x]".repeat(8));
    let err = refused(mock.post(KEY, "/v1/customers", &eight).await).await;
    assert!(
        !err["message"].as_str().unwrap().contains("nested"),
        "{err}"
    );
    let nine = format!("metadata{}=1", "[x]".repeat(9));
    let err = refused(mock.post(KEY, "/v1/customers", &nine).await).await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("at most 8 levels"),
        "{err}"
    );
    // Arrays: 1001 elements, appended or indexed.
    let appended: String = (0..1001).map(|i| format!("expand[]=e{i}&")).collect();
    let err = refused(mock.get(KEY, &format!("/v1/customers?{appended}")).await).await;
    assert_eq!(err["param"], "expand");
    assert!(
        err["message"].as_str().unwrap().contains("at most 1000"),
        "{err}"
    );
    let indexed: String = (0..1001)
        .map(|i| format!("preferred_locales[{i}]=en&"))
        .collect();
    let err = refused(mock.post(KEY, "/v1/customers", &indexed).await).await;
    assert_eq!(err["param"], "preferred_locales");
    // Parameters: 2001 pairs, query string and body together.
    let half: String = (0..1001).map(|i| format!("k{i}=v&")).collect();
    let err = refused(
        mock.post(KEY, &format!("/v1/customers?{half}"), &half)
            .await,
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("2000"), "{err}");
    alive(&mock).await;
}

/// `metadata` of `n` keys, each key `key_len` characters and each value `value_len`.
fn metadata(prefix: &str, n: usize, key_len: usize, value_len: usize) -> String {
    (0..n)
        .map(|i| {
            let k = format!("{i:0>width$}", width = key_len);
            format!("{prefix}[{k}]={}", "v".repeat(value_len))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Stripe's limits on `param` of a request `form_with(metadata)` makes: 50 keys, keys of
/// 40 characters, values of 500; one more of any is a 400 naming the parameter.
/// An update (`update: true`) starts each request from empty metadata.
async fn check_metadata_limits(
    mock: &TestMock,
    what: &str,
    path: &str,
    param: &str,
    update: bool,
    form_with: impl Fn(&str) -> String,
) {
    let send = |md: String| {
        let form = form_with(&md);
        async move {
            if update {
                assert_eq!(
                    mock.post(KEY, path, "metadata=").await.status(),
                    200,
                    "{path}"
                );
            }
            mock.post(KEY, path, &form).await
        }
    };
    for (md, ok) in [
        (metadata(param, 50, 40, 500), true),
        (metadata(param, 51, 2, 1), false),
        (metadata(param, 1, 41, 1), false),
        (metadata(param, 1, 2, 501), false),
    ] {
        let resp = send(md).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        if ok {
            assert_eq!(
                status, 200,
                "{what}: the limits themselves are allowed: {body}"
            );
        } else {
            assert_eq!(status, 400, "{what}: {body}");
            assert_eq!(body["error"]["type"], "invalid_request_error", "{what}");
            let p = body["error"]["param"].as_str().unwrap_or_default();
            assert!(p.starts_with(param), "{what}: param {p:?}, {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Invalid metadata"),
                "{what}: {body}"
            );
        }
    }
    // Characters, not bytes: 40 two-byte characters are a fine key.
    let accents = format!("{param}[{}]=é", "é".repeat(40));
    assert_eq!(send(accents).await.status(), 200, "{what}: unicode key");
}

/// [`check_metadata_limits`] on the create at `path` (`base` is a valid create's form) and
/// on the update of an object it made; returns that object's id.
async fn check_create_and_update(mock: &TestMock, what: &str, path: &str, base: &str) -> String {
    let create = format!("{what} create");
    check_metadata_limits(mock, &create, path, "metadata", false, |md| {
        format!("{base}&{md}")
    })
    .await;
    let made = mock.post(KEY, path, base).await;
    assert_eq!(made.status(), 200, "{what}: {path}");
    let id = made.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let update = format!("{what} update");
    let object = format!("{path}/{id}");
    check_metadata_limits(mock, &update, &object, "metadata", true, str::to_string).await;
    id
}

#[tokio::test]
async fn metadata_is_limited_as_on_stripe_on_every_resource_that_takes_it() {
    let mock = spawn_mock(vec![]).await;
    let id = |v: Value| v["id"].as_str().unwrap().to_string();
    let ok = |path: &'static str, form: String| {
        let mock = &mock;
        async move {
            let resp = mock.post(KEY, path, &form).await;
            assert_eq!(resp.status(), 200, "{path}");
            resp.json::<Value>().await.unwrap()
        }
    };

    let session_form = crate::helpers::SESSION_FORM;
    check_create_and_update(&mock, "session", "/v1/checkout/sessions", session_form).await;
    check_metadata_limits(
        &mock,
        "session payment_intent_data",
        "/v1/checkout/sessions",
        "payment_intent_data[metadata]",
        false,
        |md| format!("{session_form}&{md}"),
    )
    .await;
    check_create_and_update(&mock, "customer", "/v1/customers", "email=a@b.test").await;
    let prod = check_create_and_update(&mock, "product", "/v1/products", "name=Book").await;
    let price_form = format!("product={prod}&currency=usd&unit_amount=100");
    check_create_and_update(&mock, "price", "/v1/prices", &price_form).await;
    let pi_form = "amount=2000&currency=usd";
    check_create_and_update(&mock, "payment intent", "/v1/payment_intents", pi_form).await;
    let paid = ok(
        "/v1/payment_intents",
        format!("{pi_form}&payment_method=pm_card_visa&confirm=true"),
    )
    .await;
    let refund_form = format!("payment_intent={}&amount=1", id(paid));
    check_create_and_update(&mock, "refund", "/v1/refunds", &refund_form).await;

    // Updates count the keys already there: 50 + 1 new is over.
    let full = ok("/v1/customers", metadata("metadata", 50, 3, 1)).await;
    let resp = mock
        .post(
            KEY,
            &format!("/v1/customers/{}", id(full)),
            "metadata[new]=1",
        )
        .await;
    assert_eq!(resp.status(), 400);
    alive(&mock).await;
}

#[tokio::test]
async fn slow_and_idle_connections_are_cut_off() {
    let mock = start(Config {
        header_read_timeout: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let addr = mock.local_addr();

    // Slowloris: the head one byte every 100 ms, never finished within the timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let head = b"GET /_config/health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut cut = false;
    for byte in head.iter().chain(std::iter::repeat(&b'a')).take(100) {
        if slow.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut probe)).await
        {
            cut = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(cut, "a slow head was not cut off");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "cut after {took:?}"
    );

    // Idle: a connection that sends nothing, and one idle after a request (keep-alive).
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(4)).await;
    assert!(closed && answer.is_empty(), "{answer}");
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /_config/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut kept, Duration::from_secs(4)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "an idle keep-alive connection stays open");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // Still serving.
    let health = client()
        .get(format!("{}/_config/health", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_body_that_never_finishes_is_a_408_in_stripes_shape() {
    let mock = start(Config {
        body_read_timeout: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let raw = format!(
        "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=a%40"
    );
    let started = Instant::now();
    let (answer, closed) =
        raw_exchange(mock.local_addr(), raw.as_bytes(), Duration::from_secs(5)).await;
    let (status, head, body) = parse(&answer);
    assert_eq!(status, 408, "{answer}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(closed);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // Chunked bodies too, on the payment page (a page) and the control API.
    for path in ["/c/pay/cs_test_x", "/_config/settings"] {
        let raw = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
             Transfer-Encoding: chunked\r\n\r\n5\r\nemail\r\n"
        );
        let (answer, _) =
            raw_exchange(mock.local_addr(), raw.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(parse(&answer).0, 408, "{path}: {answer}");
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_get_a_503_to_retry_and_a_close() {
    let mock = start(Config {
        max_connections: 4,
        ..Config::default()
    })
    .await;
    let addr = mock.local_addr();
    let health = b"GET /_config/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    // Four idle connections take every slot.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // Let the server accept them.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (answer, closed) = raw_exchange(addr, health, Duration::from_secs(5)).await;
    let (status, head, body) = parse(&answer);
    assert_eq!(status, 503, "{answer}");
    assert!(head.contains("stripe-should-retry: true"), "{head}");
    assert!(head.contains("retry-after: 1"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body["error"]["type"], "api_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum of 4")
    );
    assert!(closed);

    // Turned-away connections are bounded too: past 64 waiting ones, new ones are closed.
    let mut waiting = Vec::new();
    for _ in 0..64 {
        waiting.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (answer, closed) = raw_exchange(addr, health, Duration::from_secs(5)).await;
    assert!(answer.is_empty() && closed, "{answer}");
    drop(waiting);

    // A slot freed is a slot served.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (answer, _) = raw_exchange(addr, health, Duration::from_secs(5)).await;
        if parse(&answer).0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no slot came free: {answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn a_cap_of_zero_connections_or_accounts_is_refused_at_start() {
    let zero_connections = Config {
        max_connections: 0,
        ..Config::default()
    };
    let zero_accounts = Config {
        max_accounts: 0,
        ..Config::default()
    };
    for (config, setting) in [
        (zero_connections, "max_connections"),
        (zero_accounts, "max_accounts"),
    ] {
        let err = MockStripe::start(Config { port: 0, ..config })
            .await
            .err()
            .expect("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains(setting), "{err}");
    }
}

/// Every new API key makes an account (about 5 KB before it holds anything), and keys cost
/// a client nothing to invent: 157,000 of them took a mock from 9 to 724 MB in 3 seconds
/// before this bound. Past `max_accounts`, a request that would make one more is a 400
/// naming the setting; every account already there goes on working.
#[tokio::test]
async fn new_keys_past_the_account_cap_get_a_400_and_the_others_go_on() {
    let mock = start(Config {
        max_accounts: 3,
        ..Config::default()
    })
    .await;
    let base = mock.base_url();
    let http = client();
    let get = |key: String, account: Option<&'static str>| {
        let mut req = http
            .get(format!("{base}/v1/customers?limit=1"))
            .bearer_auth(key);
        if let Some(a) = account {
            req = req.header("stripe-account", a);
        }
        req.send()
    };
    for i in 0..3 {
        let resp = get(format!("sk_test_cap_{i}"), None).await.unwrap();
        assert_eq!(resp.status(), 200, "account {i} fits");
    }
    let resp = get("sk_test_cap_3".into(), None).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("3 accounts") && message.contains("--max-accounts"),
        "{message}"
    );
    // A connected account is an account too.
    let resp = get("sk_test_cap_0".into(), Some("acct_1Capped00000000"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // The accounts there still answer, the refused key still does not.
    for i in 0..3 {
        let resp = get(format!("sk_test_cap_{i}"), None).await.unwrap();
        assert_eq!(resp.status(), 200, "account {i} goes on");
    }
    let resp = get("sk_test_cap_3".into(), None).await.unwrap();
    assert_eq!(resp.status(), 400, "still refused");
}
