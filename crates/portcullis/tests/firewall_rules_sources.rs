//! Rule sources and the assembled rule list: cbsecurity's JSON and XML files, a SQLite table
//! (and PostgreSQL when `PORTCULLIS_TEST_POSTGRES_URL` is set), providers registered in
//! code, modules, defaults, and the start-up errors of each.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use portcullis::firewall::sources::{rule_from_row, RuleAssembly, RuleProvider};
use portcullis::firewall::{Rule, RuleMatcher, RuleOrigin, Targets};
use portcullis::settings::{Action, FirewallSettings, MatchTarget, RuleSpec};
use portcullis::Error;
use serde_json::json;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn firewall(toml_text: &str) -> FirewallSettings {
    toml::from_str(toml_text).expect("valid firewall settings")
}

async fn load(settings: &FirewallSettings) -> portcullis::Result<Vec<Rule>> {
    RuleAssembly::new(settings)
        .base_dir(fixtures())
        .load()
        .await
}

fn config_error(result: portcullis::Result<Vec<Rule>>) -> (String, String) {
    match result {
        Err(Error::Config { key, reason }) => (key, reason),
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(rules) => panic!("expected an error, got {} rules", rules.len()),
    }
}

/// The three rules of `cbsecurity.json` / `cbsecurity.xml`, as portcullis reads them.
fn assert_cbsecurity_rules(rules: &[Rule], source: &str) {
    assert_eq!(rules.len(), 3);
    let first = &rules[0];
    assert_eq!(
        first.whitelist(),
        ["user\\.login", "user\\.logout", "^main.*"]
    );
    assert_eq!(first.securelist(), ["^user\\.*", "^admin"]);
    assert_eq!(first.match_target(), MatchTarget::Route);
    assert_eq!(first.action(), Some(Action::Redirect));
    assert_eq!(first.redirect(), Some("user.login"));
    assert!(!first.use_ssl());
    assert_eq!(first.id().len(), 36, "a drawn UUID");
    assert_eq!(
        first.origin(),
        &RuleOrigin::Source {
            source: source.to_owned(),
            number: 1
        }
    );
    let reports = &rules[1];
    assert_eq!(reports.id(), "reports");
    assert_eq!(reports.match_target(), MatchTarget::Url);
    assert!(reports.methods_allow(&http::Method::GET));
    assert!(!reports.methods_allow(&http::Method::POST));
    assert!(reports.ip_allowed("10.9.8.7".parse().unwrap()));
    assert!(reports.ip_allowed("192.168.1.7".parse().unwrap()));
    assert!(!reports.ip_allowed("192.168.1.8".parse().unwrap()));
    let api = &rules[2];
    assert_eq!(api.action(), Some(Action::Block));
    assert_eq!(api.extra()["team"], "platform");
}

#[tokio::test]
async fn cbsecurity_json_file() {
    let settings = firewall("rules.provider.source = 'cbsecurity.json'");
    assert_cbsecurity_rules(&load(&settings).await.unwrap(), "cbsecurity.json");
    let settings =
        firewall("rules.provider = { source = 'JSON', properties = { file = 'cbsecurity.json' } }");
    assert_cbsecurity_rules(&load(&settings).await.unwrap(), "cbsecurity.json");
}

#[tokio::test]
async fn cbsecurity_xml_file() {
    let settings = firewall("rules.provider.source = 'cbsecurity.xml'");
    let rules = load(&settings).await.unwrap();
    assert_cbsecurity_rules(&rules, "cbsecurity.xml");
    let json = load(&firewall("rules.provider.source = 'cbsecurity.json'"))
        .await
        .unwrap();
    for (xml, json) in rules.iter().zip(&json) {
        let (mut xml, mut json) = (xml.spec().clone(), json.spec().clone());
        xml.id = None;
        json.id = None;
        assert_eq!(xml, json, "the XML and JSON files hold the same rules");
    }
}

