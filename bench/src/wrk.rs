//! wrk as the load generator, when it is installed (issue 9: "wrk when installed, or a
//! built-in Rust client"): one wrk process per round, sending what the workload's
//! [`Plan`] says through a Lua script written from it, so that wrk and the built-in client
//! send the same requests.
//!
//! Every row goes through the script's `request()` function, the ceiling's too, even where
//! wrk could send one fixed request without calling Lua: a fixed request is cheaper for
//! wrk, which shares this machine's two cores with the server, so a row sent that way
//! would be measured with a lighter load generator than a row that needs the function
//! (50 keys in turn). Measured: 50 keys ÷ one key came out 0.94 with the one key fixed and
//! 1.04 with both through `request()`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::loadgen::{self, Load, Plan};
use crate::rounds::Stats;

/// The line the script's `done()` prints, before its figures.
const RESULT_TAG: &str = "bench-wrk-result";

/// wrk's version line (`wrk 4.2.0 [epoll]`), or `None` when no `wrk` runs from `PATH`.
pub async fn version() -> Option<String> {
    let mut cmd = Command::new("wrk");
    cmd.arg("--version");
    let out = output(cmd).await.ok()?;
    // `wrk --version` prints its version and usage and exits with 1.
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?.trim();
    let line = line.split(" Copyright").next().unwrap_or(line).trim();
    line.starts_with("wrk ").then(|| line.to_string())
}

/// wrk takes whole seconds: a duration is rounded up, to at least one.
pub fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
}

/// One round against `addr` with `threads` wrk threads: a warm-up run (not counted) when
/// `load.warmup` is not zero, then the measured run.
pub async fn round(addr: SocketAddr, plan: &Plan, load: Load, threads: usize) -> Result<Stats> {
    let dir = tempfile::tempdir().context("a folder for wrk's script")?;
    let script_path = dir.path().join("round.lua");
    std::fs::write(&script_path, script(plan, &loadgen::round_prefix()))
        .context("writing wrk's script")?;
    let run = |d: Duration| run_wrk(addr, &script_path, load.connections, threads, d);
    if !load.warmup.is_zero() {
        run(load.warmup).await.context("wrk's warm-up run")?;
    }
    let figures = run(load.duration).await?;
    figures.stats(addr)
}

async fn run_wrk(
    addr: SocketAddr,
    script: &Path,
    connections: usize,
    threads: usize,
    duration: Duration,
) -> Result<Figures> {
    let mut cmd = Command::new("wrk");
    cmd.arg(format!(
        "--threads={}",
        threads.clamp(1, connections.max(1))
    ))
    .arg(format!("--connections={connections}"))
    .arg(format!("--duration={}s", whole_seconds(duration)))
    // wrk's default, 2 s, would count a slow request as an error rather than measure it.
    .arg("--timeout=30s")
    .arg("--script")
    .arg(script)
    .arg(format!("http://{addr}/"));
    let out = output(cmd).await.context("running wrk")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            stdout.trim()
        );
    }
    parse(&stdout)
}

/// Runs `cmd` to its end on a blocking thread (std's process API: tokio's `process`
/// feature would be one more tokio build beside the one the other crates share).
async fn output(mut cmd: Command) -> std::io::Result<Output> {
    cmd.stdin(Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(std::io::Error::other)?
}

/// What wrk's summary gives for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Answers read in the run, whatever their status.
    pub requests: u64,
    pub duration_us: u64,
    /// Answers with a status of 400 or more (wrk's `errors.status`).
    pub status_errors: u64,
    /// Connect, read, write and timeout errors.
    pub socket_errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Figures {
    fn stats(&self, addr: SocketAddr) -> Result<Stats> {
        let ok = self.requests.saturating_sub(self.status_errors);
        if ok == 0 {
            bail!(
                "no successful request to {addr} ({} answers of 400 or more, {} socket errors)",
                self.status_errors,
                self.socket_errors
            );
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Ok(Stats {
            requests: ok,
            errors: self.status_errors + self.socket_errors,
            rate: ok as f64 / (self.duration_us.max(1) as f64 / 1e6),
            p50_ms: ms(self.p50_us),
            p99_ms: ms(self.p99_us),
            max_ms: ms(self.max_us),
            round_rates: Vec::new(),
            ceiling_round_rates: Vec::new(),
            remeasured: 0,
        })
    }
}

/// Reads the line the script's `done()` printed.
pub fn parse(stdout: &str) -> Result<Figures> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_TAG))
        .ok_or_else(|| anyhow!("wrk printed no result line: {}", stdout.trim()))?;
    let n: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("wrk's result line {line:?}"))?;
    let [
        requests,
        duration_us,
        connect,
        read,
        write,
        status,
        timeout,
        p50,
        p99,
        max,
    ] = n[..]
    else {
        bail!(
            "wrk's result line has {} figures, not 10: {line:?}",
            n.len()
        );
    };
    Ok(Figures {
        requests,
        duration_us,
        status_errors: status,
        socket_errors: connect + read + write + timeout,
        p50_us: p50,
        p99_us: p99,
        max_us: max,
    })
}

