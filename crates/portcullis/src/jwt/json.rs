//! Small serde helpers shared by the header and payload parsers: object member names that
//! borrow from the input when they can, and detection of repeated members (RFC 7515 §4 and
//! RFC 7519 §4 let a parser refuse them; portcullis always does).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// An object member name, borrowed from the input unless it contains escapes.
pub(crate) struct Name<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Remembers the member names of one object and reports the first repeated one.
#[derive(Default)]
pub(crate) struct SeenNames<'de> {
    names: Vec<Cow<'de, str>>,
}

impl<'de> SeenNames<'de> {
    /// Records `name`; an error names it when it was already seen.
    pub(crate) fn insert<E: de::Error>(&mut self, name: Cow<'de, str>) -> Result<(), E> {
        if self.names.contains(&name) {
            return Err(E::custom(format_args!("duplicate member `{name}`")));
        }
        self.names.push(name);
        Ok(())
    }
}