#[tokio::test]
async fn absolute_paths_ignore_the_base_dir() {
    let path = fixtures().join("cbsecurity.json");
    let settings = firewall(&format!("rules.provider.source = '{}'", path.display()));
    let rules = RuleAssembly::new(&settings)
        .base_dir("/nonexistent")
        .load()
        .await
        .unwrap();
    assert_eq!(rules.len(), 3);
}

#[tokio::test]
async fn file_errors_name_the_file_and_the_place() {
    let (key, reason) =
        config_error(load(&firewall("rules.provider.source = 'missing.json'")).await);
    assert_eq!(key, "firewall.rules.provider");
    assert!(
        reason.starts_with("rules file \"missing.json\" not found (looked for /"),
        "{reason}"
    );
    assert!(
        reason.contains("tests/fixtures/rules/missing.json"),
        "{reason}"
    );

    let (key, reason) =
        config_error(load(&firewall("rules.provider.source = 'invalid.json'")).await);
    assert_eq!(key, "invalid.json");
    assert!(reason.starts_with("invalid JSON: "), "{reason}");
    assert!(reason.contains("line 3 column 29"), "{reason}");

    let (key, reason) =
        config_error(load(&firewall("rules.provider.source = 'invalid.xml'")).await);
    assert_eq!(key, "invalid.xml");
    assert!(reason.starts_with("invalid XML: "), "{reason}");
    assert!(reason.contains("7:"), "names the line: {reason}");

    let (key, reason) =
        config_error(load(&firewall("rules.provider.source = 'missing.xml'")).await);
    assert_eq!(key, "firewall.rules.provider");
    assert!(reason.contains("\"missing.xml\" not found"), "{reason}");
}

#[tokio::test]
async fn source_errors_at_start_up() {
    let (key, reason) = config_error(load(&firewall("rules.provider.source = 'ldap'")).await);
    assert_eq!(key, "firewall.rules.provider.source");
    assert!(reason.contains("is not a rule source"), "{reason}");

    let (key, _) = config_error(load(&firewall("rules.provider.source = 'xml'")).await);
    assert_eq!(key, "firewall.rules.provider.properties.file");

    let (key, reason) = config_error(
        load(&firewall(
            "rules.provider = { source = 'model', properties = { model = 'nobody' } }",
        ))
        .await,
    );
    assert_eq!(key, "firewall.rules.provider.properties.model");
    assert!(
        reason.contains("no rule provider named \"nobody\""),
        "{reason}"
    );

    let (key, reason) =
        config_error(load(&firewall("rules.inline = [ { roles = 'admin' } ]")).await);
    assert_eq!(key, "firewall.rules.inline[0].securelist");
    assert!(reason.starts_with("missing"), "{reason}");

    let (key, reason) = config_error(
        load(&firewall(
            "modules.blog.rules = [ { secureList = 'x' }, { match = 'url' } ]",
        ))
        .await,
    );
    assert_eq!(key, "firewall.modules.blog.rules.inline[1].securelist");
    assert!(reason.starts_with("missing"), "{reason}");
}

#[tokio::test]
async fn bad_patterns_name_the_rule_and_pattern() {
    let rules = load(&firewall("rules.provider.source = 'bad-regex.json'"))
        .await
        .unwrap();
    let err = RuleMatcher::new(&rules, true).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "bad-regex.json: rule 2 (id \"admin\"): securelist[1]: \"^/(reports\" is not a valid \
             regular expression: "
        ),
        "{err}"
    );
    let rules = load(&firewall(
        "rules.inline = [ { secureList = 'a' }, { secureList = '[z-a]' } ]",
    ))
    .await
    .unwrap();
    let err = RuleMatcher::new(&rules, true).unwrap_err().to_string();
    assert!(
        err.starts_with("firewall.rules.inline[1].securelist[0]: \"[z-a]\" is not a valid"),
        "{err}"
    );
    // In substring mode the same text is fine.
    assert!(RuleMatcher::new(&rules, false).is_ok());
}

