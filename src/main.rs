//! The `udpmsg` binary: parse arguments, run the command, exit with its code.

use clap::Parser;
use std::process::ExitCode;
use udpmsg::{app, cli::Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("udpmsg: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
