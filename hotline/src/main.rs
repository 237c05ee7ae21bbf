//! `hotline`: the CBM hotline node and its operator, tester and auditor commands in one binary.
//! Each family of commands lives in the crate for its job; this file only puts them side by side.
//!
//! Exit codes: 0 success; 1 error; 2 bad usage; 3 the node is not running; 4 the node or the
//! input refused the request (an invalid notice, an unknown id, a bundle that does not verify).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// The CBM hotline: signed, deadline-bound notification of military AI incidents between parties.
#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "The CBM hotline: signed, deadline-bound notification of military AI incidents between parties",
    long_about = None,
    propagate_version = true
)]
struct Cli {
    /// The node directory (key, configuration, roster, store), for the node and operator
    /// commands; given before the command (`hotline --home DIR status`).
    #[arg(long, env = "HOTLINE_HOME", default_value = ".")]
    home: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Plays scenario S1 on a temporary three-node network and prints the timeline.
    Demo(hotline_testnet::demo::DemoArgs),
    /// End-to-end benchmarks on real nodes over loopback, each figure against its floor measured
    /// in the same run; writes results.json, summary.md and SVG plots.
    Bench(hotline_bench::BenchArgs),
    #[command(flatten)]
    Node(hotline_node::cli::Command),
    /// Verifies audit bundles with public keys alone (no node, no private key needed).
    /// Exit codes: 0 clean, 4 invalid (tampering or a discrepancy, with the evidence), 1 could
    /// not read.
    #[command(subcommand)]
    Audit(hotline_audit::cli::AuditCommand),
    /// Local multi-node networks for testing.
    #[command(subcommand)]
    Testnet(hotline_testnet::testnet::TestnetCommand),
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(args) => hotline_testnet::demo::run(args),
        Command::Bench(args) => hotline_bench::run(args),
        Command::Node(command) => hotline_node::cli::run(&cli.home, command),
        Command::Audit(command) => hotline_audit::cli::run(command),
        Command::Testnet(command) => hotline_testnet::testnet::run(command),
    }
}

fn main() -> ExitCode {
    hotline_audit::cli::closed_stdout_ends_quietly();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(hotline_node::cli::exit_code(&e))
        }
    }
}
