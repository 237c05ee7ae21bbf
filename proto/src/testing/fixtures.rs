//! Deterministic keys, rosters, policies and incident bodies for tests, vectors and the simulator.

use crate::crypto::sha256;
use crate::incident::{
    Completeness, Domain, FailureMode, HumanControl, HumanRole, Incident, Severity, SystemClass,
};
use crate::roster::{CodebookEntry, Deadlines, Member, Policy, Roster, ROSTER_FORMAT};
use crate::{LangText, NodeId, Texts};
use ed25519_dalek::SigningKey;

/// Party names, in order: the first N are the members of an N-node test network.
pub const NAMES: [&str; 8] = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];

/// The name of the `i`-th test party: [`NAMES`] first, then `m9`, `m10`, … up to the largest
/// roster ([`crate::limits::MAX_MEMBERS`]) and beyond.
pub fn party(i: usize) -> &'static str {
    static MORE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    if let Some(name) = NAMES.get(i) {
        return name;
    }
    let more = MORE
        .get_or_init(|| (NAMES.len()..crate::limits::MAX_MEMBERS).map(|i| format!("m{}", i + 1)).collect());
    more.get(i - NAMES.len()).map_or("m-beyond-the-largest-roster", String::as_str)
}

/// The fixed test key of a named party: `SHA-256("hotline test key " ‖ name)` as the secret seed.
/// Never use such keys outside tests.
pub fn test_key(name: &str) -> SigningKey {
    SigningKey::from_bytes(&sha256(format!("hotline test key {name}").as_bytes()).0)
}

/// The node id (public key) of a named party's test key.
pub fn id(name: &str) -> NodeId {
    crate::crypto::node_id(&test_key(name))
}

/// A text in English only.
pub fn en(text: &str) -> Texts {
    vec![LangText { lang: "en".into(), text: text.into() }]
}

/// English and Chinese versions of a text (the languages of the source dialogue).
pub fn en_zh(en: &str, zh: &str) -> Texts {
    vec![LangText { lang: "en".into(), text: en.into() }, LangText { lang: "zh".into(), text: zh.into() }]
}

/// A policy scaled down for simulation: same shape as the default, deadlines in seconds and
/// minutes so that a simulated run covers many deadlines quickly.
pub fn sim_policy() -> Policy {
    Policy {
        flash: Deadlines { receipt_ms: 3_000, ack_ms: 60_000 },
        immediate: Deadlines { receipt_ms: 5_000, ack_ms: 90_000 },
        priority: Deadlines { receipt_ms: 10_000, ack_ms: 120_000 },
        routine: Deadlines { receipt_ms: 20_000, ack_ms: 180_000 },
        heartbeat_interval_ms: 10_000,
        link_silence_ms: 75_000,
        link_test_interval_ms: 30_000,
        checkpoint_interval_ms: 30_000,
        max_clock_skew_ms: 2_000,
        retransmit_initial_ms: 500,
        retransmit_max_ms: 8_000,
        required_languages: vec!["en".into(), "zh".into()],
        codebook: codebook(),
    }
}

/// The test codebook (scenario S7).
pub fn codebook() -> Vec<CodebookEntry> {
    vec![
        CodebookEntry {
            number: 7,
            word: "LANTERN".into(),
            meaning: en_zh(
                "Media attributed to your officials is fabricated; we ask you to deny it publicly.",
                "归于贵方官员的媒体内容系伪造；请贵方公开否认。",
            ),
        },
        CodebookEntry {
            number: 12,
            word: "HARBOUR".into(),
            meaning: en_zh(
                "AI system withdrawn from service pending review.",
                "人工智能系统已停用，等待审查。",
            ),
        },
    ]
}

/// A roster of the first `n` test parties ([`party`]) with loopback addresses and the given
/// policy.
pub fn roster(n: usize, policy: Policy) -> Roster {
    let members = (0..n)
        .map(party)
        .enumerate()
        .map(|(i, name)| Member {
            name: name.into(),
            key: id(name),
            addresses: vec![format!("127.0.0.1:{}", 47000 + i)],
            languages: vec!["en".into(), "zh".into()],
        })
        .collect();
    Roster { format: ROSTER_FORMAT, network: "cbm-hotline-test".into(), members, policy }
}

/// Exactly the roster of `spec/vectors/v1.json`: alpha, bravo and charlie, the default policy
/// requiring English and Chinese.
pub fn vectors_roster() -> Roster {
    let policy = Policy { required_languages: vec!["en".into(), "zh".into()], ..Policy::default() };
    Roster { network: "cbm-hotline-vectors".into(), ..roster(3, policy) }
}