/// Spec §2.4 with portcullis's fixes: module blocks first (last registered first), each
/// module's provider rules after its inline rules and tagged; then global inline, then the
/// global provider. Defaults: module over global, on standard keys too.
#[tokio::test]
async fn assembly_order_tags_and_defaults() {
    let settings = firewall(
        r#"
        rules.defaults = { roles = "user", action = "block", team = "core" }
        rules.inline = [ { id = "global-inline", secureList = "^/g/" } ]
        rules.provider.source = "cbsecurity.json"

        [modules.blog.rules]
        defaults = { roles = "writer" }
        inline = [ { id = "blog-inline", secureList = "^/blog/" } ]
        provider = { source = "module.json" }

        [modules.shop]
        rules = [ { id = "shop-inline", secureList = "^/shop/", module = "elsewhere" } ]
        "#,
    );
    let rules = RuleAssembly::new(&settings)
        .base_dir(fixtures())
        .module("shop", &settings.modules["shop"].rules)
        .module("blog", &settings.modules["blog"].rules)
        .load()
        .await
        .unwrap();
    let ids: Vec<&str> = rules.iter().map(Rule::id).collect();
    assert_eq!(
        &ids[..4],
        [
            "blog-inline",
            "blog-provided",
            "shop-inline",
            "global-inline"
        ]
    );
    assert_eq!(ids[5], "reports");
    assert_eq!(rules.len(), 7);
    let modules: Vec<Option<&str>> = rules.iter().map(Rule::module).collect();
    assert_eq!(
        modules,
        [
            Some("blog"),
            Some("blog"),
            Some("shop"),
            None,
            None,
            None,
            None
        ]
    );
    // Module defaults over global defaults; both fill standard keys.
    assert_eq!(rules[0].roles(), ["writer"]);
    assert_eq!(
        rules[1].roles(),
        ["writer"],
        "provider rules get module defaults"
    );
    assert_eq!(rules[2].roles(), ["user"]);
    assert_eq!(rules[1].action(), Some(Action::Block));
    assert_eq!(rules[1].extra()["team"], "core");
    // The file's own values win over defaults.
    assert_eq!(rules[4].roles(), ["admin"]);
    assert_eq!(
        rules[4].action(),
        Some(Action::Redirect),
        "redirect set → redirect"
    );
    assert_eq!(rules[5].roles(), ["auditor", "admin"]);
    assert_eq!(
        rules[3].origin(),
        &RuleOrigin::Settings {
            key: "firewall.rules.inline[0]".into()
        }
    );
}

struct Rows;

#[async_trait]
impl RuleProvider for Rows {
    async fn rules(&self) -> portcullis::Result<Vec<RuleSpec>> {
        // Rows as a query returns them: every column present, empty strings and NULLs.
        [
            json!({"ID": 1, "SECURELIST": "^/a/", "WHITELIST": "", "MATCH": null, "ROLES": "",
                   "ACTION": "", "USESSL": 0, "HTTPMETHODS": "*", "ALLOWEDIPS": "*"}),
            json!({"ID": 2, "SECURELIST": "^/b/", "WHITELIST": null, "MATCH": "url",
                   "ROLES": "ops", "ACTION": "override", "USESSL": 1, "HTTPMETHODS": "post",
                   "ALLOWEDIPS": "::1"}),
        ]
        .into_iter()
        .map(rule_from_row)
        .collect()
    }
}

struct Broken;

#[async_trait]
impl RuleProvider for Broken {
    async fn rules(&self) -> portcullis::Result<Vec<RuleSpec>> {
        Ok(vec![rule_from_row(
            json!({"securelist": "x", "match": "sideways"}),
        )?])
    }
}

