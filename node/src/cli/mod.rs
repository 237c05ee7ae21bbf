//! The node and operator commands of `hotline`: clap definitions, human and JSON output, exit
//! codes. The `hotline` binary (package `hotline`) puts them beside the auditor's and testers'.
//!
//! Exit codes: 0 success; 1 error; 2 bad usage; 3 the node is not running; 4 the node or the
//! input refused the request (an invalid notice, an unknown id, ...).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use hotline_proto::CodedMessage;
use hotline_proto::{Body, Disposition, Incident, Precedence};

use crate::api::{
    CheckpointInfo, DraftRef, Event, Export, Inbox, NoticeInfo, NoticeRef, Request, SendRequest, Status,
    Thread, EXPORT_CHUNK,
};
use crate::client::{self, NotRunning, Refused};
use crate::home::{Config, Home};

mod compose;
pub mod incident;
mod notice;
mod officer;
mod print;
mod roster;
mod style;

use compose::attachment;
pub use compose::parse_texts;
pub use print::{describe, left, span};
use print::{print_inbox, print_sent, print_status, print_thread};
pub use roster::{build_roster, read_policy};
pub use style::colour_on;

/// The node and operator commands of `hotline`.
#[derive(Subcommand)]
pub enum Command {
    /// Generates an Ed25519 key (PKCS#8 PEM, mode 0600) and prints its public key.
    Keygen {
        /// Where to write the key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Creates a node directory with a new key and configuration; prints its member card.
    Init {
        /// This node's member name (a-z, 0-9, -).
        #[arg(long)]
        name: String,
        /// UDP address to listen on.
        #[arg(long, default_value = "0.0.0.0:4733")]
        listen: SocketAddr,
        /// Addresses peers reach this node at (host:port); default: the listen address.
        #[arg(long = "address")]
        addresses: Vec<String>,
        /// Languages this party's officers read.
        #[arg(long = "language", default_value = "en")]
        languages: Vec<String>,
    },
    /// Builds and inspects rosters (network definitions).
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Runs the node until SIGINT or SIGTERM.
    Run {
        /// Log format.
        #[arg(long, value_enum, default_value = "human")]
        log_format: LogFormat,
        /// Reach member NAME at ADDR (host:port) instead of its roster address, for this run only
        /// (repeatable; `testnet up --faults` routes links through relays this way). Lasting
        /// overrides belong in config.toml's [peers].
        #[arg(long = "peer", value_name = "NAME=ADDR", value_parser = peer_override)]
        peers: Vec<(String, String)>,
    },
    /// Sends an incident report; prints the notice id once it is durable.
    Send(SendArgs),
    /// Replies in the thread of a received notice.
    Reply(ReplyArgs),
    /// Coded messages from the network's codebook.
    #[command(subcommand)]
    Codebook(CodebookCommand),
    /// Writing incident reports: a skeleton to start from, a check before sending, the schema.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Files that travel beside notices, named in them by SHA-256.
    #[command(subcommand)]
    Attachment(AttachmentCommand),
    /// Received notices: every one awaiting acknowledgement first, with time left, then the newest
    /// of the rest.
    Inbox {
        /// How many notices not awaiting acknowledgement to list, newest first.
        #[arg(long, default_value_t = crate::views::INBOX_LIMIT)]
        limit: usize,
        /// Only those (not awaiting acknowledgement) logged since: HH:MM (UTC: today's, or
        /// yesterday's if that is still to come) or an RFC 3339 time. A shift's hand-over.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Notices this node sent, newest first, with each addressee's receipt and acknowledgement.
    Sent {
        /// How many at most (up to 500).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only those logged since: HH:MM (UTC: today's, or yesterday's if that is still to come)
        /// or an RFC 3339 time.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// A notice's whole thread, with each party's receipt and acknowledgement times.
    Show {
        /// The notice (sender/number, e.g. alpha/3).
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Acknowledges a received notice on the officer's behalf.
    Ack {
        /// The notice (sender/number).
        id: String,
        /// The officer's decision.
        #[arg(long, value_enum, default_value = "understood")]
        disposition: DispositionArg,
        /// The officer's position or call sign.
        #[arg(long, env = "HOTLINE_OPERATOR", default_value = "watch officer")]
        operator: String,
        /// A remark, as LANG=TEXT (repeatable).
        #[arg(long = "note")]
        notes: Vec<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Streams live events until interrupted.
    Watch(JsonFlag),
    /// Links, pending receipts and acknowledgements, next deadlines.
    Status(JsonFlag),
    /// The node's log.
    #[command(subcommand)]
    Log(LogCommand),
    /// Signs a checkpoint of the running node's log now and offers it to the peers for co-signing.
    Checkpoint(JsonFlag),
    /// The desk's officer accounts (call sign, language, password), for the console and for the
    /// two-person rule.
    #[command(subcommand)]
    Officer(officer::OfficerCommand),
    /// Notices drafted with --officer, waiting for a second officer's release.
    Drafts(JsonFlag),
    /// Sends a draft on the release of a second officer (not the one who drafted it); prints the
    /// notice id once it is durable.
    Release {
        /// The draft's number (`hotline drafts`).
        draft: u64,
        /// The releasing officer's call sign.
        #[arg(long, env = "HOTLINE_OFFICER")]
        officer: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Drops a draft without sending it.
    Discard {
        /// The draft's number.
        draft: u64,
        /// The officer's call sign.
        #[arg(long, env = "HOTLINE_OFFICER")]
        officer: String,
    },
}

/// `--officer` of the commands that send: drafting for a second officer's release.
#[derive(Args)]
pub struct DraftFlag {
    /// Draft the notice in this officer's name instead of sending it: a second officer sends it
    /// with `hotline release` (required at the precedences of config.toml [release]).
    #[arg(long, env = "HOTLINE_OFFICER")]
    officer: Option<String>,
}

pub use hotline_audit::cli::{write_stdout, JsonFlag};

/// `hotline attachment`.
#[derive(Subcommand)]
pub enum AttachmentCommand {
    /// Checks a file received by other means against the attachments a notice names: which one
    /// it is (same SHA-256 and size), or that it is none of them (exit 4).
    Check {
        /// The notice (sender/number).
        id: String,
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// The answer of `attachment check`.
#[derive(serde::Serialize)]
struct AttachmentCheck {
    notice: String,
    file: String,
    sha256: String,
    size: u64,
    /// Index (from 1) of the attachment it is, if any.
    matches: Option<usize>,
    attachments: usize,
}

fn check_attachment(home: &Home, id: String, file: &Path, json: bool) -> Result<()> {
    let thread: Thread = client::call_as(&home.api_path(), &Request::Show { notice: id.clone() })?;
    let notice =
        thread.notices.iter().find(|n| n.id == id).ok_or_else(|| Invalid(format!("no notice {id}")))?;
    let list = notice::attachments_of(&notice.body);
    let got = attachment(file)?;
    let matches = list.iter().position(|a| a.sha256 == got.sha256 && a.size == got.size);
    let answer = AttachmentCheck {
        notice: id.clone(),
        file: file.display().to_string(),
        sha256: got.sha256.to_hex(),
        size: got.size,
        matches: matches.map(|i| i + 1),
        attachments: list.len(),
    };
    if json {
        print::print_json(&answer, "check")?;
    }
    match matches {
        Some(i) => {
            if !json {
                let a = &list[i];
                println!(
                    "{} is attachment {} of {id}: {} \"{}\", {} bytes, sha256 {}",
                    file.display(),
                    i + 1,
                    a.media_type,
                    a.description,
                    a.size,
                    a.sha256.to_hex()
                );
            }
            Ok(())
        }
        None => Err(Invalid(format!(
            "{} (sha256 {}, {} bytes) is none of the {} attachments of {id}: it is not the file the sender named{}",
            file.display(),
            got.sha256.to_hex(),
            got.size,
            list.len(),
            if list.iter().any(|a| a.sha256 == got.sha256) { " (the hash matches one but not its size)" } else { "" }
        ))
        .into()),
    }
}

/// `hotline incident`.
#[derive(Subcommand)]
pub enum IncidentCommand {
    /// Prints a valid incident skeleton (JSON) with a text in each of the network's languages, to
    /// fill in and pass to `send --incident`; the allowed values of every choice go to stderr.
    Template {
        /// Languages of the texts (default: those the node's roster requires, else en).
        #[arg(long = "language")]
        languages: Vec<String>,
    },
    /// Checks an incident file as `send` would, listing every problem at once; sends nothing.
    Check {
        /// The incident (JSON); `-` reads standard input.
        file: PathBuf,
        /// The precedence it would go at (its text limit applies).
        #[arg(long, value_enum, ignore_case = true, default_value = "routine")]
        precedence: PrecedenceArg,
    },
    /// Prints the incident JSON Schema (spec/incident.schema.json, as built into this binary).
    Schema,
}

/// How an incident's source is named in messages.
fn source_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "the incident on standard input".into()
    } else {
        path.display().to_string()
    }
}

fn read_incident_text(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        crate::files::read_stdin_text(crate::files::MAX_JSON, "an incident")
    } else {
        crate::files::read_capped_text(path, crate::files::MAX_JSON, "an incident")
    }
}

fn incident_command(home: &Home, command: IncidentCommand) -> Result<()> {
    match command {
        IncidentCommand::Template { mut languages } => {
            if languages.is_empty() {
                languages = home.roster().map(|r| r.policy.required_languages).unwrap_or_default();
            }
            if languages.is_empty() {
                languages.push("en".into());
            }
            println!("{}", incident::template(&languages, crate::now_ms()));
            eprintln!(
                "choices (occurred_ms may be RFC 3339, e.g. 2026-11-15T06:00:00Z, or UTC milliseconds):"
            );
            for (name, values) in incident::choices() {
                eprintln!("  {name:<13} {}", values.join(", "));
            }
            Ok(())
        }
        IncidentCommand::Check { file, precedence } => {
            let text = read_incident_text(&file)?;
            let precedence = Precedence::from(precedence);
            incident::read(&text, &source_name(&file), precedence)?;
            println!("{} is a valid incident at {}", source_name(&file), precedence.name());
            Ok(())
        }
        IncidentCommand::Schema => write_stdout(incident::SCHEMA.as_bytes()),
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PrecedenceArg {
    Flash,
    Immediate,
    Priority,
    Routine,
}

impl From<PrecedenceArg> for Precedence {
    fn from(p: PrecedenceArg) -> Precedence {
        match p {
            PrecedenceArg::Flash => Precedence::Flash,
            PrecedenceArg::Immediate => Precedence::Immediate,
            PrecedenceArg::Priority => Precedence::Priority,
            PrecedenceArg::Routine => Precedence::Routine,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DispositionArg {
    Understood,
    Investigating,
    ActionTaken,
    Disputed,
}

impl From<DispositionArg> for Disposition {
    fn from(d: DispositionArg) -> Disposition {
        match d {
            DispositionArg::Understood => Disposition::Understood,
            DispositionArg::Investigating => Disposition::Investigating,
            DispositionArg::ActionTaken => Disposition::ActionTaken,
            DispositionArg::Disputed => Disposition::Disputed,
        }
    }
}

#[derive(Args)]
pub struct SendArgs {
    /// Action addressees (comma-separated names).
    #[arg(long, value_delimiter = ',', required = true)]
    to: Vec<String>,
    /// Information addressees (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    info: Vec<String>,
    /// Precedence (FLASH, IMMEDIATE, PRIORITY, ROUTINE; any case): it sets what each action
    /// addressee owes you and by when (printed once the notice is stored).
    #[arg(long, value_enum, ignore_case = true)]
    precedence: PrecedenceArg,
    /// The incident report, as JSON (spec/incident.schema.json); `-` reads it from standard input.
    #[arg(long)]
    incident: PathBuf,
    /// The thread (for updates and final reports).
    #[arg(long)]
    thread: Option<String>,
    /// The notice this one answers.
    #[arg(long)]
    in_reply_to: Option<String>,
    #[command(flatten)]
    draft: DraftFlag,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Args)]
pub struct ReplyArgs {
    /// The notice answered (sender/number).
    id: String,
    /// The reply, as LANG=TEXT, once per language the network requires.
    #[arg(long = "text", required = true)]
    texts: Vec<String>,
    /// Ask for clarification instead of replying.
    #[arg(long)]
    clarification: bool,
    /// Precedence (any case). Default: ROUTINE, whatever the notice answered was, so that a
    /// reply never puts a FLASH duty on its recipient unasked; what the recipient owes is printed.
    #[arg(long, value_enum, ignore_case = true, default_value = "routine")]
    precedence: PrecedenceArg,
    #[command(flatten)]
    draft: DraftFlag,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Subcommand)]
pub enum CodebookCommand {
    /// Lists the codebook of the network.
    List(JsonFlag),
    /// Sends a coded message.
    Send {
        /// The code: its number (7) or its word (LANTERN, any case).
        code: String,
        /// Action addressees (comma-separated names).
        #[arg(long, value_delimiter = ',', required = true)]
        to: Vec<String>,
        /// Information addressees.
        #[arg(long, value_delimiter = ',')]
        info: Vec<String>,
        /// Precedence (any case).
        #[arg(long, value_enum, ignore_case = true, default_value = "priority")]
        precedence: PrecedenceArg,
        /// A note, as LANG=TEXT (repeatable; every required language if any).
        #[arg(long = "note")]
        notes: Vec<String>,
        /// A file to reference by SHA-256 (its bytes do not travel).
        #[arg(long = "attach")]
        attachments: Vec<PathBuf>,
        #[command(flatten)]
        draft: DraftFlag,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Subcommand)]
pub enum RosterCommand {
    /// Prints this node's member card (name, key, addresses, languages) as JSON.
    Card,
    /// Builds a roster from member cards and an optional policy (TOML); prints the network id.
    Build {
        /// The network's name.
        #[arg(long)]
        network: String,
        /// Member cards (JSON, from `hotline roster card`), one per member.
        #[arg(long = "card", required = true)]
        cards: Vec<PathBuf>,
        /// The policy (TOML with the fields of spec §3.2); default: the spec's defaults.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Where to write the roster.
        #[arg(long)]
        out: PathBuf,
    },
    /// Shows a roster and its network id.
    Show {
        /// The roster file (default: the node's).
        file: Option<PathBuf>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Installs a roster in the node directory after checking that it names this node.
    Install {
        /// The roster file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Writes the node's audit bundle (spec §15.5): entries and Merkle tree as C2SP tlog-tiles,
    /// every checkpoint with its cosignatures, the roster, and log.jsonl for people and jq.
    Export {
        /// Output directory (created; must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
    },
}

/// The exit code for an error of a node or operator command: 3 when the node is not running, 4
/// when the node or the rules refused the request, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<NotRunning>().is_some() {
        3
    } else if e.downcast_ref::<Usage>().is_some() {
        2
    } else if e.downcast_ref::<Refused>().is_some()
        || e.downcast_ref::<Invalid>().is_some()
        || e.downcast_ref::<hotline_audit::Invalid>().is_some()
    {
        4
    } else {
        1
    }
}

/// Input that breaks the rules: exit code 4.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Runs a node or operator command against the node directory `home`.
pub fn run(home: &Path, command: Command) -> Result<()> {
    let home = Home::new(home);
    match command {
        Command::Keygen { out } => {
            let key = crate::keys::generate();
            crate::keys::write(&out, &key)?;
            println!("{}", hotline_proto::crypto::node_id(&key));
            Ok(())
        }
        Command::Init { name, listen, addresses, languages } => {
            hotline_proto::check_name("name", &name).map_err(|e| Invalid(e.to_string()))?;
            home.init(&Config {
                name: name.clone(),
                listen,
                peers: Default::default(),
                release: Default::default(),
            })?;
            let addresses = if addresses.is_empty() { vec![listen.to_string()] } else { addresses };
            let card = roster::card(&home, addresses, languages)?;
            let path = home.dir().join("card.json");
            crate::files::write_private(&path, (serde_json::to_string_pretty(&card)? + "\n").as_bytes())?;
            eprintln!(
                "created node {name} in {}; its member card is {}",
                home.dir().display(),
                path.display()
            );
            // The card itself (a document, input to `roster build`), not an API answer.
            println!("{}", serde_json::to_string_pretty(&card)?);
            Ok(())
        }
        Command::Roster(command) => roster::run(&home, command),
        Command::Incident(command) => incident_command(&home, command),
        Command::Attachment(AttachmentCommand::Check { id, file, json }) => {
            check_attachment(&home, id, &file, json.json)
        }
        Command::Run { log_format, peers } => {
            init_tracing(log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(crate::daemon::run(&home, peers.into_iter().collect()))
        }
        Command::Send(args) => {
            let text = read_incident_text(&args.incident)?;
            let precedence: Precedence = args.precedence.into();
            let incident: Incident = incident::read(&text, &source_name(&args.incident), precedence)?;
            let request = SendRequest {
                precedence,
                to: args.to,
                info: args.info,
                thread: args.thread,
                in_reply_to: args.in_reply_to,
                body: Body::Incident(incident),
            };
            sent(&home, request, args.draft, args.json.json)
        }
        Command::Reply(args) => {
            let api = home.api_path();
            let shown: Thread = client::call_as(&api, &Request::Show { notice: args.id.clone() })?;
            let original = shown.notices.iter().find(|n| n.id == args.id);
            let original = original.ok_or_else(|| Invalid(format!("no notice {}", args.id)))?;
            let precedence = Precedence::from(args.precedence);
            let texts = parse_texts(&args.texts)?;
            let body = if args.clarification { Body::Clarification(texts) } else { Body::Reply(texts) };
            let request = SendRequest {
                precedence,
                to: vec![original.from.clone()],
                info: vec![],
                thread: Some(shown.thread.clone()),
                in_reply_to: Some(args.id),
                body,
            };
            sent(&home, request, args.draft, args.json.json)
        }
        Command::Codebook(CodebookCommand::List(json)) => {
            let roster = home.roster()?;
            if json.json {
                print::print_json(&roster.policy.codebook, "codebook")?;
            } else if roster.policy.codebook.is_empty() {
                println!(
                    "the codebook of network {} is empty: the roster's policy defines it ([[codebook]] entries in the policy file given to `roster build`)",
                    roster.network
                );
            } else {
                for entry in &roster.policy.codebook {
                    println!("{:>5}  {}", entry.number, entry.word);
                    for t in &entry.meaning {
                        println!("       [{}] {}", t.lang, t.text);
                    }
                }
            }
            Ok(())
        }
        Command::Codebook(CodebookCommand::Send {
            code,
            to,
            info,
            precedence,
            notes,
            attachments,
            draft,
            json,
        }) => {
            let roster = home.roster()?;
            let codebook = &roster.policy.codebook;
            let entry = match code.parse::<u32>() {
                Ok(number) => roster.policy.code(number),
                Err(_) => codebook.iter().find(|e| e.word.eq_ignore_ascii_case(&code)),
            };
            let entry = entry.ok_or_else(|| {
                let known: Vec<String> =
                    codebook.iter().map(|e| format!("{} ({})", e.word, e.number)).collect();
                Invalid(if known.is_empty() {
                    format!("{code:?}: this network's codebook is empty (its roster defines none)")
                } else {
                    format!("{code:?} is not in the codebook; it holds {}", known.join(", "))
                })
            })?;
            let number = entry.number;
            let attachments = attachments.iter().map(|p| attachment(p)).collect::<Result<Vec<_>>>()?;
            let body = Body::Codebook(CodedMessage {
                number,
                word: entry.word.clone(),
                note: parse_texts(&notes)?,
                attachments,
            });
            sent(
                &home,
                SendRequest {
                    precedence: precedence.into(),
                    to,
                    info,
                    thread: None,
                    in_reply_to: None,
                    body,
                },
                draft,
                json.json,
            )
        }
        Command::Inbox { limit, since, json } => {
            let since = since.as_deref().map(since_arg).transpose()?;
            read::<Inbox>(&home, &Request::Inbox { limit: Some(limit), since }, json.json, print_inbox)
        }
        Command::Sent { limit, since, json } => {
            let since = since.as_deref().map(since_arg).transpose()?;
            let sent: Vec<NoticeInfo> = client::call_as(
                &home.api_path(),
                &Request::Sent { limit: Some(limit), before: None, since },
            )?;
            if json.json {
                print::print_json(&sent, "sent")
            } else {
                print_sent(&sent);
                Ok(())
            }
        }
        Command::Show { id, json } => {
            let thread: Thread = client::call_as(&home.api_path(), &Request::Show { notice: id })?;
            if json.json {
                print::print_json(&thread, "thread")
            } else {
                // The links say why a receipt or an acknowledgement is still missing.
                let links = client::call_as::<Status>(&home.api_path(), &Request::Status {})
                    .map(|s| s.links)
                    .unwrap_or_default();
                print_thread(&thread, &links);
                Ok(())
            }
        }
        Command::Ack { id, disposition, operator, notes, json } => {
            let request = Request::Ack {
                notice: id,
                operator,
                disposition: disposition.into(),
                note: parse_texts(&notes)?,
            };
            let acked: NoticeRef = client::call_as(&home.api_path(), &request)?;
            if json.json {
                print::print_json(&acked, "ack")?;
            } else {
                println!("acknowledged {}", acked.notice);
            }
            Ok(())
        }
        Command::Watch(json) => {
            use std::io::IsTerminal;
            let me = home.config().map(|c| c.name).unwrap_or_default();
            let api = home.api_path();
            let mut c = client::Client::connect(&api)?;
            c.call(&Request::Watch {})?;
            // The bell only where someone hears it, and not when HOTLINE_NO_BELL is set.
            let bell = std::io::stdout().is_terminal() && std::env::var_os("HOTLINE_NO_BELL").is_none();
            while let Some(line) = c.next_line()? {
                if json.json {
                    print::print_json(&line, "event")?;
                } else {
                    let event: Event =
                        serde_json::from_value(line).context("the node sent an unknown event")?;
                    let urgent = print::urgent(&event);
                    let ring = if bell && urgent { "\x07" } else { "" };
                    let text = describe(&event, &me);
                    let text = if urgent { style::paint(&text, style::Tone::Alarm) } else { text };
                    println!("{}  {text}{ring}", hotline_proto::utc::utc_seconds(crate::now_ms()));
                    // A new notice's words, not only its id: what the officer must read first.
                    if let Event::NoticeReceived { notice, .. } = &event {
                        if let Ok(thread) =
                            client::call_as::<Thread>(&api, &Request::Show { notice: notice.clone() })
                        {
                            if let Some(n) = thread.notices.iter().find(|n| &n.id == notice) {
                                println!("{:<22}{} (`hotline show {notice}` for all of it)", "", n.headline);
                            }
                        }
                    }
                }
            }
            // The node went away: a watch that ends silently would leave a desk believing all is
            // quiet.
            Err(NotRunning {
                path: api.display().to_string(),
                reason: "the node closed the watch (it stopped or restarted); start `hotline watch` again once it runs".into(),
            }
            .into())
        }
        Command::Status(json) => read::<Status>(&home, &Request::Status {}, json.json, print_status),
        Command::Log(LogCommand::Export { out }) => export(&home, &out),
        Command::Officer(command) => officer::run(&home, command),
        Command::Drafts(json) => officer::list_drafts(&home, json.json),
        Command::Release { draft, officer, json } => officer::release(&home, draft, officer, json.json),
        Command::Discard { draft, officer } => officer::discard(&home, draft, officer),
        Command::Checkpoint(JsonFlag { json }) => {
            let c: CheckpointInfo = client::call_as(&home.api_path(), &Request::Checkpoint {})?;
            if json {
                print::print_json(&c, "checkpoint")?;
            } else {
                let by = if c.cosigned_by.is_empty() {
                    "nobody yet".to_string()
                } else {
                    c.cosigned_by.join(", ")
                };
                println!("checkpoint of {} entries, root {}; co-signed so far by: {by}", c.size, c.root);
            }
            Ok(())
        }
    }
}

/// A read command: asks the node, then prints the answer as JSON (`--json`) or for people.
fn read<T: serde::Serialize + serde::de::DeserializeOwned>(
    home: &Home,
    request: &Request,
    json: bool,
    human: fn(&T),
) -> Result<()> {
    let answer: T = client::call_as(&home.api_path(), request)?;
    if json {
        print::print_json(&answer, "answer")?;
    } else {
        human(&answer);
    }
    Ok(())
}

/// `NAME=ADDR` of `run --peer`.
fn peer_override(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, addr)) if !name.is_empty() && !addr.is_empty() => {
            Ok((name.to_string(), addr.to_string()))
        }
        _ => Err(format!("expected NAME=HOST:PORT (e.g. bravo=127.0.0.1:47001), not {text:?}")),
    }
}

/// Logs to stderr, filtered by `HOTLINE_LOG` (default `info`), coloured only on a terminal.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(style::colour_on(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn sent(home: &Home, request: SendRequest, draft: DraftFlag, json: bool) -> Result<()> {
    let duty = owed(home, &request);
    if let Some(officer) = draft.officer {
        let held: DraftRef =
            client::call_as(&home.api_path(), &Request::Draft { officer, send: Box::new(request) })?;
        if json {
            print::print_json(&held, "draft")?;
        } else {
            println!("draft {}", held.draft);
            eprintln!(
                "held for release: another officer sends it with `hotline release {} --officer CALL-SIGN`",
                held.draft
            );
            if let Some(duty) = duty {
                eprintln!("once released: {duty}");
            }
        }
        return Ok(());
    }
    let sent: NoticeRef = client::call_as(&home.api_path(), &Request::Send(Box::new(request)))?;
    if json {
        print::print_json(&sent, "notice")?;
    } else {
        println!("{}", sent.notice);
        // On stderr, so that scripts reading the id from stdout are not disturbed.
        if let Some(duty) = duty {
            eprintln!("{duty}");
        }
    }
    Ok(())
}

/// What a notice about to be sent asks of its addressees, from the roster's deadlines: said to
/// the sender before it goes, so that nobody sets a FLASH duty unknowingly.
fn owed(home: &Home, request: &SendRequest) -> Option<String> {
    let d = home.roster().ok()?.policy.deadlines(request.precedence);
    let who = request.to.join(", ");
    let receipt = print::span(d.receipt_ms);
    let ack = print::span(d.ack_ms);
    let mut s = format!(
        "{} {}: {who} must acknowledge within {ack} of its creation (its node receipts it within {receipt})",
        request.precedence.name(),
        if request.to.len() == 1 { "notice" } else { "notice to each" }
    );
    if !request.info.is_empty() {
        let verb = if request.info.len() == 1 { "receives" } else { "receive" };
        s.push_str(&format!("; {} {verb} it for information (receipt only)", request.info.join(", ")));
    }
    Some(s)
}

fn export(home: &Home, out: &Path) -> Result<()> {
    let roster = home.roster()?;
    let (_, key, _) = home.load()?;
    let id = hotline_proto::crypto::node_id(&key);
    // From the running node through its API, or from a stopped node's store read-only; either
    // way a chunk at a time, so memory does not grow with the log.
    let stopped =
        match client::call_as::<Export>(&home.api_path(), &Request::Export { from: 0, limit: Some(0) }) {
            Ok(_) => None,
            Err(e) if e.downcast_ref::<NotRunning>().is_some() => {
                Some(crate::store::Stopped::open(&home.store_path())?)
            }
            Err(e) => return Err(e),
        };
    let chunk = |from: u64| -> Result<(Vec<Vec<u8>>, u64)> {
        match &stopped {
            Some(store) => store.chunk(from, EXPORT_CHUNK),
            None => {
                let export: Export =
                    client::call_as(&home.api_path(), &Request::Export { from, limit: Some(EXPORT_CHUNK) })?;
                let leaves = export
                    .leaves
                    .iter()
                    .map(|leaf| {
                        hotline_proto::hex::decode(leaf)
                            .ok_or_else(|| anyhow!("the node sent a leaf that is not hex"))
                    })
                    .collect::<Result<_>>()?;
                Ok((leaves, export.size))
            }
        }
    };
    let (first, size) = chunk(0)?;
    let mut writer = hotline_audit::bundle::Writer::create(out, &roster, id, size)?;
    let mut done = first.len() as u64;
    writer.push(&first)?;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr()) && size > 100_000;
    while done < size {
        let (leaves, _) = chunk(done)?;
        if leaves.is_empty() {
            bail!("the store holds fewer than the {size} entries the export started with");
        }
        let take = usize::try_from(size - done).unwrap_or(usize::MAX).min(leaves.len());
        writer.push(&leaves[..take])?;
        done += take as u64;
        if progress {
            eprint!("\rexported {done} of {size} entries");
        }
    }
    if progress {
        eprintln!();
    }
    let manifest = writer.finish()?;
    eprintln!(
        "wrote the audit bundle of {}'s log ({} entries, root {}) to {}",
        manifest.name,
        manifest.size,
        manifest.root,
        out.display()
    );
    Ok(())
}

/// Arguments that do not fit together: exit code 2, as clap's own usage errors.
/// A time an officer gives for "since": `HH:MM` (UTC; today's, or yesterday's if that is still
/// to come, as a watch that began last night) or an RFC 3339 time; ms since the epoch. The one
/// reader of it, for the CLI's `--since` and the console's hand-over.
pub fn watch_time(text: &str, now: u64) -> Option<u64> {
    let text = text.trim();
    if let Some(ms) = hotline_proto::utc::parse_rfc3339(text) {
        return Some(ms);
    }
    let (h, m) = text.split_once(':')?;
    let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    let day = now - now % 86_400_000;
    let at = day + h * 3_600_000 + m * 60_000;
    Some(if at > now { at.saturating_sub(86_400_000) } else { at })
}

fn since_arg(text: &str) -> Result<u64> {
    watch_time(text, crate::now_ms()).ok_or_else(|| {
        anyhow!(Invalid(format!(
            "--since {text:?}: give HH:MM (UTC, e.g. 06:00) or an RFC 3339 time (e.g. 2026-12-07T06:00:00Z)"
        )))
    })
}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow!(Usage(message.into()))
}

/// Bad usage: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);
