//! The Stripe.js stand-in: the script at `/v3/`, the lookup it makes with a publishable key,
//! and (when Chromium and playwright-core are there) a real browser on a shop page that
//! loads it: `tests/browser/stripejs.mjs`.

use std::convert::Infallible;
use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use reqwest::Method;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::helpers::*;

/// The publishable key of `KEY_A`'s account.
const PK_A: &str = "pk_test_accountA1234";

async fn lookup(t: &TestMock, id: &str, query: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = t
        .http
        .get(t.url(&format!("/v3/checkout/sessions/{id}?{query}")))
        .send()
        .await
        .unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, resp.json().await.unwrap(), headers)
}

#[tokio::test]
async fn the_script_is_served_at_v3() {
    let t = spawn_mock(vec![]).await;
    for path in ["/v3/", "/v3"] {
        let resp = t.http.get(t.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let text = resp.text().await.unwrap();
        assert!(text.contains("redirectToCheckout"), "{path}");
        assert!(
            text.contains(&t.base),
            "knows the mock's address as a fallback"
        );
    }
}

#[tokio::test]
async fn the_lookup_answers_open_sessions_of_the_keys_account_only() {
    let t = spawn_mock(vec![]).await;
    let s = t.create_session(KEY_A).await;
    let id = s["id"].as_str().unwrap();

    let (status, v, headers) = lookup(&t, id, &format!("key={PK_A}")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["url"], s["url"]);
    assert_eq!(headers["access-control-allow-origin"], "*");

    // Another account's publishable key does not see it.
    let (status, v, _) = lookup(&t, id, "key=pk_test_accountB5678").await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], "resource_missing");
    assert_eq!(
        v["error"]["message"],
        format!("No such payment_page: '{id}'")
    );
    // Keys: none, a secret one, a live one.
    let (status, v, _) = lookup(&t, id, "").await;
    assert_eq!(status, 401, "{v}");
    let (status, _, _) = lookup(&t, id, "key=sk_test_accountA1234").await;
    assert_eq!(status, 401);
    let (status, _, _) = lookup(&t, id, "key=pk_live_accountA1234").await;
    assert_eq!(status, 401);

    // A completed session is no longer a place to send the shopper.
    t.control(
        KEY_A,
        Method::POST,
        &format!("/_config/checkout/sessions/{id}/complete"),
        "",
    )
    .await;
    let (status, v, _) = lookup(&t, id, &format!("key={PK_A}")).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["message"],
        "This Checkout Session is already complete."
    );

    // The secret-key API still refuses publishable keys.
    let resp = t.get(PK_A, &format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "secret_key_required");
}

#[tokio::test]
async fn the_lookup_reaches_connected_accounts_with_stripe_account() {
    let t = spawn_mock(vec![]).await;
    let resp = t
        .http
        .post(t.url("/v1/checkout/sessions"))
        .bearer_auth(KEY_A)
        .header("stripe-account", "acct_1Seller")
        .body(SESSION_FORM)
        .send()
        .await
        .unwrap();
    let s: Value = resp.json().await.unwrap();
    let id = s["id"].as_str().unwrap();
    let (status, _, _) = lookup(&t, id, &format!("key={PK_A}")).await;
    assert_eq!(status, 404);
    let (status, v, _) = lookup(&t, id, &format!("key={PK_A}&stripe_account=acct_1Seller")).await;
    assert_eq!(status, 200, "{v}");
    let (status, v, _) = lookup(&t, id, &format!("key={PK_A}&stripe_account=seller")).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("account_invalid"))
    );
}

/// The shop: `/checkout?session=ID` is a page that loads the stand-in and redirects on a
/// click, as shops written for Stripe.js v3 do; `/success` is where Checkout sends them back.
async fn shop(mock_base: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let mock_base = mock_base.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let session =
                        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                            .find(|(k, _)| k == "session")
                            .map(|(_, v)| v.into_owned())
                            .unwrap_or_default();
                    let html = match req.uri().path() {
                        "/checkout" => format!(
                            r#"<!doctype html>
<html><head><title>Shop</title><script src="{mock_base}/v3/"></script></head>
<body>
<button id="checkout">Checkout</button>
<p id="error"></p>
<script>
document.getElementById('checkout').addEventListener('click', function () {{
  var out = document.getElementById('error');
  try {{
    Stripe('{PK_A}').redirectToCheckout({{ sessionId: {session:?} }}).then(function (result) {{
      if (result.error) out.textContent = result.error.message;
    }});
  }} catch (e) {{
    out.textContent = e.name + ': ' + e.message;
  }}
}});
</script>
</body></html>"#
                        ),
                        _ => "<!doctype html><h1>Thanks for your order</h1>".to_string(),
                    };
                    async move {
                        let mut resp = hyper::Response::new(Full::new(Bytes::from(html)));
                        resp.headers_mut().insert(
                            "content-type",
                            hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
                        );
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// Why the browser test cannot run here, if it cannot.
fn browser_tools_missing(modules: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no node on PATH".into());
    }
    if !modules.join("node_modules/playwright-core").exists() {
        return Some(format!(
            "playwright-core is not installed (npm ci --prefix {})",
            modules.display()
        ));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_using_stripe_js_redirects_to_checkout_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // playwright-core, installed by `npm ci --prefix mock-stripe/tests/browser`.
    let modules = root.join("tests/browser");
    if let Some(missing) = browser_tools_missing(&modules) {
        assert!(
            std::env::var_os("REQUIRE_BROWSER_TESTS").is_none(),
            "REQUIRE_BROWSER_TESTS is set but {missing}"
        );
        eprintln!("skipped: {missing}");
        return;
    }
    let t = spawn_mock(vec![]).await;
    let shop = shop(t.base.clone()).await;
    let form = format!(
        "mode=payment&success_url={shop}/success?session_id={{CHECKOUT_SESSION_ID}}\
         &cancel_url={shop}/checkout\
         &line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1999\
         &line_items[0][price_data][product_data][name]=T-shirt&line_items[0][quantity]=1"
    );
    let create = || async {
        let resp = t.post(KEY_A, "/v1/checkout/sessions", &form).await;
        let v: Value = resp.json().await.unwrap();
        v["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string()
    };
    let open = create().await;
    let expired = create().await;
    t.post(
        KEY_A,
        &format!("/v1/checkout/sessions/{expired}/expire"),
        "",
    )
    .await;
    let unknown = "cs_test_doesNotExist123";

    let script = root.join("tests/browser/stripejs.mjs");
    let args = [shop.clone(), open.clone(), expired, unknown.to_string()];
    // The browser runs on a blocking thread so this runtime keeps serving the mock.
    let output =
        tokio::task::spawn_blocking(move || Command::new("node").arg(script).args(args).output())
            .await
            .expect("the browser thread finishes")
            .expect("node starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("{shop}/success?session_id={open}"),
        "{stdout}"
    );
    let session = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{open}"))
        .await;
    assert_eq!(session["status"], "complete");
    assert_eq!(session["customer_details"]["email"], "stripejs@example.com");
}
