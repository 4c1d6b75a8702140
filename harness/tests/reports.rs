//! The reports CI publishes say what happened: JUnit has one case per scenario and the
//! failure with its steps; the HTML lists failures first with their timeline; JSON has it all.

use harness::report::{RunReport, write_html, write_junit};
use harness::scenarios::{Scenario, run_isolated};
use harness::stack::StackOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_html_and_json_carry_each_scenario_and_the_failure() {
    let passing = run_isolated(Scenario::PayWithTestCard, StackOptions::default()).await;
    let failing = run_isolated(
        Scenario::WebhookDuplicated,
        StackOptions {
            // The shop cannot verify anything: the scenario must fail, and say why.
            mock_signing_secret: Some("whsec_not_the_shops".into()),
            ..StackOptions::default()
        },
    )
    .await;
    assert!(passing.passed() && !failing.passed());
    let run = RunReport {
        database: "sqlite".into(),
        seconds: 1.0,
        scenarios: vec![passing, failing],
    };
    let dir = tempfile::tempdir().unwrap();
    let (xml, html, json) = (
        dir.path().join("r.xml"),
        dir.path().join("r.html"),
        dir.path().join("r.json"),
    );
    write_junit(&run, &xml).unwrap();
    write_html(&run, &html).unwrap();
    run.write_json(&json).unwrap();

    let xml = std::fs::read_to_string(xml).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 2, "{xml}");
    assert!(xml.contains("name=\"webhook-duplicated\""));
    assert!(xml.contains("<failure"), "{xml}");
    assert!(
        xml.contains("steps:"),
        "the failure carries the timeline: {xml}"
    );

    let html = std::fs::read_to_string(html).unwrap();
    let failed_at = html.find("id=\"webhook-duplicated\"").unwrap();
    let passed_at = html.find("id=\"pay-with-test-card\"").unwrap();
    assert!(failed_at < passed_at, "failures come first");
    assert!(html.contains("1 passed, 1 failed"));
    assert!(
        html.contains("class=\"actor shopper\""),
        "a timeline is shown"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(json["scenarios"][1]["outcome"], "failed");
    assert!(json["scenarios"][0]["timeline"].as_array().unwrap().len() > 5);
}
