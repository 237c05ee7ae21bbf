//! A notice and its thread: every field, every language side by side (mine first), the
//! attachments with a drop-a-file check, each party's receipt and acknowledgement; and the forms
//! to acknowledge it and to reply in its thread.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hotline_node::api::{DirectionInfo, NoticeInfo, NoticeRef, Request, SendRequest, Status, Thread};
use hotline_proto::{Body, Disposition, LangText, Precedence};
use maud::{html, Markup};
use serde_json::Value;

use super::layout::{self, countdown, csrf, precedence, when, Tab, PRECEDENCES};
use super::Sent;
use crate::form::Input;
use crate::i18n::s;
use crate::web::{self, field, Officer, Posted};
use crate::App;

/// The dispositions an officer may give.
pub const DISPOSITIONS: [Disposition; 4] =
    [Disposition::Understood, Disposition::Investigating, Disposition::ActionTaken, Disposition::Disputed];

/// What a page says after an action.
#[derive(serde::Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /notice/{sender}/{seq}`.
pub async fn page(
    State(app): State<Arc<App>>,
    officer: Officer,
    path: Path<(String, u64)>,
    Query(done): Query<Done>,
) -> Response {
    let id = web::notice_name(&path);
    let message = done.done.as_deref().map(|d| match d {
        "ack" => app.i18n.tr(&officer.session.language, "done-ack"),
        "reply" => app.i18n.tr(&officer.session.language, "done-reply"),
        _ => String::new(),
    });
    show(&app, &officer, &id, message.as_deref(), None, &[]).await
}

async fn show(
    app: &App,
    officer: &Officer,
    id: &str,
    done: Option<&str>,
    refused: Option<String>,
    fields: &[(String, String)],
) -> Response {
    let lang = officer.session.language.as_str();
    let thread: Thread = match app.node.call(Request::Show { notice: id.to_string() }).await {
        Ok(t) => t,
        Err(e) => return layout::refusal(app, lang, StatusCode::NOT_FOUND, &e.to_string()),
    };
    let status: Option<Status> = app.node.call(Request::Status {}).await.ok();
    let now = status.as_ref().map_or_else(hotline_node::now_ms, |s| s.now_ms);
    let Some(notice) = thread.notices.iter().find(|n| n.id == id) else {
        return layout::refusal(app, lang, StatusCode::NOT_FOUND, &app.i18n.tr(lang, "error-not-found"));
    };
    let title = app.i18n.tr_args(
        lang,
        "notice-title",
        &[("notice", s(id)), ("kind", s(&app.i18n.tr(lang, &format!("kind-{}", notice.kind.name()))))],
    );
    let second = status.as_ref().map(|s| s.second_officer.clone()).unwrap_or_default();
    let body = html! {
        @if let Some(d) = done { p.done role="status" { (d) } }
        @if let Some(m) = &refused { (layout::problem(m)) }
        (one(app, lang, notice, now, true))
        @if let DirectionInfo::Received { needs_ack: true, acked: false, .. } = &notice.direction {
            (ack_form(app, officer, notice, fields))
        }
        @if notice.from != app.me {
            (reply_form(app, officer, notice, &second, fields))
        }
        @if thread.notices.len() > 1 {
            section.thread aria-labelledby="h-thread" {
                h2 #h-thread { (app.i18n.tr(lang, "thread-title")) " " (thread.thread) }
                ol.thread {
                    @for n in &thread.notices {
                        li aria-current=[(n.id == id).then_some("true")] {
                            @if n.id == id { p.here { (app.i18n.tr(lang, "thread-this")) " — " (n.id) } }
                            @else { (one(app, lang, n, now, false)) }
                        }
                    }
                }
            }
        }
    };
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, layout::page(app, officer, Tab::Other, &title, body)).into_response()
}

