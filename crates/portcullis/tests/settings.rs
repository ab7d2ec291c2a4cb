//! Integration tests for `portcullis::settings`: defaults, fixtures, durations, error paths,
//! environment overrides, rules and secrecy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis::settings::*;
use portcullis::Error;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/settings")
        .join(name)
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The key and reason of a config error, or a panic naming what came instead.
fn config_error(result: portcullis::Result<Settings>) -> (String, String) {
    match result {
        Err(Error::Config { key, reason }) => (key, reason),
        Err(other) => panic!("expected a config error, got {other:?}"),
        Ok(_) => panic!("expected a config error, got settings"),
    }
}

fn error_of(text: &str) -> (String, String) {
    config_error(Settings::from_toml_str(text))
}

// ---------------------------------------------------------------- defaults (spec §1)

#[test]
fn empty_file_is_the_defaults() {
    assert_eq!(Settings::from_toml_str("").unwrap(), Settings::default());
    assert!(Settings::default().validate().is_ok());
}

#[test]
fn defaults_authentication_and_basic_auth() {
    let s = Settings::default();
    assert_eq!(s.authentication.provider, "");
    assert_eq!(s.authentication.user_service, "");
    assert_eq!(s.authentication.user_extension_name, "oCurrentUser");
    assert_eq!(s.basic_auth.hash_algorithm, HashAlgorithm::Argon2id);
    assert_eq!(s.basic_auth.hash_iterations, 5);
    assert!(s.basic_auth.users.is_empty());
}

#[test]
fn defaults_csrf() {
    let c = Settings::default().csrf;
    assert!(!c.enable_auto_verifier);
    assert!(c.verify_excludes.is_empty());
    assert_eq!(c.rotation_timeout, minutes(30));
    assert!(!c.enable_endpoint);
    assert!(c.enable_auth_token_rotator);
    assert!(!c.fetch_metadata.enabled);
    assert!(c.fetch_metadata.allowed_origins.is_empty());
}

#[test]
fn defaults_firewall() {
    let f = Settings::default().firewall;
    assert!(f.auto_load_firewall);
    assert_eq!(f.validator, ValidatorKind::Auth);
    assert!(f.handler_annotation_security);
    assert_eq!(f.invalid_authentication_event, "");
    assert_eq!(f.default_authentication_action, Action::Redirect);
    assert_eq!(f.invalid_authorization_event, "");
    assert_eq!(f.default_authorization_action, Action::Redirect);
    assert!(f.rules.use_regex);
    assert!(!f.rules.use_ssl);
    assert_eq!(f.rules.defaults, RuleSpec::default());
    assert!(f.rules.inline.is_empty());
    assert_eq!(f.rules.provider.source, "");
    assert!(f.rules.provider.properties.is_empty());
    assert!(!f.logs.enabled);
    assert!(f.logs.dsn.is_empty());
    assert_eq!(f.logs.schema, "");
    assert_eq!(f.logs.table, "cbsecurity_logs");
    assert!(f.logs.auto_create);
    assert!(f.trusted_proxies.is_empty());
    assert!(f.modules.is_empty());
}

#[test]
fn defaults_visualizer() {
    let v = Settings::default().visualizer;
    assert!(!v.enabled);
    assert!(!v.secured);
    assert_eq!(v.security_rule, RuleSpec::default());
}

#[test]
fn defaults_security_headers() {
    let h = Settings::default().security_headers;
    assert!(h.enabled);
    assert!(!h.trust_upstream);
    assert!(!h.content_security_policy.enabled);
    assert_eq!(h.content_security_policy.policy, "");
    assert!(!h.content_security_policy.report_only);
    assert!(!h.content_security_policy.nonce);
    assert!(h.content_type_options.enabled);
    assert!(h.custom_headers.is_empty());
    assert!(h.frame_options.enabled);
    assert_eq!(h.frame_options.value, FrameOptions::SameOrigin);
    assert_eq!(h.frame_options.value.as_str(), "SAMEORIGIN");
    assert!(h.hsts.enabled);
    assert_eq!(h.hsts.max_age, 31_536_000);
    assert!(!h.hsts.include_sub_domains);
    assert!(!h.hsts.preload);
    assert_eq!(h.hsts.header_value(), "max-age=31536000");
    assert!(!h.host_header_validation.enabled);
    assert!(h.host_header_validation.allowed_hosts.is_empty());
    assert!(!h.ip_validation.enabled);
    assert!(h.ip_validation.allowed_ips.is_empty());
    assert!(h.referrer_policy.enabled);
    assert_eq!(h.referrer_policy.policy, ReferrerPolicy::SameOrigin);
    assert!(!h.secure_ssl_redirects.enabled);
    assert!(h.xss_protection.enabled);
    assert_eq!(h.xss_protection.mode, XssMode::Off);
    assert_eq!(h.xss_protection.mode.header_value(), "0");
    assert!(h.cross_origin_opener_policy.enabled);
    assert_eq!(h.cross_origin_opener_policy.value.as_str(), "same-origin");
    assert!(h.cross_origin_resource_policy.enabled);
    assert_eq!(h.cross_origin_resource_policy.value.as_str(), "same-origin");
    assert!(!h.permissions_policy.enabled);
    assert_eq!(h.permissions_policy.value, "");
    assert!(h.origin_agent_cluster.enabled);
    assert_eq!(h.origin_agent_cluster.value.as_str(), "?1");
}

