//! Logging in: call sign and password, checked by the node's officers file (Argon2id), limited
//! per call sign and per address; a session cookie on success. The log-in form carries its own
//! CSRF token (a cookie of its own, compared with the field), so that no other site can log an
//! officer in under another's name.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, DOCTYPE};

use crate::i18n::{n, s};
use crate::session::{self, Locked};
use crate::web::{self, field, Fields};
use crate::App;

/// The cookie that carries the log-in form's CSRF token.
const LOGIN_COOKIE: &str = "hotline_login";

fn form(app: &App, lang: &str, token: &str, call_sign: &str, message: Option<&str>) -> maud::Markup {
    let t = |id: &str| app.i18n.tr(lang, id);
    html! {
        (DOCTYPE)
        html lang=(lang) {
            (super::layout::head(app, lang, &t("login-title"), false))
            body {
                main #main.narrow {
                    h1 { (t("login-title")) }
                    p { (app.i18n.tr_args(lang, "desk-of", &[("node", s(&app.me)), ("network", s(&app.roster.network))])) }
                    @if let Some(m) = message { p.error #login-error role="alert" { (m) } }
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(token);
                        p.field {
                            label for="call_sign" { (t("login-call-sign")) }
                            input #call_sign name="call_sign" type="text" required autocomplete="username" value=(call_sign) autofocus;
                        }
                        p.field {
                            label for="password" { (t("login-password")) }
                            input #password name="password" type="password" required autocomplete="current-password";
                        }
                        p { button type="submit" { (t("login-submit")) } }
                    }
                    p.quiet { (t("login-help")) }
                }
            }
        }
    }
}

fn with_token(app: &App, lang: &str, status: StatusCode, call_sign: &str, message: Option<&str>) -> Response {
    let token = session::token();
    let mut response = (status, form(app, lang, &token, call_sign, message)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; Secure; SameSite=Strict"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `GET /login`.
pub async fn page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let lang = web::lang_of(&app, &headers);
    with_token(&app, &lang, StatusCode::OK, "", None)
}

/// `POST /login`.
pub async fn submit(
    State(app): State<Arc<App>>,
    info: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let lang = web::lang_of(&app, &headers);
    let call_sign = field(&fields, "call_sign").unwrap_or_default().trim().to_string();
    let password = field(&fields, "password").unwrap_or_default().to_string();
    let token_ok = match (web::cookie_named(&headers, LOGIN_COOKIE), field(&fields, "csrf")) {
        (Some(cookie), Some(sent)) => session::same(&cookie, sent),
        _ => false,
    };
    if !token_ok || !web::same_origin(&headers) {
        return with_token(
            &app,
            &lang,
            StatusCode::FORBIDDEN,
            &call_sign,
            Some(&app.i18n.tr(&lang, "error-csrf")),
        );
    }
    let from = web::client(&info);
    let locked = app.limiter.lock().map(|mut l| l.check(&call_sign, from, Instant::now())).map_err(|_| ());
    let minutes = |d: std::time::Duration| n((d.as_secs().div_ceil(60)).max(1) as f64);
    match locked {
        Ok(Ok(())) => {}
        Ok(Err(Locked::Officer(wait))) => {
            let m = app.i18n.tr_args(
                &lang,
                "login-locked",
                &[("officer", s(&call_sign)), ("minutes", minutes(wait))],
            );
            return with_token(&app, &lang, StatusCode::TOO_MANY_REQUESTS, &call_sign, Some(&m));
        }
        Ok(Err(Locked::Address(wait))) => {
            let m = app.i18n.tr_args(&lang, "login-locked-address", &[("minutes", minutes(wait))]);
            return with_token(&app, &lang, StatusCode::TOO_MANY_REQUESTS, &call_sign, Some(&m));
        }
        Err(_) => return with_token(&app, &lang, StatusCode::SERVICE_UNAVAILABLE, &call_sign, None),
    }
    let path = app.home.officers_path();
    let (who, check) = (call_sign.clone(), password);
    // Argon2 takes tens of milliseconds of one core: off the event loop.
    let verified = tokio::task::spawn_blocking(move || {
        hotline_node::officers::Officers::load(&path)
            .map(|o| o.verify(&who, &check).map(|o| o.language.clone()))
    })
    .await;
    match verified {
        Ok(Ok(Some(language))) => {
            if let Ok(mut l) = app.limiter.lock() {
                l.succeeded(&call_sign);
            }
            let language =
                if app.i18n.speaks(&language) { language } else { crate::i18n::DEFAULT.to_string() };
            let token = match app.sessions.lock() {
                Ok(mut sessions) => sessions.open(&call_sign, &language, Instant::now()),
                Err(_) => return with_token(&app, &lang, StatusCode::SERVICE_UNAVAILABLE, &call_sign, None),
            };
            tracing::info!(officer = %call_sign, %from, "officer logged in");
            let mut response = Redirect::to("/").into_response();
            let cookie = format!("{}={token}; Path=/; HttpOnly; Secure; SameSite=Strict", web::COOKIE);
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Ok(Ok(None)) => {
            if let Ok(mut l) = app.limiter.lock() {
                l.failed(&call_sign, from, Instant::now());
            }
            tracing::warn!(officer = %call_sign, %from, "failed log-in");
            with_token(
                &app,
                &lang,
                StatusCode::UNAUTHORIZED,
                &call_sign,
                Some(&app.i18n.tr(&lang, "login-failed")),
            )
        }
        Ok(Err(e)) => {
            let m = app.i18n.tr_args(&lang, "login-officers-unreadable", &[("detail", s(&format!("{e:#}")))]);
            with_token(&app, &lang, StatusCode::SERVICE_UNAVAILABLE, &call_sign, Some(&m))
        }
        Err(_) => with_token(&app, &lang, StatusCode::SERVICE_UNAVAILABLE, &call_sign, None),
    }
}
