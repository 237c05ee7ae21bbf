//! The console's words in each language it speaks, with Project Fluent: one `.ftl` file per
//! language in `console/locales`, built into the binary. English is complete by definition; a test
//! holds every other language to the same set of messages and variables.

use std::collections::HashMap;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// Every language of the console, with its Fluent source.
pub const LOCALES: [(&str, &str); 2] =
    [("en", include_str!("../locales/en.ftl")), ("zh", include_str!("../locales/zh.ftl"))];

/// The language used when an officer's is not one of [`LOCALES`].
pub const DEFAULT: &str = "en";

/// The bundles of every language.
pub struct I18n {
    bundles: HashMap<&'static str, FluentBundle<FluentResource>>,
}

impl I18n {
    /// Parses every locale; a syntax error in one is a bug of this crate, reported at start.
    pub fn new() -> anyhow::Result<I18n> {
        let mut bundles = HashMap::new();
        for (lang, source) in LOCALES {
            let resource = FluentResource::try_new(source.to_string())
                .map_err(|(_, errors)| anyhow::anyhow!("locales/{lang}.ftl does not parse: {errors:?}"))?;
            let id: unic_langid::LanguageIdentifier =
                lang.parse().map_err(|e| anyhow::anyhow!("language {lang}: {e}"))?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // No Unicode isolation marks around arguments: the texts are shown as HTML, where the
            // browser's bidi algorithm does this work, and copied text stays clean.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .map_err(|errors| anyhow::anyhow!("locales/{lang}.ftl: {errors:?}"))?;
            bundles.insert(lang, bundle);
        }
        Ok(I18n { bundles })
    }

    /// Whether `lang` is a language of the console.
    pub fn speaks(&self, lang: &str) -> bool {
        self.bundles.contains_key(lang)
    }

    /// The message `id` in `lang` (English where `lang` lacks it; the id itself where both do,
    /// which the tests forbid).
    pub fn tr(&self, lang: &str, id: &str) -> String {
        self.format(lang, id, None)
    }

    /// The message `id` in `lang` with arguments.
    pub fn tr_args(&self, lang: &str, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            fluent.set(*name, value.clone());
        }
        self.format(lang, id, Some(&fluent))
    }

    fn format(&self, lang: &str, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        for lang in [lang, DEFAULT] {
            let Some(bundle) = self.bundles.get(lang) else { continue };
            let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else { continue };
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, args, &mut errors);
            if errors.is_empty() {
                return text.into_owned();
            }
            tracing::warn!(%lang, %id, ?errors, "a console message did not format");
        }
        id.to_string()
    }

    /// Every message id of a language (for the completeness test).
    pub fn ids(lang: &str) -> Vec<String> {
        let Some((_, source)) = LOCALES.iter().find(|(l, _)| *l == lang) else { return vec![] };
        source
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with('-'))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_string()))
            .filter(|id| !id.is_empty())
            .collect()
    }
}

/// A string argument.
pub fn s(value: &str) -> FluentValue<'_> {
    FluentValue::from(value)
}

/// A number argument.
pub fn n(value: impl Into<f64>) -> FluentValue<'static> {
    FluentValue::from(value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(lang: &str, id: &str) -> Vec<String> {
        let (_, source) = LOCALES.iter().find(|(l, _)| *l == lang).unwrap();
        let mut lines = source.lines().skip_while(|l| !l.starts_with(&format!("{id} =")));
        let mut text = lines.next().unwrap_or_default().to_string();
        for l in lines.take_while(|l| l.starts_with(' ')) {
            text.push_str(l);
        }
        let mut vars: Vec<String> = text
            .split('$')
            .skip(1)
            .map(|rest| rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-').collect())
            .collect();
        vars.sort();
        vars.dedup();
        vars
    }

    #[test]
    fn every_language_has_every_message_with_the_same_variables() {
        let i18n = I18n::new().unwrap();
        let english = I18n::ids("en");
        assert!(english.len() > 100, "{}", english.len());
        for (lang, _) in LOCALES {
            let ids = I18n::ids(lang);
            for id in &english {
                assert!(ids.contains(id), "{lang}.ftl lacks {id}");
                assert_eq!(variables(lang, id), variables("en", id), "{lang}: {id} takes other variables");
            }
            for id in &ids {
                assert!(english.contains(id), "{lang}.ftl has {id}, which en.ftl lacks");
            }
            assert!(i18n.speaks(lang));
        }
        assert_eq!(i18n.tr("zh", "no-such-message"), "no-such-message");
    }
}
