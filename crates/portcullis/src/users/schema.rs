//! The user store's tables, migrations and statements, written once at connect for one
//! dialect and one table name (checked to be a plain identifier by the settings, and
//! double-quoted here); every value is a bound parameter.
//!
//! ```text
//! <table>             id VARCHAR(36) PK, username VARCHAR(64), password TEXT, roles TEXT (JSON),
//!                     permissions TEXT (JSON), first_name, last_name, email NULL, disabled,
//!                     created_at, updated_at            unique index <table>_username ON (LOWER(username))
//! <table>_migrations  version BIGINT PK, description, applied_at
//! ```

use std::sync::Arc;

use crate::storage::sql::dialect::Dialect;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Writes a migration's statements for some names and a dialect.
type MakeStatements = fn(&Names, Dialect) -> Vec<String>;

/// The migrations, in order: version `i + 1` is `MIGRATIONS[i]`, a description and the
/// statements that make it. Append only; never change a released one.
const MIGRATIONS: &[(&str, MakeStatements)] = &[("create the users table", create_users)];

fn create_users(names: &Names, d: Dialect) -> Vec<String> {
    let Names { users, index, .. } = names;
    let ts = d.timestamp();
    vec![
        format!(
            "CREATE TABLE {users} (\
             id VARCHAR(36) NOT NULL PRIMARY KEY, \
             username VARCHAR(64) NOT NULL, \
             password TEXT NOT NULL, \
             roles TEXT NOT NULL, \
             permissions TEXT NOT NULL, \
             first_name VARCHAR(128) NOT NULL, \
             last_name VARCHAR(128) NOT NULL, \
             email VARCHAR(254), \
             disabled BOOLEAN NOT NULL, \
             created_at {ts} NOT NULL, \
             updated_at {ts} NOT NULL)"
        ),
        format!("CREATE UNIQUE INDEX {index} ON {users} (LOWER(username))"),
    ]
}

/// The quoted, schema-qualified names.
pub(super) struct Names {
    /// The schema, quoted, when one is set (PostgreSQL).
    pub(super) schema: Option<String>,
    /// The users table.
    pub(super) users: String,
    /// The applied migrations.
    pub(super) migrations: String,
    /// The unique index on the lower-cased username (unqualified: it lives in the table's
    /// schema).
    pub(super) index: String,
}

impl Names {
    /// The names for `table` in `schema` (empty: none).
    pub(super) fn new(table: &str, schema: &str) -> Self {
        let quote = |name: &str| format!("\"{name}\"");
        let qualified = |name: &str| match schema {
            "" => quote(name),
            schema => format!("{}.{}", quote(schema), quote(name)),
        };
        Names {
            schema: (!schema.is_empty()).then(|| quote(schema)),
            users: qualified(table),
            migrations: qualified(&format!("{table}_migrations")),
            index: quote(&format!("{table}_username")),
        }
    }
}

/// One migration to apply: its version, description and statements.
pub(super) struct Migration {
    /// The version it brings the schema to.
    pub(super) version: i64,
    /// What it does.
    pub(super) description: &'static str,
    /// Its statements.
    pub(super) statements: Vec<Arc<str>>,
}

/// The statements, with their parameters in the order the store binds them. Statements
/// that read a user select [`Statements::columns`].
pub(super) struct Statements {
    /// Creates the schema (when set) and the migrations table when missing.
    pub(super) prepare: Vec<Arc<str>>,
    /// → the highest applied version (0 for none).
    pub(super) version: Arc<str>,
    /// `$1` version, `$2` description, `$3` now.
    pub(super) record: Arc<str>,
    /// Every migration.
    pub(super) migrations: Vec<Migration>,
    /// `$1` lower-cased username → a user row.
    pub(super) by_name: Arc<str>,
    /// `$1` id → a user row.
    pub(super) by_id: Arc<str>,
    /// → every user row.
    pub(super) all: Arc<str>,
    /// `$1` id, `$2` username, `$3` password hash, `$4` roles, `$5` permissions, `$6` first
    /// name, `$7` last name, `$8` email, `$9` now.
    pub(super) insert: Arc<str>,
    /// `$1` lower-cased username.
    pub(super) delete: Arc<str>,
    /// `$1` lower-cased username, `$2` hash, `$3` now.
    pub(super) set_password: Arc<str>,
    /// `$1` id, `$2` the hash read, `$3` the new hash, `$4` now: replaces a hash unless it
    /// changed meanwhile.
    pub(super) rehash: Arc<str>,
    /// `$1` id, `$2` roles read, `$3` permissions read, `$4` roles, `$5` permissions,
    /// `$6` now: unless they changed meanwhile.
    pub(super) set_access: Arc<str>,
    /// `$1` lower-cased username, `$2` disabled, `$3` now → the user row.
    pub(super) set_disabled: Arc<str>,
}

