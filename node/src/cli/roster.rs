//! The `roster` commands: a member's card, building, showing and installing a roster.

use anyhow::{bail, Context, Result};
use hotline_proto::{Member, Policy, Precedence, Roster, ROSTER_FORMAT};
use serde_json::json;

use super::span;
use super::{Invalid, RosterCommand};
use crate::files;
use crate::home::{self, Home};

pub(super) fn card(home: &Home, addresses: Vec<String>, languages: Vec<String>) -> Result<Member> {
    let config = home.config()?;
    let key = home.key()?;
    Ok(Member { name: config.name, key: hotline_proto::crypto::node_id(&key), addresses, languages })
}

/// Reads a policy file (TOML). Every field is optional, at every depth: what it does not state
/// takes the spec's default (§3.4), so `[flash] ack_ms = 300000` keeps FLASH's receipt deadline;
/// a field that is not a policy's is refused, named.
pub fn read_policy(path: &std::path::Path) -> Result<Policy> {
    let text = files::read_capped_text(path, files::MAX_CONFIG, "a policy")?;
    parse_policy(&text).map_err(|e| Invalid(format!("{} is not a policy: {e}", path.display())).into())
}

fn parse_policy(text: &str) -> Result<Policy, String> {
    let given: toml::Table = toml::from_str(text).map_err(|e| files::excerpt(&e.to_string(), 400))?;
    let mut merged = toml::Table::try_from(Policy::default()).map_err(|e| e.to_string())?;
    merge(&mut merged, given);
    merged.try_into().map_err(|e: toml::de::Error| files::excerpt(&e.to_string(), 400))
}

/// `over` laid on `base`, table by table.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Builds a roster from cards and a policy; checks it.
pub fn build_roster(network: &str, members: Vec<Member>, policy: Policy) -> Result<Roster> {
    let roster = Roster { format: ROSTER_FORMAT, network: network.into(), members, policy };
    roster.check().map_err(|e| Invalid(format!("the roster is invalid: {e}")))?;
    Ok(roster)
}

pub(super) fn run(home: &Home, command: RosterCommand) -> Result<()> {
    match command {
        RosterCommand::Card => {
            let card_path = home.dir().join("card.json");
            let text = files::read_capped_text(&card_path, files::MAX_JSON, "a member card")?;
            print!("{text}");
            Ok(())
        }
        RosterCommand::Build { network, cards, policy, out } => {
            let mut members = Vec::new();
            for path in &cards {
                let text = files::read_capped_text(path, files::MAX_JSON, "a member card")?;
                members.push(serde_json::from_str(&text).map_err(|e| {
                    Invalid(format!(
                        "{} is not a member card: {}",
                        path.display(),
                        files::excerpt(&e.to_string(), 200)
                    ))
                })?);
            }
            let policy = match policy {
                Some(path) => read_policy(&path)?,
                None => Policy::default(),
            };
            let roster = build_roster(&network, members, policy)?;
            std::fs::write(&out, roster.to_bytes()).with_context(|| format!("writing {}", out.display()))?;
            println!("network id {}", roster.network_id());
            eprintln!("{}", spoken(&roster));
            eprintln!("compare it with every party by voice before going live");
            Ok(())
        }
        RosterCommand::Show { file, json } => {
            let roster = match file {
                Some(path) => home::read_roster(&path)?,
                None => home.roster()?,
            };
            if json.json {
                super::print::print_json(
                    &json!({
                        "network_id": roster.network_id().to_hex(),
                        "fingerprint": roster.fingerprint(),
                        "fingerprint_zh": hotline_proto::fingerprint(&roster.network_id(), hotline_proto::FingerprintLanguage::ChineseSimplified),
                        "roster": roster,
                    }),
                    "roster",
                )?;
            } else {
                println!("network {}  id {}", roster.network, roster.network_id());
                println!("{}", spoken(&roster));
                for m in &roster.members {
                    println!(
                        "  {:<10} {}  {}  [{}]",
                        m.name,
                        m.key,
                        m.addresses.join(" "),
                        m.languages.join(",")
                    );
                }
                let p = &roster.policy;
                for precedence in Precedence::ALL {
                    let d = p.deadlines(precedence);
                    println!(
                        "  {:<10} receipt {:>8}  acknowledgement {:>8}",
                        precedence.name(),
                        span(d.receipt_ms),
                        span(d.ack_ms)
                    );
                }
                println!(
                    "  link test every {}, down after {} silent; languages {}",
                    span(p.link_test_interval_ms),
                    span(p.link_silence_ms),
                    p.required_languages.join(", ")
                );
            }
            Ok(())
        }
        RosterCommand::Install { file } => {
            let roster = home::read_roster(&file)?;
            let key = home.key()?;
            let config = home.config()?;
            let id = hotline_proto::crypto::node_id(&key);
            match roster.member(&id) {
                Some(m) if m.name == config.name => {}
                Some(m) => bail!("the roster calls this node {:?}, not {:?}", m.name, config.name),
                None => bail!("this node ({id}) is not in that roster"),
            }
            home.write_roster(&roster)?;
            println!("installed roster of network {} (id {})", roster.network, roster.network_id());
            println!("{}", spoken(&roster));
            Ok(())
        }
    }
}

/// The network id's spoken fingerprint in English and Chinese (spec §3.3): what parties read to
/// each other.
fn spoken(roster: &hotline_proto::Roster) -> String {
    let id = roster.network_id();
    format!(
        "spoken fingerprint: {} / {}",
        hotline_proto::fingerprint(&id, hotline_proto::FingerprintLanguage::English),
        hotline_proto::fingerprint(&id, hotline_proto::FingerprintLanguage::ChineseSimplified)
    )
}

#[cfg(test)]
mod tests {
    use hotline_proto::Policy;

    /// The policy an operator starts from (deploy/) builds a valid roster, and a policy file
    /// that states only some fields takes the spec's defaults for the rest.
    #[test]
    fn the_example_policy_and_a_partial_one_are_valid() {
        let text = include_str!("../../../deploy/policy.example.toml");
        let policy: Policy = toml::from_str(text).expect("the example policy parses");
        policy.check().expect("the example policy is valid");
        assert_eq!(policy.link_test_interval_ms, Policy::default().link_test_interval_ms);
        let partial: Policy = toml::from_str("link_silence_ms = 240000\n").expect("a partial policy parses");
        assert_eq!(partial, Policy { link_silence_ms: 240_000, ..Policy::default() });
        assert!(toml::from_str::<Policy>("link_silense_ms = 1\n").is_err(), "a misspelt field is refused");
        // Partial at every depth (issue 12, item 12): a deadline table with one of its fields.
        let partial = super::parse_policy("[flash]\nack_ms = 300000\n").expect("a partial table parses");
        let default = Policy::default();
        assert_eq!(partial.flash.ack_ms, 300_000);
        assert_eq!(partial.flash.receipt_ms, default.flash.receipt_ms);
        assert_eq!(partial.immediate, default.immediate);
        let e = super::parse_policy("[flash]\nack_msec = 1\n").unwrap_err();
        assert!(e.contains("ack_msec"), "{e}");
    }
}
