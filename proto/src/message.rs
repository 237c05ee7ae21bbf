//! The messages nodes exchange: notices, receipts and acknowledgements, each a signed frame
//! (spec §4–§5).
//!
//! A frame carries the *exact bytes* of its body next to the signature over them. Receivers verify
//! and hash those bytes, never a re-encoding, and strict decoding guarantees that the bytes are the
//! one canonical encoding of the body.

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::{self, domain_hash, Context};
use crate::error::{ErrorCode, Rejection};
use crate::ids::{Hash32, NodeId, NoticeId, Sig64};
use crate::incident::{check_attachments, Attachment, Completeness, Incident};
use crate::limits::{MAX_ADDRESSEES, MAX_FRAME, MAX_NAME, MAX_PROOF, MAX_SEQ, MAX_TEXT};
use crate::note::{self, Checkpoint};
use crate::precedence::Precedence;
use crate::roster::Roster;
use crate::text::{check_line, check_texts, Texts};

/// The frame version this crate speaks. The first byte of every frame.
pub const VERSION: u8 = 1;

/// What a frame's body is. Wire values: notice 0, receipt 1, ack 2, checkpoint 3, cosignature 4,
/// heartbeat 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A [`Notice`].
    Notice,
    /// A [`Receipt`].
    Receipt,
    /// An [`Ack`].
    Ack,
    /// A [`CheckpointOffer`].
    Checkpoint,
    /// A [`Cosignature`].
    Cosignature,
    /// A [`Heartbeat`].
    Heartbeat,
}

impl Kind {
    /// The signature context of frames of this kind.
    pub fn context(self) -> Context {
        match self {
            Kind::Notice => Context::Notice,
            Kind::Receipt => Context::Receipt,
            Kind::Ack => Context::Ack,
            Kind::Checkpoint => Context::Checkpoint,
            Kind::Cosignature => Context::Cosignature,
            Kind::Heartbeat => Context::Heartbeat,
        }
    }
}

/// The unit of transmission: a signed body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// [`VERSION`].
    pub version: u8,
    /// What `body` decodes as, and which signature context applies.
    pub kind: Kind,
    /// The canonical postcard encoding of the body.
    pub body: Vec<u8>,
    /// Ed25519 signature by the body's signer over `context(kind) ‖ 0x00 ‖ body`.
    pub signature: Sig64,
}

/// Whether an addressee must act (and acknowledge) or is informed only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Must receipt and a human must acknowledge by the deadline.
    Action,
    /// Must receipt; human acknowledgement is optional.
    Info,
}

/// One addressee of a notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addressee {
    /// The addressee's node.
    pub node: NodeId,
    /// Action or information.
    pub role: Role,
    /// The sender's per-link sequence number towards this addressee: 1, 2, 3, … over all notices
    /// the sender ever addressed to it, so that the addressee detects any it has not received.
    pub link_seq: u64,
}

/// A pre-agreed coded message (spec §5.4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodedMessage {
    /// The codebook number.
    pub number: u32,
    /// The code word; must match the codebook entry with `number`.
    pub word: String,
    /// Optional free text to go with it.
    pub note: Texts,
    /// Supporting files by hash (e.g. the media a deepfake denial is about).
    pub attachments: Vec<Attachment>,
}

/// What a notice says. The kind of a notice follows from its body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// An incident report: initial, update or final (closure).
    Incident(Incident),
    /// A reply in a thread.
    Reply(Texts),
    /// A request for clarification of an earlier notice.
    Clarification(Texts),
    /// A coded message from the network's codebook.
    Codebook(CodedMessage),
}

/// The kind of a notice, as operators name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Initial incident report (possibly incomplete).
    Initial,
    /// Update to an incident report.
    Update,
    /// Final incident report: closes the thread.
    Final,
    /// Reply.
    Reply,
    /// Request for clarification.
    Clarification,
    /// Codebook message.
    Codebook,
}

impl NoticeKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            NoticeKind::Initial => "initial",
            NoticeKind::Update => "update",
            NoticeKind::Final => "final",
            NoticeKind::Reply => "reply",
            NoticeKind::Clarification => "clarification",
            NoticeKind::Codebook => "codebook",
        }
    }
}

