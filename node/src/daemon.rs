//! `hotline run`: one event loop that owns the protocol core and feeds it frames from the
//! transport, durable lengths from the store writer, operator requests from the API, and the
//! clock; after every input it hands what the core produced to the store, the transport and the
//! operators.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hotline_proto::{Draft, Event, Node, NoticeId, Role};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::api::{self, Answer, Call, CheckpointInfo, DraftRef, NoticeRef, Request, SendRequest};
use crate::home::Home;
use crate::names;
use crate::store::Store;
use crate::transport::{Inbound, Transport};
use crate::{now, views};

struct Daemon {
    node: Node,
    name: String,
    writer: std::sync::mpsc::Sender<crate::store::Batch>,
    transport: Transport,
    events: broadcast::Sender<api::Event>,
    /// Answers waiting for a notice's `sent` entry to be durable.
    sends: HashMap<NoticeId, oneshot::Sender<Answer>>,
    /// Answers waiting for an acknowledgement's entry to be durable.
    acks: HashMap<NoticeId, oneshot::Sender<Answer>>,
    /// Why the store cannot write, while it cannot.
    store_error: Option<String>,
    /// The last frame refused from each peer, for `status`: a link that is DOWN because every
    /// frame is refused (a peer on another roster: `wrong_network`) says why.
    refused: HashMap<hotline_proto::NodeId, api::Refusal>,
    /// The desk's two-person rule (config.toml `[release]`, spec §16.2).
    release: crate::home::Release,
    /// Notices held for a second officer's release.
    drafts: crate::drafts::Drafts,
    /// Where the officers are listed (read at each decision, so that changes need no restart).
    officers: std::path::PathBuf,
}

/// A send as the desk's rules see it (spec §16.2): from the command line or API alone, or a
/// draft released by a second officer.
enum Origin {
    /// `send`: nobody released it.
    Direct,
    /// `release`: drafted by one officer, released by another.
    Released {
        /// The draft's number.
        draft: u64,
    },
}

/// The core as the store left it: from the latest snapshot and the entries after it (spec
/// §6.12), or from the whole log if there is no snapshot or it cannot be used (the log is then
/// replayed and verified, and the next batch saves a new snapshot). The core keeps open work only
/// and reads the rest back from the store (spec §6.11).
fn restore(
    key: &ed25519_dalek::SigningKey,
    roster: &hotline_proto::Roster,
    reader: &crate::store::Reader,
    start: crate::store::Start,
) -> Result<Node> {
    let history = || -> Box<dyn hotline_proto::History> { Box::new(reader.clone()) };
    if let Some(snapshot) = &start.snapshot {
        let before = start.before.as_deref();
        match Node::resume(key.clone(), roster.clone(), snapshot, before, &start.tail, history(), now()) {
            Ok(node) => return Ok(node),
            Err(hotline_proto::StartError::Snapshot(why)) => {
                tracing::warn!(%why, "the saved working set cannot be used; replaying the whole log");
            }
            Err(e) => return Err(e.into()),
        }
    }
    // The whole log, verified as it streams by: memory holds a chunk of it, never all of it.
    let mut leaves = reader.stream(start.len);
    drop(start);
    let node = Node::restore_with(key.clone(), roster.clone(), &mut leaves, Some(history()), now());
    // A read that failed ended the stream early: the node built from the shorter log is dropped.
    leaves.finish()?;
    Ok(node?)
}

