//! The incident form, generated from the published incident schema (`spec/incident.schema.json`,
//! built into the node as `hotline_node::cli::incident::SCHEMA`): a dropdown for every
//! enumeration, check boxes for a set of them, a UTC date-time picker, a location with the
//! schema's bounds, one text area per language of the network, attachments hashed in the browser.
//!
//! Every input is named by the JSON pointer of the value it fills (`/human_control/role`,
//! `/summary/zh`), so that reading the form back ([`Form::read`]) and placing each of the
//! checker's problems next to its field ([`Form::render`]) are one rule, not two. The checking
//! itself is the node's (`hotline_node::cli::incident::problems`), the same as for the CLI.

use hotline_proto::Precedence;
use maud::{html, Markup};
use serde_json::{Map, Value};

use crate::i18n::{n, s, I18n};
use fluent_bundle::FluentValue;
use hotline_node::cli::incident::{Problem, What};

/// One input of the form, as the schema describes it.
#[derive(Clone, Debug)]
pub enum Input {
    /// One of the values.
    Choice(Vec<String>),
    /// Some of the values, between `min` and `max` of them.
    Choices {
        /// The values.
        values: Vec<String>,
        /// At least.
        min: usize,
        /// At most.
        max: usize,
    },
    /// A time, UTC milliseconds, picked as a UTC date and time.
    Time,
    /// A whole number between the bounds, shown as a tenth of it (a position in degrees).
    Degrees {
        /// Least, in tenths.
        min: i64,
        /// Most, in tenths.
        max: i64,
    },
    /// One line of text of at most `max` bytes.
    Line {
        /// At most this many bytes.
        max: usize,
    },
    /// The same text in every language of the network.
    Texts {
        /// Whether at least one is required.
        required: bool,
    },
    /// A group of inputs; `optional` when it may be left out as a whole (`null`).
    Group {
        /// The inputs, in the fields' order.
        fields: Vec<(String, Input)>,
        /// Whether the group may be absent.
        optional: bool,
    },
    /// Files named by hash, at most `max`.
    Attachments {
        /// At most.
        max: usize,
    },
}

/// The incident form.
pub struct Form {
    fields: Vec<(String, Input)>,
}

/// What the form is rendered with: the officer's language, the network's languages, the
/// values to show and the problems to place.
pub struct Context<'a> {
    /// The console's words.
    pub i18n: &'a I18n,
    /// The officer's language.
    pub lang: &'a str,
    /// The network's languages, the officer's first.
    pub languages: &'a [String],
    /// The values (as read back from a refused submission), or `null`.
    pub values: &'a Value,
    /// The checker's problems, as `(pointer, message)`.
    pub problems: &'a [(String, String)],
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => root.get("$defs").and_then(|d| d.get(name)).map_or(node, |d| resolve(root, d)),
        None => node,
    }
}

fn get_u(node: &Value, root: &Value, key: &str) -> Option<u64> {
    node.get(key).or_else(|| resolve(root, node).get(key)).and_then(Value::as_u64)
}

impl Form {
    /// The form of the built-in schema.
    pub fn incident() -> anyhow::Result<Form> {
        let root: Value = serde_json::from_str(hotline_node::cli::incident::SCHEMA)?;
        // The fields in the order of the incident type (the schema's map is unordered here).
        let order = hotline_node::cli::incident::template(&["en".into()], 0);
        let fields = Self::group(&root, &root, &order);
        Ok(Form { fields })
    }

    fn group(root: &Value, node: &Value, order: &str) -> Vec<(String, Input)> {
        let node = resolve(root, node);
        let Some(props) = node.get("properties").and_then(Value::as_object) else { return vec![] };
        let mut fields: Vec<(String, Input)> = props
            .iter()
            .map(|(name, schema)| (name.clone(), Self::input(root, name, schema, order)))
            .collect();
        fields.sort_by_key(|(name, _)| order.find(&format!("\"{name}\"")).unwrap_or(usize::MAX));
        fields
    }

