//! Routes, the session guard, CSRF, security headers, static files and the live stream. Every
//! handler answers with a page: the node's refusals and bad input are shown with what to do,
//! never as a server error.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use futures_util::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

use crate::pages;
use crate::session::{self, Session};
use crate::App;

/// The cookie that carries the session token.
pub const COOKIE: &str = "hotline_session";
/// The largest form accepted (a compose form with every text at its limit fits many times).
const MAX_FORM: usize = 512 * 1024;

/// A form as it came: every field in order (checkboxes repeat their name).
pub type Fields = Vec<(String, String)>;

/// The console's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::board::page))
        .route("/board", get(pages::board::fragment))
        .route("/events", get(events))
        .route("/login", get(pages::login::page).post(pages::login::submit))
        .route("/logout", post(logout))
        .route("/language", post(language))
        .route("/notice/{sender}/{seq}", get(pages::notice::page))
        .route("/notice/{sender}/{seq}/ack", post(pages::notice::ack))
        .route("/notice/{sender}/{seq}/reply", post(pages::notice::reply))
        .route("/compose", get(pages::compose::page).post(pages::compose::submit))
        .route("/compose/code", post(pages::compose::submit_code))
        .route("/drafts", get(pages::drafts::page))
        .route("/drafts/{draft}/release", post(pages::drafts::release))
        .route("/drafts/{draft}/discard", post(pages::drafts::discard))
        .route("/handover", get(pages::handover::page))
        .route("/health", get(health))
        .route("/static/console.js", get(script))
        .route("/static/console.css", get(style))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM))
        .layer(axum::middleware::map_response(headers))
        .layer(axum::middleware::from_fn_with_state(app.clone(), acted))
        .layer(axum::middleware::from_fn(timing))
        .with_state(app)
}

/// After every form posted (an act, or an attempt), the boards read their node afresh.
async fn acted(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let posted = request.method() == axum::http::Method::POST;
    let response = next.run(request).await;
    if posted {
        app.board.acted();
    }
    response
}

/// Every answer says how long the console took to make it (`Server-Timing: app;dur=ms`): the
/// browser's developer tools show it, and `hotline bench --only console` reads it.
async fn timing(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

/// The headers every answer carries: nothing from elsewhere may load, nothing may frame the
/// console, nothing is cached (a shared screen shows no yesterday's page from the cache).
async fn headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    // Not `no-referrer`: with it, browsers send `Origin: null` on a form post, and the origin
    // check of every form ([`same_origin`]) needs the real one. Nothing leaves for other sites.
    set(h, "referrer-policy", "same-origin");
    set(h, "x-frame-options", "DENY");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    response
}

/// A logged-in officer: the guard of every page but the log-in.
pub struct Officer {
    /// The cookie token.
    pub token: String,
    /// The session.
    pub session: Session,
}

/// Where a request without a live session goes.
pub struct LogIn;

impl IntoResponse for LogIn {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

/// The session token a request carries, if any.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    cookie_named(headers, COOKIE)
}

/// The value of the cookie `name` a request carries, if any.
pub fn cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
}

impl FromRequestParts<Arc<App>> for Officer {
    type Rejection = LogIn;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Officer, LogIn> {
        let token = cookie(&parts.headers).ok_or(LogIn)?;
        let session = app.sessions.lock().map_err(|_| LogIn)?.touch(&token, Instant::now()).ok_or(LogIn)?;
        // An officer removed from officers.toml is logged out at the next request.
        let officers = app.officers().map_err(|_| LogIn)?;
        if officers.get(&session.call_sign).is_none() {
            if let Ok(mut sessions) = app.sessions.lock() {
                sessions.close_officer(&session.call_sign);
            }
            return Err(LogIn);
        }
        Ok(Officer { token, session })
    }
}

/// A form posted by a logged-in officer, its CSRF token and origin checked: the guard of every
/// request that changes anything (the log-in excepted, which has its own).
pub struct Posted {
    /// Who posted it.
    pub officer: Officer,
    /// What it holds.
    pub fields: Fields,
}

impl FromRequest<Arc<App>> for Posted {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, app: &Arc<App>) -> Result<Posted, Response> {
        let (mut parts, body) = request.into_parts();
        let officer =
            Officer::from_request_parts(&mut parts, app).await.map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let request = axum::extract::Request::from_parts(parts, body);
        let Form(fields) =
            Form::<Fields>::from_request(request, app).await.map_err(IntoResponse::into_response)?;
        check_form(app, &officer, &headers, &fields)?;
        Ok(Posted { officer, fields })
    }
}

/// The value of a form field.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Refuses a form without the session's CSRF token, or sent from another origin.
fn check_form(app: &App, officer: &Officer, headers: &HeaderMap, fields: &Fields) -> Result<(), Response> {
    let token_ok = field(fields, "csrf").is_some_and(|t| session::same(t, &officer.session.csrf));
    if !token_ok || !same_origin(headers) {
        let lang = &officer.session.language;
        return Err(pages::layout::refusal(
            app,
            lang,
            StatusCode::FORBIDDEN,
            &app.i18n.tr(lang, "error-csrf"),
        ));
    }
    Ok(())
}

