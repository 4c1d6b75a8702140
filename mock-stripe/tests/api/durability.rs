//! `--data-dir`: what a restart keeps (in process), what `kill -9` keeps (a real process
//! and a real signal), torn and corrupt files, compaction, and the directory lock.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mock_stripe::{Config, MockStripe, RetrySchedule};
use serde_json::Value;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_mock-stripe");

/// A mock on `dir`. Session URLs name the mock's address, so restarts reuse the port.
fn config_on(dir: &Path, port: u16) -> Config {
    Config {
        port,
        data_dir: Some(dir.to_path_buf()),
        retry_schedule: RetrySchedule::Custom(vec![Duration::from_millis(200)]),
        webhook_timeout: Duration::from_secs(3),
        ..Config::default()
    }
}

fn config(dir: &Path) -> Config {
    config_on(dir, 0)
}

/// Starts a mock; a port just given up by the mock before may take a moment to be free.
async fn start(config: Config) -> TestMock {
    let mut tries = 0;
    loop {
        match MockStripe::start(config.clone()).await {
            Ok(mock) => return TestMock::new(mock),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("mock starts: {e}"),
        }
    }
}

/// What a client can see of an account: every list the API has, as raw bytes.
async fn everything(m: &Api, key: &str) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for path in [
        "/v1/checkout/sessions?limit=100",
        "/v1/payment_intents?limit=100",
        "/v1/charges?limit=100",
        "/v1/refunds?limit=100",
        "/v1/events?limit=100",
        "/v1/products?limit=100",
        "/v1/prices?limit=100",
        "/v1/customers?limit=100",
        "/v1/coupons?limit=100",
        "/v1/promotion_codes?limit=100",
        "/v1/webhook_endpoints?limit=100",
    ] {
        let resp = m.get(key, path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        seen.push((path.to_string(), resp.text().await.unwrap()));
    }
    seen
}

/// Fails naming the list and the first line that differs.
fn assert_same(before: &[(String, String)], after: &[(String, String)]) {
    for ((path, a), (_, b)) in before.iter().zip(after) {
        if let Some((x, y)) = a.lines().zip(b.lines()).find(|(x, y)| x != y) {
            panic!("GET {path} changed: {x:?} became {y:?}");
        }
        assert_eq!(a.len(), b.len(), "GET {path} changed length");
    }
}

