//! The local operator API: newline-delimited JSON over a Unix socket (mode 0600) in the node
//! directory. One request per line, one answer per line; `watch` then streams events, one per line.
//! It is documented in `node/README.md`.

use std::path::Path;

use anyhow::{Context, Result};
use hotline_proto::{Body, Disposition, Precedence, Texts};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Largest request line, in bytes.
pub const MAX_REQUEST: u64 = 1024 * 1024;

/// A notice to send, with members named.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Precedence.
    pub precedence: Precedence,
    /// Action addressees, by name.
    pub to: Vec<String>,
    /// Information addressees, by name.
    #[serde(default)]
    pub info: Vec<String>,
    /// Thread (`sender/seq`), for anything but an initial report.
    #[serde(default)]
    pub thread: Option<String>,
    /// The notice answered (`sender/seq`).
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// Content.
    pub body: Body,
}

/// A request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Send a notice; answered once it is durable, with its id.
    Send(Box<SendRequest>),
    /// Acknowledge a received notice; answered once durable.
    Ack {
        /// `sender/seq`.
        notice: String,
        /// The officer.
        operator: String,
        /// The decision.
        disposition: Disposition,
        /// Optional remark.
        #[serde(default)]
        note: Texts,
    },
    /// Received notices, those awaiting acknowledgement first.
    Inbox,
    /// The thread of a notice, with receipts and acknowledgements.
    Show {
        /// `sender/seq`.
        notice: String,
    },
    /// Links, pending work, deadlines.
    Status,
    /// Stream events until the client hangs up.
    Watch,
    /// The node's durable log.
    Export,
    /// Sign a checkpoint of the log now (if it grew) and offer it to the peers.
    Checkpoint,
}

/// A request with the channel for its answer.
pub struct Call {
    /// What is asked.
    pub request: Request,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Value>,
}

/// A successful answer.
pub fn ok(result: Value) -> Value {
    json!({ "ok": true, "result": result })
}

/// A failed answer.
pub fn error(message: impl std::fmt::Display) -> Value {
    json!({ "ok": false, "error": message.to_string() })
}

/// Listens on `path`. Requests go to `calls`; `watch` subscribes to `events`; `export` reads the
/// store through `reader`.
pub fn serve(
    path: &Path,
    calls: mpsc::Sender<Call>,
    events: broadcast::Sender<Value>,
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
    events: broadcast::Sender<Value>,
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
                send(
                    &mut write,
                    &error(format!("request larger than {MAX_REQUEST} bytes; connection closed")),
                )
                .await?;
            }
            return Ok(());
        }
        let request: Request = match serde_json::from_slice(&buf) {
            Ok(r) => r,
            Err(e) => {
                send(&mut write, &error(format!("bad request: {e}"))).await?;
                continue;
            }
        };
        match request {
            Request::Watch => {
                let mut rx = events.subscribe();
                send(&mut write, &ok(json!("watching"))).await?;
                loop {
                    match rx.recv().await {
                        Ok(event) => send(&mut write, &event).await?,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            send(&mut write, &json!({"event": "lagged", "missed": n})).await?
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    }
                }
            }
            Request::Export => {
                let answer = match reader.leaves() {
                    Ok(leaves) => ok(json!({
                        "leaves": leaves.iter().map(|l| hotline_proto::hex::encode(l)).collect::<Vec<_>>(),
                    })),
                    Err(e) => error(format!("reading the store: {e:#}")),
                };
                send(&mut write, &answer).await?;
            }
            request => {
                let (reply, answer) = oneshot::channel();
                if calls.send(Call { request, reply }).await.is_err() {
                    send(&mut write, &error("the node is shutting down")).await?;
                    return Ok(());
                }
                let answer = answer.await.unwrap_or_else(|_| error("the node is shutting down"));
                send(&mut write, &answer).await?;
            }
        }
    }
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, value: &Value) -> Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    Ok(())
}
