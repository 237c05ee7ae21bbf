//! `hotline testnet up` as a supervisor: it owns every node process of a testnet, reports each
//! node that dies by name while the others run on, and takes orders from `hotline testnet kill`,
//! `restart`, `status` and `down` over a control socket in the testnet directory. Each node logs
//! to its own file under `DIR/logs/`; fault relays' addresses reach the nodes as `run --peer`
//! arguments and never outlive the run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use hotline_node::home::Home;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::processes::{describe_exit, Processes};
use crate::relay::Scenario;

/// The version of the control protocol and of `testnet status --json`.
pub const CONTROL_API: u32 = 1;

/// How long a node has to answer its API after it is started.
const START_LIMIT: Duration = Duration::from_secs(20);

/// The longest control request or answer line.
const MAX_LINE: u64 = 64 * 1024;

/// The control socket of the testnet in `dir`.
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join("testnet.sock")
}

/// The log file of node `name` of the testnet in `dir`.
pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("logs").join(format!("{name}.log"))
}

/// An order to the supervisor.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Order {
    /// Every node's process state.
    Status,
    /// SIGKILL to one node (it gets no chance to flush anything); it stays down until restarted.
    Kill {
        /// The node's name.
        node: String,
    },
    /// Stops one node (SIGTERM) if it runs, then starts it again.
    Restart {
        /// The node's name.
        node: String,
    },
    /// Stops every node and the supervisor.
    Down,
}

/// The supervisor's answer to an order.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    /// [`CONTROL_API`].
    pub api: u32,
    /// What went wrong, if the order could not be carried out.
    pub error: Option<String>,
    /// What was done, in words.
    pub done: Option<String>,
    /// Every node, in name order (for `status`).
    pub nodes: Vec<NodeState>,
    /// The supervisor's process id.
    pub pid: u32,
    /// The fault scenario's seed, when links run through relays.
    pub faults_seed: Option<u64>,
}

/// One node's process, as the supervisor sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeState {
    /// The node's name.
    pub name: String,
    /// `running`, `exited` (it died or stopped by itself), `killed` (by `testnet kill`) or
    /// `stopped` (while the testnet goes down).
    pub state: String,
    /// Its process id while it runs.
    pub pid: Option<u32>,
    /// Since when it is in this state (UTC ms).
    pub since_ms: u64,
    /// How it ended, for a node that is not running ("killed by signal 9 (SIGKILL)").
    pub detail: Option<String>,
    /// How many times it was restarted.
    pub restarts: u32,
    /// Its log file.
    pub log: PathBuf,
}

/// Sends `order` to the supervisor of the testnet in `dir` and returns its reply; fails with what
/// to do when no supervisor runs.
pub fn send(dir: &Path, order: &Order) -> Result<Reply> {
    let path = socket_path(dir);
    let stream = std::os::unix::net::UnixStream::connect(&path).map_err(|_| {
        anyhow!(hotline_node::client::NotRunning {
            path: path.display().to_string(),
            reason: format!(
                "no `hotline testnet up {}` is running (start the testnet with it first)",
                dir.display()
            ),
        })
    })?;
    // A restart waits for a stop and a start.
    let limit = crate::processes::STOP_LIMIT + START_LIMIT + Duration::from_secs(5);
    stream.set_read_timeout(Some(limit))?;
    let mut line = serde_json::to_vec(order)?;
    line.push(b'\n');
    (&stream).write_all(&line).context("writing to the testnet supervisor")?;
    let mut answer = String::new();
    BufReader::new(stream.take(MAX_LINE))
        .read_line(&mut answer)
        .context("reading the testnet supervisor's answer")?;
    let reply: Reply =
        serde_json::from_str(&answer).context("the testnet supervisor's answer is not a reply")?;
    if reply.api != CONTROL_API {
        bail!("the testnet supervisor speaks control version {}, this program {CONTROL_API}: run the same release", reply.api);
    }
    match &reply.error {
        Some(e) => Err(anyhow!(hotline_node::cli::Invalid(e.clone()))),
        None => Ok(reply),
    }
}

/// An order, where its reply goes, and word that the reply was written (the supervisor waits for
/// it before it exits on `down`, or the reply would die with it).
type Request = (Order, oneshot::Sender<Reply>, oneshot::Receiver<()>);

