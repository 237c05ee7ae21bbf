//! The duty board: what I must do, most urgent first — acknowledge, release, what I wait for,
//! what was missed — and the link to every peer. Served whole at `/` and as the board alone at
//! `/board`, which the script fetches again at every event of the node.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hotline_node::api::{DirectionInfo, DraftInfo, Inbox, LinkInfo, NoticeInfo, Request, Status, Thread};
use hotline_proto::DeadlineKind;
use maud::{html, Markup};

use super::layout::{self, countdown, precedence, when, Tab};
use crate::i18n::s;
use crate::web::Officer;
use crate::App;

/// The notices the board lists besides those awaiting acknowledgement (their misses, at most).
const RECENT: usize = 30;
/// The most entries one section of the board shows, most urgent first; the rest are counted (a
/// board of ten thousand cards helps nobody, and would take the page seconds to draw).
pub const SHOWN: usize = 50;

/// What the board shows, read from the node in one go.
struct Duties {
    now: u64,
    inbox: Inbox,
    status: Status,
    drafts: Vec<DraftInfo>,
    sent: Vec<NoticeInfo>,
    /// The notices the node waits on, by id, for their precedence and creation time.
    awaited: BTreeMap<String, NoticeInfo>,
}

async fn read(app: &App) -> Result<Duties, String> {
    let node = &app.node;
    let inbox: Inbox = node.call(Request::Inbox { limit: Some(RECENT) }).await.map_err(|e| e.to_string())?;
    let status: Status = node.call(Request::Status {}).await.map_err(|e| e.to_string())?;
    let drafts: Vec<DraftInfo> = node.call(Request::Drafts {}).await.map_err(|e| e.to_string())?;
    let sent: Vec<NoticeInfo> =
        node.call(Request::Sent { limit: Some(RECENT), before: None }).await.map_err(|e| e.to_string())?;
    let mut awaited: BTreeMap<String, NoticeInfo> = BTreeMap::new();
    for a in &status.awaiting {
        if awaited.contains_key(&a.notice) || awaited.len() >= 64 {
            continue;
        }
        if let Some(n) = sent.iter().find(|n| n.id == a.notice) {
            awaited.insert(a.notice.clone(), n.clone());
        } else if let Ok(thread) = node.call::<Thread>(Request::Show { notice: a.notice.clone() }).await {
            if let Some(n) = thread.notices.into_iter().find(|n| n.id == a.notice) {
                awaited.insert(a.notice.clone(), n);
            }
        }
    }
    Ok(Duties { now: status.now_ms, inbox, status, drafts, sent, awaited })
}

/// `/`: the board in its page.
pub async fn page(State(app): State<Arc<App>>, officer: Officer) -> Response {
    let lang = officer.session.language.clone();
    let board = board(&app, &officer, &lang).await;
    let title = app.i18n.tr(&lang, "board-title");
    let body = html! {
        (arm_prompt(&app, &lang))
        div #board aria-live="off" { (board) }
    };
    layout::page(&app, &officer, Tab::Board, &title, body).into_response()
}

/// `/board`: the board alone, for the script's refresh.
pub async fn fragment(State(app): State<Arc<App>>, officer: Officer) -> Response {
    let lang = officer.session.language.clone();
    board(&app, &officer, &lang).await.into_response()
}

/// The prompt to arm the alarm, shown until it is armed (browsers play sound only after a
/// gesture of the officer's).
fn arm_prompt(app: &App, lang: &str) -> Markup {
    html! {
        div #arm-prompt .notice-box role="note" {
            p { (app.i18n.tr(lang, "alarm-prompt")) }
            button #arm type="button" { (app.i18n.tr(lang, "alarm-arm")) }
        }
    }
}

