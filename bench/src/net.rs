//! A testnet of real node processes for one bench, and their memory as `/proc` reports it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use hotline_node::api::Request;
use hotline_node::client;
use hotline_node::home::Home;
use hotline_proto::Precedence;

use hotline_testnet::procfs::rss_kib;
use hotline_testnet::testnet::{self, Child};

use crate::run::{policy, send};

/// A running testnet for one bench; every process is stopped when it is dropped.
pub(crate) struct Net {
    pub(crate) homes: Vec<Home>,
    children: Vec<Child>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for child in self.children.drain(..) {
            child.stop();
        }
    }
}

impl Net {
    /// Initialises `n` nodes under `dir` (without starting them).
    pub(crate) fn init(dir: &Path, n: usize) -> Result<Net> {
        let sockets: Vec<std::net::UdpSocket> =
            (0..n).map(|_| std::net::UdpSocket::bind("127.0.0.1:0")).collect::<std::io::Result<_>>()?;
        let ports: Vec<u16> =
            sockets.iter().map(|s| s.local_addr().map(|a| a.port())).collect::<std::io::Result<_>>()?;
        drop(sockets);
        let homes = testnet::init(dir, &ports, policy())?.into_iter().map(|(_, h)| h).collect();
        Ok(Net { homes, children: Vec::new() })
    }

    /// Starts node `i`; returns once its API answers (and how long that took).
    pub(crate) fn start(&mut self, i: usize) -> Result<Duration> {
        let t = Instant::now();
        let log = self.homes[i].dir().join("node.log");
        self.children.push(Child::start(&self.homes[i], Some(&log))?);
        let api = self.homes[i].api_path();
        while client::call(&api, &Request::Status).is_err() {
            if t.elapsed() > Duration::from_secs(120) {
                bail!("node {i} did not start within 120 s; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(t.elapsed())
    }

    pub(crate) fn api(&self, i: usize) -> PathBuf {
        self.homes[i].api_path()
    }

    /// Sends a FLASH notice from node 0 to every other node and waits until all receipted.
    pub(crate) fn warm_up(&self) -> Result<()> {
        let to: Vec<String> = (1..self.homes.len()).map(testnet::name).collect();
        client::call(&self.api(0), &send(Precedence::Flash, to)?)?;
        self.quiet(0, Duration::from_secs(60))
    }

    /// Waits until node `i` has nothing unreceipted.
    pub(crate) fn quiet(&self, i: usize, limit: Duration) -> Result<()> {
        let t = Instant::now();
        loop {
            let status = client::call(&self.api(i), &Request::Status)?;
            let links = status["links"].as_array().cloned().unwrap_or_default();
            if links.iter().all(|l| l["unreceipted"] == 0) {
                return Ok(());
            }
            if t.elapsed() > limit {
                bail!("node {i} still has unreceipted messages after {limit:?}: {}", status["links"]);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn rss_kib(&self) -> Vec<u64> {
        self.children.iter().map(|c| rss_kib(c.id())).collect()
    }
}