    fn input(root: &Value, name: &str, schema: &Value, order: &str) -> Input {
        if let Some(alternatives) = schema.get("anyOf").and_then(Value::as_array) {
            if let Some(object) = alternatives.iter().find(|a| resolve(root, a).get("properties").is_some()) {
                return Input::Group { fields: Self::group(root, object, order), optional: true };
            }
        }
        let node = resolve(root, schema);
        if let Some(values) = node.get("enum").and_then(Value::as_array) {
            return Input::Choice(values.iter().filter_map(Value::as_str).map(str::to_string).collect());
        }
        if let Some(items) = node.get("items") {
            let item = resolve(root, items);
            if let Some(values) = item.get("enum").and_then(Value::as_array) {
                return Input::Choices {
                    values: values.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                    min: get_u(schema, root, "minItems").unwrap_or(0) as usize,
                    max: get_u(schema, root, "maxItems").unwrap_or(values.len() as u64) as usize,
                };
            }
            if item.get("properties").is_some_and(|p| p.get("sha256").is_some()) {
                return Input::Attachments { max: get_u(schema, root, "maxItems").unwrap_or(16) as usize };
            }
            return Input::Texts { required: get_u(schema, root, "minItems").unwrap_or(0) > 0 };
        }
        if node.get("properties").is_some() {
            return Input::Group { fields: Self::group(root, node, order), optional: false };
        }
        if name.ends_with("_ms") {
            return Input::Time;
        }
        if name.ends_with("_decideg") {
            let bound = |k: &str| node.get(k).and_then(Value::as_i64).unwrap_or(0);
            return Input::Degrees { min: bound("minimum"), max: bound("maximum") };
        }
        let max = get_u(schema, root, "maxLength").unwrap_or(256) as usize;
        Input::Line { max }
    }

    /// The inputs, in order.
    pub fn fields(&self) -> &[(String, Input)] {
        &self.fields
    }

    /// The incident (as JSON, for the checker) that the submitted `fields` describe, in the
    /// network's `languages`.
    pub fn read(&self, fields: &[(String, String)], languages: &[String]) -> Value {
        read_group(&self.fields, "", fields, languages)
    }

    /// The texts that lack a language the network requires (spec §5.3: a text given in one
    /// language is given in every required one; a mandatory text always is): `(pointer of the
    /// missing text, language)`. The schema cannot say this; the roster does.
    pub fn missing_languages(&self, value: &Value, required: &[String]) -> Vec<(String, String)> {
        let mut missing = Vec::new();
        missing_in(&self.fields, "", value, required, &mut missing);
        missing
    }

    /// The form's inputs, with `ctx`'s values and problems.
    pub fn render(&self, ctx: &Context<'_>) -> Markup {
        html! { @for (name, input) in &self.fields { (render(name, input, &format!("/{name}"), ctx)) } }
    }
}

fn missing_in(
    inputs: &[(String, Input)],
    base: &str,
    value: &Value,
    required: &[String],
    out: &mut Vec<(String, String)>,
) {
    for (name, input) in inputs {
        let path = format!("{base}/{name}");
        let here = at(value, &path);
        match input {
            Input::Texts { required: mandatory } => {
                let given = here.as_array().map_or(0, Vec::len);
                if given > 0 || *mandatory {
                    for lang in required {
                        let has =
                            here.as_array().is_some_and(|a| a.iter().any(|t| t["lang"] == lang.as_str()));
                        if !has {
                            out.push((format!("{path}/{lang}"), lang.clone()));
                        }
                    }
                }
            }
            Input::Group { fields, .. } if !here.is_null() => missing_in(fields, &path, value, required, out),
            _ => {}
        }
    }
}

fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn read_group(
    inputs: &[(String, Input)],
    base: &str,
    fields: &[(String, String)],
    languages: &[String],
) -> Value {
    let mut object = Map::new();
    for (name, input) in inputs {
        let path = format!("{base}/{name}");
        let value = read_input(input, &path, fields, languages);
        if !value.is_null() || !matches!(input, Input::Group { optional: true, .. }) {
            object.insert(name.clone(), value);
        }
    }
    Value::Object(object)
}

