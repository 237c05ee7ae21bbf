//! The auditor's reconciliation of several parties' bundles (spec §15.6). It needs public keys
//! only. Each bundle is read once: its facts are gathered from the entries as they are verified
//! ([`crate::bundle::verify_with`]), so no verdict rests on bytes read a second time (a cross-audit
//! compares logs with each other, so it holds their facts; verification alone streams).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use hotline_proto::merkle::MerkleTree;
use hotline_proto::DeadlineMissed;
use hotline_proto::SignedCheckpoint;
use hotline_proto::VerifiedEntry;
use hotline_proto::{DeadlineKind, Hash32, Message, NodeId, Record, Roster};
use serde::Serialize;

use crate::bundle::{self, Manifest};

/// One party's verified log, indexed for comparison.
pub struct Party {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Frames it logged as sent, received and receipted: message hash → (entry index, frame).
    pub(crate) sent: BTreeMap<Hash32, (u64, Vec<u8>, Message)>,
    pub(crate) accepted: BTreeMap<Hash32, (u64, u64, Vec<u8>, Message)>,
    pub(crate) receipted: BTreeMap<Hash32, (u64, Vec<u8>)>,
    pub(crate) cosigned: Vec<(u64, NodeId, SignedCheckpoint, u64)>,
    pub(crate) cosignatures: Vec<(u64, NodeId, u64, Hash32, u64)>,
    pub(crate) checkpoints: Vec<(u64, SignedCheckpoint)>,
    pub(crate) conflicts: Vec<(u64, NodeId, SignedCheckpoint, SignedCheckpoint)>,
    pub(crate) misses: Vec<(u64, u64, hotline_proto::NoticeId, NodeId, DeadlineKind, u64)>,
    pub(crate) tree: MerkleTree,
    /// Other bundles of the same log given with this one: `(path, size, root, first
    /// difference)`; none when this (longer or equal) log extends it, else the first entry at
    /// which the two differ: a fork.
    pub(crate) others: Vec<(PathBuf, u64, Hash32, Option<u64>)>,
    /// The first entry signed at a time after the audit (beyond the roster's clock-skew
    /// tolerance), and that time: no later bundle can ever settle what such an entry claims.
    pub(crate) future: Option<(u64, u64)>,
    /// Time of the bundle's last entry (0 if empty): what a party signed at or after this time
    /// may be beyond the end of this bundle.
    pub(crate) end_ms: u64,
    /// Time of its first entry, if any.
    pub(crate) start_ms: Option<u64>,
    /// The peers' clocks this log recorded as skewed: (entry, time, peer, offset in ms, peer
    /// minus this node).
    pub(crate) skews: Vec<(u64, u64, NodeId, i64)>,
}

/// A discrepancy between logs, with the entries that prove it.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// A stable name for the kind of finding.
    pub kind: &'static str,
    /// Whether it proves a party's log is wrong (as opposed to merely incomplete).
    pub violation: bool,
    /// What, in words.
    pub detail: String,
    /// The evidence: (party, entry index).
    pub evidence: Vec<(String, u64)>,
}

/// Verifies and loads bundles; all must be of one network. Two bundles of one party's log (exported
/// at different moments) are compared: the longer is audited, and the shorter must be a prefix
/// of it, else the party signed two versions of its log (spec §15.6, reported by [`cross`]).
pub fn load(dirs: &[PathBuf], threads: usize) -> Result<(Roster, Vec<Party>)> {
    load_at(dirs, threads, crate::wall_now_ms())
}

