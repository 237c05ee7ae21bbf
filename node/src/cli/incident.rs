//! Reading an incident file as an officer writes it: every problem in the file at once, each with
//! its JSON path, what is allowed there and the limit that applies, judged by the published
//! schema (`spec/incident.schema.json`, built into the binary, so that no one needs the
//! repository) and by the precedence the notice goes at. Times may be RFC 3339. A skeleton to
//! start from is `hotline incident template`.

use std::collections::HashMap;

use hotline_proto::{Incident, Precedence};
use serde_json::Value;

use super::Invalid;

/// The published incident schema: the one statement of the incident's JSON form (kept in step
/// with the Rust types by `proto/tests/schema.rs`).
pub const SCHEMA: &str = include_str!("../../../spec/incident.schema.json");

/// At most this many problems are listed; the rest are counted.
const MAX_PROBLEMS: usize = 40;

/// Reads the incident in `text` (from `source`, for messages) to be sent at `precedence`.
pub fn read(text: &str, source: &str, precedence: Precedence) -> Result<Incident, Invalid> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        Invalid(format!(
            "{source} is not JSON: {e} (a JSON syntax error, before any field is looked at; `hotline incident template` writes a valid skeleton to start from)"
        ))
    })?;
    let problems = problems(&mut value, precedence);
    if !problems.is_empty() {
        let n = problems.len();
        let mut listed: Vec<String> =
            problems.into_iter().take(MAX_PROBLEMS).map(|p| format!("  {p}")).collect();
        if n > MAX_PROBLEMS {
            listed.push(format!("  … and {} more", n - MAX_PROBLEMS));
        }
        return Err(Invalid(format!(
            "{source} is not a valid incident ({n} problem{}):\n{}\n(`hotline incident template` writes a valid skeleton; `hotline incident schema` prints the schema)",
            if n == 1 { "" } else { "s" },
            listed.join("\n")
        )));
    }
    serde_json::from_value(value).map_err(|e| Invalid(format!("{source} is not a valid incident: {e}")))
}

/// Every problem of the incident `value` at `precedence`, in document order, in English (as
/// the CLI says them). Converts RFC 3339 times in `occurred_ms` to milliseconds first.
pub fn problems(value: &mut Value, precedence: Precedence) -> Vec<String> {
    check(value, precedence).iter().map(Problem::to_string).collect()
}

/// Every problem of the incident `value` at `precedence`, in document order, typed, for an
/// interface to say in its officer's language. Converts RFC 3339 times in `occurred_ms` to
/// milliseconds first.
pub fn check(value: &mut Value, precedence: Precedence) -> Vec<Problem> {
    if let Some(time) = value.get_mut("occurred_ms") {
        if let Some(ms) = time.as_str().and_then(hotline_proto::utc::parse_rfc3339) {
            *time = ms.into();
        }
    }
    let Ok(root) = serde_json::from_str::<Value>(SCHEMA) else {
        return vec![Problem { path: "/".into(), what: What::SchemaBroken, about: None }];
    };
    let mut checker = Checker { root: &root, patterns: HashMap::new(), problems: Vec::new() };
    checker.check(&root, value, "", None);
    texts_within(value, "", precedence, &mut checker.problems);
    checker.problems
}

/// One thing wrong in an incident: where (a JSON pointer), what, and the schema's description of
/// the field (in English, as the schema is written), said with it so that the officer learns
/// what the field wants.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The JSON pointer of the field (`/` for the whole).
    pub path: String,
    /// What is wrong.
    pub what: What,
    /// The schema's description of the field, if it has one.
    pub about: Option<String>,
}