#[test]
fn defaults_jwt() {
    let j = Settings::default().jwt;
    assert_eq!(j.issuer, "");
    assert_eq!(j.effective_issuer(), "portcullis");
    assert!(j.secret_key.is_empty());
    assert_eq!(j.secret_key_file, None);
    assert_eq!(j.signing_key, None);
    assert!(j.verification_keys.is_empty());
    assert_eq!(j.custom_auth_header, "x-auth-token");
    assert_eq!(j.expiration, minutes(60));
    assert!(!j.enable_refresh_tokens);
    assert_eq!(j.refresh_expiration, minutes(10_080));
    assert_eq!(j.custom_refresh_header, "x-refresh-token");
    assert!(!j.enable_auto_refresh_validator);
    assert!(j.enable_refresh_endpoint);
    assert_eq!(j.algorithm, Algorithm::HS512);
    assert!(j.required_claims.is_empty());
    assert_eq!(j.audience, None);
    assert_eq!(j.leeway, Duration::ZERO);
    assert_eq!(j.max_token_size, 8192);
    assert!(!j.allow_query_token);
    assert!(j.revoke_access_on_refresh);
    assert_eq!(j.refresh_reuse_overlap, Duration::from_secs(10));
    let t = &j.token_storage;
    assert!(t.enabled);
    assert_eq!(t.key_prefix, "cbjwt_");
    assert_eq!(t.driver, StorageDriver::Memory);
    assert_eq!(t.mode, StorageMode::Allowlist);
    assert!(t.properties.is_empty());
    let sql = t.sql().unwrap();
    assert_eq!(sql.url.expose_str(), Some("sqlite://portcullis.db"));
    assert_eq!(sql.table, "cbsecurity_tokens");
    assert_eq!(sql.schema, "");
    assert!(sql.auto_create);
    assert_eq!(sql.rotation_days, 7);
    assert_eq!(sql.rotation_frequency, minutes(60));
    assert_eq!(
        t.redis().unwrap().url.expose_str(),
        Some("redis://127.0.0.1:6379")
    );
}

#[test]
fn partial_tables_are_completed_key_by_key() {
    let s = Settings::from_toml_str(
        "[security_headers.hsts]\npreload = true\ninclude_sub_domains = true\n\
         [jwt.token_storage]\ndriver = 'redis'",
    )
    .unwrap();
    assert!(s.security_headers.hsts.enabled);
    assert_eq!(s.security_headers.hsts.max_age, 31_536_000);
    assert!(s.security_headers.frame_options.enabled);
    assert_eq!(s.jwt.token_storage.key_prefix, "cbjwt_");
    assert!(s.jwt.token_storage.enabled);
    assert_eq!(s.jwt.expiration, minutes(60));
}

// ---------------------------------------------------------------- fixtures

#[test]
fn cbsecurity_like_fixture_loads() {
    let s = Settings::load(fixture("cbsecurity-like.toml")).unwrap();
    assert_eq!(s.authentication.provider, "authenticationService@cbauth");
    assert_eq!(s.basic_auth.hash_algorithm, HashAlgorithm::Sha512);
    let admin = &s.basic_auth.users["admin"];
    assert_eq!(admin.roles, vec!["admin"]);
    assert_eq!(admin.permissions, vec!["read", "write"]);
    assert_eq!(
        (admin.first_name.as_str(), admin.last_name.as_str()),
        ("Site", "Admin")
    );
    assert_eq!(
        s.basic_auth.users["reader"].extra["email"],
        "reader@example.com"
    );
    assert_eq!(s.csrf.verify_excludes, vec!["^api\\.", "^webhooks\\."]);
    assert_eq!(s.firewall.validator, ValidatorKind::Jwt);
    assert_eq!(s.firewall.default_authorization_action, Action::Override);
    assert_eq!(s.firewall.rules.defaults.http_methods, vec!["GET", "POST"]);
    assert_eq!(
        s.firewall
            .rules
            .provider
            .resolve("firewall.rules.provider")
            .unwrap(),
        Some(RuleSource::Json("config/security.json.cfm".into()))
    );
    let rules = &s.firewall.rules.inline;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].securelist, vec!["^admin"]);
    assert_eq!(rules[0].match_target(), MatchTarget::Route);
    assert_eq!(rules[0].action, Some(Action::Block));
    assert_eq!(rules[0].redirect, None);
    assert!(rules[0].allows_any_method() && rules[0].allows_any_ip());
    assert_eq!(rules[1].match_target(), MatchTarget::Url);
    assert_eq!(rules[1].allowed_ips[0].to_string(), "10.0.0.0/8");
    assert_eq!(rules[1].extra["team"], "platform");
    assert!(s.firewall.logs.enabled);
    let api = &s.firewall.modules["api"];
    assert_eq!(api.validator, Some(ValidatorKind::Jwt));
    assert_eq!(api.rules.inline[0].permissions, vec!["api:read"]);
    assert_eq!(s.visualizer.security_rule.roles, vec!["admin"]);
    assert_eq!(s.security_headers.hsts.max_age, 31_536_000);
    assert_eq!(
        s.security_headers.xss_protection.mode.header_value(),
        "1; mode=block"
    );
    assert_eq!(s.jwt.required_claims, vec!["role"]);
    assert!(s.jwt.enable_auto_refresh_validator);
    assert_eq!(s.jwt.token_storage.driver, StorageDriver::Sql);
    let sql = s.jwt.token_storage.sql().unwrap();
    assert_eq!(sql.table, "cbsecurity_jwt");
    assert_eq!(sql.rotation_frequency, minutes(60));
}

