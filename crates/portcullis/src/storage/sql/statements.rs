//! Every SQL statement of the driver, written once at connect for one dialect and one table
//! name.
//!
//! Identifiers (table, schema) are checked to be plain SQL identifiers before they reach
//! this module ([`Tables::new`]) and are double-quoted; every value is a bound parameter.
//! The statements are kept as `Arc<str>` so that running one clones a pointer, and sqlx
//! prepares each once per connection.
//!
//! The request's check, for table `cbsecurity_tokens` on PostgreSQL:
//!
//! ```text
//! SELECT EXISTS(SELECT 1 FROM "cbsecurity_tokens" WHERE cache_key = $1 AND expiration > to_timestamp($4)),
//!        (SELECT CAST(EXTRACT(EPOCH FROM MAX(revoked_before)) AS BIGINT) FROM "cbsecurity_tokens_revocations"
//!          WHERE scope IN ($2, $5) AND expiration > to_timestamp($4)),
//!        EXISTS(SELECT 1 FROM "cbsecurity_tokens_families" WHERE family = $3 AND revoked AND expiration > to_timestamp($4))
//! ```

use std::sync::Arc;

use super::dialect::Dialect;
use crate::settings::SqlStorageProperties;
use crate::{Error, Result};

/// The suffix of the epochs table's name.
const REVOCATIONS: &str = "_revocations";
/// The suffix of the families table's name.
const FAMILIES: &str = "_families";
/// The suffix of the tokens table's index name.
const CACHE_KEY_INDEX: &str = "_cache_key";
/// PostgreSQL truncates longer identifiers.
const MAX_IDENTIFIER: usize = 63;

/// The quoted, schema-qualified names of the three tables.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    /// The schema, quoted, when one is set.
    pub(super) schema: Option<String>,
    /// The tokens table (`table`).
    pub(super) tokens: String,
    /// The revocation epochs (`table` + `_revocations`).
    pub(super) revocations: String,
    /// The refresh families (`table` + `_families`).
    pub(super) families: String,
    /// The unique index on the tokens' `cache_key` (unqualified: it lives in the table's
    /// schema).
    pub(super) cache_key_index: String,
}

/// Whether `name` is a plain SQL identifier: ASCII letters, digits and `_`, not starting
/// with a digit, at most 63 bytes. The settings check this already; the driver checks again
/// because nothing else may ever be spliced into SQL text.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_IDENTIFIER
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

impl Tables {
    /// The tables named by `props` for `dialect`.
    ///
    /// # Errors
    /// [`Error::Config`] on `table` or `schema` when one is not a plain identifier, when
    /// the table name leaves no room for the `_revocations` suffix, or when a SQLite schema
    /// is anything but `main` (SQLite schemas are attached databases).
    pub(super) fn new(dialect: Dialect, props: &SqlStorageProperties) -> Result<Self> {
        const KEY: &str = "jwt.token_storage.properties";
        let table = props.table.as_str();
        if !is_identifier(table) {
            return Err(Error::config(
                format!("{KEY}.table"),
                format!("{table:?} is not a plain SQL identifier (letters, digits, _)"),
            ));
        }
        if table.len() + REVOCATIONS.len() > MAX_IDENTIFIER {
            return Err(Error::config(
                format!("{KEY}.table"),
                format!(
                    "{table:?} is too long: the driver also creates `{table}{REVOCATIONS}`, \
                     and names are limited to {MAX_IDENTIFIER} characters"
                ),
            ));
        }
        let schema = props.schema.as_str();
        if !schema.is_empty() && !is_identifier(schema) {
            return Err(Error::config(
                format!("{KEY}.schema"),
                format!("{schema:?} is not a plain SQL identifier (letters, digits, _)"),
            ));
        }
        let schema = match dialect {
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite => {
                if !schema.is_empty() && schema != "main" {
                    return Err(Error::config(
                        format!("{KEY}.schema"),
                        format!(
                            "{schema:?}: a SQLite schema is an attached database; leave it \
                             empty (or `main`) and choose the file in `url`"
                        ),
                    ));
                }
                None
            }
            #[cfg(feature = "storage-postgres")]
            Dialect::Postgres => (!schema.is_empty()).then(|| quote(schema)),
        };
        let qualified = |name: String| match &schema {
            Some(schema) => format!("{schema}.{}", quote(&name)),
            None => quote(&name),
        };
        Ok(Tables {
            tokens: qualified(table.to_owned()),
            revocations: qualified(format!("{table}{REVOCATIONS}")),
            families: qualified(format!("{table}{FAMILIES}")),
            cache_key_index: quote(&format!("{table}{CACHE_KEY_INDEX}")),
            schema,
        })
    }
}

