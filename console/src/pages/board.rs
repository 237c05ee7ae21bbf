//! The duty board: what I must do, most urgent first — acknowledge, release, what I wait for,
//! what was missed — and the link to every peer. Served whole at `/` and as the board alone at
//! `/board`, which the script fetches again at every event of the node.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hotline_node::api::{DirectionInfo, DraftInfo, Inbox, LinkInfo, NoticeInfo, Request, Status};
use hotline_proto::DeadlineKind;
use maud::{html, Markup};

use super::layout::{self, countdown, precedence, when, Tab};
use crate::i18n::s;
use crate::web::Officer;
use crate::App;

/// My latest notices the board reads for their missed deadlines.
const RECENT: usize = 10;
/// The most entries one section of the board shows, most urgent first; the rest are counted (a
/// board of ten thousand cards helps nobody, and would take the page seconds to draw).
pub const SHOWN: usize = 50;

/// The longest a board read from the node is shown again to another board without a new read,
/// when no event came in between (what only time changes — a link turning silent — is then at
/// most this late; countdowns tick in the page).
const FRESH: Duration = Duration::from_secs(1);

/// A read that began less than this long ago is shown again even if events came since: the page
/// asks for its board [`QUIET`] after the event that made it ask (`static/console.js`), so such a
/// read began after the console heard that event and includes it. However many boards are open
/// and however fast events come, the console then reads its node at most 25 times a second.
const COVERS: Duration = Duration::from_millis(40);
/// The page's wait between an event and its board's refresh (`QUIET` in `static/console.js`).
const QUIET: Duration = Duration::from_millis(50);
const _: () = assert!(COVERS.as_millis() < QUIET.as_millis());

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

/// The last read, shared by every board: a hundred boards refreshing at the same event cost the
/// node one read, not a hundred (the bench's "console" figures).
#[derive(Default)]
pub struct Shared {
    last: tokio::sync::Mutex<Option<Cached>>,
    /// Changes made through this console (a form posted): a read begun before one is never
    /// shown again, so the page an officer lands on after acting shows the act.
    acts: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// An officer changed something through this console.
    pub fn acted(&self) {
        self.acts.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    fn acts(&self) -> u64 {
        self.acts.load(std::sync::atomic::Ordering::Acquire)
    }
}

struct Cached {
    /// The node's event count when the read began: a later event makes it stale.
    generation: u64,
    /// [`Shared::acts`] when the read began.
    acts: u64,
    at: Instant,
    duties: Arc<Duties>,
}

/// The board's reading of the node, and the node's time now: a fresh read, or the last one if
/// it began less than [`COVERS`] ago, or if nothing happened since and it is younger than
/// [`FRESH`]. One read at a time: a board that asks while another's read is under way waits for
/// it and takes its answer.
async fn read(app: &App) -> Result<(Arc<Duties>, u64), String> {
    let mut shared = app.board.last.lock().await;
    let (generation, acts) = (app.node.generation(), app.board.acts());
    let usable = |c: &&Cached| {
        c.acts == acts && (c.at.elapsed() < COVERS || (c.generation == generation && c.at.elapsed() < FRESH))
    };
    if let Some(c) = shared.as_ref().filter(usable) {
        let age = u64::try_from(c.at.elapsed().as_millis()).unwrap_or(u64::MAX);
        return Ok((c.duties.clone(), c.duties.now.saturating_add(age)));
    }
    let at = Instant::now();
    let duties = Arc::new(fetch(app).await?);
    let now = duties.now;
    *shared = Some(Cached { generation, acts, at, duties: duties.clone() });
    Ok((duties, now))
}

async fn fetch(app: &App) -> Result<Duties, String> {
    let node = &app.node;
    let e = |e: crate::node::CallError| e.to_string();
    // Only what the board shows: what I owe (open work, in the node's memory), my latest notices
    // for their misses, and the notices I wait on (open work too), each read alone.
    let inbox: Inbox = node.call(Request::Inbox { limit: Some(0), since: None }).await.map_err(e)?;
    let status: Status = node.call(Request::Status {}).await.map_err(e)?;
    let drafts: Vec<DraftInfo> = node.call(Request::Drafts {}).await.map_err(e)?;
    let sent: Vec<NoticeInfo> =
        node.call(Request::Sent { limit: Some(RECENT), before: None, since: None }).await.map_err(e)?;
    // The awaited notices the board shows: from `sent` where it has them, the rest asked for.
    let mut awaited: BTreeMap<String, NoticeInfo> = BTreeMap::new();
    let mut wanted: Vec<String> = Vec::new();
    for a in status.awaiting.iter().take(SHOWN) {
        match sent.iter().find(|n| n.id == a.notice) {
            Some(n) => {
                awaited.insert(n.id.clone(), n.clone());
            }
            None if !wanted.contains(&a.notice) => wanted.push(a.notice.clone()),
            None => {}
        }
    }
    if !wanted.is_empty() {
        let more: Vec<NoticeInfo> = node.call(Request::Notices { notices: wanted }).await.map_err(e)?;
        awaited.extend(more.into_iter().map(|n| (n.id.clone(), n)));
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
    let (duties, now) = match read(app).await {
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
        div.board-grid data-now=(now) {
            @if let Some(e) = &duties.status.store_error { (layout::problem(&app.i18n.tr_args(lang, "store-error", &[("detail", s(e))]))) }
            @if let Some(e) = &duties.status.rolled_back { (layout::problem(e)) }
            section.duties #duty-ack aria-labelledby="h-ack" {
                h2 #h-ack { (t("board-ack")) " " span.count { (duties.inbox.awaiting_ack.len()) } }
                @if duties.inbox.awaiting_ack.is_empty() { p.quiet { (t("board-ack-none")) } }
                ol.cards {
                    @for n in duties.inbox.awaiting_ack.iter().take(SHOWN) { li { (ack_card(app, lang, n, now)) } }
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
                                (countdown(app, lang, notice.map_or(a.due_ms, |n| n.created_ms), a.due_ms, now)) }
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
                        @for l in &duties.status.links { (link_row(app, lang, l, now)) }
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