/// One notice: its header, its content, and what each party did with it.
fn one(app: &App, lang: &str, n: &NoticeInfo, now: u64, open: bool) -> Markup {
    let t = |id: &str| app.i18n.tr(lang, id);
    html! {
        article.notice data-notice=(n.id) {
            header.notice-head {
                p.line {
                    (precedence(app, lang, n.precedence)) " "
                    @if open { strong { (n.id) } } @else { a href=(super::board::notice_href(&n.id)) { (n.id) } }
                    " · " (t(&format!("kind-{}", n.kind.name())))
                }
                dl.meta {
                    dt { (t("notice-from")) } dd { (n.from) }
                    dt { (t("notice-to")) } dd { @for (i, a) in n.to.iter().enumerate() { @if i > 0 { ", " } (a.name) " (" (t(&format!("role-{}", role(a.role)))) ")" } }
                    dt { (t("notice-created")) } dd { (when(n.created_ms)) }
                    dt { (t("notice-logged")) } dd { (when(n.logged_ms)) }
                    dt { (t("notice-ack-due")) } dd { (when(n.ack_due_ms)) }
                    @if let Some(r) = &n.in_reply_to { dt { (t("notice-in-reply-to")) } dd { a href=(super::board::notice_href(r)) { (r) } } }
                    dt { (t("notice-hash")) } dd { code.hash { (n.hash) } }
                }
            }
            @if open { (content(app, lang, &n.body)) } @else { p.headline { (layout::headline(lang, &n.body, &n.headline)) } }
            (delivery(app, lang, n, now))
        }
    }
}

fn role(r: hotline_proto::Role) -> &'static str {
    match r {
        hotline_proto::Role::Action => "action",
        hotline_proto::Role::Info => "info",
    }
}

/// The texts of one field side by side: the officer's language first, then the others the
/// notice carries (every one, whether or not the network requires it).
fn texts(app: &App, lang: &str, list: &[LangText]) -> Markup {
    let mut list: Vec<&LangText> = list.iter().collect();
    list.sort_by_key(|t| t.lang != lang);
    html! {
        @if list.is_empty() { span.quiet { (app.i18n.tr(lang, "none")) } }
        div.side-by-side {
            @for t in list {
                div.lang-text lang=(t.lang) {
                    span.lang-tag { (t.lang) }
                    p.text { (t.text) }
                }
            }
        }
    }
}

/// A notice's whole content, every field labelled in the officer's language.
pub fn content(app: &App, lang: &str, body: &Body) -> Markup {
    let t = |id: &str| app.i18n.tr(lang, id);
    match body {
        Body::Incident(i) => {
            let value = serde_json::to_value(i).unwrap_or(Value::Null);
            let form = crate::form::Form::incident();
            html! {
                @match form {
                    Ok(form) => { dl.incident { @for (name, input) in form.fields() { (field_view(app, lang, name, input, &value[name.as_str()])) } } }
                    Err(e) => { (layout::problem(&e.to_string())) }
                }
                (attachment_check(app, lang, &i.attachments))
            }
        }
        Body::Reply(x) | Body::Clarification(x) => html! { section.content { (texts(app, lang, x)) } },
        Body::Codebook(c) => {
            let entry = app.roster.policy.code(c.number);
            html! {
                dl.incident {
                    dt { (t("code-word")) } dd { strong { (c.word) } " (" (c.number) ")" }
                    dt { (t("code-meaning")) } dd { @match entry { Some(e) => { (texts(app, lang, &e.meaning)) } None => { (t("code-unknown")) } } }
                    dt { (t("code-note")) } dd { (texts(app, lang, &c.note)) }
                }
                (attachment_check(app, lang, &c.attachments))
            }
        }
    }
}

/// One field of an incident, labelled in the officer's language.
fn field_view(app: &App, lang: &str, name: &str, input: &Input, value: &Value) -> Markup {
    let label = app.i18n.tr(lang, &format!("field-{}", name.replace('_', "-")));
    let value_label = |v: &str| app.i18n.tr(lang, &format!("value-{}", v.replace('_', "-")));
    html! {
        dt { (label) }
        dd data-field=(name) {
            @match input {
                Input::Choice(_) => { @if let Some(v) = value.as_str() { (value_label(v)) " " code.code { (v) } } }
                Input::Choices { .. } => { ul.inline-list { @for v in value.as_array().into_iter().flatten().filter_map(Value::as_str) { li { (value_label(v)) " " code.code { (v) } } } } }
                Input::Time => { @if let Some(ms) = value.as_u64() { (when(ms)) } }
                Input::Degrees { .. } => { @if let Some(d) = value.as_i64() { (format!("{:.1}°", d as f64 / 10.0)) } @else { span.quiet { (app.i18n.tr(lang, "none")) } } }
                Input::Line { .. } => { (value.as_str().unwrap_or_default()) }
                Input::Texts { .. } => {
                    @let list: Vec<LangText> = serde_json::from_value(value.clone()).unwrap_or_default();
                    (texts(app, lang, &list))
                }
                Input::Group { fields, .. } => {
                    @if value.is_null() { span.quiet { (app.i18n.tr(lang, "none")) } }
                    @else { dl.group { @for (sub, input) in fields { (field_view(app, lang, sub, input, &value[sub.as_str()])) } } }
                }
                Input::Attachments { .. } => { (value.as_array().map_or(0, Vec::len)) }
            }
        }
    }
}

