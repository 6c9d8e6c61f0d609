//! The `roster` binary: parse, run, print the error chain, exit with DESIGN.md's status.

use std::process::ExitCode;

use clap::Parser;
use roster_host::cli::Cli;

// A sync allocates and frees millions of small strings (parsed records, people, JSON rows);
// glibc's allocator spent a fifth of a 100k-person sync in malloc and free; mimalloc
// makes that sync about 10% faster and its peak 15% smaller.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(roster_host::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`roster users | head`) is not a failure.
        Err(e) if roster_host::error::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let code = roster_host::error::exit_code(&e);
            // A held change is not a failure: it says so itself (`held: ...`).
            if code == 3 {
                eprintln!("{e:#}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(code)
        }
    }
}
