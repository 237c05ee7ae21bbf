//! The incident body: what happened, to which kind of AI system, how a human was involved, and
//! what is asked of the recipient (spec §5.4).
//!
//! The vocabulary follows the China–EU Track-II report on AI and international security: its risk
//! taxonomy (technical vulnerabilities, human factors, application failures, disinformation) gives
//! [`FailureMode`]; its insistence that humans keep the final decision gives [`HumanControl`].
//! The JSON form (the CLI's input) is published as `spec/incident.schema.json`.

use serde::{Deserialize, Serialize};

use crate::error::Rejection;
use crate::ids::Hash32;
use crate::limits::{MAX_ATTACHMENTS, MAX_FAILURE_MODES, MAX_NAME, MAX_SHORT};
use crate::text::{check_line, check_texts, Texts};

/// How far the report has got. An incomplete first report may be completed later (as EU AI Act
/// art. 73 allows); a `final` report closes the incident's thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completeness {
    /// The first report, possibly incomplete.
    Initial,
    /// New facts about an incident already reported.
    Update,
    /// The last report; closes the thread.
    Final,
}

impl Completeness {
    /// Every value, in declaration order.
    pub const ALL: [Completeness; 3] = [Completeness::Initial, Completeness::Update, Completeness::Final];
}

/// The operational domain in which the incident occurred.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// At sea.
    Maritime,
    /// On land.
    Land,
    /// In the air.
    Air,
    /// In space.
    Space,
    /// In cyberspace.
    Cyber,
    /// In the information environment.
    Information,
}

impl Domain {
    /// Every value, in declaration order.
    pub const ALL: [Domain; 6] =
        [Domain::Maritime, Domain::Land, Domain::Air, Domain::Space, Domain::Cyber, Domain::Information];
}

/// The class of AI-enabled system involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemClass {
    /// AI decision-support system (AI-DSS).
    DecisionSupport,
    /// Autonomous or semi-autonomous weapon system.
    AutonomousWeapon,
    /// Intelligence, surveillance, reconnaissance or targeting.
    IsrTargeting,
    /// Command and control.
    CommandControl,
    /// Information operations (including generated media).
    InformationOperations,
    /// Anything else; describe it in the summary.
    Other,
}

impl SystemClass {
    /// Every value, in declaration order.
    pub const ALL: [SystemClass; 6] = [
        SystemClass::DecisionSupport,
        SystemClass::AutonomousWeapon,
        SystemClass::IsrTargeting,
        SystemClass::CommandControl,
        SystemClass::InformationOperations,
        SystemClass::Other,
    ];
}

/// Failure mode or risk category, from the report's taxonomy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// Technical vulnerability: algorithmic bias.
    AlgorithmicBias,
    /// Technical vulnerability: opacity (the decision cannot be explained).
    Opacity,
    /// Technical vulnerability: adversarial attack.
    AdversarialAttack,
    /// Technical vulnerability: data poisoning.
    DataPoisoning,
    /// Application failure: malfunction.
    Malfunction,
    /// Application failure: misidentification.
    Misidentification,
    /// Human factor: automation bias or over-reliance.
    AutomationBias,
    /// Human factor: pressure of machine-speed decisions.
    DecisionSpeedPressure,
    /// Disinformation or deepfake.
    DisinformationDeepfake,
    /// Anything else; describe it in the summary.
    Other,
}

impl FailureMode {
    /// Every value, in declaration order.
    pub const ALL: [FailureMode; 10] = [
        FailureMode::AlgorithmicBias,
        FailureMode::Opacity,
        FailureMode::AdversarialAttack,
        FailureMode::DataPoisoning,
        FailureMode::Malfunction,
        FailureMode::Misidentification,
        FailureMode::AutomationBias,
        FailureMode::DecisionSpeedPressure,
        FailureMode::DisinformationDeepfake,
        FailureMode::Other,
    ];
}

/// How serious the incident is, in the sender's judgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// No harm, no escalation risk.
    Low,
    /// Limited harm or risk.
    Moderate,
    /// Serious harm or a real risk of escalation.
    High,
    /// Loss of life, or escalation under way.
    Critical,
}

impl Severity {
    /// Every value, in declaration order.
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Moderate, Severity::High, Severity::Critical];
}

/// Where a human stood relative to the AI system's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HumanRole {
    /// A human had to approve each decision.
    InTheLoop,
    /// A human supervised and could intervene.
    OnTheLoop,
    /// No human was involved in the decision.
    OutOfTheLoop,
}

impl HumanRole {
    /// Every value, in declaration order.
    pub const ALL: [HumanRole; 3] = [HumanRole::InTheLoop, HumanRole::OnTheLoop, HumanRole::OutOfTheLoop];
}

