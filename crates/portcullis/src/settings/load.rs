//! Loading settings: TOML text or file, environment overrides, error paths, validation.
//!
//! Every error is an [`Error::Config`] whose `key` is the setting's path
//! (`jwt.expiration`, `firewall.rules.inline[0].action`) — or an [`Error::Io`] naming a file
//! that could not be read. Nothing here panics on bad input.
//!
//! ```
//! use portcullis::{settings::Settings, Error};
//!
//! let err = Settings::from_toml_str("[jwt]\nexpiration = \"abc\"").unwrap_err();
//! match err {
//!     Error::Config { key, reason } => {
//!         assert_eq!(key, "jwt.expiration");
//!         assert!(reason.starts_with("\"abc\" is not a duration"));
//!     }
//!     other => panic!("{other}"),
//! }
//! ```

use std::path::{Path, PathBuf};

use toml::Table;

use super::env::{self, Applied};
use super::suggest;
use super::Settings;
use crate::{Error, Result};

/// Where [`Settings::load_with_env`] reads the settings before the environment applies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingsSource {
    /// A TOML file.
    File(PathBuf),
    /// TOML text.
    Toml(String),
    /// No file: the defaults.
    Defaults,
}

impl From<&Path> for SettingsSource {
    fn from(path: &Path) -> Self {
        SettingsSource::File(path.to_path_buf())
    }
}

impl From<PathBuf> for SettingsSource {
    fn from(path: PathBuf) -> Self {
        SettingsSource::File(path)
    }
}

impl From<&PathBuf> for SettingsSource {
    fn from(path: &PathBuf) -> Self {
        SettingsSource::File(path.clone())
    }
}

/// Maps a deserialization error at `path` (relative to `prefix`) to an [`Error::Config`].
/// Unknown keys become "unknown {what} (did you mean `…`?)".
pub(crate) fn path_error(prefix: &str, path: &str, message: &str, what: &str) -> Error {
    let mut key = match (prefix.is_empty(), path == ".") {
        (_, true) => prefix.to_owned(),
        (true, false) => path.to_owned(),
        (false, false) => format!("{prefix}.{path}"),
    };
    let Some(rest) = message.strip_prefix("unknown field `") else {
        // serde names the Rust type ("expected struct JwtSettings"); say what to write.
        let message = match message.split_once(", expected struct ") {
            Some((head, _)) => format!("{head}, expected a table"),
            None => message.to_owned(),
        };
        return Error::config(key, message);
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return Error::config(key, message);
    };
    if !(key == field || key.ends_with(&format!(".{field}"))) {
        key = if key.is_empty() {
            field.to_owned()
        } else {
            format!("{key}.{field}")
        };
    }
    let candidates = expected.split('`').skip(1).step_by(2);
    let reason = match suggest::closest(field, candidates) {
        Some(meant) => format!("unknown {what} (did you mean `{meant}`?)"),
        None => format!("unknown {what}"),
    };
    Error::config(key, reason)
}

/// Appends the environment variable that set `key` (or a key around it), if any.
fn attribute(err: Error, applied: &[Applied]) -> Error {
    let Error::Config { key, reason } = err else {
        return err;
    };
    let related = |a: &&Applied| {
        let within = |outer: &str, inner: &str| {
            inner == outer
                || inner.starts_with(&format!("{outer}."))
                || inner.starts_with(&format!("{outer}["))
        };
        within(&a.key, &key) || within(&key, &a.key)
    };
    match applied.iter().rev().find(related) {
        Some(a) => Error::Config {
            reason: format!("{reason} (set by environment variable {})", a.var),
            key,
        },
        None => Error::Config { key, reason },
    }
}

