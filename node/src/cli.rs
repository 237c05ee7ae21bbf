//! The node and operator commands of `hotline`: clap definitions, human and JSON output, exit
//! codes. The `hotline` binary (package `hotline`) puts them beside the auditor's and testers'.
//!
//! Exit codes: 0 success; 1 error; 2 bad usage; 3 the node is not running; 4 the node or the
//! input refused the request (an invalid notice, an unknown id, ...).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use hotline_proto::message::CodedMessage;
use hotline_proto::roster::{Member, Policy, Roster, ROSTER_FORMAT};
use hotline_proto::{Body, Disposition, Incident, LangText, Precedence, Texts};
use serde_json::json;

use crate::api::{
    CheckpointInfo, DirectionInfo, Event, Export, Inbox, NoticeInfo, NoticeRef, Request, SendRequest, Status,
    Thread,
};
use crate::client::{self, NotRunning, Refused};
use crate::home::{self, Config, Home};

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
    },
    /// Sends an incident report; prints the notice id once it is durable.
    Send(SendArgs),
    /// Replies in the thread of a received notice.
    Reply(ReplyArgs),
    /// Coded messages from the network's codebook.
    #[command(subcommand)]
    Codebook(CodebookCommand),
    /// Received notices: awaiting acknowledgement first, with time left.
    Inbox(JsonFlag),
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
}

pub use hotline_audit::cli::JsonFlag;

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
    /// Precedence.
    #[arg(long, value_enum)]
    precedence: PrecedenceArg,
    /// The incident report, as JSON (spec/incident.schema.json).
    #[arg(long)]
    incident: PathBuf,
    /// The thread (for updates and final reports).
    #[arg(long)]
    thread: Option<String>,
    /// The notice this one answers.
    #[arg(long)]
    in_reply_to: Option<String>,
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
    /// Precedence (default: that of the notice answered).
    #[arg(long, value_enum)]
    precedence: Option<PrecedenceArg>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Subcommand)]
