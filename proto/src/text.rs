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

/// Checks a short single-line string: at most `max` bytes and no control characters.
pub fn check_line(field: &str, value: &str, max: usize) -> Result<(), Rejection> {
    if value.len() > max {
        return Err(Rejection::field(field, format!("longer than {max} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(Rejection::field(field, "contains a control character"));
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
        if texts[..i].iter().any(|earlier| earlier.lang == version.lang) {
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
        if version.text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(Rejection::field(
                field,
                format!("the {:?} text contains a control character", version.lang),
            ));
        }
    }
    for lang in required {
        if !texts.iter().any(|version| &version.lang == lang) {
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
