use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    harness::cli::main(harness::cli::Cli::parse()).await
}
