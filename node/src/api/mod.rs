//! The local operator API: newline-delimited JSON over a Unix socket (mode 0600) in the node
//! directory. One request per line, one answer per line; `watch` then streams events, one per line.
//! The types are in [`types`] (re-exported here); it is documented in `node/README.md`.

mod types;

pub use types::*;

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Largest request line, in bytes.
pub const MAX_REQUEST: u64 = 1024 * 1024;

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
    if path.exists() {
        std::fs::remove_file(path)
            .with_context(|| format!("removing the stale socket {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("binding the API socket {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let calls = calls.clone();
            let events = events.clone();
            let reader = reader.clone();
            tokio::spawn(async move {
                if let Err(e) = connection(stream, calls, events, reader).await {
                    tracing::debug!(error = %e, "API connection ended");
                }
            });
        }
    });
    Ok(())
}

async fn connection(
    stream: UnixStream,
    calls: mpsc::Sender<Call>,
    events: broadcast::Sender<Event>,
    reader: crate::store::Reader,
) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        // Each request is bounded on its own: a connection may carry any number of them.
        buf.clear();
        let n = (&mut read).take(MAX_REQUEST + 1).read_until(b'\n', &mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if !buf.ends_with(b"\n") {
            if n as u64 > MAX_REQUEST {
                let refusal = format!("request larger than {MAX_REQUEST} bytes; connection closed");
                send(&mut write, &Answer::error(refusal)).await?;
            }
            return Ok(());
        }
        let request: Request = match serde_json::from_slice(&buf) {
            Ok(r) => r,
            Err(e) => {
                send(&mut write, &Answer::error(format!("bad request: {e}"))).await?;
                continue;
            }
        };
        match request {
            Request::Watch => {
                let mut rx = events.subscribe();
                send(&mut write, &Answer::ok(&"watching")).await?;
                loop {
                    match rx.recv().await {
                        Ok(event) => send(&mut write, &event).await?,
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            send(&mut write, &Event::Lagged { missed }).await?
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    }
                }
            }
            Request::Export => {
                let answer = match reader.leaves() {
                    Ok(leaves) => Answer::ok(&Export {
                        leaves: leaves.iter().map(|l| hotline_proto::hex::encode(l)).collect(),
                    }),
                    Err(e) => Answer::error(format!("reading the store: {e:#}")),
                };
                send(&mut write, &answer).await?;
            }
            request => {
                let (reply, answer) = oneshot::channel();
                if calls.send(Call { request, reply }).await.is_err() {
                    send(&mut write, &Answer::error("the node is shutting down")).await?;
                    return Ok(());
                }
                let answer = answer.await.unwrap_or_else(|_| Answer::error("the node is shutting down"));
                send(&mut write, &answer).await?;
            }
        }
    }
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, value: &impl Serialize) -> Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    Ok(())
}