/// The S1 incident: a naval AI decision-support system misidentified a civilian fishing vessel.
/// The same content as `spec/examples/s1-misidentification.json`.
pub fn s1_incident() -> Incident {
    Incident {
        completeness: Completeness::Initial,
        domain: Domain::Maritime,
        system_class: SystemClass::DecisionSupport,
        failure_modes: vec![FailureMode::Misidentification, FailureMode::AutomationBias],
        severity: Severity::High,
        occurred_ms: 1_795_860_000_000,
        location: Some(crate::incident::Location {
            region: "East China Sea, grid QK-17".into(),
            lat_decideg: Some(291),
            lon_decideg: Some(1244),
        }),
        summary: en_zh(
            "Our naval AI decision-support system classified a civilian fishing vessel (flag: bravo) as a hostile fast attack craft. The operator withheld engagement after visual identification. No shots were fired.",
            "我方海军人工智能决策支持系统将一艘民用渔船（船旗国：bravo）误识别为敌方快速攻击艇。操作员经目视识别后未予交战。未发生射击。",
        ),
        suspected_cause: en_zh(
            "Training-data gap: few images of this vessel class in the training set.",
            "训练数据缺口：训练集中此类船只图像很少。",
        ),
        human_control: HumanControl {
            role: HumanRole::InTheLoop,
            final_decision_by: "commanding officer".into(),
            statement: en_zh(
                "A human held and used the final decision: engagement was withheld.",
                "人类保留并行使了最终决定权：未予交战。",
            ),
        },
        actions_taken: en_zh(
            "System set to advisory-only mode; track handed to visual watch.",
            "系统已设为仅提供建议模式；目标交由目视值更。",
        ),
        requested_response: en_zh("Confirm the vessel's identity.", "请确认该船只身份。"),
        contact: "alpha liaison desk, watch officer".into(),
        attachments: vec![],
    }
}

/// The S4 incident at a given stage: a loitering munition's target recognition behaved
/// unexpectedly; an adversarial patch is suspected; responsibility is unresolved.
pub fn s4_incident(stage: Completeness, step: u32) -> Incident {
    let (en, zh) = match stage {
        Completeness::Initial => (
            "Target recognition of a loitering munition behaved unexpectedly in the conflict zone. Report incomplete.".to_string(),
            "巡飞弹目标识别在冲突区域出现异常行为。报告尚不完整。".to_string(),
        ),
        Completeness::Update => (
            format!("Update {step}: an adversarial patch on a vehicle is suspected; responsibility (algorithm, operator, command) under review."),
            format!("第{step}次更新：怀疑车辆上有对抗性贴片；责任归属（算法、操作员、指挥层）正在审查。"),
        ),
        Completeness::Final => (
            "Final report: adversarial patch confirmed; the system is withdrawn; the incident is closed.".to_string(),
            "最终报告：已确认对抗性贴片；系统已停用；事件结束。".to_string(),
        ),
    };
    Incident {
        completeness: stage,
        domain: Domain::Land,
        system_class: SystemClass::AutonomousWeapon,
        failure_modes: vec![FailureMode::AdversarialAttack, FailureMode::Malfunction],
        severity: Severity::High,
        occurred_ms: 1_795_900_000_000,
        location: None,
        summary: en_zh(&en, &zh),
        suspected_cause: en_zh("Adversarial patch.", "对抗性贴片。"),
        human_control: HumanControl {
            role: HumanRole::OnTheLoop,
            final_decision_by: "battery commander".into(),
            statement: en_zh(
                "The operator aborted the engagement; the final decision stayed human.",
                "操作员中止了交战；最终决定权仍在人类手中。",
            ),
        },
        actions_taken: Texts::new(),
        requested_response: en_zh(
            "Acknowledge; share indicators of similar patches.",
            "请确认；分享类似贴片的特征。",
        ),
        contact: "delta liaison desk".into(),
        attachments: vec![],
    }
}

/// The logs of the first `roster.members.len()` test parties of `roster`, run for `steps` rounds
/// of ten seconds from `t0` over a perfect network: link tests, their receipts, checkpoints and
/// cosignatures. A genuine network's logs, for tests of what reads them.
pub fn idle_logs(t0: u64, roster: &Roster, steps: u64) -> Vec<Vec<Vec<u8>>> {
    let n = roster.members.len();
    let mut nodes: Vec<crate::Node> =
        (0..n).filter_map(|i| crate::Node::new(test_key(party(i)), roster.clone(), t0).ok()).collect();
    let mut logs = vec![Vec::new(); nodes.len()];
    for step in 0..steps {
        let now = t0 + step * 10_000;
        for i in 0..nodes.len() {
            nodes[i].handle_timeout(now);
            while let Some(batch) = nodes[i].poll_persist() {
                logs[i].extend(batch.leaves);
                let len = logs[i].len() as u64;
                nodes[i].persisted(len);
            }
            let from = nodes[i].id();
            while let Some(t) = nodes[i].poll_transmit() {
                if let Some(to) = nodes.iter().position(|m| m.id() == t.to) {
                    let _ = nodes[to].handle_frame(now, from, &t.frame);
                }
            }
        }
    }
    logs
}
