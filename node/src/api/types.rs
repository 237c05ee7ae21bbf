//! The operator API's types: every request, every answer and every event, as serde types shared by
//! the daemon (which builds them, in [`crate::views`]), the CLI and any other client such as an
//! officers' console. What is on the socket is these types as JSON, nothing else; the field names
//! are the ones documented in `node/README.md`.

use hotline_proto::{Body, DeadlineKind, Disposition, Kind, NoticeKind, Precedence, Role, Texts};
use serde::{Deserialize, Serialize};

/// The version of this API, carried in every answer (`"api": 1`). A client refuses an answer of
/// another version rather than misread it.
pub const API_VERSION: u32 = 1;

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

/// A request: one JSON object per line, with its operation in `"op"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Send a notice; answered once it is durable, with its id ([`NoticeRef`]).
    Send(Box<SendRequest>),
    /// Acknowledge a received notice; answered once durable ([`NoticeRef`]).
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
    /// Received notices, those awaiting acknowledgement first ([`Inbox`]).
    Inbox {
        /// How many of the notices not awaiting acknowledgement to list, newest first (default
        /// [`crate::views::INBOX_LIMIT`]); every notice awaiting acknowledgement is listed.
        #[serde(default)]
        limit: Option<usize>,
        /// Only those of the rest logged at or after this time (ms since the epoch): a shift's
        /// hand-over reads what its span holds, not the history.
        #[serde(default)]
        since: Option<u64>,
    },
    /// Notices this node sent, newest first: at most `limit` (default and at most
    /// [`crate::views::SENT_LIMIT`]) created before notice number `before` (all, if absent)
    /// ([`Vec<NoticeInfo>`]).
    Sent {
        /// How many at most.
        #[serde(default)]
        limit: Option<usize>,
        /// Only those numbered below this (for the next page).
        #[serde(default)]
        before: Option<u64>,
        /// Only those logged at or after this time (ms since the epoch).
        #[serde(default)]
        since: Option<u64>,
    },
    /// Several notices by id, each alone (no thread), in the order asked; those this node does
    /// not have are left out ([`Vec<NoticeInfo>`]). At most [`crate::views::NOTICES_LIMIT`].
    Notices {
        /// `sender/seq` each.
        notices: Vec<String>,
    },
    /// The thread of a notice, with receipts and acknowledgements ([`Thread`]).
    Show {
        /// `sender/seq`.
        notice: String,
    },
    /// Links, pending work, deadlines ([`Status`]).
    Status {},
    /// Stream events until the client hangs up: answered `"watching"`, then one [`Event`] a line.
    Watch {},
    /// A chunk of the node's durable log ([`Export`]): at most `limit` leaves (and at most
    /// [`EXPORT_CHUNK`]) from index `from` on.
    Export {
        /// The first leaf wanted.
        #[serde(default)]
        from: u64,
        /// How many at most ([`EXPORT_CHUNK`] if absent).
        #[serde(default)]
        limit: Option<u64>,
    },
    /// Sign a checkpoint of the log now (if it grew) and offer it to the peers ([`CheckpointInfo`]).
    Checkpoint {},
    /// Hold a notice for a second officer's release (spec §16.2): answered once the draft is
    /// durable ([`DraftRef`]). Nothing is signed or sent.
    Draft {
        /// The officer drafting it (a call sign of `officers.toml`).
        officer: String,
        /// What to send once released.
        send: Box<SendRequest>,
    },
    /// The drafts waiting for release, oldest first ([`Vec<DraftInfo>`]).
    Drafts {},
    /// Send a draft: `officer` must be an officer other than the one who drafted it. Answered as
    /// `send` is, once the notice is durable ([`NoticeRef`]).
    Release {
        /// The draft's number.
        draft: u64,
        /// The releasing officer.
        officer: String,
    },
    /// Drop a draft without sending it ([`DraftRef`]).
    Discard {
        /// The draft's number.
        draft: u64,
        /// The officer discarding it.
        officer: String,
    },
}

