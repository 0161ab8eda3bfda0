use std::process::ExitCode;

use clap::Parser;

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
