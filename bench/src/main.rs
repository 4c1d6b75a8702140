/// The allocator of the mock-stripe binary, since the bench runs the mock (and the
/// ceiling and the load generator beside it) in its own process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    bench::cli::run()
}
