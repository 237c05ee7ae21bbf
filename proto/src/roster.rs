//! The roster: who is in the network, how to reach them, and the network's policy (spec §3).
//!
//! The hash of the roster's exact bytes is the **network id**. Every signed message carries it, so
//! two nodes holding different rosters (different members, keys or deadlines) can never agree by
//! accident: their messages are refused as [`crate::ErrorCode::WrongNetwork`].

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::{domain_hash, Context};
use crate::error::Rejection;
use crate::ids::{Hash32, NodeId};
use crate::limits::{MAX_ADDRESSES, MAX_CODEBOOK, MAX_LANGS, MAX_MEMBERS, MAX_NAME, MAX_ROSTER, MAX_SHORT};
use crate::precedence::Precedence;
use crate::text::{check_lang, check_line, check_texts, Texts};

/// The roster format this crate reads and writes.
pub const ROSTER_FORMAT: u8 = 1;

/// A member of the network: one party's liaison node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Short name, unique in the roster: 1–32 bytes of `a-z`, `0-9`, `-`, starting with a letter.
    pub name: String,
    /// The node's Ed25519 public key; its identity.
    pub key: NodeId,
    /// Transport addresses (`host:port`), tried in order. Several give path diversity.
    pub addresses: Vec<String>,
    /// Languages the party's officers read.
    pub languages: Vec<String>,
}

/// Deadlines of one precedence, counted from the notice's creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// The machine receipt must reach the sender within this many milliseconds.
    pub receipt_ms: u64,
    /// The human acknowledgement must reach the sender within this many milliseconds.
    pub ack_ms: u64,
}

/// A pre-agreed coded message: a code word and a number replace composition and translation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodebookEntry {
    /// The number, unique in the codebook.
    pub number: u32,
    /// The code word, unique in the codebook, upper-case ASCII.
    pub word: String,
    /// The agreed meaning, in every required language.
    pub meaning: Texts,
}

/// The network's policy: deadlines, timers and what every notice must contain.
///
/// In a policy file every field is optional: what it does not state takes the default of spec
/// §3.4 (the encoded roster always holds every field, so the network id covers them all).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Deadlines for FLASH.
    pub flash: Deadlines,
    /// Deadlines for IMMEDIATE.
    pub immediate: Deadlines,
    /// Deadlines for PRIORITY.
    pub priority: Deadlines,
    /// Deadlines for ROUTINE.
    pub routine: Deadlines,
    /// Each node sends each peer an unlogged, signed heartbeat this often (spec §6.5): liveness
    /// without log growth.
    pub heartbeat_interval_ms: u64,
    /// A link from which nothing valid was heard for this long is down.
    pub link_silence_ms: u64,
    /// Each node logs a link test (a heartbeat round trip, both signed) with each peer this often.
    pub link_test_interval_ms: u64,
    /// A node signs a checkpoint at most this often, and only when its log grew (spec §15.2).
    pub checkpoint_interval_ms: u64,
    /// Clock differences up to this are tolerated without a clock-skew record.
    pub max_clock_skew_ms: u64,
    /// First retransmission timeout; doubles on each retry.
    pub retransmit_initial_ms: u64,
    /// Largest retransmission timeout.
    pub retransmit_max_ms: u64,
    /// Every text of every notice must include these languages.
    pub required_languages: Vec<String>,
    /// Pre-agreed coded messages.
    pub codebook: Vec<CodebookEntry>,
}

const SECOND: u64 = 1000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

