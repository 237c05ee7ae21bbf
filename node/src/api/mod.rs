//! The local operator API: newline-delimited JSON over a Unix socket (mode 0600) in the node
//! directory. One request per line, one answer per line; `watch` then streams events, one per line.
//! The types are in [`types`] (re-exported here); it is documented in `node/README.md`.
//!
//! The API is how officers acknowledge, so nothing a local process does may take it away for
//! good (spec §11.2): connections are capped ([`MAX_CONNECTIONS`]; one more is told so and
//! closed), a request must arrive within [`REQUEST_TIMEOUT`] and an answer or event be taken
//! within [`WRITE_TIMEOUT`], a closed `watch` is noticed at once rather than at the next event,
//! and when the process runs out of file descriptors the accept loop backs off and goes on.

mod types;

pub use types::*;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot, Semaphore};

/// Largest request line, in bytes.
pub const MAX_REQUEST: u64 = 1024 * 1024;
/// Operator connections open at once (each `watch` holds one); the memory of partial requests is
/// bounded by this times [`MAX_REQUEST`].
pub const MAX_CONNECTIONS: usize = 32;
/// How long a connection may take to send a whole request line (and may sit idle between
/// requests): the CLI sends its request as it connects.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to read an answer or an event before it is disconnected.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause of the accept loop after an error (such as running out of descriptors).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
/// The capacity a connection's read buffer keeps between requests.
const KEEP_BUFFER: usize = 16 * 1024;

/// The bounds of the operator API. The node runs with [`Limits::default`] (the constants above);
/// tests shorten the times.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time to send a whole request line (and the longest idle time between requests).
    pub request_timeout: Duration,
    /// Time a client may take to read an answer or an event.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: MAX_CONNECTIONS,
            request_timeout: REQUEST_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// A request with the channel for its answer.
pub struct Call {
    /// What is asked.
    pub request: Request,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Answer>,
}

/// Listens on `path`. Requests go to `calls`; `watch` subscribes to `events`; `export` reads the
/// store through `reader`.
pub fn serve(
    path: &Path,
    calls: mpsc::Sender<Call>,
    events: broadcast::Sender<Event>,
    reader: crate::store::Reader,
) -> Result<()> {
    serve_with(path, calls, events, reader, Limits::default())
}

/// What every connection reaches: the daemon's calls, the event stream, the store.
#[derive(Clone)]
struct Node {
    calls: mpsc::Sender<Call>,
    events: broadcast::Sender<Event>,
    reader: crate::store::Reader,
}

/// [`serve`] within the given limits.
pub fn serve_with(
    path: &Path,
    calls: mpsc::Sender<Call>,
    events: broadcast::Sender<Event>,
    reader: crate::store::Reader,
    limits: Limits,
) -> Result<()> {
    // Bound under a staging name, made 0600, then renamed into place: the socket is never
    // reachable at its real name with the umask's permissions (and the node directory is 0700).
    let staging = path.with_file_name(format!(".api.{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging)
        .with_context(|| format!("binding the API socket {}", staging.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&staging, path)
        .with_context(|| format!("moving the API socket to {}", path.display()))?;
    tokio::spawn(accept_loop(listener, Node { calls, events, reader }, limits));
    Ok(())
}

async fn accept_loop(listener: UnixListener, node: Node, limits: Limits) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let mut backoff = Duration::from_millis(10);
    let mut warned: Option<Instant> = None;
    let mut failures = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = Duration::from_millis(10);
                stream
            }
            Err(e) => {
                // EMFILE, ENFILE, ENOBUFS...: the socket stays, the loop waits and tries again.
                failures += 1;
                if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(error = %e, failures, "cannot accept operator connections; retrying");
                    warned = Some(Instant::now());
                    failures = 0;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let mut stream = stream;
                let refusal = Answer::error(format!(
                    "the node already has {} operator connections open; close one (a forgotten `hotline watch`?) and try again",
                    limits.max_connections
                ));
                let _ = tokio::time::timeout(limits.write_timeout, write_line(&mut stream, &refusal)).await;
            });
            tracing::debug!("operator connection refused: {} already open", limits.max_connections);
            continue;
        };
        let node = node.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, node, limits).await {
                tracing::debug!(error = %e, "API connection ended");
            }
            drop(permit);
        });
    }
}