/// Runs every node of the testnet in `dir` (links through relays under `scenario`, if given)
/// until Ctrl-C, SIGTERM or `testnet down`.
pub fn up(dir: &Path, scenario: Option<Scenario>) -> Result<()> {
    let homes = crate::testnet::homes(dir)?;
    let socket = socket_path(dir);
    if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        bail!(hotline_node::cli::Invalid(format!(
            "a `hotline testnet up` already runs for {} (stop it with `hotline testnet down {}`)",
            dir.display(),
            dir.display()
        )));
    }
    let _ = std::fs::remove_file(&socket);
    let logs = dir.join("logs");
    hotline_node::files::create_private_dir(&logs)?;
    let seed = scenario.as_ref().map(|s| s.seed);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let routes = crate::relay::route_testnet(&homes, scenario).await?;
        let exe = std::env::current_exe()?;
        let mut s = Supervisor {
            homes: homes.iter().map(|h| (name_of(h), h.clone())).collect(),
            processes: Processes::new(exe, logs.clone()),
            states: BTreeMap::new(),
            seed,
            dir: dir.to_path_buf(),
        };
        let control = match routes {
            Some((control, routes)) => {
                for (name, peers) in &routes {
                    s.processes.route(name, peers);
                }
                Some(control)
            }
            None => None,
        };
        let (tx, mut orders) = mpsc::channel::<Request>(16);
        let listener = tokio::net::UnixListener::bind(&socket)
            .with_context(|| format!("binding the control socket {}", socket.display()))?;
        tokio::spawn(serve(listener, tx));
        for name in s.homes.keys().cloned().collect::<Vec<_>>() {
            if let Err(e) = s.start(&name) {
                eprintln!("{e:#}");
            }
        }
        eprintln!(
            "testnet {dir}: {n} nodes, logs in {logs}; `hotline testnet status|logs|kill|restart|down {dir}` from another terminal, Ctrl-C stops them all",
            dir = dir.display(),
            n = s.homes.len(),
            logs = logs.display()
        );
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let why = loop {
            // Signals first: Ctrl-C reaches the nodes too (one process group), and their exits
            // must not be reported as deaths before the supervisor has seen its own signal.
            tokio::select! {
                biased;
                _ = tokio::signal::ctrl_c() => break "interrupt".to_string(),
                _ = terminate.recv() => break "SIGTERM".to_string(),
                Some((order, reply, written)) = orders.recv() => {
                    let down = matches!(order, Order::Down);
                    let answer = tokio::task::block_in_place(|| s.obey(order));
                    let _ = reply.send(answer);
                    if down {
                        let _ = tokio::time::timeout(Duration::from_secs(1), written).await;
                        break "`hotline testnet down`".to_string();
                    }
                }
                _ = tick.tick() => s.reap(),
            }
        };
        eprintln!("stopping all nodes ({why})");
        tokio::task::block_in_place(|| s.down());
        if let Some(control) = control {
            eprintln!("{}", control.summary());
        }
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// Accepts control connections: one order and one reply each.
async fn serve(listener: tokio::net::UnixListener, tx: mpsc::Sender<Request>) {
    while let Ok((stream, _)) = listener.accept().await {
        let tx = tx.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            if tokio::io::BufReader::new(read.take(MAX_LINE)).read_line(&mut line).await.is_err() {
                return;
            }
            let (written_tx, written_rx) = oneshot::channel();
            let reply = match serde_json::from_str::<Order>(&line) {
                Ok(order) => {
                    let (reply_tx, reply_rx) = oneshot::channel();
                    if tx.send((order, reply_tx, written_rx)).await.is_err() {
                        return;
                    }
                    match reply_rx.await {
                        Ok(reply) => reply,
                        Err(_) => return,
                    }
                }
                Err(e) => Reply::error(format!("not a testnet order: {e}")),
            };
            if let Ok(mut bytes) = serde_json::to_vec(&reply) {
                bytes.push(b'\n');
                let _ = write.write_all(&bytes).await;
                let _ = write.shutdown().await;
            }
            let _ = written_tx.send(());
        });
    }
}

impl Reply {
    fn error(e: String) -> Reply {
        Reply {
            api: CONTROL_API,
            error: Some(e),
            done: None,
            nodes: vec![],
            pid: std::process::id(),
            faults_seed: None,
        }
    }
}

