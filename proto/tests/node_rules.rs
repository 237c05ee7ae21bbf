//! One test per rule of the node state machine (spec §6), on a hand-driven pair of nodes in the
//! manner of quinn-proto's test pair: the test is the network, the disk and the clock.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use hotline_proto::crypto::sha256;
use hotline_proto::testing::desk::{deliver, history_of, kinds};
use hotline_proto::testing::fixtures::{en, id, test_key};
use hotline_proto::testing::{decode_trusted, Desk, Pair};
use hotline_proto::{
    Body, CommandError, DeadlineKind, Disposition, Draft, ErrorCode, Event, Node, NodeId, NoticeId,
    Precedence, Record, Role, Transmit,
};
use hotline_proto::{Check, CheckpointOffer, Heartbeat, Kind, LogVerifier, Message, SignedCheckpoint};
use hotline_proto::{ClockSkew, DeadlineMissed, LinkDown, SequenceGap};
use hotline_proto::{Deadlines, Member, Policy, Roster, ROSTER_FORMAT};

const T0: u64 = 1_800_000_000_000;

fn roster(n: usize) -> Roster {
    let members = ["alpha", "bravo", "charlie"][..n]
        .iter()
        .map(|name| Member { name: (*name).into(), key: id(name), addresses: vec![], languages: vec![] })
        .collect();
    Roster { format: ROSTER_FORMAT, network: "rules".into(), members, policy: Policy::default() }
}

fn reply_draft(to: NodeId, precedence: Precedence) -> Draft {
    Draft {
        precedence,
        to: vec![(to, Role::Action)],
        thread: None,
        in_reply_to: None,
        body: codebook_free_body(),
    }
}

fn codebook_free_body() -> Body {
    let mut incident: hotline_proto::Incident =
        serde_json::from_str(include_str!("../../spec/examples/s1-misidentification.json")).unwrap();
    incident.summary.truncate(1);
    incident.suspected_cause.truncate(1);
    incident.human_control.statement.truncate(1);
    incident.actions_taken.truncate(1);
    incident.requested_response.truncate(1);
    Body::Incident(incident)
}

fn start_pair() -> (Desk, Desk) {
    let Pair { a, b } = Pair::new("alpha", "bravo", roster(2), T0);
    (a, b)
}

#[test]
fn nothing_leaves_before_it_is_durable() {
    let (mut a, mut b) = start_pair();
    let id = a.node.send_notice(T0, reply_draft(b.id(), Precedence::Flash)).unwrap();
    assert!(a.transmits().is_empty(), "notice sent before its `sent` entry was durable");
    assert!(a.events().is_empty(), "operator told before durability");
    a.sync();
    assert_eq!(a.events(), vec![Event::NoticeStored { id }]);
    let sent = a.transmits();
    assert_eq!(kinds(&sent), ["notice"]);
    b.node.handle_frame(T0 + 5, a.id(), &sent[0].frame).unwrap();
    assert!(b.transmits().is_empty(), "receipt before the notice was durable");
    assert!(b.events().is_empty());
    b.sync();
    assert_eq!(kinds(&b.transmits()), ["receipt"]);
    assert!(
        matches!(b.events()[..], [Event::NoticeReceived { id: got, ack_due_ms: Some(_), .. }] if got == id)
    );
}

#[test]
fn a_duplicate_gets_the_same_receipt_and_is_not_shown_again() {
    let (mut a, mut b) = start_pair();
    a.node.send_notice(T0, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.sync();
    let notice = a.transmits().remove(0);
    b.node.handle_frame(T0 + 1, a.id(), &notice.frame).unwrap();
    b.sync();
    let first = b.transmits();
    b.events();
    let entries = b.disk.len();
    b.node.handle_frame(T0 + 2, a.id(), &notice.frame).unwrap();
    b.sync();
    assert_eq!(b.transmits(), first, "a different receipt for the same notice");
    assert!(b.events().is_empty(), "shown twice");
    assert_eq!(b.disk.len(), entries, "a duplicate changed the log");
}

#[test]
fn retransmits_with_backoff_until_receipted() {
    let (mut a, b) = start_pair();
    a.node.send_notice(T0, reply_draft(b.id(), Precedence::Priority)).unwrap();
    a.sync();
    assert_eq!(kinds(&a.transmits()), ["notice"]);
    let mut times = Vec::new();
    let mut now = T0;
    while times.len() < 7 {
        now = a.node.poll_timeout().unwrap();
        a.node.handle_timeout(now);
        a.sync();
        if a.transmits().iter().any(|t| kinds(std::slice::from_ref(t)) == ["notice"]) {
            times.push(now - T0);
        }
    }
    // 1 s, then doubling, capped at 30 s: never gives up.
    assert_eq!(times, [1_000, 3_000, 7_000, 15_000, 31_000, 61_000, 91_000]);
    let _ = now;
}

#[test]
fn receipt_deadline_miss_is_recorded_once_at_the_deadline() {
    let (mut a, b) = start_pair();
    let id = a.node.send_notice(T0, reply_draft(b.id(), Precedence::Flash)).unwrap();
    a.sync();
    let deadline = T0 + Policy::default().flash.receipt_ms;
    let mut now = T0;
    while now < deadline + 60_000 {
        now = a.node.poll_timeout().unwrap();
        a.node.handle_timeout(now);
        a.sync();
    }
    let misses: Vec<_> = a
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::DeadlineMissed(DeadlineMissed { notice, party, deadline, deadline_ms }) => {
                Some((notice, party, deadline, deadline_ms))
            }
            _ => None,
        })
        .collect();
    assert_eq!(misses, vec![(id, b.id(), DeadlineKind::Receipt, deadline)]);
    assert!(a
        .events()
        .iter()
        .any(|e| matches!(e, Event::DeadlineMissed(DeadlineMissed { deadline: DeadlineKind::Receipt, .. }))));
}

#[test]
fn ack_flow_and_ack_receipt() {
    let (mut a, mut b) = start_pair();
    let id = a.node.send_notice(T0, reply_draft(b.id(), Precedence::Immediate)).unwrap();
    a.sync();
    deliver(&mut a, &mut b, T0 + 10);
    b.sync();
    deliver(&mut b, &mut a, T0 + 20);
    a.sync();
    assert!(a.events().iter().any(|e| matches!(e, Event::ReceiptReceived { late: false, .. })));
    b.node.acknowledge(T0 + 60_000, id, "bravo watch", Disposition::ActionTaken, en("done")).unwrap();
    assert_eq!(
        b.node.acknowledge(T0 + 61_000, id, "bravo watch", Disposition::ActionTaken, vec![]),
        Err(CommandError::AlreadyAcknowledged(format!("alpha/{}", id.seq)))
    );
    b.sync();
    assert_eq!(kinds(&deliver(&mut b, &mut a, T0 + 60_010)), ["ack"]);
    a.sync();
    assert!(a
        .events()
        .iter()
        .any(|e| matches!(e, Event::AckReceived { disposition: Disposition::ActionTaken, late: false, .. })));
    assert_eq!(kinds(&deliver(&mut a, &mut b, T0 + 60_020)), ["receipt"]);
    b.sync();
    assert_eq!(b.node.pending_retransmissions(), 0);
    assert!(a.node.awaiting().is_empty());
}