async fn board(app: &App, officer: &Officer, lang: &str) -> Markup {
    let t = |id: &str| app.i18n.tr(lang, id);
    let duties = match read(app).await {
        Ok(d) => d,
        Err(e) => {
            return html! {
                section.duties aria-labelledby="h-node" {
                    h2 #h-node { (t("board-node-unreachable")) }
                    (layout::problem(&e))
                }
            }
        }
    };
    let me = &officer.session.call_sign;
    let (to_release, mine): (Vec<&DraftInfo>, Vec<&DraftInfo>) =
        duties.drafts.iter().partition(|d| &d.drafted_by != me);
    let misses = misses(&duties.sent);
    html! {
        div.board-grid data-now=(duties.now) {
            @if let Some(e) = &duties.status.store_error { (layout::problem(&app.i18n.tr_args(lang, "store-error", &[("detail", s(e))]))) }
            @if let Some(e) = &duties.status.rolled_back { (layout::problem(e)) }
            section.duties #duty-ack aria-labelledby="h-ack" {
                h2 #h-ack { (t("board-ack")) " " span.count { (duties.inbox.awaiting_ack.len()) } }
                @if duties.inbox.awaiting_ack.is_empty() { p.quiet { (t("board-ack-none")) } }
                ol.cards {
                    @for n in duties.inbox.awaiting_ack.iter().take(SHOWN) { li { (ack_card(app, lang, n, duties.now)) } }
                }
                (more(app, lang, duties.inbox.awaiting_ack.len()))
            }
            @if !to_release.is_empty() || !mine.is_empty() {
                section.duties #duty-release aria-labelledby="h-release" {
                    h2 #h-release { (t("board-release")) " " span.count { (to_release.len()) } }
                    ol.cards {
                        @for d in &to_release {
                            li { div.card.card-release data-draft=(d.draft) {
                                p.line { (precedence(app, lang, d.send.precedence)) " "
                                    (app.i18n.tr_args(lang, "release-duty", &[("draft", s(&d.draft.to_string())), ("officer", s(&d.drafted_by)), ("to", s(&d.send.to.join(", ")))])) }
                                p.headline { (layout::headline(lang, &d.send.body, &d.headline)) }
                                a href="/drafts" { (t("release-open")) }
                            } }
                        }
                        @for d in &mine {
                            li { div.card.card-mine data-draft=(d.draft) {
                                p.line { (precedence(app, lang, d.send.precedence)) " "
                                    (app.i18n.tr_args(lang, "release-waiting", &[("draft", s(&d.draft.to_string())), ("to", s(&d.send.to.join(", ")))])) }
                                p.headline { (layout::headline(lang, &d.send.body, &d.headline)) }
                            } }
                        }
                    }
                }
            }
            section.duties #duty-wait aria-labelledby="h-wait" {
                h2 #h-wait { (t("board-waiting")) " " span.count { (duties.status.awaiting.len()) } }
                @if duties.status.awaiting.is_empty() { p.quiet { (t("board-waiting-none")) } }
                ol.cards {
                    @for a in duties.status.awaiting.iter().take(SHOWN) {
                        li { div.card.card-wait data-notice=(a.notice) {
                            @let notice = duties.awaited.get(&a.notice);
                            p.line {
                                @if let Some(n) = notice { (precedence(app, lang, n.precedence)) " " }
                                (app.i18n.tr_args(lang, match a.awaiting { DeadlineKind::Receipt => "wait-receipt", DeadlineKind::Ack => "wait-ack" },
                                    &[("party", s(&a.party)), ("notice", s(&a.notice))]))
                            }
                            p.due { (t("due")) " " (when(a.due_ms)) " · "
                                (countdown(app, lang, notice.map_or(a.due_ms, |n| n.created_ms), a.due_ms, duties.now)) }
                            @if let Some(n) = notice { p.headline { a href=(notice_href(&n.id)) { (layout::headline(lang, &n.body, &n.headline)) } } }
                        } }
                    }
                }
                (more(app, lang, duties.status.awaiting.len()))
            }
            section.duties #duty-missed aria-labelledby="h-missed" {
                h2 #h-missed { (t("board-missed")) " " span.count { (misses.len()) } }
                @if misses.is_empty() { p.quiet { (t("board-missed-none")) } }
                ol.cards {
                    @for (n, party, kind) in &misses {
                        li { div.card.card-missed data-notice=(n.id) {
                            p.line { (precedence(app, lang, n.precedence)) " "
                                span.state-word { (t("state-missed")) } " "
                                (app.i18n.tr_args(lang, match kind { DeadlineKind::Receipt => "missed-receipt", DeadlineKind::Ack => "missed-ack" },
                                    &[("party", s(party)), ("notice", s(&n.id))])) }
                            p.headline { a href=(notice_href(&n.id)) { (layout::headline(lang, &n.body, &n.headline)) } }
                        } }
                    }
                }
            }
            section.links aria-labelledby="h-links" {
                h2 #h-links { (t("board-links")) }
                table.links {
                    thead { tr { th scope="col" { (t("link-peer")) } th scope="col" { (t("link-state")) } th scope="col" { (t("link-since")) } th scope="col" { (t("link-why")) } } }
                    tbody {
                        @for l in &duties.status.links { (link_row(app, lang, l, duties.now)) }
                    }
                }
                p.quiet { (app.i18n.tr_args(lang, "fingerprint", &[("words", s(&duties.status.fingerprint))])) }
            }
        }
    }
}

