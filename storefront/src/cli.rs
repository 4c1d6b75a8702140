//! The `storefront` program: settings from the environment, then the shop until a signal.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use crate::{Application, Settings, Tuning};

/// Starts tokio and runs the shop. Blocking and not generic, so the binary only links it:
/// with `#[tokio::main]` in `main.rs`, a release build compiled the library's async code a
/// second time into the binary (73 s of a clean build).
pub fn run() -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(main()),
        Err(err) => {
            eprintln!("storefront: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn main() -> ExitCode {
    // Logs go to stderr so stdout carries only the "listening on" line.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let (settings, tuning) = match Settings::from_env().and_then(|s| Ok((s, Tuning::from_env()?))) {
        Ok(both) => both,
        Err(err) => {
            eprintln!("storefront: {err}");
            return ExitCode::from(2);
        }
    };
    let app = match Application::build_tuned(settings, tuning).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("storefront: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    println!("storefront listening on {}", app.base_url());
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("storefront: {err}");
            ExitCode::FAILURE
        }
    }
}