#[test]
fn unknown_notices_are_refused_by_the_command() {
    let (mut a, b) = start_pair();
    let ghost = NoticeId { sender: b.id(), seq: 99 };
    assert!(matches!(
        a.node.acknowledge(T0, ghost, "x", Disposition::Understood, vec![]),
        Err(CommandError::UnknownNotice(_))
    ));
    let mut draft = reply_draft(b.id(), Precedence::Routine);
    draft.in_reply_to = Some(ghost);
    assert!(matches!(a.node.send_notice(T0, draft), Err(CommandError::UnknownNotice(_))));
    let mut bad = reply_draft(b.id(), Precedence::Flash);
    bad.to.clear();
    assert!(matches!(a.node.send_notice(T0, bad), Err(CommandError::Invalid(_))));
}

#[test]
fn restart_continues_the_sequence_and_resends_the_unreceipted() {
    let (mut a, b) = start_pair();
    let first = a.node.send_notice(T0, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.sync();
    a.transmits();
    // A second notice is signed but not durable when the process dies: it never existed.
    a.node.send_notice(T0 + 1, reply_draft(b.id(), Precedence::Routine)).unwrap();
    assert!(a.transmits().is_empty());
    a.restart(T0 + 10_000);
    // The lost notice never existed for anyone: its number is the next one.
    let next = a.node.send_notice(T0 + 10_000, reply_draft(b.id(), Precedence::Routine)).unwrap();
    assert_eq!(next.seq, first.seq + 1, "sequence number skipped across a crash");
    a.sync();
    a.node.handle_timeout(T0 + 10_000);
    a.sync();
    let sent = a.transmits();
    let first_again = sent.iter().filter_map(|t| match decode_trusted(&t.frame).unwrap().message {
        Message::Notice(n) => Some(n.id()),
        _ => None,
    });
    assert!(first_again.into_iter().any(|n| n == first), "unreceipted notice not resent after restart");
    assert!(matches!(
        a.records()[..],
        [Record::Started { .. }, Record::Sent { .. }, Record::Started { .. }, ..]
    ));
}

/// Runs `a`'s timers, hearing nothing, for the policy's link silence; returns that silence and
/// the time reached.
fn silent_until_down(a: &mut Desk) -> (u64, u64) {
    let silence = Policy::default().link_silence_ms;
    let mut now = T0;
    while now < T0 + silence {
        now = a.node.poll_timeout().unwrap();
        a.node.handle_timeout(now);
        a.sync();
    }
    (silence, now)
}

#[test]
fn link_down_after_silence_and_up_when_heard() {
    let (mut a, mut b) = start_pair();
    let (_, now) = silent_until_down(&mut a);
    assert!(a.records().iter().any(
        |r| matches!(r, Record::LinkDown(LinkDown { peer, last_heard_ms }) if *peer == b.id() && *last_heard_ms == T0)
    ));
    assert_eq!(a.node.link_up(&b.id()), Some(false));
    // bravo's heartbeat gets through: the link is up again, and it is recorded.
    b.node.handle_timeout(now);
    b.sync();
    deliver(&mut b, &mut a, now + 1);
    a.sync();
    assert!(a.records().iter().any(|r| matches!(r, Record::LinkUp { peer } if *peer == b.id())));
    assert!(a.events().iter().any(|e| matches!(e, Event::LinkUp { .. })));
}

/// The link's latest outage is kept (bounded: one per peer) to explain a late receipt, and a
/// restart from the snapshot or from the whole log gives the same (issue 12, item 10).
#[test]
fn the_latest_outage_is_remembered_across_restarts() {
    let (mut a, mut b) = start_pair();
    let (silence, now) = silent_until_down(&mut a);
    let bravo = b.id();
    let link = |a: &Desk| a.node.links().into_iter().find(|l| l.peer == bravo).unwrap();
    assert_eq!((link(&a).down_since_ms, link(&a).last_outage), (Some(T0), None));
    b.node.handle_timeout(now);
    b.sync();
    deliver(&mut b, &mut a, now + 1);
    a.sync();
    let back = link(&a).last_outage.expect("the outage is remembered").1;
    assert_eq!(link(&a).last_outage, Some((T0, back)));
    assert!(back >= T0 + silence && back <= now + 1, "{back}");
    assert_eq!(link(&a).down_since_ms, None);
    a.save_snapshot();
    a.restart(now + 2);
    assert_eq!(link(&a).last_outage, Some((T0, back)), "from the snapshot");
    a.restart_by_replay(now + 3);
    assert_eq!(link(&a).last_outage, Some((T0, back)), "from the whole log");
}

// ---- heartbeats and link tests (spec §6.5) ---------------------------------------------------

const HOUR: u64 = 3_600_000;

fn count(records: &[Record], name: &str) -> usize {
    records.iter().filter(|r| r.name() == name).count()
}

/// The log grows with traffic, not with time: an idle day at the default policy (heartbeats every
/// 30 s) leaves a link test an hour and the checkpoint and cosignatures that cover it, and
/// nothing else; the links stay up throughout, and every entry verifies in full.
#[test]
fn an_idle_day_logs_an_hourly_link_test_and_the_co_signing_that_covers_it() {
    let mut pair = Pair::new("alpha", "bravo", roster(2), T0);
    pair.run_until(T0 + 24 * HOUR);
    for desk in [&pair.a, &pair.b] {
        let records = desk.records();
        let name = desk.name;
        let tests = count(&records, "link_test");
        assert!((24..=25).contains(&tests), "{name}: {tests} link tests in a day, not one an hour");
        for kind in ["checkpoint", "cosigned", "cosignature"] {
            let n = count(&records, kind);
            assert!(n <= tests + 1, "{name}: {n} {kind} entries for {tests} link tests");
        }
        let others: Vec<_> = records
            .iter()
            .map(Record::name)
            .filter(|n| !["started", "link_test", "checkpoint", "cosigned", "cosignature"].contains(n))
            .collect();
        assert!(others.is_empty(), "{name}: an idle day logged {others:?}");
        assert!(records.len() <= 1 + 4 * 25, "{name}: {} entries in an idle day", records.len());
        let mut verifier = LogVerifier::new(roster(2), desk.id(), Check::Full);
        for leaf in &desk.disk {
            verifier.push(leaf).expect("every entry verifies");
        }
    }
    assert_eq!(pair.a.node.link_up(&pair.b.id()), Some(true));
    // Link tests took no notice numbers: the first notice of the day is number 1.
    let b = pair.b.id();
    let first = pair.a.node.send_notice(T0 + 24 * HOUR, reply_draft(b, Precedence::Flash)).unwrap();
    assert_eq!(first.seq, 1);
}

/// A link test is a heartbeat round trip: this node's heartbeat and the peer's echo of it, both
/// signed; the peer's time is checked against the round trip (spec §6.9).
#[test]
fn a_link_test_records_the_round_trip_and_checks_the_peer_clock() {
    let (mut a, b) = start_pair();
    a.node.handle_timeout(T0);
    a.sync();
    let ours = a.transmits().into_iter().find(|t| t.to == b.id()).expect("a heartbeat at start");
    let opened = decode_trusted(&ours.frame).unwrap();
    let Message::Heartbeat(heartbeat) = &opened.message else { panic!("not a heartbeat") };
    assert_eq!(heartbeat.echo, hotline_proto::Hash32([0; 32]), "nothing heard yet");
    // bravo's clock is 10 s behind: its echo is signed before alpha's heartbeat was sent.
    let echo = Heartbeat {
        network: heartbeat.network,
        signer: b.id(),
        to: a.id(),
        time_ms: T0 - 10_000,
        echo: opened.hash,
        cosigned: None,
    };
    let (frame, _) = hotline_proto::wire::seal(&test_key("bravo"), Kind::Heartbeat, &echo);
    a.node.handle_frame(T0 + 100, b.id(), &frame).unwrap();
    a.sync();
    let records = a.records();
    assert!(records.iter().any(|r| matches!(r, Record::ClockSkew(ClockSkew { offset_ms: -10_000, .. }))));
    let tests: Vec<_> = records.iter().filter(|r| matches!(r, Record::LinkTest { .. })).collect();
    assert_eq!(tests, [&Record::LinkTest { peer: b.id(), ours: ours.frame, theirs: frame.clone() }]);
    // The same echo again is no new link test (one is due an hour later), and logs nothing.
    let len = a.disk.len();
    a.node.handle_frame(T0 + 200, b.id(), &frame).unwrap();
    a.sync();
    assert_eq!(a.disk.len(), len);
}

/// A heartbeat that does not echo one of this node's is answered at once, so two nodes that just
/// started (or reconnected) both complete a link test within one exchange, not a heartbeat
/// interval later; answers echo, so they are not answered in turn.
#[test]
fn a_fresh_pair_completes_both_link_tests_in_one_exchange() {
    let mut pair = Pair::new("alpha", "bravo", roster(2), T0);
    pair.a.node.handle_timeout(T0);
    pair.b.node.handle_timeout(T0);
    let mut rounds = 0;
    loop {
        pair.a.sync();
        pair.b.sync();
        let quiet = pair.a_to_b(T0).is_empty() & pair.b_to_a(T0).is_empty();
        if quiet {
            break;
        }
        rounds += 1;
        assert!(rounds < 5, "heartbeats answer each other for ever");
    }
    for desk in [&pair.a, &pair.b] {
        assert_eq!(count(&desk.records(), "link_test"), 1, "{}", desk.name);
    }
}

/// A checkpoint offer lost on the way is offered again when the peer's heartbeat shows it has not
/// co-signed it, so co-signing does not wait for the next (perhaps hourly) checkpoint.
#[test]
fn a_lost_checkpoint_offer_is_offered_again_after_the_peer_heartbeat() {
    let mut pair = Pair::new("alpha", "bravo", roster(2), T0);
    pair.run_until(T0 + 2 * 60_000);
    let cp = pair.a.node.checkpoint(T0 + 2 * 60_000 + 1).unwrap();
    pair.a.sync();
    assert_eq!(kinds(&pair.a.transmits()), ["checkpoint"], "the offer, lost");
    pair.run_until(T0 + 3 * 60_000);
    let cosigned = pair
        .b
        .records()
        .into_iter()
        .any(|r| matches!(r, Record::Cosigned { checkpoint, .. } if checkpoint == cp));
    assert!(cosigned, "bravo never co-signed the checkpoint whose offer was lost");
    assert!(pair.a.node.cosigned_by_peers().contains(&(pair.b.id(), cp.size)));
}

#[test]
fn a_future_notice_is_accepted_and_the_skew_recorded() {
    let (mut a, mut b) = start_pair();
    // alpha's clock is 10 s ahead of bravo's.
    a.node.send_notice(T0 + 10_000, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.sync();
    deliver(&mut a, &mut b, T0);
    b.sync();
    assert!(b.records().iter().any(|r| matches!(r, Record::ClockSkew(ClockSkew { offset_ms: 10_000, .. }))));
    assert_eq!(kinds(&b.transmits()), ["receipt"], "skew must not stop delivery");
}

#[test]
fn a_missing_notice_is_recorded_as_a_gap_after_the_silence_limit() {
    let (mut a, mut b) = start_pair();
    for i in 0..3 {
        a.node.send_notice(T0 + i, reply_draft(b.id(), Precedence::Routine)).unwrap();
    }
    a.sync();
    let mut frames = a.transmits();
    frames.retain(|t| kinds(std::slice::from_ref(t)) == ["notice"]);
    // The second notice is lost; the third arrives.
    b.node.handle_frame(T0 + 5, a.id(), &frames[0].frame).unwrap();
    b.node.handle_frame(T0 + 6, a.id(), &frames[2].frame).unwrap();
    b.sync();
    let silence = Policy::default().link_silence_ms;
    b.node.handle_timeout(T0 + 6 + silence - 1);
    b.sync();
    assert!(
        !b.records().iter().any(|r| matches!(r, Record::SequenceGap(SequenceGap { .. }))),
        "gap recorded too early"
    );
    b.node.handle_timeout(T0 + 6 + silence);
    b.sync();
    let gaps: Vec<_> =
        b.records().into_iter().filter(|r| matches!(r, Record::SequenceGap(SequenceGap { .. }))).collect();
    assert_eq!(gaps, vec![Record::SequenceGap(SequenceGap { peer: a.id(), first: 2, last: 2 })]);
}

#[test]
fn frames_are_handed_out_most_urgent_first() {
    let (mut a, b) = start_pair();
    a.node.send_notice(T0, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.node.send_notice(T0, reply_draft(b.id(), Precedence::Priority)).unwrap();
    a.node.send_notice(T0, reply_draft(b.id(), Precedence::Flash)).unwrap();
    a.sync();
    let order: Vec<Precedence> = a.transmits().iter().map(|t| t.precedence).collect();
    assert_eq!(order, [Precedence::Flash, Precedence::Priority, Precedence::Routine]);
}

#[test]
fn output_that_depends_on_nothing_new_is_released_at_once() {
    // Regression: a retransmission on an idle node (no new log entry since the last persist)
    // waited for a `persisted` call that never came, so a quiet node never retransmitted.
    let (mut a, b) = start_pair();
    a.node.send_notice(T0, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.sync();
    assert_eq!(kinds(&a.transmits()), ["notice"]);
    // Link tests and the like first: everything before the retransmission is made durable.
    a.node.handle_timeout(T0 + 999);
    a.sync();
    a.transmits();
    a.node.handle_timeout(T0 + 1_000);
    assert!(a.node.poll_persist().is_none(), "a retransmission logs nothing");
    assert_eq!(
        kinds(&a.transmits()),
        ["notice"],
        "retransmission held back although nothing new must be durable"
    );
}

// ---- checkpoints and co-signing (spec §15.4) ---------------------------------------------------

fn offers(ts: &[Transmit]) -> Vec<&Transmit> {
    ts.iter()
        .filter(|t| matches!(decode_trusted(&t.frame).unwrap().message, Message::Checkpoint(_)))
        .collect()
}

/// Delivers every frame of `kind` from one desk to the other; returns the receiver's results.
fn deliver_kind(
    from: &mut Desk,
    to: &mut Desk,
    now: u64,
    kind: &str,
) -> Vec<Result<(), hotline_proto::Rejection>> {
    let frames = from.transmits();
    let target = to.id();
    frames
        .iter()
        .filter(|t| t.to == target && kinds(std::slice::from_ref(t))[0] == kind)
        .map(|t| to.node.handle_frame(now, from.id(), &t.frame))
        .collect()
}

#[test]
fn a_checkpoint_is_cosigned_and_both_logs_record_it() {
    let (mut a, mut b) = start_pair();
    let cp = a.node.checkpoint(T0 + 10).unwrap();
    assert_eq!(cp.size, a.disk.len() as u64, "covers every entry before its own");
    assert!(offers(&a.transmits()).is_empty(), "nothing offered before the checkpoint is durable");
    a.sync();
    assert!(deliver_kind(&mut a, &mut b, T0 + 20, "checkpoint").iter().all(Result::is_ok));
    assert!(b.transmits().is_empty(), "no cosignature before the Cosigned record is durable");
    b.sync();
    assert!(deliver_kind(&mut b, &mut a, T0 + 30, "cosignature").iter().all(Result::is_ok));
    a.sync();
    assert!(matches!(b.records().last(), Some(Record::Cosigned { checkpoint, .. }) if *checkpoint == cp));
    assert!(matches!(a.records().last(), Some(Record::Cosignature { size, .. }) if *size == cp.size));
    assert_eq!(a.node.cosigned_by_peers(), vec![(b.id(), cp.size)]);
    // The next checkpoint carries a proof from the co-signed one, and is co-signed in turn.
    a.node.send_notice(T0 + 40, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.sync();
    let next = a.node.checkpoint(T0 + 50).unwrap();
    assert!(next.size > cp.size);
    a.sync();
    assert!(deliver_kind(&mut a, &mut b, T0 + 60, "checkpoint").iter().all(Result::is_ok));
    b.sync();
    assert!(matches!(b.records().last(), Some(Record::Cosigned { checkpoint, .. }) if *checkpoint == next));
    // Nothing new in the log: no new checkpoint.
    let again = a.node.checkpoint(T0 + 70).unwrap();
    assert_eq!(again, next);
}

#[test]
fn a_rewritten_log_is_caught_with_both_signed_checkpoints_as_evidence() {
    let (mut a, mut b) = start_pair();
    a.node.send_notice(T0 + 5, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.sync();
    let cp = a.node.checkpoint(T0 + 10).unwrap();
    a.sync();
    deliver_kind(&mut a, &mut b, T0 + 20, "checkpoint");
    b.sync();
    let _ = b.transmits();
    // alpha throws its log away and starts again with the same key: a rewritten history.
    a.disk.clear();
    a.restart(T0 + 100);
    a.sync();
    for _ in 0..3 {
        a.node.send_notice(T0 + 110, reply_draft(b.id(), Precedence::Routine)).unwrap();
    }
    a.sync();
    let forked = a.node.checkpoint(T0 + 120).unwrap();
    assert!(forked.size > cp.size);
    a.sync();
    // Offered as the node offers it (from size 0: it knows of no cosignature), bravo cannot
    // check it and answers with the last cosignature it gave, which the new log never signed.
    assert!(deliver_kind(&mut a, &mut b, T0 + 130, "checkpoint").iter().all(Result::is_ok));
    let answer = b.transmits();
    assert_eq!(kinds(&answer), vec!["cosignature"]);
    assert_eq!(
        a.node.handle_frame(T0 + 135, b.id(), &answer[0].frame).unwrap_err().code,
        ErrorCode::UnknownReference
    );
    // To be co-signed it must prove consistency with what bravo co-signed, and cannot.
    let (network, signer) = (b.node.network(), a.id());
    let offer = |checkpoint, proof_from| {
        hotline_proto::wire::seal(
            &test_key("alpha"),
            Kind::Checkpoint,
            &CheckpointOffer { network, signer, checkpoint, proof_from, proof: vec![] },
        )
        .0
    };
    let refused = b.node.handle_frame(T0 + 140, a.id(), &offer(forked, cp.size)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::InconsistentLog);
    b.sync();
    let conflict = b.records().into_iter().find_map(|r| match r {
        Record::LogConflict { log, cosigned, presented, .. } => Some((log, cosigned, presented)),
        _ => None,
    });
    assert_eq!(conflict, Some((a.id(), cp, forked)));
    assert!(b.events().iter().any(|e| matches!(e, Event::LogConflict { size, .. } if *size == forked.size)));
    assert!(b.transmits().is_empty(), "not co-signed");
    // The same conflicting checkpoint again is refused but not recorded twice.
    assert!(b.node.handle_frame(T0 + 150, a.id(), &offer(forked, cp.size)).is_err());
    // A second root for the very size bravo co-signed is caught whatever the proof.
    let origin = hotline_proto::note::origin_of(b.node.roster(), &a.id()).unwrap();
    let root = sha256(b"another history");
    let signature = hotline_proto::note::Checkpoint { origin, size: cp.size, root }.sign(&test_key("alpha"));
    let same_size = SignedCheckpoint { size: cp.size, root, signature };
    assert_eq!(
        b.node.handle_frame(T0 + 160, a.id(), &offer(same_size, 0)).unwrap_err().code,
        ErrorCode::InconsistentLog
    );
    b.sync();
    let conflicts = b.records().iter().filter(|r| matches!(r, Record::LogConflict { .. })).count();
    assert_eq!(conflicts, 2);
}

/// An I/O layer holding several frames hands the most urgent first: a notice by its precedence,
/// a receipt by the precedence of the notice it concerns; garbage counts as ROUTINE.
#[test]
fn urgency_of_frames_before_verification() {
    let (mut a, mut b) = start_pair();
    let _ = a.transmits();
    let _ = b.transmits();
    a.node.send_notice(T0 + 10, reply_draft(b.id(), Precedence::Flash)).unwrap();
    a.sync();
    let notice = a.transmits().into_iter().find(|t| kinds(std::slice::from_ref(t))[0] == "notice").unwrap();
    assert_eq!(b.node.urgency(&notice.frame), Precedence::Flash);
    b.node.handle_frame(T0 + 20, a.id(), &notice.frame).unwrap();
    b.sync();
    let receipt = b.transmits().into_iter().find(|t| kinds(std::slice::from_ref(t))[0] == "receipt").unwrap();
    assert_eq!(a.node.urgency(&receipt.frame), Precedence::Flash);
    assert_eq!(b.node.urgency(&receipt.frame), Precedence::Flash, "b knows the notice too");
    assert_eq!(a.node.urgency(b"not a frame"), Precedence::Routine);
}

/// Found by the `roster` and `log_verifier` fuzz targets (fuzz/regressions/): a policy that
/// `check()` accepts, with windows and timers at the top of u64, or a clock at the top of u64,
/// overflowed the node's timer arithmetic at start and panicked. Times saturate instead.
#[test]
fn extreme_policies_and_clocks_do_not_overflow_the_timers() {
    let huge = Deadlines { receipt_ms: u64::MAX - 1, ack_ms: u64::MAX };
    let mut r = roster(2);
    r.policy.flash = huge;
    r.policy.immediate = huge;
    r.policy.priority = huge;
    r.policy.routine = huge;
    r.policy.heartbeat_interval_ms = u64::MAX - 1;
    r.policy.link_test_interval_ms = u64::MAX - 1;
    r.policy.checkpoint_interval_ms = u64::MAX;
    r.policy.link_silence_ms = u64::MAX;
    r.policy.retransmit_initial_ms = u64::MAX;
    r.policy.retransmit_max_ms = u64::MAX;
    r.check().expect("extreme but valid");
    for start in [T0, u64::MAX - 1, u64::MAX] {
        let mut node = Node::new(test_key("alpha"), r.clone(), start).unwrap();
        let draft = Draft {
            precedence: Precedence::Flash,
            to: vec![(id("bravo"), Role::Action)],
            thread: None,
            in_reply_to: None,
            body: codebook_free_body(),
        };
        node.send_notice(start, draft).unwrap();
        for now in [start, start.saturating_add(1), u64::MAX] {
            node.handle_timeout(now);
            while let Some(batch) = node.poll_persist() {
                node.persisted(batch.first_index + batch.leaves.len() as u64);
            }
            while node.poll_transmit().is_some() {}
            let _ = node.checkpoint(now);
        }
    }
}

/// Restart checks the tail in full (spec §6.10): a damaged last entry, which no later `prev`
/// covers, is refused with its index instead of being applied; damage anywhere else breaks the
/// chain. Either way nothing starts.
#[test]
fn restart_refuses_a_damaged_tail() {
    let (mut a, mut b) = start_pair();
    a.node.send_notice(T0 + 1_000, reply_draft(b.id(), Precedence::Flash)).unwrap();
    a.sync();
    deliver(&mut a, &mut b, T0 + 1_100);
    b.sync();
    deliver(&mut b, &mut a, T0 + 1_200);
    a.sync();
    let disk = a.disk.clone();
    let last = disk.len() - 1;
    // Flip one byte of the last entry's signature (its final 64 bytes) and, separately, one byte
    // inside an earlier entry.
    for (index, at_end) in [(last, true), (1, false)] {
        let mut damaged = disk.clone();
        let leaf = &mut damaged[index];
        let at = if at_end { leaf.len() - 10 } else { leaf.len() / 2 };
        leaf[at] ^= 0x01;
        let roster = a.node.roster().clone();
        let refused = Node::restore(test_key("alpha"), roster, damaged.iter(), T0 + 5_000);
        match refused {
            Err(hotline_proto::StartError::Log(e)) => {
                assert!(e.index == index as u64 || e.index == index as u64 + 1, "entry {index}: {e}");
                assert!(e.to_string().contains(&format!("entry {}", e.index)), "{e}");
            }
            Err(other) => panic!("entry {index}: unexpected error {other}"),
            Ok(_) => panic!("a log damaged at entry {index} was restored"),
        }
    }
    // The undamaged log restores.
    a.restart(T0 + 5_000);
}

/// Spec §6.11: every entry read back is checked, and an entry already verified is not trusted
/// for its index alone: once a forgotten notice has been read (and its entries remembered as
/// verified), a byte changed in any of them on the disk makes the next read fail, naming the
/// entry; the intact history reads again.
#[test]
fn an_entry_changed_on_the_disk_after_it_was_read_is_caught() {
    let (mut a, mut b) = start_pair();
    let id = a.node.send_notice(T0, reply_draft(b.id(), Precedence::Flash)).unwrap();
    a.sync();
    deliver(&mut a, &mut b, T0 + 10);
    b.sync();
    deliver(&mut b, &mut a, T0 + 20);
    a.sync();
    b.node.acknowledge(T0 + 30, id, "bravo watch", Disposition::Understood, vec![]).unwrap();
    b.sync();
    deliver(&mut b, &mut a, T0 + 40);
    a.sync();
    deliver(&mut a, &mut b, T0 + 50);
    b.sync();
    assert!(a.node.notice_ids().is_empty(), "the work is closed: the notice is read from the history");
    let intact = a.history.lock().unwrap().clone();
    let about: Vec<Vec<u8>> = hotline_proto::History::about(&intact, &id).unwrap();
    assert!(about.len() >= 3, "sent, the receipt, the acknowledgement");
    for _ in 0..2 {
        assert!(a.node.view(&id).unwrap().is_some(), "the intact history reads (again)");
    }
    for (index, leaf) in a.disk.clone().iter().enumerate() {
        if !about.contains(leaf) {
            continue;
        }
        for at in [leaf.len() - 10, leaf.len() / 2] {
            let mut damaged = leaf.clone();
            damaged[at] ^= 0x01;
            let mut disk = intact.clone();
            assert!(disk.overwrite(index as u64, damaged));
            *a.history.lock().unwrap() = disk;
            let e = a.node.view(&id).expect_err("a changed entry was served");
            assert!(e.to_string().contains("damaged"), "entry {index}, byte {at}: {e}");
        }
    }
    *a.history.lock().unwrap() = intact;
    assert!(a.node.view(&id).unwrap().is_some());
}

/// A network of 256 members (spec §2, §8): the roster checks, and a FLASH notice to the 255
/// others fits in a frame and opens at an addressee.
#[test]
fn a_network_of_256_members() {
    let names: Vec<String> = (0..256).map(|i| format!("m{i:03}")).collect();
    let member = |name: &String| Member {
        name: name.clone(),
        key: id(name),
        addresses: vec!["192.0.2.1:4733".into()],
        languages: vec!["en".into()],
    };
    let mut roster = Roster {
        format: ROSTER_FORMAT,
        network: "un".into(),
        members: names.iter().map(member).collect(),
        policy: Policy::default(),
    };
    roster.check().unwrap();
    assert!(roster.to_bytes().len() <= hotline_proto::limits::MAX_ROSTER);
    let mut node = Node::new(test_key(&names[0]), roster.clone(), T0).unwrap();
    let to = names[1..]
        .iter()
        .enumerate()
        .map(|(i, n)| (id(n), if i == 0 { Role::Action } else { Role::Info }))
        .collect();
    let draft = Draft {
        precedence: Precedence::Flash,
        to,
        thread: None,
        in_reply_to: None,
        body: codebook_free_body(),
    };
    node.send_notice(T0 + 1, draft).unwrap();
    while let Some(batch) = node.poll_persist() {
        node.persisted(batch.first_index + batch.leaves.len() as u64);
    }
    let frames: Vec<Transmit> = std::iter::from_fn(|| node.poll_transmit()).collect();
    let notice = frames.iter().find(|t| kinds(std::slice::from_ref(t)) == ["notice"]).unwrap();
    assert!(notice.frame.len() <= hotline_proto::limits::MAX_FRAME);
    hotline_proto::wire::open(&notice.frame, &roster, &roster.network_id()).unwrap();
    // One member more is refused.
    roster.members.push(member(&"m256".to_string()));
    assert!(roster.check().is_err());
}

/// Spec §6.11: a notice whose work closed is forgotten once every entry about it is durable, and
/// everything a peer or an officer can still ask of it is answered from the history: a late
/// duplicate gets the original receipt, a duplicate acknowledgement the original receipt of it,
/// the thread can be replied to and read, the inbox lists it, and a restart holds none of it.
#[test]
fn closed_work_is_forgotten_and_read_back_from_the_history() {
    let (mut a, mut b) = start_pair();
    let id = a.node.send_notice(T0, reply_draft(b.id(), Precedence::Immediate)).unwrap();
    a.sync();
    let notice = a.transmits().remove(0);
    b.node.handle_frame(T0 + 10, a.id(), &notice.frame).unwrap();
    assert_eq!(b.node.notice_ids(), [id], "forgotten before its entries were durable");
    b.sync();
    let receipt = b.transmits();
    deliver_frames(&receipt, &mut a, b.id(), T0 + 20);
    a.sync();
    assert_eq!(a.node.notice_ids(), [id], "an acknowledgement is still owed: the work is open");
    b.node.acknowledge(T0 + 30, id, "bravo watch", Disposition::Understood, vec![]).unwrap();
    b.sync();
    let ack = b.transmits();
    assert_eq!(kinds(&ack), ["ack"]);
    deliver_frames(&ack, &mut a, b.id(), T0 + 40);
    a.sync();
    let ack_receipt = a.transmits();
    assert_eq!(kinds(&ack_receipt), ["receipt"]);
    deliver_frames(&ack_receipt, &mut b, a.id(), T0 + 50);
    b.sync();
    a.events();
    b.events();
    assert!(a.node.notice_ids().is_empty(), "the sender still holds a closed notice");
    assert!(b.node.notice_ids().is_empty(), "the receiver still holds a closed notice");
    assert_eq!(b.node.received().count(), 0);

    // A late duplicate of the notice: the original receipt, nothing logged, nothing shown.
    let entries = b.disk.len();
    b.node.handle_frame(T0 + 60, a.id(), &notice.frame).unwrap();
    b.sync();
    assert_eq!(b.transmits(), receipt, "a different answer to a late duplicate");
    assert!(b.events().is_empty());
    assert_eq!(b.disk.len(), entries);
    // A duplicate acknowledgement: the original receipt of it.
    let entries = a.disk.len();
    deliver_frames(&ack, &mut a, b.id(), T0 + 70);
    a.sync();
    assert_eq!(a.transmits(), ack_receipt, "a different receipt for a duplicate acknowledgement");
    assert_eq!(a.disk.len(), entries);
    // The officer's questions.
    assert_eq!(
        b.node.acknowledge(T0 + 80, id, "bravo watch", Disposition::Understood, vec![]),
        Err(CommandError::AlreadyAcknowledged(format!("alpha/{}", id.seq)))
    );
    let view = a.node.view(&id).unwrap().expect("the sender's view of a forgotten notice");
    assert!(matches!(&view.direction, hotline_proto::Direction::Sent { parties }
        if parties.iter().all(|p| p.receipt_ms.is_some() && p.ack_ms.is_some())));
    let view = b.node.view(&id).unwrap().expect("the receiver's view of a forgotten notice");
    assert!(matches!(view.direction, hotline_proto::Direction::Received { acked: true, .. }));
    assert_eq!(b.node.received_page(None, 10).unwrap(), [id]);
    assert!(b.node.received_page(Some(0), 10).unwrap().is_empty());
    let reply = Draft {
        thread: Some(id),
        in_reply_to: Some(id),
        body: Body::Reply(en("noted")),
        ..reply_draft(a.id(), Precedence::Routine)
    };
    let reply = b.node.send_notice(T0 + 90, reply).expect("a reply in a forgotten thread");
    b.sync();
    let thread: Vec<NoticeId> = b.node.thread(id).unwrap().iter().map(|v| v.notice.id()).collect();
    assert_eq!(thread, [id, reply]);
    // A restart rebuilds the working set: the open reply only.
    b.restart(T0 + 100);
    b.sync();
    assert_eq!(b.node.notice_ids(), [reply]);
    assert_eq!(b.node.thread(id).unwrap().len(), 2);
}

fn deliver_frames(frames: &[Transmit], to: &mut Desk, from: NodeId, now: u64) {
    let target = to.id();
    for t in frames.iter().filter(|t| t.to == target) {
        to.node.handle_frame(now, from, &t.frame).unwrap();
    }
}

/// What a restarted node does from `now` on: its state, and the entries and frames it produces
/// over a day of timers (deadlines falling, link silence, retransmission).
fn day_after_restart(desk: &mut Desk, now: u64) -> (Vec<u8>, Vec<Vec<u8>>, Vec<Transmit>) {
    let state = desk.node.snapshot();
    let mut leaves = Vec::new();
    let mut transmits = Vec::new();
    for step in 0..48u64 {
        desk.node.handle_timeout(now + step * 30 * 60 * 1000);
        while let Some(batch) = desk.node.poll_persist() {
            leaves.extend(batch.leaves);
        }
        desk.node.persisted(desk.node.log_len());
        transmits.extend(desk.transmits());
    }
    (state, leaves, transmits)
}

/// Spec §6.12: a restart from the snapshot and the entries after it is the restart from the
/// whole log — the same state, and the same entries and frames afterwards — with open work of
/// every kind across the snapshot's point: an acknowledgement owed by the node, one owed to it,
/// a notice its peer never receipted, a checkpoint co-signed, a closed notice.
#[test]
fn a_restart_from_the_snapshot_is_the_restart_from_the_log() {
    let (mut a, mut b) = start_pair();
    // A closed notice, and a checkpoint that each side co-signs.
    let closed = a.node.send_notice(T0, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.sync();
    deliver_frames(&a.transmits(), &mut b, a.id(), T0 + 1);
    b.sync();
    deliver_frames(&b.transmits(), &mut a, b.id(), T0 + 2);
    a.sync();
    b.node.acknowledge(T0 + 3, closed, "bravo watch", Disposition::Understood, vec![]).unwrap();
    b.sync();
    deliver_frames(&b.transmits(), &mut a, b.id(), T0 + 4);
    a.sync();
    deliver_frames(&a.transmits(), &mut b, a.id(), T0 + 5);
    b.sync();
    b.node.checkpoint(T0 + 6);
    b.sync();
    deliver_frames(&b.transmits(), &mut a, b.id(), T0 + 7);
    a.sync();
    deliver_frames(&a.transmits(), &mut b, a.id(), T0 + 8);
    b.sync();
    // An acknowledgement owed by bravo (received before the snapshot).
    let owed = a.node.send_notice(T0 + 10, reply_draft(b.id(), Precedence::Priority)).unwrap();
    a.sync();
    deliver_frames(&a.transmits(), &mut b, a.id(), T0 + 11);
    b.sync();
    b.save_snapshot();
    let snapshot_at = b.disk.len();
    // After the snapshot: a notice alpha never receipts, and one it receipts but does not
    // acknowledge; alpha's notice that bravo receipts.
    let lost = b.node.send_notice(T0 + 20, reply_draft(a.id(), Precedence::Immediate)).unwrap();
    b.sync();
    b.transmits();
    let unacked = b.node.send_notice(T0 + 30, reply_draft(a.id(), Precedence::Routine)).unwrap();
    b.sync();
    deliver_frames(&b.transmits(), &mut a, b.id(), T0 + 31);
    a.sync();
    deliver_frames(&a.transmits(), &mut b, a.id(), T0 + 32);
    b.sync();
    let mut open = b.node.notice_ids();
    open.sort();
    let mut expected = vec![owed, lost, unacked];
    expected.sort();
    assert_eq!(open, expected, "the open work before the restart");
    assert!(b.disk.len() > snapshot_at, "entries after the snapshot");

    let disk = b.disk.clone();
    let later = T0 + 60_000;
    b.restart_by_replay(later);
    let by_log = day_after_restart(&mut b, later);
    b.disk = disk;
    b.restart(later);
    let by_snapshot = day_after_restart(&mut b, later);
    assert!(by_log.0 == by_snapshot.0, "the state differs");
    assert_eq!(by_log.1.len(), by_snapshot.1.len(), "a different number of entries a day later");
    assert!(by_log.1 == by_snapshot.1, "different entries a day later");
    assert!(by_log.2 == by_snapshot.2, "different frames a day later");
    // The day did what the open work calls for: bravo's own deadline missed, alpha's receipt of
    // `lost` and acknowledgement of `unacked` missed.
    let misses: Vec<(NoticeId, DeadlineKind)> = by_snapshot
        .1
        .iter()
        .filter_map(|leaf| match decode_record(leaf) {
            Record::DeadlineMissed(DeadlineMissed { notice, deadline, .. }) => Some((notice, deadline)),
            _ => None,
        })
        .collect();
    for want in [(owed, DeadlineKind::Ack), (lost, DeadlineKind::Receipt), (unacked, DeadlineKind::Ack)] {
        assert!(misses.contains(&want), "{want:?} not missed in {misses:?}");
    }
}

/// Spec §6.12: a snapshot that is not this node's, or does not continue the log it is given
/// with, is refused as such (the log may be fine and is replayed instead); a damaged entry after
/// it is refused as a damaged log, never applied.
#[test]
fn a_snapshot_that_does_not_fit_the_log_is_refused() {
    let (mut a, mut b) = start_pair();
    a.node.send_notice(T0, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.sync();
    deliver_frames(&a.transmits(), &mut b, a.id(), T0 + 1);
    b.sync();
    b.save_snapshot();
    let (at, snapshot) = b.snapshot.clone().unwrap();
    b.node.checkpoint(T0 + 2);
    b.sync();
    let disk = b.disk.clone();
    let resume_on =
        |stored: &[Vec<u8>], snapshot: &[u8], before: Option<&[u8]>, tail: &[Vec<u8>], key: &str| {
            let history: Box<dyn hotline_proto::History> = Box::new(history_of(stored));
            Node::resume(test_key(key), roster(2), snapshot, before, tail, history, T0 + 10).map(|_| ())
        };
    let resume = |snapshot: &[u8], before: Option<&[u8]>, tail: &[Vec<u8>], key: &str| {
        resume_on(&disk, snapshot, before, tail, key)
    };
    assert!(resume(&snapshot, Some(&disk[at - 1]), &disk[at..], "bravo").is_ok());
    let refused =
        |r: Result<(), hotline_proto::StartError>| matches!(r, Err(hotline_proto::StartError::Snapshot(_)));
    // The open notice it names (bravo owes its acknowledgement) is read back from the history,
    // and checked: a damaged entry of it there makes the snapshot unusable, never applied.
    let accepted = (0..at)
        .find(|&i| matches!(decode_record(&disk[i]), Record::Accepted { .. }))
        .expect("bravo accepted the notice before the snapshot");
    let mut damaged = disk.clone();
    let n = damaged[accepted].len();
    damaged[accepted][n - 1] ^= 1;
    match resume_on(&damaged, &snapshot, Some(&disk[at - 1]), &disk[at..], "bravo") {
        Err(hotline_proto::StartError::Snapshot(e)) => {
            assert!(e.contains(&format!("entry {accepted} ")) && e.contains("signature"), "{e}")
        }
        other => panic!("a damaged history entry: {other:?}"),
    }
    // Another node's key.
    assert!(refused(resume(&snapshot, Some(&disk[at - 1]), &disk[at..], "alpha")));
    // A byte changed anywhere in it.
    for i in (0..snapshot.len()).step_by(97) {
        let mut bad = snapshot.clone();
        bad[i] ^= 0x40;
        assert!(refused(resume(&bad, Some(&disk[at - 1]), &disk[at..], "bravo")), "byte {i}");
    }
    // Not where the log says: another leaf before it.
    assert!(refused(resume(&snapshot, Some(&disk[at - 2]), &disk[at - 1..], "bravo")));
    assert!(refused(resume(&snapshot, None, &disk[at..], "bravo")));
    // A damaged entry after it: the log is refused, naming the entry.
    let mut tail = disk[at..].to_vec();
    let last = tail.len() - 1;
    let n = tail[last].len();
    tail[last][n - 3] ^= 1;
    match resume(&snapshot, Some(&disk[at - 1]), &tail, "bravo") {
        Err(hotline_proto::StartError::Log(e)) => assert_eq!(e.index, (disk.len() - 1) as u64),
        other => panic!("a damaged tail entry: {other:?}"),
    }
}

fn decode_record(leaf: &[u8]) -> Record {
    let signed: hotline_proto::wire::SignedEntry =
        hotline_proto::testing::codec::decode("leaf", leaf, 1 << 20).unwrap();
    hotline_proto::testing::codec::decode::<hotline_proto::LogEntry>("entry", &signed.entry, 1 << 20)
        .unwrap()
        .record
}

/// Alpha sends bravo a notice, bravo receipts it, and alpha signs a checkpoint that bravo
/// co-signs: bravo then holds alpha's signed checkpoint. Returns alpha's disk before the
/// checkpoint (an older backup) and the checkpoint's size.
fn cosigned_checkpoint(a: &mut Desk, b: &mut Desk, t: u64) -> (Vec<Vec<u8>>, u64) {
    a.node.send_notice(t, reply_draft(b.id(), Precedence::Routine)).unwrap();
    a.sync();
    deliver(a, b, t + 1);
    b.sync();
    let backup = a.disk.clone();
    deliver(b, a, t + 2);
    a.sync();
    let checkpoint = a.node.checkpoint(t + 3).unwrap();
    a.sync();
    deliver(a, b, t + 4);
    b.sync();
    deliver(b, a, t + 5);
    a.sync();
    assert!(a.node.cosigned_by_peers().contains(&(b.id(), checkpoint.size)), "bravo co-signed");
    (backup, checkpoint.size)
}

/// Bravo's heartbeat reaches alpha (alpha asks for it by reconnecting).
fn heartbeat_exchange(a: &mut Desk, b: &mut Desk, t: u64) {
    a.node.peer_reachable(t, b.id());
    a.sync();
    deliver(a, b, t);
    b.sync();
    let answer: Vec<Transmit> =
        b.transmits().into_iter().filter(|f| kinds(std::slice::from_ref(f)) == ["heartbeat"]).collect();
    deliver_frames(&answer, a, b.id(), t + 1);
    a.sync();
}

/// Spec §6.13: a node whose store was rolled back to an older backup learns it from the first
/// heartbeat of a peer that co-signed a later checkpoint (the peer shows the node's own signed
/// checkpoint), tells its operator, and from then on signs nothing: no notice, no receipt, no
/// checkpoint, no entry at all; heartbeats go on.
#[test]
fn a_store_rolled_back_to_an_older_backup_signs_nothing() {
    let (mut a, mut b) = start_pair();
    let (backup, size) = cosigned_checkpoint(&mut a, &mut b, T0);
    // An intact node hears its own checkpoint back: nothing happens.
    heartbeat_exchange(&mut a, &mut b, T0 + 100);
    assert!(a.node.rolled_back().is_none(), "an intact store was taken for a rolled-back one");

    a.disk = backup;
    a.restart_by_replay(T0 + 1_000);
    a.sync();
    a.events();
    assert!(a.node.log_len() <= size, "the backup holds the checkpoint");
    heartbeat_exchange(&mut a, &mut b, T0 + 1_100);
    let lost = *a.node.rolled_back().expect("the rollback is found");
    assert_eq!((lost.peer, lost.size), (b.id(), size));
    assert!(a.events().contains(&Event::RolledBack(lost)), "the operator is told");
    let entries = a.disk.len();
    assert!(matches!(
        a.node.send_notice(T0 + 1_200, reply_draft(b.id(), Precedence::Flash)),
        Err(CommandError::RolledBack(_))
    ));
    // A notice from bravo is neither logged nor receipted.
    b.node.send_notice(T0 + 1_300, reply_draft(a.id(), Precedence::Flash)).unwrap();
    b.sync();
    deliver(&mut b, &mut a, T0 + 1_301);
    a.sync();
    assert!(kinds(&a.transmits()).iter().all(|k| *k == "heartbeat"), "a rolled-back node signed a frame");
    // A day of timers: deadlines, link silence, link tests, checkpoints — nothing is logged.
    for hour in 0..24u64 {
        a.node.handle_timeout(T0 + 2_000 + hour * 3_600_000);
        a.sync();
        assert!(kinds(&a.transmits()).iter().all(|k| *k == "heartbeat"));
    }
    assert_eq!(a.disk.len(), entries, "a rolled-back node logged something");
    assert_eq!(a.node.checkpoint(T0 + 90_000_000).map(|c| c.size), a.node.checkpoint(T0).map(|c| c.size));
}

/// Spec §6.13: a rolled-back node that wrote past the lost checkpoint's size before hearing
/// from the peer is found all the same: its root at that size is not the one it signed.
#[test]
fn a_rolled_back_store_that_grew_again_is_found_by_its_root() {
    let (mut a, mut b) = start_pair();
    let (backup, size) = cosigned_checkpoint(&mut a, &mut b, T0);
    a.disk = backup;
    a.restart_by_replay(T0 + 1_000);
    for k in 0..size + 2 {
        a.node.send_notice(T0 + 1_001 + k, reply_draft(b.id(), Precedence::Routine)).unwrap();
    }
    a.sync();
    a.transmits();
    assert!(a.node.log_len() > size);
    heartbeat_exchange(&mut a, &mut b, T0 + 2_000);
    assert_eq!(a.node.rolled_back().map(|l| l.size), Some(size), "a forked store was not found");
}