pub enum CodebookCommand {
    /// Lists the codebook of the network.
    List(JsonFlag),
    /// Sends a coded message.
    Send {
        /// The code number.
        number: u32,
        /// Action addressees (comma-separated names).
        #[arg(long, value_delimiter = ',', required = true)]
        to: Vec<String>,
        /// Information addressees.
        #[arg(long, value_delimiter = ',')]
        info: Vec<String>,
        /// Precedence.
        #[arg(long, value_enum, default_value = "priority")]
        precedence: PrecedenceArg,
        /// A note, as LANG=TEXT (repeatable; every required language if any).
        #[arg(long = "note")]
        notes: Vec<String>,
        /// A file to reference by SHA-256 (its bytes do not travel).
        #[arg(long = "attach")]
        attachments: Vec<PathBuf>,
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
            hotline_proto::roster::check_name("name", &name).map_err(|e| Invalid(e.to_string()))?;
            home.init(&Config { name: name.clone(), listen, peers: Default::default() })?;
            let addresses = if addresses.is_empty() { vec![listen.to_string()] } else { addresses };
            let card = card(&home, addresses, languages)?;
            let path = home.dir().join("card.json");
            std::fs::write(&path, serde_json::to_string_pretty(&card)? + "\n")?;
            eprintln!(
                "created node {name} in {}; its member card is {}",
                home.dir().display(),
                path.display()
            );
            println!("{}", serde_json::to_string_pretty(&card)?);
            Ok(())
        }
        Command::Roster(command) => roster(&home, command),
        Command::Run { log_format } => {
            init_tracing(log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(crate::daemon::run(&home))
        }
        Command::Send(args) => {
            let text = std::fs::read_to_string(&args.incident)
                .with_context(|| format!("reading {}", args.incident.display()))?;
            let incident: Incident = serde_json::from_str(&text).map_err(|e| {
                Invalid(format!("{} does not match spec/incident.schema.json: {e}", args.incident.display()))
            })?;
            let request = SendRequest {
                precedence: args.precedence.into(),
                to: args.to,
                info: args.info,
                thread: args.thread,
                in_reply_to: args.in_reply_to,
                body: Body::Incident(incident),
            };
            sent(&home, request, args.json.json)
        }
        Command::Reply(args) => {
            let api = home.api_path();
            let shown: Thread = client::call_as(&api, &Request::Show { notice: args.id.clone() })?;
            let original = shown.notices.iter().find(|n| n.id == args.id);
            let original = original.ok_or_else(|| Invalid(format!("no notice {}", args.id)))?;
            let precedence = args.precedence.map_or(original.precedence, Precedence::from);
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
            sent(&home, request, args.json.json)
        }
        Command::Codebook(CodebookCommand::List(json)) => {
            let roster = home.roster()?;
            if json.json {
                println!("{}", serde_json::to_string_pretty(&roster.policy.codebook)?);
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
            number,
            to,
            info,
            precedence,
            notes,
            attachments,
            json,
        }) => {
            let roster = home.roster()?;
            let entry = roster.policy.code(number).ok_or_else(|| {
                Invalid(format!("code {number} is not in the codebook (see `hotline codebook list`)"))
            })?;
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
                json.json,
            )
        }
        Command::Inbox(json) => {
            let inbox: Inbox = client::call_as(&home.api_path(), &Request::Inbox)?;
            if json.json {
                println!("{}", serde_json::to_string_pretty(&inbox)?);
            } else {
                print_inbox(&inbox);
            }
            Ok(())
        }
        Command::Show { id, json } => {
            let thread: Thread = client::call_as(&home.api_path(), &Request::Show { notice: id })?;
            if json.json {
                println!("{}", serde_json::to_string_pretty(&thread)?);
            } else {
                print_thread(&thread);
            }
            Ok(())
        }
        Command::Ack { id, disposition, operator, notes } => {
            let request = Request::Ack {
                notice: id,
                operator,
                disposition: disposition.into(),
                note: parse_texts(&notes)?,
            };
            let acked: NoticeRef = client::call_as(&home.api_path(), &request)?;
            println!("acknowledged {}", acked.notice);
            Ok(())
        }
        Command::Watch(json) => {
            let mut c = client::Client::connect(&home.api_path())?;
            c.call(&Request::Watch)?;
            while let Some(line) = c.next_line()? {
                if json.json {
                    println!("{line}");
                } else {
                    let event: Event =
                        serde_json::from_value(line).context("the node sent an unknown event")?;
                    println!("{}  {}", clock(crate::now_ms()), describe(&event));
                }
            }
            Ok(())
        }
        Command::Status(json) => {
            let status: Status = client::call_as(&home.api_path(), &Request::Status)?;
            if json.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
            Ok(())
        }
        Command::Log(LogCommand::Export { out }) => export(&home, &out),
        Command::Checkpoint(JsonFlag { json }) => {
            let c: CheckpointInfo = client::call_as(&home.api_path(), &Request::Checkpoint)?;
            if json {
                println!("{}", serde_json::to_string(&c)?);
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

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn sent(home: &Home, request: SendRequest, json: bool) -> Result<()> {
    let sent: NoticeRef = client::call_as(&home.api_path(), &Request::Send(Box::new(request)))?;
    if json {
        println!("{}", serde_json::to_string(&sent)?);
    } else {
        println!("{}", sent.notice);
    }
    Ok(())
}

/// Parses `LANG=TEXT` arguments.
pub fn parse_texts(items: &[String]) -> Result<Texts> {
    items
        .iter()
        .map(|item| {
            let (lang, text) = item.split_once('=').ok_or_else(|| {
                Invalid(format!("{item:?} is not LANG=TEXT (e.g. en=\"Vessel confirmed civilian.\")"))
            })?;
            Ok(LangText { lang: lang.trim().to_string(), text: text.to_string() })
        })
        .collect()
}

fn attachment(path: &Path) -> Result<hotline_proto::incident::Attachment> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hotline_proto::incident::Attachment {
        sha256: hotline_proto::crypto::sha256(&bytes),
        size: bytes.len() as u64,
        media_type: "application/octet-stream".into(),
        description: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    })
}

fn card(home: &Home, addresses: Vec<String>, languages: Vec<String>) -> Result<Member> {
    let config = home.config()?;
    let key = home.key()?;
    Ok(Member { name: config.name, key: hotline_proto::crypto::node_id(&key), addresses, languages })
}

/// Builds a roster from cards and a policy; checks it.
pub fn build_roster(network: &str, members: Vec<Member>, policy: Policy) -> Result<Roster> {
    let roster = Roster { format: ROSTER_FORMAT, network: network.into(), members, policy };
    roster.check().map_err(|e| Invalid(format!("the roster is invalid: {e}")))?;
    Ok(roster)
}

fn roster(home: &Home, command: RosterCommand) -> Result<()> {
    match command {
        RosterCommand::Card => {
            let card_path = home.dir().join("card.json");
            let text = std::fs::read_to_string(&card_path)
                .with_context(|| format!("reading {}", card_path.display()))?;
            print!("{text}");
            Ok(())
        }
        RosterCommand::Build { network, cards, policy, out } => {
            let mut members = Vec::new();
            for path in &cards {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                members.push(
                    serde_json::from_str(&text)
                        .map_err(|e| Invalid(format!("{} is not a member card: {e}", path.display())))?,
                );
            }
            let policy = match policy {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    toml::from_str(&text)
                        .map_err(|e| Invalid(format!("{} is not a policy: {e}", path.display())))?
                }
                None => Policy::default(),
            };
            let roster = build_roster(&network, members, policy)?;
            std::fs::write(&out, roster.to_bytes()).with_context(|| format!("writing {}", out.display()))?;
            println!("network id {}", roster.network_id());
            eprintln!("compare this id with every party by voice before going live");
            Ok(())
        }
        RosterCommand::Show { file, json } => {
            let roster = match file {
                Some(path) => home::read_roster(&path)?,
                None => home.roster()?,
            };
            if json.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({ "network_id": roster.network_id().to_hex(), "roster": roster })
                    )?
                );
            } else {
                println!("network {}  id {}", roster.network, roster.network_id());
                for m in &roster.members {
                    println!(
                        "  {:<10} {}  {}  [{}]",
                        m.name,
                        m.key,
                        m.addresses.join(" "),
                        m.languages.join(",")
                    );
                }
                let p = &roster.policy;
                for precedence in Precedence::ALL {
                    let d = p.deadlines(precedence);
                    println!(
                        "  {:<10} receipt {:>8}  acknowledgement {:>8}",
                        precedence.name(),
                        span(d.receipt_ms),
                        span(d.ack_ms)
                    );
                }
                println!(
                    "  link test every {}, down after {} silent; languages {}",
                    span(p.link_test_interval_ms),
                    span(p.link_silence_ms),
                    p.required_languages.join(", ")
                );
            }
            Ok(())
        }
        RosterCommand::Install { file } => {
            let roster = home::read_roster(&file)?;
            let key = home.key()?;
            let config = home.config()?;
            let id = hotline_proto::crypto::node_id(&key);
            match roster.member(&id) {
                Some(m) if m.name == config.name => {}
                Some(m) => bail!("the roster calls this node {:?}, not {:?}", m.name, config.name),
                None => bail!("this node ({id}) is not in that roster"),
            }
            std::fs::write(home.roster_path(), roster.to_bytes())?;
            println!("installed roster of network {} (id {})", roster.network, roster.network_id());
            Ok(())
        }
    }
}