/// The attachments with their hashes, and a drop zone that hashes a file in the browser and says
/// which attachment it is, if any.
fn attachment_check(app: &App, lang: &str, list: &[hotline_proto::Attachment]) -> Markup {
    let t = |id: &str| app.i18n.tr(lang, id);
    html! {
        @if !list.is_empty() {
            section.attachments aria-labelledby="h-attachments" {
                h2 #h-attachments { (t("attachments-title")) }
                table {
                    thead { tr { th scope="col" { "#" } th scope="col" { (t("attachment-description")) } th scope="col" { (t("attachment-type")) } th scope="col" { (t("attachment-size")) } th scope="col" { (t("attachment-sha256")) } } }
                    tbody {
                        @for (i, a) in list.iter().enumerate() {
                            tr data-sha256=(a.sha256.to_hex()) data-size=(a.size) {
                                td { (i + 1) } td { (a.description) } td { (a.media_type) } td { (a.size) } td { code.hash { (a.sha256.to_hex()) } }
                            }
                        }
                    }
                }
                div.dropzone #check-zone tabindex="0" data-match-text=(t("check-match")) data-none-text=(t("check-none")) {
                    label for="check-file" { (t("check-file")) }
                    input #check-file type="file";
                    p #check-result role="status" aria-live="polite" {}
                }
            }
        }
    }
}

/// Receipts and acknowledgements: each party's, for a notice I sent; mine, for one I received.
fn delivery(app: &App, lang: &str, n: &NoticeInfo, now: u64) -> Markup {
    let t = |id: &str| app.i18n.tr(lang, id);
    match &n.direction {
        DirectionInfo::Sent { parties } => html! {
            table.parties {
                caption { (t("parties-title")) }
                thead { tr { th scope="col" { (t("party")) } th scope="col" { (t("receipt")) } th scope="col" { (t("acknowledgement")) } th scope="col" { (t("disposition")) } th scope="col" { (t("operator")) } th scope="col" { (t("note")) } } }
                tbody {
                    @for p in parties {
                        tr data-party=(p.name) {
                            th scope="row" { (p.name) " (" (t(&format!("role-{}", role(p.role)))) ")" }
                            td { @if let Some(ms) = p.receipt_ms { (when(ms)) @if p.receipt_missed { " " span.state-word { (t("state-late")) } } }
                                 @else if p.receipt_missed { span.state-word { (t("state-missed")) } }
                                 @else { (t("pending")) " · " (countdown(app, lang, n.created_ms, n.receipt_due_ms, now)) } }
                            td { @if p.role == hotline_proto::Role::Info { span.quiet { (t("not-owed")) } }
                                 @else if let Some(ms) = p.ack_ms { (when(ms)) @if p.ack_missed { " " span.state-word { (t("state-late")) } } }
                                 @else if p.ack_missed { span.state-word { (t("state-missed")) } }
                                 @else { (t("pending")) " · " (countdown(app, lang, n.created_ms, n.ack_due_ms, now)) } }
                            @if let Some(a) = &p.ack {
                                td { (t(&format!("disposition-{}", disposition(a.disposition)))) }
                                td { (a.operator) }
                                td { (texts(app, lang, &a.note)) }
                            } @else { td {} td {} td {} }
                        }
                    }
                }
            }
        },
        DirectionInfo::Received {
            needs_ack,
            acked,
            overdue,
            ack_left_ms,
            own_ack,
            sender_clock_offset_ms,
        } => html! {
            div.mine {
                @if let Some(a) = own_ack {
                    p { (app.i18n.tr_args(lang, "acked-by", &[("operator", s(&a.operator)), ("disposition", s(&t(&format!("disposition-{}", disposition(a.disposition)))))])) " " (when(a.acked_ms)) }
                    @if !a.note.is_empty() { (texts(app, lang, &a.note)) }
                } @else if *needs_ack && !*acked {
                    @let due = u64::try_from(i64::try_from(now).unwrap_or(0).saturating_add(*ack_left_ms)).unwrap_or(0);
                    p.owed { @if *overdue { span.state-word { (t("state-missed")) } " " }
                        (app.i18n.tr_args(lang, "i-owe-ack", &[("from", s(&n.from))])) " " (when(due)) " · " (countdown(app, lang, n.created_ms.min(due), due, now)) }
                    @if let Some(off) = sender_clock_offset_ms { p.quiet { (app.i18n.tr_args(lang, "sender-clock", &[("offset", s(&hotline_node::cli::left(*off)))])) } }
                } @else { p.quiet { (t("info-only")) } }
            }
        },
    }
}

