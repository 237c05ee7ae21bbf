//! The readable view of a log, `log.jsonl` in the audit bundle: JSON Lines, one header line and
//! one line per entry, each with the exact leaf bytes (hex) so that nothing is lost in
//! translation, and a readable decoding beside them. Written a line at a time as the bundle
//! writer verifies the entries: memory does not grow with the log.

use hotline_proto::{hex, Message, NodeId, Record, Roster, VerifiedEntry};
use serde_json::{json, Value};

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
