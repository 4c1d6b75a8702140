//! The clean release build of the workspace (issue 9: ≤ 6 minutes on two cores), measured
//! when asked (`--clean-build`): it takes minutes of both cores, so it is not part of every
//! run, and it runs after everything else so that it disturbs no other figure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// Issue 9's target for the wall clock, in seconds.
pub const TARGET_S: f64 = 360.0;

/// What one clean build took.
#[derive(Clone, Debug, Serialize)]
pub struct CleanBuild {
    /// The command, as one would type it in the workspace's folder.
    pub command: String,
    pub workspace: PathBuf,
    pub wall_s: f64,
    /// User + system CPU time of cargo and everything it ran (rustc, cc, linkers).
    pub cpu_s: f64,
    /// cargo's `--timings` report, copied next to the bench's own (what dominates).
    pub timings: Option<PathBuf>,
}

/// Why `dir` cannot be built as `--workspace`, if it cannot: no Cargo.toml there.
pub fn unbuildable(dir: &Path) -> Option<String> {
    (!dir.join("Cargo.toml").is_file()).then(|| {
        format!(
            "--workspace {}: no Cargo.toml there to build",
            dir.display()
        )
    })
}

/// Builds `workspace` in release from an empty target folder (a temporary one, removed
/// afterwards), and copies cargo's timings report into `out`.
pub async fn measure(workspace: &Path, out: &Path) -> Result<CleanBuild> {
    if let Some(why) = unbuildable(workspace) {
        bail!(why);
    }
    let target = tempfile::Builder::new()
        .prefix("bench-clean-build")
        .tempdir()
        .context("making an empty target folder for the clean build")?;
    let cargo = crate::workspace::cargo();
    let args = ["build", "--release", "--workspace", "--timings"];
    let mut cmd = Command::new(&cargo);
    cmd.args(args)
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // On a blocking thread with std's process API, as wrk runs: tokio's `process` feature
    // would be one more tokio build beside the one the other crates share.
    let (output, wall, cpu) = tokio::task::spawn_blocking(move || {
        let cpu_before = children_cpu();
        let started = Instant::now();
        let output = cmd.output();
        (
            output,
            started.elapsed(),
            children_cpu().saturating_sub(cpu_before),
        )
    })
    .await
    .context("the clean build's thread")?;
    let output = output.with_context(|| format!("running {}", Path::new(&cargo).display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "the clean build failed ({}):\n{}",
            output.status,
            tail.join("\n")
        );
    }
    let timings = copy_timings(target.path(), out)?;
    Ok(CleanBuild {
        command: format!("cargo {}", args.join(" ")),
        workspace: workspace.to_path_buf(),
        wall_s: wall.as_secs_f64(),
        cpu_s: cpu.as_secs_f64(),
        timings,
    })
}

/// cargo writes `cargo-timings/cargo-timing.html` in the target folder, which is about to
/// be removed.
fn copy_timings(target: &Path, out: &Path) -> Result<Option<PathBuf>> {
    let from = target.join("cargo-timings").join("cargo-timing.html");
    if !from.is_file() {
        return Ok(None);
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let to = out.join("cargo-timing.html");
    std::fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
    Ok(Some(to))
}

/// User + system CPU time of this process's children that have ended and been waited for
/// (and of their own waited-for children: cargo waits for every rustc it starts).
fn children_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` fills the struct it is given and reads nothing else; on failure
    // (it has none for RUSAGE_CHILDREN) the zeroed struct is used.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// "5 min 28 s" for a wall clock.
pub fn minutes(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    match (whole / 60, whole % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_read_as_a_person_would_say_them() {
        assert_eq!(minutes(328.4), "5 min 28 s");
        assert_eq!(minutes(59.6), "1 min");
        assert_eq!(minutes(360.0), "6 min");
        assert_eq!(minutes(7.2), "7 s");
    }
}
