//! Composing: an incident report from the form the schema generates ([`crate::form`]), or a coded
//! message chosen by its word; addressees with their roles from the roster; a precedence whose
//! duties are spelled out. Every problem is shown at once, next to its field; a notice the node
//! sends only on a second officer's release becomes a draft.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hotline_node::api::{Request, SendRequest, Status};
use hotline_proto::{Body, CodedMessage, Precedence};
use maud::{html, Markup};
use serde_json::Value;

use super::layout::{self, csrf, Tab};
use super::notice::{precedence_field, precedence_of};
use super::Sent;
use crate::form::{say_problems, Context, Form as IncidentForm};
use crate::i18n::s;
use crate::web::{field, Officer, Posted};
use crate::App;

/// A refused submission, shown again with its problems.
#[derive(Default)]
struct Refused {
    /// The form's values, read back.
    values: Value,
    /// `(pointer, message)`; pointers outside the incident: `/to`, `/precedence`, `/node`.
    problems: Vec<(String, String)>,
}

/// `GET /compose`.
pub async fn page(State(app): State<Arc<App>>, officer: Officer) -> Response {
    render(&app, &officer, &Refused::default(), &[], StatusCode::OK).await
}

async fn render(
    app: &App,
    officer: &Officer,
    refused: &Refused,
    fields: &[(String, String)],
    status: StatusCode,
) -> Response {
    let lang = officer.session.language.as_str();
    let t = |id: &str| app.i18n.tr(lang, id);
    let second =
        app.node.call::<Status>(Request::Status {}).await.map(|s| s.second_officer).unwrap_or_default();
    let languages = layout::languages(app, lang);
    let form = match IncidentForm::incident() {
        Ok(f) => f,
        Err(e) => return layout::refusal(app, lang, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let ctx = Context {
        i18n: &app.i18n,
        lang,
        languages: &languages,
        values: &refused.values,
        problems: &refused.problems,
    };
    let outside = |p: &str| -> Vec<&str> {
        refused.problems.iter().filter(|(q, _)| q == p).map(|(_, m)| m.as_str()).collect()
    };
    let chosen = field(fields, "precedence").unwrap_or("flash");
    let count = refused.problems.len();
    let title = t("compose-title");
    let body = html! {
        @if count > 0 {
            div.error-summary role="alert" tabindex="-1" #problems {
                h2 { (layout::count(app, lang, "compose-problems", count)) }
                ul { @for (path, m) in &refused.problems { li { @if path.starts_with('/') { a href=(format!("#{}", crate::form::id_of(path))) { code { (path) } } ": " } (m) } } }
            }
        }
        @for m in outside("/node") { (layout::problem(m)) }
        form.compose method="post" action="/compose" data-text-form="" novalidate {
            (csrf(officer))
            section aria-labelledby="h-address" {
                h2 #h-address { (t("compose-addressees")) }
                (addressees(app, lang, fields, &outside("/to")))
                (precedence_field(app, lang, "compose-precedence", chosen, &second))
            }
            section aria-labelledby="h-incident" {
                h2 #h-incident { (t("compose-incident")) }
                p.help { (app.i18n.tr_args(lang, "compose-languages", &[("languages", s(&languages.join(", ")))])) }
                (form.render(&ctx))
            }
            p { button.primary type="submit" accesskey="s" { (t("compose-submit")) " " kbd.key aria-hidden="true" { "s" } } }
        }
        (codebook(app, officer, &second, fields))
    };
    (status, layout::page(app, officer, Tab::Compose, &title, body)).into_response()
}

/// Every other member, with none / action / information.
fn addressees(app: &App, lang: &str, fields: &[(String, String)], problems: &[&str]) -> Markup {
    let t = |id: &str| app.i18n.tr(lang, id);
    html! {
        fieldset.field #f-to aria-describedby="f-to-help" {
            legend { (t("compose-to")) }
            p.help #f-to-help { (t("compose-to-help")) }
            table.addressees {
                thead { tr { th scope="col" { (t("party")) } th scope="col" { (t("role-none")) } th scope="col" { (t("role-action")) } th scope="col" { (t("role-info")) } } }
                tbody {
                    @for m in app.roster.members.iter().filter(|m| m.name != app.me) {
                        @let name = format!("to/{}", m.name);
                        @let chosen = field(fields, &name).unwrap_or("none");
                        tr {
                            th scope="row" { (m.name) " " span.quiet { (m.languages.join(", ")) } }
                            @for role in ["none", "action", "info"] {
                                td { input type="radio" name=(name) value=(role) checked[chosen == role]
                                    id=(format!("to-{}-{role}", m.name)) aria-label=(format!("{} — {}", m.name, t(&format!("role-{role}")))); }
                            }
                        }
                    }
                }
            }
            @if !problems.is_empty() { ul.field-errors #f-to-errors role="alert" { @for m in problems { li { (m) } } } }
        }
    }
}

fn codebook(app: &App, officer: &Officer, second: &[Precedence], fields: &[(String, String)]) -> Markup {
    let lang = officer.session.language.as_str();
    let t = |id: &str| app.i18n.tr(lang, id);
    let book = &app.roster.policy.codebook;
    html! {
        section.codebook aria-labelledby="h-code" {
            h2 #h-code { (t("code-title")) }
            @if book.is_empty() { p.quiet { (t("code-empty")) } }
            @else {
                form method="post" action="/compose/code" data-text-form="" {
                    (csrf(officer))
                    fieldset.field {
                        legend { (t("code-choose")) }
                        @for (i, e) in book.iter().enumerate() {
                            div.code-choice {
                                input type="radio" name="code" value=(e.number) id=(format!("code-{}", e.number)) checked[i == 0];
                                label for=(format!("code-{}", e.number)) { strong { (e.word) } " (" (e.number) ")" }
                                div.side-by-side {
                                    @for m in &e.meaning { div.lang-text lang=(m.lang) { span.lang-tag { (m.lang) } p.text { (m.text) } } }
                                }
                            }
                        }
                    }
                    (addressees(app, lang, fields, &[]))
                    (precedence_field(app, lang, "code-precedence", "priority", second))
                    fieldset.field.texts {
                        legend { (t("code-note")) " " span.opt { (t("optional")) } }
                        div.side-by-side {
                            @for l in layout::languages(app, lang) {
                                div.lang-text {
                                    label for=(format!("code-note-{l}")) { (app.i18n.tr_args(lang, "text-in", &[("lang", s(&t(&format!("language-{l}"))))])) }
                                    textarea id=(format!("code-note-{l}")) name=(format!("note/{l}")) lang=(l) rows="2" data-text-limit="precedence" {}
                                    span.bytes aria-live="polite" {}
                                }
                            }
                        }
                    }
                    button type="submit" { (t("code-submit")) }
                }
            }
        }
    }
}

/// The addressees a form names: (action, information), or the problem.
fn chosen_addressees(
    app: &App,
    lang: &str,
    fields: &[(String, String)],
) -> Result<(Vec<String>, Vec<String>), String> {
    let (mut to, mut info) = (Vec::new(), Vec::new());
    for m in app.roster.members.iter().filter(|m| m.name != app.me) {
        match field(fields, &format!("to/{}", m.name)) {
            Some("action") => to.push(m.name.clone()),
            Some("info") => info.push(m.name.clone()),
            _ => {}
        }
    }
    if to.is_empty() {
        return Err(app.i18n.tr(lang, "error-no-addressee"));
    }
    Ok((to, info))
}

/// `POST /compose`.
pub async fn submit(State(app): State<Arc<App>>, Posted { officer, fields }: Posted) -> Response {
    let lang = officer.session.language.clone();
    let form = match IncidentForm::incident() {
        Ok(f) => f,
        Err(e) => return layout::refusal(&app, &lang, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let languages = layout::languages(&app, &lang);
    let mut values = form.read(&fields, &languages);
    let precedence = precedence_of(field(&fields, "precedence"));
    let mut problems = say_problems(
        &app.i18n,
        &lang,
        &hotline_node::cli::incident::check(&mut values, precedence.unwrap_or(Precedence::Flash)),
    );
    for (path, missing) in form.missing_languages(&values, &app.roster.policy.required_languages) {
        let name = app.i18n.tr(&lang, &format!("language-{missing}"));
        problems.push((path, app.i18n.tr_args(&lang, "error-language-missing", &[("lang", s(&name))])));
    }
    let addressees = chosen_addressees(&app, &lang, &fields);
    if let Err(m) = &addressees {
        problems.insert(0, ("/to".into(), m.clone()));
    }
    if precedence.is_none() {
        problems.insert(0, ("/precedence".into(), app.i18n.tr(&lang, "error-precedence")));
    }
    let refused = |problems| Refused { values: values.clone(), problems };
    let (Some(precedence), Ok((to, info)), true) = (precedence, addressees, problems.is_empty()) else {
        return render(&app, &officer, &refused(problems), &fields, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let incident = match serde_json::from_value(values.clone()) {
        Ok(i) => i,
        Err(e) => {
            let p = vec![("/node".into(), e.to_string())];
            return render(&app, &officer, &refused(p), &fields, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let send =
        SendRequest { precedence, to, info, thread: None, in_reply_to: None, body: Body::Incident(incident) };
    outcome(&app, &officer, send, &fields, |m| refused(vec![("/node".into(), m)])).await
}

async fn outcome(
    app: &App,
    officer: &Officer,
    send: SendRequest,
    fields: &[(String, String)],
    refused: impl FnOnce(String) -> Refused,
) -> Response {
    match super::send(app, &officer.session.call_sign, send).await {
        Ok(Sent::Notice(id)) => Redirect::to(&format!("/notice/{id}")).into_response(),
        Ok(Sent::Draft(n)) => Redirect::to(&format!("/drafts?drafted={n}")).into_response(),
        Err(e) => {
            render(app, officer, &refused(e.to_string()), fields, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /compose/code`.
pub async fn submit_code(State(app): State<Arc<App>>, Posted { officer, fields }: Posted) -> Response {
    let lang = officer.session.language.clone();
    let entry =
        field(&fields, "code").and_then(|c| c.parse::<u32>().ok()).and_then(|n| app.roster.policy.code(n));
    let precedence = precedence_of(field(&fields, "precedence"));
    let addressees = chosen_addressees(&app, &lang, &fields);
    let mut problems = Vec::new();
    if entry.is_none() {
        problems.push(("/node".to_string(), app.i18n.tr(&lang, "error-code")));
    }
    if precedence.is_none() {
        problems.push(("/node".to_string(), app.i18n.tr(&lang, "error-precedence")));
    }
    if let Err(m) = &addressees {
        problems.push(("/node".to_string(), m.clone()));
    }
    let (Some(entry), Some(precedence), Ok((to, info))) = (entry, precedence, addressees) else {
        let refused = Refused { values: Value::Null, problems };
        return render(&app, &officer, &refused, &fields, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let body = Body::Codebook(CodedMessage {
        number: entry.number,
        word: entry.word.clone(),
        note: super::texts(&fields, "note", &layout::languages(&app, &lang)),
        attachments: vec![],
    });
    let send = SendRequest { precedence, to, info, thread: None, in_reply_to: None, body };
    outcome(&app, &officer, send, &fields, |m| Refused {
        values: Value::Null,
        problems: vec![("/node".into(), m)],
    })
    .await
}