#[tokio::test]
async fn a_restart_keeps_every_object_event_key_and_clock() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let m = start(config_on(dir.path(), port)).await;
    m.pin_clock(KEY_A, 1_800_000_000).await;
    assert_eq!(
        m.post(KEY_A, "/v1/products", "name=Book&id=prod_book")
            .await
            .status(),
        200
    );
    let price = m
        .post(
            KEY_A,
            "/v1/prices",
            "product=prod_book&unit_amount=1500&currency=eur&lookup_key=book",
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    m.post(KEY_A, "/v1/customers", "email=ada%40example.com&name=Ada")
        .await;
    m.post(KEY_A, "/v1/coupons", "id=TENOFF&percent_off=10")
        .await;
    let session = m
        .post(
            KEY_A,
            "/v1/checkout/sessions",
            &format!(
                "mode=payment&success_url=https://shop.test/ok&line_items[0][price]={}&line_items[0][quantity]=2&discounts[0][coupon]=TENOFF",
                price["id"].as_str().unwrap()
            ),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap().to_string();
    let (status, _) = m.complete(KEY_A, &sid, "").await;
    assert_eq!(status, 200);
    let pi = m
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{sid}"))
        .await["payment_intent"]
        .as_str()
        .unwrap()
        .to_string();
    m.post(
        KEY_A,
        "/v1/refunds",
        &format!("payment_intent={pi}&amount=500"),
    )
    .await;
    let first = m
        .post_idem(KEY_A, "/v1/customers", "email=idem%40example.com", "key-1")
        .await;
    let first_body = first.text().await.unwrap();
    // An open session, to check the hosted page finds it after the restart.
    let open = m.create_session(KEY_A).await;
    // Another account, and a connected account: each comes back as itself.
    m.post(KEY_B, "/v1/customers", "email=b%40example.com")
        .await;
    let connected = m
        .http
        .post(m.url("/v1/customers"))
        .bearer_auth(KEY_A)
        .header("stripe-account", "acct_1Durable0000000")
        .form(&[("email", "connected@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(connected.status(), 200);

    let before_a = everything(&m, KEY_A).await;
    let before_b = everything(&m, KEY_B).await;
    let clock_before = m
        .control(KEY_A, reqwest::Method::GET, "/_config/clock", "")
        .await;
    m.mock.shutdown().await;

    let m = start(config_on(dir.path(), port)).await;
    assert_same(&before_a, &everything(&m, KEY_A).await);
    assert_same(&before_b, &everything(&m, KEY_B).await);
    let clock_after = m
        .control(KEY_A, reqwest::Method::GET, "/_config/clock", "")
        .await;
    assert_eq!(
        clock_after["now_ms"], clock_before["now_ms"],
        "the virtual clock"
    );
    assert_eq!(clock_after["mode"], "virtual");

    let replay = m
        .post_idem(KEY_A, "/v1/customers", "email=idem%40example.com", "key-1")
        .await;
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    assert_eq!(
        replay.text().await.unwrap(),
        first_body,
        "replayed byte for byte"
    );

    let customers = m
        .http
        .get(m.url("/v1/customers"))
        .bearer_auth(KEY_A)
        .header("stripe-account", "acct_1Durable0000000")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(customers["data"][0]["email"], "connected@example.com");

    // The page of the open session still takes a payment.
    let paid = m
        .pay(open["url"].as_str().unwrap(), "4242424242424242")
        .await;
    assert_eq!(paid.status(), 303, "{}", paid.text().await.unwrap());
    // New ids do not collide with old ones, and new objects follow the old in lists.
    m.post(KEY_A, "/v1/products", "name=Second").await;
    let products = m.get_json(KEY_A, "/v1/products?limit=100").await;
    assert_eq!(column(&products, "name"), ["Second", "Book"]);
}

#[tokio::test]
async fn emptying_an_account_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(config(dir.path())).await;
    m.create_session(KEY_A).await;
    m.control(KEY_A, reqwest::Method::DELETE, "/_config/data", "")
        .await;
    m.post(KEY_A, "/v1/customers", "email=after%40example.com")
        .await;
    m.mock.shutdown().await;

    let m = start(config(dir.path())).await;
    assert_eq!(m.session_ids(KEY_A).await.len(), 0);
    let customers = m.get_json(KEY_A, "/v1/customers").await;
    assert_eq!(column(&customers, "email"), ["after@example.com"]);
}

#[tokio::test]
async fn a_second_mock_cannot_take_a_directory_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _first = start(config(dir.path())).await;
    let err = MockStripe::start(config(dir.path()))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("in use"), "{err}");
}

#[tokio::test]
async fn compaction_keeps_the_directory_small_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(Config {
        compact_after_bytes: 32 << 10,
        ..config(dir.path())
    })
    .await;
    for i in 0..400 {
        let r = m
            .post(KEY_A, "/v1/customers", &format!("email=c{i}%40example.com"))
            .await;
        assert_eq!(r.status(), 200);
    }
    // Each customer is about 1 KB of journal: 400 KB written, compacted along the way.
    let size = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum::<u64>()
    };
    eventually("the journal is compacted", || async {
        let journals = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("journal-")
            })
            .count();
        (journals == 1).then_some(())
    })
    .await;
    let before = everything(&m, KEY_A).await;
    m.mock.shutdown().await;
    let total = size();
    let m = start(config(dir.path())).await;
    assert_same(&before, &everything(&m, KEY_A).await);
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = m
            .get_json(
                KEY_A,
                &format!(
                    "/v1/customers?limit=100{}",
                    after
                        .map(|a| format!("&starting_after={a}"))
                        .unwrap_or_default()
                ),
            )
            .await;
        let data = page["data"].as_array().unwrap().clone();
        after = data.last().map(|c| c["id"].as_str().unwrap().to_string());
        all.extend(data);
        if page["has_more"] != true {
            break;
        }
    }
    assert_eq!(all.len(), 400);
    // The snapshot holds 400 customers and their 400 events; the journals did hold more.
    assert!(total < 2_000_000, "the directory holds {total} bytes");
}