/// A notification from one node to one or more addressees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The network id.
    pub network: Hash32,
    /// The signer.
    pub sender: NodeId,
    /// The sender's sequence number: 1, 2, 3, … over every notice it ever created.
    pub seq: u64,
    /// Creation time at the sender (UTC, ms since the Unix epoch). Deadlines count from here.
    pub created_ms: u64,
    /// Precedence.
    pub precedence: Precedence,
    /// Action and information addressees.
    pub to: Vec<Addressee>,
    /// The thread this notice belongs to (the id of the thread's first notice), or `None` if this
    /// notice starts a thread.
    pub thread: Option<NoticeId>,
    /// The notice this one answers, if any.
    pub in_reply_to: Option<NoticeId>,
    /// The content.
    pub body: Body,
}

impl Notice {
    /// The notice's id.
    pub fn id(&self) -> NoticeId {
        NoticeId { sender: self.sender, seq: self.seq }
    }

    /// The thread id: `thread`, or the notice's own id if it starts a thread.
    pub fn thread_id(&self) -> NoticeId {
        self.thread.unwrap_or_else(|| self.id())
    }

    /// The kind, from the body.
    pub fn kind(&self) -> NoticeKind {
        match &self.body {
            Body::Incident(incident) => match incident.completeness {
                Completeness::Initial => NoticeKind::Initial,
                Completeness::Update => NoticeKind::Update,
                Completeness::Final => NoticeKind::Final,
            },
            Body::Reply(_) => NoticeKind::Reply,
            Body::Clarification(_) => NoticeKind::Clarification,
            Body::Codebook(_) => NoticeKind::Codebook,
        }
    }

    /// The addressee entry for `node`, if it is one.
    pub fn addressee(&self, node: &NodeId) -> Option<&Addressee> {
        self.to.iter().find(|a| &a.node == node)
    }

    /// Whether a human acknowledgement is expected from `node`.
    pub fn needs_ack_from(&self, node: &NodeId) -> bool {
        self.addressee(node).is_some_and(|a| a.role == Role::Action)
    }

    /// Checks every rule of spec §5.2–§5.4 against the roster.
    pub fn check(&self, roster: &Roster) -> Result<(), Rejection> {
        let policy = &roster.policy;
        if self.seq == 0 || self.seq > MAX_SEQ {
            return Err(Rejection::field("seq", format!("must be 1 to {MAX_SEQ}")));
        }
        if self.to.is_empty() || self.to.len() > MAX_ADDRESSEES {
            return Err(Rejection::field("to", format!("need 1 to {MAX_ADDRESSEES} addressees")));
        }
        for (i, a) in self.to.iter().enumerate() {
            if a.node == self.sender {
                return Err(Rejection::field("to", "the sender cannot address itself"));
            }
            if roster.member(&a.node).is_none() {
                return Err(Rejection::field("to", format!("{} is not in the roster", a.node.short())));
            }
            if self.to[..i].iter().any(|earlier| earlier.node == a.node) {
                return Err(Rejection::field("to", format!("{} is addressed twice", a.node.short())));
            }
            if a.link_seq == 0 || a.link_seq > MAX_SEQ {
                return Err(Rejection::field("to.link_seq", format!("must be 1 to {MAX_SEQ}")));
            }
        }
        if !self.to.iter().any(|a| a.role == Role::Action) {
            return Err(Rejection::field("to", "needs at least one action addressee"));
        }
        let kind = self.kind();
        let needs_thread = matches!(
            kind,
            NoticeKind::Update | NoticeKind::Final | NoticeKind::Reply | NoticeKind::Clarification
        );
        match (&self.thread, kind) {
            (Some(_), NoticeKind::Initial) => {
                return Err(Rejection::field("thread", format!("a {} notice starts no thread", kind.name())))
            }
            (None, _) if needs_thread => {
                return Err(Rejection::field(
                    "thread",
                    format!("a {} notice belongs to a thread", kind.name()),
                ))
            }
            (Some(thread), _) if thread.seq >= self.seq && thread.sender == self.sender => {
                return Err(Rejection::field("thread", "refers to a later notice of the sender"))
            }
            _ => {}
        }
        match (&self.in_reply_to, kind) {
            (None, NoticeKind::Reply | NoticeKind::Clarification) => {
                return Err(Rejection::field("in_reply_to", format!("a {} answers a notice", kind.name())))
            }
            (Some(_), NoticeKind::Initial) => {
                return Err(Rejection::field(
                    "in_reply_to",
                    format!("a {} notice answers nothing", kind.name()),
                ))
            }
            (Some(r), _) if r.sender == self.sender && r.seq >= self.seq => {
                return Err(Rejection::field("in_reply_to", "refers to a later notice of the sender"))
            }
            _ => {}
        }
        let required = &policy.required_languages;
        let max_text = self.precedence.max_text();
        match &self.body {
            Body::Incident(incident) => incident.check(required, max_text),
            Body::Reply(texts) => check_texts("reply", texts, required, max_text, true),
            Body::Clarification(texts) => check_texts("clarification", texts, required, max_text, true),
            Body::Codebook(coded) => {
                let entry = policy.code(coded.number).ok_or_else(|| {
                    Rejection::field("codebook.number", format!("{} is not in the codebook", coded.number))
                })?;
                if entry.word != coded.word {
                    return Err(Rejection::field(
                        "codebook.word",
                        format!("entry {} is {:?}, not {:?}", coded.number, entry.word, coded.word),
                    ));
                }
                check_texts("codebook.note", &coded.note, required, max_text, false)?;
                check_attachments(&coded.attachments)
            }
        }
    }
}

