//! `hotline`: the CBM hotline node and its operator, tester and auditor commands in one binary.
//! Each family of commands lives in the crate for its job; this file only puts them side by side.
//!
//! Exit codes: 0 success; 1 error; 2 bad usage; 3 the node is not running; 4 the node or the
//! input refused the request (an invalid notice, an unknown id, a bundle that does not verify).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};

/// The CBM hotline: signed, deadline-bound notification of military AI incidents between parties.
#[derive(Parser)]
#[command(
    name = "hotline",
    version = version(),
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
    /// Serves the watch-floor console of the node in --home: a web console for its officers
    /// (duty board, notices, compose, release by a second officer, hand-over), on 127.0.0.1 by
    /// default. Officers log in with the accounts of `hotline officer`.
    Console(hotline_console::ConsoleArgs),
    /// Verifies audit bundles with public keys alone (no node, no private key needed).
    /// Exit codes: 0 clean, 4 invalid (tampering or a discrepancy, with the evidence), 1 could
    /// not read.
    #[command(subcommand)]
    Audit(hotline_audit::cli::AuditCommand),
    /// Local multi-node networks for testing.
    #[command(subcommand)]
    Testnet(hotline_testnet::testnet::TestnetCommand),
    /// Prints a shell completion script (e.g. `hotline completions bash >
    /// /etc/bash_completion.d/hotline`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Writes the manual pages (hotline.1 and one per command, hotline-send.1, ...) to a
    /// directory (e.g. /usr/local/share/man/man1).
    Man {
        /// The directory to write them to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// `0.1.0 (commit 1a2b3c4d5e6f, wire protocol 1, operator API 1)`: what a bug report needs.
fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{} (commit {}, wire protocol {}, operator API {})",
            env!("CARGO_PKG_VERSION"),
            env!("HOTLINE_COMMIT"),
            hotline_proto::wire::VERSION,
            hotline_node::api::API_VERSION
        )
    })
}

/// Writes `hotline.1` and a page for every command below it, named by its path
/// (`hotline-testnet-up.1`).
fn man_pages(command: &clap::Command, prefix: &str, out: &std::path::Path) -> Result<usize> {
    use anyhow::Context;
    let name = if prefix.is_empty() {
        command.get_name().to_string()
    } else {
        format!("{prefix}-{}", command.get_name())
    };
    let page = command.clone().name(name.clone());
    let path = out.join(format!("{name}.1"));
    let mut text = Vec::new();
    clap_mangen::Man::new(page).render(&mut text)?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    let mut written = 1;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        written += man_pages(sub, &name, out)?;
    }
    Ok(written)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(args) => hotline_testnet::demo::run(args),
        Command::Bench(args) => hotline_bench::run(args),
        Command::Node(command) => hotline_node::cli::run(&cli.home, command),
        Command::Console(args) => {
            hotline_node::cli::init_tracing(hotline_node::cli::LogFormat::Human);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .max_blocking_threads(hotline_console::BLOCKING_THREADS)
                .build()?;
            runtime.block_on(hotline_console::serve(hotline_node::home::Home::new(&cli.home), args))
        }
        Command::Audit(command) => hotline_audit::cli::run(command),
        Command::Testnet(command) => hotline_testnet::testnet::run(command),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hotline", &mut script);
            hotline_audit::cli::write_stdout(&script)?;
            Ok(())
        }
        Command::Man { out } => {
            let mut command = Cli::command();
            command.build();
            let n = man_pages(&command, "", &out)?;
            eprintln!("wrote {n} manual pages to {}", out.display());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    hotline_audit::cli::closed_stdout_ends_quietly();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`hotline … | head`) is no error to report.
        Err(e) if e.downcast_ref::<hotline_audit::cli::ClosedStdout>().is_some() => {
            ExitCode::from(hotline_audit::cli::CLOSED_PIPE_STATUS as u8)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(hotline_node::cli::exit_code(&e))
        }
    }
}
