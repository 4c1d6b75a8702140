use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let opts = bench::cli::Opts::parse();
    match bench::run(&opts).await {
        Ok(report) => {
            println!("{}", report.markdown());
            println!("written to {}", opts.out.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
