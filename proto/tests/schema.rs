//! Keeps the published JSON Schema (`spec/incident.schema.json`) and the example incidents in step
//! with the Rust types of `hotline_proto::incident`, as `serde_json` reads and writes them.
//!
//! Every enum variant is listed explicitly below; a new variant makes `variants!` fail to compile
//! until it is added here, and then the comparison with the schema fails until the schema names it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use hotline_proto::limits::{
    MAX_ATTACHMENTS, MAX_FAILURE_MODES, MAX_LANG, MAX_LANGS, MAX_NAME, MAX_SHORT, MAX_TEXT,
};
use hotline_proto::{
    Attachment, Completeness, Domain, FailureMode, HumanControl, HumanRole, Location, Severity, SystemClass,
};
use hotline_proto::{Hash32, Incident, LangText};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// All variants of a fieldless enum, from one list that is also matched exhaustively: a variant
/// missing from the list is a compile error.
macro_rules! variants {
    ($ty:ident { $($variant:ident),+ $(,)? }) => {{
        fn _exhaustive(value: $ty) {
            match value {
                $($ty::$variant)|+ => {}
            }
        }
        vec![$($ty::$variant),+]
    }};
}

fn spec_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec").join(relative)
}

fn read_spec(relative: &str) -> String {
    let path = spec_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn schema() -> Value {
    serde_json::from_str(&read_spec("incident.schema.json")).expect("the schema is valid JSON")
}

const EXAMPLE: &str = "examples/s1-misidentification.json";

fn required_langs() -> Vec<String> {
    vec!["en".into(), "zh".into()]
}

/// Follows a local `$ref` (`#/$defs/<name>`).
fn deref<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let reference = node.get("$ref")?.as_str()?;
    let name = reference.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unexpected $ref {reference:?}"));
    Some(root.get("$defs").and_then(|defs| defs.get(name)).unwrap_or_else(|| panic!("no $defs/{name}")))
}

/// Looks `key` up in a schema node: in the node itself first, then through its `$ref`, then in the
/// non-null branches of its `anyOf` (how an `Option` is written).
fn lookup<'a>(root: &'a Value, node: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(found) = node.get(key) {
        return Some(found);
    }
    if let Some(target) = deref(root, node) {
        if let Some(found) = lookup(root, target, key) {
            return Some(found);
        }
    }
    node.get("anyOf")?
        .as_array()?
        .iter()
        .filter(|branch| branch.get("type") != Some(&Value::from("null")))
        .find_map(|branch| lookup(root, branch, key))
}

/// Walks a path of keys from the schema's root.
fn at<'a>(root: &'a Value, path: &[&str]) -> &'a Value {
    let mut node = root;
    for (i, key) in path.iter().enumerate() {
        node = lookup(root, node, key).unwrap_or_else(|| panic!("schema has no {:?}", path[..=i].join(".")));
    }
    node
}

fn string_set(value: &Value, what: &str) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what} is not an array"))
        .iter()
        .map(|item| item.as_str().unwrap_or_else(|| panic!("{what} holds a non-string")).to_owned())
        .collect()
}

fn usize_at(root: &Value, path: &[&str]) -> usize {
    let value = at(root, path);
    let number = value.as_u64().unwrap_or_else(|| panic!("{} is not a count: {value}", path.join(".")));
    usize::try_from(number).expect("fits in usize")
}

/// Asserts that the schema's enum at `path` holds exactly the strings serde writes for `variants`,
/// and that each string reads back as its variant.
fn assert_enum<T>(root: &Value, path: &[&str], variants: &[T])
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let mut serde_names = BTreeSet::new();
    for variant in variants {
        let value = serde_json::to_value(variant).expect("an enum variant serializes");
        let name = value.as_str().unwrap_or_else(|| panic!("{variant:?} is not a JSON string: {value}"));
        assert!(serde_names.insert(name.to_owned()), "{name:?} written for two variants");
        let back: T = serde_json::from_value(value.clone()).expect("a written variant reads back");
        assert_eq!(&back, variant);
    }
    let where_ = path.join(".");
    let schema_names = string_set(at(root, &[path, &["enum"]].concat()), &format!("{where_}.enum"));
    assert_eq!(schema_names, serde_names, "schema enum at {where_} differs from the Rust enum");
}