/// Reference to a message by kind and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    /// The kind of the referenced message: a notice or an ack (receipts are not receipted).
    pub kind: Kind,
    /// Its message hash ([`message_hash`]).
    pub hash: Hash32,
}

/// A machine receipt: "this message is durably stored at my node". Signed only after the
/// received message is durable (spec §5.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The network id.
    pub network: Hash32,
    /// The node that received and stored the message.
    pub signer: NodeId,
    /// What is receipted.
    pub of: MessageRef,
    /// The notice concerned (the receipted notice, or the notice the receipted ack is for).
    pub notice: NoticeId,
    /// When the signer first received the message (its clock, UTC ms).
    pub received_ms: u64,
}

/// What the acknowledging officer decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Received and understood.
    Understood,
    /// Understood; being investigated, more to follow.
    Investigating,
    /// Understood; the requested action has been taken.
    ActionTaken,
    /// Received, but the content is disputed.
    Disputed,
}

impl Disposition {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Disposition::Understood => "understood",
            Disposition::Investigating => "investigating",
            Disposition::ActionTaken => "action_taken",
            Disposition::Disputed => "disputed",
        }
    }
}

/// A human acknowledgement, signed by the acknowledging node on its officer's behalf (spec §5.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The network id.
    pub network: Hash32,
    /// The acknowledging node (an addressee of the notice).
    pub signer: NodeId,
    /// The notice acknowledged.
    pub notice: NoticeId,
    /// Its message hash.
    pub notice_hash: Hash32,
    /// When the officer acknowledged (signer's clock, UTC ms).
    pub acked_ms: u64,
    /// The officer (a watch position or call sign).
    pub operator: String,
    /// The decision.
    pub disposition: Disposition,
    /// Optional remark, in any language.
    pub note: Texts,
}

impl Ack {
    fn check(&self) -> Result<(), Rejection> {
        check_line("operator", &self.operator, MAX_NAME)?;
        if self.operator.trim().is_empty() {
            return Err(Rejection::field("operator", "must not be empty"));
        }
        check_texts("note", &self.note, &[], MAX_TEXT, false)
    }
}