fn read_input(input: &Input, path: &str, fields: &[(String, String)], languages: &[String]) -> Value {
    let text = |p: &str| get(fields, p).map(str::trim).unwrap_or_default().to_string();
    match input {
        Input::Choice(_) => Value::String(text(path)),
        Input::Choices { .. } => Value::Array(
            fields.iter().filter(|(k, _)| k == path).map(|(_, v)| Value::String(v.clone())).collect(),
        ),
        Input::Time => {
            let t = text(path);
            // A datetime-local value is UTC here (the page says so); seconds are optional.
            let full = if t.len() == 16 { format!("{t}:00Z") } else { format!("{t}Z") };
            match hotline_proto::utc::parse_rfc3339(&full) {
                Some(ms) => Value::from(ms),
                None if t.is_empty() => Value::Null,
                None => Value::String(t),
            }
        }
        Input::Degrees { .. } => {
            let t = text(path);
            if t.is_empty() {
                return Value::Null;
            }
            match t.parse::<f64>() {
                Ok(deg) if deg.is_finite() => Value::from((deg * 10.0).round() as i64),
                _ => Value::String(t),
            }
        }
        Input::Line { .. } => Value::String(get(fields, path).unwrap_or_default().to_string()),
        Input::Texts { .. } => Value::Array(
            languages
                .iter()
                .filter_map(|lang| {
                    let t = get(fields, &format!("{path}/{lang}")).unwrap_or_default();
                    (!t.trim().is_empty())
                        .then(|| serde_json::json!({ "lang": lang, "text": t.replace("\r\n", "\n") }))
                })
                .collect(),
        ),
        Input::Group { fields: inputs, optional } => {
            let group = read_group(inputs, path, fields, languages);
            let empty = group
                .as_object()
                .is_some_and(|o| o.values().all(|v| v.is_null() || v.as_str().is_some_and(str::is_empty)));
            if *optional && empty {
                Value::Null
            } else {
                group
            }
        }
        Input::Attachments { max } => {
            let mut list = Vec::new();
            for i in 0..(*max + 1) {
                let p = |f: &str| format!("{path}/{i}/{f}");
                let Some(sha) = get(fields, &p("sha256")) else { continue };
                let size = text(&p("size"));
                list.push(serde_json::json!({
                    "sha256": sha.trim(),
                    "size": size.parse::<u64>().map_or(Value::String(size), Value::from),
                    "media_type": text(&p("media_type")),
                    "description": get(fields, &p("description")).unwrap_or_default(),
                }));
            }
            Value::Array(list)
        }
    }
}

/// The value at a JSON pointer.
fn at<'a>(values: &'a Value, path: &str) -> &'a Value {
    values.pointer(path).unwrap_or(&Value::Null)
}

/// The problems about `path` and what is inside it, but not those of its own inputs when it is a
/// group (each goes next to its input).
fn problems_at<'a>(ctx: &'a Context<'_>, path: &str, exact_only: bool) -> Vec<&'a str> {
    ctx.problems
        .iter()
        .filter(|(p, _)| {
            p == path || (!exact_only && p.strip_prefix(path).is_some_and(|rest| rest.starts_with('/')))
        })
        .map(|(_, m)| m.as_str())
        .collect()
}

/// The id of an input: its pointer, made an HTML id.
pub fn id_of(path: &str) -> String {
    format!("f{}", path.replace('/', "-"))
}

fn label(ctx: &Context<'_>, name: &str) -> String {
    ctx.i18n.tr(ctx.lang, &format!("field-{}", name.replace('_', "-")))
}

fn help(ctx: &Context<'_>, name: &str) -> String {
    ctx.i18n.tr(ctx.lang, &format!("help-{}", name.replace('_', "-")))
}

fn value_label(ctx: &Context<'_>, value: &str) -> String {
    ctx.i18n.tr(ctx.lang, &format!("value-{}", value.replace('_', "-")))
}

fn errors(list: &[&str], id: &str) -> Markup {
    html! {
        @if !list.is_empty() {
            ul.field-errors id=(format!("{id}-errors")) role="alert" {
                @for m in list { li { (m) } }
            }
        }
    }
}