/// What is wrong with a field. Values are shown short (at most 60 characters).
#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// Of another JSON type: the types allowed, and what was found.
    Expected { allowed: Vec<String>, found: String },
    /// Not one of the enumeration's values.
    NotOneOf { value: String, allowed: Vec<String> },
    /// A number below the minimum.
    BelowMinimum { value: String, min: f64 },
    /// A number above the maximum.
    AboveMaximum { value: String, max: f64 },
    /// A text shorter than its least length, in characters.
    TooShort { value: String, min: u64 },
    /// A text longer than its greatest length, in characters.
    TooLong { chars: u64, max: u64 },
    /// A text not of the form its pattern requires.
    WrongForm { value: String },
    /// A text of nothing but blanks.
    Blank,
    /// A text with a control character (line breaks and tabs are allowed).
    ControlCharacter,
    /// A one-line text with a control character or a line break.
    NotOneLine,
    /// Another form the schema does not allow.
    Disallowed,
    /// A required field absent.
    Missing,
    /// A field the schema does not know: the fields there are.
    UnknownField { known: Vec<String> },
    /// A list shorter than its least length (`n` items; 0: empty).
    TooFewItems { n: u64, min: u64 },
    /// A list longer than its greatest length.
    TooManyItems { n: u64, max: u64 },
    /// A value named twice in a list whose items must differ.
    Twice { value: String },
    /// A text longer in bytes than the precedence allows (spec §5).
    TextTooLong { bytes: usize, precedence: Precedence, max: usize },
    /// The built-in schema does not parse: a bug.
    SchemaBroken,
}

impl std::fmt::Display for What {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            What::Expected { allowed, found } => {
                write!(f, "expected {}, found {found}", allowed.join(" or "))
            }
            What::NotOneOf { value, allowed } => write!(f, "{value} is not one of: {}", allowed.join(", ")),
            What::BelowMinimum { value, min } => write!(f, "{value} is below the minimum {min}"),
            What::AboveMaximum { value, max } => write!(f, "{value} is above the maximum {max}"),
            What::TooShort { value, min } => write!(f, "{value} is shorter than {min} characters"),
            What::TooLong { chars, max } => write!(f, "{chars} characters, more than the {max} allowed"),
            What::WrongForm { value } => write!(f, "{value} does not have the required form"),
            What::Blank => write!(f, "is blank"),
            What::ControlCharacter => {
                write!(f, "contains a control character (only line breaks and tabs are allowed in a text)")
            }
            What::NotOneLine => {
                write!(f, "contains a control character or a line break (it must be one line)")
            }
            What::Disallowed => write!(f, "has a form that is not allowed"),
            What::Missing => write!(f, "missing (it is required)"),
            What::UnknownField { known } => {
                write!(f, "unknown field; the fields here are {}", known.join(", "))
            }
            What::TooFewItems { n: 0, min } => write!(f, "empty, at least {min} needed"),
            What::TooFewItems { n, min } => write!(f, "{n} items, at least {min} needed"),
            What::TooManyItems { n, max } => write!(f, "{n} items, at most {max} allowed"),
            What::Twice { value } => write!(f, "{value} is named twice"),
            What::TextTooLong { bytes, precedence, max } => write!(
                f,
                "{bytes} bytes; at {} each text may be at most {max} bytes (8192 at PRIORITY and ROUTINE)",
                precedence.name()
            ),
            What::SchemaBroken => write!(f, "the built-in incident schema does not parse (a bug: report it)"),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.about {
            Some(about) => write!(f, "{}: {} — {about}", self.path, self.what),
            None => write!(f, "{}: {}", self.path, self.what),
        }
    }
}

/// The precedence's limit on each text (spec §5: FLASH and IMMEDIATE texts stay short).
fn texts_within(value: &Value, path: &str, precedence: Precedence, problems: &mut Vec<Problem>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let here = format!("{path}/{key}");
                if let (true, Some(text)) = (key == "text" && map.contains_key("lang"), v.as_str()) {
                    if text.len() > precedence.max_text() {
                        let what =
                            What::TextTooLong { bytes: text.len(), precedence, max: precedence.max_text() };
                        problems.push(Problem { path: here, what, about: None });
                    }
                } else {
                    texts_within(v, &here, precedence, problems);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                texts_within(v, &format!("{path}/{i}"), precedence, problems);
            }
        }
        _ => {}
    }
}

/// A checker for the part of JSON Schema (2020-12) the incident schema uses.
struct Checker<'a> {
    root: &'a Value,
    patterns: HashMap<String, Option<regex::Regex>>,
    problems: Vec<Problem>,
}

/// What a JSON value is, in the schema's words.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as it appears in a message: short.
fn shown(v: &Value) -> String {
    crate::files::excerpt(&v.to_string(), 60)
}

