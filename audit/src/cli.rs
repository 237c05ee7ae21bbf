//! The auditor's commands (`hotline audit …`, and the `hotline-audit` binary): verify, cross,
//! report. Exit codes: 0 clean, 4 invalid (tampering or a discrepancy, with the evidence; also a
//! file the bundle layout requires that is missing), 1 could not read (a directory that is no
//! bundle, bundles of different networks, an I/O error), 2 bad usage. With several bundles, 4 if
//! any is invalid, else 1 if any could not be read.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::Invalid;

/// `--json`.
#[derive(Args)]
pub struct JsonFlag {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// The exit status of a command whose standard output was closed under it (`hotline status |
/// head`): 141, as if SIGPIPE had ended it, which is what a shell expects of a pipeline's writer.
pub const CLOSED_PIPE_STATUS: i32 = 141;

/// Makes a write to a closed standard output end the command quietly with
/// [`CLOSED_PIPE_STATUS`], instead of Rust's panic ("failed printing to stdout: Broken pipe") and
/// status 101. Rust ignores SIGPIPE, so `println!` panics when the reader went away; this hook,
/// installed first thing in `main` by both binaries, is the one place that turns that into a clean
/// end. Every other panic is reported as before.
pub fn closed_stdout_ends_quietly() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(CLOSED_PIPE_STATUS);
        }
        default(info);
    }));
}

/// Writes `bytes` to standard output; a closed one is [`ClosedStdout`] (which ends the command
/// with [`CLOSED_PIPE_STATUS`]), not an error to report. For output written with `write`
/// rather than `println!`.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(ClosedStdout.into()),
        other => Ok(other?),
    }
}

/// Standard output was closed under the command: it ends quietly with [`CLOSED_PIPE_STATUS`].
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct ClosedStdout;

/// The exit code for an error of an audit command: 4 for an invalid bundle or a violation, 1
/// otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<Invalid>().is_some() {
        4
    } else {
        1
    }
}

/// What an auditor can do with bundles, public keys alone.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verifies each bundle: every signature (strict), the hash chain, the tree and its tiles,
    /// every checkpoint and cosignature. Names the first bad entry.
    Verify {
        /// Bundle directories.
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
        /// Signature-checking threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Reconciles several parties' bundles: same bytes on both sides, receipts and
    /// acknowledgements issued by the right party, co-signed checkpoints still true, no
    /// equivocation. Two bundles of one party's log are compared (the earlier must be a prefix).
    Cross {
        /// Bundle directories of one network, at least two (one bundle alone: `audit verify`).
        #[arg(required = true, num_args = 2..)]
        bundles: Vec<PathBuf>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Deadline compliance per party and precedence, every miss with its evidence.
    Report {
        /// Bundle directories.
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
}

/// How `audit report` prints.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Plain text for people.
    Text,
    /// JSON for scripts.
    Json,
    /// A self-contained HTML page with a timeline.
    Html,
}

/// Runs an audit command.
pub fn run(command: AuditCommand) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match command {
        AuditCommand::Verify { bundles, threads, json } => {
            // Every bundle is checked and reported by name, whatever the others gave.
            let mut results = Vec::new();
            let (mut invalid, mut unreadable) = (0, 0);
            for dir in &bundles {
                let started = std::time::Instant::now();
                let mut last_pct = 0;
                let outcome = crate::bundle::verify(dir, threads.unwrap_or(cores), |done, total| {
                    let pct = done * 100 / total.max(1);
                    if total >= 100_000 && pct >= last_pct + 10 {
                        last_pct = pct;
                        eprintln!("{}: {pct} % ({done} of {total} entries)", dir.display());
                    }
                });
                let secs = started.elapsed().as_secs_f64();
                match outcome {
                    Ok(v) => {
                        if !json.json {
                            println!(
                                "{}: OK — {}'s log, {} entries, root {}, {} checkpoint notes, {} cosignatures ({:.0} entries/s)",
                                dir.display(),
                                v.manifest.name,
                                v.manifest.size,
                                v.manifest.root,
                                v.notes,
                                v.cosignatures,
                                v.manifest.size as f64 / secs.max(1e-9)
                            );
                        }
                        results.push(
                            serde_json::json!({"bundle": dir, "ok": true, "verified": v, "seconds": secs}),
                        );
                    }
                    Err(e) => {
                        let is_invalid = exit_code(&e) == 4;
                        if is_invalid {
                            invalid += 1;
                        } else {
                            unreadable += 1;
                        }
                        let outcome = if is_invalid { "invalid" } else { "unreadable" };
                        if !json.json {
                            println!(
                                "{}: {} — {e:#}",
                                dir.display(),
                                if is_invalid { "INVALID" } else { "COULD NOT READ" }
                            );
                        }
                        results.push(serde_json::json!({"bundle": dir, "ok": false, "outcome": outcome, "error": format!("{e:#}"), "seconds": secs}));
                    }
                }
            }
            if json.json {
                let ok = invalid == 0 && unreadable == 0;
                println!(
                    "{}",
                    serde_json::json!({"format": "cbm-hotline-audit-verify/1", "ok": ok, "bundles": results})
                );
            }
            let total = bundles.len();
            if invalid > 0 {
                return Err(Invalid(format!("{invalid} of {total} bundles do not verify")).into());
            }
            if unreadable > 0 {
                anyhow::bail!("{unreadable} of {total} bundles could not be read");
            }
            Ok(())
        }
        AuditCommand::Cross { bundles, json } => {
            let (roster, parties) = crate::cross::load(&bundles, cores)?;
            let findings = crate::cross::cross(&roster, &parties);
            let violations = findings.iter().filter(|f| f.violation).count();
            if json.json {
                println!(
                    "{}",
                    serde_json::json!({"format": "cbm-hotline-audit-cross/1", "parties": parties.len(), "violations": violations, "findings": findings})
                );
            } else {
                for f in &findings {
                    let evidence: Vec<String> =
                        f.evidence.iter().map(|(p, i)| format!("{p} entry {i}")).collect();
                    let tag = if f.violation { "VIOLATION" } else { "note" };
                    println!("{tag} {}: {} [{}]", f.kind, f.detail, evidence.join(", "));
                }
                println!(
                    "{} logs reconciled: {violations} violations, {} notes",
                    parties.len(),
                    findings.len() - violations
                );
            }
            if violations > 0 {
                return Err(Invalid(format!("{violations} violations between the logs")).into());
            }
            Ok(())
        }
        AuditCommand::Report { bundles, format } => {
            let (roster, parties) = crate::cross::load(&bundles, cores)?;
            let report = crate::report::report(&roster, &parties);
            match format {
                ReportFormat::Text => print!("{}", crate::report::text(&report)),
                ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                ReportFormat::Html => print!("{}", crate::report::html(&report)),
            }
            Ok(())
        }
    }
}
