//! A testnet of real node processes for one bench (on the shared process layer of
//! `hotline_testnet::processes`), and their memory as `/proc` reports it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use hotline_node::client;
use hotline_node::home::Home;
use hotline_proto::Precedence;
use hotline_testnet::processes::{free_ports, wait_links, Processes};
use hotline_testnet::procfs::rss_kib;
use hotline_testnet::testnet;

use crate::run::{policy, send};

/// A running testnet for one bench; every process is stopped when it is dropped.
pub(crate) struct Net {
    pub(crate) homes: Vec<Home>,
    processes: Processes,
}

impl Net {
    /// Initialises `n` nodes under `dir` (without starting them).
    pub(crate) fn init(dir: &Path, n: usize) -> Result<Net> {
        let homes = testnet::init(dir, &free_ports(n)?, policy(), &hotline_node::home::Release::off())?
            .into_iter()
            .map(|(_, h)| h)
            .collect();
        Ok(Net { homes, processes: Processes::new(std::env::current_exe()?, dir.to_path_buf()) })
    }

    /// Starts node `i`; returns once its API answers (and how long that took).
    pub(crate) fn start(&mut self, i: usize) -> Result<Duration> {
        self.processes.start(&testnet::name(i), &self.homes[i], None, Duration::from_secs(120))
    }

    /// Stops node `i` (SIGTERM, then waits for it to exit).
    pub(crate) fn stop(&mut self, i: usize) -> Result<()> {
        self.processes.stop(&testnet::name(i))
    }

    /// Kills node `i` with SIGKILL, as a power loss would stop it.
    pub(crate) fn kill9(&mut self, i: usize) -> Result<()> {
        self.processes.kill9(&testnet::name(i))
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
        wait_links(&self.homes[i], limit)
    }

    /// The process id of node `i` (0 if it is not running).
    pub(crate) fn pid(&self, i: usize) -> u32 {
        self.processes.pid(&testnet::name(i)).unwrap_or(0)
    }

    /// Resident memory of every running node, in KiB.
    pub(crate) fn rss_kib(&self) -> Vec<u64> {
        self.processes.pids().into_iter().map(rss_kib).collect()
    }
}