impl<'a> Checker<'a> {
    /// The definition a local `$ref` (`#/$defs/NAME`) names.
    fn resolve(&self, schema: &Value) -> Option<&'a Value> {
        let name = schema.get("$ref")?.as_str()?.strip_prefix("#/$defs/")?;
        self.root.get("$defs")?.get(name)
    }

    fn matches(&mut self, pattern: &str, text: &str) -> bool {
        let re = self.patterns.entry(pattern.to_string()).or_insert_with(|| regex::Regex::new(pattern).ok());
        re.as_ref().is_some_and(|re| re.is_match(text))
    }

    /// Whether `value` passes `schema` (without recording anything).
    fn passes(&mut self, schema: &Value, value: &Value) -> bool {
        let before = self.problems.len();
        self.check(schema, value, "", None);
        let ok = self.problems.len() == before;
        self.problems.truncate(before);
        ok
    }

    fn problem(&mut self, path: &str, what: What, about: Option<&str>) {
        let path = if path.is_empty() { "/" } else { path }.to_string();
        self.problems.push(Problem { path, what, about: about.map(str::to_string) });
    }

    /// Checks `value` at `path` against `schema`; `about` is the nearest description, said with
    /// a problem so that the officer learns what the field wants.
    fn check(&mut self, schema: &Value, value: &Value, path: &str, about: Option<&str>) {
        // The outermost description is the one about this field (a `$ref`'s is about its type).
        let about = about.or_else(|| schema.get("description").and_then(Value::as_str));
        if let Some(target) = self.resolve(schema) {
            self.check(target, value, path, about);
        }
        if let Some(types) = schema.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let k = kind(value);
            if !allowed.iter().any(|t| *t == k || (*t == "number" && k == "integer")) {
                let got = match value {
                    Value::Number(_) | Value::String(_) | Value::Bool(_) => format!("{k} {}", shown(value)),
                    _ => k.to_string(),
                };
                let allowed = allowed.iter().map(|t| (*t).to_string()).collect();
                self.problem(path, What::Expected { allowed, found: got }, about);
                return;
            }
        }
        if let Some(Value::Array(options)) = schema.get("enum") {
            if !options.contains(value) {
                let names: Vec<String> = options
                    .iter()
                    .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_string))
                    .collect();
                self.problem(path, What::NotOneOf { value: shown(value), allowed: names }, None);
            }
        }
        if let (Some(n), Some(min)) = (value.as_f64(), schema.get("minimum").and_then(Value::as_f64)) {
            if n < min {
                self.problem(path, What::BelowMinimum { value: shown(value), min }, about);
            }
        }
        if let (Some(n), Some(max)) = (value.as_f64(), schema.get("maximum").and_then(Value::as_f64)) {
            if n > max {
                self.problem(path, What::AboveMaximum { value: shown(value), max }, about);
            }
        }
        if let Value::String(text) = value {
            let chars = text.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if chars < min {
                    self.problem(path, What::TooShort { value: shown(value), min }, about);
                }
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if chars > max {
                    self.problem(path, What::TooLong { chars, max }, about);
                }
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                if !self.matches(pattern, text) {
                    self.problem(path, What::WrongForm { value: shown(value) }, about);
                }
            }
        }
        if let Some(not) = schema.get("not") {
            if self.passes(not, value) {
                let what = match not.get("pattern").and_then(Value::as_str) {
                    Some(p) if p.contains("^\\s*$") => What::Blank,
                    Some(p) if p.contains("\\u0000") && p.contains("\\u000B") => What::ControlCharacter,
                    Some(p) if p.contains("\\u0000") => What::NotOneLine,
                    _ => What::Disallowed,
                };
                self.problem(path, what, about);
            }
        }
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for sub in all {
                self.check(sub, value, path, about);
            }
        }
        if let Some(Value::Array(any)) = schema.get("anyOf") {
            if !any.iter().any(|sub| self.passes(sub, value)) {
                // Said in the terms of the first branch that is not `null`: what was meant.
                let main =
                    any.iter().find(|b| b.get("type") != Some(&Value::from("null"))).unwrap_or(&any[0]);
                self.check(main, value, path, about);
            }
        }
        match value {
            Value::Object(map) => self.check_object(schema, map, path, about),
            Value::Array(items) => self.check_array(schema, items, path, about),
            _ => {}
        }
    }

    fn check_object(
        &mut self,
        schema: &Value,
        map: &serde_json::Map<String, Value>,
        path: &str,
        about: Option<&str>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    let field_about = properties
                        .and_then(|p| p.get(key))
                        .and_then(|s| s.get("description"))
                        .and_then(Value::as_str);
                    self.problem(&format!("{path}/{key}"), What::Missing, field_about);
                }
            }
        }
        if let Some(properties) = properties {
            for (key, v) in map {
                match properties.get(key) {
                    Some(sub) => self.check(sub, v, &format!("{path}/{key}"), None),
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        let known = properties.keys().cloned().collect();
                        self.problem(&format!("{path}/{key}"), What::UnknownField { known }, None);
                    }
                    None => {}
                }
            }
        }
        let _ = about;
    }

    fn check_array(&mut self, schema: &Value, items: &[Value], path: &str, about: Option<&str>) {
        let n = items.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if n < min {
                self.problem(path, What::TooFewItems { n, min }, about);
            }
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
            if n > max {
                self.problem(path, What::TooManyItems { n, max }, about);
            }
        }
        if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    self.problem(&format!("{path}/{i}"), What::Twice { value: shown(item) }, None);
                }
            }
        }
        if let Some(sub) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(sub, item, &format!("{path}/{i}"), None);
            }
        }
    }
}

