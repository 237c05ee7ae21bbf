//! The console's side of the node's operator API: one request per call on a fresh connection
//! (the API's own client, on a blocking thread), and one `watch` that feeds every open board.
//!
//! The watch is the console's pulse: when it breaks, every board is told at once that the node
//! is lost (the banner), and the console tries again every [`RETRY`] until the node is back.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hotline_node::api::{Event, Request};
use hotline_node::client;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

/// How often the console tries to reach a node it lost.
pub const RETRY: Duration = Duration::from_millis(500);
/// Calls to the node under way at once, at most: the node serves 32 operator connections
/// (spec §11.2), and the CLI and other tools must still get one however many pages are open.
pub const CALLS: usize = 8;

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
    /// This board fell behind the stream and lost `missed` of it (a burst larger than the
    /// stream's buffer): it should read its board again.
    Missed {
        /// How many it lost.
        missed: u64,
    },
}

impl Live {
    /// As the live stream carries it.
    pub fn json(&self) -> Arc<str> {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into()).into()
    }
}

/// The node as the console reaches it.
#[derive(Clone)]
pub struct NodeLink {
    api: PathBuf,
    up: Arc<AtomicBool>,
    /// How many things the console has heard on the live stream: what was read from the node
    /// before the count last moved may be stale.
    generation: Arc<AtomicU64>,
    /// Each [`Live`] as JSON, made once for every board that hears it.
    live: broadcast::Sender<Arc<str>>,
    /// [`CALLS`] permits.
    calls: Arc<tokio::sync::Semaphore>,
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
        NodeLink {
            api,
            up: Arc::new(AtomicBool::new(false)),
            generation: Arc::default(),
            live,
            calls: Arc::new(tokio::sync::Semaphore::new(CALLS)),
        }
    }

    /// Whether the watch holds now.
    pub fn up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The count of what the live stream carried so far (see [`NodeLink::generation`]'s field).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Tells every board, after counting it.
    fn tell(&self, live: Live) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let _ = self.live.send(live.json());
    }

    /// A new listener of the live stream (each item a [`Live`] as JSON).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.live.subscribe()
    }

    /// Asks the node; its answer typed.
    pub async fn call<T: DeserializeOwned + Send + 'static>(&self, request: Request) -> Result<T, CallError> {
        let api = self.api.clone();
        let Ok(_permit) = self.calls.acquire().await else {
            return Err(CallError::Unreachable("the console is stopping".into()));
        };
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
                link.tell(Live::NodeLost { reason });
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
        self.tell(Live::NodeBack);
        while let Some(line) = c.next_line()? {
            match serde_json::from_value::<Event>(line) {
                Ok(event) => {
                    self.tell(Live::Event { event });
                }
                Err(e) => tracing::debug!(error = %e, "an event this console does not know"),
            }
        }
        Ok(())
    }
}