/// Asserts that the schema object at `path` describes the JSON object serde writes for `sample`:
/// the same property names, `required` = the fields serde refuses to do without, a nullable
/// schema for each field serde lets go missing, and no additional properties.
fn assert_object<T: Serialize + DeserializeOwned>(root: &Value, path: &[&str], sample: &T) {
    let where_ = if path.is_empty() { "(top level)".to_owned() } else { path.join(".") };
    let written = serde_json::to_value(sample).expect("the sample serializes");
    let fields = written.as_object().unwrap_or_else(|| panic!("{where_}: not written as a JSON object"));
    assert!(serde_json::from_value::<T>(written.clone()).is_ok(), "{where_}: the sample does not read back");

    // A field is optional exactly when serde still reads the object without it.
    let mut all = BTreeSet::new();
    let mut required = BTreeSet::new();
    for key in fields.keys() {
        all.insert(key.clone());
        let mut without = written.clone();
        without.as_object_mut().expect("an object").remove(key);
        if serde_json::from_value::<T>(without).is_err() {
            required.insert(key.clone());
        } else {
            let mut null = written.clone();
            null.as_object_mut().expect("an object").insert(key.clone(), Value::Null);
            assert!(
                serde_json::from_value::<T>(null).is_ok(),
                "{where_}.{key}: may be missing but may not be null"
            );
        }
    }

    let node = at(root, path);
    let properties = lookup(root, node, "properties")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("{where_}: no properties in the schema"));
    let schema_all: BTreeSet<String> = properties.keys().cloned().collect();
    assert_eq!(schema_all, all, "{where_}: schema properties differ from the Rust fields");

    let schema_required = string_set(
        lookup(root, node, "required").unwrap_or_else(|| panic!("{where_}: no required list")),
        &format!("{where_}.required"),
    );
    assert_eq!(schema_required, required, "{where_}: schema `required` differs from the non-Option fields");

    for key in all.difference(&required) {
        let property = &properties[key];
        let mut allows_null = false;
        if let Some(types) = property.get("type") {
            allows_null |=
                types == "null" || types.as_array().is_some_and(|t| t.contains(&Value::from("null")));
        }
        if let Some(branches) = property.get("anyOf").and_then(Value::as_array) {
            allows_null |= branches.iter().any(|b| b.get("type") == Some(&Value::from("null")));
        }
        assert!(allows_null, "{where_}.{key}: optional in Rust, but the schema does not allow null");
    }

    assert_eq!(
        lookup(root, node, "additionalProperties"),
        Some(&Value::Bool(false)),
        "{where_}: additionalProperties must be false"
    );
}

fn texts(body: &str) -> Vec<LangText> {
    vec![
        LangText { lang: "en".into(), text: body.into() },
        LangText { lang: "zh".into(), text: format!("{body}（中文）") },
    ]
}

/// An incident with every optional field present and every list non-empty, so that serializing it
/// shows every field at every depth.
fn full_sample() -> Incident {
    Incident {
        completeness: Completeness::Update,
        domain: Domain::Air,
        system_class: SystemClass::IsrTargeting,
        failure_modes: vec![FailureMode::Opacity, FailureMode::DataPoisoning],
        severity: Severity::Moderate,
        occurred_ms: 1_795_860_000_000,
        location: Some(Location {
            region: "grid QK-17".into(),
            lat_decideg: Some(-291),
            lon_decideg: Some(1244),
        }),
        summary: texts("summary"),
        suspected_cause: texts("cause"),
        human_control: HumanControl {
            role: HumanRole::OnTheLoop,
            final_decision_by: "watch officer".into(),
            statement: texts("statement"),
        },
        actions_taken: texts("actions"),
        requested_response: texts("request"),
        contact: "liaison desk".into(),
        attachments: vec![Attachment {
            sha256: Hash32([0xab; 32]),
            size: 1234,
            media_type: "video/mp4".into(),
            description: "bridge camera".into(),
        }],
    }
}

