//! `portcullis users …` run as an administrator would: the binary spawned with passwords on
//! standard input (or typed at a terminal), and the result checked through the library
//! against the same SQLite file.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

use portcullis::auth::{legacy_digest, Argon2Params, PasswordHasher, UserService};
use portcullis::settings::{HashAlgorithm, Settings};
use portcullis::users::SqlUserStore;
use serde_json::Value;
use tempfile::TempDir;

/// Cheap Argon2 costs, so that the tests hash in a millisecond.
const SETTINGS: &str =
    "[users]\npath = \"users.db\"\nargon2 = { memory_kib = 1024, iterations = 1 }\n";

/// A settings file (`SETTINGS` + `extra`) in a directory of its own.
struct Site {
    dir: TempDir,
}

impl Site {
    fn new(extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("portcullis.toml"),
            format!("{SETTINGS}{extra}"),
        )
        .unwrap();
        Site { dir }
    }

    fn config(&self) -> String {
        self.dir
            .path()
            .join("portcullis.toml")
            .display()
            .to_string()
    }

    /// `portcullis users ARGS --config <file>`, with `stdin` piped in and `env` set.
    fn users(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("users")
            .args(args)
            .args(["--config", &self.config()])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// The store the commands wrote to, opened by the library.
    async fn store(&self) -> SqlUserStore {
        let settings = Settings::load(self.dir.path().join("portcullis.toml")).unwrap();
        SqlUserStore::from_settings_in(&settings, self.dir.path())
            .await
            .unwrap()
    }
}

