//! Handshake floods for tests and benchmarks (spec §11.1): QUIC Initial packets of fresh client
//! connections, built with quinn-proto's sans-IO endpoint, to send from a plain UDP socket that
//! never answers what comes back.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use ed25519_dalek::SigningKey;
use hotline_proto::NodeId;

/// The Initial packets of `n` fresh client connections to `server` at `addr`, signed for by
/// `key` (nothing is sent).
pub fn initials(n: usize, key: &SigningKey, server: NodeId, addr: SocketAddr) -> Result<Vec<Vec<u8>>> {
    let config = hotline_node::transport::client_config(key, server)?;
    let mut endpoint = quinn_proto::Endpoint::new(Default::default(), None, false, None);
    let now = Instant::now();
    (0..n)
        .map(|_| {
            let (_, mut conn) = endpoint
                .connect(now, config.clone(), addr, "peer.cbm-hotline.invalid")
                .map_err(|e| anyhow!("building an Initial: {e}"))?;
            let mut buf = Vec::new();
            let t = conn.poll_transmit(now, 1, &mut buf).ok_or_else(|| anyhow!("no Initial to send"))?;
            buf.truncate(t.size);
            Ok(buf)
        })
        .collect()
}

/// A flood running on its own thread until dropped: `packets` sent over and over to `addr`
/// from `sockets` source ports, at most `rate` packets a second (0: as fast as the socket takes
/// them).
pub struct Flood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    bytes_back: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
    started: Instant,
}

impl Flood {
    /// Starts the flood.
    pub fn start(packets: Vec<Vec<u8>>, addr: SocketAddr, sockets: usize, rate: u64) -> Result<Flood> {
        let sockets: Vec<UdpSocket> =
            (0..sockets.max(1)).map(|_| UdpSocket::bind("127.0.0.1:0")).collect::<std::io::Result<_>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let bytes_back = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        // One thread drains the answers (Retry packets), so that they are counted and the
        // sockets' buffers never fill.
        let readers: Vec<UdpSocket> =
            sockets.iter().map(UdpSocket::try_clone).collect::<std::io::Result<_>>()?;
        for r in &readers {
            r.set_nonblocking(true)?;
        }
        {
            let (stop, back) = (stop.clone(), bytes_back.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let mut got = false;
                    for r in &readers {
                        while let Ok((n, _)) = r.recv_from(&mut buf) {
                            back.fetch_add(n as u64, Ordering::Relaxed);
                            got = true;
                        }
                    }
                    if !got {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }));
        }
        {
            let (stop, sent) = (stop.clone(), sent.clone());
            threads.push(std::thread::spawn(move || {
                let started = Instant::now();
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let socket = &sockets[i % sockets.len()];
                    let packet = &packets[i % packets.len()];
                    if socket.send_to(packet, addr).is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                    if rate > 0 {
                        let due = Duration::from_secs_f64(i as f64 / rate as f64);
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(wait);
                        }
                    } else if i.is_multiple_of(64) {
                        std::thread::yield_now();
                    }
                }
            }));
        }
        Ok(Flood { stop, sent, bytes_back, threads, started: Instant::now() })
    }

    /// Packets sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Bytes that came back so far.
    pub fn bytes_back(&self) -> u64 {
        self.bytes_back.load(Ordering::Relaxed)
    }

    /// Stops the flood; returns (packets sent, bytes back, seconds).
    pub fn stop(mut self) -> (u64, u64, f64) {
        self.halt();
        (self.sent(), self.bytes_back(), self.started.elapsed().as_secs_f64())
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.halt();
    }
}
