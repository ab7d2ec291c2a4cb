//! Closed sets of words (`redirect | override | block`, `HS512`, …) read case-insensitively.
//!
//! Every enum made with [`keyword_enum!`] reads its words without regard to case (cbsecurity
//! compares strings case-insensitively), stores one canonical spelling, writes that spelling
//! back, and rejects anything else with a message that lists the accepted words.
//!
//! ```
//! use portcullis::settings::Action;
//!
//! assert_eq!(Action::parse("Override"), Some(Action::Override));
//! assert_eq!(Action::Override.as_str(), "override");
//! assert_eq!(Action::parse("deny"), None);
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};

/// A closed set of words read case-insensitively (implemented by [`keyword_enum!`]).
pub(crate) trait Keyword: Sized {
    /// What one value is called in messages, e.g. `an action`.
    const WHAT: &'static str;
    /// The canonical spellings, in the order the messages list them.
    const KEYWORDS: &'static [&'static str];
    /// Reads a word, ignoring case and surrounding white space.
    fn from_keyword(word: &str) -> Option<Self>;
}

/// The message for a word that is not in the set.
pub(crate) fn rejection<K: Keyword>(word: &str) -> String {
    format!(
        "{word:?} is not {} (use one of: {})",
        K::WHAT,
        K::KEYWORDS.join(", ")
    )
}

struct KeywordVisitor<K>(PhantomData<K>, bool);

impl<'de, K: Keyword> Visitor<'de> for KeywordVisitor<K> {
    type Value = Option<K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (one of: {})", K::WHAT, K::KEYWORDS.join(", "))
    }

    fn visit_str<E: de::Error>(self, word: &str) -> Result<Self::Value, E> {
        if self.1 && word.trim().is_empty() {
            return Ok(None);
        }
        K::from_keyword(word)
            .map(Some)
            .ok_or_else(|| E::custom(rejection::<K>(word)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        if self.1 {
            Ok(None)
        } else {
            Err(E::invalid_type(de::Unexpected::Unit, &self))
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }
}

/// Deserializes a required keyword.
pub(crate) fn required<'de, D: Deserializer<'de>, K: Keyword>(d: D) -> Result<K, D::Error> {
    d.deserialize_any(KeywordVisitor::<K>(PhantomData, false))?
        .ok_or_else(|| de::Error::custom(format!("must be {}", K::WHAT)))
}

/// Deserializes an optional keyword: an empty string (cbsecurity's "use the default") or a
/// null is `None`.
pub(crate) fn optional<'de, D: Deserializer<'de>, K: Keyword>(d: D) -> Result<Option<K>, D::Error> {
    d.deserialize_any(KeywordVisitor::<K>(PhantomData, true))
}

/// Declares a keyword enum: variants with a canonical spelling and optional aliases.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $canon:literal $(| $alias:literal)*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The canonical spelling, as written back by serialization.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $canon, )+
                }
            }

            /// Reads a value case-insensitively (surrounding white space ignored); `None` if
            /// the word is not one of the accepted spellings.
            pub fn parse(word: &str) -> Option<Self> {
                <Self as $crate::settings::keyword::Keyword>::from_keyword(word)
            }
        }

        impl $crate::settings::keyword::Keyword for $name {
            const WHAT: &'static str = $what;
            const KEYWORDS: &'static [&'static str] = &[$($canon),+];

            fn from_keyword(word: &str) -> Option<Self> {
                let word = word.trim();
                $(
                    if word.eq_ignore_ascii_case($canon) $(|| word.eq_ignore_ascii_case($alias))* {
                        return Some(Self::$variant);
                    }
                )+
                None
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::settings::keyword::required(d)
            }
        }
    };
}

pub(crate) use keyword_enum;

#[cfg(test)]
mod tests {
    use super::*;

    keyword_enum! {
        /// A test set.
        enum Colour ("a colour") {
            /// Red.
            Red = "red" | "rouge",
            /// Green.
            Green = "GREEN",
        }
    }

    #[test]
    fn reads_case_insensitively_and_aliases() {
        assert_eq!(Colour::parse(" RED "), Some(Colour::Red));
        assert_eq!(Colour::parse("Rouge"), Some(Colour::Red));
        assert_eq!(Colour::parse("green"), Some(Colour::Green));
        assert_eq!(Colour::Green.as_str(), "GREEN");
        assert_eq!(Colour::parse("blue"), None);
    }

    #[test]
    fn rejection_lists_the_words() {
        let err = serde_json::from_value::<Colour>(serde_json::json!("blue")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"blue\" is not a colour (use one of: red, GREEN)"
        );
        let none: Option<Colour> =
            optional(serde_json::Value::String(String::new())).expect("empty is none");
        assert_eq!(none, None);
        assert!(serde_json::from_value::<Colour>(serde_json::json!("")).is_err());
    }
}