// (a) The example reads as an Incident, passes every body rule, and is in canonical form.
#[test]
fn example_parses_and_checks() {
    let text = read_spec(EXAMPLE);
    let incident: Incident = serde_json::from_str(&text).expect("the example parses as an Incident");
    incident
        .check(&required_langs(), MAX_TEXT)
        .unwrap_or_else(|r| panic!("the example fails Incident::check: {r:?}"));

    let original: Value = serde_json::from_str(&text).expect("the example is JSON");
    let rewritten = serde_json::to_value(&incident).expect("an Incident serializes");
    assert_eq!(rewritten, original, "the example does not round-trip unchanged");
}

#[test]
fn full_sample_checks() {
    full_sample().check(&required_langs(), MAX_TEXT).expect("the test sample is a valid incident");
}

// (b) Every enum in the schema lists exactly what serde writes for the Rust variants.
#[test]
fn schema_enums_match_rust_variants() {
    let root = schema();
    assert_enum(&root, &["properties", "completeness"], &variants!(Completeness { Initial, Update, Final }));
    assert_enum(
        &root,
        &["properties", "domain"],
        &variants!(Domain { Maritime, Land, Air, Space, Cyber, Information }),
    );
    assert_enum(
        &root,
        &["properties", "system_class"],
        &variants!(SystemClass {
            DecisionSupport,
            AutonomousWeapon,
            IsrTargeting,
            CommandControl,
            InformationOperations,
            Other,
        }),
    );
    assert_enum(
        &root,
        &["properties", "failure_modes", "items"],
        &variants!(FailureMode {
            AlgorithmicBias,
            Opacity,
            AdversarialAttack,
            DataPoisoning,
            Malfunction,
            Misidentification,
            AutomationBias,
            DecisionSpeedPressure,
            DisinformationDeepfake,
            Other,
        }),
    );
    assert_enum(&root, &["properties", "severity"], &variants!(Severity { Low, Moderate, High, Critical }));
    assert_enum(
        &root,
        &["properties", "human_control", "properties", "role"],
        &variants!(HumanRole { InTheLoop, OnTheLoop, OutOfTheLoop }),
    );
}

// (c) Property names and `required` lists match the fields serde writes and insists on.
#[test]
fn schema_fields_match_rust_fields() {
    let root = schema();
    let sample = full_sample();
    assert_object(&root, &[], &sample);
    assert_object(
        &root,
        &["properties", "location"],
        sample.location.as_ref().expect("sample has a location"),
    );
    assert_object(&root, &["properties", "human_control"], &sample.human_control);
    assert_object(&root, &["properties", "summary", "items"], &sample.summary[0]);
    assert_object(&root, &["properties", "attachments", "items"], &sample.attachments[0]);
}

/// Collects the paths of properties without a description.
fn collect_undescribed(node: &Value, path: &str, missing: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                for (name, property) in properties {
                    if !property.get("description").is_some_and(Value::is_string) {
                        missing.push(format!("{path}.{name}"));
                    }
                }
            }
            for (key, child) in map {
                collect_undescribed(child, &format!("{path}.{key}"), missing);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_undescribed(child, &format!("{path}[{i}]"), missing);
            }
        }
        _ => {}
    }
}

