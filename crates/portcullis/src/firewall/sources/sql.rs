//! Rules from a SQL table (source `db`, feature `rules-sql`; SQLite with `storage-sqlite`,
//! PostgreSQL with `storage-postgres`; compiled when at least one of them is on).
//!
//! Properties: `dsn` (or `url`): the database URL, `sqlite://rules.db` or
//! `postgres://user:pass@host/db` (required); `table` (required); `schema` (optional);
//! `order_by` (optional, e.g. `position, id desc`: columns with an optional direction);
//! `sql` (optional: the whole query, default `SELECT * FROM <schema.><table>`). When
//! `order_by` is set, ` ORDER BY <order_by>` is appended. Identifiers are checked to be plain
//! (letters, digits, `_`); `sql` is taken as written, as it comes from the deployment's own
//! settings. Each row is one rule whose columns are rule keys (text, integer, boolean or
//! NULL); SQLite is opened read-only and never created.
//!
//! ```text
//! rules.provider = { source = "db", properties = { dsn = "sqlite://rules.db", table = "rules", order_by = "position" } }
//!   → SELECT * FROM rules ORDER BY position
//! ```

use std::time::Duration;

use serde_json::{Map, Value};

use crate::settings::{Properties, RuleSpec};
use crate::{Error, Result};

/// How long connecting and reading may take before start-up fails.
const TIMEOUT: Duration = Duration::from_secs(15);

/// A source's properties, read and checked.
struct Query {
    url: String,
    sql: String,
}

/// `true` if `name` is a plain SQL identifier, safe to put into a statement.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `true` if `order` is a list of `column [ASC|DESC]`.
fn is_order_by(order: &str) -> bool {
    order.split(',').all(|term| {
        let mut words = term.split_whitespace();
        let column_ok = words.next().is_some_and(is_identifier);
        let direction_ok = match words.next() {
            None => true,
            Some(direction) => {
                direction.eq_ignore_ascii_case("asc") || direction.eq_ignore_ascii_case("desc")
            }
        };
        column_ok && direction_ok && words.next().is_none()
    })
}

impl Query {
    fn from_properties(key: &str, properties: &Properties, table: &str) -> Result<Query> {
        let text = |name: &str| -> Result<Option<String>> {
            match properties.get(name) {
                None => Ok(None),
                Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
                Some(_) => Err(Error::config(
                    format!("{key}.properties.{name}"),
                    "must be a string",
                )),
            }
        };
        let url = match (text("dsn")?, text("url")?) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    format!("{key}.properties.dsn"),
                    "give either `dsn` or `url`, not both",
                ))
            }
            (Some(url), None) | (None, Some(url)) => url,
            (None, None) => {
                return Err(Error::config(
                    format!("{key}.properties.dsn"),
                    "missing: the db rule source needs the database URL (sqlite://… or \
                     postgres://…)",
                ))
            }
        };
        let schema = text("schema")?;
        if let Some(schema) = &schema {
            if !is_identifier(schema) {
                return Err(Error::config(
                    format!("{key}.properties.schema"),
                    format!("{schema:?} is not a plain SQL identifier (letters, digits, _)"),
                ));
            }
        }
        if !is_identifier(table) {
            return Err(Error::config(
                format!("{key}.properties.table"),
                format!("{table:?} is not a plain SQL identifier (letters, digits, _)"),
            ));
        }
        let mut sql = match text("sql")? {
            Some(sql) => sql,
            None => match &schema {
                Some(schema) => format!("SELECT * FROM {schema}.{table}"),
                None => format!("SELECT * FROM {table}"),
            },
        };
        if let Some(order) = text("order_by")? {
            if !is_order_by(&order) {
                return Err(Error::config(
                    format!("{key}.properties.order_by"),
                    format!("{order:?} is not a list of columns, each optionally ASC or DESC"),
                ));
            }
            sql.push_str(" ORDER BY ");
            sql.push_str(&order);
        }
        Ok(Query { url, sql })
    }
}

