//! `mock-stripe`: the fake Stripe (the default command) and the client commands `listen`,
//! `trigger` and `fixtures`. Everything is in the library's `cli` module.

fn main() -> std::process::ExitCode {
    mock_stripe::cli::run()
}
