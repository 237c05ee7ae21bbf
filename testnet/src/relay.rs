//! A fault-injecting UDP relay for testnets: it sits on a link between two nodes' QUIC endpoints
//! and loses, duplicates, delays (with jitter, hence reorders) and rate-limits datagrams, and cuts
//! the link (one way or both) on a schedule. The kernel here has no netem; this is the way.
//!
//! One relay serves one link. The dialling node is given the relay's address for its peer (a
//! local address override in its `config.toml`); the relay forwards to the peer's real address
//! and carries the answers back, applying each direction's faults. Randomness comes from a seed,
//! so a scenario's fault pattern is reproducible (up to the timing of the real network).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;

/// What happens to datagrams in one direction of a link.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkFaults {
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Fixed one-way delay, in ms.
    pub delay_ms: u64,
    /// Extra delay drawn uniformly from `0..=jitter_ms` per datagram: reorders them.
    pub jitter_ms: u64,
    /// Bandwidth cap in kbit/s; 0 is unlimited.
    pub bandwidth_kbps: u64,
}

/// Faults for one direction of one link, replacing the default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkOverride {
    /// Sending node.
    pub from: String,
    /// Receiving node.
    pub to: String,
    /// The faults.
    #[serde(flatten)]
    pub faults: LinkFaults,
}

/// A scheduled cut of a link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The two nodes.
    pub between: [String; 2],
    /// Only datagrams from `between[0]` to `between[1]` are dropped.
    #[serde(default)]
    pub one_way: bool,
    /// Seconds after the start when the cut begins.
    pub start_s: f64,
    /// Seconds after the start when it heals.
    pub end_s: f64,
}

/// A fault scenario (TOML): default faults, per-direction overrides, partitions.
///
/// ```toml
/// seed = 42
/// [default]
/// loss = 0.2
/// delay_ms = 20
/// jitter_ms = 30
/// [[link]]
/// from = "alpha"
/// to = "bravo"
/// loss = 0.5
/// [[partition]]
/// between = ["alpha", "charlie"]
/// start_s = 10.0
/// end_s = 40.0
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Seed of every random choice.
    pub seed: u64,
    /// Faults of every direction of every link, unless overridden.
    pub default: LinkFaults,
    /// Per-direction overrides.
    pub link: Vec<LinkOverride>,
    /// Scheduled cuts.
    pub partition: Vec<Partition>,
}

impl Scenario {
    /// Reads a scenario file.
    pub fn read(path: &std::path::Path) -> Result<Scenario> {
        let text =
            hotline_node::files::read_capped_text(path, hotline_node::files::MAX_CONFIG, "a fault scenario")?;
        toml::from_str(&text).with_context(|| format!("{} is not a fault scenario", path.display()))
    }

    /// Checks probabilities, names and times.
    pub fn check(&self, names: &[String]) -> Result<()> {
        let known = |n: &String| names.contains(n);
        let mut all = vec![&self.default];
        for l in &self.link {
            if !known(&l.from) || !known(&l.to) {
                bail!("link {} -> {}: not a node of the testnet", l.from, l.to);
            }
            all.push(&l.faults);
        }
        for f in all {
            if !(0.0..=1.0).contains(&f.loss) || !(0.0..=1.0).contains(&f.duplicate) {
                bail!("loss and duplicate are probabilities, from 0 to 1");
            }
        }
        for p in &self.partition {
            if !p.between.iter().all(known) || p.between[0] == p.between[1] {
                bail!("partition between {:?}: not two nodes of the testnet", p.between);
            }
            if !(p.start_s >= 0.0 && p.end_s > p.start_s) {
                bail!("partition between {:?}: need 0 <= start_s < end_s", p.between);
            }
        }
        Ok(())
    }

    /// The faults from `from` to `to`.
    pub fn faults(&self, from: &str, to: &str) -> LinkFaults {
        self.link
            .iter()
            .find(|l| l.from == from && l.to == to)
            .map_or_else(|| self.default.clone(), |l| l.faults.clone())
    }

    /// Whether datagrams from `from` to `to` are cut `elapsed_s` after the start.
    pub fn cut(&self, from: &str, to: &str, elapsed_s: f64) -> bool {
        self.partition.iter().any(|p| {
            let active = elapsed_s >= p.start_s && elapsed_s < p.end_s;
            let forward = p.between[0] == from && p.between[1] == to;
            let backward = p.between[1] == from && p.between[0] == to;
            active && (forward || (backward && !p.one_way))
        })
    }
}

/// Shared state of all relays of a testnet.
pub struct Control {
    scenario: Scenario,
    start: Instant,
    healed: AtomicBool,
    /// Datagrams forwarded.
    pub forwarded: AtomicU64,
    /// Datagrams dropped (loss or cut).
    pub dropped: AtomicU64,
    /// Extra copies sent.
    pub duplicated: AtomicU64,
}