#[test]
fn schema_header_and_descriptions() {
    let root = schema();
    assert_eq!(root["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(root["$id"], "https://cbm-hotline.invalid/spec/incident.schema.json");
    assert!(root["title"].is_string());

    // Every property, at every depth, explains itself.
    let mut missing = Vec::new();
    collect_undescribed(&root, "", &mut missing);
    assert!(missing.is_empty(), "properties without a description: {missing:?}");
}

#[test]
fn schema_bounds_match_limits() {
    let root = schema();
    let bounds: &[(&[&str], usize)] = &[
        (&["properties", "failure_modes", "minItems"], 1),
        (&["properties", "failure_modes", "maxItems"], MAX_FAILURE_MODES),
        (&["properties", "attachments", "maxItems"], MAX_ATTACHMENTS),
        (&["properties", "summary", "minItems"], 1),
        (&["properties", "summary", "maxItems"], MAX_LANGS),
        (&["properties", "suspected_cause", "maxItems"], MAX_LANGS),
        (&["properties", "actions_taken", "maxItems"], MAX_LANGS),
        (&["properties", "requested_response", "maxItems"], MAX_LANGS),
        (&["properties", "human_control", "properties", "statement", "minItems"], 1),
        (&["properties", "human_control", "properties", "statement", "maxItems"], MAX_LANGS),
        (&["properties", "summary", "items", "properties", "text", "maxLength"], MAX_TEXT),
        (&["properties", "summary", "items", "properties", "lang", "minLength"], 2),
        (&["properties", "summary", "items", "properties", "lang", "maxLength"], MAX_LANG),
        (&["properties", "contact", "maxLength"], MAX_SHORT),
        (&["properties", "location", "properties", "region", "maxLength"], MAX_SHORT),
        (&["properties", "human_control", "properties", "final_decision_by", "maxLength"], MAX_NAME),
        (&["properties", "attachments", "items", "properties", "media_type", "maxLength"], MAX_NAME),
        (&["properties", "attachments", "items", "properties", "description", "maxLength"], MAX_SHORT),
    ];
    for (path, expected) in bounds {
        assert_eq!(usize_at(&root, path), *expected, "schema bound {}", path.join("."));
    }
    // Optional text fields may be empty arrays: no minItems.
    for field in ["suspected_cause", "actions_taken", "requested_response"] {
        assert!(lookup(&root, &root["properties"][field], "minItems").is_none(), "{field} must allow []");
    }

    let location = ["properties", "location", "properties"];
    let int = |path: &[&str]| at(&root, &[&location[..], path].concat()).as_i64().expect("an integer bound");
    assert_eq!(int(&["lat_decideg", "minimum"]), -900);
    assert_eq!(int(&["lat_decideg", "maximum"]), 900);
    assert_eq!(int(&["lon_decideg", "minimum"]), -1800);
    assert_eq!(int(&["lon_decideg", "maximum"]), 1800);

    let sha = at(&root, &["properties", "attachments", "items", "properties", "sha256", "pattern"]);
    assert_eq!(sha, "^[0-9a-fA-F]{64}$");
    let unsigned = ["properties", "occurred_ms"];
    assert_eq!(at(&root, &[&unsigned[..], &["maximum"]].concat()).as_u64(), Some(u64::MAX));
    assert_eq!(at(&root, &[&unsigned[..], &["minimum"]].concat()).as_u64(), Some(0));

    // The limits the schema states are the limits Incident::check enforces.
    let mut sample = full_sample();
    sample.failure_modes = variants!(FailureMode {
        AlgorithmicBias,
        Opacity,
        AdversarialAttack,
        DataPoisoning,
        Malfunction,
        Misidentification,
        AutomationBias,
        DecisionSpeedPressure,
        DisinformationDeepfake,
        Other,
    });
    assert_eq!(sample.failure_modes.len(), MAX_FAILURE_MODES);
    sample.check(&required_langs(), MAX_TEXT).expect("all ten failure modes are allowed");
    sample.failure_modes.clear();
    assert!(sample.check(&required_langs(), MAX_TEXT).is_err(), "no failure mode must be refused");
}

/// The example with one value replaced, as JSON text.
fn example_with(path: &[&str], replacement: Value) -> String {
    let mut value: Value = serde_json::from_str(&read_spec(EXAMPLE)).expect("the example is JSON");
    let mut node = &mut value;
    for key in path {
        node = match key.parse::<usize>() {
            Ok(index) => &mut node[index],
            Err(_) => &mut node[*key],
        };
    }
    *node = replacement;
    serde_json::to_string_pretty(&value).expect("JSON serializes")
}

fn parse_error(text: &str) -> String {
    match serde_json::from_str::<Incident>(text) {
        Ok(incident) => panic!("malformed incident parsed: {incident:?}"),
        Err(e) => e.to_string(),
    }
}

// (d) Malformed input fails to parse, and the error names the bad value.
#[test]
fn malformed_examples_are_refused_with_the_bad_value_named() {
    let enum_fields: &[&[&str]] = &[
        &["completeness"],
        &["domain"],
        &["system_class"],
        &["failure_modes", "1"],
        &["severity"],
        &["human_control", "role"],
    ];
    for path in enum_fields {
        let error = parse_error(&example_with(path, Value::from("hostile")));
        assert!(
            error.contains("unknown variant `hostile`"),
            "{}: error does not name the bad value: {error}",
            path.join(".")
        );
    }

    // Enum strings are case-sensitive.
    let error = parse_error(&example_with(&["severity"], Value::from("High")));
    assert!(error.contains("`High`"), "{error}");

    let error = parse_error(&example_with(
        &["attachments"],
        serde_json::json!([{
            "sha256": "not-a-hash",
            "size": 1,
            "media_type": "video/mp4",
            "description": "x"
        }]),
    ));
    assert!(error.contains("not-a-hash"), "{error}");

    let error = parse_error(&example_with(&["occurred_ms"], Value::from(-1)));
    assert!(error.contains("-1"), "{error}");

    let mut missing: Value = serde_json::from_str(&read_spec(EXAMPLE)).expect("the example is JSON");
    missing.as_object_mut().expect("an object").remove("contact");
    let error = parse_error(&missing.to_string());
    assert!(error.contains("missing field `contact`"), "{error}");
}

// Bounds that serde does not enforce (the Rust integers are wider) are enforced by
// Incident::check, which is what the schema's bounds describe.
#[test]
fn bounds_beyond_serde_are_enforced_by_check() {
    let cases: &[(&[&str], Value)] = &[
        (&["location", "lat_decideg"], Value::from(901)),
        (&["location", "lon_decideg"], Value::from(-1801)),
        (&["failure_modes"], serde_json::json!(["opacity", "opacity"])),
        (&["summary"], serde_json::json!([])),
        (&["contact"], Value::from("  ")),
        (&["contact"], Value::from("desk\nofficer")),
        (&["summary", "0", "text"], Value::from("bell\u{7}")),
        (&["summary", "0", "lang"], Value::from("e")),
    ];
    for (path, value) in cases {
        let incident: Incident = serde_json::from_str(&example_with(path, value.clone()))
            .unwrap_or_else(|e| panic!("{} = {value}: serde should accept it: {e}", path.join(".")));
        assert!(
            incident.check(&required_langs(), MAX_TEXT).is_err(),
            "{} = {value}: Incident::check should refuse it",
            path.join(".")
        );
    }

    // Missing and null Option fields are both read as None.
    let mut value: Value = serde_json::from_str(&read_spec(EXAMPLE)).expect("the example is JSON");
    value["location"].as_object_mut().expect("an object").remove("lat_decideg");
    value["location"]["lon_decideg"] = Value::Null;
    let incident: Incident = serde_json::from_value(value).expect("absent or null coordinates parse");
    let location = incident.location.expect("the location is kept");
    assert_eq!((location.lat_decideg, location.lon_decideg), (None, None));
}
