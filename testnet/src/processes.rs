//! Real `hotline run` processes: the one layer that starts, watches and stops them, used by the
//! test harness, the benchmarks, the demo and `testnet up`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hotline_node::api::Request;
use hotline_node::client;
use hotline_node::home::Home;

/// One node process.
pub struct Child(std::process::Child);

impl Child {
    /// Starts `EXE run --home HOME`, its output appended to `log` (or inherited), with at most
    /// `open_files` file descriptors (`ulimit -n`) if given.
    pub fn spawn(exe: &Path, home: &Home, log: Option<&Path>, open_files: Option<u32>) -> Result<Child> {
        Child::spawn_with(exe, home, log, open_files, &[], &[])
    }

    /// [`Child::spawn`] with environment variables set for the node and more arguments to `run`.
    pub fn spawn_with(
        exe: &Path,
        home: &Home,
        log: Option<&Path>,
        open_files: Option<u32>,
        envs: &[(String, String)],
        args: &[String],
    ) -> Result<Child> {
        let mut command = match open_files {
            None => std::process::Command::new(exe),
            Some(n) => {
                let mut c = std::process::Command::new("sh");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")]).arg(exe);
                c
            }
        };
        command.arg("--home").arg(home.dir()).arg("run").args(args).stdin(std::process::Stdio::null());
        command.envs(envs.iter().map(|(k, v)| (k, v)));
        if let Some(log) = log {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .with_context(|| format!("opening {}", log.display()))?;
            command.stdout(file.try_clone()?).stderr(file);
        }
        Ok(Child(command.spawn().with_context(|| format!("starting {}", exe.display()))?))
    }

    /// Asks the node to stop (SIGTERM) and waits up to 10 s before killing it; says whether it
    /// stopped by itself.
    pub fn stop(self) -> bool {
        stop_all(vec![self]).is_empty()
    }

    fn terminate(&self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.0.id()).unwrap_or(i32::MAX));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        !matches!(self.0.try_wait(), Ok(None))
    }

    /// How the process ended, once it has.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().ok().flatten()
    }
}

/// How long a node has to stop on SIGTERM before it is killed.
pub const STOP_LIMIT: Duration = Duration::from_secs(10);

/// Stops every child at once: SIGTERM to all, then up to [`STOP_LIMIT`] for all of them together,
/// then SIGKILL for the rest. Returns the indexes of those that had to be killed. (One after the
/// other, five nodes took 10-15 s to stop; together they take as long as the slowest.)
pub fn stop_all(mut children: Vec<Child>) -> Vec<usize> {
    for child in &children {
        child.terminate();
    }
    let t = Instant::now();
    let mut killed = Vec::new();
    let mut open: Vec<usize> = (0..children.len()).collect();
    while !open.is_empty() {
        open.retain(|&i| !children[i].exited());
        if t.elapsed() > STOP_LIMIT {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for i in open {
        let _ = children[i].0.kill();
        let _ = children[i].0.wait();
        killed.push(i);
    }
    children.clear();
    killed
}

/// Says how a process ended, in words: "exit code 1", "killed by signal 9 (SIGKILL)".
pub fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => "exited normally".to_string(),
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => match nix::sys::signal::Signal::try_from(signal) {
            Ok(name) => format!("killed by signal {signal} ({name})"),
            Err(_) => format!("killed by signal {signal}"),
        },
        (None, None) => "ended".to_string(),
    }
}

/// The running processes of one network, by name; all are stopped when this is dropped.
pub struct Processes {
    exe: PathBuf,
    logs: PathBuf,
    envs: Vec<(String, String)>,
    /// Arguments to `run` by node (the relays' `--peer` addresses of a faults run).
    args: BTreeMap<String, Vec<String>>,
    children: BTreeMap<String, Child>,
}

impl Processes {
    /// Processes of the binary `exe`, each logging to `logs/NAME.log`.
    pub fn new(exe: PathBuf, logs: PathBuf) -> Processes {
        Processes { exe, logs, envs: Vec::new(), args: BTreeMap::new(), children: BTreeMap::new() }
    }

    /// Routes node `name`, from its next start on, to its peers at `peers` (member name to
    /// address) instead of the roster's addresses: `hotline run --peer NAME=ADDR`, for that run
    /// only, never written to the node's configuration.
    pub fn route(&mut self, name: &str, peers: &BTreeMap<String, String>) {
        let args = peers.iter().flat_map(|(peer, addr)| ["--peer".to_string(), format!("{peer}={addr}")]);
        self.args.insert(name.to_string(), args.collect());
    }