/// [`load`], as of `now_ms` on the auditor's clock instead of the system's (a simulation audits
/// logs of its own simulated time): entries signed after it, beyond the roster's clock-skew
/// tolerance, are `signed_in_the_future`.
pub fn load_at(dirs: &[PathBuf], threads: usize, now_ms: u64) -> Result<(Roster, Vec<Party>)> {
    let mut parties: Vec<Party> = Vec::new();
    let mut roster: Option<Roster> = None;
    for dir in dirs {
        let mut gathered: Option<Party> = None;
        let verified = bundle::verify_with(
            dir,
            threads,
            |_, _| {},
            |manifest, roster, v| {
                gathered.get_or_insert_with(|| Party::new(dir, manifest.clone())).record(roster, v, now_ms);
                Ok(())
            },
        )?;
        let party = gathered.unwrap_or_else(|| Party::new(dir, verified.manifest.clone()));
        let r = verified.roster;
        if let Some(first) = &roster {
            if first.network_id() != r.network_id() {
                bail!(
                    "{} is a bundle of network {:?} ({}), the first of network {:?} ({}): a cross-audit compares the logs of one network",
                    dir.display(),
                    r.network,
                    r.network_id(),
                    first.network,
                    first.network_id()
                );
            }
        }
        roster.get_or_insert(r);
        match parties.iter().position(|p| p.manifest.node == party.manifest.node) {
            None => parties.push(party),
            Some(k) => {
                let (mut long, short) = if party.manifest.size > parties[k].manifest.size {
                    (party, parties.swap_remove(k))
                } else {
                    (parties.swap_remove(k), party)
                };
                let differs = (0..short.manifest.size).find(|&i| long.tree.leaf(i) != short.tree.leaf(i));
                long.others.push((short.path, short.manifest.size, short.manifest.root, differs));
                long.others.extend(short.others);
                parties.push(long);
            }
        }
    }
    roster.map(|r| (r, parties)).ok_or_else(|| anyhow::anyhow!("no bundle given"))
}

impl Party {
    fn new(dir: &Path, manifest: Manifest) -> Party {
        Party {
            path: dir.to_path_buf(),
            manifest,
            sent: BTreeMap::new(),
            accepted: BTreeMap::new(),
            receipted: BTreeMap::new(),
            cosigned: Vec::new(),
            cosignatures: Vec::new(),
            checkpoints: Vec::new(),
            conflicts: Vec::new(),
            misses: Vec::new(),
            tree: MerkleTree::new(),
            others: Vec::new(),
            future: None,
            end_ms: 0,
            start_ms: None,
            skews: Vec::new(),
        }
    }

    /// Gathers the facts of the next verified entry.
    fn record(&mut self, roster: &Roster, v: &VerifiedEntry, now_ms: u64) {
        // Entries are signed on the signer's clock, which may run ahead of the auditor's by the
        // roster's tolerance; beyond it, the time is a claim about a future nobody has seen.
        let latest_ms = now_ms.saturating_add(roster.policy.max_clock_skew_ms);
        let p = self;
        let (i, t) = (v.entry.index, v.entry.time_ms);
        p.tree.push(v.leaf_hash);
        p.end_ms = t;
        p.start_ms.get_or_insert(t);
        if p.future.is_none() && t > latest_ms {
            p.future = Some((i, t));
        }
        match (&v.entry.record, &v.message) {
            (Record::Sent { frame }, Some(o)) => {
                p.sent.insert(o.hash, (i, frame.clone(), o.message.clone()));
            }
            (Record::Accepted { frame }, Some(o)) => {
                p.accepted.insert(o.hash, (i, t, frame.clone(), o.message.clone()));
            }
            (Record::Receipted { frame }, Some(o)) => {
                p.receipted.insert(o.hash, (i, frame.clone()));
            }
            (Record::Checkpoint { checkpoint }, _) => p.checkpoints.push((i, *checkpoint)),
            (Record::Cosigned { log, checkpoint, timestamp_s, .. }, _) => {
                p.cosigned.push((i, *log, *checkpoint, *timestamp_s))
            }
            (Record::Cosignature { by, size, root, timestamp_s, .. }, _) => {
                p.cosignatures.push((i, *by, *size, *root, *timestamp_s))
            }
            (Record::LogConflict { log, cosigned, presented, .. }, _) => {
                p.conflicts.push((i, *log, *cosigned, *presented))
            }
            (Record::DeadlineMissed(DeadlineMissed { notice, party, deadline, deadline_ms }), _) => {
                p.misses.push((i, t, *notice, *party, *deadline, *deadline_ms))
            }
            (Record::ClockSkew(hotline_proto::ClockSkew { peer, offset_ms }), _) => {
                p.skews.push((i, t, *peer, *offset_ms))
            }
            _ => {}
        }
    }
}