impl Statements {
    /// The statements over `names` in dialect `d`.
    pub(super) fn new(d: Dialect, names: &Names) -> Self {
        let Names {
            schema,
            users,
            migrations,
            ..
        } = names;
        let ts = d.timestamp();
        let columns = format!(
            "id, username, password, roles, permissions, first_name, last_name, email, \
             disabled, {}, {}",
            d.seconds("created_at"),
            d.seconds("updated_at")
        );
        let now = |param: &str| d.at(param);
        let mut prepare = Vec::new();
        if let Some(schema) = schema {
            prepare.push(format!("CREATE SCHEMA IF NOT EXISTS {schema}"));
        }
        prepare.push(format!(
            "CREATE TABLE IF NOT EXISTS {migrations} (\
             version BIGINT NOT NULL PRIMARY KEY, \
             description VARCHAR(200) NOT NULL, \
             applied_at {ts} NOT NULL)"
        ));
        let arc = |text: String| -> Arc<str> { text.into() };
        Statements {
            prepare: prepare.into_iter().map(arc).collect(),
            version: arc(format!(
                "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM {migrations}"
            )),
            record: arc(format!(
                "INSERT INTO {migrations} (version, description, applied_at) \
                 VALUES ($1, $2, {})",
                now("$3")
            )),
            migrations: MIGRATIONS
                .iter()
                .zip(1..)
                .map(|((description, make), version)| Migration {
                    version,
                    description,
                    statements: make(names, d).into_iter().map(arc).collect(),
                })
                .collect(),
            by_name: arc(format!(
                "SELECT {columns} FROM {users} WHERE LOWER(username) = $1"
            )),
            by_id: arc(format!("SELECT {columns} FROM {users} WHERE id = $1")),
            all: arc(format!("SELECT {columns} FROM {users}")),
            insert: arc(format!(
                "INSERT INTO {users} (id, username, password, roles, permissions, first_name, \
                 last_name, email, disabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, {at}, {at})",
                at = now("$9")
            )),
            delete: arc(format!("DELETE FROM {users} WHERE LOWER(username) = $1")),
            set_password: arc(format!(
                "UPDATE {users} SET password = $2, updated_at = {} WHERE LOWER(username) = $1",
                now("$3")
            )),
            rehash: arc(format!(
                "UPDATE {users} SET password = $3, updated_at = {} \
                 WHERE id = $1 AND password = $2",
                now("$4")
            )),
            set_access: arc(format!(
                "UPDATE {users} SET roles = $4, permissions = $5, updated_at = {} \
                 WHERE id = $1 AND roles = $2 AND permissions = $3",
                now("$6")
            )),
            set_disabled: arc(format!(
                "UPDATE {users} SET disabled = $2, updated_at = {} \
                 WHERE LOWER(username) = $1 RETURNING {columns}",
                now("$3")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "storage-postgres")]
    #[test]
    fn postgres_names_are_schema_qualified() {
        let names = Names::new("people", "auth");
        assert_eq!(names.users, "\"auth\".\"people\"");
        assert_eq!(names.migrations, "\"auth\".\"people_migrations\"");
        assert_eq!(names.index, "\"people_username\"");
        let sql = Statements::new(Dialect::Postgres, &names);
        assert_eq!(
            sql.prepare[0].as_ref(),
            "CREATE SCHEMA IF NOT EXISTS \"auth\""
        );
        assert!(sql.migrations[0].statements[0].contains("TIMESTAMPTZ"));
    }

    #[cfg(feature = "storage-sqlite")]
    #[test]
    fn sqlite_statements_convert_times_in_sql() {
        let sql = Statements::new(Dialect::Sqlite, &Names::new("people", ""));
        assert_eq!(sql.prepare.len(), 1);
        assert!(sql.insert.contains("datetime($9, 'unixepoch')"));
        assert!(sql
            .by_id
            .contains("CAST(strftime('%s', created_at) AS INTEGER)"));
        assert_eq!(sql.migrations.len() as i64, SCHEMA_VERSION);
        assert_eq!(sql.migrations[0].version, 1);
    }
}