fn render(name: &str, input: &Input, path: &str, ctx: &Context<'_>) -> Markup {
    let id = id_of(path);
    let value = at(ctx.values, path);
    let group = matches!(
        input,
        Input::Group { .. } | Input::Texts { .. } | Input::Choices { .. } | Input::Attachments { .. }
    );
    let problems = problems_at(ctx, path, !group || matches!(input, Input::Group { .. }));
    let invalid = !problems.is_empty();
    let described = format!("{id}-help{}", if invalid { format!(" {id}-errors") } else { String::new() });
    match input {
        Input::Choice(values) => html! {
            div.field data-path=(path) {
                label for=(id) { (label(ctx, name)) }
                select id=(id) name=(path) required aria-describedby=(described) aria-invalid=[invalid.then_some("true")] {
                    @for v in values {
                        option value=(v) selected[value.as_str() == Some(v.as_str())] { (value_label(ctx, v)) }
                    }
                }
                p.help id=(format!("{id}-help")) { (help(ctx, name)) }
                (errors(&problems, &id))
            }
        },
        Input::Choices { values, min, max } => html! {
            fieldset.field data-path=(path) aria-describedby=(described) {
                legend { (label(ctx, name)) }
                p.help id=(format!("{id}-help")) { (help(ctx, name)) " " (ctx.i18n.tr_args(ctx.lang, "choose-between", &[("min", n(*min as f64)), ("max", n(*max as f64))])) }
                div.choices {
                    @for (i, v) in values.iter().enumerate() {
                        @let checked = value.as_array().is_some_and(|a| a.iter().any(|x| x.as_str() == Some(v.as_str())));
                        label.choice for=(format!("{id}-{i}")) {
                            input type="checkbox" id=(format!("{id}-{i}")) name=(path) value=(v) checked[checked];
                            " " (value_label(ctx, v))
                        }
                    }
                }
                (errors(&problems, &id))
            }
        },
        Input::Time => {
            let shown = value
                .as_u64()
                .map(|ms| hotline_proto::utc::rfc3339_ms(ms).chars().take(19).collect::<String>());
            let shown = shown.or_else(|| value.as_str().map(str::to_string)).unwrap_or_default();
            html! {
                div.field data-path=(path) {
                    label for=(id) { (label(ctx, name)) " " span.unit { "(UTC)" } }
                    input type="datetime-local" id=(id) name=(path) step="1" required value=(shown)
                        aria-describedby=(described) aria-invalid=[invalid.then_some("true")];
                    button.now type="button" data-now-for=(id) { (ctx.i18n.tr(ctx.lang, "time-now")) }
                    p.help id=(format!("{id}-help")) { (help(ctx, name)) }
                    (errors(&problems, &id))
                }
            }
        }
        Input::Degrees { min, max } => {
            let shown = value.as_i64().map(|d| format!("{:.1}", d as f64 / 10.0)).unwrap_or_default();
            html! {
                div.field.degrees data-path=(path) {
                    label for=(id) { (label(ctx, name)) " " span.unit { "(°)" } }
                    input type="number" id=(id) name=(path) step="0.1" min=(format!("{:.1}", *min as f64 / 10.0))
                        max=(format!("{:.1}", *max as f64 / 10.0)) value=(shown)
                        aria-describedby=(described) aria-invalid=[invalid.then_some("true")];
                    p.help id=(format!("{id}-help")) { (help(ctx, name)) }
                    (errors(&problems, &id))
                }
            }
        }
        Input::Line { max } => html! {
            div.field data-path=(path) {
                label for=(id) { (label(ctx, name)) }
                input type="text" id=(id) name=(path) value=(value.as_str().unwrap_or_default()) data-max-bytes=(max)
                    aria-describedby=(described) aria-invalid=[invalid.then_some("true")];
                span.bytes aria-live="polite" {}
                p.help id=(format!("{id}-help")) { (help(ctx, name)) }
                (errors(&problems, &id))
            }
        },
        Input::Texts { required } => html! {
            fieldset.field.texts data-path=(path) aria-describedby=(described) {
                legend { (label(ctx, name)) @if *required { " " span.req { (ctx.i18n.tr(ctx.lang, "required")) } } }
                p.help id=(format!("{id}-help")) { (help(ctx, name)) }
                div.side-by-side {
                    @for lang in ctx.languages {
                        @let tid = format!("{id}-{lang}");
                        @let text = value.as_array().and_then(|a| a.iter().find(|t| t["lang"] == lang.as_str())).and_then(|t| t["text"].as_str()).unwrap_or_default();
                        div.lang-text {
                            label for=(tid) { (ctx.i18n.tr_args(ctx.lang, "text-in", &[("lang", s(&ctx.i18n.tr(ctx.lang, &format!("language-{lang}"))))])) }
                            textarea id=(tid) name=(format!("{path}/{lang}")) lang=(lang) rows="4" data-text-limit="precedence" { (text) }
                            span.bytes aria-live="polite" {}
                        }
                    }
                }
                (errors(&problems, &id))
            }
        },
        Input::Group { fields, optional } => html! {
            fieldset.field.group data-path=(path) {
                legend { (label(ctx, name)) @if *optional { " " span.opt { (ctx.i18n.tr(ctx.lang, "optional")) } } }
                p.help id=(format!("{id}-help")) { (help(ctx, name)) }
                @for (sub, input) in fields { (render(sub, input, &format!("{path}/{sub}"), ctx)) }
                (errors(&problems, &id))
            }
        },
        Input::Attachments { max } => {
            let rows = value.as_array().cloned().unwrap_or_default();
            html! {
                fieldset.field.attachments data-path=(path) data-max=(max) aria-describedby=(described) {
                    legend { (label(ctx, name)) }
                    p.help id=(format!("{id}-help")) { (help(ctx, name)) }
                    div.attachment-rows data-path=(path) data-sha-label=(ctx.i18n.tr(ctx.lang, "attachment-sha256"))
                        data-size-label=(ctx.i18n.tr(ctx.lang, "attachment-size")) data-type-label=(ctx.i18n.tr(ctx.lang, "attachment-type"))
                        data-description-label=(ctx.i18n.tr(ctx.lang, "attachment-description")) data-remove-label=(ctx.i18n.tr(ctx.lang, "attachment-remove")) {
                        @for (i, row) in rows.iter().enumerate() {
                            (attachment_row(ctx, path, i, row))
                        }
                    }
                    label for=(format!("{id}-file")) { (ctx.i18n.tr(ctx.lang, "attachment-add")) }
                    input type="file" id=(format!("{id}-file")) data-attach-to=(path) multiple;
                    (errors(&problems, &id))
                }
            }
        }
    }
}

