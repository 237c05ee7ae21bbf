//! The frame of every page (header, navigation, alarm, language, the lost-node banner) and the
//! small pieces pages share: times with their date, precedences, countdowns, refusals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hotline_proto::Precedence;
use maud::{html, Markup, DOCTYPE};

use crate::i18n::{n, s};
use crate::web::Officer;
use crate::App;

/// Which page is open (for the navigation's `aria-current`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The duty board.
    Board,
    /// Composing.
    Compose,
    /// Drafts.
    Drafts,
    /// Hand-over.
    Handover,
    /// Anything else.
    Other,
}

/// A whole page for a logged-in officer.
pub fn page(app: &App, officer: &Officer, tab: Tab, title: &str, body: Markup) -> Markup {
    let lang = officer.session.language.as_str();
    let t = |id: &str| app.i18n.tr(lang, id);
    let nav = [
        (Tab::Board, "/", "nav-board", "b"),
        (Tab::Compose, "/compose", "nav-compose", "c"),
        (Tab::Drafts, "/drafts", "nav-drafts", "d"),
        (Tab::Handover, "/handover", "nav-handover", "h"),
    ];
    html! {
        (DOCTYPE)
        html lang=(lang) {
            (head(app, lang, title, true))
            body data-now=(hotline_node::now_ms()) data-lang=(lang) data-me=(app.me)
                data-alarm="disarmed" data-node=(if app.node.up() { "up" } else { "lost" }) {
                a.skip href="#main" { (t("skip-to-content")) }
                div #lost .banner role="alert" hidden[app.node.up()] data-console-lost=(t("lost-console")) {
                    strong { (t("lost-title")) } " " span #lost-reason { (t("lost-body")) }
                }
                header.top {
                    div.brand {
                        span.net { (t("app-name")) }
                        span.desk { (app.i18n.tr_args(lang, "desk-of", &[("node", s(&app.me)), ("network", s(&app.roster.network))])) }
                    }
                    nav aria-label=(t("nav-label")) {
                        ul {
                            @for (which, href, id, key) in nav {
                                li { a href=(href) accesskey=(key) aria-current=[(which == tab).then_some("page")] {
                                    (t(id)) " " kbd.key aria-hidden="true" { (key) }
                                } }
                            }
                        }
                    }
                    div.tools {
                        button #alarm type="button" aria-pressed="false" data-armed-text=(t("alarm-armed"))
                            data-disarmed-text=(t("alarm-disarmed")) data-muted-text=(t("alarm-muted")) {
                            (t("alarm-disarmed"))
                        }
                        span #alarm-state .sr-status role="status" aria-live="polite" {}
                        form.inline method="post" action="/language" {
                            (csrf(officer))
                            input type="hidden" name="back" value="";
                            label for="language" { (t("language")) }
                            select #language name="language" {
                                @for (code, _) in crate::i18n::LOCALES {
                                    option value=(code) selected[code == lang] { (t(&format!("language-{code}"))) }
                                }
                            }
                            button type="submit" { (t("language-set")) }
                        }
                        span.who { (app.i18n.tr_args(lang, "logged-in-as", &[("officer", s(&officer.session.call_sign))])) }
                        form.inline method="post" action="/logout" {
                            (csrf(officer))
                            button type="submit" { (t("logout")) }
                        }
                    }
                }
                div #cmdline-box hidden {
                    label for="cmdline" { (t("cmdline-label")) }
                    input #cmdline type="text" autocomplete="off" spellcheck="false" placeholder=(t("cmdline-hint"));
                }
                main #main tabindex="-1" {
                    @let now = utc(hotline_node::now_ms());
                    h1 data-printed=(app.i18n.tr_args(lang, "printed", &[("time", s(&now)), ("officer", s(&officer.session.call_sign)), ("node", s(&app.me))]))
                        data-printed-time=(now) { (title) }
                    (body)
                }
                footer.bottom {
                    p { (t("keyboard-help")) }
                }
            }
        }
    }
}

/// The `<head>` of every page: its title with the desk's name, the stylesheet, and the script
/// where the page is live.
pub fn head(app: &App, lang: &str, title: &str, script: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " — " (app.me) " · " (app.i18n.tr(lang, "app-name")) }
            link rel="stylesheet" href="/static/console.css";
            @if script { script src="/static/console.js" defer {} }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(officer: &Officer) -> Markup {
    html! { input type="hidden" name="csrf" value=(officer.session.csrf); }
}

/// A page with only a message, for refusals (and the status it is served with).
pub fn refusal(app: &App, lang: &str, status: StatusCode, message: &str) -> Response {
    let t = |id: &str| app.i18n.tr(lang, id);
    let page = html! {
        (DOCTYPE)
        html lang=(lang) {
            (head(app, lang, &t("refused-title"), false))
            body {
                main #main.narrow {
                    h1 { (t("refused-title")) }
                    p.error role="alert" { (message) }
                    p { a href="/" { (t("back-to-board")) } }
                }
            }
        }
    };
    (status, page).into_response()
}

