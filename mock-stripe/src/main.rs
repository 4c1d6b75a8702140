//! `mock-stripe`: the fake Stripe (the default command) and the client commands `listen`,
//! `trigger` and `fixtures`. Everything is in the library's `cli` module.

/// mimalloc instead of glibc's allocator: every request allocates a few dozen times, and
/// with glibc a session create ran ~25% slower (bench/README.md). The library leaves
/// the choice to whoever embeds it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mock_stripe::cli::run()
}