impl Default for Policy {
    /// The defaults of spec §3.4: human acknowledgement as in military messaging practice, machine
    /// receipts in seconds, a heartbeat every 30 s, a logged link test every hour.
    fn default() -> Self {
        Policy {
            flash: Deadlines { receipt_ms: 5 * SECOND, ack_ms: 10 * MINUTE },
            immediate: Deadlines { receipt_ms: 10 * SECOND, ack_ms: 30 * MINUTE },
            priority: Deadlines { receipt_ms: 30 * SECOND, ack_ms: 3 * HOUR },
            routine: Deadlines { receipt_ms: 60 * SECOND, ack_ms: 6 * HOUR },
            heartbeat_interval_ms: 30 * SECOND,
            link_silence_ms: 3 * MINUTE,
            link_test_interval_ms: HOUR,
            checkpoint_interval_ms: MINUTE,
            max_clock_skew_ms: 2 * SECOND,
            retransmit_initial_ms: SECOND,
            retransmit_max_ms: 30 * SECOND,
            required_languages: vec!["en".into()],
            codebook: Vec::new(),
        }
    }
}

impl Policy {
    /// The deadlines of a precedence.
    pub fn deadlines(&self, precedence: Precedence) -> Deadlines {
        match precedence {
            Precedence::Flash => self.flash,
            Precedence::Immediate => self.immediate,
            Precedence::Priority => self.priority,
            Precedence::Routine => self.routine,
        }
    }

    /// The codebook entry with this number, if any.
    pub fn code(&self, number: u32) -> Option<&CodebookEntry> {
        self.codebook.iter().find(|entry| entry.number == number)
    }

    /// Checks the rules of spec §3.2 that concern the policy alone.
    pub fn check(&self) -> Result<(), Rejection> {
        let mut previous: Option<Deadlines> = None;
        for precedence in Precedence::ALL {
            let d = self.deadlines(precedence);
            let name = precedence.name();
            if d.receipt_ms == 0 || d.ack_ms < d.receipt_ms {
                return Err(Rejection::field(
                    "policy.deadlines",
                    format!("{name}: need 0 < receipt_ms <= ack_ms"),
                ));
            }
            if let Some(p) = previous {
                if d.receipt_ms < p.receipt_ms || d.ack_ms < p.ack_ms {
                    return Err(Rejection::field(
                        "policy.deadlines",
                        format!("{name}: a lower precedence may not have a shorter deadline"),
                    ));
                }
            }
            previous = Some(d);
        }
        // Two heartbeats may be lost before a link is declared down.
        if self.heartbeat_interval_ms == 0
            || self.link_silence_ms < self.heartbeat_interval_ms.saturating_mul(2)
        {
            return Err(Rejection::field(
                "policy.link_silence_ms",
                "need 0 < heartbeat_interval_ms and 2 × heartbeat_interval_ms <= link_silence_ms",
            ));
        }
        // Below network jitter a node would see its own clock step, and its peers' skewed, at
        // every input, and log it each time: a log that grows with time (spec §3.1).
        if self.max_clock_skew_ms < MIN_CLOCK_SKEW_MS {
            return Err(Rejection::field(
                "policy.max_clock_skew_ms",
                format!("need at least {MIN_CLOCK_SKEW_MS} ms"),
            ));
        }
        if self.link_test_interval_ms == 0 || self.checkpoint_interval_ms == 0 {
            return Err(Rejection::field(
                "policy.link_test_interval_ms",
                "need 0 < link_test_interval_ms and 0 < checkpoint_interval_ms",
            ));
        }
        if self.retransmit_initial_ms == 0 || self.retransmit_max_ms < self.retransmit_initial_ms {
            return Err(Rejection::field(
                "policy.retransmit_max_ms",
                "need 0 < retransmit_initial_ms <= retransmit_max_ms",
            ));
        }
        if self.required_languages.is_empty() || self.required_languages.len() > MAX_LANGS {
            return Err(Rejection::field("policy.required_languages", format!("need 1 to {MAX_LANGS}")));
        }
        for (i, lang) in self.required_languages.iter().enumerate() {
            check_lang("policy.required_languages", lang)?;
            if self.required_languages[..i].iter().any(|l| l.eq_ignore_ascii_case(lang)) {
                return Err(Rejection::field("policy.required_languages", format!("{lang:?} twice")));
            }
        }
        if self.codebook.len() > MAX_CODEBOOK {
            return Err(Rejection::field("policy.codebook", format!("more than {MAX_CODEBOOK} entries")));
        }
        for (i, entry) in self.codebook.iter().enumerate() {
            let earlier = &self.codebook[..i];
            if earlier.iter().any(|e| e.number == entry.number || e.word == entry.word) {
                return Err(Rejection::field(
                    "policy.codebook",
                    format!("entry {} / {:?} is not unique", entry.number, entry.word),
                ));
            }
            let word_ok = entry.word.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
                && entry.word.len() <= MAX_NAME
                && entry.word.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
            if !word_ok {
                return Err(Rejection::field(
                    "policy.codebook.word",
                    format!(
                        "{:?} is not an upper-case code word (A-Z 0-9 -, starting with a letter)",
                        entry.word
                    ),
                ));
            }
            check_texts(
                "policy.codebook.meaning",
                &entry.meaning,
                &self.required_languages,
                MAX_SHORT,
                true,
            )?;
        }
        Ok(())
    }
}

