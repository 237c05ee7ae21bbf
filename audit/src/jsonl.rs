//! The readable view of a log, `log.jsonl` in the audit bundle: JSON Lines, one header line and
//! one line per entry, each with the exact leaf bytes (hex) so that nothing is lost in
//! translation, and a readable decoding beside them. Written as a stream: memory does not grow
//! with the log.

use anyhow::{anyhow, Result};
use hotline_proto::{hex, Message, NodeId, Record, Roster};
use hotline_proto::{Check, LogVerifier};
use serde_json::{json, Value};

/// The export format's name and version.
pub const FORMAT: &str = "cbm-hotline-log-export/1";

/// Writes the lines of `node`'s log to `out`. The structure is checked as it goes
/// ([`Check::Chain`]); signatures are the bundle writer's and the auditor's business.
pub fn write_lines(
    roster: &Roster,
    node: NodeId,
    leaves: &[Vec<u8>],
    out: &mut impl std::io::Write,
) -> Result<()> {
    let mut verifier = LogVerifier::new(roster.clone(), node, Check::Chain);
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
    writeln!(out, "{header}")?;
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
        if let Record::LinkTest { peer, ours, theirs } = &v.entry.record {
            // The two heartbeats, decoded (the verifier checked their structure).
            let heartbeat =
                |frame: &[u8]| hotline_proto::wire::peek(frame).map_or(Value::Null, |m| message(&m));
            line["detail"] = json!({
                "peer": peer.to_hex(),
                "ours": heartbeat(ours),
                "theirs": heartbeat(theirs),
                "ours_frame": hex::encode(ours),
                "theirs_frame": hex::encode(theirs),
            });
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
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