/// Whether `name` logs in with `password`.
async fn can_log_in(users: &SqlUserStore, name: &str, password: &str) -> bool {
    users.authenticate(name, password).await.unwrap().is_some()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

/// The exit status, standard output and standard error of a run.
fn outcome(output: &Output) -> (i32, String, String) {
    (
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[tokio::test]
async fn added_users_log_in_through_the_library() {
    let site = Site::new("");
    let added = site.users(
        &[
            "add",
            "Alice",
            "--roles",
            "admin, ops",
            "--permissions",
            "orders:read",
            "--email",
            "alice@example.com",
        ],
        "alice's password\nignored second line\n",
        &[],
    );
    let (status, out, err) = outcome(&added);
    assert_eq!(status, 0, "{err}");
    assert!(out.starts_with("added user \"Alice\" (id "), "{out}");
    assert!(
        site.dir.path().join("users.db").is_file(),
        "next to the settings file"
    );

    let users = site.store().await;
    let alice = users
        .authenticate("alice", "alice's password")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alice.roles, ["admin", "ops"]);
    assert_eq!(alice.permissions, ["orders:read"]);
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert!(out.contains(&alice.id));
    assert!(!can_log_in(&users, "alice", "ignored second line").await);

    site.users(
        &["add", "bob", "--password-stdin"],
        "bob's password\r\n",
        &[],
    );
    assert!(can_log_in(&users, "bob", "bob's password").await);

    let (status, table, _) = outcome(&site.users(&["list"], "", &[]));
    assert_eq!(status, 0);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("USERNAME  ROLES      PERMISSIONS"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("Alice     admin,ops  orders:read  enabled  argon2id"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("bob       -          -            enabled  argon2id"),
        "{table}"
    );

    let (_, json, _) = outcome(&site.users(&["list", "--json"], "", &[]));
    let listed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed[0]["username"], "Alice");
    assert_eq!(listed[0]["id"], alice.id.as_str());
    assert_eq!(listed[1]["disabled"], false);
    for output in [&table, &json] {
        assert!(
            !output.contains("$argon2") && !output.contains("password\""),
            "{output}"
        );
        assert!(!output.contains("alice's password"));
    }
}

#[tokio::test]
async fn refusals_exit_1_and_bad_settings_exit_2_with_clear_messages() {
    let site = Site::new("");
    site.users(&["add", "carol"], "carol's password", &[]);
    for (args, stdin, message) in [
        (
            &["add", "CAROL"] as &[&str],
            "another password",
            "error: user \"CAROL\" already exists",
        ),
        (
            &["remove", "nobody"],
            "",
            "error: user \"nobody\" does not exist",
        ),
        (
            &["disable", "nobody"],
            "",
            "error: user \"nobody\" does not exist",
        ),
        (
            &["add", "dan"],
            "short",
            "error: password: must be 8 to 1024 characters long",
        ),
        (
            &["add", "bad name"],
            "long enough",
            "error: username: may hold ASCII letters",
        ),
        (
            &["grant", "carol", "--roles", "a b"],
            "",
            "error: roles: \"a b\": each is 1 to 128",
        ),
        (
            &["add", "erin", "--hash-stdin"],
            "not-a-hash",
            "error: password_hash: not an Argon2",
        ),
    ] {
        let (status, out, err) = outcome(&site.users(args, stdin, &[]));
        assert_eq!(status, 1, "{args:?}: {err}");
        assert!(err.starts_with(message), "{args:?}: {err}");
        assert!(out.is_empty());
        assert!(
            !err.contains(stdin) || stdin.is_empty(),
            "{args:?} echoed its input"
        );
    }
    for (args, stdin, message) in [
        (
            &["add", "dan"] as &[&str],
            "",
            "error: no password on standard input",
        ),
        (
            &["grant", "carol"],
            "",
            "error: give --roles and/or --permissions",
        ),
    ] {
        let (status, _, err) = outcome(&site.users(args, stdin, &[]));
        assert_eq!(status, 2, "{args:?}: {err}");
        assert_eq!(err, message);
    }
    let (status, _, err) =
        outcome(&site.users(&["list"], "", &[("PORTCULLIS_USERS__TABLE", "no good")]));
    assert_eq!(status, 2);
    assert!(
        err.starts_with("error: users.table: \"no good\" is not a plain SQL identifier"),
        "{err}"
    );
    assert!(err.contains("PORTCULLIS_USERS__TABLE"), "{err}");
    let names: Vec<String> = site
        .store()
        .await
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["carol"], "nothing else was stored");
}

#[tokio::test]
async fn an_unreachable_database_exits_3_without_its_password() {
    let site = Site::new("");
    let env = [
        ("PORTCULLIS_USERS__DRIVER", "postgres"),
        ("PORTCULLIS_USERS__PATH", "unused.db"),
        (
            "PORTCULLIS_USERS__URL",
            "postgres://admin:hunter2@127.0.0.1:1/auth",
        ),
    ];
    let (status, _, err) = outcome(&site.users(&["list"], "", &env));
    assert_eq!(status, 3, "{err}");
    assert!(
        err.starts_with("error: user store is unavailable: "),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn passwords_access_and_state_change_as_told() {
    let site = Site::new("");
    site.users(&["add", "dora", "--roles", "viewer"], "first password", &[]);
    let users = site.store().await;

    let (status, out, _) = outcome(&site.users(&["passwd", "DORA"], "second password\n", &[]));
    assert_eq!(
        (status, out.as_str()),
        (0, "changed the password of \"DORA\"")
    );
    assert!(!can_log_in(&users, "dora", "first password").await);
    assert!(can_log_in(&users, "dora", "second password").await);

    let (_, out, _) = outcome(&site.users(
        &[
            "grant",
            "dora",
            "--roles",
            "editor,VIEWER",
            "--permissions",
            "posts:write",
        ],
        "",
        &[],
    ));
    assert_eq!(
        out,
        "user \"dora\": roles viewer,editor; permissions posts:write"
    );
    let (_, out, _) = outcome(&site.users(&["revoke", "dora", "--roles", "viewer"], "", &[]));
    assert_eq!(out, "user \"dora\": roles editor; permissions posts:write");
    let dora = users.get("dora").await.unwrap().unwrap();
    assert_eq!(
        (dora.roles, dora.permissions),
        (vec!["editor".to_owned()], vec!["posts:write".to_owned()])
    );

    let (_, out, _) = outcome(&site.users(&["disable", "dora"], "", &[]));
    assert_eq!(out, "disabled user \"dora\"");
    assert!(!can_log_in(&users, "dora", "second password").await);
    let (_, table, _) = outcome(&site.users(&["list"], "", &[]));
    assert!(table.contains("disabled"), "{table}");
    site.users(&["enable", "dora"], "", &[]);
    assert!(can_log_in(&users, "dora", "second password").await);

    let (_, out, _) = outcome(&site.users(&["remove", "dora"], "", &[]));
    assert_eq!(out, "removed user \"dora\"");
    assert!(users.get("dora").await.unwrap().is_none());
}

#[tokio::test]
async fn imported_hashes_are_upgraded_at_the_first_login() {
    let site = Site::new("legacy_hash_algorithm = \"SHA-512\"\n");
    let digest = legacy_digest("from cbsecurity", HashAlgorithm::Sha512, 5);
    let weak = PasswordHasher::new(
        Argon2Params {
            memory_kib: 512,
            iterations: 1,
            parallelism: 1,
        },
        HashAlgorithm::Argon2id,
        1,
    )
    .unwrap()
    .hash("weakly hashed")
    .unwrap();
    for (name, hash) in [("legacy", &digest), ("weak", &weak)] {
        let (status, _, err) =
            outcome(&site.users(&["add", name, "--hash-stdin"], &format!("{hash}\n"), &[]));
        assert_eq!(status, 0, "{err}");
    }
    let schemes = || {
        let (_, json, _) = outcome(&site.users(&["list", "--json"], "", &[]));
        let listed: Vec<Value> = serde_json::from_str(&json).unwrap();
        listed
            .iter()
            .map(|u| u["password_scheme"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(schemes(), ["legacy_digest", "argon2_outdated"]);
    let users = site.store().await;
    assert!(can_log_in(&users, "legacy", "from cbsecurity").await);
    assert!(can_log_in(&users, "weak", "weakly hashed").await);
    assert_eq!(schemes(), ["argon2id", "argon2id"]);
}

#[tokio::test]
async fn without_auto_migrate_the_tables_come_from_users_migrate() {
    let site = Site::new("auto_migrate = false\n");
    let (status, _, err) = outcome(&site.users(&["list"], "", &[]));
    assert_eq!(status, 3, "{err}");
    assert!(err.contains("run `portcullis users migrate`"), "{err}");
    let env = [("PORTCULLIS_USERS__PATH", "from-env.db")];
    let (status, _, _) = outcome(&site.users(&["list"], "", &env));
    assert_eq!(status, 3, "the environment's file is not migrated either");

    let (status, out, _) = outcome(&site.users(&["migrate"], "", &[]));
    assert_eq!(
        (status, out.as_str()),
        (0, "the user tables are at schema version 1")
    );
    assert_eq!(outcome(&site.users(&["list"], "", &[])).1, "no users");

    assert_eq!(outcome(&site.users(&["migrate"], "", &env)).0, 0);
    let (status, _, err) = outcome(&site.users(&["add", "eve"], "eve's password", &env));
    assert_eq!(status, 0, "{err}");
    assert!(outcome(&site.users(&["list"], "", &env)).1.contains("eve"));
    assert_eq!(
        outcome(&site.users(&["list"], "", &[])).1,
        "no users",
        "another file"
    );
}

/// Reads `from` until its output so far contains `wanted` (or it ends); returns it all.
fn read_until(from: &mut impl Read, seen: &mut String, wanted: &str) {
    let mut buffer = [0u8; 256];
    while !seen.contains(wanted) {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buffer[..n])),
        }
    }
}

/// At a terminal (`script` gives the command one), the password is asked twice and not
/// echoed; two different answers are refused.
#[test]
fn at_a_terminal_the_password_is_prompted_without_echo() {
    let site = Site::new("");
    let typed = |name: &str, first: &str, second: &str| {
        let command = format!(
            "'{}' users add {name} --config '{}'",
            env!("CARGO_BIN_EXE_portcullis"),
            site.config()
        );
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("`script` (util-linux) runs the command at a terminal");
        let (mut input, mut output) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
        let mut seen = String::new();
        // The prompt is written before echo is turned off: give the CLI a moment to turn it
        // off before typing, as a person would.
        let settle = || std::thread::sleep(std::time::Duration::from_millis(300));
        read_until(&mut output, &mut seen, "Password for");
        settle();
        writeln!(input, "{first}").unwrap();
        read_until(&mut output, &mut seen, "Repeat it:");
        settle();
        writeln!(input, "{second}").unwrap();
        output.read_to_string(&mut seen).unwrap();
        child.wait().unwrap();
        seen
    };
    let seen = typed("tess", "typed secret", "typed secret");
    assert!(seen.contains("Password for \"tess\""), "{seen}");
    assert!(seen.contains("added user \"tess\""), "{seen}");
    assert!(!seen.contains("typed secret"), "echoed: {seen}");
    let seen = typed("tom", "typed secret", "another secret");
    assert!(seen.contains("error: the two passwords differ"), "{seen}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let users = site.store().await;
        assert!(can_log_in(&users, "tess", "typed secret").await);
        assert!(users.get("tom").await.unwrap().is_none());
    });
}