/// When `m`'s signer logged it: the time the message carries, which is the time of the signer's
/// log entry that records it (spec §15.6). Checkpoints carry none.
fn signed_at_ms(m: &Message) -> Option<u64> {
    match m {
        Message::Notice(n) => Some(n.created_ms),
        Message::Receipt(r) => Some(r.received_ms),
        Message::Ack(a) => Some(a.acked_ms),
        Message::Cosignature(c) => Some(c.timestamp_s.saturating_mul(1000)),
        Message::Heartbeat(h) => Some(h.time_ms),
        Message::Checkpoint(_) => None,
    }
}

/// Whether something `b` logged at `at_ms` (whole seconds for cosignatures, hence the slack) may
/// lie beyond the end of `b`'s bundle: then its absence proves nothing, as the bundle may simply
/// be older than the evidence.
fn beyond(b: &Party, at_ms: u64, slack_ms: u64) -> bool {
    at_ms.saturating_add(slack_ms) >= b.end_ms
}

/// The note for evidence that postdates `b`'s bundle.
fn stale(b: &Party, what: String) -> String {
    format!(
        "{what}, after the last entry of {}'s bundle ({} entries): it may be older than the evidence; audit a later bundle of {}",
        b.manifest.name, b.manifest.size, b.manifest.name
    )
}

