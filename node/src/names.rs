//! Turning what people type (names, `alpha/17`) into protocol identities, and back.

use anyhow::{anyhow, Result};
use hotline_proto::{NodeId, NoticeId, Roster};

/// The member with this name, or an error listing the members.
pub fn member(roster: &Roster, name: &str) -> Result<NodeId> {
    roster.member_named(name).map(|m| m.key).ok_or_else(|| {
        let names: Vec<&str> = roster.members.iter().map(|m| m.name.as_str()).collect();
        anyhow!("{name:?} is not a member of the network; members are {}", names.join(", "))
    })
}

/// Parses `name/seq`.
pub fn notice(roster: &Roster, text: &str) -> Result<NoticeId> {
    roster
        .parse_notice_name(text)
        .ok_or_else(|| anyhow!("{text:?} is not a notice id (write it as sender/number, e.g. alpha/3)"))
}

/// A member's name, or the short key if it is not in the roster.
pub fn name(roster: &Roster, id: &NodeId) -> String {
    roster.member(id).map_or_else(|| id.short(), |m| m.name.clone())
}
