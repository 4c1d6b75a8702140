use std::process::ExitCode;

use storefront::{Application, Settings, Tuning};
use tracing_subscriber::EnvFilter;

#[tokio::main]
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