/// The smallest clock-skew tolerance a policy may set (spec §3.1).
pub const MIN_CLOCK_SKEW_MS: u64 = 100;

/// The network definition. Its hash is the network id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// [`ROSTER_FORMAT`].
    pub format: u8,
    /// The network's name, e.g. `cbm-hotline-exercise-2026`.
    pub network: String,
    /// The members, 2 to [`MAX_MEMBERS`].
    pub members: Vec<Member>,
    /// The policy every member applies.
    pub policy: Policy,
}

/// Checks a member or network name: 1–32 bytes of `a-z 0-9 -`, starting with a letter.
pub fn check_name(field: &str, name: &str) -> Result<(), Rejection> {
    let ok = (1..=32).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Rejection::field(field, format!("{name:?} is not 1-32 of a-z 0-9 - starting with a letter")))
    }
}

/// The word lists a network id's fingerprint is spoken in: BIP-39's, whose words of one index
/// mean the same position in each list, so that two parties can compare in their own language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FingerprintLanguage {
    /// BIP-39 English.
    English,
    /// BIP-39 Chinese (simplified).
    ChineseSimplified,
}

/// Words in a spoken fingerprint: 6 × 11 = 66 bits of the network id.
pub const FINGERPRINT_WORDS: usize = 6;

/// The spoken fingerprint of a network id (spec §3.3): its first 66 bits, read as six 11-bit
/// big-endian numbers, each named by its word in a BIP-39 list; words separated by a space.
/// Short enough to read aloud, long enough that no one can make a roster that sounds the same
/// (2^66 tries).
pub fn fingerprint(network_id: &Hash32, language: FingerprintLanguage) -> String {
    let list = match language {
        FingerprintLanguage::English => bip39::Language::English.word_list(),
        FingerprintLanguage::ChineseSimplified => bip39::Language::SimplifiedChinese.word_list(),
    };
    let mut first = [0u8; 16];
    first.copy_from_slice(&network_id.0[..16]);
    let head = u128::from_be_bytes(first);
    (0..FINGERPRINT_WORDS)
        .map(|i| list[((head >> (128 - 11 * (i + 1))) & 0x7ff) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

impl Roster {
    /// Checks every rule of spec §3.
    pub fn check(&self) -> Result<(), Rejection> {
        if self.format != ROSTER_FORMAT {
            return Err(Rejection::field("format", format!("{} is not {ROSTER_FORMAT}", self.format)));
        }
        check_line("network", &self.network, MAX_NAME)?;
        if self.network.trim().is_empty() {
            return Err(Rejection::field("network", "must not be blank"));
        }
        if !(2..=MAX_MEMBERS).contains(&self.members.len()) {
            return Err(Rejection::field("members", format!("need 2 to {MAX_MEMBERS} members")));
        }
        for (i, member) in self.members.iter().enumerate() {
            check_name("members.name", &member.name)?;
            let earlier = &self.members[..i];
            if earlier.iter().any(|m| m.name == member.name) {
                return Err(Rejection::field("members.name", format!("{:?} twice", member.name)));
            }
            if earlier.iter().any(|m| m.key == member.key) {
                return Err(Rejection::field(
                    "members.key",
                    format!("{}'s key is another member's", member.name),
                ));
            }
            if !crate::crypto::usable_key(&member.key) {
                return Err(Rejection::field(
                    "members.key",
                    format!(
                        "{}'s key is not a usable Ed25519 key (not a point, not canonically encoded, or of small order)",
                        member.name
                    ),
                ));
            }
            if member.addresses.len() > MAX_ADDRESSES {
                return Err(Rejection::field("members.addresses", format!("more than {MAX_ADDRESSES}")));
            }
            for address in &member.addresses {
                check_line("members.addresses", address, MAX_SHORT)?;
            }
            if member.languages.len() > MAX_LANGS {
                return Err(Rejection::field("members.languages", format!("more than {MAX_LANGS}")));
            }
            for (k, lang) in member.languages.iter().enumerate() {
                check_lang("members.languages", lang)?;
                if member.languages[..k].iter().any(|l| l.eq_ignore_ascii_case(lang)) {
                    return Err(Rejection::field(
                        "members.languages",
                        format!("{}: {lang:?} twice", member.name),
                    ));
                }
            }
        }
        self.policy.check()
    }

    /// The canonical bytes of the roster (what the network id hashes).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes and checks a roster from its canonical bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Roster, Rejection> {
        let roster: Roster = codec::decode("roster", bytes, MAX_ROSTER)?;
        roster.check()?;
        Ok(roster)
    }

    /// The network id: `SHA-256("cbm-hotline/v1/roster" ‖ 0x00 ‖ roster bytes)`.
    pub fn network_id(&self) -> Hash32 {
        domain_hash(Context::Roster, &self.to_bytes())
    }

    /// The network id's spoken fingerprint (spec §3.3) in English, e.g. `"abandon ability able
    /// about above absent"`.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.network_id(), FingerprintLanguage::English)
    }

    /// The member with this key.
    pub fn member(&self, key: &NodeId) -> Option<&Member> {
        self.members.iter().find(|m| &m.key == key)
    }

    /// The member with this name.
    pub fn member_named(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The printable form of a notice id: `<sender-name>/<seq>`.
    pub fn notice_name(&self, id: &crate::NoticeId) -> String {
        match self.member(&id.sender) {
            Some(member) => format!("{}/{}", member.name, id.seq),
            None => id.to_string(),
        }
    }

    /// Parses `<sender-name>/<seq>`.
    pub fn parse_notice_name(&self, text: &str) -> Option<crate::NoticeId> {
        let (name, seq) = text.split_once('/')?;
        let sender = self.member_named(name)?.key;
        let seq = seq.parse().ok()?;
        Some(crate::NoticeId { sender, seq })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fingerprint's vector (spec §3.3), checked against the BIP-39 lists independently
    /// (Python over the lists' text: bits 0..66 of the id, 11 at a time).
    #[test]
    fn spoken_fingerprint() {
        let id =
            Hash32::from_hex("b6d052813987a50a5195b65f8a020be4e0e5439120ac4bb45914305cacac1452").unwrap();
        assert_eq!(fingerprint(&id, FingerprintLanguage::English), "replace little park indoor kid lunch");
        assert_eq!(fingerprint(&id, FingerprintLanguage::ChineseSimplified), "敬 折 黎 诗 奏 遇");
        assert_eq!(
            fingerprint(&Hash32([0; 32]), FingerprintLanguage::English),
            "abandon abandon abandon abandon abandon abandon"
        );
        assert_eq!(fingerprint(&Hash32([0xff; 32]), FingerprintLanguage::English), "zoo zoo zoo zoo zoo zoo");
    }
}
