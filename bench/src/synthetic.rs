//! Large logs made quickly, for benchmarks and measurements: a real [`hotline_proto::Node`] sends
//! link tests to a peer and signs a checkpoint every thousand entries, so every entry is a genuine,
//! fully signed log entry (two signatures each: the entry's and the notice's).

use ed25519_dalek::SigningKey;
use hotline_proto::{Body, Draft, Node, NodeId, Precedence, Role, Roster};

/// The first `n` entries of `key`'s log in `roster`, link tests to `peer`, starting at `t0` (ms).
pub fn log(
    key: &SigningKey,
    roster: &Roster,
    peer: NodeId,
    n: usize,
    t0: u64,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut node = Node::new(key.clone(), roster.clone(), t0).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut leaves = Vec::with_capacity(n);
    let mut t = t0;
    while leaves.len() < n {
        t += 1;
        if leaves.len() % 1000 == 999 {
            node.checkpoint(t);
        } else {
            let draft = Draft {
                precedence: Precedence::Routine,
                to: vec![(peer, Role::Action)],
                thread: None,
                in_reply_to: None,
                body: Body::LinkTest,
            };
            node.send_notice(t, draft)?;
        }
        while let Some(batch) = node.poll_persist() {
            leaves.extend(batch.leaves);
        }
        node.persisted(leaves.len() as u64);
        while node.poll_transmit().is_some() {}
        while node.poll_event().is_some() {}
    }
    leaves.truncate(n);
    Ok(leaves)
}