/// One attachment of the form (the script adds more, with the same inputs).
fn attachment_row(ctx: &Context<'_>, path: &str, i: usize, row: &Value) -> Markup {
    let p = |f: &str| format!("{path}/{i}/{f}");
    let v = |f: &str| {
        row.get(f).map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).unwrap_or_default()
    };
    let t = |k: &str| ctx.i18n.tr(ctx.lang, k);
    html! {
        div.attachment-row {
            label for=(id_of(&p("sha256"))) { (t("attachment-sha256")) }
            input.hash type="text" readonly id=(id_of(&p("sha256"))) name=(p("sha256")) value=(v("sha256"));
            label for=(id_of(&p("size"))) { (t("attachment-size")) }
            input type="text" readonly id=(id_of(&p("size"))) name=(p("size")) value=(v("size"));
            label for=(id_of(&p("media_type"))) { (t("attachment-type")) }
            input type="text" id=(id_of(&p("media_type"))) name=(p("media_type")) value=(v("media_type"));
            label for=(id_of(&p("description"))) { (t("attachment-description")) }
            input type="text" id=(id_of(&p("description"))) name=(p("description")) value=(v("description"));
        }
    }
}

/// The checker's problems as the officer reads them: each field's pointer and what is wrong, in
/// the officer's language; in English, with the schema's description of the field (the schema
/// is written in English only).
pub fn say_problems(i18n: &I18n, lang: &str, problems: &[Problem]) -> Vec<(String, String)> {
    problems.iter().map(|p| (p.path.clone(), say(i18n, lang, p))).collect()
}