/// Runs the node in `home` until SIGINT or SIGTERM, reaching peers at `peers` (member name to
/// address) for this run instead of their configured or roster addresses.
pub async fn run(home: &Home, peers: std::collections::BTreeMap<String, String>) -> Result<()> {
    home.check_private()?;
    let (mut config, key, roster) = home.load()?;
    for (name, addr) in peers {
        if roster.members.iter().all(|m| m.name != name) {
            bail!(crate::cli::Invalid(format!("--peer {name}={addr}: {name} is not a member of the roster")));
        }
        tracing::info!(peer = %name, %addr, "reaching this peer at an address given for this run");
        config.peers.insert(name, addr);
    }
    let started = std::time::Instant::now();
    let (store, start) = Store::open(&home.store_path())?;
    let reader = store.reader();
    let node = restore(&key, &roster, &reader, start)
        .with_context(|| format!("restoring the node from {}", home.store_path().display()))?;
    tracing::info!(
        name = %config.name,
        entries = node.log_len(),
        ms = started.elapsed().as_millis() as u64,
        network_id = %roster.network_id(),
        "log restored"
    );
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let (writer, writer_thread) = store.spawn_writer(done_tx)?;
    let (in_tx, mut in_rx) = mpsc::channel(256);
    let transport = Transport::start(&key, &roster, config.listen, &config.peers, in_tx)?;
    tracing::info!(listen = %transport.local_addr()?, "listening");
    let drafts = crate::drafts::Drafts::load(&home.drafts_path())?;
    let (events, _) = broadcast::channel(1024);
    let (call_tx, mut calls) = mpsc::channel::<Call>(64);
    api::serve(&home.api_path(), call_tx, events.clone(), reader)?;
    let mut d = Daemon {
        node,
        name: config.name,
        writer,
        transport,
        events,
        sends: HashMap::new(),
        acks: HashMap::new(),
        store_error: None,
        refused: HashMap::new(),
        release: config.release,
        drafts,
        officers: home.officers_path(),
    };
    d.pump();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // A write beyond the file-size limit raises SIGXFSZ, whose default action kills the process;
    // handled, the write fails with EFBIG instead, and the store treats it as a full disk.
    let mut file_too_large =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ))?;
    // Frames from peers wait here, most urgent first, so that a FLASH notice or its receipt is
    // handled before ROUTINE frames that arrived earlier.
    let mut inbox = Inbox::default();
    loop {
        while let Ok(inbound) = in_rx.try_recv() {
            d.take(inbound, &mut inbox);
        }
        // Timers are on the monotonic clock (`poll_timeout` is in its terms).
        if d.node.poll_timeout().is_some_and(|t| t <= now().mono_ms) {
            d.node.handle_timeout(now());
            d.pump();
        }
        let wait = d
            .node
            .poll_timeout()
            .map_or(Duration::from_secs(3600), |t| Duration::from_millis(t.saturating_sub(now().mono_ms)));
        tokio::select! {
            biased;
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            Some(done) = done_rx.recv() => d.written(done),
            _ = file_too_large.recv() => tracing::warn!("a write exceeded the file-size limit (SIGXFSZ)"),
            Some(call) = calls.recv() => d.handle(call),
            () = std::future::ready(()), if !inbox.is_empty() => {
                if let Some((peer, bytes)) = inbox.pop() {
                    if d.store_error.is_some() && !is_heartbeat(&bytes) {
                        // Nothing can be accepted (and receipted) while the store cannot write:
                        // the peer retransmits. Heartbeats still say this node is alive.
                        tracing::debug!(peer = %names::name(d.node.roster(), &peer), "frame dropped: the store cannot write");
                    // Refusals are reported (rate-limited) as events; each one only at debug level.
                    } else if let Err(e) = d.node.handle_frame(now(), peer, &bytes) {
                        tracing::debug!(peer = %names::name(d.node.roster(), &peer), code = e.code.name(), detail = %e.detail, "frame refused");
                        let refusal = api::Refusal { code: e.code.name().to_string(), detail: e.detail.clone(), at_ms: now().wall_ms };
                        d.refused.insert(peer, refusal);
                    }
                }
            }
            Some(inbound) = in_rx.recv() => d.take(inbound, &mut inbox),
            () = tokio::time::sleep(wait) => d.node.handle_timeout(now()),
        }
        d.pump();
    }
    tracing::info!("stopping");
    let _ = std::fs::remove_file(home.api_path());
    d.transport.shutdown().await;
    // The writer finishes what it holds and closes the store; the API's read handles go with the
    // runtime, after which redb closes the file cleanly.
    drop(d);
    if writer_thread.join().is_err() {
        tracing::error!("the store writer panicked");
    }
    Ok(())
}

/// Frames from peers held by the event loop at most. When full, the least urgent are dropped
/// (their senders retransmit them), so that an urgent frame never waits behind a flood.
const INBOX: usize = 512;

/// Frames from peers waiting to be handled, most urgent first; when full, the least urgent are
/// dropped ([`hotline_proto::Lanes`]).
/// Whether a frame is a heartbeat (decoded strictly, nothing verified: only to choose what to
/// hand to the core while the store cannot write).
fn is_heartbeat(bytes: &[u8]) -> bool {
    matches!(hotline_proto::wire::peek(bytes), Some(hotline_proto::Message::Heartbeat(_)))
}

