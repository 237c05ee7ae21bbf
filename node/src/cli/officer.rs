//! `hotline officer`: the desk's officer accounts (`HOME/officers.toml`), and `hotline drafts`,
//! `release`, `discard`: the second officer's side of the two-person rule (spec §16.2).

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Result};
use clap::Subcommand;

use super::{print, Invalid, JsonFlag};
use crate::api::{DraftInfo, DraftRef, NoticeRef, Request};
use crate::client;
use crate::home::Home;
use crate::officers::Officers;

/// `hotline officer`.
#[derive(Subcommand)]
pub enum OfficerCommand {
    /// Adds an officer: the password is asked for twice on the terminal, or read from one line
    /// of standard input with --password-stdin.
    Add {
        /// The call sign (a-z, 0-9, -): what the officer's acknowledgements carry as operator.
        call_sign: String,
        /// The officer's full name, shown beside the call sign.
        #[arg(long, default_value = "")]
        name: String,
        /// The language of the officer's console (en, zh).
        #[arg(long, default_value = "en")]
        language: String,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lists the officers (call sign, language, name; never the password hashes).
    List(JsonFlag),
    /// Removes an officer; their sessions in a running console end at their next request.
    Remove {
        /// The call sign.
        call_sign: String,
    },
    /// Sets a new password for an officer.
    Passwd {
        /// The call sign.
        call_sign: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// An officer as listed.
#[derive(serde::Serialize)]
struct Listed<'a> {
    call_sign: &'a str,
    name: &'a str,
    language: &'a str,
}

/// The languages a console speaks (`console/locales`): an officer's language is one of them.
pub const CONSOLE_LANGUAGES: [&str; 2] = ["en", "zh"];

fn password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().take_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!(super::usage(
            "no terminal to ask the password on: give it on standard input with --password-stdin"
        ));
    }
    let first = rpassword::prompt_password("password: ")?;
    let again = rpassword::prompt_password("again: ")?;
    if first != again {
        bail!(Invalid("the two passwords differ; nothing changed".into()));
    }
    Ok(first)
}

/// One line, bounded (a password is at most [`crate::officers::MAX_PASSWORD`] bytes).
trait TakeLine {
    fn take_line(&mut self, line: &mut String) -> Result<()>;
}

impl<R: BufRead> TakeLine for R {
    fn take_line(&mut self, line: &mut String) -> Result<()> {
        let limit = crate::officers::MAX_PASSWORD as u64 + 2;
        std::io::Read::take(self, limit).read_line(line)?;
        Ok(())
    }
}

/// Runs `hotline officer …`.
pub fn run(home: &Home, command: OfficerCommand) -> Result<()> {
    let path = home.officers_path();
    let mut officers = Officers::load(&path)?;
    match command {
        OfficerCommand::Add { call_sign, name, language, password_stdin } => {
            if !CONSOLE_LANGUAGES.contains(&language.as_str()) {
                bail!(Invalid(format!(
                    "the console speaks {}; {language:?} is not one of them",
                    CONSOLE_LANGUAGES.join(", ")
                )));
            }
            let secret = password(password_stdin)?;
            officers.add(&call_sign, &name, &language, &secret)?;
            officers.save(&path)?;
            eprintln!("added officer {call_sign} ({language}) to {}", path.display());
            Ok(())
        }
        OfficerCommand::List(json) => {
            let listed: Vec<Listed> = officers
                .officers
                .iter()
                .map(|o| Listed { call_sign: &o.call_sign, name: &o.name, language: &o.language })
                .collect();
            if json.json {
                print::print_json(&listed, "officers")
            } else {
                if listed.is_empty() {
                    println!("this node has no officers; add one with `hotline officer add CALL-SIGN`");
                }
                for o in listed {
                    println!("{:<16} {:<3} {}", o.call_sign, o.language, o.name);
                }
                Ok(())
            }
        }
        OfficerCommand::Remove { call_sign } => {
            let before = officers.officers.len();
            officers.officers.retain(|o| o.call_sign != call_sign);
            if officers.officers.len() == before {
                bail!(Invalid(format!("there is no officer {call_sign}")));
            }
            officers.save(&path)?;
            eprintln!("removed officer {call_sign}");
            Ok(())
        }
        OfficerCommand::Passwd { call_sign, password_stdin } => {
            if officers.get(&call_sign).is_none() {
                bail!(Invalid(format!("there is no officer {call_sign}")));
            }
            let secret = password(password_stdin)?;
            crate::officers::check_password(&secret).map_err(|e| Invalid(e.to_string()))?;
            let hash = crate::officers::hash_password(&secret)?;
            for o in officers.officers.iter_mut().filter(|o| o.call_sign == call_sign) {
                o.password = hash.clone();
            }
            officers.save(&path)?;
            eprintln!("new password set for {call_sign}");
            Ok(())
        }
    }
}

/// `hotline drafts`: what waits for a second officer.
pub fn list_drafts(home: &Home, json: bool) -> Result<()> {
    let drafts: Vec<DraftInfo> = client::call_as(&home.api_path(), &Request::Drafts {})?;
    if json {
        return print::print_json(&drafts, "drafts");
    }
    if drafts.is_empty() {
        println!("no drafts wait for release");
    }
    for d in drafts {
        println!(
            "draft {:<4} {:<9} to {:<20} drafted by {} at {}",
            d.draft,
            d.send.precedence.name(),
            d.send.to.join(","),
            d.drafted_by,
            hotline_proto::utc::utc_seconds(d.drafted_ms)
        );
        println!("           {}", d.headline);
    }
    Ok(())
}

/// `hotline release N --officer X`.
pub fn release(home: &Home, draft: u64, officer: String, json: bool) -> Result<()> {
    let sent: NoticeRef = client::call_as(&home.api_path(), &Request::Release { draft, officer })?;
    if json {
        print::print_json(&sent, "notice")
    } else {
        println!("{}", sent.notice);
        Ok(())
    }
}

/// `hotline discard N --officer X`.
pub fn discard(home: &Home, draft: u64, officer: String) -> Result<()> {
    let gone: DraftRef = client::call_as(&home.api_path(), &Request::Discard { draft, officer })?;
    eprintln!("discarded draft {}", gone.draft);
    Ok(())
}