/// A node offers a peer a new checkpoint of its own log for co-signing (spec §15.4). The
/// consistency proof runs from the largest checkpoint the sender knows this peer co-signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointOffer {
    /// The network id.
    pub network: Hash32,
    /// The node whose log this is.
    pub signer: NodeId,
    /// The signed checkpoint.
    pub checkpoint: SignedCheckpoint,
    /// Size of the checkpoint the proof starts from; 0 if the peer never co-signed one.
    pub proof_from: u64,
    /// RFC 9162 consistency proof from `proof_from` to `checkpoint.size`.
    pub proof: Vec<Hash32>,
}

/// A checkpoint with its log's C2SP note signature (spec §15.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    /// Number of leaves.
    pub size: u64,
    /// RFC 9162 root of the first `size` leaves.
    pub root: Hash32,
    /// Ed25519 signature by the log's node over the checkpoint's note body.
    pub signature: Sig64,
}

impl SignedCheckpoint {
    /// The checkpoint of `log`'s log in `roster`'s network (whose id is `network`), if `log` is
    /// a member.
    pub fn checkpoint(&self, roster: &Roster, network: &Hash32, log: &NodeId) -> Option<Checkpoint> {
        Some(Checkpoint { origin: note::origin_in(roster, network, log)?, size: self.size, root: self.root })
    }

    /// Checks the log's note signature.
    pub fn verify(&self, roster: &Roster, network: &Hash32, log: &NodeId) -> Result<(), Rejection> {
        let checkpoint = self
            .checkpoint(roster, network, log)
            .ok_or_else(|| Rejection::new(ErrorCode::UnknownSigner, "the log is not a roster member"))?;
        if checkpoint.verify(log, &self.signature) {
            Ok(())
        } else {
            Err(Rejection::new(ErrorCode::BadSignature, "checkpoint note signature does not verify"))
        }
    }
}

/// A peer's co-signature of a checkpoint: C2SP `cosignature/v1` (spec §15.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosignature {
    /// The network id.
    pub network: Hash32,
    /// The co-signing node.
    pub signer: NodeId,
    /// Whose log's checkpoint this is.
    pub log: NodeId,
    /// The checkpoint's size.
    pub size: u64,
    /// Its root.
    pub root: Hash32,
    /// When it was co-signed (POSIX seconds).
    pub timestamp_s: u64,
    /// Ed25519 signature by `signer` over the `cosignature/v1` message.
    pub signature: Sig64,
}

impl Cosignature {
    /// Checks the cosignature against the roster, in the network it names (which [`open`]
    /// checks is the receiver's before it gets here).
    pub fn verify(&self, roster: &Roster) -> Result<(), Rejection> {
        let origin = note::origin_in(roster, &self.network, &self.log)
            .ok_or_else(|| Rejection::new(ErrorCode::UnknownReference, "the log is not a roster member"))?;
        if self.timestamp_s > note::MAX_TIMESTAMP {
            return Err(Rejection::new(
                ErrorCode::InvalidField,
                format!(
                    "cosignature timestamp {} is beyond 2^63 - 1 (C2SP tlog-cosignature)",
                    self.timestamp_s
                ),
            ));
        }
        let checkpoint = Checkpoint { origin, size: self.size, root: self.root };
        if checkpoint.verify_cosignature(&self.signer, self.timestamp_s, &self.signature) {
            Ok(())
        } else {
            Err(Rejection::new(ErrorCode::BadSignature, "cosignature does not verify"))
        }
    }
}

/// A node's signed "I am here" to one peer (spec §5.8): liveness, the round trip a link test
/// records, a clock reading, and what the sender co-signed of the addressee's log. Never logged
/// by itself, never receipted, never retransmitted: the next one replaces a lost one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The network id.
    pub network: Hash32,
    /// The sender.
    pub signer: NodeId,
    /// The one peer it is for.
    pub to: NodeId,
    /// The sender's clock when it signed (UTC ms).
    pub time_ms: u64,
    /// Message hash of the latest heartbeat the sender received from `to`; 32 zero bytes if none
    /// since it started. A heartbeat that echoes one of the addressee's proves a round trip.
    pub echo: Hash32,
    /// The newest checkpoint of `to`'s log that the sender has co-signed, as `to` signed it
    /// (none yet: `None`): a node whose store lost what it signed learns it from its peers, with
    /// its own signature as the proof (spec §6.13).
    pub cosigned: Option<SignedCheckpoint>,
}