/// The answer to `draft` and `discard`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftRef {
    /// The draft's number.
    pub draft: u64,
}

/// A draft waiting for release.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DraftInfo {
    /// Its number.
    pub draft: u64,
    /// The officer who drafted it.
    pub drafted_by: String,
    /// When (this node's clock, UTC ms).
    pub drafted_ms: u64,
    /// One line in its first language.
    pub headline: String,
    /// What it sends.
    pub send: SendRequest,
}

/// An answer line: `{"api": 1, "ok": true, "result": …}` or `{"api": 1, "ok": false, "error": …}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Answer {
    /// [`API_VERSION`].
    pub api: u32,
    /// Whether the request succeeded.
    pub ok: bool,
    /// The result, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Why not, if it did not: a sentence for the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Answer {
    /// A success carrying `result`.
    pub fn ok(result: &impl Serialize) -> Answer {
        match serde_json::to_value(result) {
            Ok(value) => Answer { api: API_VERSION, ok: true, result: Some(value), error: None },
            Err(e) => Answer::error(format!("the node could not encode its answer: {e}")),
        }
    }

    /// A refusal.
    pub fn error(message: impl std::fmt::Display) -> Answer {
        Answer { api: API_VERSION, ok: false, result: None, error: Some(message.to_string()) }
    }
}

/// The answer to `send` and `ack`: the notice concerned, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRef {
    /// `sender/seq`.
    pub notice: String,
}

/// An addressee of a notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddresseeInfo {
    /// Member name.
    pub name: String,
    /// Action or information.
    pub role: Role,
}

/// An addressee's progress on a notice this node sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyInfo {
    /// Member name.
    pub name: String,
    /// Action or information.
    pub role: Role,
    /// When its receipt was accepted (this node's clock, UTC ms).
    pub receipt_ms: Option<u64>,
    /// When its acknowledgement was accepted.
    pub ack_ms: Option<u64>,
    /// Whether the receipt deadline was missed (recorded in the log).
    pub receipt_missed: bool,
    /// Whether the acknowledgement deadline was missed.
    pub ack_missed: bool,
    /// What its acknowledgement said (disposition, operator, note), once accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<hotline_proto::AckView>,
}

/// Sent by this node, or received by it, with what is known of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "direction", rename_all = "snake_case")]
pub enum DirectionInfo {
    /// This node sent it.
    Sent {
        /// Each addressee's progress.
        parties: Vec<PartyInfo>,
    },
    /// This node received it.
    Received {
        /// Whether this node's officer owes an acknowledgement.
        needs_ack: bool,
        /// Whether it was acknowledged here.
        acked: bool,
        /// Whether the acknowledgement deadline has passed unanswered.
        overdue: bool,
        /// Time left to acknowledge (negative once passed): to the deadline on the sender's clock
        /// (spec §6.9), and never more than the whole window counted from when it arrived here,
        /// so that a clock of this node's running behind does not show more time than there is.
        ack_left_ms: i64,
        /// How far the sender's clock is off from this node's (its minus ours, ms), while the
        /// link flags it as skewed: the deadline is on the sender's clock.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_clock_offset_ms: Option<i64>,
        /// What this node's acknowledgement said, once sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        own_ack: Option<hotline_proto::AckView>,
    },
}

/// A notice as an operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeInfo {
    /// `sender/seq`.
    pub id: String,
    /// Its thread (`sender/seq` of the initial report).
    pub thread: String,
    /// The notice it answers.
    pub in_reply_to: Option<String>,
    /// Sender name.
    pub from: String,
    /// Addressees.
    pub to: Vec<AddresseeInfo>,
    /// Kind.
    pub kind: NoticeKind,
    /// Precedence.
    pub precedence: Precedence,
    /// Created (sender's clock, UTC ms).
    pub created_ms: u64,
    /// Logged here (sent or accepted, UTC ms).
    pub logged_ms: u64,
    /// Receipt deadline (UTC ms).
    pub receipt_due_ms: u64,
    /// Acknowledgement deadline (UTC ms).
    pub ack_due_ms: u64,
    /// One line in its first language.
    pub headline: String,
    /// Message hash (hex).
    pub hash: String,
    /// The whole content.
    pub body: Body,
    /// Sent or received.
    #[serde(flatten)]
    pub direction: DirectionInfo,
}

