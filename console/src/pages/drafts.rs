//! Drafts waiting for a second officer: the whole notice to check, and release or discard. The
//! node refuses a release by the officer who drafted it; the page says so before it is tried.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hotline_node::api::{DraftInfo, DraftRef, NoticeRef, Request};
use maud::html;

use super::layout::{self, csrf, precedence, when, Tab};
use crate::i18n::s;
use crate::web::{Officer, Posted};
use crate::App;

/// `?drafted=N` after composing.
#[derive(serde::Deserialize, Default)]
pub struct Drafted {
    #[serde(default)]
    drafted: Option<u64>,
}

/// `GET /drafts`.
pub async fn page(State(app): State<Arc<App>>, officer: Officer, Query(q): Query<Drafted>) -> Response {
    render(&app, &officer, q.drafted, None).await
}

async fn render(app: &App, officer: &Officer, drafted: Option<u64>, refused: Option<String>) -> Response {
    let lang = officer.session.language.as_str();
    let t = |id: &str| app.i18n.tr(lang, id);
    let drafts: Vec<DraftInfo> = match app.node.call(Request::Drafts {}).await {
        Ok(d) => d,
        Err(e) => return layout::refusal(app, lang, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let me = &officer.session.call_sign;
    let body = html! {
        @if let Some(n) = drafted { p.done role="status" { (app.i18n.tr_args(lang, "drafted", &[("draft", s(&n.to_string()))])) } }
        @if let Some(m) = &refused { (layout::problem(m)) }
        @if drafts.is_empty() { p.quiet { (t("drafts-none")) } }
        @for d in &drafts {
            article.draft #(format!("draft-{}", d.draft)) data-draft=(d.draft) {
                h2 { (precedence(app, lang, d.send.precedence)) " " (app.i18n.tr_args(lang, "draft-title", &[("draft", s(&d.draft.to_string()))])) }
                dl.meta {
                    dt { (t("draft-by")) } dd { (d.drafted_by) " · " (when(d.drafted_ms)) }
                    dt { (t("notice-to")) } dd { (d.send.to.join(", ")) @if !d.send.info.is_empty() { " · " (t("role-info")) ": " (d.send.info.join(", ")) } }
                    dt { (t("precedence")) } dd { (layout::duty(app, lang, d.send.precedence)) }
                    @if let Some(r) = &d.send.in_reply_to { dt { (t("notice-in-reply-to")) } dd { (r) } }
                }
                (super::notice::content(app, lang, &d.send.body))
                @if &d.drafted_by == me {
                    p.quiet { (t("draft-own")) }
                } @else {
                    form.inline method="post" action=(format!("/drafts/{}/release", d.draft)) {
                        (csrf(officer))
                        button.primary type="submit" { (app.i18n.tr_args(lang, "draft-release", &[("draft", s(&d.draft.to_string()))])) }
                    }
                }
                form.inline method="post" action=(format!("/drafts/{}/discard", d.draft)) {
                    (csrf(officer))
                    button type="submit" { (app.i18n.tr_args(lang, "draft-discard", &[("draft", s(&d.draft.to_string()))])) }
                }
            }
        }
    };
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, layout::page(app, officer, Tab::Drafts, &t("drafts-title"), body)).into_response()
}

/// `POST /drafts/{draft}/release`.
pub async fn release(
    State(app): State<Arc<App>>,
    Path(draft): Path<u64>,
    Posted { officer, .. }: Posted,
) -> Response {
    let request = Request::Release { draft, officer: officer.session.call_sign.clone() };
    match app.node.call::<NoticeRef>(request).await {
        Ok(sent) => {
            tracing::info!(officer = %officer.session.call_sign, draft, notice = %sent.notice, "draft released in the console");
            Redirect::to(&format!("/notice/{}", sent.notice)).into_response()
        }
        Err(e) => render(&app, &officer, None, Some(e.to_string())).await,
    }
}

/// `POST /drafts/{draft}/discard`.
pub async fn discard(
    State(app): State<Arc<App>>,
    Path(draft): Path<u64>,
    Posted { officer, .. }: Posted,
) -> Response {
    match app
        .node
        .call::<DraftRef>(Request::Discard { draft, officer: officer.session.call_sign.clone() })
        .await
    {
        Ok(_) => Redirect::to("/drafts").into_response(),
        Err(e) => render(&app, &officer, None, Some(e.to_string())).await,
    }
}