fn say(i18n: &I18n, lang: &str, p: &Problem) -> String {
    let list = |items: &[String]| items.join(", ");
    // The form takes a latitude or longitude in degrees; the schema counts tenths of a degree.
    let degrees = p.path.ends_with("_decideg");
    let scale = |v: f64| if degrees { v / 10.0 } else { v };
    let shown = |v: &String| match v.parse::<f64>() {
        Ok(x) if degrees => format!("{}", x / 10.0),
        _ => v.clone(),
    };
    let (id, args): (&str, Vec<(&str, FluentValue<'_>)>) = match &p.what {
        What::Expected { allowed, found } => {
            ("schema-expected", vec![("allowed", s_owned(allowed.join(" / "))), ("found", s(found))])
        }
        What::NotOneOf { value, allowed } => {
            ("schema-not-one-of", vec![("value", s(value)), ("allowed", s_owned(list(allowed)))])
        }
        What::BelowMinimum { value, min } => {
            ("schema-below-minimum", vec![("value", s_owned(shown(value))), ("min", n(scale(*min)))])
        }
        What::AboveMaximum { value, max } => {
            ("schema-above-maximum", vec![("value", s_owned(shown(value))), ("max", n(scale(*max)))])
        }
        What::TooShort { value, min } => {
            ("schema-too-short", vec![("value", s(value)), ("min", n(*min as f64))])
        }
        What::TooLong { chars, max } => {
            ("schema-too-long", vec![("chars", n(*chars as f64)), ("max", n(*max as f64))])
        }
        What::WrongForm { value } => ("schema-wrong-form", vec![("value", s(value))]),
        What::Blank => ("schema-blank", vec![]),
        What::ControlCharacter => ("schema-control", vec![]),
        What::NotOneLine => ("schema-one-line", vec![]),
        What::Disallowed => ("schema-disallowed", vec![]),
        What::Missing => ("schema-missing", vec![]),
        What::UnknownField { known } => ("schema-unknown-field", vec![("known", s_owned(list(known)))]),
        What::TooFewItems { n: count, min } => {
            ("schema-too-few", vec![("n", n(*count as f64)), ("min", n(*min as f64))])
        }
        What::TooManyItems { n: count, max } => {
            ("schema-too-many", vec![("n", n(*count as f64)), ("max", n(*max as f64))])
        }
        What::Twice { value } => ("schema-twice", vec![("value", s(value))]),
        What::TextTooLong { bytes, precedence, max } => (
            "schema-text-too-long",
            vec![
                ("bytes", n(*bytes as f64)),
                (
                    "precedence",
                    s_owned(i18n.tr(lang, &format!("precedence-{}", precedence.name().to_lowercase()))),
                ),
                ("max", n(*max as f64)),
            ],
        ),
        What::SchemaBroken => ("schema-broken", vec![]),
    };
    let what = i18n.tr_args(lang, id, &args);
    match &p.about {
        Some(about) if lang == "en" => format!("{what} — {about}"),
        _ => what,
    }
}

/// An owned text as a message argument.
fn s_owned(value: String) -> FluentValue<'static> {
    FluentValue::from(value)
}