/// The answer to `inbox`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    /// Awaiting this node's acknowledgement, soonest deadline first.
    pub awaiting_ack: Vec<NoticeInfo>,
    /// The rest, newest first, as many as asked.
    pub other: Vec<NoticeInfo>,
    /// Whether older notices exist beyond `other` (ask with a larger limit).
    #[serde(default)]
    pub more: bool,
}

/// The answer to `show`: a whole thread, in reading order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The thread (`sender/seq`).
    pub thread: String,
    /// Its notices known here.
    pub notices: Vec<NoticeInfo>,
}

/// One peer's link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    /// Member name.
    pub peer: String,
    /// Largest checkpoint of this node's log it co-signed (0: none).
    pub cosigned_size: u64,
    /// Up or down (spec §6.5).
    pub up: bool,
    /// Whether anything valid was heard from it since this node started (else `up` is only
    /// presumed, spec §6.10).
    pub heard: bool,
    /// When something valid was last heard from it (UTC ms).
    pub last_heard_ms: u64,
    /// How long ago that was.
    pub silent_ms: u64,
    /// When the last link test with it was logged (UTC ms), if this log holds one.
    pub last_link_test_ms: Option<u64>,
    /// Messages to it not yet receipted.
    pub unreceipted: usize,
    /// Whether its clock is flagged as skewed.
    pub clock_skewed: bool,
    /// How far its clock is off (its minus ours, ms), while flagged.
    #[serde(default)]
    pub clock_offset_ms: Option<i64>,
    /// The link's latest outage that ended, `[last heard, back up]` (UTC ms): what explains a
    /// receipt that came late.
    #[serde(default)]
    pub last_outage_ms: Option<(u64, u64)>,
    /// The last frame from it this node refused, if any since it started.
    #[serde(default)]
    pub last_refusal: Option<Refusal>,
}

/// A frame refused from a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The rejection code (spec §12), e.g. `wrong_network`.
    pub code: String,
    /// What exactly was wrong.
    pub detail: String,
    /// When (UTC ms, this node's clock).
    pub at_ms: u64,
}

/// A receipt or acknowledgement this node waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Awaiting {
    /// `sender/seq`.
    pub notice: String,
    /// Who owes it.
    pub party: String,
    /// Receipt or acknowledgement.
    pub awaiting: DeadlineKind,
    /// When it is due (UTC ms).
    pub due_ms: u64,
    /// Time left (negative once passed).
    pub left_ms: i64,
}

/// The answer to `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// This node's member name.
    pub name: String,
    /// Its key (hex).
    pub node_id: String,
    /// The network's name.
    pub network: String,
    /// The network id (hex).
    pub network_id: String,
    /// Its spoken fingerprint in English (spec §3.3), for the check by voice.
    #[serde(default)]
    pub fingerprint: String,
    /// The node's clock (UTC ms).
    pub now_ms: u64,
    /// When this run of the node started (UTC ms, the log time of its `started` entry).
    pub started_ms: u64,
    /// Log entries.
    pub log_entries: u64,
    /// Of which durable.
    pub durable_entries: u64,
    /// Every peer's link.
    pub links: Vec<LinkInfo>,
    /// What this node waits for, soonest first.
    pub awaiting: Vec<Awaiting>,
    /// Why the store cannot write, while it cannot (the node then refuses new notices).
    pub store_error: Option<String>,
    /// Set when a peer showed that this node's store lost entries it had signed (spec §6.13):
    /// what happened and what to do. The node then signs nothing.
    #[serde(default)]
    pub rolled_back: Option<String>,
    /// The precedences this node sends only on a second officer's release (spec §16.2).
    #[serde(default)]
    pub second_officer: Vec<Precedence>,
    /// Drafts waiting for release.
    #[serde(default)]
    pub drafts: usize,
}