/// "… and N more" under a section cut at [`SHOWN`].
fn more(app: &App, lang: &str, total: usize) -> Markup {
    html! { @if total > SHOWN { p.quiet.more { (layout::count(app, lang, "board-more", total - SHOWN)) } } }
}

/// Every miss among recent notices I sent: (notice, party, which deadline).
fn misses(sent: &[NoticeInfo]) -> Vec<(&NoticeInfo, String, DeadlineKind)> {
    let mut out = Vec::new();
    for n in sent {
        if let DirectionInfo::Sent { parties } = &n.direction {
            for p in parties {
                if p.receipt_missed {
                    out.push((n, p.name.clone(), DeadlineKind::Receipt));
                }
                if p.ack_missed {
                    out.push((n, p.name.clone(), DeadlineKind::Ack));
                }
            }
        }
    }
    out
}

/// The link to a notice's page.
pub fn notice_href(id: &str) -> String {
    format!("/notice/{id}")
}

fn ack_card(app: &App, lang: &str, n: &NoticeInfo, now: u64) -> Markup {
    let overdue = matches!(n.direction, DirectionInfo::Received { overdue: true, .. });
    let due = match &n.direction {
        DirectionInfo::Received { ack_left_ms, .. } => {
            u64::try_from(i64::try_from(now).unwrap_or(i64::MAX).saturating_add(*ack_left_ms)).unwrap_or(0)
        }
        DirectionInfo::Sent { .. } => n.ack_due_ms,
    };
    html! {
        div.card.card-ack data-notice=(n.id) data-precedence=(n.precedence.name().to_lowercase()) {
            p.line {
                (precedence(app, lang, n.precedence)) " "
                @if overdue { span.state-word { (app.i18n.tr(lang, "state-missed")) } " " }
                (app.i18n.tr_args(lang, if overdue { "ack-duty-late" } else { "ack-duty" }, &[("notice", s(&n.id)), ("from", s(&n.from))]))
            }
            p.headline { (layout::headline(lang, &n.body, &n.headline)) }
            p.due { (app.i18n.tr(lang, "due")) " " (when(due)) " · " (countdown(app, lang, n.created_ms.min(due), due, now)) }
            p { a.action href=(notice_href(&n.id)) { (app.i18n.tr(lang, "ack-open")) } }
        }
    }
}

fn link_row(app: &App, lang: &str, l: &LinkInfo, now: u64) -> Markup {
    let t = |id: &str| app.i18n.tr(lang, id);
    let (state, since) = if !l.heard {
        ("unheard", None)
    } else if !l.up {
        ("down", Some(l.last_heard_ms))
    } else if l.silent_ms > app.roster.policy.heartbeat_interval_ms.saturating_mul(3) {
        ("silent", Some(l.last_heard_ms))
    } else {
        ("up", None)
    };
    let mut why = Vec::new();
    if let Some(r) = &l.last_refusal {
        why.push(app.i18n.tr_args(lang, "link-refused", &[("code", s(&r.code)), ("detail", s(&r.detail))]));
    }
    if let Some(offset) = l.clock_offset_ms {
        why.push(app.i18n.tr_args(lang, "link-skew", &[("offset", s(&hotline_node::cli::left(offset)))]));
    }
    if l.unreceipted > 0 {
        why.push(layout::count(app, lang, "link-unreceipted", l.unreceipted));
    }
    html! {
        tr data-peer=(l.peer) data-state=(state) {
            th scope="row" { (l.peer) }
            td { span class=(format!("link link-{state}")) { (t(&format!("link-state-{state}"))) } }
            td { @if let Some(ms) = since { (when(ms)) " (" (app.i18n.tr_args(lang, "ago", &[("span", s(&hotline_node::cli::left(i64::try_from(now.saturating_sub(ms)).unwrap_or(i64::MAX))))])) ")" } @else { "—" } }
            td { (why.join("; ")) }
        }
    }
}