fn export(home: &Home, out: &Path) -> Result<()> {
    let roster = home.roster()?;
    let leaves: Vec<Vec<u8>> = match client::call_as::<Export>(&home.api_path(), &Request::Export) {
        Ok(export) => export
            .leaves
            .iter()
            .map(|leaf| {
                hotline_proto::hex::decode(leaf)
                    .ok_or_else(|| anyhow!("the node sent a leaf that is not hex"))
            })
            .collect::<Result<_>>()?,
        Err(e) if e.downcast_ref::<NotRunning>().is_some() => crate::store::read_leaves(&home.store_path())?,
        Err(e) => return Err(e),
    };
    let (_, key, _) = home.load()?;
    let id = hotline_proto::crypto::node_id(&key);
    let manifest = hotline_audit::bundle::write(out, &roster, id, &leaves)?;
    eprintln!(
        "wrote the audit bundle of {}'s log ({} entries, root {}) to {}",
        manifest.name,
        manifest.size,
        manifest.root,
        out.display()
    );
    Ok(())
}

/// `1h 30m`, `10m`, `5s`, `250ms`.
pub fn span(ms: u64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

/// A signed duration for humans: `4m 12s`, `-35s`.
pub fn left(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let s = ms.unsigned_abs() / 1000;
    match s {
        s if s >= 3600 => format!("{sign}{}h {:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{sign}{}m {:02}s", s / 60, s % 60),
        s => format!("{sign}{s}s"),
    }
}

/// A deadline for humans: `OVERDUE by 35s` once it has passed, otherwise `ahead` of the time left.
fn overdue_or(left_ms: i64, ahead: impl FnOnce(String) -> String) -> String {
    if left_ms < 0 {
        format!("OVERDUE by {}", left(-left_ms))
    } else {
        ahead(left(left_ms))
    }
}

/// UTC `HH:MM:SS.mmm`.
pub fn clock(ms: u64) -> String {
    let day = ms % 86_400_000;
    format!("{:02}:{:02}:{:02}.{:03}Z", day / 3_600_000, (day / 60_000) % 60, (day / 1000) % 60, day % 1000)
}

fn print_inbox(inbox: &Inbox) {
    if inbox.awaiting_ack.is_empty() && inbox.other.is_empty() {
        println!("inbox empty");
        return;
    }
    let line = |n: &NoticeInfo, state: &str| {
        println!(
            "  {:<12} {:<9} {:<13} from {:<8} {:<18} {}",
            n.id,
            n.precedence.name(),
            n.kind.name(),
            n.from,
            state,
            n.headline
        );
    };
    if !inbox.awaiting_ack.is_empty() {
        println!("AWAITING YOUR ACKNOWLEDGEMENT");
        for n in &inbox.awaiting_ack {
            let left = match &n.direction {
                DirectionInfo::Received { ack_left_ms, .. } => *ack_left_ms,
                DirectionInfo::Sent { .. } => 0,
            };
            line(n, &overdue_or(left, |t| format!("{t} left")));
        }
    }
    if !inbox.other.is_empty() {
        println!("OTHER");
        for n in &inbox.other {
            let acked = matches!(n.direction, DirectionInfo::Received { acked: true, .. });
            line(n, if acked { "acknowledged" } else { "information" });
        }
    }
}

fn print_thread(thread: &Thread) {
    println!("thread {}", thread.thread);
    for n in &thread.notices {
        println!(
            "\n{}  {} {} from {}  created {}",
            n.id,
            n.precedence.name(),
            n.kind.name(),
            n.from,
            clock(n.created_ms)
        );
        println!("  {}", n.headline);
        let after = |t: Option<u64>| {
            t.map_or("—".to_string(), |t| {
                format!("+{}", left(i64::try_from(t.saturating_sub(n.created_ms)).unwrap_or(i64::MAX)))
            })
        };
        let missed = |flag: bool| if flag { " (deadline missed)" } else { "" };
        match &n.direction {
            DirectionInfo::Sent { parties } => {
                for p in parties {
                    println!(
                        "  {:<8} {:<6} receipt {:<10}{}  acknowledgement {:<10}{}",
                        p.name,
                        role(p.role),
                        after(p.receipt_ms),
                        missed(p.receipt_missed),
                        after(p.ack_ms),
                        missed(p.ack_missed)
                    );
                }
            }
            DirectionInfo::Received { needs_ack, acked, overdue, ack_left_ms } => {
                let state = match (needs_ack, acked, overdue) {
                    (_, true, _) => "acknowledged here".to_string(),
                    (true, _, true) => "NOT acknowledged here: OVERDUE".to_string(),
                    (true, _, _) => format!("awaiting acknowledgement here, {} left", left(*ack_left_ms)),
                    _ => "information copy".to_string(),
                };
                println!("  received {}; {state}", clock(n.logged_ms));
            }
        }
    }
}

fn role(role: hotline_proto::Role) -> &'static str {
    match role {
        hotline_proto::Role::Action => "action",
        hotline_proto::Role::Info => "info",
    }
}