struct Supervisor {
    dir: PathBuf,
    homes: BTreeMap<String, Home>,
    processes: Processes,
    states: BTreeMap<String, NodeState>,
    seed: Option<u64>,
}

/// A node's name: its directory's.
fn name_of(home: &Home) -> String {
    home.dir().file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

impl Supervisor {
    fn set(&mut self, name: &str, state: &str, detail: Option<String>) {
        let restarts = self.states.get(name).map_or(0, |s| s.restarts);
        self.states.insert(
            name.to_string(),
            NodeState {
                name: name.to_string(),
                state: state.to_string(),
                pid: self.processes.pid(name),
                since_ms: hotline_node::now_ms(),
                detail,
                restarts,
                log: log_path(&self.dir, name),
            },
        );
    }

    fn start(&mut self, name: &str) -> Result<()> {
        let home = self.homes.get(name).ok_or_else(|| anyhow!("no node {name}"))?.clone();
        eprintln!("starting {name}");
        match self.processes.start(name, &home, None, START_LIMIT) {
            Ok(_) => {
                self.set(name, "running", None);
                Ok(())
            }
            Err(e) => {
                self.set(name, "exited", Some(format!("{e:#}")));
                Err(e)
            }
        }
    }

    /// Notes every node that died since the last look, by name; the others run on.
    fn reap(&mut self) {
        for (name, status) in self.processes.reap() {
            let how = describe_exit(status);
            eprintln!(
                "{} {name} {how}; the other nodes run on (`hotline testnet restart {} {name}` starts it again, `hotline testnet logs {} {name}` shows why)",
                hotline_proto::utc::utc_seconds(hotline_node::now_ms()),
                self.dir.display(),
                self.dir.display()
            );
            self.set(&name, "exited", Some(how));
        }
    }

    fn reply(&self, done: Option<String>) -> Reply {
        Reply {
            api: CONTROL_API,
            error: None,
            done,
            nodes: self.states.values().cloned().collect(),
            pid: std::process::id(),
            faults_seed: self.seed,
        }
    }

    fn obey(&mut self, order: Order) -> Reply {
        self.reap();
        let known = |s: &Supervisor, node: &str| {
            if s.homes.contains_key(node) {
                Ok(())
            } else {
                Err(Reply::error(format!(
                    "this testnet has no node {node:?}; its nodes are {}",
                    s.homes.keys().cloned().collect::<Vec<_>>().join(", ")
                )))
            }
        };
        match order {
            Order::Status => self.reply(None),
            Order::Kill { node } => {
                if let Err(reply) = known(self, &node) {
                    return reply;
                }
                if self.processes.kill9(&node).is_err() {
                    return Reply::error(format!("{node} is not running"));
                }
                eprintln!(
                    "{} killed {node} (SIGKILL, by `hotline testnet kill`)",
                    hotline_proto::utc::utc_seconds(hotline_node::now_ms())
                );
                self.set(
                    &node,
                    "killed",
                    Some("killed by signal 9 (SIGKILL), by `hotline testnet kill`".into()),
                );
                self.reply(Some(format!("killed {node}")))
            }
            Order::Restart { node } => {
                if let Err(reply) = known(self, &node) {
                    return reply;
                }
                if self.processes.running(&node) {
                    if let Err(e) = self.processes.stop(&node) {
                        eprintln!("{e:#}");
                    }
                }
                if let Some(s) = self.states.get_mut(&node) {
                    s.restarts += 1;
                }
                match self.start(&node) {
                    Ok(()) => self.reply(Some(format!("restarted {node}"))),
                    Err(e) => Reply::error(format!("{e:#}")),
                }
            }
            Order::Down => {
                self.down();
                self.reply(Some("stopped every node".into()))
            }
        }
    }

    fn down(&mut self) {
        let running: Vec<String> = self.homes.keys().filter(|n| self.processes.running(n)).cloned().collect();
        let killed = self.processes.stop_all();
        for name in running {
            let detail = if killed.contains(&name) {
                "did not stop on SIGTERM within 10 s and was killed"
            } else {
                "stopped on SIGTERM"
            };
            self.set(&name, "stopped", Some(detail.into()));
        }
        for name in killed {
            eprintln!("{name} did not stop on SIGTERM within 10 s and was killed");
        }
    }
}