/// The statements, with their parameters in the order the driver binds them.
#[derive(Debug, Clone)]
pub(super) struct Statements {
    /// Creates the schema (PostgreSQL, when set) and the tables and index when missing.
    pub(super) create: Vec<Arc<str>>,
    /// Fails when a table is missing (`auto_create = false`).
    pub(super) probe: Vec<Arc<str>>,
    /// `$1` id, `$2` jti, `$3` expires, `$4` issued, `$5` token, `$6` subject.
    pub(super) set: Arc<str>,
    /// `$1` jti, `$2` now → bool.
    pub(super) exists: Arc<str>,
    /// `$1` jti, `$2` now → (token, subject, issued, expires).
    pub(super) get: Arc<str>,
    /// `$1` jti → expires of the deleted row.
    pub(super) clear: Arc<str>,
    /// `$1` now: deletes the live token rows.
    pub(super) clear_live: Arc<str>,
    /// `$1` now → jtis.
    pub(super) keys: Arc<str>,
    /// `$1` now → count.
    pub(super) size: Arc<str>,
    /// `$1` scope, `$2` before, `$3` keep until, `$4` now.
    pub(super) revoke: Arc<str>,
    /// `$1` scope, `$2` now → before.
    pub(super) revoked_before: Arc<str>,
    /// `$1` family, `$2` now → state JSON.
    pub(super) family: Arc<str>,
    /// `$1` family, `$2` subject, `$3` version, `$4` revoked, `$5` state, `$6` expires,
    /// `$7` expected version, `$8` now.
    pub(super) swap_family: Arc<str>,
    /// `$1`–`$6` as `swap_family`, `$7` now: inserts, or replaces an expired row.
    pub(super) insert_family: Arc<str>,
    /// `$1` jti, `$2` subject, `$3` family (nullable), `$4` now, `$5` the all-subjects
    /// scope → (recorded, revoked before, family revoked).
    pub(super) check: Arc<str>,
    /// `$1` cut-off: deletes token rows that expired at or before it.
    pub(super) purge_tokens: Arc<str>,
    /// `$1` cut-off: deletes epochs that expired at or before it.
    pub(super) purge_revocations: Arc<str>,
    /// `$1` cut-off: deletes families that expired at or before it.
    pub(super) purge_families: Arc<str>,
}

