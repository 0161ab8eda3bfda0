use std::process::ExitCode;

use clap::Parser;

/// mimalloc: a server that allocates a few small buffers per request spends noticeably less
/// CPU in it than in glibc's malloc (measured in docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = match dlpgate::config_file::expand(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("dlpgate: error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = dlpgate::cli::Cli::parse_from(args);
    dlpgate::cli::run(cli)
}