async fn connection(stream: UnixStream, node: Node, limits: Limits) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let write_timeout = limits.write_timeout;
    let mut read = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        // Each request is bounded on its own: a connection may carry any number of them.
        buf.clear();
        buf.shrink_to(KEEP_BUFFER);
        let mut limited = (&mut read).take(MAX_REQUEST + 1);
        let line = limited.read_until(b'\n', &mut buf);
        let Ok(n) = tokio::time::timeout(limits.request_timeout, line).await else {
            let refusal = format!(
                "no whole request within {} s; connection closed",
                limits.request_timeout.as_secs_f64()
            );
            send(&mut write, &Answer::error(refusal), write_timeout).await?;
            return Ok(());
        };
        let n = n?;
        if n == 0 {
            return Ok(());
        }
        if !buf.ends_with(b"\n") {
            if n as u64 > MAX_REQUEST {
                let refusal = format!("request larger than {MAX_REQUEST} bytes; connection closed");
                send(&mut write, &Answer::error(refusal), write_timeout).await?;
            }
            return Ok(());
        }
        let request: Request = match serde_json::from_slice(&buf) {
            Ok(r) => r,
            Err(e) => {
                send(&mut write, &Answer::error(format!("bad request: {e}")), write_timeout).await?;
                continue;
            }
        };
        match request {
            Request::Watch {} => {
                let mut rx = node.events.subscribe();
                send(&mut write, &Answer::ok(&"watching"), write_timeout).await?;
                drop(buf);
                // Nothing more is read from a watcher but its hanging up, which ends the watch
                // at once (not at the next event).
                let mut ignored = [0u8; 256];
                loop {
                    tokio::select! {
                        event = rx.recv() => match event {
                            Ok(event) => send(&mut write, &event, write_timeout).await?,
                            Err(broadcast::error::RecvError::Lagged(missed)) => {
                                send(&mut write, &Event::Lagged { missed }, write_timeout).await?
                            }
                            Err(broadcast::error::RecvError::Closed) => return Ok(()),
                        },
                        read = read.read(&mut ignored) => match read {
                            Ok(0) | Err(_) => return Ok(()),
                            Ok(_) => {}
                        },
                    }
                }
            }
            Request::Export { from, limit } => {
                let limit = limit.unwrap_or(EXPORT_CHUNK).min(EXPORT_CHUNK);
                let answer = match node.reader.chunk(from, limit) {
                    Ok((leaves, size)) => Answer::ok(&Export {
                        leaves: leaves.iter().map(|l| hotline_proto::hex::encode(l)).collect(),
                        size,
                    }),
                    Err(e) => Answer::error(format!("reading the store: {e:#}")),
                };
                send(&mut write, &answer, write_timeout).await?;
            }
            request => {
                let (reply, answer) = oneshot::channel();
                if node.calls.send(Call { request, reply }).await.is_err() {
                    send(&mut write, &Answer::error("the node is shutting down"), write_timeout).await?;
                    return Ok(());
                }
                let answer = answer.await.unwrap_or_else(|_| Answer::error("the node is shutting down"));
                send(&mut write, &answer, write_timeout).await?;
            }
        }
    }
}

async fn send(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    value: &impl Serialize,
    timeout: Duration,
) -> Result<()> {
    tokio::time::timeout(timeout, write_line(write, value))
        .await
        .map_err(|_| anyhow::anyhow!("the client did not read for {} s", timeout.as_secs_f64()))?
}

async fn write_line(write: &mut (impl AsyncWriteExt + Unpin), value: &impl Serialize) -> Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::net::UnixStream as StdStream;

    /// An API on a real socket with short limits, its event sender, and the runtime serving it.
    fn api(
        limits: Limits,
    ) -> (tempfile::TempDir, std::path::PathBuf, broadcast::Sender<Event>, tokio::runtime::Runtime) {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = crate::store::Store::open(&dir.path().join("store.redb")).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (events, _) = broadcast::channel(16);
        let (calls, mut rx) = mpsc::channel::<Call>(4);
        let path = dir.path().join("api.sock");
        {
            let _guard = rt.enter();
            serve_with(&path, calls, events.clone(), store.reader(), limits).unwrap();
            rt.spawn(async move {
                while let Some(call) = rx.recv().await {
                    let _ = call.reply.send(Answer::ok(&"fine"));
                }
            });
        }
        (dir, path, events, rt)
    }

    fn short() -> Limits {
        Limits {
            max_connections: 4,
            request_timeout: Duration::from_millis(300),
            write_timeout: Duration::from_millis(300),
        }
    }

    fn line(s: &StdStream) -> String {
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        line
    }

    #[test]
    fn a_client_that_sends_half_a_request_or_nothing_is_closed() {
        let (_dir, path, _events, _rt) = api(short());
        let mut slow = StdStream::connect(&path).unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        slow.write_all(b"{\"op\":\"sta").unwrap();
        assert!(line(&slow).contains("no whole request within 0.3 s"));
        let idle = StdStream::connect(&path).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert!(line(&idle).contains("no whole request within"));
        // A prompt client is served.
        let mut ok = StdStream::connect(&path).unwrap();
        ok.write_all(b"{\"op\":\"status\"}\n").unwrap();
        assert!(line(&ok).contains("\"ok\":true"));
    }

    #[test]
    fn a_watcher_that_does_not_read_is_disconnected() {
        let (_dir, path, events, _rt) = api(short());
        let mut watcher = StdStream::connect(&path).unwrap();
        watcher.write_all(b"{\"op\":\"watch\"}\n").unwrap();
        watcher.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut first = [0u8; 1];
        watcher.read_exact(&mut first).unwrap();
        // Far more than the socket's buffers hold, while the watcher reads nothing.
        let peer = "bravo".to_string();
        for _ in 0..20_000 {
            let _ = events.send(Event::LinkUp { peer: peer.clone() });
            if events.receiver_count() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(events.receiver_count(), 0, "the stalled watcher is still subscribed");
        // What was sent can be read, and then the connection ends.
        let mut rest = Vec::new();
        watcher.read_to_end(&mut rest).unwrap();
    }
}
