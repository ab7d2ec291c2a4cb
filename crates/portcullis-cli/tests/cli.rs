//! The `portcullis` binary, run as a user would: gen-secret, token create / verify / decode.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn portcullis(args: &[&str]) -> Output {
    run(args, None, &[])
}

fn run(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command.args(args).env_remove("JWT_SECRET");
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .trim()
        .to_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone())
        .unwrap()
        .trim()
        .to_owned()
}

fn key(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../portcullis/tests/keys")
        .join(relative)
        .to_string_lossy()
        .into_owned()
}

const SECRET: &str = "a shared secret that is long enough for HS256!";

#[test]
fn gen_secret_prints_random_base64url_of_the_asked_length() {
    let a = portcullis(&["gen-secret"]);
    let b = portcullis(&["gen-secret"]);
    assert!(a.status.success());
    assert_eq!(stdout(&a).len(), 86, "64 bytes are 86 base64url characters");
    assert_ne!(stdout(&a), stdout(&b));
    assert!(stdout(&a)
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert_eq!(
        stdout(&portcullis(&["gen-secret", "--bytes", "32"])).len(),
        43
    );
    let short = portcullis(&["gen-secret", "--bytes", "16"]);
    assert_eq!(short.status.code(), Some(2));
}

#[test]
fn create_then_verify_round_trips_the_claims() {
    let created = portcullis(&[
        "token",
        "create",
        "--alg",
        "HS256",
        "--secret",
        SECRET,
        "--iss",
        "me",
        "--sub",
        "42",
        "--scope",
        "orders:read orders:write",
        "--exp",
        "15m",
        "--claim",
        "tenant=acme",
        "--claim",
        "level=3",
        "--kid",
        "k1",
    ]);
    assert!(created.status.success(), "{}", stderr(&created));
    let token = stdout(&created);
    let verified = portcullis(&[
        "token", "verify", "--alg", "HS256", "--secret", SECRET, "--iss", "me", &token,
    ]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    let payload: serde_json::Value = serde_json::from_str(&stdout(&verified)).unwrap();
    assert_eq!(payload["sub"], "42");
    assert_eq!(payload["scope"], "orders:read orders:write");
    assert_eq!(payload["tenant"], "acme");
    assert_eq!(payload["level"], 3);
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(payload["token_use"], "access");
}

#[test]
fn verify_failures_exit_1_with_one_line_naming_the_kind() {
    let token = stdout(&portcullis(&[
        "token", "create", "--alg", "HS256", "--secret", SECRET, "--sub", "1",
    ]));
    let wrong_key = portcullis(&[
        "token",
        "verify",
        "--alg",
        "HS256",
        "--secret",
        "another secret that is long enough!!",
        &token,
    ]);
    assert_eq!(wrong_key.status.code(), Some(1));
    assert_eq!(stderr(&wrong_key), "invalid: bad signature");

    let wrong_issuer = portcullis(&[
        "token", "verify", "--alg", "HS256", "--secret", SECRET, "--iss", "x", &token,
    ]);
    assert_eq!(stderr(&wrong_issuer), "invalid: wrong issuer");

    // A lifetime of zero: expired from the start (`now >= exp`).
    let stale = stdout(&portcullis(&[
        "token", "create", "--alg", "HS256", "--secret", SECRET, "--sub", "1", "--exp", "0s",
    ]));
    let expired = portcullis(&[
        "token", "verify", "--alg", "HS256", "--secret", SECRET, &stale,
    ]);
    assert_eq!(expired.status.code(), Some(1));
    assert_eq!(stderr(&expired), "expired");

    let garbage = portcullis(&[
        "token", "verify", "--alg", "HS256", "--secret", SECRET, "abc",
    ]);
    assert_eq!(
        stderr(&garbage),
        "invalid: not a compact JWS (three base64url segments)"
    );
}

#[test]
fn asymmetric_keys_sign_with_the_private_key_and_verify_with_public_forms() {
    for (alg, private, publics) in [
        (
            "RS256",
            "rsa/rsa2048.pkcs8.pem",
            vec!["rsa/rsa2048.spki.pem", "rsa/rsa2048.cert.pem"],
        ),
        (
            "ES512",
            "ec/p521.pkcs8.pem",
            vec!["ec/p521.spki.pem", "ec/p521.cert.pem"],
        ),
        (
            "EdDSA",
            "ed25519/ed25519.pkcs8.pem",
            vec!["ed25519/ed25519.spki.pem"],
        ),
    ] {
        let created = portcullis(&[
            "token",
            "create",
            "--alg",
            alg,
            "--key",
            &key(private),
            "--sub",
            "7",
        ]);
        assert!(created.status.success(), "{alg}: {}", stderr(&created));
        let token = stdout(&created);
        for public in publics {
            let verified = portcullis(&[
                "token",
                "verify",
                "--alg",
                alg,
                "--key",
                &key(public),
                &token,
            ]);
            assert!(
                verified.status.success(),
                "{alg} {public}: {}",
                stderr(&verified)
            );
        }
        // The header cannot switch the algorithm: the same key bound to another one refuses.
        let other = if alg == "RS256" {
            "PS256"
        } else if alg == "ES512" {
            "ES384"
        } else {
            "HS256"
        };
        let refused = portcullis(&[
            "token",
            "verify",
            "--alg",
            other,
            "--key",
            &key(private),
            &token,
        ]);
        assert_ne!(refused.status.code(), Some(0), "{alg} as {other}");
    }
}

#[test]
fn key_problems_exit_2_naming_the_argument() {
    let short = portcullis(&[
        "token", "create", "--alg", "HS512", "--secret", SECRET, "--sub", "1",
    ]);
    assert_eq!(short.status.code(), Some(2));
    assert!(
        stderr(&short)
            .starts_with("error: --secret: the HS512 secret is 46 bytes; it must be at least 64"),
        "{}",
        stderr(&short)
    );
    let legacy = portcullis(&[
        "token",
        "create",
        "--alg",
        "RS256",
        "--key",
        &key("refused/rsa2048.pkcs1.pem"),
    ]);
    assert_eq!(legacy.status.code(), Some(2));
    assert!(
        stderr(&legacy).contains("openssl pkcs8 -topk8"),
        "{}",
        stderr(&legacy)
    );
    let none = portcullis(&["token", "create", "--alg", "HS256"]);
    assert!(stderr(&none).contains("--secret, --secret-file or --key (or set JWT_SECRET)"));
    let bad_alg = portcullis(&["token", "create", "--alg", "none", "--secret", SECRET]);
    assert_eq!(bad_alg.status.code(), Some(2));
}

#[test]
fn jwt_secret_secret_files_and_stdin_tokens() {
    let env = [("JWT_SECRET", SECRET)];
    let created = run(
        &["token", "create", "--alg", "HS256", "--sub", "1"],
        None,
        &env,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let token = stdout(&created);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, SECRET).unwrap();
    let file = file.to_string_lossy().into_owned();
    let from_stdin = run(
        &[
            "token",
            "verify",
            "--alg",
            "HS256",
            "--secret-file",
            &file,
            "-",
        ],
        Some(&token),
        &[],
    );
    assert!(from_stdin.status.success(), "{}", stderr(&from_stdin));

    // The file's exact bytes: a trailing newline is part of the secret.
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let trailing = portcullis(&[
        "token",
        "verify",
        "--alg",
        "HS256",
        "--secret-file",
        &file,
        &token,
    ]);
    assert_eq!(stderr(&trailing), "invalid: bad signature");
}

#[test]
fn refresh_tokens_are_kept_apart() {
    let refresh = stdout(&portcullis(&[
        "token",
        "create",
        "--alg",
        "HS256",
        "--secret",
        SECRET,
        "--sub",
        "1",
        "--refresh",
    ]));
    let as_access = portcullis(&[
        "token", "verify", "--alg", "HS256", "--secret", SECRET, &refresh,
    ]);
    assert_eq!(stderr(&as_access), "invalid: not an access token");
    let as_refresh = portcullis(&[
        "token",
        "verify",
        "--alg",
        "HS256",
        "--secret",
        SECRET,
        "--refresh",
        &refresh,
    ]);
    assert!(as_refresh.status.success());
    assert!(stdout(&as_refresh).contains("\"cbsecurity_refresh\": true"));
}

#[test]
fn decode_prints_header_and_payload_marked_unverified() {
    let token = stdout(&portcullis(&[
        "token", "create", "--alg", "HS256", "--secret", SECRET, "--sub", "9", "--kid", "k",
    ]));
    let decoded = portcullis(&["token", "decode", &token]);
    assert!(decoded.status.success());
    assert!(stderr(&decoded).contains("UNVERIFIED"));
    let json: serde_json::Value = serde_json::from_str(&stdout(&decoded)).unwrap();
    assert_eq!(json["verified"], false);
    assert_eq!(json["header"]["kid"], "k");
    assert_eq!(json["payload"]["sub"], "9");
    assert_eq!(
        portcullis(&["token", "decode", "x.y"]).status.code(),
        Some(1)
    );
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn rules_check_reports_problems_and_load_errors() {
    let clean = portcullis(&["rules", "check", "--config", &fixture("site.toml")]);
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert!(
        stdout(&clean).starts_with("3 rules (2 global, 1 in 1 modules)"),
        "{}",
        stdout(&clean)
    );

    let problems = portcullis(&["rules", "check", "--config", &fixture("problems.toml")]);
    assert_eq!(
        problems.status.code(),
        Some(1),
        "a rule that cannot work is an error"
    );
    let report = stderr(&problems);
    assert!(
        report.contains("\"api-admin\"") && report.contains("never applies"),
        "shadowed: {report}"
    );
    assert!(
        report.contains("\"loose\"") && report.contains("anchor"),
        "unanchored: {report}"
    );
    assert!(report.contains("\"impossible\""), "never matches: {report}");

    let broken = portcullis(&["rules", "check", "--config", &fixture("broken-regex.toml")]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(
        stderr(&broken).contains(
            "firewall.rules.inline[0].securelist[0]: \"^/api/(\" is not a valid regular expression"
        ),
        "{}",
        stderr(&broken)
    );

    let missing = portcullis(&["rules", "check", "--config", &fixture("missing-file.toml")]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("does-not-exist.json"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn rules_explain_says_which_rule_what_verdict_and_what_action() {
    let explain = |extra: &[&str]| {
        let mut args = vec!["rules", "explain", "--config"];
        let config = fixture("site.toml");
        args.push(&config);
        args.extend_from_slice(extra);
        let output = portcullis(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let guest = explain(&["GET", "/members/area"]);
    assert!(guest.contains("applies: rule 2 (id \"member\")"), "{guest}");
    assert!(
        guest.contains("refused (authentication)") && guest.contains("redirect to /login"),
        "{guest}"
    );

    let outside = explain(&["--user", "ann", "--ip", "203.0.113.1", "GET", "/edit/page"]);
    assert!(
        outside.contains("Detected IP is not allowed") && outside.contains("block (403)"),
        "{outside}"
    );
    let inside = explain(&["--user", "ann", "--ip", "10.1.2.3", "GET", "/edit/page"]);
    assert!(inside.contains("verdict: allowed"), "{inside}");

    let wrong_method = explain(&["--user", "ops", "GET", "/ops/deploy"]);
    assert!(
        wrong_method.contains("Detected HTTP Method is not allowed"),
        "{wrong_method}"
    );
    let basic_guest = explain(&["POST", "/ops/deploy"]);
    assert!(
        basic_guest.contains("module: ops") && basic_guest.contains("block (401)"),
        "a Basic challenge: {basic_guest}"
    );

    let nothing = explain(&["GET", "/"]);
    assert!(nothing.contains("no rule applies"), "{nothing}");

    let unknown = portcullis(&[
        "rules",
        "explain",
        "--config",
        &fixture("site.toml"),
        "--user",
        "zed",
        "GET",
        "/",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
}
