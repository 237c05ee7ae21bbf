//! The console's pages, one module each; [`layout`] holds the frame they share.

pub mod board;
pub mod compose;
pub mod drafts;
pub mod handover;
pub mod layout;
pub mod login;
pub mod notice;

use hotline_node::api::{DraftRef, NoticeRef, Request, SendRequest, Status};

use crate::node::CallError;
use crate::App;

/// What became of a notice the officer sent.
pub enum Sent {
    /// It went: its id.
    Notice(String),
    /// The node sends it only on a second officer's release: held as this draft.
    Draft(u64),
}

/// Sends `send` in `officer`'s name, or drafts it when the node's two-person rule covers its
/// precedence (the node enforces the rule; the console only takes the way the node asks for).
pub async fn send(app: &App, officer: &str, send: SendRequest) -> Result<Sent, CallError> {
    let status: Status = app.node.call(Request::Status {}).await?;
    if status.second_officer.contains(&send.precedence) {
        let held: DraftRef =
            app.node.call(Request::Draft { officer: officer.to_string(), send: Box::new(send) }).await?;
        tracing::info!(officer, draft = held.draft, "notice drafted in the console");
        Ok(Sent::Draft(held.draft))
    } else {
        let sent: NoticeRef = app.node.call(Request::Send(Box::new(send))).await?;
        tracing::info!(officer, notice = %sent.notice, "notice sent from the console");
        Ok(Sent::Notice(sent.notice))
    }
}

/// The texts of a form, one per language of the network (`{prefix}/{lang}`), blank ones left
/// out.
pub fn texts(fields: &[(String, String)], prefix: &str, languages: &[String]) -> hotline_proto::Texts {
    languages
        .iter()
        .filter_map(|lang| {
            let text = crate::web::field(fields, &format!("{prefix}/{lang}"))?.replace("\r\n", "\n");
            (!text.trim().is_empty()).then(|| hotline_proto::LangText { lang: lang.clone(), text })
        })
        .collect()
}