/// Whether a request's `Origin` (sent by browsers with every POST) names this console's host.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

/// A `sender/seq` path as a notice name.
pub fn notice_name(Path((sender, seq)): &Path<(String, u64)>) -> String {
    format!("{sender}/{seq}")
}

async fn logout(State(app): State<Arc<App>>, Posted { officer, .. }: Posted) -> Response {
    if let Ok(mut sessions) = app.sessions.lock() {
        sessions.close(&officer.token);
    }
    tracing::info!(officer = %officer.session.call_sign, "officer logged out");
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) =
        HeaderValue::from_str(&format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"))
    {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

async fn language(State(app): State<Arc<App>>, Posted { officer, fields }: Posted) -> Response {
    let lang = field(&fields, "language").unwrap_or_default();
    if !app.i18n.speaks(lang) {
        return pages::layout::refusal(
            &app,
            &officer.session.language,
            StatusCode::BAD_REQUEST,
            "unknown language",
        );
    }
    if let Ok(mut sessions) = app.sessions.lock() {
        sessions.set_language(&officer.token, lang);
    }
    // Remembered for the officer's next log-in.
    let path = app.home.officers_path();
    if let Ok(mut officers) = hotline_node::officers::Officers::load(&path) {
        for o in officers.officers.iter_mut().filter(|o| o.call_sign == officer.session.call_sign) {
            o.language = lang.to_string();
        }
        if let Err(e) = officers.save(&path) {
            tracing::warn!(error = %e, "the officer's language is not saved");
        }
    }
    let back = field(&fields, "back").filter(|b| b.starts_with('/') && !b.starts_with("//")).unwrap_or("/");
    Redirect::to(back).into_response()
}

/// The live stream of a board: the node's events and the console's word on the node, as
/// server-sent events; a comment every 15 s keeps proxies from closing it.
async fn events(
    State(app): State<Arc<App>>,
    _officer: Officer,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let first = if app.node.up() {
        crate::node::Live::NodeBack
    } else {
        crate::node::Live::NodeLost { reason: "the console does not reach its node".into() }
    };
    let stream = live(first, app.node.subscribe()).map(|json| Ok(SseEvent::default().data(&*json)));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// What a board hears, as JSON: `first`, then the live stream; a board that fell behind it is
/// told how much it lost ([`crate::node::Live::Missed`]), rather than left to miss it.
fn live(
    first: crate::node::Live,
    rx: tokio::sync::broadcast::Receiver<Arc<str>>,
) -> impl Stream<Item = Arc<str>> {
    use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
    tokio_stream::once(first.json()).chain(BroadcastStream::new(rx).map(|item| match item {
        Ok(json) => json,
        Err(BroadcastStreamRecvError::Lagged(missed)) => crate::node::Live::Missed { missed }.json(),
    }))
}

#[derive(serde::Serialize)]
struct Health {
    console: &'static str,
    node: bool,
}

/// For supervisors and proxies: whether the console runs and reaches its node (no session).
async fn health(State(app): State<Arc<App>>) -> Response {
    let status = if app.node.up() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(Health { console: "ok", node: app.node.up() })).into_response()
}

const SCRIPT: &str = include_str!("../static/console.js");
const STYLE: &str = include_str!("../static/console.css");

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], SCRIPT)
        .into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], STYLE)
        .into_response()
}

async fn not_found(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let lang = lang_of(&app, &headers);
    pages::layout::refusal(&app, &lang, StatusCode::NOT_FOUND, &app.i18n.tr(&lang, "error-not-found"))
}

/// The language of a request: its session's, else English.
pub fn lang_of(app: &App, headers: &HeaderMap) -> String {
    cookie(headers)
        .and_then(|t| app.sessions.lock().ok().and_then(|s| s.peek(&t)))
        .unwrap_or_else(|| crate::i18n::DEFAULT.to_string())
}

/// The client's address, for the log-in limiter.
pub fn client(info: &ConnectInfo<SocketAddr>) -> std::net::IpAddr {
    info.0.ip()
}

/// A query string's `since`.
#[derive(serde::Deserialize, Default)]
pub struct Since {
    /// `HH:MM` (UTC), or an RFC 3339 time.
    #[serde(default)]
    pub since: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_board_that_falls_behind_is_told_what_it_lost() {
        let (tx, rx) = tokio::sync::broadcast::channel::<Arc<str>>(2);
        for i in 0..5 {
            tx.send(format!("{{\"n\":{i}}}").into()).unwrap();
        }
        drop(tx);
        let heard: Vec<String> = live(crate::node::Live::NodeBack, rx).map(|j| j.to_string()).collect().await;
        assert_eq!(
            heard,
            [r#"{"kind":"node_back"}"#, r#"{"kind":"missed","missed":3}"#, r#"{"n":3}"#, r#"{"n":4}"#]
        );
    }
}