impl Statements {
    /// The statements over `tables` in `dialect`.
    pub(super) fn new(dialect: Dialect, tables: &Tables) -> Self {
        let d = dialect;
        let ts = d.timestamp();
        let Tables {
            schema,
            tokens,
            revocations,
            families,
            cache_key_index,
        } = tables;
        let at = |param: &str| d.at(param);
        let secs = |date: &str| d.seconds(date);

        let mut create = Vec::new();
        if let Some(schema) = schema {
            create.push(format!("CREATE SCHEMA IF NOT EXISTS {schema}"));
        }
        create.push(format!(
            "CREATE TABLE IF NOT EXISTS {tokens} (\
             id VARCHAR(36) NOT NULL PRIMARY KEY, \
             cache_key VARCHAR(255) NOT NULL, \
             expiration {ts} NOT NULL, \
             issued {ts} NOT NULL, \
             token TEXT NOT NULL, \
             subject VARCHAR(255) NOT NULL)"
        ));
        create.push(format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {cache_key_index} ON {tokens} (cache_key)"
        ));
        create.push(format!(
            "CREATE TABLE IF NOT EXISTS {revocations} (\
             scope VARCHAR(255) NOT NULL PRIMARY KEY, \
             revoked_before {ts} NOT NULL, \
             expiration {ts} NOT NULL)"
        ));
        create.push(format!(
            "CREATE TABLE IF NOT EXISTS {families} (\
             family VARCHAR(255) NOT NULL PRIMARY KEY, \
             subject VARCHAR(255) NOT NULL, \
             version BIGINT NOT NULL, \
             revoked BOOLEAN NOT NULL, \
             state TEXT NOT NULL, \
             expiration {ts} NOT NULL)"
        ));

        let probe = [tokens, revocations, families]
            .iter()
            .map(|table| format!("SELECT 1 FROM {table} WHERE 1 = 0").into())
            .collect();

        let live = |param: &str| format!("expiration > {}", at(param));
        let expired = |param: &str| format!("expiration <= {}", at(param));

