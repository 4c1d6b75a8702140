//! Keeps the benchmark compiling and working: a quick run in debug, every row present with
//! a positive rate, and the resources measured.

use clap::Parser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_run_writes_every_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 temp path");
    let opts = bench::cli::Opts::parse_from([
        "bench",
        "--quick",
        // Peers start slowly (localstripe: seconds) and are optional on CI machines.
        "--no-peers",
        "--duration",
        "0.5",
        "--connections",
        "8",
        "--stored",
        "500",
        "--idempotent",
        "1000",
        "--out",
        out,
    ]);
    bench::run(&opts).await.expect("bench run");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bench.json")).expect("json"))
            .expect("valid JSON");
    let rows = json["rows"].as_array().expect("rows");
    let mut expected = vec![("ceiling", "fixed_body")];
    for w in [
        "create_session",
        "retrieve_session",
        "list_sessions",
        "create_session_idempotent",
        "create_session_many_keys",
        "create_customer",
    ] {
        expected.push(("mock-stripe", w));
    }
    for (target, workload) in expected {
        let row = rows
            .iter()
            .find(|r| r["target"] == target && r["workload"] == workload)
            .unwrap_or_else(|| panic!("no row {target} {workload}"));
        assert!(
            row["rate"].as_f64().is_some_and(|r| r > 0.0),
            "{target} {workload}: {row}"
        );
    }
    // Peers, when installed, did the one workload they share.
    for r in rows
        .iter()
        .filter(|r| r["target"] != "ceiling" && r["target"] != "mock-stripe")
    {
        assert!(r["rate"].as_f64().is_some_and(|x| x > 0.0), "{r}");
    }
    let resources = json["resources"].as_array().expect("resources");
    assert!(resources.len() >= 6, "{resources:?}");
    assert!(
        resources
            .iter()
            .all(|r| r["value"].as_f64().is_some_and(|v| v > 0.0))
    );
    assert!(dir.path().join("bench.md").is_file());
}
