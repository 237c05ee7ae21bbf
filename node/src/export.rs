//! The log export (`hotline log export`): JSON Lines, one header line and one line per entry,
//! each with the exact leaf bytes (hex) so that nothing is lost in translation, and a readable
//! decoding beside them. The audit bundle of a later version builds on the same leaves.

use anyhow::{anyhow, Result};
use hotline_proto::log::{Check, LogVerifier};
use hotline_proto::{hex, Message, NodeId, Record, Roster};
use serde_json::{json, Value};

/// The export format's name and version.
pub const FORMAT: &str = "cbm-hotline-log-export/1";

/// The lines of an export of `node`'s log. Every entry is verified (signatures included) first.
pub fn lines(roster: &Roster, node: NodeId, leaves: &[Vec<u8>]) -> Result<Vec<String>> {
    let mut verifier = LogVerifier::new(roster.clone(), node, Check::Full);
    let name = roster.member(&node).map(|m| m.name.clone()).unwrap_or_default();
    let header = json!({
        "format": FORMAT,
        "network": roster.network,
        "network_id": roster.network_id().to_hex(),
        "node": node.to_hex(),
        "name": name,
        "entries": leaves.len(),
        "roster": hex::encode(&roster.to_bytes()),
    });
    let mut out = vec![header.to_string()];
    for leaf in leaves {
        let v = verifier.push(leaf).map_err(|e| anyhow!("the log does not verify: {e}"))?;
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
        out.push(line.to_string());
    }
    Ok(out)
}

fn message(m: &Message) -> Value {
    let (kind, value) = match m {
        Message::Notice(n) => ("notice", serde_json::to_value(n)),
        Message::Receipt(r) => ("receipt", serde_json::to_value(r)),
        Message::Ack(a) => ("ack", serde_json::to_value(a)),
        Message::Checkpoint(c) => ("checkpoint", serde_json::to_value(c)),
        Message::Cosignature(c) => ("cosignature", serde_json::to_value(c)),
    };
    json!({ "kind": kind, "value": value.unwrap_or(Value::Null) })
}