/// Parses TOML text; `origin` names it in errors (a file path, or `settings`).
fn parse_toml(text: &str, origin: &str) -> Result<Table> {
    text.parse::<Table>().map_err(|err| {
        let position = err
            .span()
            .map(|span| {
                let before = text.get(..span.start).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" (line {line}, column {column})")
            })
            .unwrap_or_default();
        Error::config(
            origin,
            format!("not valid TOML: {}{position}", err.message().trim_end()),
        )
    })
}

fn read_file(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_toml(&text, &path.display().to_string())
}

/// Deserializes and validates a settings table; errors name the key and, when an
/// environment variable set it, the variable.
fn build(table: Table, applied: &[Applied]) -> Result<Settings> {
    let settings: Settings = serde_path_to_error::deserialize(table).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().message().to_owned();
        attribute(path_error("", &path, &message, "setting"), applied)
    })?;
    settings.validate().map_err(|err| attribute(err, applied))?;
    Ok(settings)
}

impl Settings {
    /// Reads settings from TOML text (no environment), completes them from the defaults and
    /// validates them.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key (or `settings` for a TOML syntax error).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        build(parse_toml(text, "settings")?, &[])
    }

    /// Reads settings from a TOML file (no environment).
    ///
    /// # Errors
    /// [`Error::Io`] naming the path when the file cannot be read; [`Error::Config`] naming
    /// the key otherwise (the file's path for a TOML syntax error).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        build(read_file(path.as_ref())?, &[])
    }

    /// Reads settings from `source`, then applies the environment `env` (see
    /// [the environment rules](crate::settings#environment-overrides)): `PORTCULLIS_…`
    /// variables beat the file, and `JWT_SECRET` fills an unset `jwt.secret_key`. Tests pass
    /// their own pairs; [`Settings::from_env`] passes the process environment.
    ///
    /// # Errors
    /// As [`Settings::load`]; an error caused by a variable names it.
    pub fn load_with_env(
        source: impl Into<SettingsSource>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let mut table = match source.into() {
            SettingsSource::File(path) => read_file(&path)?,
            SettingsSource::Toml(text) => parse_toml(&text, "settings")?,
            SettingsSource::Defaults => Table::new(),
        };
        let vars: Vec<(String, String)> = env.into_iter().collect();
        let shape = serde_json::to_value(Settings::default())
            .map_err(|err| Error::config("settings", err.to_string()))?;
        let mut applied = env::apply(&mut table, &vars, &shape)?;
        applied.extend(env::apply_jwt_secret(&mut table, &vars));
        build(table, &applied)
    }

    /// The defaults with the process environment applied (`PORTCULLIS_…`, `JWT_SECRET`).
    /// To combine a file with the environment use
    /// `Settings::load_with_env(path, std::env::vars())`.
    ///
    /// # Errors
    /// As [`Settings::load_with_env`]; also when a settings variable is not valid UTF-8.
    pub fn from_env() -> Result<Self> {
        Settings::load_with_env(SettingsSource::Defaults, env::process_vars()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_get_suggestions() {
        let err = path_error(
            "",
            "jwt",
            "unknown field `expirattion`, expected one of `issuer`, `expiration`",
            "setting",
        );
        assert_eq!(
            err.to_string(),
            "jwt.expirattion: unknown setting (did you mean `expiration`?)"
        );
        let err = path_error("p", "x", "unknown field `zzz`, expected `a`", "property");
        assert_eq!(err.to_string(), "p.x.zzz: unknown property");
        let err = path_error("p", ".", "invalid type", "property");
        assert_eq!(err.to_string(), "p: invalid type");
        let err = path_error(
            "",
            "jwt",
            "invalid type: integer `5`, expected struct JwtSettings",
            "setting",
        );
        assert_eq!(
            err.to_string(),
            "jwt: invalid type: integer `5`, expected a table"
        );
    }

    #[test]
    fn syntax_errors_give_a_position() {
        let err = Settings::from_toml_str("[jwt]\nissuer = ").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("settings: not valid TOML:"), "{text}");
        assert!(text.contains("line 2"), "{text}");
    }
}