    /// Sets an environment variable for every node started from now on.
    pub fn env(mut self, key: &str, value: &str) -> Processes {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    /// The log file of node `name`.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// Starts node `name` in `home` (with at most `open_files` descriptors, if given) and
    /// returns once its API answers, or fails after `limit`; returns how long that took.
    pub fn start(
        &mut self,
        name: &str,
        home: &Home,
        open_files: Option<u32>,
        limit: Duration,
    ) -> Result<Duration> {
        let t = Instant::now();
        let log = self.log_path(name);
        let args = self.args.get(name).map_or(&[][..], Vec::as_slice);
        let mut child = Child::spawn_with(&self.exe, home, Some(&log), open_files, &self.envs, args)?;
        let api = home.api_path();
        while client::call(&api, &Request::Status {}).is_err() {
            if child.exited() {
                bail!("{name} exited while starting; see {}", log.display());
            }
            if t.elapsed() > limit {
                child.kill();
                bail!("{name} did not answer within {limit:?}; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.children.insert(name.to_string(), child);
        Ok(t.elapsed())
    }

    /// Stops node `name` with SIGTERM; fails if it had to be killed.
    pub fn stop(&mut self, name: &str) -> Result<()> {
        let child = self.children.remove(name).ok_or_else(|| anyhow!("{name} is not running"))?;
        if child.stop() {
            Ok(())
        } else {
            bail!("{name} did not stop on SIGTERM within 10 s and was killed")
        }
    }

    /// Kills node `name` with SIGKILL.
    pub fn kill9(&mut self, name: &str) -> Result<()> {
        self.children.remove(name).ok_or_else(|| anyhow!("{name} is not running"))?.kill();
        Ok(())
    }

    /// The process id of node `name`, if it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children.get(name).map(Child::id)
    }

    /// Whether node `name` runs (was started and not stopped).
    pub fn running(&self, name: &str) -> bool {
        self.children.contains_key(name)
    }

    /// The process ids of all running nodes, in name order.
    pub fn pids(&self) -> Vec<u32> {
        self.children.values().map(Child::id).collect()
    }

    /// The nodes that ended since the last call, with how: they no longer count as running.
    pub fn reap(&mut self) -> Vec<(String, std::process::ExitStatus)> {
        let mut ended = Vec::new();
        for (name, child) in &mut self.children {
            if let Some(status) = child.exit_status() {
                ended.push((name.clone(), status));
            }
        }
        for (name, _) in &ended {
            self.children.remove(name);
        }
        ended
    }

    /// Stops every running node at once ([`stop_all`]); returns the names of those that had to
    /// be killed.
    pub fn stop_all(&mut self) -> Vec<String> {
        let (names, children): (Vec<String>, Vec<Child>) =
            std::mem::take(&mut self.children).into_iter().unzip();
        stop_all(children).into_iter().filter_map(|i| names.get(i).cloned()).collect()
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Waits until every link of the node in `home` is tested (all its link tests receipted), or
/// fails after `limit`.
pub fn wait_links(home: &Home, limit: Duration) -> Result<()> {
    let t = Instant::now();
    loop {
        // Every link tested (a heartbeat round trip logged) since this run started, and nothing
        // unreceipted.
        let tested = client::call(&home.api_path(), &Request::Status {})
            .map(|s| {
                let started = s["started_ms"].as_u64().unwrap_or(u64::MAX);
                s["links"].as_array().is_some_and(|ls| {
                    ls.iter().all(|l| {
                        l["unreceipted"] == 0 && l["last_link_test_ms"].as_u64().is_some_and(|t| t >= started)
                    })
                })
            })
            .unwrap_or(false);
        if tested {
            return Ok(());
        }
        if t.elapsed() > limit {
            bail!("the links of {} are not all tested after {limit:?}", home.dir().display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `n` UDP ports on 127.0.0.1 that were free a moment ago (bound, read, released).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let sockets: Vec<std::net::UdpSocket> =
        (0..n).map(|_| std::net::UdpSocket::bind("127.0.0.1:0")).collect::<std::io::Result<_>>()?;
    sockets.iter().map(|s| Ok(s.local_addr()?.port())).collect()
}
