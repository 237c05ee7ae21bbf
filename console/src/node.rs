//! The console's side of the node's operator API: one request per call on a fresh connection
//! (the API's own client, on a blocking thread), and one `watch` that feeds every open board.
//!
//! The watch is the console's pulse: when it breaks, every board is told at once that the node
//! is lost (the banner), and the console tries again every [`RETRY`] until the node is back.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hotline_node::api::{Event, Request};
use hotline_node::client;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

/// How often the console tries to reach a node it lost.
pub const RETRY: Duration = Duration::from_millis(500);

/// What every board hears: the node's events, and the console's own word on the link to it.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Live {
    /// An event of the node.
    Event {
        /// The event.
        event: Event,
    },
    /// The console cannot reach its node.
    NodeLost {
        /// Why, in the words of the API client.
        reason: String,
    },
    /// The node answers again.
    NodeBack,
}

/// The node as the console reaches it.
#[derive(Clone)]
pub struct NodeLink {
    api: PathBuf,
    up: Arc<AtomicBool>,
    live: broadcast::Sender<Live>,
}

/// A call that failed: the node refused (its words, for the officer) or could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The node said no.
    #[error("{0}")]
    Refused(String),
    /// The node is not there.
    #[error("{0}")]
    Unreachable(String),
}

impl NodeLink {
    /// The node whose API socket is `api`; its watch starts with [`NodeLink::watch`].
    pub fn new(api: PathBuf) -> NodeLink {
        let (live, _) = broadcast::channel(1024);
        NodeLink { api, up: Arc::new(AtomicBool::new(false)), live }
    }

    /// Whether the watch holds now.
    pub fn up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// A new listener of the live stream.
    pub fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.live.subscribe()
    }

    /// Asks the node; its answer typed.
    pub async fn call<T: DeserializeOwned + Send + 'static>(&self, request: Request) -> Result<T, CallError> {
        let api = self.api.clone();
        let joined = tokio::task::spawn_blocking(move || client::call_as::<T>(&api, &request)).await;
        match joined {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if e.downcast_ref::<client::Refused>().is_some() => {
                Err(CallError::Refused(e.to_string()))
            }
            Ok(Err(e)) => Err(CallError::Unreachable(format!("{e:#}"))),
            Err(e) => Err(CallError::Unreachable(format!("the call to the node failed: {e}"))),
        }
    }

    /// Keeps a `watch` open for the life of the console, reconnecting when it breaks.
    pub fn watch(&self) {
        let link = self.clone();
        std::thread::Builder::new()
            .name("node-watch".into())
            .spawn(move || loop {
                let reason = match link.watch_once() {
                    Ok(()) => "the node closed the watch (it stopped or restarted)".to_string(),
                    Err(e) => format!("{e:#}"),
                };
                if link.up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%reason, "the console lost its node");
                }
                let _ = link.live.send(Live::NodeLost { reason });
                std::thread::sleep(RETRY);
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the node watch"));
    }

    fn watch_once(&self) -> anyhow::Result<()> {
        let mut c = client::Client::connect(&self.api)?;
        c.call(&Request::Watch {})?;
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("the console reaches its node");
        }
        let _ = self.live.send(Live::NodeBack);
        while let Some(line) = c.next_line()? {
            match serde_json::from_value::<Event>(line) {
                Ok(event) => {
                    let _ = self.live.send(Live::Event { event });
                }
                Err(e) => tracing::debug!(error = %e, "an event this console does not know"),
            }
        }
        Ok(())
    }
}