/// A skeleton incident that passes every check, with a text in each of `languages`, as pretty
/// JSON in the fields' order and with the time in RFC 3339: the values are placeholders to
/// overwrite; the enumerations' choices are listed by [`choices`].
pub fn template(languages: &[String], now_ms: u64) -> String {
    let minute = now_ms - now_ms % 60_000;
    let skeleton = template_value(languages, minute);
    // Through the type, for its field order (a JSON map here sorts its keys).
    let text = serde_json::from_value::<Incident>(skeleton.clone())
        .and_then(|incident| serde_json::to_string_pretty(&incident))
        .unwrap_or_else(|_| skeleton.to_string());
    text.replacen(
        &format!("\"occurred_ms\": {minute}"),
        &format!("\"occurred_ms\": \"{}\"", hotline_proto::utc::rfc3339_ms(minute)),
        1,
    )
}

fn template_value(languages: &[String], now_ms: u64) -> Value {
    let texts = |what: &str| -> Value {
        languages.iter().map(|l| serde_json::json!({ "lang": l, "text": format!("{what} ({l})") })).collect()
    };
    serde_json::json!({
        "completeness": "initial",
        "domain": "maritime",
        "system_class": "decision_support",
        "failure_modes": ["misidentification"],
        "severity": "moderate",
        "occurred_ms": now_ms,
        "location": { "region": "Named region or grid reference", "lat_decideg": null, "lon_decideg": null },
        "summary": texts("What happened, in one paragraph"),
        "suspected_cause": [],
        "human_control": {
            "role": "in_the_loop",
            "final_decision_by": "commanding officer",
            "statement": texts("What the human did with the final decision")
        },
        "actions_taken": [],
        "requested_response": texts("What we ask of the recipients"),
        "contact": "our liaison desk",
        "attachments": []
    })
}

