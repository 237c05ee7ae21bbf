//! `hotline testnet`: a whole network on one machine, for testers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::relay::Scenario;
use crate::supervisor::{NodeState, Order};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use hotline_node::api::Request;
use hotline_node::files;
use hotline_node::home::{Config, Home, Release};
use hotline_proto::{Member, Policy};

/// Names of testnet nodes, in order (the NATO alphabet); beyond it, `node-27`, `node-28`, ...
pub const NAMES: [&str; 26] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo",
    "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor",
    "whiskey", "xray", "yankee", "zulu",
];

/// Testnet commands.
#[derive(Subcommand)]
pub enum TestnetCommand {
    /// Creates N node directories (alpha, bravo, ...) with keys and one shared roster on loopback.
    Init {
        /// Where to create the testnet.
        dir: PathBuf,
        /// Number of nodes.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// UDP port of the first node; the others follow.
        #[arg(long, default_value_t = 47000)]
        base_port: u16,
        /// Exact UDP ports, one per node (instead of --base-port).
        #[arg(long, value_delimiter = ',', conflicts_with = "base_port")]
        ports: Vec<u16>,
        /// The network policy (TOML); default: the spec's defaults.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Precedences each node sends only on a second officer's release (comma-separated, e.g.
        /// `flash,immediate`, as a real desk has by default); a testnet's testers send alone
        /// unless this is given. Written to each node's config.toml ([release]).
        #[arg(long, value_delimiter = ',', value_enum, ignore_case = true)]
        second_officer: Vec<hotline_node::cli::PrecedenceArg>,
    },
    /// Runs every node of a testnet as a child process, each logging to DIR/logs/NAME.log; a node
    /// that dies is reported by name and the others run on; Ctrl-C, SIGTERM or `testnet down`
    /// stops them all.
    Up {
        /// The testnet directory.
        dir: PathBuf,
        /// Route every link through a fault-injecting relay with this scenario (TOML: seed,
        /// [default] faults, [[link]] overrides, [[partition]] cuts; deploy/faults.example.toml
        /// shows every knob).
        #[arg(long)]
        faults: Option<PathBuf>,
        /// Loss probability on every link (overrides the scenario's default; implies relays).
        #[arg(long)]
        loss: Option<f64>,
        /// Duplication probability on every link.
        #[arg(long)]
        duplicate: Option<f64>,
        /// One-way delay on every link, in ms.
        #[arg(long)]
        delay_ms: Option<u64>,
        /// Jitter on every link, in ms (reorders datagrams).
        #[arg(long)]
        jitter_ms: Option<u64>,
        /// Seed of the fault pattern (default: the scenario's, or random; printed either way).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Every node of a running testnet: process state, log length, links.
    Status {
        /// The testnet directory.
        dir: PathBuf,
        #[command(flatten)]
        json: hotline_node::cli::JsonFlag,
    },
    /// Kills one node with SIGKILL (no chance to flush anything), as a crash would; the others
    /// run on, and `testnet restart` starts it again.
    Kill {
        /// The testnet directory.
        dir: PathBuf,
        /// The node (alpha, bravo, ...).
        node: String,
    },
    /// Stops one node (SIGTERM) if it runs, then starts it again.
    Restart {
        /// The testnet directory.
        dir: PathBuf,
        /// The node (alpha, bravo, ...).
        node: String,
    },
    /// Prints one node's log (DIR/logs/NODE.log).
    Logs {
        /// The testnet directory.
        dir: PathBuf,
        /// The node (alpha, bravo, ...).
        node: String,
        /// Only the last N lines.
        #[arg(long, short = 'n')]
        lines: Option<usize>,
        /// Keep printing what the node logs from now on, until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Stops every node of a running testnet, and `testnet up` with them.
    Down {
        /// The testnet directory.
        dir: PathBuf,
    },
}

/// Runs a testnet command.
pub fn run(command: TestnetCommand) -> Result<()> {
    match command {
        TestnetCommand::Init { dir, nodes, base_port, ports, policy, second_officer } => {
            let policy = match policy {
                Some(path) => hotline_node::cli::read_policy(&path)?,
                None => Policy::default(),
            };
            let ports: Vec<u16> = if ports.is_empty() {
                (0..nodes).map(|i| base_port.saturating_add(i as u16)).collect()
            } else if ports.len() == nodes {
                ports
            } else {
                return Err(hotline_node::cli::usage(format!(
                    "--ports lists {} ports for {nodes} nodes",
                    ports.len()
                )));
            };
            let release = Release { second_officer: second_officer.into_iter().map(Into::into).collect() };
            let homes = init(&dir, &ports, policy, &release)?;
            for (name, home) in &homes {
                println!("{name:<10} {}", home.dir().display());
            }
            eprintln!("start it with `hotline testnet up {}`", dir.display());
            Ok(())
        }
        TestnetCommand::Up { dir, faults, loss, duplicate, delay_ms, jitter_ms, seed } => {
            let quick = loss.is_some()
                || duplicate.is_some()
                || delay_ms.is_some()
                || jitter_ms.is_some()
                || seed.is_some();
            let scenario = match (faults, quick) {
                (None, false) => None,
                (path, _) => {
                    let mut s = match path {
                        Some(path) => Scenario::read(&path)?,
                        None => Scenario { seed: rand::random(), ..Scenario::default() },
                    };
                    s.default.loss = loss.unwrap_or(s.default.loss);
                    s.default.duplicate = duplicate.unwrap_or(s.default.duplicate);
                    s.default.delay_ms = delay_ms.unwrap_or(s.default.delay_ms);
                    s.default.jitter_ms = jitter_ms.unwrap_or(s.default.jitter_ms);
                    s.seed = seed.unwrap_or(s.seed);
                    Some(s)
                }
            };
            crate::supervisor::up(&dir, scenario)
        }
        TestnetCommand::Status { dir, json } => status(&dir, json.json),
        TestnetCommand::Kill { dir, node } => order(&dir, Order::Kill { node }),
        TestnetCommand::Restart { dir, node } => order(&dir, Order::Restart { node }),
        TestnetCommand::Down { dir } => order(&dir, Order::Down),
        TestnetCommand::Logs { dir, node, lines, follow } => logs(&dir, &node, lines, follow),
    }
}

fn order(dir: &Path, order: Order) -> Result<()> {
    let down = matches!(order, Order::Down);
    let reply = crate::supervisor::send(dir, &order)?;
    if down {
        // Returns once `testnet up` is gone, so that a script can start the testnet again.
        let socket = crate::supervisor::socket_path(dir);
        for _ in 0..200 {
            if !socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if let Some(done) = reply.done {
        println!("{done}");
    }
    Ok(())
}

/// One node as `testnet status` shows it: the supervisor's view of its process and, while it
/// runs, its own view of its log and links.
#[derive(serde::Serialize)]
struct NodeStatus {
    #[serde(flatten)]
    process: NodeState,
    /// The node's `status` answer, while its API answers.
    node: Option<hotline_node::api::Status>,
}

fn status(dir: &Path, json: bool) -> Result<()> {
    let reply = crate::supervisor::send(dir, &Order::Status)?;
    let nodes: Vec<NodeStatus> = reply
        .nodes
        .into_iter()
        .map(|process| {
            let node = (process.state == "running")
                .then(|| {
                    hotline_node::client::call_as(
                        &dir.join(&process.name).join("api.sock"),
                        &Request::Status {},
                    )
                    .ok()
                })
                .flatten();
            NodeStatus { process, node }
        })
        .collect();
    if json {
        let out = serde_json::json!({
            "api": crate::supervisor::CONTROL_API,
            "supervisor_pid": reply.pid,
            "faults_seed": reply.faults_seed,
            "nodes": nodes,
        });
        println!("{out}");
        return Ok(());
    }
    let faults = reply
        .faults_seed
        .map_or("links direct".to_string(), |s| format!("links through fault relays, seed {s}"));
    println!("testnet {} (`testnet up` is pid {}; {faults})", dir.display(), reply.pid);
    for n in &nodes {
        let p = &n.process;
        let since = hotline_proto::utc::utc_seconds(p.since_ms);
        let restarts = match p.restarts {
            0 => String::new(),
            r => format!(", restarted {r}×"),
        };
        match (&n.node, p.state.as_str()) {
            (Some(s), _) => {
                let up = s.links.iter().filter(|l| l.up && l.heard).count();
                let down: Vec<&str> = s.links.iter().filter(|l| !l.up).map(|l| l.peer.as_str()).collect();
                let down =
                    if down.is_empty() { String::new() } else { format!(", DOWN: {}", down.join(", ")) };
                println!(
                    "  {:<10} running since {since} (pid {}{restarts}): {} log entries, {up}/{} links up{down}, {} awaited",
                    p.name,
                    p.pid.unwrap_or(0),
                    s.log_entries,
                    s.links.len(),
                    s.awaiting.len()
                );
            }
            (None, "running") => {
                println!(
                    "  {:<10} running since {since} (pid {}{restarts}), its API does not answer",
                    p.name,
                    p.pid.unwrap_or(0)
                )
            }
            (None, state) => println!(
                "  {:<10} {} since {since}: {}{restarts}",
                p.name,
                state.to_uppercase(),
                p.detail.as_deref().unwrap_or("")
            ),
        }
    }
    Ok(())
}

/// Prints node `node`'s log file: all of it or its last `lines`, then, with `follow`, what it
/// appends until interrupted.
fn logs(dir: &Path, node: &str, lines: Option<usize>, follow: bool) -> Result<()> {
    use hotline_node::cli::write_stdout;
    use std::io::{Read, Seek};
    let path = crate::supervisor::log_path(dir, node);
    let mut file = std::fs::File::open(&path).map_err(|e| {
        anyhow::anyhow!(hotline_node::cli::Invalid(format!(
            "no log for {node} at {} ({e}): is {node} a node of this testnet, started by `hotline testnet up {}`?",
            path.display(),
            dir.display()
        )))
    })?;
    let len = file.metadata()?.len();
    // The last lines are found in the last part of the file (a node's line is far below 64 KiB).
    let start = match lines {
        Some(n) => len.saturating_sub(64 * 1024 * (n as u64).max(1)),
        None => 0,
    };
    file.seek(std::io::SeekFrom::Start(start))?;
    let mut text = String::new();
    (&mut file).take(len - start).read_to_string(&mut text).or_else(|_| {
        // A cut in the middle of a character: read the bytes lossily.
        text.clear();
        file.seek(std::io::SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        (&mut file).take(len - start).read_to_end(&mut bytes)?;
        text = String::from_utf8_lossy(&bytes).into_owned();
        std::io::Result::Ok(0)
    })?;
    let shown: Vec<&str> = text.lines().collect();
    let from = lines.map_or(0, |n| shown.len().saturating_sub(n));
    let mut page = String::new();
    for line in &shown[from..] {
        page.push_str(line);
        page.push('\n');
    }
    write_stdout(page.as_bytes())?;
    if follow {
        let mut at = len;
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = std::fs::metadata(&path)?.len();
            if now < at {
                at = 0; // truncated or replaced
            }
            if now > at {
                file.seek(std::io::SeekFrom::Start(at))?;
                let mut bytes = Vec::new();
                (&mut file).take(now - at).read_to_end(&mut bytes)?;
                write_stdout(&bytes)?;
                at = now;
            }
        }
    }
    Ok(())
}

/// The name of the i-th testnet node.
pub fn name(i: usize) -> String {
    NAMES.get(i).map_or_else(|| format!("node-{}", i + 1), |n| (*n).to_string())
}

/// Creates one node directory per port, all on 127.0.0.1, and installs one roster in each.
/// Each node's config.toml gets `release` ([`Release::off`]: testers send alone).
pub fn init(dir: &Path, ports: &[u16], policy: Policy, release: &Release) -> Result<Vec<(String, Home)>> {
    if ports.len() < 2 || ports.len() > hotline_proto::limits::MAX_MEMBERS {
        bail!(hotline_node::cli::Invalid(format!(
            "a testnet has 2 to {} nodes",
            hotline_proto::limits::MAX_MEMBERS
        )));
    }
    if dir.join("roster.bin").exists() || (0..ports.len()).any(|i| dir.join(name(i)).exists()) {
        bail!(hotline_node::cli::Invalid(format!(
            "{} already holds a testnet: run it with `hotline testnet up {}`, or remove it (`rm -r {}`) or choose another directory to make a new one",
            dir.display(),
            dir.display(),
            dir.display()
        )));
    }
    let mut homes = Vec::new();
    let mut members = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let name = name(i);
        let home = Home::new(dir.join(&name));
        let listen = format!("127.0.0.1:{port}").parse()?;
        let config =
            Config { name: name.clone(), listen, peers: Default::default(), release: release.clone() };
        let key = home.init(&config)?;
        let card = Member {
            name: name.clone(),
            key: hotline_proto::crypto::node_id(&key),
            addresses: vec![listen.to_string()],
            languages: policy.required_languages.clone(),
        };
        // As `hotline init` leaves it, for `hotline roster card`.
        files::write_private(
            &home.dir().join("card.json"),
            (serde_json::to_string_pretty(&card)? + "\n").as_bytes(),
        )?;
        members.push(card);
        homes.push((name, home));
    }
    let roster = hotline_node::cli::build_roster("testnet", members, policy)?;
    files::write_private(&dir.join("roster.bin"), &roster.to_bytes())?;
    for (_, home) in &homes {
        home.write_roster(&roster)?;
    }
    Ok(homes)
}

/// The node directories of a testnet, in name order.
pub fn homes(dir: &Path) -> Result<Vec<Home>> {
    let mut homes: Vec<Home> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("config.toml").exists())
        .map(Home::new)
        .collect();
    homes.sort_by_key(|h| h.dir().to_path_buf());
    if homes.is_empty() {
        bail!(hotline_node::cli::Invalid(format!(
            "{} holds no node directories; create them with `hotline testnet init`",
            dir.display()
        )));
    }
    Ok(homes)
}