/// The Lua script that sends `plan`'s requests: the API keys in turn, and with
/// `plan.idempotency_keys` a key per request, `nonce` followed by wrk's thread and the
/// thread's count.
pub fn script(plan: &Plan, nonce: &str) -> String {
    let keys: Vec<String> = plan
        .api_keys
        .iter()
        .map(|k| lua_string(&format!("Bearer {k}")))
        .collect();
    let body = if plan.body.is_empty() {
        "nil".to_string()
    } else {
        lua_string(&String::from_utf8_lossy(&plan.body))
    };
    let content_type = if plan.body.is_empty() {
        ""
    } else {
        r#"["Content-Type"] = "application/x-www-form-urlencoded", "#
    };
    format!(
        r#"-- Written by the bench for one round.
local method, path, body = {method}, {path}, {body}
local keys = {{ {keys} }}
local idempotent = {idempotent}
local nonce = {nonce}

local function headers(i)
  return {{ {content_type}["Authorization"] = keys[i] }}
end

local threads = 0
function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

local fixed = {{}}
function init(args)
  for i = 1, #keys do
    fixed[i] = wrk.format(method, path, headers(i), body)
  end
end

local n = 0
function request()
  n = n + 1
  local i = n % #keys + 1
  if idempotent then
    local h = headers(i)
    h["Idempotency-Key"] = nonce .. "-" .. thread_no .. "-" .. n
    return wrk.format(method, path, h, body)
  end
  return fixed[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("{RESULT_TAG} %d %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#,
        method = lua_string(plan.method.as_str()),
        path = lua_string(&plan.path),
        keys = keys.join(", "),
        idempotent = plan.idempotency_keys,
        nonce = lua_string(nonce),
    )
}

/// A Lua string literal: printable ASCII as it is, everything else escaped by byte.
fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_strings_escape_quotes_backslashes_and_bytes() {
        assert_eq!(lua_string("sk_test_1"), r#""sk_test_1""#);
        assert_eq!(lua_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(lua_string("é\n"), r#""\195\169\010""#);
    }

    #[test]
    fn the_result_line_gives_the_figures_and_counts_status_errors_apart() {
        let out = "Running 1s test\n  2 threads\nbench-wrk-result 1200 1000000 1 2 3 200 4 900 2500 7000\n";
        let f = parse(out).expect("a result line");
        assert_eq!(
            f,
            Figures {
                requests: 1200,
                duration_us: 1_000_000,
                status_errors: 200,
                socket_errors: 10,
                p50_us: 900,
                p99_us: 2500,
                max_us: 7000,
            }
        );
        let s = f
            .stats(SocketAddr::from(([127, 0, 0, 1], 9)))
            .expect("stats");
        assert_eq!((s.requests, s.errors), (1000, 210));
        assert_eq!(s.rate, 1000.0, "answers under 400 per second");
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (0.9, 2.5, 7.0));
    }

    #[test]
    fn a_run_without_a_result_or_success_is_an_error() {
        assert!(parse("Running 1s test\n").is_err());
        assert!(
            parse("bench-wrk-result 1 2 3\n").is_err(),
            "too few figures"
        );
        assert!(parse("bench-wrk-result 1 2 3 4 5 6 7 8 9 x\n").is_err());
        let all_failed = parse("bench-wrk-result 10 1000000 0 0 0 10 0 1 1 1").expect("parsed");
        assert!(
            all_failed
                .stats(SocketAddr::from(([127, 0, 0, 1], 9)))
                .is_err()
        );
    }

    #[test]
    fn whole_seconds_round_up() {
        assert_eq!(whole_seconds(Duration::from_millis(200)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(5)), 5);
        assert_eq!(whole_seconds(Duration::from_millis(5_100)), 6);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }
}
