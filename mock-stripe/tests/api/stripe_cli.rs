//! The Stripe CLI's habits (contract §5): `mock-stripe trigger` for every event it knows,
//! the real CLI's Checkout requests replayed as it encodes them, Checkout's payment-page
//! API, `mock-stripe fixtures` on the files in `fixtures/stripe-cli/`, and `mock-stripe
//! listen` as a process beside an in-process mock.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mock_stripe::cli::client::Api;
use mock_stripe::cli::fixtures::Options;
use mock_stripe::cli::{listen, trigger};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_mock-stripe");

fn fixture_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/stripe-cli")
        .join(name)
}

/// A fresh, empty folder for a child's working directory.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mock-stripe-cli-{name}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// The binary with a clean environment for its client flags.
fn command(args: &[&str], cwd: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(cwd)
        .env_remove("STRIPE_API_BASE")
        .env_remove("STRIPE_API_KEY")
        .env_remove("MOCK_STRIPE_CONTROL_TOKEN");
    c
}

/// Runs the binary to its end without blocking the runtime the mock runs on.
async fn run_binary(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("the binary runs"))
        .await
        .unwrap()
}

#[tokio::test]
async fn trigger_makes_the_mock_send_each_event_signed() {
    let t = spawn_mock(vec![]).await;
    for (i, trig) in trigger::TRIGGERS.iter().enumerate() {
        let key = format!("sk_test_trigger{i:02}");
        let mut receiver = Receiver::start().await;
        let (_, secret) = t.endpoint(&key, &receiver.url, &[trig.event]).await;
        let api = Api::new(&t.base, &key);
        let mut out = Vec::new();
        let run = trigger::run(&api, trig.event, None, &Options::default(), &mut out)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", trig.event, String::from_utf8_lossy(&out)));
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("Setting up fixture for: "), "{out}");
        assert!(
            out.ends_with("Trigger succeeded! Check dashboard for event details.\n"),
            "{out}"
        );

        let got = receiver.wait_for(trig.event).await;
        verify(&got, &secret);
        // The event is about an object the trigger's requests made.
        let object = &got.json()["data"]["object"];
        // (An expected error answer is kept too: a decline names its PaymentIntent.)
        let made: Vec<&str> = run
            .responses
            .values()
            .flat_map(|r| {
                [
                    r["id"].as_str(),
                    r["error"]["payment_intent"]["id"].as_str(),
                ]
            })
            .flatten()
            .collect();
        let id = object["id"].as_str().unwrap();
        let via = object["payment_intent"].as_str().unwrap_or("");
        assert!(
            made.contains(&id) || made.contains(&via),
            "{}: {id} is not one of {made:?}",
            trig.event
        );
        if trig.settles_a_debit {
            let settings = t.control(&key, Method::GET, "/_config/settings", "").await;
            assert_eq!(
                settings["async_payment_delay"], 259_200,
                "the trigger puts the account's delay back"
            );
        }
    }

    // An unknown event names the ones it knows; nothing is sent.
    let api = Api::new(&t.base, "sk_test_trigger_unknown");
    let e = trigger::run(
        &api,
        "invoice.paid",
        None,
        &Options::default(),
        &mut Vec::new(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("charge.refunded"), "{e}");
}

#[tokio::test]
async fn trigger_flags_change_the_fixture() {
    let mut receiver = Receiver::start().await;
    let t = spawn_mock(vec![receiver.target()]).await;
    let api = Api::new(&t.base, KEY_A);
    let options = Options {
        overrides: vec!["price:unit_amount=2000".into()],
        additions: vec!["checkout_session:metadata.source=trigger-test".into()],
        removals: vec!["checkout_session:payment_intent_data".into()],
        ..Options::default()
    };
    // The page confirm checks expected_amount: 2 × 2000 now.
    let options = Options {
        overrides: [
            options.overrides,
            vec!["payment_page_confirm:expected_amount=4000".into()],
        ]
        .concat(),
        ..options
    };
    trigger::run(
        &api,
        "checkout.session.completed",
        None,
        &options,
        &mut Vec::new(),
    )
    .await
    .unwrap();
    let session =
        receiver.wait_for("checkout.session.completed").await.json()["data"]["object"].clone();
    assert_eq!(session["amount_total"], 4000);
    assert_eq!(session["metadata"]["source"], "trigger-test");

    // The page lookup is only for the CLI's benefit: skipping it changes nothing.
    let skip = Options {
        skip: vec!["payment_page".into()],
        ..Options::default()
    };
    let mut out = Vec::new();
    trigger::run(&api, "checkout.session.completed", None, &skip, &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("Skipping fixture for: payment_page\n"),
        "{out}"
    );
    assert!(
        !out.contains("Running fixture for: payment_page\n"),
        "{out}"
    );
    receiver.wait_for("checkout.session.completed").await;
    let bad = Options {
        skip: vec!["checkout_session".into()],
        ..Options::default()
    };
    let e = trigger::run(
        &api,
        "checkout.session.expired",
        None,
        &bad,
        &mut Vec::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("an undeclared fixture name was referenced: checkout_session"),
        "{e}"
    );
}