/// Reconciles the parties' logs with each other (spec §15.6).
pub fn cross(roster: &Roster, parties: &[Party]) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = |id: &NodeId| roster.member(id).map_or_else(|| id.short(), |m| m.name.clone());
    let present: BTreeMap<NodeId, &Party> = parties.iter().map(|p| (p.manifest.node, p)).collect();
    let mut finding = |kind, violation, detail: String, evidence: Vec<(String, u64)>| {
        out.push(Finding { kind, violation, detail, evidence });
    };
    for a in parties {
        let an = &a.manifest.name;
        if let Some((i, t)) = a.future {
            finding(
                "signed_in_the_future",
                true,
                format!(
                    "{an}'s log holds entries signed after the time of this audit (entry {i} at {t} ms): what they claim can never be settled by a later bundle"
                ),
                vec![(an.clone(), i)],
            );
        }
        for (path, size, root, differs) in &a.others {
            let Some(first) = differs else {
                finding(
                    "earlier_bundle",
                    false,
                    format!(
                        "{} is an earlier bundle of {an}'s log ({size} entries), a prefix of {} ({} entries); the longer is audited",
                        path.display(),
                        a.path.display(),
                        a.manifest.size
                    ),
                    vec![],
                );
                continue;
            };
            finding(
                "forked_log",
                true,
                format!(
                    "{an} signed two versions of its log: entry {first} differs between {} ({size} entries, root {root}) and {}",
                    path.display(),
                    a.path.display()
                ),
                vec![(an.clone(), *first)],
            );
        }
        // Notices and acks a logged as sent, in each present addressee's log with the same bytes.
        for (hash, (i, frame, m)) in &a.sent {
            let targets: Vec<NodeId> = match m {
                Message::Notice(n) => n.to.iter().map(|x| x.node).collect(),
                Message::Ack(ack) => vec![ack.notice.sender],
                _ => vec![],
            };
            for t in targets {
                let Some(b) = present.get(&t) else { continue };
                match b.accepted.get(hash) {
                    Some((_, _, bytes, _)) if bytes == frame => {}
                    Some((j, ..)) => finding(
                        "different_bytes",
                        true,
                        format!("{an} and {} logged different bytes for one message", b.manifest.name),
                        vec![(an.clone(), *i), (b.manifest.name.clone(), *j)],
                    ),
                    None => {
                        let receipt = a.accepted.values().find(|(_, _, _, r)| {
                            matches!(r, Message::Receipt(r) if r.of.hash == *hash && r.signer == t)
                        });
                        match receipt {
                            Some((j, _, _, r)) if signed_at_ms(r).is_some_and(|t| beyond(b, t, 0)) => {
                                finding(
                                    "stale_bundle",
                                    false,
                                    stale(b, format!("{} receipted a message from {an}", b.manifest.name)),
                                    vec![(an.clone(), *i), (an.clone(), *j)],
                                )
                            }
                            Some((j, ..)) => finding(
                                "receipted_but_not_logged",
                                true,
                                format!(
                                    "{} receipted a message from {an} that its log does not hold",
                                    b.manifest.name
                                ),
                                vec![(an.clone(), *i), (an.clone(), *j)],
                            ),
                            None => finding(
                                "undelivered",
                                false,
                                format!("a message {an} sent never reached {}'s log", b.manifest.name),
                                vec![(an.clone(), *i)],
                            ),
                        }
                    }
                }
            }
        }
        for (hash, (i, _, frame, m)) in &a.accepted {
            let signer = m.signer();
            let Some(b) = present.get(&signer) else { continue };
            let bn = &b.manifest.name;
            let (kind, logged) = match m {
                Message::Receipt(_) => {
                    ("receipt_not_logged_by_signer", b.receipted.get(hash).map(|(j, f)| (*j, f)))
                }
                _ => ("message_not_logged_by_signer", b.sent.get(hash).map(|(j, f, _)| (*j, f))),
            };
            match logged {
                Some((_, bytes)) if bytes == frame => {}
                Some((j, _)) => finding(
                    "different_bytes",
                    true,
                    format!("{an} and {bn} logged different bytes for one message"),
                    vec![(an.clone(), *i), (bn.clone(), j)],
                ),
                None if signed_at_ms(m).is_some_and(|t| beyond(b, t, 0)) => finding(
                    "stale_bundle",
                    false,
                    stale(b, format!("{an} holds a message {bn} signed")),
                    vec![(an.clone(), *i)],
                ),
                None => finding(
                    kind,
                    true,
                    format!("{an} holds a message signed by {bn} that {bn}'s log does not record"),
                    vec![(an.clone(), *i)],
                ),
            }
        }
        // What a co-signed of others: their trees must agree, or they rewrote their logs.
        for (i, log, c, _) in &a.cosigned {
            let Some(b) = present.get(log) else { continue };
            let bn = &b.manifest.name;
            match b.tree.root_at(c.size) {
                Some(root) if root == c.root => {}
                Some(_) => finding(
                    "rewritten_log",
                    true,
                    format!("{an} co-signed {bn}'s checkpoint of size {}, signed by {bn}; {bn}'s log now has another root at that size: rewritten", c.size),
                    vec![(an.clone(), *i)],
                ),
                // The bundle predates the checkpoint: stale, or cut short by its owner; only a
                // later bundle can tell (a rewrite of what it does hold is caught above).
                None => finding(
                    "stale_bundle",
                    false,
                    format!("{an} co-signed {bn}'s checkpoint of size {}, but {bn}'s bundle holds only {} entries: it is older than that checkpoint, or cut short; audit a later bundle of {bn}", c.size, b.manifest.size),
                    vec![(an.clone(), *i)],
                ),
            }
        }
        for (i, by, size, root, ts) in &a.cosignatures {
            let Some(b) = present.get(by) else { continue };
            let logged = b.cosigned.iter().any(|(_, log, c, t)| {
                *log == a.manifest.node && c.size == *size && c.root == *root && t == ts
            });
            if !logged && beyond(b, ts.saturating_mul(1000), 999) {
                finding(
                    "stale_bundle",
                    false,
                    stale(b, format!("{an} holds {}'s cosignature of size {size}", b.manifest.name)),
                    vec![(an.clone(), *i)],
                );
            } else if !logged {
                finding(
                    "cosignature_not_logged",
                    true,
                    format!(
                        "{an} holds {}'s cosignature of size {size} that {}'s log does not record",
                        b.manifest.name, b.manifest.name
                    ),
                    vec![(an.clone(), *i)],
                );
            }
        }
        for (i, log, cosigned, presented) in &a.conflicts {
            finding(
                "log_conflict_recorded",
                true,
                format!(
                    "{an} recorded that {} presented a checkpoint (size {}) contradicting one it co-signed (size {})",
                    name(log),
                    presented.size,
                    cosigned.size
                ),
                vec![(an.clone(), *i)],
            );
        }
    }
    // Equivocation: one log, one size, two roots, each signed by the log's node.
    let mut seen: BTreeMap<(NodeId, u64), (Hash32, String, u64)> = BTreeMap::new();
    let mut split = Vec::new();
    for p in parties {
        let pn = &p.manifest.name;
        let own = p.checkpoints.iter().map(|(i, c)| (p.manifest.node, *c, *i));
        let others = p.cosigned.iter().map(|(i, log, c, _)| (*log, *c, *i));
        let conflicts = p.conflicts.iter().flat_map(|(i, log, a, b)| [(*log, *a, *i), (*log, *b, *i)]);
        for (log, c, i) in own.chain(others).chain(conflicts) {
            match seen.get(&(log, c.size)) {
                Some((root, q, j)) if *root != c.root => {
                    split.push((log, c.size, (q.clone(), *j), (pn.clone(), i)))
                }
                Some(_) => {}
                None => {
                    seen.insert((log, c.size), (c.root, pn.clone(), i));
                }
            }
        }
    }
    for (log, size, first, second) in split {
        out.push(Finding {
            kind: "equivocation",
            violation: true,
            detail: format!("{} signed two checkpoints of size {size} with different roots", name(&log)),
            evidence: vec![first, second],
        });
    }
    // Equivocation across recipients: one notice id, two validly signed notices, each accepted
    // by another party (or logged as sent by the sender and accepted in another version). The
    // sender's bundle need not be present: the two signatures are the proof (spec §15.6).
    let mut versions: BTreeMap<hotline_proto::NoticeId, (Hash32, String, u64)> = BTreeMap::new();
    let mut twice = Vec::new();
    for p in parties {
        let pn = &p.manifest.name;
        let sent = p.sent.iter().map(|(h, (i, _, m))| (*h, *i, m));
        let accepted = p.accepted.iter().map(|(h, (i, _, _, m))| (*h, *i, m));
        for (hash, i, m) in sent.chain(accepted) {
            let Message::Notice(n) = m else { continue };
            match versions.get(&n.id()) {
                Some((other, q, j)) if *other != hash => {
                    twice.push((n.id(), (q.clone(), *j), (pn.clone(), i)))
                }
                Some(_) => {}
                None => {
                    versions.insert(n.id(), (hash, pn.clone(), i));
                }
            }
        }
    }
    for (id, first, second) in twice {
        out.push(Finding {
            kind: "equivocation",
            violation: true,
            detail: format!(
                "{} signed two different notices {} (one logged by {}, the other by {})",
                name(&id.sender),
                roster.notice_name(&id),
                first.0,
                second.0
            ),
            evidence: vec![first, second],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_sim::fixtures::{idle_logs, roster, sim_policy, test_key};

    /// Issue 11, item 27: a cross-audit (and so the report, which is built from it) reads each
    /// bundle file once, and concludes from the bytes it verified: a file that serves genuine
    /// bytes to the verifier and forged ones to a second read has no second read to fool.
    #[test]
    fn a_cross_audit_reads_every_bundle_file_once() {
        let roster = roster(2, sim_policy());
        let logs = idle_logs(1_000_000, &roster, 40);
        let dir = tempfile::tempdir().unwrap();
        let mut bundles = Vec::new();
        for (i, name) in ["alpha", "bravo"].iter().enumerate() {
            let path = dir.path().join(name);
            let id = hotline_proto::crypto::node_id(&test_key(name));
            bundle::write(&path, &roster, id, &logs[i]).unwrap();
            bundles.push(path);
        }
        crate::files::opened::take();
        let (_, parties) = load_at(&bundles, 1, 2_000_000).unwrap();
        assert_eq!(parties.len(), 2);
        assert!(
            parties.iter().all(|p| !p.cosigned.is_empty() && !p.checkpoints.is_empty()),
            "facts gathered"
        );
        let opened = crate::files::opened::take();
        let entry_bundles = opened.keys().filter(|p| p.to_string_lossy().contains("tile/entries")).count();
        assert!(entry_bundles >= 2, "{opened:?}");
        let twice: Vec<_> = opened.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "read more than once: {twice:?}");
    }
}