/// Reads the rules of the table. `key` is the provider's settings key.
pub(super) async fn load(key: &str, properties: &Properties, table: &str) -> Result<Vec<RuleSpec>> {
    let query = Query::from_properties(key, properties, table)?;
    let failed = |what: &str, err: &dyn std::fmt::Display| {
        Error::config(
            format!("{key}.properties.dsn"),
            format!("{what} (table {table}): {err}"),
        )
    };
    let rows = tokio::time::timeout(TIMEOUT, fetch(&query))
        .await
        .map_err(|_| failed("the rule database did not answer", &format!("{TIMEOUT:?}")))?
        .map_err(|err| failed("cannot read the rules", &err))?;
    rows.into_iter()
        .enumerate()
        .map(|(index, row)| {
            let id = row
                .get("id")
                .or_else(|| row.get("ID"))
                .and_then(|id| match id {
                    Value::String(id) => Some(id.clone()),
                    Value::Number(id) => Some(id.to_string()),
                    _ => None,
                });
            let name = match id {
                Some(id) => format!("db table {table}: rule {} (id {id:?})", index + 1),
                None => format!("db table {table}: rule {}", index + 1),
            };
            serde_json::from_value(Value::Object(row))
                .map_err(|err| Error::config(name, err.to_string()))
        })
        .collect()
}

/// Runs the query on the database the URL names.
async fn fetch(query: &Query) -> std::result::Result<Vec<Map<String, Value>>, String> {
    let scheme = query
        .url
        .split_once(':')
        .map_or("", |(scheme, _)| scheme)
        .to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => fetch_sqlite(query).await,
        "postgres" | "postgresql" => fetch_postgres(query).await,
        _ => Err("unsupported database: give a sqlite:// or postgres:// URL".to_owned()),
    }
}

#[cfg(feature = "storage-sqlite")]
async fn fetch_sqlite(query: &Query) -> std::result::Result<Vec<Map<String, Value>>, String> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    use sqlx::ConnectOptions;
    use std::str::FromStr;

    let options = SqliteConnectOptions::from_str(&query.url)
        .map_err(|_| "the database URL does not parse".to_owned())?
        .read_only(true)
        .create_if_missing(false);
    let conn: SqliteConnection = options.connect().await.map_err(|e| e.to_string())?;
    rows::fetch(conn, &query.sql).await
}

#[cfg(not(feature = "storage-sqlite"))]
async fn fetch_sqlite(_: &Query) -> std::result::Result<Vec<Map<String, Value>>, String> {
    Err("SQLite support is not compiled in: enable the `storage-sqlite` feature".to_owned())
}

#[cfg(feature = "storage-postgres")]
async fn fetch_postgres(query: &Query) -> std::result::Result<Vec<Map<String, Value>>, String> {
    use sqlx::postgres::{PgConnectOptions, PgConnection};
    use sqlx::ConnectOptions;
    use std::str::FromStr;

    let options = PgConnectOptions::from_str(&query.url)
        .map_err(|_| "the database URL does not parse".to_owned())?
        .application_name("portcullis-rules");
    let conn: PgConnection = options.connect().await.map_err(|e| e.to_string())?;
    rows::fetch(conn, &query.sql).await
}

#[cfg(not(feature = "storage-postgres"))]
async fn fetch_postgres(_: &Query) -> std::result::Result<Vec<Map<String, Value>>, String> {
    Err("PostgreSQL support is not compiled in: enable the `storage-postgres` feature".to_owned())
}

/// Rows to JSON objects, for either database.
mod rows {
    use serde_json::{Map, Value};
    use sqlx::{Column, Connection, Database, Decode, Executor, Row, Type, ValueRef};

