//! Keeps the benchmark compiling and working: a quick run in debug, every row present with
//! a positive rate, the resources measured, purchase flows that complete, and a clean build
//! timed (of a one-crate workspace: the real one takes minutes).

use std::path::Path;

use clap::Parser;

/// A workspace of one binary crate at `dir`, whose `main.rs` is `main`.
fn small_workspace(dir: &Path, main: &str) {
    let write = |path: &str, text: &str| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"hello\"]\nresolver = \"2\"\n",
    );
    write(
        "hello/Cargo.toml",
        "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write("hello/src/main.rs", main);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_run_writes_every_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 temp path");
    let workspace = tempfile::tempdir().expect("temp dir");
    small_workspace(workspace.path(), "fn main() { println!(\"hello\"); }\n");
    let opts = bench::cli::Opts::parse_from([
        "bench",
        "--quick",
        // Peers start slowly (localstripe: seconds) and are optional on CI machines.
        "--no-peers",
        // wrk takes whole seconds; the wrk path is kept working by the test below and by
        // tests/generators.rs.
        "--load-generator",
        "built-in",
        "--duration",
        "0.5",
        // Two rounds keep the median-of-rounds path working.
        "--rounds",
        "2",
        "--connections",
        "8",
        "--stored",
        "500",
        "--idempotent",
        "1000",
        // One run of the flows is enough to keep them working (PostgreSQL too, when
        // TEST_POSTGRES_URL names a server, as on CI).
        "--shoppers",
        "2",
        "--clean-build",
        "--workspace",
        workspace.path().to_str().expect("utf-8 temp path"),
        "--out",
        out,
    ]);
    bench::run(&opts).await.expect("bench run");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bench.json")).expect("json"))
            .expect("valid JSON");
    assert!(
        json["servers"]
            .as_str()
            .is_some_and(|s| s.contains("the load generator's process")),
        "by default the servers run beside the load generator: {}",
        json["servers"]
    );
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
    // Retrieve's and list's answers from bare servers, byte for byte.
    expected.push(("bare server", "retrieve_bytes"));
    expected.push(("bare server", "list_bytes"));
    for (target, workload) in expected {
        let row = rows
            .iter()
            .find(|r| r["target"] == target && r["workload"] == workload)
            .unwrap_or_else(|| panic!("no row {target} {workload}"));
        assert!(
            row["rate"].as_f64().is_some_and(|r| r > 0.0),
            "{target} {workload}: {row}"
        );
        let (p99, max) = (row["p99_ms"].as_f64(), row["max_ms"].as_f64());
        assert!(
            p99.zip(max).is_some_and(|(p99, max)| max >= p99),
            "the longest request is at least p99: {row}"
        );
        let rounds = row["round_rates"].as_array().expect("round_rates");
        assert_eq!(rounds.len(), 2, "{target} {workload}: {row}");
        assert!(
            rounds.iter().any(|r| r.as_f64() == row["rate"].as_f64()),
            "the row is one of its rounds: {row}"
        );
        if target != "ceiling" {
            // Each round has its ceiling round beside it, and the ratio is one of theirs.
            let ceilings = row["ceiling_round_rates"].as_array().expect("ceilings");
            assert_eq!(ceilings.len(), rounds.len(), "{row}");
            // Each pass measures a round again at most MAX_REMEASURES times.
            let remeasured = row["remeasured"].as_u64().expect("remeasured");
            let most = bench::rounds::MAX_REMEASURES * rounds.len();
            assert!(remeasured <= most as u64, "{row}");
            let ratio = row["ratio"].as_f64().expect("ratio");
            assert!(
                rounds.iter().zip(ceilings).any(|(r, c)| {
                    (r.as_f64().unwrap() / c.as_f64().unwrap() - ratio).abs() < 1e-9
                }),
                "the ratio is one round's over its ceiling: {row}"
            );
        }
    }
    // The rows compared with each other, pass by pass.
    for figure in [
        "list_over_retrieve",
        "bare_list_over_retrieve",
        "many_keys_over_one",
    ] {
        let c = &json[figure];
        let passes = c["passes"].as_array().expect("every pass's ratio");
        assert_eq!(passes.len(), 2, "one per pass: {c}");
        assert!(
            c["median"]
                .as_f64()
                .is_some_and(|m| m > 0.0 && passes.iter().any(|p| p.as_f64() == Some(m))),
            "the median is one pass's ratio: {c}"
        );
    }
    // A compared row runs back to back with its partner, beside the same ceiling round, so
    // each pass's ratio is the two rounds' own rates.
    let mock_row = |w: &str| {
        rows.iter()
            .find(|r| r["target"] == "mock-stripe" && r["workload"] == w)
            .unwrap_or_else(|| panic!("no row {w}"))
    };
    let rates = |r: &serde_json::Value, key: &str| -> Vec<f64> {
        r[key]
            .as_array()
            .expect(key)
            .iter()
            .map(|x| x.as_f64().expect("a rate"))
            .collect()
    };
    for (row, partner, figure) in [
        ("list_sessions", "retrieve_session", "list_over_retrieve"),
        (
            "create_session_many_keys",
            "create_session",
            "many_keys_over_one",
        ),
    ] {
        let (a, b) = (mock_row(row), mock_row(partner));
        assert_eq!(
            rates(a, "ceiling_round_rates"),
            rates(b, "ceiling_round_rates"),
            "{row} shares {partner}'s ceiling rounds"
        );
        let own = rates(a, "round_rates")
            .into_iter()
            .zip(rates(b, "round_rates"))
            .map(|(x, y)| x / y);
        let passes = json[figure]["passes"].as_array().expect("passes");
        assert!(
            own.zip(passes)
                .all(|(o, p)| (o - p.as_f64().unwrap()).abs() < 1e-9),
            "{figure} is {row} ÷ {partner} pass by pass: {}",
            json[figure]
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
    let flows = json["flows"].as_array().expect("flows");
    let sqlite = flows
        .iter()
        .find(|r| r["database"] == "SQLite")
        .expect("a SQLite flow row");
    assert_eq!(sqlite["shoppers"], 2, "{sqlite}");
    if std::env::var("TEST_POSTGRES_URL").is_ok_and(|u| !u.trim().is_empty()) {
        assert!(
            flows.iter().any(|r| r["database"] == "PostgreSQL"),
            "{flows:?}"
        );
    }
    for r in flows {
        // Completed flows are checked against the shop's paid orders by the run itself.
        assert!(r["flows"].as_u64().is_some_and(|n| n > 0), "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert_eq!(r["webhook_failures"], 0, "{r}");
        assert!(r["webhook_samples"].as_u64().is_some_and(|n| n > 0), "{r}");
    }
    assert!(dir.path().join("bench.md").is_file());

    // The clean build: timed, cargo's own report kept, and nothing built into the
    // workspace's own target folder (the build had an empty one of its own).
    let build = &json["clean_build"];
    assert!(build["wall_s"].as_f64().is_some_and(|s| s > 0.0), "{build}");
    assert!(build["cpu_s"].as_f64().is_some_and(|s| s > 0.0), "{build}");
    assert_eq!(
        build["command"], "cargo build --release --workspace --timings",
        "{build}"
    );
    let timings = std::fs::read_to_string(dir.path().join("cargo-timing.html"))
        .expect("cargo's timings report beside bench.json");
    assert!(
        timings.contains("hello"),
        "the report names the crate built"
    );
    assert!(!workspace.path().join("target").exists());
    let md = std::fs::read_to_string(dir.path().join("bench.md")).expect("bench.md");
    assert!(
        md.contains("Clean release build of the workspace: **"),
        "the table says how long the build took"
    );
}

/// A build that fails is an error naming what the compiler said, not a time.
#[tokio::test]
async fn a_clean_build_that_fails_says_why() {
    let workspace = tempfile::tempdir().expect("temp dir");
    small_workspace(
        workspace.path(),
        "fn main() { let x: u8 = \"not a number\"; }\n",
    );
    let out = tempfile::tempdir().expect("temp dir");
    let err = bench::clean_build::measure(workspace.path(), out.path())
        .await
        .expect_err("the crate does not compile");
    let msg = format!("{err:#}");
    assert!(msg.contains("the clean build failed"), "{msg}");
    assert!(msg.contains("mismatched types"), "{msg}");

    let nowhere = workspace.path().join("absent");
    let err = bench::clean_build::measure(&nowhere, out.path())
        .await
        .expect_err("no workspace there");
    assert!(format!("{err:#}").contains("no Cargo.toml"), "{err:#}");
}

/// `--workspace` names what `--clean-build` builds; alone it is a mistake clap reports,
/// and a folder with nothing to build is refused before anything is measured.
#[test]
fn workspace_needs_clean_build_and_a_cargo_toml() {
    let err = bench::cli::Opts::try_parse_from(["bench", "--workspace", "/tmp"])
        .expect_err("--workspace alone");
    assert!(err.to_string().contains("--clean-build"), "{err}");

    let empty = tempfile::tempdir().expect("temp dir");
    let path = empty.path().to_str().expect("utf-8 temp path");
    let opts = bench::cli::Opts::try_parse_from(["bench", "--clean-build", "--workspace", path])
        .expect("options parse");
    let err = opts.settings().expect_err("nothing to build there");
    assert!(err.contains("no Cargo.toml"), "{err}");
}

/// A build that fails at the end of a run fails the run, but the figures measured before
/// it are written, with the build's error among the notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_clean_build_keeps_the_figures_before_it() {
    let workspace = tempfile::tempdir().expect("temp dir");
    small_workspace(workspace.path(), "fn main() { undefined_function(); }\n");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 temp path");
    let opts = bench::cli::Opts::parse_from([
        "bench",
        "--quick",
        "--no-peers",
        "--api-only",
        "--workloads",
        "create",
        "--load-generator",
        "built-in",
        "--duration",
        "0.2",
        "--stored",
        "10",
        "--clean-build",
        "--workspace",
        workspace.path().to_str().expect("utf-8 temp path"),
        "--out",
        out,
    ]);
    let err = bench::run(&opts).await.expect_err("the build fails");
    assert!(
        format!("{err:#}").contains("the other figures are written to"),
        "{err:#}"
    );
    let md = std::fs::read_to_string(dir.path().join("bench.md")).expect("bench.md written");
    assert!(
        md.contains("| mock-stripe | create Checkout Session |"),
        "{md}"
    );
    assert!(md.contains("The clean release build failed"), "{md}");
    assert!(
        md.contains("undefined_function"),
        "the compiler's words: {md}"
    );
}

/// `--own-processes`: the ceiling (this crate's binary) and the mock-stripe binary are
/// measured in processes of their own, and the report says so. The load generator is
/// wrk when it is installed (on CI: BENCH_REQUIRE_WRK=1 says it must be).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_processes_run_the_servers_as_binaries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 temp path");
    let opts = bench::cli::Opts::parse_from([
        "bench",
        "--quick",
        "--api-only",
        "--own-processes",
        // The binary cargo built for this test: asking cargo to build it again from here
        // would build it with other features.
        "--ceiling-bin",
        env!("CARGO_BIN_EXE_bench"),
        "--no-peers",
        "--workloads",
        "create,many-keys",
        "--duration",
        "0.5",
        "--connections",
        "8",
        "--out",
        out,
    ]);
    let report = bench::run(&opts).await.expect("bench run");
    assert!(
        report.servers.contains("a process of its own"),
        "{}",
        report.servers
    );
    let workloads: Vec<_> = report
        .rows
        .iter()
        .map(|r| (r.target.as_str(), r.stats.rate > 0.0))
        .collect();
    assert_eq!(
        workloads,
        [
            ("ceiling", true),
            ("mock-stripe", true),
            ("mock-stripe", true)
        ],
        "the ceiling and both create rows, each with a rate"
    );
    assert!(report.many_keys_over_one.is_some());
    let wrk_required = std::env::var_os("BENCH_REQUIRE_WRK").is_some_and(|v| v == "1");
    if wrk_required || bench::wrk::version().await.is_some() {
        assert!(
            report.load_generator.starts_with("wrk "),
            "{}",
            report.load_generator
        );
    }
}