impl Control {
    /// Relays applying `scenario`, its clock starting now.
    pub fn new(scenario: Scenario) -> Arc<Control> {
        Arc::new(Control {
            scenario,
            start: Instant::now(),
            healed: AtomicBool::new(false),
            forwarded: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            duplicated: AtomicU64::new(0),
        })
    }

    /// Stops every fault at once: every link becomes perfect.
    pub fn heal(&self) {
        self.healed.store(true, Ordering::SeqCst);
    }

    /// Seconds since the start.
    pub fn elapsed_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// A one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "relays: {} datagrams forwarded, {} dropped, {} duplicated",
            self.forwarded.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
            self.duplicated.load(Ordering::Relaxed)
        )
    }
}

/// One direction of a link.
struct Direction {
    from: String,
    to: String,
    rng: Mutex<StdRng>,
    next_free: Mutex<Instant>,
}

impl Direction {
    fn new(from: &str, to: &str, seed: u64) -> Direction {
        let salt = from.bytes().chain(to.bytes()).fold(seed, |h, b| h.rotate_left(5) ^ u64::from(b));
        Direction {
            from: from.into(),
            to: to.into(),
            rng: Mutex::new(StdRng::seed_from_u64(salt)),
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// When each copy of a datagram of `len` bytes leaves (none: dropped).
    fn schedule(&self, control: &Control, len: usize) -> Vec<Duration> {
        if control.healed.load(Ordering::Relaxed) {
            return vec![Duration::ZERO];
        }
        if control.scenario.cut(&self.from, &self.to, control.elapsed_s()) {
            control.dropped.fetch_add(1, Ordering::Relaxed);
            return Vec::new();
        }
        let f = control.scenario.faults(&self.from, &self.to);
        let Ok(mut rng) = self.rng.lock() else { return vec![Duration::ZERO] };
        if rng.gen_bool(f.loss) {
            control.dropped.fetch_add(1, Ordering::Relaxed);
            return Vec::new();
        }
        let copies = if rng.gen_bool(f.duplicate) { 2 } else { 1 };
        if copies == 2 {
            control.duplicated.fetch_add(1, Ordering::Relaxed);
        }
        let mut out = Vec::new();
        for _ in 0..copies {
            let mut delay = Duration::from_millis(f.delay_ms + rng.gen_range(0..=f.jitter_ms));
            if let Some(micros) = (len as u64 * 8 * 1000).checked_div(f.bandwidth_kbps) {
                if let Ok(mut next_free) = self.next_free.lock() {
                    let now = Instant::now();
                    let start = (*next_free).max(now);
                    *next_free = start + Duration::from_micros(micros);
                    delay += *next_free - now;
                }
            }
            out.push(delay);
        }
        out
    }
}

async fn forward(
    socket: Arc<UdpSocket>,
    to: Option<SocketAddr>,
    bytes: Vec<u8>,
    delays: Vec<Duration>,
    control: &Control,
) {
    for delay in delays {
        control.forwarded.fetch_add(1, Ordering::Relaxed);
        let socket = socket.clone();
        let bytes = bytes.clone();
        let send = async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let _ = match to {
                Some(addr) => socket.send_to(&bytes, addr).await,
                None => socket.send(&bytes).await,
            };
        };
        if delay.is_zero() {
            send.await;
        } else {
            tokio::spawn(send);
        }
    }
}

/// Starts the relay of the link on which `dialer` reaches `acceptor` at `target`. Returns the
/// address to give `dialer` for `acceptor`. Runs until the runtime stops.
pub async fn start_link(
    control: Arc<Control>,
    dialer: &str,
    acceptor: &str,
    target: SocketAddr,
) -> Result<SocketAddr> {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let address = front.local_addr()?;
    let seed = control.scenario.seed;
    let out = Arc::new(Direction::new(dialer, acceptor, seed));
    let back = Arc::new(Direction::new(acceptor, dialer, seed));
    tokio::spawn(async move {
        let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((len, client)) = front.recv_from(&mut buf).await else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let upstream = match upstreams.get(&client) {
                Some(u) => u.clone(),
                None => {
                    let Ok(u) = UdpSocket::bind("127.0.0.1:0").await else { continue };
                    if u.connect(target).await.is_err() {
                        continue;
                    }
                    let u = Arc::new(u);
                    upstreams.insert(client, u.clone());
                    let (u2, front2, back2, control2) =
                        (u.clone(), front.clone(), back.clone(), control.clone());
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 65_536];
                        loop {
                            match u2.recv(&mut buf).await {
                                Ok(len) => {
                                    let delays = back2.schedule(&control2, len);
                                    forward(
                                        front2.clone(),
                                        Some(client),
                                        buf[..len].to_vec(),
                                        delays,
                                        &control2,
                                    )
                                    .await;
                                }
                                // A connected UDP socket reports the ICMP "port unreachable" of a
                                // peer that is down; the peer may come back, so keep serving.
                                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                            }
                        }
                    });
                    u
                }
            };
            let delays = out.schedule(&control, len);
            forward(upstream, None, buf[..len].to_vec(), delays, &control).await;
        }
    });
    Ok(address)
}

