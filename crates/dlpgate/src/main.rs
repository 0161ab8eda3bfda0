use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = dlpgate::cli::Cli::parse();
    dlpgate::cli::run(cli)
}
