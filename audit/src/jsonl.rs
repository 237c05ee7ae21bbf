//! The readable view of a log, `log.jsonl` in the audit bundle: JSON Lines, one header line and
//! one line per entry, each with the exact leaf bytes (hex) so that nothing is lost in
//! translation, and a readable decoding beside them. Written a line at a time as the bundle
//! writer verifies the entries: memory does not grow with the log.
//!
//! It is what an auditor reads, so `verify` checks it too ([`Checker`]): every line must be the
//! rendering of the verified entry it stands for, so that an edited text in it ("BR-221" made
//! "BR-999") is found like an edited byte in an entry bundle (spec §15.5).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Result;
use hotline_proto::{hex, Message, NodeId, Record, Roster, VerifiedEntry};
use serde_json::{json, Value};

use crate::{files, Invalid};

/// The longest line read from `log.jsonl`: a leaf of 65 535 bytes in hex, its decoding (texts
/// escaped at worst six bytes a byte) and a link test's two frames fit well within it.
const MAX_LINE: u64 = 2 << 20;

/// The export format's name and version.
pub const FORMAT: &str = "cbm-hotline-log-export/1";

/// The header line of `node`'s log of `entries` entries.
pub fn header(roster: &Roster, node: NodeId, entries: u64) -> Value {
    let name = roster.member(&node).map(|m| m.name.clone()).unwrap_or_default();
    json!({
        "format": FORMAT,
        "network": roster.network,
        "network_id": roster.network_id().to_hex(),
        "node": node.to_hex(),
        "name": name,
        "entries": entries,
        "roster": hex::encode(&roster.to_bytes()),
    })
}

/// The line of one verified entry, `leaf` its exact bytes.
pub fn line(v: &VerifiedEntry, leaf: &[u8]) -> Value {
    let mut line = json!({
        "index": v.entry.index,
        "time_ms": v.entry.time_ms,
        "record": v.entry.record.name(),
        "leaf_hash": v.leaf_hash.to_hex(),
        "leaf": hex::encode(leaf),
    });
    match (&v.entry.record, &v.message) {
        (_, Some(opened)) => {
            line["message_hash"] = json!(opened.hash.to_hex());
            line["message"] = message(&opened.message);
        }
        (record, None) => line["detail"] = serde_json::to_value(record).unwrap_or(Value::Null),
    }
    if let Record::Equivocation { conflicts_with, .. } = &v.entry.record {
        line["conflicts_with"] = json!(conflicts_with.to_hex());
    }
    if let Record::LinkTest { peer, ours, theirs } = &v.entry.record {
        // The two heartbeats, decoded (the verifier checked their structure).
        let heartbeat = |frame: &[u8]| hotline_proto::wire::peek(frame).map_or(Value::Null, |m| message(&m));
        line["detail"] = json!({
            "peer": peer.to_hex(),
            "ours": heartbeat(ours),
            "theirs": heartbeat(theirs),
            "ours_frame": hex::encode(ours),
            "theirs_frame": hex::encode(theirs),
        });
    }
    line
}

fn message(m: &Message) -> Value {
    let (kind, value) = match m {
        Message::Notice(n) => ("notice", serde_json::to_value(n)),
        Message::Receipt(r) => ("receipt", serde_json::to_value(r)),
        Message::Ack(a) => ("ack", serde_json::to_value(a)),
        Message::Checkpoint(c) => ("checkpoint", serde_json::to_value(c)),
        Message::Cosignature(c) => ("cosignature", serde_json::to_value(c)),
        Message::Heartbeat(h) => ("heartbeat", serde_json::to_value(h)),
    };
    json!({ "kind": kind, "value": value.unwrap_or(Value::Null) })
}

/// Checks `log.jsonl` against the verified entries as they stream by: the header first, then one
/// line per entry, then nothing. Lines are compared as JSON values (key order and spacing are
/// not part of the rendering), and a difference is named by its path in the line.
pub struct Checker {
    reader: BufReader<File>,
    path: PathBuf,
    line: u64,
}

impl Checker {
    /// Opens `dir/log.jsonl` and checks its header against the roster, node and size.
    pub fn open(dir: &Path, roster: &Roster, node: NodeId, size: u64) -> Result<Checker> {
        let path = dir.join("log.jsonl");
        let reader = files::reader(&path, "readable log")?;
        let mut checker = Checker { reader, path, line: 0 };
        checker.compare(&header(roster, node, size), "its header")?;
        Ok(checker)
    }

    /// Checks the next line against entry `v` (of bytes `leaf`).
    pub fn entry(&mut self, v: &VerifiedEntry, leaf: &[u8]) -> Result<()> {
        self.compare(&line(v, leaf), &format!("entry {}", v.entry.index))
    }

    /// Checks that nothing follows the last entry's line.
    pub fn finish(mut self) -> Result<()> {
        if files::read_line(&mut self.reader, MAX_LINE, "log.jsonl")?.is_some() {
            return Err(self.bad("a line after the last entry's"));
        }
        Ok(())
    }

    fn compare(&mut self, want: &Value, what: &str) -> Result<()> {
        self.line += 1;
        let Some(bytes) = files::read_line(&mut self.reader, MAX_LINE, "log.jsonl")? else {
            return Err(self.bad(&format!("it ends before {what}")));
        };
        let got: Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.bad(&format!("not JSON where {what} belongs: {e}")))?;
        match difference(want, &got, String::new()) {
            None => Ok(()),
            Some(at) => Err(self.bad(&format!(
                "it does not render {what}: `{at}` differs from the signed entry (the readable log was edited)"
            ))),
        }
    }

    fn bad(&self, what: &str) -> anyhow::Error {
        Invalid(format!("{} line {}: {what}", self.path.display(), self.line)).into()
    }
}

/// The first path at which `got` differs from `want`, if any.
fn difference(want: &Value, got: &Value, at: String) -> Option<String> {
    let join = |key: &str| if at.is_empty() { key.to_string() } else { format!("{at}.{key}") };
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, value) in w {
                match g.get(key) {
                    Some(other) => {
                        if let Some(path) = difference(value, other, join(key)) {
                            return Some(path);
                        }
                    }
                    None => return Some(join(key)),
                }
            }
            g.keys().find(|key| !w.contains_key(*key)).map(|key| join(key))
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            w.iter().zip(g).enumerate().find_map(|(i, (a, b))| difference(a, b, format!("{at}[{i}]")))
        }
        _ if want == got => None,
        _ => Some(if at.is_empty() { "the line".into() } else { at }),
    }
}