/// cbsecurity returned a model's query rows without normalising them (spec §2.2 [BUG]):
/// here they get defaults, ids and checks like every rule.
#[tokio::test]
async fn provider_rows_are_normalised() {
    let settings = firewall(
        r#"
        rules.defaults = { roles = "user", action = "block" }
        rules.provider = { source = "model", properties = { model = "rows" } }
        "#,
    );
    let rules = RuleAssembly::new(&settings)
        .provider("rows", Arc::new(Rows))
        .load()
        .await
        .unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].id(), "1");
    assert_eq!(rules[0].match_target(), MatchTarget::Route);
    assert_eq!(rules[0].roles(), ["user"], "defaults fill empty columns");
    assert_eq!(rules[0].action(), Some(Action::Block));
    assert!(!rules[0].use_ssl());
    assert_eq!(rules[1].roles(), ["ops"]);
    assert_eq!(rules[1].action(), Some(Action::Override));
    assert!(rules[1].use_ssl());
    assert_eq!(
        rules[1].origin(),
        &RuleOrigin::Source {
            source: "provider \"rows\"".into(),
            number: 2
        }
    );

    let settings =
        firewall("rules.provider = { source = 'model', properties = { model = 'broken' } }");
    let (key, reason) = config_error(
        RuleAssembly::new(&settings)
            .provider("broken", Arc::new(Broken))
            .load()
            .await,
    );
    assert_eq!(key, "firewall.rules.provider.properties.model");
    assert!(
        reason.starts_with("provider \"broken\": rule: "),
        "{reason}"
    );
    assert!(reason.contains("sideways"), "{reason}");
}

/// Rules from a file decide requests like inline rules do.
#[tokio::test]
async fn file_rules_match() {
    let rules = load(&firewall("rules.provider.source = 'cbsecurity.json'"))
        .await
        .unwrap();
    let matcher = RuleMatcher::new(&rules, true).unwrap();
    let url = Targets::url_target("/Reports/2024");
    assert_eq!(matcher.first_applying(&Targets::new(&url, None)), Some(1));
    let url = Targets::url_target("/main/");
    assert_eq!(
        matcher.first_applying(&Targets::new(&url, Some("admin.index"))),
        Some(0)
    );
    assert_eq!(
        matcher.first_applying(&Targets::new(&url, Some("main.index"))),
        None,
        "whitelisted, and no later rule matches"
    );
}

#[cfg(all(
    feature = "rules-sql",
    any(feature = "storage-sqlite", feature = "storage-postgres")
))]
mod sql {
    use super::*;
    use sqlx::Connection;