/// `mock-stripe` as a child process on `dir`, forwarding to `webhook`, retrying every second.
fn mock_process(dir: &Path, port: u16, webhook: &str) -> Child {
    Command::new(BIN)
        .args([
            "--port",
            &port.to_string(),
            "--data-dir",
            dir.to_str().unwrap(),
            "--webhook",
            webhook,
            "--webhook-secret",
            SECRET,
            "--retry-schedule",
            "1,1,1,1,1,1,1,1,1,1",
        ])
        .env_remove("MOCK_STRIPE_CONTROL_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_up(base: &str) {
    let http = client();
    eventually("the mock answers", || async {
        http.get(format!("{base}/_config/health"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
            .map(|_| ())
    })
    .await;
}

#[tokio::test]
async fn after_kill_9_every_answered_object_is_there_and_pending_deliveries_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start().await;
    // Refuse every delivery: they are pending, with retries due, when the mock dies.
    receiver.fail_next(&[500; 10_000]);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = mock_process(dir.path(), port, &receiver.url);
    wait_up(&base).await;
    let m = Api::at(&base);
    let mut answered = Vec::new();
    for i in 0..20 {
        let r = m
            .post(KEY_A, "/v1/customers", &format!("email=k{i}%40example.com"))
            .await;
        assert_eq!(r.status(), 200);
        answered.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let sid = m.session_id(KEY_A).await;
    let (status, _) = m.complete(KEY_A, &sid, "").await;
    assert_eq!(status, 200);
    let completed_event = m
        .get_json(KEY_A, "/v1/events?type=checkout.session.completed")
        .await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The first attempt was refused; kill before everything got through.
    receiver.wait_for("checkout.session.completed").await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    receiver.drain();
    receiver.accept_all();

    let mut child = mock_process(dir.path(), port, &receiver.url);
    wait_up(&base).await;
    for id in &answered {
        assert_eq!(
            m.get(KEY_A, &format!("/v1/customers/{id}")).await.status(),
            200,
            "{id} was answered with 200 before the kill"
        );
    }
    // The delivery still pending is made after the restart, signed as Stripe signs.
    let got = loop {
        let r = tokio::time::timeout(
            Duration::from_secs(15),
            receiver.wait_for("checkout.session.completed"),
        )
        .await
        .expect("the pending delivery arrives after the restart");
        if r.json()["id"] == completed_event.as_str() {
            break r;
        }
    };
    assert!(verifies(&got, SECRET));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_torn_last_record_is_dropped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(config(dir.path())).await;
    let kept = m
        .post(KEY_A, "/v1/customers", "email=kept%40example.com")
        .await;
    let kept: Value = kept.json().await.unwrap();
    m.mock.shutdown().await;
    // A record cut short: a length and checksum, then half the bytes they announce.
    let journal = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("journal-")
        })
        .unwrap();
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(&100u32.to_le_bytes());
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    bytes.extend_from_slice(&[b'{'; 50]);
    std::fs::write(&journal, bytes).unwrap();

    let port = free_port();
    let mut child = mock_process(dir.path(), port, "http://127.0.0.1:9/never");
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&base).await;
    let http = client();
    let got = http
        .get(format!(
            "{base}/v1/customers/{}",
            kept["id"].as_str().unwrap()
        ))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("torn last record")
            && log.contains(&journal.file_name().unwrap().to_string_lossy().to_string()),
        "{log}"
    );
}

#[tokio::test]
async fn a_corrupt_file_fails_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(config(dir.path())).await;
    for i in 0..3 {
        m.post(KEY_A, "/v1/customers", &format!("email=c{i}%40example.com"))
            .await;
    }
    m.mock.shutdown().await;
    // The journal of that run: a record in the middle of it goes bad.
    let snapshot = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("journal-")
        })
        .unwrap();
    let mut bytes = std::fs::read(&snapshot).unwrap();
    assert!(bytes.len() > 100);
    bytes[20] ^= 0x55;
    std::fs::write(&snapshot, bytes).unwrap();

    let out = Command::new(BIN)
        .args(["--port", "0", "--data-dir", dir.path().to_str().unwrap()])
        .env_remove("MOCK_STRIPE_CONTROL_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt"), "{err}");
    assert!(
        err.contains(&*snapshot.file_name().unwrap().to_string_lossy()),
        "names the file: {err}"
    );
    // Nothing was overwritten: the same start fails the same way again.
    let again = MockStripe::start(config(dir.path()))
        .await
        .err()
        .expect("refused");
    assert!(again.to_string().contains("corrupt"), "{again}");
}
