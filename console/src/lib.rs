//! # hotline-console
//!
//! The watch-floor console: the screens a liaison officer works from, served over HTTP by
//! `hotline console` beside a running node and speaking to it only through its operator API
//! (`hotline_node::api`), as the CLI does. No rule of the protocol or of the desk lives here: the
//! node decides (the two-person rule, the operator of an acknowledgement, spec §16); the console
//! shows, asks and explains, in the officer's language.
//!
//! Pages are rendered on the server ([`maud`]); the little script the page needs (live updates
//! over server-sent events, countdowns, the alarm, hashing a dropped file, the keyboard command
//! line) is `static/console.js`, plain and built in. No build step, no third-party script, nothing
//! fetched from elsewhere (the content security policy forbids it).

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod form;
pub mod i18n;
pub mod node;
mod pages;
pub mod session;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use hotline_node::home::Home;

pub use web::router;

/// Threads for blocking work (node calls, password hashing): bounded, so that a crowd of
/// requests cannot grow the console's memory with a thread each.
pub const BLOCKING_THREADS: usize = 32;

/// `hotline console`.
#[derive(Args, Clone, Debug)]
pub struct ConsoleArgs {
    /// Where to serve the console. Anything but a loopback address needs --tls-cert and
    /// --tls-key (officers' passwords and notices never cross a network in clear).
    #[arg(long, default_value = "127.0.0.1:8470")]
    pub listen: SocketAddr,
    /// The TLS certificate chain (PEM), to serve HTTPS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Minutes without a request after which a session ends (an open board keeps its own alive).
    #[arg(long, default_value_t = 30)]
    pub idle_minutes: u64,
    /// Hours after which a session ends whatever happens (a watch's length).
    #[arg(long, default_value_t = 12)]
    pub session_hours: u64,
}

/// What every request reaches.
pub struct App {
    /// The node directory (officers, roster).
    pub home: Home,
    /// The network, as installed when the console started.
    pub roster: hotline_proto::Roster,
    /// This node's member name.
    pub me: String,
    /// The node's operator API.
    pub node: node::NodeLink,
    /// The console's words.
    pub i18n: i18n::I18n,
    /// Open sessions.
    pub sessions: Mutex<session::Sessions>,
    /// Failed log-ins.
    pub limiter: Mutex<session::Limiter>,
    /// The duty board's last reading of the node, shared by every open board.
    pub(crate) board: pages::board::Shared,
    /// officers.toml as last read, and the file's identity then.
    roll: Mutex<Option<(Stamp, Arc<hotline_node::officers::Officers>)>>,
}

/// What identifies one version of a file without reading it: replaced atomically (a rename),
/// it gets a new inode; edited in place, a new length or modification time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(path: &std::path::Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp { inode: m.ino(), len: m.len(), modified: m.modified().ok() })
    }
}

impl App {
    /// The console of the node in `home`.
    pub fn new(home: Home, lifetimes: session::Lifetimes) -> Result<App> {
        let config = home.config()?;
        let roster = home.roster()?;
        let node = node::NodeLink::new(home.api_path());
        Ok(App {
            roster,
            me: config.name,
            node,
            i18n: i18n::I18n::new()?,
            sessions: Mutex::new(session::Sessions::new(lifetimes)),
            limiter: Mutex::new(session::Limiter::default()),
            board: pages::board::Shared::default(),
            roll: Mutex::new(None),
            home,
        })
    }

    /// The officers, as officers.toml says now: read again only when the file changed (every
    /// request checks its officer still exists, and parsing the file each time cost a board
    /// refresh a millisecond with 100 officers).
    pub fn officers(&self) -> Result<Arc<hotline_node::officers::Officers>> {
        let path = self.home.officers_path();
        let stamp = Stamp::of(&path);
        if let (Some(stamp), Ok(roll)) = (stamp, self.roll.lock()) {
            if let Some((_, officers)) = roll.as_ref().filter(|(seen, _)| *seen == stamp) {
                return Ok(officers.clone());
            }
        }
        let officers = Arc::new(hotline_node::officers::Officers::load(&path)?);
        if let (Some(stamp), Ok(mut roll)) = (stamp, self.roll.lock()) {
            *roll = Some((stamp, officers.clone()));
        }
        Ok(officers)
    }
}

/// Serves the console of the node in `home` until SIGINT or SIGTERM.
pub async fn serve(home: Home, args: ConsoleArgs) -> Result<()> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        _ => None,
    };
    if tls.is_none() && !args.listen.ip().is_loopback() {
        bail!(hotline_node::cli::Invalid(format!(
            "the console serves {} only over TLS: give --tls-cert and --tls-key (PEM), or listen on 127.0.0.1 behind a TLS reverse proxy (deploy/README.md)",
            args.listen
        )));
    }
    let lifetimes = session::Lifetimes {
        idle: Duration::from_secs(args.idle_minutes.max(1) * 60),
        absolute: Duration::from_secs(args.session_hours.max(1) * 3600),
    };
    let app = Arc::new(App::new(home, lifetimes)?);
    let officers = hotline_node::officers::Officers::load(&app.home.officers_path())?;
    if officers.is_empty() {
        tracing::warn!(
            "this node has no officers yet: nobody can log in until one is added (`hotline officer add CALL-SIGN`)"
        );
    }
    app.node.watch();
    let routes = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::error!(error = %e, "cannot handle SIGTERM");
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        // Boards hold their event streams open: they are cut after a short grace.
        stopping.graceful_shutdown(Some(Duration::from_millis(500)));
    });
    match tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key).await.with_context(
                    || format!("reading the TLS certificate {} and key {}", cert.display(), key.display()),
                )?;
            tracing::info!(address = %format!("https://{}", args.listen), node = %app.me, "console serving over TLS");
            eprintln!("console of {} at https://{} (TLS)", app.me, args.listen);
            axum_server::bind_rustls(args.listen, config)
                .handle(handle)
                .serve(routes)
                .await
                .map_err(|e| bind_error(e, args.listen))?;
        }
        None => {
            tracing::info!(address = %format!("http://{}", args.listen), node = %app.me, "console serving on loopback without TLS");
            eprintln!("console of {} at http://{} (loopback only, no TLS)", app.me, args.listen);
            axum_server::bind(args.listen)
                .handle(handle)
                .serve(routes)
                .await
                .map_err(|e| bind_error(e, args.listen))?;
        }
    }
    Ok(())
}

fn bind_error(e: std::io::Error, listen: SocketAddr) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        anyhow::anyhow!(hotline_node::cli::Invalid(format!(
            "TCP {listen} is already in use (another console?): give this console another address with --listen"
        )))
    } else {
        anyhow::anyhow!("serving the console on {listen}: {e}")
    }
}