/// A request as the Stripe CLI (Go) sends it: `Bearer` key, form body, its own agents.
async fn as_the_cli(t: &TestMock, key: &str, method: Method, path: &str, body: &str) -> Value {
    let mut req = t
        .http
        .request(method.clone(), t.url(path))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept-encoding", "identity")
        .header("user-agent", "Stripe/v1 stripe-cli/1.30.0")
        .header(
            "x-stripe-client-user-agent",
            r#"{"name":"stripe-cli","version":"1.30.0","publisher":"stripe","os":"linux"}"#,
        );
    if method == Method::POST {
        req = req.body(body.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{method} {path} {body}: {v}");
    v
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// The event types of an account, oldest first.
async fn types_in_order(t: &TestMock, key: &str) -> Vec<String> {
    let mut types = t.event_types(key).await;
    types.reverse();
    types
}

#[tokio::test]
async fn the_stripe_cli_checkout_requests_complete_the_session_as_the_page_does() {
    let mut receiver = Receiver::start().await;
    let t = spawn_mock(vec![receiver.target()]).await;
    let key = KEY_A;
    // `stripe trigger checkout.session.completed --api-base http://127.0.0.1:PORT`,
    // contract §5.4: the fixture's params as the CLI encodes them (§5.3).
    let product = as_the_cli(
        &t,
        key,
        Method::POST,
        "/v1/products",
        "description=%28created+by+Stripe+CLI%29&name=myproduct",
    )
    .await;
    let price = as_the_cli(
        &t,
        key,
        Method::POST,
        "/v1/prices",
        &format!("currency=usd&product={}&unit_amount=1500", id(&product)),
    )
    .await;
    let session = as_the_cli(
        &t,
        key,
        Method::POST,
        "/v1/checkout/sessions",
        &format!(
            "cancel_url=https%3A%2F%2Fhttpbin.org%2Fpost&line_items[0][price]={}\
             &line_items[0][quantity]=2&mode=payment\
             &payment_intent_data[shipping][address][city]=San+Francisco\
             &payment_intent_data[shipping][address][country]=US\
             &payment_intent_data[shipping][address][line1]=510+Townsend+St\
             &payment_intent_data[shipping][address][postal_code]=94103\
             &payment_intent_data[shipping][address][state]=CA\
             &payment_intent_data[shipping][name]=Jenny+Rosen\
             &success_url=https%3A%2F%2Fhttpbin.org%2Fpost",
            id(&price)
        ),
    )
    .await;
    let cs = id(&session);
    let page = as_the_cli(&t, key, Method::GET, &format!("/v1/payment_pages/{cs}"), "").await;
    assert_eq!(
        (&page["object"], &page["status"], &page["amount_total"]),
        (
            &Value::from("payment_page"),
            &Value::from("open"),
            &Value::from(3000)
        )
    );
    let pm = as_the_cli(
        &t,
        key,
        Method::POST,
        "/v1/payment_methods",
        "billing_details[address][city]=South+San+Francisco&billing_details[address][country]=US\
         &billing_details[address][line1]=354+Oyster+Point+Blvd\
         &billing_details[address][postal_code]=94080&billing_details[address][state]=CA\
         &billing_details[email]=stripe%40example.com&billing_details[name]=Jenny+Rosen\
         &card[token]=tok_visa&type=card",
    )
    .await;
    let before = types_in_order(&t, key).await.len();
    let confirmed = as_the_cli(
        &t,
        key,
        Method::POST,
        &format!("/v1/payment_pages/{cs}/confirm"),
        &format!("expected_amount=3000&payment_method={}", id(&pm)),
    )
    .await;
    assert_eq!(
        (&confirmed["status"], &confirmed["payment_status"]),
        (&Value::from("complete"), &Value::from("paid"))
    );

    // The same events, in the same order, as a payment on the hosted page.
    let by_cli = types_in_order(&t, key).await[before..].to_vec();
    let page_session = t.create_session(KEY_B).await;
    let resp = t
        .pay(page_session["url"].as_str().unwrap(), "4242424242424242")
        .await;
    assert_eq!(resp.status(), 303);
    let by_page = types_in_order(&t, KEY_B).await;
    assert_eq!(by_cli, by_page);
    assert_eq!(
        by_cli,
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded",
            "checkout.session.completed"
        ]
    );

    // The session was paid with the CLI's PaymentMethod, shipping where it said.
    let paid = t
        .get_json(
            key,
            &format!("/v1/checkout/sessions/{cs}?expand[]=payment_intent.latest_charge"),
        )
        .await;
    assert_eq!(paid["customer_details"]["email"], "stripe@example.com");
    assert_eq!(paid["customer_details"]["name"], "Jenny Rosen");
    let pi = &paid["payment_intent"];
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["payment_method"], pm["id"]);
    assert_eq!(pi["shipping"]["name"], "Jenny Rosen");
    assert_eq!(pi["latest_charge"]["payment_method"], pm["id"]);
    assert_eq!(pi["latest_charge"]["amount"], 3000);

    let delivered = receiver.wait_for("checkout.session.completed").await;
    let event = verify(&delivered, SECRET);
    assert_eq!(
        delivered.json()["data"]["object"]["id"],
        cs.as_str(),
        "{event:?}"
    );
}

async fn confirm_page(t: &TestMock, path: &str, form: &str) -> (u16, Value) {
    t.call(Some(KEY_A), Method::POST, path, form).await
}

#[tokio::test]
async fn the_payment_page_api_refuses_what_the_page_would() {
    let t = spawn_mock(vec![]).await;
    let key = KEY_A;
    let (status, v) = t
        .call(Some(key), Method::GET, "/v1/payment_pages/cs_test_nope", "")
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("resource_missing"))
    );

    let cs = t.session_id(key).await; // 2 × 19.99 USD, card only
    let confirm = format!("/v1/payment_pages/{cs}/confirm");
    let (status, v) = confirm_page(&t, &confirm, "expected_amount=3998").await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("payment_method"))
    );
    let (status, v) = confirm_page(
        &t,
        &confirm,
        "payment_method=pm_card_visa&expected_amount=100",
    )
    .await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("expected_amount")),
        "{v}"
    );
    let (status, v) = confirm_page(&t, &confirm, "payment_method=pm_nope").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("resource_missing"))
    );
    let sepa = t
        .post(
            key,
            "/v1/payment_methods",
            "type=sepa_debit&sepa_debit[iban]=AT611904300234573201&billing_details[email]=a%40b.test",
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let form = format!("payment_method={}", id(&sepa));
    let (status, v) = t.call(Some(key), Method::POST, &confirm, &form).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("payment_method_unavailable")),
        "{v}"
    );

    // A decline leaves the page open, as on the hosted page; then a good card pays.
    let (status, v) = confirm_page(&t, &confirm, "payment_method=pm_card_chargeDeclined").await;
    assert_eq!(status, 402, "{v}");
    assert_eq!(v["error"]["type"], "card_error");
    assert_eq!(v["error"]["decline_code"], "generic_decline");
    assert_eq!(
        v["error"]["payment_intent"]["status"],
        "requires_payment_method"
    );
    let page = t.get_json(key, &format!("/v1/payment_pages/{cs}")).await;
    assert_eq!(page["status"], "open");
    let (status, v) = confirm_page(&t, &confirm, "payment_method=pm_card_visa").await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("complete")),
        "{v}"
    );
    let (status, v) = confirm_page(&t, &confirm, "payment_method=pm_card_visa").await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("has a status of `complete`"),
        "{v}"
    );

    // SEPA Direct Debit on a session that offers it: complete, unpaid until it settles.
    let price = t
        .post(
            key,
            "/v1/prices",
            "currency=eur&unit_amount=1500&product_data[name]=Mug",
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let session = t
        .post(
            key,
            "/v1/checkout/sessions",
            &format!(
                "mode=payment&success_url=https://shop.test/ok&payment_method_types[]=sepa_debit\
                 &line_items[0][price]={}&line_items[0][quantity]=1",
                id(&price)
            ),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let (status, v) = t
        .call(
            Some(key),
            Method::POST,
            &format!("/v1/payment_pages/{}/confirm", id(&session)),
            &format!(
                "payment_method={}&expected_payment_method_type=sepa_debit",
                id(&sepa)
            ),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["status"], &v["payment_status"]),
        (&Value::from("complete"), &Value::from("unpaid"))
    );
}