/// Each enumerated field's path and its allowed values, from the schema.
pub fn choices() -> Vec<(String, Vec<String>)> {
    let Ok(root) = serde_json::from_str::<Value>(SCHEMA) else { return vec![] };
    let Some(defs) = root.get("$defs").and_then(Value::as_object) else { return vec![] };
    defs.iter()
        .filter_map(|(name, def)| {
            let values = def.get("enum")?.as_array()?;
            Some((name.clone(), values.iter().filter_map(Value::as_str).map(str::to_string).collect()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../spec/examples/s1-misidentification.json");

    #[test]
    fn the_example_and_the_template_pass() {
        let incident = read(EXAMPLE, "example", Precedence::Flash).unwrap();
        assert_eq!(incident.contact, "alpha liaison desk, watch officer");
        let template = template(&["en".into(), "zh".into()], 1_794_722_412_345);
        assert!(template.contains("\"occurred_ms\": \"2026-11-15T06:00:00.000Z\""), "{template}");
        assert!(template.find("completeness") < template.find("summary"), "in the fields' order: {template}");
        let incident = read(&template, "template", Precedence::Flash).unwrap();
        assert_eq!(incident.occurred_ms, 1_794_722_400_000, "the RFC 3339 time is read");
        assert!(choices()
            .iter()
            .any(|(name, values)| name == "severity" && values.contains(&"critical".into())));
    }

    /// The 13 attempts of issue 12, item 3, at once: every problem named in one answer, with its
    /// path, the allowed values and the limit that applies.
    #[test]
    fn every_problem_at_once_with_its_path() {
        let mut v: Value = serde_json::from_str(EXAMPLE).unwrap();
        v["summary"] = "a string, not a list".into();
        v["completeness"] = "first".into();
        v["occurred_ms"] = "yesterday at noon".into();
        v["location"]["lat_decideg"] = 45.2.into();
        v["failure_modes"] = serde_json::json!(["misidentification", "misidentification"]);
        v["human_control"].as_object_mut().unwrap().remove("statement");
        v["contact"] = "  ".into();
        v["colour"] = "red".into();
        v["requested_response"][0]["text"] = "x".repeat(2000).into();
        let text = v.to_string();
        let e = read(&text, "incident.json", Precedence::Flash).unwrap_err().0;
        for expected in [
            "/summary: expected array, found string",
            "/completeness: \"first\" is not one of: initial, update, final",
            "/occurred_ms: expected integer, found string \"yesterday at noon\"",
            "/location/lat_decideg: expected integer or null, found number 45.2",
            "/failure_modes/1: \"misidentification\" is named twice",
            "/human_control/statement: missing (it is required)",
            "/contact: is blank",
            "/colour: unknown field",
            "/requested_response/0/text: 2000 bytes; at FLASH each text may be at most 1024 bytes",
            "(9 problems)",
        ] {
            assert!(e.contains(expected), "{expected:?} not in:\n{e}");
        }
        // A description says what the field wants (the field's, not its type's).
        assert!(e.contains("tenths of a degree"), "{e}");
        assert!(
            e.contains(
                "/summary: expected array, found string \"a string, not a list\" — One-paragraph account"
            ),
            "{e}"
        );
        // The same text at ROUTINE is within its limit.
        let e = read(&text, "incident.json", Precedence::Routine).unwrap_err().0;
        assert!(e.contains("(8 problems)"), "{e}");
    }

    #[test]
    fn a_syntax_error_is_not_a_schema_problem() {
        let e = read("{\"completeness\": \"initial\",", "incident.json", Precedence::Routine).unwrap_err().0;
        assert!(e.contains("is not JSON") && e.contains("line 1"), "{e}");
        assert!(!e.contains("spec/"), "{e}");
    }

    #[test]
    fn patterns_and_bounds() {
        let mut v: Value = serde_json::from_str(EXAMPLE).unwrap();
        v["summary"][0]["lang"] = "e".into();
        v["summary"][1]["lang"] = "1x".into();
        v["location"]["lon_decideg"] = 1900.into();
        v["attachments"] = serde_json::json!([{ "sha256": "abc", "size": 1, "media_type": "video/mp4", "description": "line\nbreak" }]);
        v["suspected_cause"][0]["text"] = "bell\u{7}".into();
        let e = read(&v.to_string(), "i", Precedence::Routine).unwrap_err().0;
        for expected in [
            "/summary/0/lang: \"e\" is shorter than 2 characters",
            "/summary/1/lang: \"1x\" does not have the required form",
            "/location/lon_decideg: 1900 is above the maximum 1800",
            "/attachments/0/sha256: \"abc\" does not have the required form",
            "/attachments/0/description: contains a control character or a line break",
            "/suspected_cause/0/text: contains a control character (only line breaks and tabs",
        ] {
            assert!(e.contains(expected), "{expected:?} not in:\n{e}");
        }
    }
}