    /// Runs `sql` on `conn`, closes it, and returns the rows as JSON objects.
    pub(super) async fn fetch<C>(mut conn: C, sql: &str) -> Result<Vec<Map<String, Value>>, String>
    where
        C: Connection,
        for<'c> &'c mut C: Executor<'c, Database = C::Database>,
        <C::Database as Database>::Arguments: sqlx::IntoArguments<C::Database>,
        usize: sqlx::ColumnIndex<<C::Database as Database>::Row>,
        for<'r> String: Decode<'r, C::Database> + Type<C::Database>,
        for<'r> i64: Decode<'r, C::Database> + Type<C::Database>,
        for<'r> i32: Decode<'r, C::Database> + Type<C::Database>,
        for<'r> i16: Decode<'r, C::Database> + Type<C::Database>,
        for<'r> bool: Decode<'r, C::Database> + Type<C::Database>,
        for<'r> f64: Decode<'r, C::Database> + Type<C::Database>,
    {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string());
        let _ = conn.close().await;
        rows?.iter().map(to_map).collect()
    }

    /// Decodes column `index` as `T` if its type allows.
    fn get<'r, R, T>(row: &'r R, index: usize) -> Option<T>
    where
        R: Row,
        T: Decode<'r, R::Database> + Type<R::Database>,
        usize: sqlx::ColumnIndex<R>,
    {
        row.try_get::<T, usize>(index).ok()
    }

    /// One row as a JSON object: text, integers, booleans, floats and NULL.
    pub(super) fn to_map<R>(row: &R) -> Result<Map<String, Value>, String>
    where
        R: Row,
        usize: sqlx::ColumnIndex<R>,
        for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> i16: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
        R::Database: Database,
    {
        let mut map = Map::new();
        for (index, column) in row.columns().iter().enumerate() {
            let name = column.name();
            let null = row
                .try_get_raw(index)
                .map(|value| value.is_null())
                .map_err(|e| e.to_string())?;
            let value = if null {
                Value::Null
            } else if let Some(text) = get::<R, String>(row, index) {
                Value::String(text)
            } else if let Some(number) = get::<R, i64>(row, index) {
                Value::from(number)
            } else if let Some(number) = get::<R, i32>(row, index) {
                Value::from(number)
            } else if let Some(number) = get::<R, i16>(row, index) {
                Value::from(number)
            } else if let Some(flag) = get::<R, bool>(row, index) {
                Value::Bool(flag)
            } else if let Some(number) = get::<R, f64>(row, index) {
                Value::from(number)
            } else {
                return Err(format!(
                    "column {name:?} has a type portcullis cannot read: select it as text \
                     (CAST({name} AS TEXT)) with the `sql` property"
                ));
            };
            map.insert(name.to_owned(), value);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(props: serde_json::Value) -> Result<Query> {
        let props: Properties = serde_json::from_value(props).unwrap();
        Query::from_properties("p", &props, "rules")
    }

    #[test]
    fn statements() {
        let q = query(serde_json::json!({"dsn": "sqlite://x.db"})).unwrap();
        assert_eq!(q.sql, "SELECT * FROM rules");
        let q = query(serde_json::json!({
            "url": "sqlite://x.db", "schema": "sec", "orderBy": "position, id DESC"
        }))
        .unwrap();
        assert_eq!(q.sql, "SELECT * FROM sec.rules ORDER BY position, id DESC");
        let q = query(serde_json::json!({
            "dsn": "sqlite://x.db", "sql": "select * from rules where active = 1", "order_by": "id"
        }))
        .unwrap();
        assert_eq!(q.sql, "select * from rules where active = 1 ORDER BY id");
    }

    #[test]
    fn bad_properties() {
        for (props, key) in [
            (serde_json::json!({}), "p.properties.dsn"),
            (
                serde_json::json!({"dsn": "a", "url": "b"}),
                "p.properties.dsn",
            ),
            (serde_json::json!({"dsn": 5}), "p.properties.dsn"),
            (
                serde_json::json!({"dsn": "a", "schema": "x;y"}),
                "p.properties.schema",
            ),
            (
                serde_json::json!({"dsn": "a", "order_by": "id; drop table rules"}),
                "p.properties.order_by",
            ),
            (
                serde_json::json!({"dsn": "a", "order_by": "id sideways"}),
                "p.properties.order_by",
            ),
        ] {
            match query(props.clone()) {
                Err(Error::Config { key: found, .. }) => assert_eq!(found, key, "{props}"),
                other => panic!("{props}: {:?}", other.map(|q| q.sql)),
            }
        }
    }
}
