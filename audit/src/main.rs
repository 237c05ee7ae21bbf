//! `hotline-audit`: the auditor's commands for people who run no node (the same as
//! `hotline audit`). Exit codes: 0 clean, 4 invalid, 1 could not read, 2 bad usage.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

/// Verifies CBM hotline audit bundles with public keys alone.
#[derive(Parser)]
#[command(
    name = "hotline-audit",
    version,
    about = "Verifies CBM hotline audit bundles with public keys alone (no node, no private key)",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: hotline_audit::cli::AuditCommand,
}

fn main() -> ExitCode {
    hotline_audit::cli::closed_stdout_ends_quietly();
    let cli = Cli::parse();
    match hotline_audit::cli::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(hotline_audit::cli::exit_code(&e))
        }
    }
}