/// Runs `mock-stripe fixtures FILE` against the mock; answers (stdout, stderr, success).
async fn fixtures_binary(
    t: &TestMock,
    key: &str,
    file: &std::path::Path,
    cwd: &std::path::Path,
    env: &[(&str, &str)],
) -> (String, String, bool) {
    let mut c = command(
        &[
            "fixtures",
            file.to_str().unwrap(),
            "--api-base",
            &t.base,
            "--api-key",
            key,
        ],
        cwd,
    );
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run_binary(c).await;
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

#[tokio::test]
async fn the_shipped_fixture_files_run_clean() {
    let t = spawn_mock(vec![]).await;
    let cwd = scratch_dir("fixtures");

    // Products and Prices: the env reference reads FIXTURE_LOOKUP_KEY.
    let key = "sk_test_fixtures_catalog";
    let (stdout, stderr, ok) = fixtures_binary(
        &t,
        key,
        &fixture_file("catalog.json"),
        &cwd,
        &[("FIXTURE_LOOKUP_KEY", "tshirt_fixture")],
    )
    .await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("Setting up fixture for: product\nRunning fixture for: product\n"));
    assert!(
        stdout.ends_with("Fixtures succeeded! (9 requests)\n"),
        "{stdout}"
    );
    let products = t.get_json(key, "/v1/products").await;
    assert_eq!(products["data"][0]["name"], "Fixture T-shirt (organic)");
    let prices = t.get_json(key, "/v1/prices?active=false").await;
    assert_eq!(prices["data"][0]["lookup_key"], "tshirt_fixture");
    assert_eq!(prices["data"][0]["unit_amount"], 2500);
    assert!(
        t.session_ids(key).await.is_empty(),
        "the archived price was refused"
    );

    // Customers: created, updated, found, deleted.
    let key = "sk_test_fixtures_customers";
    let (stdout, stderr, ok) =
        fixtures_binary(&t, key, &fixture_file("customers.json"), &cwd, &[]).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        t.get_json(key, "/v1/customers").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let types = t.event_types(key).await;
    assert_eq!(
        types,
        ["customer.deleted", "customer.updated", "customer.created"]
    );

    // Checkout and Refunds; the file's `env` goes into an existing ./.env.
    let key = "sk_test_fixtures_checkout";
    std::fs::write(cwd.join(".env"), "# mine\nFIXTURE_CHECKOUT_SESSION=old\n").unwrap();
    let (stdout, stderr, ok) =
        fixtures_binary(&t, key, &fixture_file("checkout_refunds.json"), &cwd, &[]).await;
    assert!(ok, "{stdout}\n{stderr}");
    let session = &t.get_json(key, "/v1/checkout/sessions").await["data"][0];
    assert_eq!(
        (&session["status"], &session["payment_status"]),
        (&Value::from("complete"), &Value::from("paid"))
    );
    let charge = &t.get_json(key, "/v1/charges").await["data"][0];
    assert_eq!(
        (
            &charge["amount"],
            &charge["amount_refunded"],
            &charge["refunded"]
        ),
        (&Value::from(5000), &Value::from(5000), &Value::from(true))
    );
    let refunds = t.get_json(key, "/v1/refunds").await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 2);
    let dotenv = std::fs::read_to_string(cwd.join(".env")).unwrap();
    assert_eq!(
        dotenv,
        format!(
            "# mine\nFIXTURE_CHECKOUT_SESSION={}\nFIXTURE_CHARGE={}\n",
            session["id"].as_str().unwrap(),
            charge["id"].as_str().unwrap()
        )
    );
    std::fs::remove_dir_all(cwd).unwrap();
}