/// A decoded, verified message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // short-lived, one at a time; boxing buys nothing
pub enum Message {
    /// A notice.
    Notice(Notice),
    /// A receipt.
    Receipt(Receipt),
    /// An ack.
    Ack(Ack),
    /// A checkpoint offered for co-signing.
    Checkpoint(CheckpointOffer),
    /// A co-signature.
    Cosignature(Cosignature),
    /// A heartbeat.
    Heartbeat(Heartbeat),
}

impl Message {
    /// The signer.
    pub fn signer(&self) -> NodeId {
        match self {
            Message::Notice(n) => n.sender,
            Message::Receipt(r) => r.signer,
            Message::Ack(a) => a.signer,
            Message::Checkpoint(c) => c.signer,
            Message::Cosignature(c) => c.signer,
            Message::Heartbeat(h) => h.signer,
        }
    }

    fn network(&self) -> Hash32 {
        match self {
            Message::Notice(n) => n.network,
            Message::Receipt(r) => r.network,
            Message::Ack(a) => a.network,
            Message::Checkpoint(c) => c.network,
            Message::Cosignature(c) => c.network,
            Message::Heartbeat(h) => h.network,
        }
    }
}

/// A verified message with its hash and its exact frame bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The message.
    pub message: Message,
    /// Its message hash.
    pub hash: Hash32,
    /// The frame exactly as received.
    pub frame: Vec<u8>,
}

/// The message hash: `SHA-256(context(kind) ‖ 0x00 ‖ body)` — the hash of the signed bytes.
pub fn message_hash(kind: Kind, body: &[u8]) -> Hash32 {
    domain_hash(kind.context(), body)
}

/// Signs a body and frames it. Returns the frame bytes and the message hash.
pub fn seal<T: Serialize>(key: &dyn crate::signer::Signer, kind: Kind, body: &T) -> (Vec<u8>, Hash32) {
    let body = codec::encode(body);
    let signature = crypto::sign(key, kind.context(), &body);
    let hash = message_hash(kind, &body);
    (codec::encode(&Frame { version: VERSION, kind, body, signature }), hash)
}

/// Decodes a frame strictly (size, version, canonical encoding) without verifying anything else.
fn decode_frame(frame_bytes: &[u8]) -> Result<(Frame, Message), Rejection> {
    if frame_bytes.len() > MAX_FRAME {
        return Err(Rejection::new(
            ErrorCode::FrameTooLarge,
            format!("frame is {} bytes, more than {MAX_FRAME}", frame_bytes.len()),
        ));
    }
    match frame_bytes.first() {
        None => return Err(Rejection::new(ErrorCode::Malformed, "empty frame")),
        Some(&VERSION) => {}
        Some(&v) => return Err(Rejection::new(ErrorCode::UnsupportedVersion, format!("version {v}"))),
    }
    let frame: Frame = codec::decode("frame", frame_bytes, MAX_FRAME)?;
    let message = match frame.kind {
        Kind::Notice => Message::Notice(codec::decode("notice", &frame.body, MAX_FRAME)?),
        Kind::Receipt => Message::Receipt(codec::decode("receipt", &frame.body, MAX_FRAME)?),
        Kind::Ack => Message::Ack(codec::decode("ack", &frame.body, MAX_FRAME)?),
        Kind::Checkpoint => Message::Checkpoint(codec::decode("checkpoint", &frame.body, MAX_FRAME)?),
        Kind::Cosignature => Message::Cosignature(codec::decode("cosignature", &frame.body, MAX_FRAME)?),
        Kind::Heartbeat => Message::Heartbeat(codec::decode("heartbeat", &frame.body, MAX_FRAME)?),
    };
    Ok((frame, message))
}

/// Decodes a frame strictly without verifying, hashing or copying it: for deciding what to handle
/// first, never for acting on its content.
pub fn peek(frame_bytes: &[u8]) -> Option<Message> {
    decode_frame(frame_bytes).ok().map(|(_, message)| message)
}