/// The annotated example in docs/settings.md, between its markers.
fn docs_example() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/settings.md");
    let doc = std::fs::read_to_string(&path).expect("docs/settings.md is readable");
    let start = doc
        .find("<!-- settings-example:start -->")
        .expect("start marker");
    let end = doc
        .find("<!-- settings-example:end -->")
        .expect("end marker");
    let block = &doc[start..end];
    let body_start = block.find("```toml\n").expect("toml fence") + "```toml\n".len();
    let body_end = block.rfind("```").expect("closing fence");
    block[body_start..body_end].to_owned()
}

#[test]
fn docs_example_loads_and_shows_the_defaults() {
    let s = Settings::from_toml_str(&docs_example()).expect("the documented example loads");
    // The example's non-default values.
    assert_eq!(s.firewall.invalid_authentication_event, "/login");
    assert_eq!(s.firewall.default_authorization_action, Action::Block);
    assert_eq!(s.firewall.rules.inline.len(), 2);
    assert_eq!(
        s.firewall.rules.inline[1].http_methods,
        vec!["POST", "PUT", "DELETE"]
    );
    assert_eq!(s.basic_auth.users.len(), 2);
    assert_eq!(s.firewall.modules["reports"].rules.inline.len(), 1);
    // Everything else equals the defaults.
    let mut expected = Settings::default();
    expected.basic_auth.users = s.basic_auth.users.clone();
    expected.firewall.invalid_authentication_event = "/login".into();
    expected.firewall.default_authorization_action = Action::Block;
    expected.firewall.rules.inline = s.firewall.rules.inline.clone();
    expected.firewall.modules = s.firewall.modules.clone();
    assert_eq!(s, expected);
}

// ---------------------------------------------------------------- durations

#[test]
fn every_duration_form() {
    let s = Settings::from_toml_str(
        "[jwt]\nexpiration = 90\nrefresh_expiration = '1w'\nleeway = '500ms'\n\
         refresh_reuse_overlap = '1h30m'\nenable_refresh_tokens = true\n\
         [csrf]\nrotation_timeout = '60'",
    )
    .unwrap();
    assert_eq!(s.jwt.expiration, minutes(90));
    assert_eq!(s.jwt.refresh_expiration, Duration::from_secs(604_800));
    assert_eq!(s.jwt.leeway, Duration::from_millis(500));
    assert_eq!(s.jwt.refresh_reuse_overlap, minutes(90));
    assert_eq!(s.csrf.rotation_timeout, minutes(60));
    for (text, expected) in [
        ("'90s'", Duration::from_secs(90)),
        ("'15m'", minutes(15)),
        ("'2h'", minutes(120)),
        ("'1d'", minutes(1440)),
    ] {
        let s = Settings::from_toml_str(&format!("[jwt]\nexpiration = {text}")).unwrap();
        assert_eq!(s.jwt.expiration, expected, "{text}");
    }
}

#[test]
fn durations_serialize_as_compact_literals() {
    let s = Settings::from_toml_str("[jwt]\nexpiration = 90").unwrap();
    let value = serde_json::to_value(&s).unwrap();
    assert_eq!(value["jwt"]["expiration"], "1h30m");
    assert_eq!(value["jwt"]["refresh_expiration"], "1w");
    assert_eq!(value["csrf"]["rotation_timeout"], "30m");
}

#[test]
fn bad_durations_name_the_key() {
    assert_eq!(
        error_of("[jwt]\nexpiration = \"abc\""),
        (
            "jwt.expiration".into(),
            "\"abc\" is not a duration (use whole minutes, or a literal such as 90s, 15m, 1d)"
                .into()
        )
    );
    let (key, reason) = error_of("[jwt]\nexpiration = -5");
    assert_eq!(key, "jwt.expiration");
    assert!(reason.contains("negative"), "{reason}");
    let (key, reason) = error_of("[jwt]\nleeway = 30");
    assert_eq!(key, "jwt.leeway");
    assert!(reason.contains("has no unit"), "{reason}");
    assert_eq!(
        error_of("[csrf]\nrotation_timeout = '5 fortnights'").0,
        "csrf.rotation_timeout"
    );
}

// ---------------------------------------------------------------- errors name the key