/// The answer to `checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// Entries covered.
    pub size: u64,
    /// RFC 9162 root (hex).
    pub root: String,
    /// Peers that co-signed it so far.
    pub cosigned_by: Vec<String>,
}

/// The most leaves one `export` answer carries: the log travels in bounded chunks, so neither
/// the node nor the client holds more than one (about 2.5 MB of JSON) whatever its length.
pub const EXPORT_CHUNK: u64 = 2048;

/// The answer to `export`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// Durable log leaves from the index asked for, in order (hex).
    pub leaves: Vec<String>,
    /// How many entries are durable now: an export of the whole log asks until it has these.
    pub size: u64,
}

/// Something the operator should be told, streamed after `watch`. Every one is sent only after
/// the log entries it reports are durable. Built from the core's events in one place
/// ([`crate::views::event`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A notice this node created is durable and is being delivered.
    NoticeStored {
        /// `sender/seq`.
        notice: String,
    },
    /// This node's officer's acknowledgement is durable and is being delivered.
    AckStored {
        /// The notice acknowledged.
        notice: String,
    },
    /// A new notice for this node.
    NoticeReceived {
        /// `sender/seq`.
        notice: String,
        /// Its thread.
        thread: String,
        /// Its kind.
        kind: NoticeKind,
        /// Its precedence.
        precedence: Precedence,
        /// This node's role.
        role: Role,
        /// When this node's acknowledgement is due, if one is owed.
        ack_due_ms: Option<u64>,
    },
    /// An addressee receipted a notice of this node (or the sender receipted this node's ack).
    ReceiptReceived {
        /// The notice.
        notice: String,
        /// Who receipted.
        from: String,
        /// What was receipted.
        of: Kind,
        /// Whether it came after the miss was recorded.
        late: bool,
    },
    /// An addressee's officer acknowledged a notice of this node.
    AckReceived {
        /// The notice.
        notice: String,
        /// The addressee.
        from: String,
        /// The decision.
        disposition: Disposition,
        /// The officer.
        operator: String,
        /// Whether it came after the miss was recorded.
        late: bool,
    },
    /// 80 % of an acknowledgement window has passed without the acknowledgement.
    DeadlineApproaching {
        /// The notice.
        notice: String,
        /// Whose acknowledgement is awaited (this node's own, on the receiving side).
        party: String,
        /// When it falls (UTC ms).
        deadline_ms: u64,
    },
    /// A deadline was missed; the miss is in the log.
    DeadlineMissed {
        /// The notice.
        notice: String,
        /// Who missed it.
        party: String,
        /// Which deadline.
        deadline: DeadlineKind,
        /// When it fell (UTC ms).
        deadline_ms: u64,
    },
    /// A peer has been silent past the policy's limit.
    LinkDown {
        /// The peer.
        peer: String,
        /// When it was last heard (UTC ms).
        last_heard_ms: u64,
    },
    /// A silent peer was heard again.
    LinkUp {
        /// The peer.
        peer: String,
    },
    /// Notices from a peer are missing (per-link sequence numbers `first..=last`).
    SequenceGap {
        /// The peer.
        peer: String,
        /// First missing.
        first: u64,
        /// Last missing.
        last: u64,
    },
    /// A peer's clock is off by more than the policy tolerates.
    ClockSkew {
        /// The peer.
        peer: String,
        /// Lower bound of the peer's clock minus ours (ms).
        offset_ms: i64,
    },
    /// This node's own wall clock was stepped (its time service or an operator changed it).
    ClockStep {
        /// Where the monotonic clock said the wall clock should be (UTC ms).
        expected_ms: u64,
        /// What the wall clock read (UTC ms).
        observed_ms: u64,
    },
    /// A frame from a peer was refused.
    Rejected {
        /// The peer.
        peer: String,
        /// The error code's name (spec §9).
        code: String,
        /// Details.
        detail: String,
    },
    /// A peer signed two different notices with one id; the evidence is in the log.
    Equivocation {
        /// The peer.
        peer: String,
        /// The id.
        notice: String,
    },
    /// A peer presented a checkpoint contradicting one this node co-signed: it rewrote its log.
    LogConflict {
        /// The peer.
        peer: String,
        /// Size of the checkpoint this node co-signed.
        cosigned_size: u64,
        /// Size of the contradicting checkpoint.
        size: u64,
    },
    /// The store cannot write (a full disk, an I/O error): the node refuses new notices and
    /// acknowledgements and accepts nothing from peers (they retransmit) until it can again. It
    /// keeps retrying by itself.
    StoreFailed {
        /// The error.
        detail: String,
    },
    /// The store writes again: the node works normally.
    StoreRecovered,
    /// A peer holds this node's signed checkpoint of `size` entries, but the store holds
    /// `log_size` (or other entries at that size): the store was rolled back or replaced. The
    /// node signs nothing more until its store is restored (spec §6.13).
    StoreRolledBack {
        /// The peer that showed it.
        peer: String,
        /// The checkpoint's size.
        size: u64,
        /// What the store holds.
        log_size: u64,
    },
    /// The store's history could not be read to handle a frame about an old notice: the frame
    /// was set aside as if lost, and its sender sends it again.
    StoreUnreadable {
        /// The error.
        detail: String,
    },
    /// This watcher fell behind and missed events: re-read the inbox and status.
    Lagged {
        /// How many.
        missed: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_documented_names_and_fields() {
        let e = Event::DeadlineMissed {
            notice: "alpha/3".into(),
            party: "bravo".into(),
            deadline: DeadlineKind::Ack,
            deadline_ms: 42,
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"event": "deadline_missed", "notice": "alpha/3", "party": "bravo", "deadline": "ack", "deadline_ms": 42})
        );
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), e);
        let lagged = serde_json::to_value(Event::Lagged { missed: 3 }).unwrap();
        assert_eq!(lagged, serde_json::json!({"event": "lagged", "missed": 3}));
    }

    #[test]
    fn every_answer_names_its_version() {
        let ok = serde_json::to_value(Answer::ok(&NoticeRef { notice: "alpha/1".into() })).unwrap();
        assert_eq!(ok, serde_json::json!({"api": 1, "ok": true, "result": {"notice": "alpha/1"}}));
        let refused = serde_json::to_value(Answer::error("no")).unwrap();
        assert_eq!(refused, serde_json::json!({"api": 1, "ok": false, "error": "no"}));
    }

    #[test]
    fn a_received_notice_flattens_its_direction() {
        let d = DirectionInfo::Received {
            needs_ack: true,
            acked: false,
            overdue: false,
            ack_left_ms: -5,
            sender_clock_offset_ms: None,
            own_ack: None,
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["direction"], "received");
        assert_eq!(v["ack_left_ms"], -5);
    }

    #[test]
    fn requests_with_unknown_fields_are_refused() {
        for ok in [
            r#"{"op":"status"}"#,
            r#"{"op":"inbox"}"#,
            r#"{"op":"watch"}"#,
            r#"{"op":"show","notice":"a/1"}"#,
        ] {
            assert!(serde_json::from_str::<Request>(ok).is_ok(), "{ok}");
        }
        for bad in [
            r#"{"op":"status","x":1}"#,
            r#"{"op":"export","leaves":[]}"#,
            r#"{"op":"show","notice":"a/1","x":1}"#,
            r#"{"op":"checkpoint","now":true}"#,
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad} was accepted");
        }
    }
}