fn print_status(s: &Status) {
    println!("{}  network {} ({})", s.name, s.network, s.network_id);
    println!("log: {} entries ({} durable)", s.log_entries, s.durable_entries);
    println!("links:");
    for l in &s.links {
        println!(
            "  {:<10} {:<4} last heard {} ago{}{}",
            l.peer,
            if l.up { "up" } else { "DOWN" },
            left(i64::try_from(l.silent_ms).unwrap_or(i64::MAX)),
            match l.unreceipted {
                0 => String::new(),
                n => format!(", {n} unreceipted"),
            },
            if l.clock_skewed { ", CLOCK SKEW" } else { "" }
        );
    }
    if s.awaiting.is_empty() {
        println!("nothing awaited");
    } else {
        println!("awaiting:");
        for a in &s.awaiting {
            let due = overdue_or(a.left_ms, |t| format!("due in {t}"));
            println!("  {:<12} {} from {:<8} {due}", a.notice, a.awaiting.name(), a.party);
        }
    }
}

/// One line for an event: the one place each event is put into words (the compiler checks that
/// every event has its case).
pub fn describe(e: &Event) -> String {
    let late = |late: bool| if late { " (LATE)" } else { "" };
    match e {
        Event::NoticeReceived { notice, kind, precedence, role: r, .. } => {
            format!("NEW {} {} {notice} ({})", precedence.name(), kind.name(), role(*r))
        }
        Event::NoticeStored { notice } => format!("sent {notice}"),
        Event::AckStored { notice } => format!("acknowledged {notice}"),
        Event::ReceiptReceived { notice, from, late: l, .. } => format!("receipt for {notice} from {from}{}", late(*l)),
        Event::AckReceived { notice, from, disposition, late: l, .. } => {
            format!("{from} acknowledged {notice}: {}{}", disposition.name(), late(*l))
        }
        Event::DeadlineApproaching { notice, party, .. } => {
            format!("deadline approaching: {notice} awaiting {party}")
        }
        Event::DeadlineMissed { notice, party, deadline, .. } => {
            format!("DEADLINE MISSED: {notice} {} by {party}", deadline.name())
        }
        Event::LinkDown { peer, .. } => format!("LINK DOWN to {peer}"),
        Event::LinkUp { peer } => format!("link up to {peer}"),
        Event::SequenceGap { peer, first, last } => format!("MISSING notices {first}..{last} from {peer}"),
        Event::ClockSkew { peer, offset_ms } => format!("CLOCK SKEW with {peer}: {offset_ms} ms"),
        Event::Rejected { peer, code, detail } => format!("refused a frame from {peer}: {code} ({detail})"),
        Event::Equivocation { peer, notice } => format!("EQUIVOCATION by {peer} on {notice}"),
        Event::LogConflict { peer, cosigned_size, size } => format!(
            "LOG CONFLICT: {peer} presented a checkpoint of {size} entries contradicting the one of {cosigned_size} this node co-signed"
        ),
        Event::Lagged { missed } => format!("{missed} events missed: this watch fell behind (run `hotline inbox` and `hotline status`)"),
    }
}

/// Anything that can go wrong with arguments.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow!(Invalid(message.into()))
}