/// The snake-case name of a disposition (its API name).
pub fn disposition(d: Disposition) -> &'static str {
    match d {
        Disposition::Understood => "understood",
        Disposition::Investigating => "investigating",
        Disposition::ActionTaken => "action_taken",
        Disposition::Disputed => "disputed",
    }
}

fn ack_form(app: &App, officer: &Officer, n: &NoticeInfo, fields: &[(String, String)]) -> Markup {
    let lang = officer.session.language.as_str();
    let t = |id: &str| app.i18n.tr(lang, id);
    let chosen = field(fields, "disposition").unwrap_or("understood");
    html! {
        section.act #ack aria-labelledby="h-ack-form" {
            h2 #h-ack-form { (t("ack-form-title")) }
            p { (app.i18n.tr_args(lang, "ack-form-who", &[("officer", s(&officer.session.call_sign))])) }
            form method="post" action=(format!("/notice/{}/ack", n.id)) {
                (csrf(officer))
                div.field {
                    label for="disposition" { (t("disposition")) }
                    select #disposition name="disposition" {
                        @for d in DISPOSITIONS { option value=(disposition(d)) selected[disposition(d) == chosen] { (t(&format!("disposition-{}", disposition(d)))) } }
                    }
                }
                fieldset.field.texts {
                    legend { (t("note")) " " span.opt { (t("optional")) } }
                    div.side-by-side {
                        @for l in layout::languages(app, lang) {
                            div.lang-text {
                                label for=(format!("ack-note-{l}")) { (app.i18n.tr_args(lang, "text-in", &[("lang", s(&t(&format!("language-{l}"))))])) }
                                textarea id=(format!("ack-note-{l}")) name=(format!("note/{l}")) lang=(l) rows="2" { (field(fields, &format!("note/{l}")).unwrap_or_default()) }
                            }
                        }
                    }
                }
                button.primary type="submit" accesskey="a" { (t("ack-submit")) " " kbd.key aria-hidden="true" { "a" } }
            }
        }
    }
}

fn reply_form(
    app: &App,
    officer: &Officer,
    n: &NoticeInfo,
    second: &[Precedence],
    fields: &[(String, String)],
) -> Markup {
    let lang = officer.session.language.as_str();
    let t = |id: &str| app.i18n.tr(lang, id);
    let chosen = field(fields, "precedence").unwrap_or("routine");
    let kind = field(fields, "kind").unwrap_or("reply");
    html! {
        section.act #reply aria-labelledby="h-reply-form" {
            h2 #h-reply-form { (app.i18n.tr_args(lang, "reply-form-title", &[("to", s(&n.from))])) }
            form method="post" action=(format!("/notice/{}/reply", n.id)) data-text-form="" {
                (csrf(officer))
                div.field {
                    label for="reply-kind" { (t("reply-kind")) }
                    select #reply-kind name="kind" {
                        option value="reply" selected[kind == "reply"] { (t("kind-reply")) }
                        option value="clarification" selected[kind == "clarification"] { (t("kind-clarification")) }
                    }
                }
                (precedence_field(app, lang, "reply-precedence", chosen, second))
                fieldset.field.texts {
                    legend { (t("reply-text")) " " span.req { (t("required")) } }
                    div.side-by-side {
                        @for l in layout::languages(app, lang) {
                            div.lang-text {
                                label for=(format!("reply-text-{l}")) { (app.i18n.tr_args(lang, "text-in", &[("lang", s(&t(&format!("language-{l}"))))])) }
                                textarea id=(format!("reply-text-{l}")) name=(format!("text/{l}")) lang=(l) rows="3" data-text-limit="precedence" { (field(fields, &format!("text/{l}")).unwrap_or_default()) }
                                span.bytes aria-live="polite" {}
                            }
                        }
                    }
                }
                button.primary type="submit" accesskey="r" { (t("reply-submit")) " " kbd.key aria-hidden="true" { "r" } }
            }
        }
    }
}