    /// cbsecurity's suggested rule table (with the commas its shipped SQL file lacks).
    const SCHEMA: &str = "CREATE TABLE cbsecurity_rules (
        id VARCHAR(36) NOT NULL PRIMARY KEY,
        whiteList VARCHAR(255), secureList VARCHAR(255), roles VARCHAR(255),
        permissions VARCHAR(255), redirect VARCHAR(255), overrideEvent VARCHAR(255),
        useSSL BIT DEFAULT 0, match VARCHAR(10) DEFAULT 'event',
        action VARCHAR(20) DEFAULT 'redirect', module VARCHAR(255) DEFAULT '',
        httpMethods VARCHAR(100) DEFAULT '*', allowedIPs VARCHAR(255) DEFAULT '*',
        position INTEGER
    )";

    const ROWS: &str = "INSERT INTO cbsecurity_rules
        (id, whiteList, secureList, roles, permissions, redirect, overrideEvent, useSSL, match,
         action, httpMethods, allowedIPs, position) VALUES
        ('b', '', '^/b/', 'ops', '', NULL, '/denied', 1, 'url', 'override', 'GET,POST', '*', 2),
        ('a', NULL, '^/a/', '', '', '', '', 0, 'event', '', '*', '10.0.0.0/8', 1)";

    #[cfg(feature = "storage-sqlite")]
    #[tokio::test]
    async fn sqlite_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(SCHEMA).execute(&mut conn).await.unwrap();
        sqlx::query(ROWS).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();

        let settings = firewall(&format!(
            r#"
            rules.defaults = {{ roles = "user" }}
            rules.provider = {{ source = "db", properties = {{ dsn = "sqlite://{}", table = "cbsecurity_rules", orderBy = "position" }} }}
            "#,
            path.display()
        ));
        let rules = load(&settings).await.unwrap();
        assert_eq!(rules.iter().map(Rule::id).collect::<Vec<_>>(), ["a", "b"]);
        let (a, b) = (&rules[0], &rules[1]);
        assert_eq!(a.match_target(), MatchTarget::Route);
        assert_eq!(a.roles(), ["user"], "defaults fill empty columns");
        assert_eq!(a.action(), None);
        assert!(a.ip_allowed("10.1.1.1".parse().unwrap()));
        assert!(!a.ip_allowed("11.1.1.1".parse().unwrap()));
        assert!(!a.use_ssl());
        assert_eq!(b.match_target(), MatchTarget::Url);
        assert_eq!(b.action(), Some(Action::Override));
        assert_eq!(b.override_event(), Some("/denied"));
        assert!(b.use_ssl());
        assert!(b.methods_allow(&http::Method::POST));
        assert_eq!(b.extra()["position"], 2);
        assert_eq!(
            b.origin(),
            &RuleOrigin::Source {
                source: "db table cbsecurity_rules".into(),
                number: 2
            }
        );

        // Errors: a missing database file is not created, a missing table is named.
        let missing = dir.path().join("none.db");
        let settings = firewall(&format!(
            "rules.provider = {{ source = 'db', properties = {{ dsn = 'sqlite://{}', table = 'r' }} }}",
            missing.display()
        ));
        let (key, reason) = config_error(load(&settings).await);
        assert_eq!(key, "firewall.rules.provider.properties.dsn");
        assert!(
            reason.starts_with("cannot read the rules (table r): "),
            "{reason}"
        );
        assert!(!missing.exists());
        let settings = firewall(&format!(
            "rules.provider = {{ source = 'db', properties = {{ dsn = 'sqlite://{}', table = 'nope' }} }}",
            path.display()
        ));
        let (_, reason) = config_error(load(&settings).await);
        assert!(reason.contains("no such table: nope"), "{reason}");
        let settings =
            firewall("rules.provider = { source = 'db', properties = { table = 'rules' } }");
        let (key, reason) = config_error(load(&settings).await);
        assert_eq!(key, "firewall.rules.provider.properties.dsn");
        assert!(reason.starts_with("missing"), "{reason}");
    }

    /// Needs a PostgreSQL server: `PORTCULLIS_TEST_POSTGRES_URL` (scripts/test.sh sets it).
    #[cfg(feature = "storage-postgres")]
    #[tokio::test]
    async fn postgres_table() {
        let Ok(url) = std::env::var("PORTCULLIS_TEST_POSTGRES_URL") else {
            eprintln!("PORTCULLIS_TEST_POSTGRES_URL is not set: skipped");
            return;
        };
        let table = format!("rules_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let schema = SCHEMA
            .replace("cbsecurity_rules", &table)
            .replace("BIT DEFAULT 0", "BOOLEAN DEFAULT false")
            .replace(" match ", " \"match\" ");
        let rows = ROWS
            .replace("cbsecurity_rules", &table)
            .replace(", match,", ", \"match\",")
            .replace(", 1, 'url'", ", true, 'url'")
            .replace(", 0, 'event'", ", false, 'event'");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(schema))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(rows))
            .execute(&mut conn)
            .await
            .unwrap();
        let settings = firewall(&format!(
            "rules.provider = {{ source = 'db', properties = {{ url = '{url}', table = '{table}', order_by = 'position desc' }} }}"
        ));
        let result = load(&settings).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let rules = result.unwrap();
        assert_eq!(rules.iter().map(Rule::id).collect::<Vec<_>>(), ["b", "a"]);
        assert!(rules[0].use_ssl());
        assert_eq!(rules[0].match_target(), MatchTarget::Url);
        assert_eq!(rules[1].match_target(), MatchTarget::Route);
    }
}
