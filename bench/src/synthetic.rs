//! Large logs made quickly, for benchmarks and measurements: a real [`hotline_proto::Node`] sends
//! an incident report to a peer and then ROUTINE replies in its thread, and signs a checkpoint
//! every thousand entries, so every entry is a genuine, fully signed log entry (two signatures
//! each: the entry's and the notice's).

use ed25519_dalek::SigningKey;
use hotline_proto::{
    Body, Completeness, Domain, Draft, FailureMode, HumanControl, HumanRole, Incident, LangText, Node,
    NodeId, Precedence, Role, Roster, Severity, SystemClass, Texts,
};

pub(crate) fn text(s: &str) -> Texts {
    vec![LangText { lang: "en".into(), text: s.into() }]
}

/// A short initial report, valid under the default policy (English required).
pub(crate) fn incident(t: u64) -> Incident {
    Incident {
        completeness: Completeness::Initial,
        domain: Domain::Maritime,
        system_class: SystemClass::DecisionSupport,
        failure_modes: vec![FailureMode::Misidentification],
        severity: Severity::Low,
        occurred_ms: t,
        location: None,
        summary: text("Synthetic history: a decision-support track was misclassified and corrected."),
        suspected_cause: text("Unknown."),
        human_control: HumanControl {
            role: HumanRole::InTheLoop,
            final_decision_by: "watch officer".into(),
            statement: text("A human held the final decision."),
        },
        actions_taken: text("None needed."),
        requested_response: text("None."),
        contact: "synthetic".into(),
        attachments: vec![],
    }
}

/// The first `n` entries of `key`'s log in `roster`, notices to `peer`, starting at `t0` (ms).
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
    let mut thread = None;
    while leaves.len() < n {
        t += 1;
        if leaves.len() % 1000 == 999 {
            node.checkpoint(t);
        } else {
            let draft = Draft {
                precedence: Precedence::Routine,
                to: vec![(peer, Role::Action)],
                thread,
                in_reply_to: thread,
                body: match thread {
                    None => Body::Incident(incident(t)),
                    Some(_) => Body::Reply(text("Synthetic reply.")),
                },
            };
            let id = node.send_notice(t, draft)?;
            thread.get_or_insert(id);
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