/// Decodes a frame this node already verified (read back from its own durable log) without
/// verifying its signature again. Never use it for bytes from a peer.
pub(crate) fn decode_trusted(frame_bytes: &[u8]) -> Result<Opened, Rejection> {
    let (frame, message) = decode_frame(frame_bytes)?;
    Ok(Opened { message, hash: message_hash(frame.kind, &frame.body), frame: frame_bytes.to_vec() })
}

/// A notice named by a receipt or an acknowledgement: of a roster member, with a number a notice
/// can have (1 to [`MAX_SEQ`]).
fn check_notice_ref(field: &str, id: &NoticeId, roster: &Roster) -> Result<(), Rejection> {
    if roster.member(&id.sender).is_none() {
        return Err(Rejection::field(field, format!("{} is not in the roster", id.sender.short())));
    }
    if id.seq == 0 || id.seq > MAX_SEQ {
        return Err(Rejection::field(field, format!("notice number {} is not 1 to {MAX_SEQ}", id.seq)));
    }
    Ok(())
}

/// Decodes and verifies a frame against the roster (spec §5.7, steps 1–7): size, version, strict
/// decoding, network id, roster membership, `verify_strict`, schema. It does not check who
/// delivered it, nor anything that depends on a node's state.
pub fn open(frame_bytes: &[u8], roster: &Roster, network: &Hash32) -> Result<Opened, Rejection> {
    let (frame, message) = decode_frame(frame_bytes)?;
    if &message.network() != network {
        return Err(Rejection::new(ErrorCode::WrongNetwork, "message is for another network id"));
    }
    let signer = message.signer();
    if roster.member(&signer).is_none() {
        return Err(Rejection::new(
            ErrorCode::UnknownSigner,
            format!("{} is not in the roster", signer.short()),
        ));
    }
    crypto::verify(&signer, frame.kind.context(), &frame.body, &frame.signature)?;
    match &message {
        Message::Notice(notice) => notice.check(roster)?,
        Message::Receipt(receipt) => {
            if !matches!(receipt.of.kind, Kind::Notice | Kind::Ack) {
                return Err(Rejection::field("of.kind", "only notices and acks are receipted"));
            }
            check_notice_ref("notice", &receipt.notice, roster)?;
            // A receipt of a notice is the addressee's; of an acknowledgement, the notice's
            // sender's (spec §5.5).
            let sender_signs = receipt.notice.sender == receipt.signer;
            if sender_signs != (receipt.of.kind == Kind::Ack) {
                return Err(Rejection::new(
                    ErrorCode::WrongParty,
                    "a notice is receipted by an addressee, an acknowledgement by the notice's sender",
                ));
            }
        }
        Message::Ack(ack) => {
            ack.check()?;
            check_notice_ref("notice", &ack.notice, roster)?;
            if ack.notice.sender == ack.signer {
                return Err(Rejection::new(
                    ErrorCode::WrongParty,
                    "a node does not acknowledge its own notice",
                ));
            }
        }
        Message::Checkpoint(offer) => {
            if offer.proof.len() > MAX_PROOF {
                return Err(Rejection::field("proof", format!("more than {MAX_PROOF} hashes")));
            }
            if offer.proof_from > offer.checkpoint.size {
                return Err(Rejection::field("proof_from", "beyond the checkpoint"));
            }
            offer.checkpoint.verify(roster, network, &offer.signer)?;
        }
        Message::Cosignature(cosignature) => {
            if cosignature.log == cosignature.signer {
                return Err(Rejection::new(ErrorCode::WrongParty, "a node does not co-sign its own log"));
            }
            cosignature.verify(roster)?;
        }
        Message::Heartbeat(heartbeat) => {
            if heartbeat.to == heartbeat.signer || roster.member(&heartbeat.to).is_none() {
                return Err(Rejection::field("to", "a heartbeat goes to another roster member"));
            }
            if let Some(checkpoint) = &heartbeat.cosigned {
                checkpoint.verify(roster, network, &heartbeat.to)?;
            }
        }
    }
    Ok(Opened { message, hash: message_hash(frame.kind, &frame.body), frame: frame_bytes.to_vec() })
}
