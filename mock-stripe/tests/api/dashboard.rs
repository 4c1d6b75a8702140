//! `/_config/dashboard`: the page a person looks at, and its Resend button.

use crate::helpers::{Receiver, client, spawn_mock};

const KEY: &str = "sk_test_dashboard";

#[tokio::test]
async fn without_a_key_the_dashboard_asks_for_one_and_never_shows_another_account() {
    let mock = spawn_mock(vec![]).await;
    mock.create_session(KEY).await;
    let page = client()
        .get(mock.url("/_config/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"key\""), "asks for a key");
    assert!(!html.contains("cs_test_"), "shows nothing without a key");

    let bad = client()
        .get(mock.url("/_config/dashboard?key=pk_test_nope"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bad.contains("class=\"error\""), "{bad}");
    let other = client()
        .get(mock.url("/_config/dashboard?key=sk_test_someone_else"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !other.contains("cs_test_"),
        "keys never see each other's objects"
    );
}

#[tokio::test]
async fn the_dashboard_shows_sessions_events_attempts_and_resends() {
    let mut hook = Receiver::start().await;
    let mock = spawn_mock(vec![hook.target()]).await;
    let session = mock.create_session(KEY).await;
    let id = session["id"].as_str().unwrap();
    let done = mock
        .post(
            KEY,
            &format!("/_config/checkout/sessions/{id}/complete"),
            "",
        )
        .await;
    assert_eq!(done.status(), 200);
    let completed = hook.wait_for("checkout.session.completed").await;
    let event_id = completed.json()["id"].as_str().unwrap().to_string();

    let url = mock.url(&format!("/_config/dashboard?key={KEY}"));
    let html = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(id), "the session");
    assert!(html.contains(&event_id), "the event");
    assert!(html.contains("class=\"attempt\""), "the delivery attempts");
    assert!(html.contains("sk_test_****oard"), "the key, masked");
    assert!(
        html.contains("T-shirt") || html.contains("$39.98"),
        "{html}"
    );

    let resend = client()
        .post(mock.url("/_config/dashboard/redeliver"))
        .form(&[("key", KEY), ("event", event_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resend.status(), 303);
    assert!(
        resend.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/_config/dashboard?key=")
    );
    let again = hook.wait_for("checkout.session.completed").await;
    assert_eq!(
        again.json()["id"],
        event_id.as_str(),
        "the same event, sent again"
    );
    assert!(
        crate::helpers::verify(&again, &hook.target().secret)
            .id
            .as_str()
            == event_id
    );
}