/// A time with its date, in UTC, in a `<time>` element.
pub fn when(ms: u64) -> Markup {
    html! { time datetime=(hotline_proto::utc::rfc3339_ms(ms)) { (utc(ms)) } }
}

/// `2026-12-07 14:05:09 UTC`.
pub fn utc(ms: u64) -> String {
    hotline_proto::utc::utc_seconds(ms).replace('T', " ").replace('Z', " UTC")
}

/// A precedence as a badge: its name in words, never only a colour.
pub fn precedence(app: &App, lang: &str, p: Precedence) -> Markup {
    let class = format!("prec prec-{}", p.name().to_lowercase());
    html! { span class=(class) { (app.i18n.tr(lang, &format!("precedence-{}", p.name().to_lowercase()))) } }
}

/// A live countdown to `due_ms`, for a window that opened at `start_ms`: the script ages it
/// (amber from 80 % of the window, red once passed) and says so in words.
pub fn countdown(app: &App, lang: &str, start_ms: u64, due_ms: u64, now_ms: u64) -> Markup {
    let left = i64::try_from(due_ms).unwrap_or(i64::MAX) - i64::try_from(now_ms).unwrap_or(i64::MAX);
    let window = due_ms.saturating_sub(start_ms).max(1);
    let elapsed = now_ms.saturating_sub(start_ms);
    let state = if left < 0 {
        "over"
    } else if elapsed * 5 >= window * 4 {
        "warn"
    } else {
        "ok"
    };
    let words = span_words(app, lang, left);
    html! {
        span.countdown data-due=(due_ms) data-start=(start_ms) data-state=(state)
            data-left-text=(app.i18n.tr(lang, "countdown-left")) data-over-text=(app.i18n.tr(lang, "countdown-over"))
            data-warn-label=(app.i18n.tr(lang, "state-warn")) data-over-label=(app.i18n.tr(lang, "state-over")) {
            span.label { @if state == "over" { (app.i18n.tr(lang, "state-over")) } @else if state == "warn" { (app.i18n.tr(lang, "state-warn")) } }
            " "
            span.left { (words) }
        }
    }
}

/// "4 min 10 s left" or "overdue by 2 min".
pub fn span_words(app: &App, lang: &str, left_ms: i64) -> String {
    let text = hotline_node::cli::left(left_ms.abs());
    if left_ms < 0 {
        app.i18n.tr_args(lang, "countdown-over-by", &[("span", s(&text))])
    } else {
        app.i18n.tr_args(lang, "countdown-left-of", &[("span", s(&text))])
    }
}

/// What an action addressee owes at `p` on this network, in the first person of the recipient.
pub fn duty(app: &App, lang: &str, p: Precedence) -> String {
    let d = app.roster.policy.deadlines(p);
    app.i18n.tr_args(
        lang,
        "duty-of-precedence",
        &[
            ("precedence", s(&app.i18n.tr(lang, &format!("precedence-{}", p.name().to_lowercase())))),
            ("ack", s(&hotline_node::cli::span(d.ack_ms))),
            ("receipt", s(&hotline_node::cli::span(d.receipt_ms))),
        ],
    )
}

/// The precedences, most urgent first.
pub const PRECEDENCES: [Precedence; 4] =
    [Precedence::Flash, Precedence::Immediate, Precedence::Priority, Precedence::Routine];

/// The roster's languages, the officer's first: the order texts are shown and asked in.
pub fn languages(app: &App, lang: &str) -> Vec<String> {
    let mut all = app.roster.policy.required_languages.clone();
    if all.is_empty() {
        all.push(lang.to_string());
    }
    all.sort_by_key(|l| l != lang);
    all
}

/// An error message for the officer, next to what it is about.
pub fn problem(text: &str) -> Markup {
    html! { p.error role="alert" { (text) } }
}

/// A number of things, in words.
pub fn count(app: &App, lang: &str, id: &str, count: usize) -> String {
    app.i18n.tr_args(lang, id, &[("count", n(count as f64))])
}

/// A notice's one line in the officer's language where it carries one (its summary, reply or
/// note), else the node's headline (its first language).
pub fn headline(lang: &str, body: &hotline_proto::Body, fallback: &str) -> String {
    use hotline_proto::Body;
    let texts = match body {
        Body::Incident(i) => &i.summary,
        Body::Reply(t) | Body::Clarification(t) => t,
        Body::Codebook(_) => return fallback.to_string(),
    };
    match texts.iter().find(|t| t.lang == lang) {
        Some(t) => {
            let mut line: String = t.text.chars().take(96).collect();
            if t.text.chars().count() > 96 {
                line.push('…');
            }
            line
        }
        None => fallback.to_string(),
    }
}
