//! Language-tagged text. Every human-readable field of a notice is a [`Texts`]: the same content
//! in one or more languages, so that no party waits for a translation (spec §5.3).

use serde::{Deserialize, Serialize};

use crate::error::Rejection;
use crate::limits::{MAX_LANG, MAX_LANGS};

/// One language version of a text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangText {
    /// BCP 47 language tag, e.g. `en`, `zh`, `zh-Hans`, `fr`.
    pub lang: String,
    /// The text in that language (UTF-8).
    pub text: String,
}

/// The same text in several languages; at most one version per language tag.
pub type Texts = Vec<LangText>;

/// Checks a language tag: 2 to [`MAX_LANG`] bytes of ASCII letters, digits and `-`, starting with
/// a letter. (The full BCP 47 grammar is not enforced; the roster names the tags in use.)
pub fn check_lang(field: &str, tag: &str) -> Result<(), Rejection> {
    let ok = (2..=MAX_LANG).contains(&tag.len())
        && tag.as_bytes()[0].is_ascii_alphabetic()
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Rejection::field(field, format!("{tag:?} is not a language tag")))
    }
}

/// Whether `c` may make a text display differently from its characters (spec §5.3): the
/// bidirectional embeddings, overrides and isolates ("Trojan Source", as rustc's lint refuses
/// them), and invisible format characters (zero-width space, word joiner and the invisible
/// operators, the byte-order mark, the deprecated format characters, interlinear annotation,
/// tag characters). Left-to-right and right-to-left *marks* and the zero-width (non-)joiner stay
/// allowed: scripts in use need them, and they cannot reorder text.
pub fn is_hidden_format(c: char) -> bool {
    matches!(c,
        '\u{202A}'..='\u{202E}' // LRE, RLE, PDF, LRO, RLO
        | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
        | '\u{200B}' // zero-width space
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{206A}'..='\u{206F}' // deprecated format characters
        | '\u{FEFF}' // byte-order mark / zero-width no-break space
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        | '\u{E0000}'..='\u{E007F}' // tag characters
    )
}

/// The first character of `value` that a text may not contain: a control character (other than
/// those `allowed`) or a hidden format character.
fn forbidden_char(value: &str, allowed: &[char]) -> Option<char> {
    value.chars().find(|&c| (c.is_control() && !allowed.contains(&c)) || is_hidden_format(c))
}

fn describe_forbidden(c: char) -> String {
    if c.is_control() {
        format!("a control character (U+{:04X})", c as u32)
    } else {
        format!("an invisible or bidirectional formatting character (U+{:04X})", c as u32)
    }
}

/// Checks a short single-line string: at most `max` bytes, no control characters and no hidden
/// format characters.
pub fn check_line(field: &str, value: &str, max: usize) -> Result<(), Rejection> {
    if value.len() > max {
        return Err(Rejection::field(field, format!("longer than {max} bytes")));
    }
    if let Some(c) = forbidden_char(value, &[]) {
        return Err(Rejection::field(field, format!("contains {}", describe_forbidden(c))));
    }
    Ok(())
}

/// Checks a [`Texts`] field.
///
/// `required` lists the language tags that must be present (the network policy's required
/// languages); `max_text` bounds each version; an empty `Texts` is allowed only when
/// `mandatory` is false.
pub fn check_texts(
    field: &str,
    texts: &Texts,
    required: &[String],
    max_text: usize,
    mandatory: bool,
) -> Result<(), Rejection> {
    if texts.is_empty() {
        return if mandatory { Err(Rejection::field(field, "must not be empty")) } else { Ok(()) };
    }
    if texts.len() > MAX_LANGS {
        return Err(Rejection::field(field, format!("more than {MAX_LANGS} languages")));
    }
    for (i, version) in texts.iter().enumerate() {
        check_lang(field, &version.lang)?;
        // BCP 47 tags are case-insensitive: `EN` and `en` are one language.
        if texts[..i].iter().any(|earlier| earlier.lang.eq_ignore_ascii_case(&version.lang)) {
            return Err(Rejection::field(field, format!("language {:?} given twice", version.lang)));
        }
        if version.text.trim().is_empty() {
            return Err(Rejection::field(field, format!("the {:?} text is empty", version.lang)));
        }
        if version.text.len() > max_text {
            return Err(Rejection::field(
                field,
                format!("the {:?} text is longer than {max_text} bytes", version.lang),
            ));
        }
        if let Some(c) = forbidden_char(&version.text, &['\n', '\t']) {
            return Err(Rejection::field(
                field,
                format!("the {:?} text contains {}", version.lang, describe_forbidden(c)),
            ));
        }
    }
    for lang in required {
        if !texts.iter().any(|version| version.lang.eq_ignore_ascii_case(lang)) {
            return Err(Rejection::field(field, format!("required language {lang:?} is missing")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(lang: &str, text: &str) -> LangText {
        LangText { lang: lang.into(), text: text.into() }
    }

    #[test]
    fn texts_rules() {
        let req = vec!["en".to_string(), "zh".to_string()];
        let ok = vec![t("en", "vessel"), t("zh", "船只")];
        assert!(check_texts("f", &ok, &req, 100, true).is_ok());
        assert!(check_texts("f", &vec![], &req, 100, false).is_ok());
        assert!(check_texts("f", &vec![], &req, 100, true).is_err());
        let missing = vec![t("en", "vessel")];
        assert!(check_texts("f", &missing, &req, 100, true)
            .unwrap_err()
            .detail
            .contains("\"zh\" is missing"));
        let dup = vec![t("en", "a"), t("en", "b"), t("zh", "c")];
        assert!(check_texts("f", &dup, &req, 100, true).is_err());
        let long = vec![t("en", &"x".repeat(101)), t("zh", "c")];
        assert!(check_texts("f", &long, &req, 100, true).is_err());
        let blank = vec![t("en", "  "), t("zh", "c")];
        assert!(check_texts("f", &blank, &req, 100, true).is_err());
        let ctl = vec![t("en", "a\u{7}"), t("zh", "c")];
        assert!(check_texts("f", &ctl, &req, 100, true).is_err());
        // "Trojan Source": a right-to-left override makes the text read otherwise than its bytes.
        let rlo = vec![t("en", "transfer to \u{202E}10 0001\u{202C} units"), t("zh", "c")];
        let e = check_texts("f", &rlo, &req, 100, true).unwrap_err();
        assert!(e.detail.contains("U+202E"), "{}", e.detail);
        for hidden in ['\u{2066}', '\u{200B}', '\u{FEFF}', '\u{2062}', '\u{E0041}'] {
            let text = vec![t("en", &format!("a{hidden}b")), t("zh", "c")];
            assert!(check_texts("f", &text, &req, 100, true).is_err(), "U+{:04X}", hidden as u32);
            assert!(check_line("f", &format!("a{hidden}b"), 100).is_err(), "U+{:04X}", hidden as u32);
        }
        // Marks and joiners that scripts need stay allowed.
        for needed in ['\u{200E}', '\u{200F}', '\u{200C}', '\u{200D}', '\u{061C}'] {
            let text = vec![t("en", &format!("a{needed}b")), t("zh", "c")];
            assert!(check_texts("f", &text, &req, 100, true).is_ok(), "U+{:04X}", needed as u32);
        }
        let badtag = vec![t("e", "a")];
        assert!(check_texts("f", &badtag, &[], 100, true).is_err());
    }

    #[test]
    fn line_rules() {
        assert!(check_line("f", "ok", 2).is_ok());
        assert!(check_line("f", "abc", 2).is_err());
        assert!(check_line("f", "a\nb", 10).is_err());
    }
}
