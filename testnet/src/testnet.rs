//! `hotline testnet`: a whole network on one machine, for testers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::processes::Child;
use crate::relay::Scenario;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use hotline_node::files;
use hotline_node::home::{Config, Home};
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
    },
    /// Runs every node of a testnet as a child process; Ctrl-C or SIGTERM stops them all.
    Up {
        /// The testnet directory.
        dir: PathBuf,
        /// Route every link through a fault-injecting relay with this scenario (TOML: seed,
        /// [default] faults, [[link]] overrides, [[partition]] cuts; see node/README.md).
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
}

/// Runs a testnet command.
pub fn run(command: TestnetCommand) -> Result<()> {
    match command {
        TestnetCommand::Init { dir, nodes, base_port, ports, policy } => {
            let policy = match policy {
                Some(path) => toml::from_str(&files::read_capped_text(&path, files::MAX_CONFIG, "a policy")?)
                    .map_err(|e| {
                        anyhow::anyhow!(hotline_node::cli::Invalid(format!(
                            "{} is not a policy: {}",
                            path.display(),
                            files::excerpt(&e.to_string(), 400)
                        )))
                    })?,
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
            let homes = init(&dir, &ports, policy)?;
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
            up(&dir, scenario)
        }
    }
}

/// The name of the i-th testnet node.
pub fn name(i: usize) -> String {
    NAMES.get(i).map_or_else(|| format!("node-{}", i + 1), |n| (*n).to_string())
}

/// Creates one node directory per port, all on 127.0.0.1, and installs one roster in each.
pub fn init(dir: &Path, ports: &[u16], policy: Policy) -> Result<Vec<(String, Home)>> {
    if ports.len() < 2 || ports.len() > hotline_proto::limits::MAX_MEMBERS {
        bail!(hotline_node::cli::Invalid(format!(
            "a testnet has 2 to {} nodes",
            hotline_proto::limits::MAX_MEMBERS
        )));
    }
    let mut homes = Vec::new();
    let mut members = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let name = name(i);
        let home = Home::new(dir.join(&name));
        let listen = format!("127.0.0.1:{port}").parse()?;
        let key = home.init(&Config { name: name.clone(), listen, peers: Default::default() })?;
        members.push(Member {
            name: name.clone(),
            key: hotline_proto::crypto::node_id(&key),
            addresses: vec![listen.to_string()],
            languages: policy.required_languages.clone(),
        });
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

fn up(dir: &Path, scenario: Option<Scenario>) -> Result<()> {
    let homes = homes(dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (stopped_by, control, children) = runtime.block_on(async {
        let control = crate::relay::route_testnet(&homes, scenario).await?;
        let mut children = Vec::new();
        for home in &homes {
            eprintln!("starting {}", home.dir().display());
            children.push(Child::spawn(&std::env::current_exe()?, home, None, None)?);
        }
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let stopped_by = loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break "interrupt",
                _ = terminate.recv() => break "SIGTERM",
                _ = tick.tick() => {
                    if children.iter_mut().any(Child::exited) {
                        break "a node exited";
                    }
                }
            }
        };
        anyhow::Ok((stopped_by, control, children))
    })?;
    eprintln!("stopping all nodes ({stopped_by})");
    for child in children {
        child.stop();
    }
    if let Some(control) = control {
        eprintln!("{}", control.summary());
    }
    Ok(())
}