/// The human-control statement: who kept (or did not keep) the final decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HumanControl {
    /// The human's position relative to the decision.
    pub role: HumanRole,
    /// Who made the final decision (a role, not a person's name), e.g. "commanding officer".
    pub final_decision_by: String,
    /// What the human did, in the network's languages.
    pub statement: Texts,
}

/// A coarse location: a named region and, optionally, a position rounded to 0.1°.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Named region, e.g. "East China Sea" or a grid reference.
    pub region: String,
    /// Latitude in tenths of a degree, −900 to 900.
    pub lat_decideg: Option<i16>,
    /// Longitude in tenths of a degree, −1800 to 1800.
    pub lon_decideg: Option<i16>,
}

/// A file that belongs to the report, by hash only: the bytes travel by other means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// SHA-256 of the file's bytes.
    pub sha256: Hash32,
    /// Size in bytes.
    pub size: u64,
    /// Media type, e.g. `video/mp4`.
    pub media_type: String,
    /// What the file is.
    pub description: String,
}

/// An incident report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// Initial, update or final.
    pub completeness: Completeness,
    /// Operational domain.
    pub domain: Domain,
    /// Class of the AI system involved.
    pub system_class: SystemClass,
    /// One or more failure modes or risk categories, most likely first.
    pub failure_modes: Vec<FailureMode>,
    /// Sender's assessment of severity.
    pub severity: Severity,
    /// When the incident occurred (UTC, milliseconds since the Unix epoch).
    pub occurred_ms: u64,
    /// Where it occurred, coarsely.
    pub location: Option<Location>,
    /// One-paragraph account of what happened. Mandatory.
    pub summary: Texts,
    /// The suspected cause, if one is suspected.
    pub suspected_cause: Texts,
    /// The human-control statement. Mandatory.
    pub human_control: HumanControl,
    /// What the sender has done about it.
    pub actions_taken: Texts,
    /// What the sender asks of the recipients.
    pub requested_response: Texts,
    /// Point of contact (a desk or function, not a private person).
    pub contact: String,
    /// Supporting files, by hash.
    pub attachments: Vec<Attachment>,
}

/// Checks attachments (shared by incidents and codebook messages).
pub fn check_attachments(attachments: &[Attachment]) -> Result<(), Rejection> {
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(Rejection::field("attachments", format!("more than {MAX_ATTACHMENTS}")));
    }
    for a in attachments {
        check_line("attachments.media_type", &a.media_type, MAX_NAME)?;
        check_line("attachments.description", &a.description, MAX_SHORT)?;
    }
    Ok(())
}

impl Incident {
    /// Checks every rule of spec §5.4 that the body alone can decide. `required` is the policy's
    /// required languages, `max_text` the per-language bound for the notice's precedence.
    pub fn check(&self, required: &[String], max_text: usize) -> Result<(), Rejection> {
        if self.failure_modes.is_empty() || self.failure_modes.len() > MAX_FAILURE_MODES {
            return Err(Rejection::field(
                "failure_modes",
                format!("must name 1 to {MAX_FAILURE_MODES} failure modes"),
            ));
        }
        for (i, mode) in self.failure_modes.iter().enumerate() {
            if self.failure_modes[..i].contains(mode) {
                return Err(Rejection::field("failure_modes", "a failure mode is named twice"));
            }
        }
        if let Some(location) = &self.location {
            check_line("location.region", &location.region, MAX_SHORT)?;
            if location.lat_decideg.is_some_and(|lat| !(-900..=900).contains(&lat)) {
                return Err(Rejection::field("location.lat_decideg", "outside -900..=900"));
            }
            if location.lon_decideg.is_some_and(|lon| !(-1800..=1800).contains(&lon)) {
                return Err(Rejection::field("location.lon_decideg", "outside -1800..=1800"));
            }
        }
        check_texts("summary", &self.summary, required, max_text, true)?;
        check_texts("suspected_cause", &self.suspected_cause, required, max_text, false)?;
        check_line("human_control.final_decision_by", &self.human_control.final_decision_by, MAX_NAME)?;
        if self.human_control.final_decision_by.trim().is_empty() {
            return Err(Rejection::field("human_control.final_decision_by", "must not be empty"));
        }
        check_texts("human_control.statement", &self.human_control.statement, required, max_text, true)?;
        check_texts("actions_taken", &self.actions_taken, required, max_text, false)?;
        check_texts("requested_response", &self.requested_response, required, max_text, false)?;
        check_line("contact", &self.contact, MAX_SHORT)?;
        if self.contact.trim().is_empty() {
            return Err(Rejection::field("contact", "must not be empty"));
        }
        check_attachments(&self.attachments)
    }
}
