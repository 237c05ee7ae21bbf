//! The shift hand-over: what happened since a time — received, sent, acknowledged, missed, links
//! down — on one printable page. Bounded: the node is asked only for what was logged in the span
//! and one acknowledgement window before it (what was received or sent just before the span can be
//! acknowledged or missed in it), and for at most [`LIMIT`] notices each way (the page says when
//! there were more).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use hotline_node::api::{DirectionInfo, Inbox, NoticeInfo, Request, Status};
use maud::{html, Markup};

use super::board::notice_href;
use super::layout::{self, precedence, when, Tab};
use crate::i18n::s;
use crate::web::{Officer, Since};
use crate::App;

/// Notices read each way at most. Every entry read from the store has its signature checked
/// (spec §6.11: the disk can lie), about 0.4 ms for an acknowledged notice, so
/// this keeps the page within 100 ms (`hotline bench --only console`); a busier span is cut, and
/// the page says so.
pub const LIMIT: usize = 80;
/// The default span of a hand-over: one watch.
const DEFAULT_HOURS: u64 = 8;

/// `since`: `HH:MM` (UTC: today's, or yesterday's if that is still to come), an RFC 3339 time
/// ([`hotline_node::cli::watch_time`]), or nothing (8 hours ago).
pub fn since_ms(text: Option<&str>, now: u64) -> Result<u64, ()> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(now.saturating_sub(DEFAULT_HOURS * 3_600_000)),
        Some(text) => hotline_node::cli::watch_time(text, now).ok_or(()),
    }
}

/// `GET /handover?since=HH:MM`.
pub async fn page(State(app): State<Arc<App>>, officer: Officer, Query(q): Query<Since>) -> Response {
    let lang = officer.session.language.clone();
    let t = |id: &str| app.i18n.tr(&lang, id);
    let now = hotline_node::now_ms();
    let since = since_ms(q.since.as_deref(), now);
    let from = since.unwrap_or_else(|()| now.saturating_sub(DEFAULT_HOURS * 3_600_000));
    let policy = &app.roster.policy;
    let window =
        hotline_proto::Precedence::ALL.iter().map(|p| policy.deadlines(*p).ack_ms).max().unwrap_or(0);
    let read_since = Some(from.saturating_sub(window));
    let read = async {
        let inbox: Inbox = app.node.call(Request::Inbox { limit: Some(LIMIT), since: read_since }).await?;
        let sent: Vec<NoticeInfo> =
            app.node.call(Request::Sent { limit: Some(LIMIT), before: None, since: read_since }).await?;
        let status: Status = app.node.call(Request::Status {}).await?;
        Ok::<_, crate::node::CallError>((inbox, sent, status))
    };
    let body = match read.await {
        Err(e) => layout::problem(&e.to_string()),
        Ok((inbox, sent, status)) => report(&app, &lang, from, &inbox, &sent, &status),
    };
    let shown = q.since.clone().unwrap_or_default();
    let title = app.i18n.tr_args(&lang, "handover-title", &[("since", s(&layout::utc(from)))]);
    let page = html! {
        form.no-print method="get" action="/handover" {
            label for="since" { (t("handover-since")) }
            input #since name="since" type="text" value=(shown) placeholder="06:00" aria-describedby="since-help";
            button type="submit" { (t("handover-show")) }
            button type="button" data-print="" { (t("print")) }
            p.help #since-help { (t("handover-since-help")) }
            @if since.is_err() { (layout::problem(&t("error-since"))) }
        }
        (body)
    };
    layout::page(&app, &officer, Tab::Handover, &title, page).into_response()
}