struct Inbox(hotline_proto::Lanes<(hotline_proto::NodeId, Vec<u8>)>);

impl Default for Inbox {
    fn default() -> Inbox {
        Inbox(hotline_proto::Lanes::new(INBOX))
    }
}

impl Inbox {
    fn push(&mut self, precedence: hotline_proto::Precedence, frame: (hotline_proto::NodeId, Vec<u8>)) {
        match self.0.push(precedence, frame) {
            hotline_proto::Filed::Queued => {}
            hotline_proto::Filed::Displaced(_) => {
                tracing::debug!("inbox full: a less urgent frame dropped (its sender retransmits it)")
            }
            hotline_proto::Filed::Refused(_) => {
                tracing::debug!(
                    "inbox full of more urgent frames: a frame dropped (its sender retransmits it)"
                )
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn pop(&mut self) -> Option<(hotline_proto::NodeId, Vec<u8>)> {
        self.0.pop().map(|(_, frame)| frame)
    }
}

impl Daemon {
    /// Files a frame by urgency; a new connection is acted on at once.
    fn take(&mut self, inbound: Inbound, inbox: &mut Inbox) {
        match inbound {
            Inbound::Frame(peer, bytes) => {
                let urgency = self.node.urgency(&bytes);
                inbox.push(urgency, (peer, bytes));
            }
            Inbound::Connected(peer) => {
                self.node.peer_reachable(now(), peer);
                self.pump();
            }
        }
    }

    /// Hands everything the core produced to the store, the transport and the operators.
    fn pump(&mut self) {
        while let Some(batch) = self.node.poll_persist() {
            let batch = crate::store::Batch::new(batch.first_index, batch.leaves, batch.snapshot);
            if self.writer.send(batch).is_err() {
                tracing::error!("the store writer has stopped");
            }
        }
        while let Some(t) = self.node.poll_transmit() {
            tracing::trace!(to = %t.to.short(), precedence = %t.precedence, len = t.frame.len(), "transmit");
            self.transport.send(t.to, t.precedence, t.frame);
        }
        while let Some(event) = self.node.poll_event() {
            let shown = views::event(self.node.roster(), &event);
            let waiting = match &event {
                Event::NoticeStored { id } => self.sends.remove(id).map(|reply| (reply, id)),
                Event::AckStored { notice } => self.acks.remove(notice).map(|reply| (reply, notice)),
                _ => None,
            };
            if let Some((reply, id)) = waiting {
                let _ = reply.send(Answer::ok(&NoticeRef { notice: self.node.roster().notice_name(id) }));
            }
            tracing::info!(event = %serde_json::to_string(&shown).unwrap_or_default(), "event");
            let _ = self.events.send(shown);
        }
    }

    /// What the store writer reports: entries durable, or a write that failed (it retries).
    fn written(&mut self, written: crate::store::Written) {
        match written {
            Ok(len) => {
                self.node.persisted(len);
                if self.store_error.take().is_some() {
                    tracing::info!(entries = len, "the store writes again");
                    let _ = self.events.send(api::Event::StoreRecovered);
                }
            }
            Err(detail) => {
                tracing::error!(error = %detail, "the store cannot write; refusing new notices until it can");
                // Those waiting for their notice or acknowledgement to be durable are told now,
                // and told the truth: it is signed, and is stored and sent once the store writes.
                let roster = self.node.roster().clone();
                let pending = self
                    .sends
                    .drain()
                    .map(|(id, reply)| (id, reply, "notice"))
                    .chain(self.acks.drain().map(|(id, reply)| (id, reply, "acknowledgement of")));
                for (id, reply, what) in pending.collect::<Vec<_>>() {
                    let _ = reply.send(Answer::error(format!(
                        "the {what} {} is signed but not yet stored: the store cannot write ({detail}). It is stored and sent by itself once the store writes again (`hotline status` shows when); do not send it again",
                        roster.notice_name(&id)
                    )));
                }
                self.store_error = Some(detail.clone());
                let _ = self.events.send(api::Event::StoreFailed { detail });
            }
        }
    }

    fn handle(&mut self, call: Call) {
        let now = now();
        if let (Some(detail), Request::Send(_) | Request::Ack { .. }) = (&self.store_error, &call.request) {
            let answer = Answer::error(format!(
                "store full: the node cannot write its log ({detail}); nothing new can be sent or acknowledged until it can. Free disk space; the node retries by itself"
            ));
            let _ = call.reply.send(answer);
            return;
        }
        let answer = match call.request {
            Request::Send(send) => match self.submit(now, *send, Origin::Direct) {
                Ok(id) => {
                    self.sends.insert(id, call.reply);
                    return;
                }
                Err(e) => Answer::error(format!("{e:#}")),
            },
            Request::Draft { officer, send } => match self.hold(now, &officer, *send) {
                Ok(draft) => Answer::ok(&DraftRef { draft }),
                Err(e) => Answer::error(format!("{e:#}")),
            },
            Request::Drafts {} => Answer::ok(&self.drafts.list(self.node.roster())),
            Request::Release { draft, officer } => match self.release(now, draft, &officer) {
                Ok(id) => {
                    self.sends.insert(id, call.reply);
                    return;
                }
                Err(e) => Answer::error(format!("{e:#}")),
            },
            Request::Discard { draft, officer } => {
                let result = self.officer(&officer).and_then(|()| self.drafts.remove(draft));
                match result {
                    Ok(()) => {
                        tracing::info!(draft, %officer, "draft discarded");
                        Answer::ok(&DraftRef { draft })
                    }
                    Err(e) => Answer::error(format!("{e:#}")),
                }
            }
            Request::Ack { notice, operator, disposition, note } => {
                let result = self
                    .operator(&operator)
                    .and_then(|()| names::notice(self.node.roster(), &notice))
                    .and_then(|id| Ok((id, self.node.acknowledge(now, id, &operator, disposition, note)?)));
                match result {
                    Ok((id, ())) => {
                        self.acks.insert(id, call.reply);
                        return;
                    }
                    Err(e) => Answer::error(format!("{e:#}")),
                }
            }
            Request::Inbox { limit, since } => {
                match views::inbox(&self.node, now.wall_ms, limit.unwrap_or(views::INBOX_LIMIT), since) {
                    Ok(inbox) => Answer::ok(&inbox),
                    Err(e) => Answer::error(format!("{e}; try again")),
                }
            }
            Request::Sent { limit, before, since } => {
                match views::sent(&self.node, now.wall_ms, limit.unwrap_or(views::SENT_LIMIT), before, since)
                {
                    Ok(list) => Answer::ok(&list),
                    Err(e) => Answer::error(format!("{e}; try again")),
                }
            }
            Request::Notices { notices } => match views::notices(&self.node, &notices, now.wall_ms) {
                Ok(list) => Answer::ok(&list),
                Err(e) => Answer::error(e),
            },
            Request::Show { notice } => match names::notice(self.node.roster(), &notice) {
                Ok(id) => match views::thread(&self.node, &id, now.wall_ms) {
                    Ok(Some(thread)) => Answer::ok(&thread),
                    Ok(None) => Answer::error(format!("this node has no notice {notice}")),
                    Err(e) => Answer::error(format!("{e}; try again")),
                },
                Err(e) => Answer::error(e),
            },
            Request::Status {} => {
                let mut status = views::status(&self.node, &self.name, now.wall_ms);
                status.store_error = self.store_error.clone();
                status.second_officer = self.release.second_officer.clone();
                status.drafts = self.drafts.list(self.node.roster()).len();
                for (peer, refusal) in &self.refused {
                    let name = names::name(self.node.roster(), peer);
                    if let Some(link) = status.links.iter_mut().find(|l| l.peer == name) {
                        link.last_refusal = Some(refusal.clone());
                    }
                }
                Answer::ok(&status)
            }
            Request::Checkpoint {} => match self.node.checkpoint(now) {
                Some(c) => {
                    let roster = self.node.roster();
                    let cosigned_by = self
                        .node
                        .cosigned_by_peers()
                        .iter()
                        .filter(|(_, size)| *size >= c.size)
                        .filter_map(|(id, _)| roster.member(id).map(|m| m.name.clone()))
                        .collect();
                    Answer::ok(&CheckpointInfo { size: c.size, root: c.root.to_hex(), cosigned_by })
                }
                None => Answer::error("no checkpoint could be signed"),
            },
            Request::Watch {} | Request::Export { .. } => Answer::error("handled by the API task"),
        };
        let _ = call.reply.send(answer);
    }

    /// Every notice this node sends passes here, and here only the desk's two-person rule is
    /// enforced (spec §16.2): a notice at a precedence of `[release] second_officer` goes only as
    /// a draft released by an officer other than the one who drafted it.
    fn submit(&mut self, now: hotline_proto::Now, send: SendRequest, origin: Origin) -> Result<NoticeId> {
        let precedence = send.precedence;
        let draft = self.draft(send)?;
        match origin {
            Origin::Direct if self.release.needs_second_officer(precedence) => bail!(crate::cli::Invalid(format!(
                "this node sends {} notices only when a second officer releases them (config.toml [release]): draft it (`hotline send --officer CALL-SIGN`, or Compose in the console) and have another officer release it",
                precedence.name()
            ))),
            Origin::Direct => Ok(self.node.send_notice(now, draft)?),
            Origin::Released { draft: number } => {
                // Checked before the draft goes, so that a refusal leaves the draft in place.
                self.node.check_draft(now.wall_ms, &draft)?;
                self.drafts.remove(number)?;
                Ok(self.node.send_notice(now, draft)?)
            }
        }
    }

    /// Holds a notice for release, after the checks its sending will pass.
    fn hold(&mut self, now: hotline_proto::Now, officer: &str, send: SendRequest) -> Result<u64> {
        self.officer(officer)?;
        self.node.check_draft(now.wall_ms, &self.draft(send.clone())?)?;
        let number = self.drafts.add(officer, now.wall_ms, send)?;
        tracing::info!(draft = number, %officer, "notice drafted for release by a second officer");
        Ok(number)
    }

    /// Sends draft `number` on `officer`'s release.
    fn release(&mut self, now: hotline_proto::Now, number: u64, officer: &str) -> Result<NoticeId> {
        self.officer(officer)?;
        let (drafted_by, send) = self.drafts.get(number)?;
        if drafted_by == officer {
            bail!(crate::cli::Invalid(format!(
                "{officer} drafted draft {number}: a second officer must release it, not the one who wrote it"
            )));
        }
        let send = send.clone();
        let drafted_by = drafted_by.to_string();
        let id = self.submit(now, send, Origin::Released { draft: number })?;
        tracing::info!(draft = number, %drafted_by, released_by = %officer, notice = %self.node.roster().notice_name(&id), "draft released");
        Ok(id)
    }

    /// Refuses a call sign that is not one of this node's officers.
    fn officer(&self, call_sign: &str) -> Result<()> {
        let officers = crate::officers::Officers::load(&self.officers)?;
        if officers.is_empty() {
            bail!(crate::cli::Invalid(
                "this node has no officers: add them with `hotline officer add CALL-SIGN` (drafts and releases name officers)".into()
            ));
        }
        if officers.get(call_sign).is_none() {
            bail!(crate::cli::Invalid(format!(
                "{call_sign:?} is not an officer of this node (`hotline officer list`)"
            )));
        }
        Ok(())
    }

    /// The operator an acknowledgement may carry: on a node with officers, one of their call
    /// signs, never a free-typed name; on a node without, any (its command line acknowledges).
    fn operator(&self, operator: &str) -> Result<()> {
        let officers = crate::officers::Officers::load(&self.officers)?;
        if !officers.is_empty() && officers.get(operator).is_none() {
            bail!(crate::cli::Invalid(format!(
                "{operator:?} is not an officer of this node: an acknowledgement carries an officer's call sign (`hotline officer list`)"
            )));
        }
        Ok(())
    }

    fn draft(&self, send: SendRequest) -> Result<Draft> {
        let roster = self.node.roster();
        let mut to = Vec::new();
        for name in &send.to {
            to.push((names::member(roster, name)?, Role::Action));
        }
        for name in &send.info {
            to.push((names::member(roster, name)?, Role::Info));
        }
        let notice = |s: &Option<String>| s.as_deref().map(|s| names::notice(roster, s)).transpose();
        Ok(Draft {
            precedence: send.precedence,
            to,
            thread: notice(&send.thread)?,
            in_reply_to: notice(&send.in_reply_to)?,
            body: send.body,
        })
    }
}