#[tokio::test]
async fn a_failing_fixture_names_itself_and_stripes_error() {
    let t = spawn_mock(vec![]).await;
    let cwd = scratch_dir("failing");
    let file = cwd.join("bad.json");
    std::fs::write(
        &file,
        r#"{"_meta": {"template_version": 0}, "fixtures": [
            {"name": "product", "path": "/v1/products", "method": "post", "params": {"name": "Mug"}},
            {"name": "bad_price", "path": "/v1/prices", "method": "post",
             "params": {"product": "${product:id}", "currency": "zzz", "unit_amount": 100}},
            {"name": "never", "path": "/v1/products", "method": "post", "params": {"name": "x"}}
        ]}"#,
    )
    .unwrap();
    let (stdout, stderr, ok) = fixtures_binary(&t, KEY_A, &file, &cwd, &[]).await;
    assert!(!ok);
    assert!(
        stdout.contains("Running fixture for: bad_price\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("never"), "{stdout}");
    assert!(
        stderr.starts_with(
            "error: fixture `bad_price` failed: POST /v1/prices answered 400 invalid_request_error"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("zzz"), "Stripe's message: {stderr}");

    // A file the CLI would refuse is refused before anything is sent.
    std::fs::write(
        &file,
        r#"{"_meta": {"template_version": 1}, "fixtures": []}"#,
    )
    .unwrap();
    let (_, stderr, ok) = fixtures_binary(&t, KEY_B, &file, &cwd, &[]).await;
    assert!(!ok);
    assert!(
        stderr.contains("Fixture version not supported: 1"),
        "{stderr}"
    );
    assert!(t.event_types(KEY_B).await.is_empty());
    std::fs::remove_dir_all(cwd).unwrap();
}

/// `mock-stripe listen` as a child process, its stdout lines on a channel.
struct Listener {
    child: std::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Listener {
    fn start(args: &[&str]) -> Listener {
        let mut child = command(args, &std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("listen starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Listener { child, lines }
    }

    async fn next_line(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.lines.recv())
            .await
            .expect("a line from listen in time")
            .expect("listen still running")
    }

    /// Lines until one contains `needle`; answers them all.
    async fn until(&mut self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = self.next_line().await;
            let done = line.contains(needle);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }

    /// Ctrl-C, then the exit status.
    async fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "listen did not stop on Ctrl-C");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn listen_forwards_and_prints_each_delivery_until_ctrl_c() {
    let mut receiver = Receiver::start().await;
    let t = spawn_mock(vec![]).await;
    let key = KEY_A;
    let mut listener = Listener::start(&[
        "listen",
        "--forward-to",
        &receiver.url,
        "--events",
        "checkout.session.completed,payment_intent.succeeded",
        "--api-base",
        &t.base,
        "--api-key",
        key,
    ]);
    let ready = listener.next_line().await;
    let secret = ready
        .strip_prefix("Ready! You are using Stripe API Version [2026-09-30.endive]. Your webhook signing secret is ")
        .and_then(|r| r.strip_suffix(" (^C to quit)"))
        .unwrap_or_else(|| panic!("{ready}"))
        .to_string();
    assert_eq!(secret, listen::signing_secret(key, None));
    let printed = run_binary(command(
        &["listen", "--print-secret", "--api-key", key],
        &std::env::temp_dir(),
    ))
    .await;
    assert_eq!(
        String::from_utf8(printed.stdout).unwrap(),
        format!("{secret}\n")
    );

    // Pay a session: four events, two of them forwarded.
    let cs = t.session_id(key).await;
    let (status, _) = t.complete(key, &cs, "").await;
    assert_eq!(status, 200);
    let delivered = receiver.wait_for("checkout.session.completed").await;
    verify(&delivered, &secret);
    let evt = delivered.json()["id"].as_str().unwrap().to_string();

    let mut lines = listener
        .until(&format!("<--  [200] POST {} [{evt}]", receiver.url))
        .await;
    if !lines
        .iter()
        .any(|l| l.contains("--> payment_intent.succeeded"))
    {
        lines.extend(listener.until("--> payment_intent.succeeded").await);
    }
    let all = lines.join("\n");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(&format!("   --> checkout.session.completed [{evt}]"))),
        "{all}"
    );
    assert!(!all.contains("charge.succeeded"), "filtered out: {all}");
    // Lines look like the CLI's: a local time first.
    let stamp = &lines[0][..19];
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").is_ok(),
        "{all}"
    );
    assert_eq!(
        t.get_json(key, "/v1/webhook_endpoints").await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let status = listener.interrupt().await;
    assert!(status.success(), "{status:?}");
    assert!(
        t.get_json(key, "/v1/webhook_endpoints").await["data"]
            .as_array()
            .unwrap()
            .is_empty(),
        "listen removes its endpoint"
    );
}

#[tokio::test]
async fn listen_without_a_mock_says_so() {
    let out = run_binary(command(
        &[
            "listen",
            "-f",
            "4242",
            "--api-base",
            "http://127.0.0.1:9",
            "--api-key",
            KEY_A,
        ],
        &std::env::temp_dir(),
    ))
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: cannot attach to the mock at http://127.0.0.1:9: cannot reach"),
        "{stderr}"
    );
}

/// The real Stripe CLI (npm `@stripe/cli`, pinned beside the Node SDK in
/// `tests/sdk/node`), if installed.
fn real_stripe_cli() -> Result<PathBuf, String> {
    let bin =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/node/node_modules/.bin/stripe");
    if !bin.exists() {
        return Err(format!("{} is missing", bin.display()));
    }
    let mut c = crate::sdk_script::without_proxies(bin.to_str().unwrap());
    match c.arg("version").stdin(Stdio::null()).output() {
        Ok(out) if out.status.success() => Ok(bin),
        Ok(out) => Err(format!("stripe version failed ({})", out.status)),
        Err(e) => Err(format!("cannot run {}: {e}", bin.display())),
    }
}

#[tokio::test]
async fn the_real_stripe_cli_triggers_against_the_mock() {
    let bin = match tokio::task::spawn_blocking(real_stripe_cli).await.unwrap() {
        Ok(bin) => bin,
        Err(why) => {
            let install = "npm install --prefix mock-stripe/tests/sdk/node";
            if std::env::var_os("REQUIRE_SDK_TESTS").is_some() {
                panic!(
                    "REQUIRE_SDK_TESTS is set but the Stripe CLI is not usable ({why}); install it with: {install}"
                );
            }
            eprintln!("skipped: the Stripe CLI is not installed ({install}) [{why}]");
            return;
        }
    };
    let t = spawn_mock(vec![]).await;
    let home = scratch_dir("stripe-cli-home");
    for (i, event) in [
        "checkout.session.completed",
        "checkout.session.expired",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("sk_test_real_cli{i:02}");
        let mut receiver = Receiver::start().await;
        let (_, secret) = t.endpoint(&key, &receiver.url, &["*"]).await;
        // The real CLI leaves bank debits to settle on the account's clock (README).
        t.control(
            &key,
            Method::POST,
            "/_config/settings",
            "async_payment_delay=0",
        )
        .await;
        let mut c = crate::sdk_script::without_proxies(bin.to_str().unwrap());
        c.args(["trigger", event, "--api-base", &t.base, "--api-key", &key])
            .current_dir(&home)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", &home)
            .env("STRIPE_CLI_TELEMETRY_OPTOUT", "1")
            .env_remove("STRIPE_API_KEY")
            .env_remove("STRIPE_DEVICE_NAME");
        let out = run_binary(c).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains("Trigger succeeded!"),
            "stripe trigger {event}: {}\n{stdout}\n{stderr}",
            out.status
        );
        // The CLI's async_payment_failed fixture pays with an ordinary Italian IBAN and
        // expects every step to fail on Stripe; the mock accepts it, so its debit settles.
        let expected = match event {
            "checkout.session.async_payment_failed" => "checkout.session.async_payment_succeeded",
            e => e,
        };
        verify(&receiver.wait_for(expected).await, &secret);
    }
    std::fs::remove_dir_all(home).unwrap();
}