/// The byte limit of each text at each precedence (for the script's live counter).
pub fn text_limits() -> Vec<(Precedence, usize)> {
    crate::pages::layout::PRECEDENCES.iter().map(|p| (*p, p.max_text())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_fields() -> Vec<(String, String)> {
        [
            ("/completeness", "initial"),
            ("/domain", "maritime"),
            ("/system_class", "decision_support"),
            ("/failure_modes", "misidentification"),
            ("/failure_modes", "automation_bias"),
            ("/severity", "high"),
            ("/occurred_ms", "2026-11-15T06:00"),
            ("/location/region", "East China Sea, grid QK-17"),
            ("/location/lat_decideg", "29.1"),
            ("/location/lon_decideg", "124.4"),
            ("/summary/en", "Our decision-support system classified a civilian vessel as hostile."),
            ("/summary/zh", "我方决策支持系统将一艘民用船只误判为敌对。"),
            ("/human_control/role", "in_the_loop"),
            ("/human_control/final_decision_by", "commanding officer"),
            ("/human_control/statement/en", "Engagement was withheld."),
            ("/human_control/statement/zh", "未进行交战。"),
            ("/contact", "alpha liaison desk"),
            ("/attachments/0/sha256", &"ab".repeat(32)),
            ("/attachments/0/size", "1024"),
            ("/attachments/0/media_type", "video/mp4"),
            ("/attachments/0/description", "bridge camera"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn the_form_is_the_schema_and_reads_back_a_valid_incident() {
        let form = Form::incident().unwrap();
        let names: Vec<&str> = form.fields().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"completeness"), "in the type's order: {names:?}");
        assert!(names.iter().position(|n| *n == "occurred_ms") < names.iter().position(|n| *n == "location"));
        assert!(matches!(
            form.fields().iter().find(|(n, _)| n == "failure_modes"),
            Some((_, Input::Choices { min: 1, max: 10, .. }))
        ));
        assert!(matches!(
            form.fields().iter().find(|(n, _)| n == "location"),
            Some((_, Input::Group { optional: true, .. }))
        ));
        let languages = ["en".to_string(), "zh".to_string()];
        let mut value = form.read(&example_fields(), &languages);
        let problems = hotline_node::cli::incident::problems(&mut value, Precedence::Flash);
        assert!(problems.is_empty(), "{problems:?}\n{value:#}");
        assert_eq!(value["location"]["lat_decideg"], 291);
        assert_eq!(value["occurred_ms"], 1_794_722_400_000u64);
        assert_eq!(value["actions_taken"], serde_json::json!([]));
        let incident: hotline_proto::Incident = serde_json::from_value(value).unwrap();
        assert_eq!(incident.failure_modes.len(), 2);
    }

    #[test]
    fn every_problem_lands_next_to_its_field() {
        let form = Form::incident().unwrap();
        let languages = ["en".to_string(), "zh".to_string()];
        let mut fields = example_fields();
        fields.retain(|(k, _)| k != "/summary/zh" && k != "/failure_modes" && k != "/location/lat_decideg");
        fields.push(("/location/lat_decideg".into(), "95".into()));
        let mut value = form.read(&fields, &languages);
        let i18n = I18n::new().unwrap();
        let mut problems =
            say_problems(&i18n, "en", &hotline_node::cli::incident::check(&mut value, Precedence::Flash));
        let missing = form.missing_languages(&value, &languages);
        assert_eq!(missing, vec![("/summary/zh".to_string(), "zh".to_string())]);
        problems.extend(missing.into_iter().map(|(p, l)| (p, format!("no {l} text"))));
        let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert!(paths.contains(&"/failure_modes"), "{problems:?}");
        assert!(paths.contains(&"/location/lat_decideg"), "{problems:?}");
        assert!(paths.iter().any(|p| p.starts_with("/summary")), "{problems:?}");
        let lat = problems.iter().find(|(p, _)| p == "/location/lat_decideg").unwrap();
        assert!(lat.1.starts_with("95 is above the maximum 90 "), "in the form's degrees: {lat:?}");
        // In a Chinese session, in Chinese, without the schema's English description.
        let mut again = form.read(&fields, &languages);
        let zh =
            say_problems(&i18n, "zh", &hotline_node::cli::incident::check(&mut again, Precedence::Flash));
        let lat = zh.iter().find(|(p, _)| p == "/location/lat_decideg").unwrap();
        assert_eq!(lat.1, "95 高于最大值 90");
        assert!(zh.iter().all(|(_, m)| !m.is_ascii()), "every problem said in Chinese: {zh:?}");
        let ctx =
            Context { i18n: &i18n, lang: "en", languages: &languages, values: &value, problems: &problems };
        let html = form.render(&ctx).into_string();
        for id in ["f-failure_modes-errors", "f-location-lat_decideg-errors", "f-summary-errors"] {
            assert!(html.contains(id), "{id} missing");
        }
        // The wrong latitude is shown again as typed (in degrees), not lost.
        assert!(html.contains("value=\"95.0\""), "{html}");
    }
}
