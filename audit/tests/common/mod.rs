//! Bundles shared by the audit tests and the cross-audit vectors.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hotline_sim::fixtures::{roster, sim_policy, test_key};

/// Alpha sends notice alpha/1 to bravo and to charlie in two different versions, each validly
/// signed; bravo's and charlie's bundles (written under `dir`) each hold one. Alpha's bundle is
/// not given: the recipients' logs alone prove the equivocation (spec §15.6).
pub fn equivocating_recipients(dir: &Path) -> Vec<PathBuf> {
    use hotline_proto::{Addressee, Body, Kind, Notice, Precedence, Role};
    let r = roster(3, sim_policy());
    let t0 = 1_790_000_000_000;
    let (alpha, bravo, charlie) = (test_key("alpha"), test_key("bravo"), test_key("charlie"));
    let (a, b, c) = [&alpha, &bravo, &charlie].map(hotline_proto::crypto::node_id).into();
    let version = |text: &str, to: hotline_proto::NodeId| {
        let notice = Notice {
            network: r.network_id(),
            sender: a,
            seq: 1,
            created_ms: t0 + 10,
            precedence: Precedence::Routine,
            to: vec![Addressee { node: to, role: Role::Action, link_seq: 1 }],
            thread: None,
            in_reply_to: None,
            body: Body::Incident(hotline_proto::Incident {
                summary: hotline_proto::testing::fixtures::en_zh(text, "测试"),
                occurred_ms: t0,
                ..hotline_proto::testing::fixtures::s1_incident()
            }),
        };
        hotline_proto::wire::seal(&alpha, Kind::Notice, &notice).0
    };
    let mut bundles = Vec::new();
    for (key, me, text) in [(&bravo, b, "The ship is civilian."), (&charlie, c, "The ship is military.")] {
        let mut node = hotline_proto::Node::new(key.clone(), r.clone(), t0).unwrap();
        node.handle_frame(t0 + 20, a, &version(text, me)).expect("each recipient accepts its version");
        let mut leaves = Vec::new();
        while let Some(batch) = node.poll_persist() {
            leaves.extend(batch.leaves);
        }
        let name = r.member(&me).unwrap().name.clone();
        let path = dir.join(&name);
        hotline_audit::bundle::write(&path, &r, me, &leaves).unwrap();
        bundles.push(path);
    }
    bundles
}