/// A precedence chooser that says, for each choice, what the recipient will owe, and whether a
/// second officer must release it.
pub fn precedence_field(app: &App, lang: &str, id: &str, chosen: &str, second: &[Precedence]) -> Markup {
    let t = |k: &str| app.i18n.tr(lang, k);
    html! {
        div.field {
            label for=(id) { (t("precedence")) }
            select id=(id) name="precedence" data-duty-for=(format!("{id}-duty")) {
                @for p in PRECEDENCES {
                    @let name = p.name().to_lowercase();
                    @let duty = layout::duty(app, lang, p);
                    @let release = if second.contains(&p) { format!(" {}", t("needs-release")) } else { String::new() };
                    option value=(name) selected[name == chosen] data-duty=(format!("{duty}{release}")) data-limit=(p.max_text()) {
                        (t(&format!("precedence-{name}")))
                    }
                }
            }
            p.duty id=(format!("{id}-duty")) aria-live="polite" {
                @let p = PRECEDENCES.iter().find(|p| p.name().eq_ignore_ascii_case(chosen)).copied().unwrap_or(Precedence::Routine);
                (layout::duty(app, lang, p)) @if second.contains(&p) { " " (t("needs-release")) }
            }
        }
    }
}

/// A precedence from a form.
pub fn precedence_of(text: Option<&str>) -> Option<Precedence> {
    PRECEDENCES.iter().copied().find(|p| text.is_some_and(|t| p.name().eq_ignore_ascii_case(t)))
}

/// `POST /notice/{sender}/{seq}/ack`.
pub async fn ack(
    State(app): State<Arc<App>>,
    path: Path<(String, u64)>,
    Posted { officer, fields }: Posted,
) -> Response {
    let id = web::notice_name(&path);
    let lang = officer.session.language.clone();
    let Some(disposition) =
        DISPOSITIONS.iter().copied().find(|d| Some(disposition(*d)) == field(&fields, "disposition"))
    else {
        return show(&app, &officer, &id, None, Some(app.i18n.tr(&lang, "error-disposition")), &fields).await;
    };
    let note = super::texts(&fields, "note", &layout::languages(&app, &lang));
    let request =
        Request::Ack { notice: id.clone(), operator: officer.session.call_sign.clone(), disposition, note };
    match app.node.call::<NoticeRef>(request).await {
        Ok(_) => {
            tracing::info!(officer = %officer.session.call_sign, notice = %id, "acknowledged in the console");
            Redirect::to(&format!("/notice/{id}?done=ack")).into_response()
        }
        Err(e) => show(&app, &officer, &id, None, Some(e.to_string()), &fields).await,
    }
}

/// `POST /notice/{sender}/{seq}/reply`.
pub async fn reply(
    State(app): State<Arc<App>>,
    path: Path<(String, u64)>,
    Posted { officer, fields }: Posted,
) -> Response {
    let id = web::notice_name(&path);
    let lang = officer.session.language.clone();
    let Some(precedence) = precedence_of(field(&fields, "precedence")) else {
        return show(&app, &officer, &id, None, Some(app.i18n.tr(&lang, "error-precedence")), &fields).await;
    };
    let thread: Thread = match app.node.call(Request::Show { notice: id.clone() }).await {
        Ok(t) => t,
        Err(e) => return layout::refusal(&app, &lang, StatusCode::NOT_FOUND, &e.to_string()),
    };
    let Some(original) = thread.notices.iter().find(|n| n.id == id) else {
        return layout::refusal(&app, &lang, StatusCode::NOT_FOUND, &app.i18n.tr(&lang, "error-not-found"));
    };
    let texts = super::texts(&fields, "text", &layout::languages(&app, &lang));
    if texts.is_empty() {
        return show(&app, &officer, &id, None, Some(app.i18n.tr(&lang, "error-reply-empty")), &fields).await;
    }
    let body = if field(&fields, "kind") == Some("clarification") {
        Body::Clarification(texts)
    } else {
        Body::Reply(texts)
    };
    let send = SendRequest {
        precedence,
        to: vec![original.from.clone()],
        info: vec![],
        thread: Some(thread.thread.clone()),
        in_reply_to: Some(id.clone()),
        body,
    };
    match super::send(&app, &officer.session.call_sign, send).await {
        Ok(Sent::Notice(_)) => Redirect::to(&format!("/notice/{id}?done=reply")).into_response(),
        Ok(Sent::Draft(n)) => Redirect::to(&format!("/drafts?drafted={n}")).into_response(),
        Err(e) => show(&app, &officer, &id, None, Some(e.to_string()), &fields).await,
    }
}