#[test]
fn wrong_type_names_the_key() {
    let (key, reason) = error_of("[firewall]\nauto_load_firewall = 'yes please'");
    assert_eq!(key, "firewall.auto_load_firewall");
    assert!(reason.contains("invalid type"), "{reason}");
    assert_eq!(
        error_of("[jwt]\nmax_token_size = 'big'").0,
        "jwt.max_token_size"
    );
    assert_eq!(
        error_of("jwt = 5"),
        (
            "jwt".into(),
            "invalid type: integer `5`, expected a table".into()
        )
    );
}

#[test]
fn bad_action_names_the_key() {
    let (key, reason) = error_of("[firewall]\ndefault_authentication_action = 'deny'");
    assert_eq!(key, "firewall.default_authentication_action");
    assert_eq!(
        reason,
        "\"deny\" is not an action (use one of: redirect, override, block)"
    );
    assert_eq!(
        error_of(
            "[firewall]\nrules = [ { secureList = 'a' }, { secureList = 'b', action = 'allow' } ]"
        )
        .0,
        "firewall.rules[1].action"
    );
    assert_eq!(
        error_of("[firewall.modules.api]\ndefault_authorization_action = 'nope'").0,
        "firewall.modules.api.default_authorization_action"
    );
}

#[test]
fn unknown_keys_are_named_with_a_suggestion() {
    assert_eq!(
        error_of("[jwt]\nexpirattion = 5"),
        (
            "jwt.expirattion".into(),
            "unknown setting (did you mean `expiration`?)".into()
        )
    );
    assert_eq!(
        error_of("[firewall.logs]\ntabel = 'x'").0,
        "firewall.logs.tabel"
    );
    assert_eq!(
        error_of("[security_headers.hsts]\nmax-age = 1").0,
        "security_headers.hsts.max-age"
    );
    let (key, reason) = error_of("[cbsecurity]\nx = 1");
    assert_eq!(
        (key.as_str(), reason.as_str()),
        ("cbsecurity", "unknown setting")
    );
}

#[test]
fn bad_algorithm_names_the_key() {
    let (key, reason) = error_of("[jwt]\nalgorithm = 'none'");
    assert_eq!(key, "jwt.algorithm");
    assert!(
        reason.starts_with("\"none\" is not a supported JWS algorithm (use one of HS256"),
        "{reason}"
    );
    let s = Settings::from_toml_str("[jwt]\nalgorithm = 'hs384'").unwrap();
    assert_eq!(s.jwt.algorithm.as_str(), "HS384");
}

#[test]
fn bad_cidr_names_the_key() {
    let (key, reason) = error_of("[firewall]\ntrusted_proxies = ['10.0.0.0/33']");
    assert_eq!(key, "firewall.trusted_proxies");
    assert!(
        reason.contains("\"10.0.0.0/33\" is not an IP address or CIDR range"),
        "{reason}"
    );
    assert_eq!(
        error_of("[security_headers.ip_validation]\nallowed_ips = '10.0.0.1, nope'").0,
        "security_headers.ip_validation.allowed_ips"
    );
    assert_eq!(
        error_of("[[firewall.rules.inline]]\nsecureList = 'a'\nallowedIPs = '300.1.1.1'").0,
        "firewall.rules.inline[0].allowedIPs"
    );
}

#[test]
fn validation_errors_name_the_key() {
    assert_eq!(
        error_of("[jwt]\nenable_refresh_tokens = true\nrefresh_expiration = 30").0,
        "jwt.refresh_expiration"
    );
    assert_eq!(
        error_of("[firewall]\nrules = [ { secureList = '^admin' } ]").0,
        "firewall.invalid_authentication_event"
    );
    assert_eq!(
        error_of("[firewall]\nrules = [ { roles = 'admin' } ]").0,
        "firewall.rules.inline[0].securelist"
    );
    assert_eq!(
        error_of("[security_headers]\ntrust_upstream = true").0,
        "security_headers.trust_upstream"
    );
    assert_eq!(
        error_of("[security_headers.frame_options]\nvalue = 'ALLOW-FROM x'").0,
        "security_headers.frame_options.value"
    );
    assert_eq!(
        error_of("[basic_auth.users.bob]\npassword = 'hunter2'").0,
        "basic_auth.users.bob.password"
    );
    assert_eq!(
        error_of("[jwt.token_storage]\ndriver = 'sql'\nproperties = { dsn = 'main' }").0,
        "jwt.token_storage.properties.dsn"
    );
}

#[test]
fn redirect_targets_only_needed_when_rules_exist() {
    // cbsecurity's defaults (redirect, empty target) are fine without rules...
    assert!(
        Settings::from_toml_str("[firewall]\ndefault_authentication_action = 'override'").is_ok()
    );
    // ...and with rules once the targets are set.
    let s = Settings::from_toml_str(
        "[firewall]\ninvalid_authentication_event = '/login'\ninvalid_authorization_event = '/denied'\n\
         rules = [ { secureList = '^admin' } ]",
    );
    assert!(s.is_ok(), "{s:?}");
}