        Statements {
            create: create.into_iter().map(Arc::from).collect(),
            probe,
            set: format!(
                "INSERT INTO {tokens} (id, cache_key, expiration, issued, token, subject) \
                 VALUES ($1, $2, {}, {}, $5, $6) \
                 ON CONFLICT (cache_key) DO UPDATE SET expiration = excluded.expiration, \
                 issued = excluded.issued, token = excluded.token, subject = excluded.subject",
                at("$3"),
                at("$4"),
            )
            .into(),
            exists: format!(
                "SELECT EXISTS(SELECT 1 FROM {tokens} WHERE cache_key = $1 AND {})",
                live("$2")
            )
            .into(),
            get: format!(
                "SELECT token, subject, {}, {} FROM {tokens} WHERE cache_key = $1 AND {}",
                secs("issued"),
                secs("expiration"),
                live("$2")
            )
            .into(),
            clear: format!(
                "DELETE FROM {tokens} WHERE cache_key = $1 RETURNING {}",
                secs("expiration")
            )
            .into(),
            clear_live: format!("DELETE FROM {tokens} WHERE {}", live("$1")).into(),
            keys: format!("SELECT cache_key FROM {tokens} WHERE {}", live("$1")).into(),
            size: format!("SELECT COUNT(*) FROM {tokens} WHERE {}", live("$1")).into(),
            revoke: {
                // An expired epoch is replaced; a live one only moves forward.
                let stale = format!("cur.{}", expired("$4"));
                format!(
                    "INSERT INTO {revocations} AS cur (scope, revoked_before, expiration) \
                     VALUES ($1, {}, {}) \
                     ON CONFLICT (scope) DO UPDATE SET \
                     revoked_before = CASE WHEN {stale} THEN excluded.revoked_before \
                     ELSE {} END, \
                     expiration = CASE WHEN {stale} THEN excluded.expiration ELSE {} END",
                    at("$2"),
                    at("$3"),
                    d.greatest("cur.revoked_before", "excluded.revoked_before"),
                    d.greatest("cur.expiration", "excluded.expiration"),
                )
                .into()
            },
            revoked_before: format!(
                "SELECT {} FROM {revocations} WHERE scope = $1 AND {}",
                secs("revoked_before"),
                live("$2")
            )
            .into(),
            family: format!(
                "SELECT state FROM {families} WHERE family = $1 AND {}",
                live("$2")
            )
            .into(),
            swap_family: format!(
                "UPDATE {families} SET subject = $2, version = $3, revoked = $4, state = $5, \
                 expiration = {} WHERE family = $1 AND version = $7 AND {}",
                at("$6"),
                live("$8")
            )
            .into(),
            insert_family: format!(
                "INSERT INTO {families} AS cur \
                 (family, subject, version, revoked, state, expiration) \
                 VALUES ($1, $2, $3, $4, $5, {}) \
                 ON CONFLICT (family) DO UPDATE SET subject = excluded.subject, \
                 version = excluded.version, revoked = excluded.revoked, \
                 state = excluded.state, expiration = excluded.expiration \
                 WHERE cur.{}",
                at("$6"),
                expired("$7")
            )
            .into(),
            check: format!(
                "SELECT \
                 EXISTS(SELECT 1 FROM {tokens} WHERE cache_key = $1 AND {live}), \
                 (SELECT {max} FROM {revocations} WHERE scope IN ($2, $5) AND {live}), \
                 EXISTS(SELECT 1 FROM {families} WHERE family = $3 AND revoked AND {live})",
                live = live("$4"),
                max = secs("MAX(revoked_before)"),
            )
            .into(),
            purge_tokens: format!("DELETE FROM {tokens} WHERE {}", expired("$1")).into(),
            purge_revocations: format!("DELETE FROM {revocations} WHERE {}", expired("$1")).into(),
            purge_families: format!("DELETE FROM {families} WHERE {}", expired("$1")).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(table: &str, schema: &str) -> SqlStorageProperties {
        SqlStorageProperties {
            table: table.to_owned(),
            schema: schema.to_owned(),
            ..SqlStorageProperties::default()
        }
    }

    fn config_key(result: Result<Tables>) -> String {
        match result {
            Err(Error::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[cfg(feature = "storage-sqlite")]
    #[test]
    fn sqlite_names_are_quoted_and_schemas_refused() {
        let tables = Tables::new(Dialect::Sqlite, &props("tokens", "")).unwrap();
        assert_eq!(tables.tokens, "\"tokens\"");
        assert_eq!(tables.revocations, "\"tokens_revocations\"");
        assert_eq!(tables.families, "\"tokens_families\"");
        assert!(Tables::new(Dialect::Sqlite, &props("tokens", "main")).is_ok());
        assert_eq!(
            config_key(Tables::new(Dialect::Sqlite, &props("tokens", "other"))),
            "jwt.token_storage.properties.schema"
        );
        let statements = Statements::new(Dialect::Sqlite, &tables);
        assert!(statements.check.contains("datetime($4, 'unixepoch')"));
    }

    #[cfg(feature = "storage-postgres")]
    #[test]
    fn postgres_names_are_schema_qualified() {
        let tables = Tables::new(Dialect::Postgres, &props("tokens", "auth")).unwrap();
        assert_eq!(tables.tokens, "\"auth\".\"tokens\"");
        assert_eq!(tables.families, "\"auth\".\"tokens_families\"");
        assert_eq!(tables.cache_key_index, "\"tokens_cache_key\"");
        let statements = Statements::new(Dialect::Postgres, &tables);
        assert_eq!(
            statements.create[0].as_ref(),
            "CREATE SCHEMA IF NOT EXISTS \"auth\""
        );
        assert!(statements.revoke.contains("GREATEST("));
    }

    #[test]
    fn identifiers_are_checked_again() {
        #[cfg(feature = "storage-sqlite")]
        let dialect = Dialect::Sqlite;
        #[cfg(not(feature = "storage-sqlite"))]
        let dialect = Dialect::Postgres;
        for (table, schema, key) in [
            ("t; DROP TABLE x", "", "table"),
            ("\"t\"", "", "table"),
            ("1t", "", "table"),
            (&"t".repeat(52) as &str, "", "table"),
            ("t", "s.x", "schema"),
        ] {
            assert_eq!(
                config_key(Tables::new(dialect, &props(table, schema))),
                format!("jwt.token_storage.properties.{key}"),
                "{table:?} {schema:?}"
            );
        }
        assert!(Tables::new(dialect, &props(&"t".repeat(51), "")).is_ok());
    }
}