fn report(app: &App, lang: &str, from: u64, inbox: &Inbox, sent: &[NoticeInfo], status: &Status) -> Markup {
    let t = |id: &str| app.i18n.tr(lang, id);
    // Newest first, as many as the page lists (the awaiting ones may be many more).
    let mut received: Vec<&NoticeInfo> =
        inbox.awaiting_ack.iter().chain(&inbox.other).filter(|n| n.logged_ms >= from).collect();
    received.sort_by_key(|n| std::cmp::Reverse(n.logged_ms));
    let sent_here: Vec<&NoticeInfo> = sent.iter().filter(|n| n.logged_ms >= from).collect();
    let acked: Vec<(&NoticeInfo, &hotline_proto::AckView)> = inbox
        .awaiting_ack
        .iter()
        .chain(&inbox.other)
        .filter_map(|n| match &n.direction {
            DirectionInfo::Received { own_ack: Some(a), .. } if a.acked_ms >= from => Some((n, a)),
            _ => None,
        })
        .collect();
    let mut missed: Vec<String> = Vec::new();
    for n in sent.iter().filter(|n| n.receipt_due_ms >= from) {
        if let DirectionInfo::Sent { parties } = &n.direction {
            for p in parties {
                if p.receipt_missed {
                    missed.push(app.i18n.tr_args(
                        lang,
                        "missed-receipt",
                        &[("party", s(&p.name)), ("notice", s(&n.id))],
                    ));
                }
                if p.ack_missed {
                    missed.push(app.i18n.tr_args(
                        lang,
                        "missed-ack",
                        &[("party", s(&p.name)), ("notice", s(&n.id))],
                    ));
                }
            }
        }
    }
    for n in inbox.awaiting_ack.iter().chain(&inbox.other).filter(|n| n.ack_due_ms >= from) {
        if let DirectionInfo::Received { overdue: true, .. } = n.direction {
            missed.push(app.i18n.tr_args(lang, "missed-mine", &[("notice", s(&n.id)), ("from", s(&n.from))]));
        }
    }
    let more = inbox.more || sent.len() >= LIMIT || received.len() > LIMIT;
    missed.truncate(LIMIT);
    let row = |n: &NoticeInfo| {
        html! {
            tr { td { (when(n.logged_ms)) } td { (precedence(app, lang, n.precedence)) } td { a href=(notice_href(&n.id)) { (n.id) } }
                 td { (n.from) } td { (n.to.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")) } td { (layout::headline(lang, &n.body, &n.headline)) } }
        }
    };
    let head = html! { thead { tr { th scope="col" { (t("time")) } th scope="col" { (t("precedence")) } th scope="col" { (t("notice")) } th scope="col" { (t("notice-from")) } th scope="col" { (t("notice-to")) } th scope="col" { (t("headline")) } } } };
    html! {
        section.handover {
            p { (app.i18n.tr_args(lang, "handover-desk", &[("node", s(&app.me)), ("now", s(&layout::utc(status.now_ms)))])) }
            @if more { p.quiet { (t("handover-more")) } }
            h2 { (t("handover-received")) " (" (received.len()) ")" }
            @if received.is_empty() { p.quiet { (t("none")) } } @else { table { (head.clone()) tbody { @for n in received.iter().take(LIMIT) { (row(n)) } } } }
            h2 { (t("handover-sent")) " (" (sent_here.len()) ")" }
            @if sent_here.is_empty() { p.quiet { (t("none")) } } @else { table { (head) tbody { @for n in &sent_here { (row(n)) } } } }
            h2 { (t("handover-acked")) " (" (acked.len()) ")" }
            @if acked.is_empty() { p.quiet { (t("none")) } }
            ul { @for (n, a) in &acked { li { (when(a.acked_ms)) " " a href=(notice_href(&n.id)) { (n.id) } " — " (t(&format!("disposition-{}", super::notice::disposition(a.disposition)))) " · " (a.operator) } } }
            h2 { (t("handover-missed")) " (" (missed.len()) ")" }
            @if missed.is_empty() { p.quiet { (t("none")) } }
            ul { @for m in &missed { li { span.state-word { (t("state-missed")) } " " (m) } } }
            h2 { (t("handover-links")) }
            ul {
                @for l in &status.links {
                    li {
                        strong { (l.peer) } ": "
                        @if !l.up { span.state-word { (t("link-state-down")) } " " (app.i18n.tr_args(lang, "handover-link-down", &[("since", s(&layout::utc(l.last_heard_ms)))])) }
                        @else { (t("link-state-up")) }
                        @if let Some((down, up)) = l.last_outage_ms { @if up >= from { " · " (app.i18n.tr_args(lang, "handover-outage", &[("from", s(&layout::utc(down))), ("to", s(&layout::utc(up)))])) } }
                    }
                }
            }
            h2 { (t("handover-open")) }
            p { (layout::count(app, lang, "handover-open-ack", inbox.awaiting_ack.len())) " · " (layout::count(app, lang, "handover-open-wait", status.awaiting.len())) " · " (layout::count(app, lang, "handover-open-drafts", status.drafts)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_a_watch_time_of_today_or_yesterday() {
        let now = 1_794_722_400_000 + 10 * 3_600_000; // 2026-11-15 16:00 UTC
        let day = 1_794_722_400_000 - 6 * 3_600_000;
        assert_eq!(since_ms(Some("06:00"), now), Ok(day + 6 * 3_600_000));
        assert_eq!(since_ms(Some("20:00"), now), Ok(day - 4 * 3_600_000), "not yet today: yesterday's");
        assert_eq!(since_ms(None, now), Ok(now - 8 * 3_600_000));
        assert_eq!(since_ms(Some("2026-11-15T06:00:00Z"), now), Ok(1_794_722_400_000));
        assert!(since_ms(Some("25:00"), now).is_err());
        assert!(since_ms(Some("soon"), now).is_err());
    }
}