/// Where each node of a faults run reaches each peer: member name to member name to the relay's
/// address. Passed to `hotline run --peer` for the run only (see [`Processes::route`]), never
/// written into a node's configuration, so that no relay's address outlives its run.
///
/// [`Processes::route`]: crate::processes::Processes::route
pub type Routes = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>;

/// Starts one relay per link of the testnet in `homes` under `scenario` (none without one) and
/// returns their control and the routes that make the nodes use them.
pub async fn route_testnet(
    homes: &[hotline_node::home::Home],
    scenario: Option<Scenario>,
) -> Result<Option<(Arc<Control>, Routes)>> {
    let Some(scenario) = scenario else {
        return Ok(None);
    };
    let mut nodes = Vec::new();
    for home in homes {
        let (config, key, _) = home.load()?;
        nodes.push((config, hotline_proto::crypto::node_id(&key)));
    }
    let names: Vec<String> = nodes.iter().map(|(c, _)| c.name.clone()).collect();
    scenario.check(&names)?;
    eprintln!("faults: seed {} (reuse it with --seed {})", scenario.seed, scenario.seed);
    let control = Control::new(scenario);
    let mut routes = Routes::new();
    for (dialer, dialer_key) in &nodes {
        let peers = routes.entry(dialer.name.clone()).or_default();
        for (acceptor, acceptor_key) in &nodes {
            // The node with the smaller key dials (spec §14).
            if dialer_key < acceptor_key {
                let relay =
                    start_link(control.clone(), &dialer.name, &acceptor.name, acceptor.listen).await?;
                peers.insert(acceptor.name.clone(), relay.to_string());
            }
        }
    }
    Ok(Some((control, routes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn parses_checks_and_cuts() {
        let s = scenario(
            r#"
seed = 7
[default]
loss = 0.25
jitter_ms = 30
[[link]]
from = "alpha"
to = "bravo"
loss = 0.5
[[partition]]
between = ["alpha", "charlie"]
one_way = true
start_s = 1.0
end_s = 2.0
"#,
        );
        let names: Vec<String> = ["alpha", "bravo", "charlie"].iter().map(|s| s.to_string()).collect();
        s.check(&names).unwrap();
        assert_eq!(s.faults("alpha", "bravo").loss, 0.5);
        assert_eq!(s.faults("bravo", "alpha").loss, 0.25);
        assert!(s.cut("alpha", "charlie", 1.5));
        assert!(!s.cut("charlie", "alpha", 1.5), "one-way cut applied both ways");
        assert!(!s.cut("alpha", "charlie", 2.0));
        assert!(scenario("[default]\nloss = 1.5").check(&names).is_err());
        assert!(toml::from_str::<Scenario>("[default]\nlos = 0.1").is_err(), "a typo is not ignored");
    }

    #[tokio::test]
    async fn survives_a_peer_that_goes_away_and_comes_back() {
        // Regression: the ICMP error of a dead peer ended the relay's return path for good.
        let sink = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = sink.local_addr().unwrap();
        let control = Control::new(Scenario::default());
        let relay = start_link(control, "a", "b", target).await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.send_to(b"1", relay).await.unwrap();
        let mut b = [0u8; 16];
        sink.recv_from(&mut b).await.unwrap();
        drop(sink);
        for _ in 0..5 {
            client.send_to(b"into the void", relay).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sink = UdpSocket::bind(target).await.unwrap();
        client.send_to(b"2", relay).await.unwrap();
        let (_, from) =
            tokio::time::timeout(Duration::from_secs(2), sink.recv_from(&mut b)).await.unwrap().unwrap();
        sink.send_to(b"back", from).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), client.recv(&mut b))
            .await
            .expect("the return path died")
            .unwrap();
        assert_eq!(&b[..n], b"back");
    }

    #[tokio::test]
    async fn forwards_loses_and_heals() {
        let sink = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let control = Control::new(scenario("seed = 1\n[default]\nloss = 0.5"));
        let relay = start_link(control.clone(), "a", "b", sink.local_addr().unwrap()).await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for i in 0..200u8 {
            client.send_to(&[i], relay).await.unwrap();
        }
        let mut got = 0;
        let mut buf = [0u8; 16];
        while tokio::time::timeout(Duration::from_millis(300), sink.recv(&mut buf)).await.is_ok() {
            got += 1;
        }
        assert!((60..140).contains(&got), "{got} of 200 datagrams through at 50 % loss");
        control.heal();
        for i in 0..50u8 {
            client.send_to(&[i], relay).await.unwrap();
        }
        let mut healed = 0;
        while tokio::time::timeout(Duration::from_millis(300), sink.recv(&mut buf)).await.is_ok() {
            healed += 1;
        }
        assert_eq!(healed, 50);
        // Answers go back to the client.
        let (_, from) = {
            client.send_to(b"ping", relay).await.unwrap();
            let mut b = [0u8; 16];
            sink.recv_from(&mut b).await.unwrap()
        };
        sink.send_to(b"pong", from).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), client.recv(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf[..n], b"pong");
    }
}