#[test]
fn io_errors_name_the_path() {
    let missing = fixture("does-not-exist.toml");
    match Settings::load(&missing) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("does-not-exist.toml"), "{path}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    match Settings::load_with_env(SettingsSource::File(missing), Vec::new()) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("does-not-exist.toml"), "{path}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn syntax_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("portcullis-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.toml");
    std::fs::write(&path, "[jwt]\nissuer = \"unterminated\n").unwrap();
    let (key, reason) = config_error(Settings::load(&path));
    assert_eq!(key, path.display().to_string());
    assert!(
        reason.starts_with("not valid TOML:") && reason.contains("line 2"),
        "{reason}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_settings_never_panic() {
    for text in [
        "[jwt]\nexpiration = 18446744073709551615",
        "[jwt]\nexpiration = '99999999999999999999w'",
        "[jwt]\nexpiration = 1.5",
        "[jwt]\nsecret_key = 5",
        "[jwt]\nsigning_key = '{'",
        "[jwt]\nverification_keys = [1]",
        "[firewall]\nrules = { inline = 'x' }",
        "[firewall]\nrules = [ 'x' ]",
        "[firewall]\nvalidator = ''",
        "[basic_auth]\nusers = []",
        "[basic_auth.users.x]\npassword = []",
        "[security_headers]\ncustom_headers = { a = 1 }",
        "[security_headers.hsts]\nmax_age = -1",
        "[jwt.token_storage]\nproperties = 5",
        "[jwt.token_storage]\ndriver = 'sql'\nproperties = { rotation_days = -1 }",
        "[[firewall.rules.inline]]\nsecureList = 'a'\nsecurelist = 'b'",
        "a = datetime = 1",
        "\u{0}",
    ] {
        assert!(
            Settings::from_toml_str(text).is_err(),
            "{text:?} should be refused"
        );
    }
}

// ---------------------------------------------------------------- environment

#[test]
fn environment_overrides_at_several_depths() {
    let s = Settings::load_with_env(
        SettingsSource::Defaults,
        env(&[
            ("PORTCULLIS_JWT__ISSUER", "2024"),
            ("PORTCULLIS_JWT__EXPIRATION", "15m"),
            ("PORTCULLIS_JWT__MAX_TOKEN_SIZE", "4096"),
            ("PORTCULLIS_JWT__ALLOW_QUERY_TOKEN", "TRUE"),
            ("PORTCULLIS_JWT__REQUIRED_CLAIMS", "[\"role\", \"tenant\"]"),
            ("PORTCULLIS_JWT__TOKEN_STORAGE__DRIVER", "redis"),
            (
                "PORTCULLIS_JWT__TOKEN_STORAGE__PROPERTIES__URL",
                "redis://cache:6379/2",
            ),
            (
                "PORTCULLIS_FIREWALL__TRUSTED_PROXIES",
                "10.0.0.0/8, 192.168.0.0/16",
            ),
            (
                "PORTCULLIS_FIREWALL__MODULES__API__VALIDATOR",
                "JwtAuthValidator@cbsecurity",
            ),
            ("PORTCULLIS_SECURITY_HEADERS__HSTS__MAX_AGE", "600"),
            ("PORTCULLIS_CONFIG", "not-a-setting.toml"),
            ("HOME", "/root"),
        ]),
    )
    .unwrap();
    assert_eq!(s.jwt.issuer, "2024");
    assert_eq!(s.jwt.expiration, minutes(15));
    assert_eq!(s.jwt.max_token_size, 4096);
    assert!(s.jwt.allow_query_token);
    assert_eq!(s.jwt.required_claims, vec!["role", "tenant"]);
    assert_eq!(s.jwt.token_storage.driver, StorageDriver::Redis);
    assert_eq!(
        s.jwt.token_storage.redis().unwrap().url.expose_str(),
        Some("redis://cache:6379/2")
    );
    assert_eq!(s.firewall.trusted_proxies.len(), 2);
    assert_eq!(
        s.firewall.modules["api"].validator,
        Some(ValidatorKind::Jwt)
    );
    assert_eq!(s.security_headers.hsts.max_age, 600);
}

#[test]
fn environment_reaches_rule_settings_and_whole_tables() {
    let s = Settings::load_with_env(
        SettingsSource::Defaults,
        env(&[
            (
                "PORTCULLIS_FIREWALL__DEFAULT_AUTHENTICATION_ACTION",
                "BLOCK",
            ),
            ("PORTCULLIS_FIREWALL__DEFAULT_AUTHORIZATION_ACTION", "block"),
            ("PORTCULLIS_FIREWALL__RULES__USE_REGEX", "no"),
            (
                "PORTCULLIS_FIREWALL__RULES__INLINE",
                "[ { secureList = '^admin', roles = 'admin' } ]",
            ),
            (
                "PORTCULLIS_SECURITY_HEADERS__HSTS",
                "{ include_sub_domains = true }",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(s.firewall.default_authentication_action, Action::Block);
    assert!(!s.firewall.rules.use_regex);
    assert_eq!(s.firewall.rules.inline[0].roles, vec!["admin"]);
    assert!(s.security_headers.hsts.include_sub_domains);
    assert_eq!(s.security_headers.hsts.max_age, 31_536_000);
}

#[test]
fn from_env_reads_the_process_environment_without_panicking() {
    let ours = std::env::vars_os().any(|(name, _)| {
        name.to_str()
            .is_some_and(|n| n.starts_with(ENV_PREFIX) && n.contains("__"))
    });
    let result = Settings::from_env();
    if !ours {
        let settings = result.expect("defaults plus an environment without settings variables");
        assert_eq!(settings.jwt.expiration, minutes(60));
    }
}

#[test]
fn environment_beats_the_file() {
    let file = fixture("cbsecurity-like.toml");
    let s = Settings::load_with_env(
        &file,
        env(&[
            ("PORTCULLIS_JWT__EXPIRATION", "30"),
            ("PORTCULLIS_FIREWALL__VALIDATOR", "basic"),
            ("PORTCULLIS_BASIC_AUTH__USERS__ADMIN__ROLES", "root, admin"),
        ]),
    )
    .unwrap();
    assert_eq!(s.jwt.expiration, minutes(30));
    assert_eq!(s.firewall.validator, ValidatorKind::Basic);
    let admin = &s.basic_auth.users["admin"];
    assert_eq!(admin.roles, vec!["root", "admin"]);
    assert_eq!(admin.first_name, "Site", "other keys of the file stay");
    // The file alone.
    let s = Settings::load(&file).unwrap();
    assert_eq!(s.jwt.expiration, minutes(60));
}

#[test]
fn environment_errors_name_the_variable() {
    let (key, reason) = config_error(Settings::load_with_env(
        SettingsSource::Defaults,
        env(&[("PORTCULLIS_JWT__EXPIRATION", "soon")]),
    ));
    assert_eq!(key, "jwt.expiration");
    assert!(
        reason.ends_with("(set by environment variable PORTCULLIS_JWT__EXPIRATION)"),
        "{reason}"
    );
    let (key, reason) = config_error(Settings::load_with_env(
        SettingsSource::Defaults,
        env(&[("PORTCULLIS_JWT__EXPIRATON", "5")]),
    ));
    assert_eq!(key, "jwt.expiraton");
    assert!(reason.contains("did you mean `expiration`?"), "{reason}");
    assert!(reason.contains("PORTCULLIS_JWT__EXPIRATON"), "{reason}");
    let (key, reason) = config_error(Settings::load_with_env(
        SettingsSource::Defaults,
        env(&[
            ("PORTCULLIS_JWT__ENABLE_REFRESH_TOKENS", "true"),
            ("PORTCULLIS_JWT__REFRESH_EXPIRATION", "1m"),
        ]),
    ));
    assert_eq!(key, "jwt.refresh_expiration");
    assert!(
        reason.contains("PORTCULLIS_JWT__REFRESH_EXPIRATION"),
        "{reason}"
    );
}

#[test]
fn jwt_secret_precedence() {
    let file_with_secret = SettingsSource::Toml("[jwt]\nsecret_key = 'from-file'".into());
    let no_secret = SettingsSource::Toml(String::new());
    let secret = |source: SettingsSource, pairs: &[(&str, &str)]| {
        let s = Settings::load_with_env(source, env(pairs)).unwrap();
        String::from_utf8(s.jwt.secret_key.expose().to_vec()).unwrap()
    };
    // PORTCULLIS_JWT__SECRET_KEY > file > JWT_SECRET.
    assert_eq!(
        secret(
            file_with_secret.clone(),
            &[
                ("PORTCULLIS_JWT__SECRET_KEY", "from-var"),
                ("JWT_SECRET", "from-jwt-secret")
            ]
        ),
        "from-var"
    );
    assert_eq!(
        secret(file_with_secret, &[("JWT_SECRET", "from-jwt-secret")]),
        "from-file"
    );
    assert_eq!(
        secret(no_secret.clone(), &[("JWT_SECRET", "from-jwt-secret")]),
        "from-jwt-secret"
    );
    assert_eq!(
        secret(
            SettingsSource::Toml("[jwt]\nsecret_key = ''".into()),
            &[("JWT_SECRET", "from-jwt-secret")]
        ),
        "from-jwt-secret",
        "an empty secret in the file counts as unset, as in cbsecurity"
    );
    assert_eq!(secret(no_secret, &[]), "");
    // Secret values are taken verbatim, even when they look like TOML.
    assert_eq!(
        secret(
            SettingsSource::Defaults,
            &[("PORTCULLIS_JWT__SECRET_KEY", "12345")]
        ),
        "12345"
    );
    // A key file, or an asymmetric algorithm, keeps JWT_SECRET out.
    let s = Settings::load_with_env(
        SettingsSource::Toml("[jwt]\nsecret_key_file = '/run/secrets/jwt'".into()),
        env(&[("JWT_SECRET", "from-jwt-secret")]),
    )
    .unwrap();
    assert!(s.jwt.secret_key.is_empty());
    let s = Settings::load_with_env(
        SettingsSource::Toml("[jwt]\nalgorithm = 'ES256'\nverification_keys = ['pub.pem']".into()),
        env(&[("JWT_SECRET", "from-jwt-secret")]),
    )
    .unwrap();
    assert!(s.jwt.secret_key.is_empty());
}

#[test]
fn from_toml_str_and_load_ignore_the_environment() {
    // JWT_SECRET may or may not be set in the test process; these loaders never read it.
    let s = Settings::from_toml_str("").unwrap();
    assert!(s.jwt.secret_key.is_empty());
    let s = Settings::load(fixture("cbsecurity-like.toml")).unwrap();
    assert!(s.jwt.secret_key.expose().starts_with(b"a-shared-secret"));
}

// ---------------------------------------------------------------- rules

#[test]
fn rules_array_shorthand_equals_the_inline_table() {
    let short = Settings::from_toml_str(
        "[firewall]\ninvalid_authentication_event = '/login'\ninvalid_authorization_event = '/denied'\n\
         rules = [ { secureList = '^admin', roles = 'admin' } ]",
    )
    .unwrap();
    let table = Settings::from_toml_str(
        "[firewall]\ninvalid_authentication_event = '/login'\ninvalid_authorization_event = '/denied'\n\
         [firewall.rules]\nuse_regex = true\nuse_ssl = false\ndefaults = {}\n\
         inline = [ { secureList = '^admin', roles = 'admin' } ]",
    )
    .unwrap();
    assert_eq!(short, table);
    assert_eq!(short.firewall.rules.inline[0].roles, vec!["admin"]);
}

#[test]
fn rules_table_form() {
    let s = Settings::from_toml_str(
        "[firewall]\ninvalid_authentication_event = '/login'\ninvalid_authorization_event = '/denied'\n\
         [firewall.rules]\nuse_regex = false\nuse_ssl = true\n\
         defaults = { action = 'block', tenant = 'acme' }\n\
         provider = { source = 'DB', properties = { table = 'security_rules' } }\n\
         [[firewall.rules.inline]]\nsecurelist = 'admin'\n",
    )
    .unwrap();
    let rules = &s.firewall.rules;
    assert!(!rules.use_regex);
    assert!(rules.use_ssl);
    assert_eq!(rules.defaults.action, Some(Action::Block));
    assert_eq!(rules.defaults.extra["tenant"], "acme");
    assert_eq!(
        rules.provider.resolve("firewall.rules.provider").unwrap(),
        Some(RuleSource::Db {
            table: "security_rules".into()
        })
    );
    let mut rule = rules.inline[0].clone();
    rule.apply_defaults(&rules.defaults);
    assert_eq!(rule.action, Some(Action::Block));
}

#[test]
fn cbsecurity_json_rule_file_loads_unchanged() {
    let text = std::fs::read_to_string(fixture("cbsecurity-rules.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rules: Vec<RuleSpec> = serde_json::from_value(value).unwrap();
    assert_eq!(rules.len(), 3);

    let user = &rules[0];
    assert_eq!(
        user.whitelist,
        vec!["user\\.login", "user\\.logout", "^main.*"]
    );
    assert_eq!(user.securelist, vec!["^user\\..*", "^admin"]);
    assert_eq!(user.match_target(), MatchTarget::Route);
    assert_eq!(user.roles, vec!["admin"]);
    assert!(user.permissions.is_empty());
    assert_eq!(user.redirect.as_deref(), Some("user.login"));
    assert_eq!(user.override_event, None);
    assert_eq!(user.use_ssl, Some(false));
    assert_eq!(user.action, None);
    assert_eq!(user.module, None);
    assert!(user.allows_any_method() && user.allows_any_ip());
    assert!(user.extra.is_empty());

    let api = &rules[1];
    assert_eq!(api.id.as_deref(), Some("api-writes"));
    assert_eq!(api.match_target(), MatchTarget::Url);
    assert_eq!(api.permissions, vec!["write", "publish"]);
    assert_eq!(api.override_event.as_deref(), Some("api.denied"));
    assert_eq!(api.use_ssl, Some(true));
    assert_eq!(api.action, Some(Action::Override));
    assert_eq!(api.module.as_deref(), Some("api"));
    assert_eq!(api.http_methods, vec!["POST", "PUT", "DELETE"]);
    let ips: Vec<String> = api.allowed_ips.iter().map(ToString::to_string).collect();
    assert_eq!(ips, vec!["10.0.0.0/8", "192.168.1.20/32"]);
    assert_eq!(api.extra["tenant"], "acme");

    let reports = &rules[2];
    assert_eq!(reports.securelist, vec!["^reports"]);
    assert_eq!(reports.roles, vec!["auditor", "admin"]);
    assert_eq!(reports.action, Some(Action::Block));
    assert_eq!(reports.use_ssl, Some(false));
}

#[test]
fn comma_strings_equal_arrays() {
    let from_strings: RuleSpec = serde_json::from_value(serde_json::json!({
        "secureList": " ^a , ^b,", "whiteList": "x", "roles": "r1,r2",
        "permissions": "p", "httpMethods": "get, post", "allowedIPs": "::1, 10.0.0.0/8"
    }))
    .unwrap();
    let from_arrays: RuleSpec = serde_json::from_value(serde_json::json!({
        "securelist": ["^a", "^b"], "whitelist": ["x"], "roles": ["r1", " r2 "],
        "permissions": ["p", ""], "http_methods": ["GET", "POST"], "allowed_ips": ["::1", "10.0.0.0/8"]
    }))
    .unwrap();
    assert_eq!(from_strings, from_arrays);
    // Comma strings split, as in cbsecurity: `a{1` and `3}` are not regexes, refused at load.
    let err = Settings::from_toml_str("[csrf]\nverify_excludes = 'a{1,3}'").unwrap_err();
    assert!(
        err.to_string().starts_with("csrf.verify_excludes: \"a{1\""),
        "{err}"
    );
    let s = Settings::from_toml_str("[csrf]\nverify_excludes = ['a{1,3}']").unwrap();
    assert_eq!(
        s.csrf.verify_excludes,
        vec!["a{1,3}"],
        "array elements keep their commas"
    );
}

#[test]
fn rule_extra_keys_are_kept_and_written_back() {
    let s = Settings::from_toml_str(
        "[firewall]\ndefault_authentication_action = 'block'\ndefault_authorization_action = 'block'\n\
         [[firewall.rules.inline]]\nsecureList = 'a'\ntenant = 'acme'\nlimits = { rpm = 60 }",
    )
    .unwrap();
    let rule = &s.firewall.rules.inline[0];
    assert_eq!(rule.extra["tenant"], "acme");
    assert_eq!(rule.extra["limits"]["rpm"], 60);
    let written = serde_json::to_value(rule).unwrap();
    assert_eq!(written["limits"]["rpm"], 60);
    assert_eq!(written["securelist"], serde_json::json!(["a"]));
    // A near miss of a template key is refused rather than kept.
    assert_eq!(
        error_of("[firewall]\nrules = [ { secureList = 'a', rolse = 'admin', action = 'block' } ]")
            .0,
        "firewall.rules.inline[0].rolse"
    );
}

// ---------------------------------------------------------------- secrecy and round trips

#[test]
fn secrets_never_appear_in_debug_or_serialization() {
    let s = Settings::load_with_env(
        SettingsSource::Toml(
            r#"
            [basic_auth.users.bob]
            password = "plain:bobs-password"
            [firewall.logs]
            dsn = "postgres://logger:logs-password@db/app"
            [jwt.token_storage]
            driver = "sql"
            properties = { url = "postgres://app:storage-password@db/app" }
            [firewall.rules.provider]
            source = "db"
            properties = { table = "rules", api_token = "provider-token" }
            [firewall]
            invalid_authentication_event = "/login"
            invalid_authorization_event = "/denied"
            "#
            .into(),
        ),
        env(&[("PORTCULLIS_JWT__SECRET_KEY", "jwt-secret-value")]),
    )
    .unwrap();
    assert_eq!(s.jwt.secret_key.expose(), b"jwt-secret-value");
    let shown = format!("{s:?}\n{s:#?}\n{}", serde_json::to_string(&s).unwrap());
    for secret in [
        "bobs-password",
        "logs-password",
        "storage-password",
        "provider-token",
        "jwt-secret-value",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked");
    }
    assert!(shown.contains("<redacted>"));

    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPRIVATEPRIVATEPRIVATE\n-----END PRIVATE KEY-----";
    let s = Settings::from_toml_str(&format!(
        "[jwt]\nalgorithm = 'EdDSA'\nsigning_key = '''{pem}'''"
    ))
    .unwrap();
    let shown = format!("{s:?}{}", serde_json::to_string(&s).unwrap());
    assert!(!shown.contains("PRIVATEPRIVATE"), "inline key leaked");
}

#[test]
fn redacted_output_cannot_be_loaded_as_a_secret() {
    let s = Settings::from_toml_str("[jwt]\nsecret_key = 'real'").unwrap();
    let printed = toml::to_string(&s).unwrap();
    assert!(printed.contains("<redacted>"));
    let (key, _) = error_of(&printed);
    assert_eq!(key, "jwt.secret_key");
}

#[test]
fn settings_round_trip_through_toml() {
    let s = Settings::from_toml_str(
        "[jwt]\nexpiration = '1h30m'\nleeway = '5s'\naudience = 'api'\n\
         [firewall]\ntrusted_proxies = ['10.0.0.0/8']\ndefault_authentication_action = 'block'\n\
         default_authorization_action = 'block'\n\
         rules = [ { secureList = '^a', useSSL = 'yes', allowedIPs = '::1', module = 'm', x = 1 } ]\n\
         [firewall.modules.m]\nvalidator = 'jwt'\n\
         [security_headers.xss_protection]\nmode = 'block'",
    )
    .unwrap();
    let written = toml::to_string(&s).unwrap();
    assert_eq!(Settings::from_toml_str(&written).unwrap(), s, "{written}");
    let written = toml::to_string(&Settings::default()).unwrap();
    assert_eq!(
        Settings::from_toml_str(&written).unwrap(),
        Settings::default()
    );
}
