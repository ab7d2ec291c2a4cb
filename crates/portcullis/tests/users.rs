//! The SQL user store, run once per database: SQLite (a temporary file) and PostgreSQL (a
//! real server from `scripts/test.sh`, URL in `PORTCULLIS_TEST_POSTGRES_URL`; these tests
//! fail without it unless `PORTCULLIS_SKIP_SERVICES=1`). Every test has a table of its own.
//! A last test logs in over real HTTP through the JWT layer.
#![cfg(feature = "storage-sqlite")]

#[path = "storage/backends.rs"]
#[allow(dead_code)]
mod backends;
mod common;

use backends::{Backend, Kind};
use portcullis::auth::{legacy_digest, PasswordScheme, UserService};
use portcullis::settings::{HashAlgorithm, Settings};
use portcullis::users::{Access, NewUser, SqlUserStore, SCHEMA_VERSION};
use portcullis::Error;

/// Cheap Argon2 costs, so that tests hash in a millisecond.
const FAST: &str = "argon2 = { memory_kib = 1024, iterations = 1 }";

/// One test's database and table.
struct Db {
    backend: Backend,
}

impl Db {
    fn sqlite() -> Option<Db> {
        Backend::sqlite().map(|backend| Db { backend })
    }

    #[cfg(feature = "storage-postgres")]
    fn postgres() -> Option<Db> {
        Backend::postgres().map(|backend| Db { backend })
    }

    /// The `[users]` settings of this database and table, plus `extra` lines (with the
    /// cheap Argon2 costs unless `extra` sets its own).
    fn settings(&self, extra: &str) -> Settings {
        let Backend { url, namespace, .. } = &self.backend;
        let location = match self.backend.kind {
            Kind::Sqlite => format!("path = {:?}", url.trim_start_matches("sqlite://")),
            _ => format!("driver = \"postgres\"\nurl = {url:?}"),
        };
        let argon2 = if extra.contains("argon2") { "" } else { FAST };
        let text = format!("[users]\n{location}\ntable = {namespace:?}\n{argon2}\n{extra}");
        Settings::from_toml_str(&text).expect("valid settings")
    }

    async fn open_with(&self, extra: &str) -> SqlUserStore {
        SqlUserStore::from_settings(&self.settings(extra))
            .await
            .expect("the database is reachable")
    }

    async fn open(&self) -> SqlUserStore {
        self.open_with("").await
    }
}

/// Whether `name` logs in with `password`.
async fn can_log_in(users: &SqlUserStore, name: &str, password: &str) -> bool {
    users.authenticate(name, password).await.unwrap().is_some()
}

/// Asserts that `err` is the user store's [`Error::Unavailable`].
fn assert_unavailable(err: &Error) {
    assert!(
        matches!(
            err,
            Error::Unavailable {
                what: "user store",
                ..
            }
        ),
        "{err}"
    );
}

/// One `#[tokio::test]` per scenario and database.
macro_rules! scenarios {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(db) = crate::Db::sqlite() {
                        crate::$test(&db).await;
                    }
                }
            )*
        }
        #[cfg(feature = "storage-postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(db) = crate::Db::postgres() {
                        crate::$test(&db).await;
                    }
                }
            )*
        }
    };
}

scenarios!(
    users_are_added_read_listed_and_removed,
    usernames_are_unique_ignoring_case_even_when_racing,
    input_is_bounded,
    logins_check_the_password_and_refuse_disabled_users,
    bcrypt_hashes_become_argon2id_at_login,
    legacy_digests_become_argon2id_at_login,
    weaker_argon2_hashes_are_upgraded,
    grants_and_revocations_never_lose_a_concurrent_change,
    passwords_can_be_changed,
    registration_follows_the_settings,
    concurrent_start_ups_migrate_once,
    without_auto_migrate_the_schema_must_be_current,
);

async fn users_are_added_read_listed_and_removed(db: &Db) {
    let users = db.open().await;
    let zoe = users
        .add(
            NewUser::new("Zoe", "zoe's password")
                .roles(["admin"])
                .permissions(["orders:read", "orders:write"])
                .first_name("Zoë")
                .last_name("Ng")
                .email("zoe@example.com"),
        )
        .await
        .unwrap();
    assert_eq!(zoe.id.len(), 36);
    assert_eq!(&zoe.id[14..15], "4", "a version-4 UUID");
    assert!(zoe.created_at > 1_700_000_000 && zoe.created_at == zoe.updated_at);
    assert_eq!(zoe.password_scheme, PasswordScheme::Argon2id);
    users
        .add(NewUser::new("adam", "adam's password"))
        .await
        .unwrap();

    let read = users
        .get("zOE")
        .await
        .unwrap()
        .expect("case-insensitive lookup");
    assert_eq!(read, zoe, "what was stored is what is read");
    assert_eq!(users.get_by_id(&zoe.id).await.unwrap(), Some(zoe.clone()));
    assert_eq!(
        users.retrieve_user_by_username("ZOE").await.unwrap(),
        Some(zoe.clone())
    );
    assert_eq!(users.get("nobody").await.unwrap(), None);
    assert_eq!(users.get("not a name!").await.unwrap(), None);
    assert_eq!(
        users.get_by_id("x".repeat(10_000).as_str()).await.unwrap(),
        None
    );

    let listed = users.list().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["adam", "Zoe"], "sorted ignoring case");
    let json = serde_json::to_string(&listed).unwrap();
    assert!(
        !json.contains("$argon2") && !json.contains("password\":"),
        "{json}"
    );

    users.remove("ZOE").await.unwrap();
    assert_eq!(users.get("zoe").await.unwrap(), None);
    assert!(matches!(
        users.remove("zoe").await,
        Err(Error::UserNotFound { username }) if username == "zoe"
    ));
    assert_eq!(users.list().await.unwrap().len(), 1);
}

async fn usernames_are_unique_ignoring_case_even_when_racing(db: &Db) {
    let users = db.open().await;
    users
        .add(NewUser::new("Bob", "bob's password"))
        .await
        .unwrap();
    let err = users
        .add(NewUser::new("bob", "another password"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "user \"bob\" already exists");
    assert_eq!(err.kind(), "user_exists");

    let racers = (0..6).map(|i| {
        let users = users.clone();
        tokio::spawn(async move {
            let name = if i % 2 == 0 { "carol" } else { "CAROL" };
            users.add(NewUser::new(name, "carol's password")).await
        })
    });
    let mut added = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => added += 1,
            Err(Error::UserExists { .. }) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(added, 1, "exactly one of the racing adds wins");
    assert_eq!(users.list().await.unwrap().len(), 2);
}

async fn input_is_bounded(db: &Db) {
    let users = db.open().await;
    let field = |result: portcullis::Result<_>| match result {
        Err(Error::InvalidInput { field, .. }) => field,
        Err(other) => panic!("expected invalid input, got {other}"),
        Ok(_) => panic!("expected invalid input, got a user"),
    };
    assert_eq!(
        field(users.add(NewUser::new("bob smith", "long enough")).await),
        "username"
    );
    assert_eq!(
        field(users.add(NewUser::new("x".repeat(65), "long enough")).await),
        "username"
    );
    assert_eq!(
        field(users.add(NewUser::new("bob", "short")).await),
        "password"
    );
    let huge = "p".repeat(1025);
    let err = users
        .add(NewUser::new("bob", huge.as_str()))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "password: must be 8 to 1024 characters long"
    );
    let with_roles = NewUser::new("bob", "long enough").roles(["two words"]);
    assert_eq!(field(users.add(with_roles).await), "roles");
    let with_email = NewUser::new("bob", "long enough").email("not-an-address");
    assert_eq!(field(users.add(with_email).await), "email");
    let with_name = NewUser::new("bob", "long enough").last_name("a\u{7}b");
    assert_eq!(field(users.add(with_name).await), "last_name");
    let garbage = NewUser::with_hash("bob", "hunter2");
    assert_eq!(field(users.add(garbage).await), "password_hash");
    assert!(users.list().await.unwrap().is_empty(), "nothing was stored");

    // A password over the limit is refused at login without being hashed (or matching).
    users
        .add(NewUser::new("dave", "p".repeat(1024)))
        .await
        .unwrap();
    assert!(can_log_in(&users, "dave", &"p".repeat(1024)).await);
    let megabyte = "p".repeat(1 << 20);
    assert!(!can_log_in(&users, "dave", &megabyte).await);
}

async fn logins_check_the_password_and_refuse_disabled_users(db: &Db) {
    let users = db.open().await;
    let erin = users
        .add(NewUser::new("erin", "erin's password").roles(["ops"]))
        .await
        .unwrap();
    let logged_in = users.authenticate("ERIN", "erin's password").await.unwrap();
    assert_eq!(
        logged_in.as_ref().map(|u| u.id.as_str()),
        Some(erin.id.as_str())
    );
    assert!(users
        .is_valid_credentials("erin", "erin's password")
        .await
        .unwrap());
    assert!(!can_log_in(&users, "erin", "Erin's password").await);
    assert!(!can_log_in(&users, "erin", "").await);
    assert!(!can_log_in(&users, "nobody", "erin's password").await);
    assert!(!can_log_in(&users, "bad name!", "erin's password").await);

    let disabled = users.disable("Erin").await.unwrap();
    assert!(disabled.disabled);
    assert!(disabled.updated_at >= erin.updated_at);
    assert!(!can_log_in(&users, "erin", "erin's password").await);
    assert!(!users
        .is_valid_credentials("erin", "erin's password")
        .await
        .unwrap());
    assert_eq!(users.retrieve_user_by_id(&erin.id).await.unwrap(), None);
    assert_eq!(users.retrieve_user_by_username("erin").await.unwrap(), None);
    assert!(
        users.get("erin").await.unwrap().unwrap().disabled,
        "still listed"
    );

    assert!(!users.enable("erin").await.unwrap().disabled);
    assert!(can_log_in(&users, "erin", "erin's password").await);
    assert!(matches!(
        users.disable("nobody").await,
        Err(Error::UserNotFound { .. })
    ));
}

async fn bcrypt_hashes_become_argon2id_at_login(db: &Db) {
    let users = db.open().await;
    let hash = bcrypt::hash("frank's password", 4).unwrap();
    users.add(NewUser::with_hash("frank", hash)).await.unwrap();
    let scheme = |users: SqlUserStore| async move {
        users.get("frank").await.unwrap().unwrap().password_scheme
    };
    assert_eq!(scheme(users.clone()).await, PasswordScheme::Bcrypt);

    assert!(!can_log_in(&users, "frank", "wrong").await);
    assert_eq!(
        scheme(users.clone()).await,
        PasswordScheme::Bcrypt,
        "no match, no change"
    );

    let frank = users
        .authenticate("frank", "frank's password")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frank.password_scheme, PasswordScheme::Argon2id);
    assert_eq!(
        scheme(users.clone()).await,
        PasswordScheme::Argon2id,
        "stored"
    );
    assert!(can_log_in(&users, "frank", "frank's password").await);
    assert!(!can_log_in(&users, "frank", "wrong").await);
}

async fn legacy_digests_become_argon2id_at_login(db: &Db) {
    // cbsecurity on Lucee applies SHA-512 five times, Adobe six: both are accepted.
    let users = db.open_with("legacy_hash_algorithm = \"SHA-512\"").await;
    for (name, iterations) in [("lucee", 5), ("adobe", 6)] {
        let digest = legacy_digest("cbsecurity", HashAlgorithm::Sha512, iterations);
        users.add(NewUser::with_hash(name, digest)).await.unwrap();
        let stored = users.get(name).await.unwrap().unwrap();
        assert_eq!(stored.password_scheme, PasswordScheme::LegacyDigest);
        assert!(!can_log_in(&users, name, "CBSECURITY").await);
        let user = users
            .authenticate(name, "cbsecurity")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.password_scheme, PasswordScheme::Argon2id);
        let stored = users.get(name).await.unwrap().unwrap();
        assert_eq!(stored.password_scheme, PasswordScheme::Argon2id);
        assert!(can_log_in(&users, name, "cbsecurity").await);
    }
    // A disabled user's digest is not upgraded: they did not log in.
    let digest = legacy_digest("cbsecurity", HashAlgorithm::Sha512, 5);
    users.add(NewUser::with_hash("gone", digest)).await.unwrap();
    users.disable("gone").await.unwrap();
    assert!(!can_log_in(&users, "gone", "cbsecurity").await);
    let gone = users.get("gone").await.unwrap().unwrap();
    assert_eq!(gone.password_scheme, PasswordScheme::LegacyDigest);
}

async fn weaker_argon2_hashes_are_upgraded(db: &Db) {
    let weak = db.open().await;
    weak.add(NewUser::new("gina", "gina's password"))
        .await
        .unwrap();
    let strong = db
        .open_with("argon2 = { memory_kib = 2048, iterations = 2 }")
        .await;
    let before = strong.get("gina").await.unwrap().unwrap();
    assert_eq!(before.password_scheme, PasswordScheme::Argon2Outdated);
    let gina = strong
        .authenticate("gina", "gina's password")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gina.password_scheme, PasswordScheme::Argon2id);
    let after = weak.get("gina").await.unwrap().unwrap();
    assert_eq!(
        after.password_scheme,
        PasswordScheme::Argon2Outdated,
        "to the weak store's eyes the new hash has other costs"
    );
    assert!(
        strong
            .hasher()
            .scheme("$argon2id$v=19$m=2048,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
            == PasswordScheme::Argon2id
    );
    assert!(can_log_in(&weak, "gina", "gina's password").await);
}

async fn grants_and_revocations_never_lose_a_concurrent_change(db: &Db) {
    let users = db.open().await;
    users
        .add(NewUser::new("hal", "hal's password").roles(["Viewer"]))
        .await
        .unwrap();
    let hal = users
        .grant(
            "HAL",
            &Access::roles(["viewer", "editor"]).and_permissions(["posts:write"]),
        )
        .await
        .unwrap();
    assert_eq!(hal.roles, ["Viewer", "editor"], "viewer was there already");
    assert_eq!(hal.permissions, ["posts:write"]);
    let hal = users
        .revoke("hal", &Access::roles(["VIEWER", "absent"]))
        .await
        .unwrap();
    assert_eq!(hal.roles, ["editor"]);
    assert_eq!(users.get("hal").await.unwrap().unwrap(), hal, "stored");

    let tasks = (0..8).map(|i| {
        let users = users.clone();
        tokio::spawn(async move {
            let access = Access::permissions([format!("p{i}")]);
            users.grant("hal", &access).await
        })
    });
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mut permissions = users.get("hal").await.unwrap().unwrap().permissions;
    permissions.sort();
    assert_eq!(
        permissions,
        [
            "p0",
            "p1",
            "p2",
            "p3",
            "p4",
            "p5",
            "p6",
            "p7",
            "posts:write"
        ],
        "every concurrent grant landed"
    );
    assert!(matches!(
        users.grant("nobody", &Access::roles(["x"])).await,
        Err(Error::UserNotFound { .. })
    ));
    assert!(matches!(
        users.grant("hal", &Access::roles(["a,b"])).await,
        Err(Error::InvalidInput { field: "roles", .. })
    ));
}

async fn passwords_can_be_changed(db: &Db) {
    let users = db.open().await;
    let hash = bcrypt::hash("old password", 4).unwrap();
    users.add(NewUser::with_hash("ivy", hash)).await.unwrap();
    users.set_password("IVY", "new password").await.unwrap();
    assert!(!can_log_in(&users, "ivy", "old password").await);
    let ivy = users
        .authenticate("ivy", "new password")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ivy.password_scheme, PasswordScheme::Argon2id);
    assert!(matches!(
        users.set_password("ivy", "short").await,
        Err(Error::InvalidInput {
            field: "password",
            ..
        })
    ));
    assert!(matches!(
        users.set_password("nobody", "long enough").await,
        Err(Error::UserNotFound { .. })
    ));
}

async fn registration_follows_the_settings(db: &Db) {
    let closed = db.open().await;
    assert!(!closed.registration_allowed());
    let err = closed
        .register(NewUser::new("jo", "jo's password"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotAuthorized { .. }), "{err}");
    assert!(closed.get("jo").await.unwrap().is_none());

    let open = db
        .open_with(
            "allow_registration = true\ndefault_roles = \"member\"\n\
             default_permissions = [\"posts:read\"]",
        )
        .await;
    let jo = open
        .register(NewUser::new("jo", "jo's password").first_name("Jo"))
        .await
        .unwrap();
    assert_eq!(jo.roles, ["member"]);
    assert_eq!(jo.permissions, ["posts:read"]);
    assert_eq!(jo.first_name, "Jo");
    assert!(can_log_in(&open, "jo", "jo's password").await);
    assert!(matches!(
        open.register(NewUser::new("JO", "another one")).await,
        Err(Error::UserExists { .. })
    ));
    assert!(matches!(
        open.register(NewUser::new("kim", "kim's password").roles(["admin"]))
            .await,
        Err(Error::InvalidInput { field: "roles", .. })
    ));
    let hash = bcrypt::hash("kim's password", 4).unwrap();
    assert!(matches!(
        open.register(NewUser::with_hash("kim", hash)).await,
        Err(Error::InvalidInput {
            field: "password",
            ..
        })
    ));
}

async fn concurrent_start_ups_migrate_once(db: &Db) {
    let settings = db.settings("");
    // The database is held while the instances start, so that they reach it together.
    let hold = Hold::take(db).await;
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let settings = settings.clone();
            tokio::spawn(async move { SqlUserStore::from_settings(&settings).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    hold.release().await;
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap().expect("every instance starts"));
    }
    stores[0]
        .add(NewUser::new("lee", "lee's password"))
        .await
        .unwrap();
    assert!(can_log_in(&stores[5], "lee", "lee's password").await);
    assert_eq!(
        applied_migrations(db).await,
        vec![(1, "create the users table".to_owned())]
    );
    assert_eq!(SCHEMA_VERSION, 1);
    // Starting again changes nothing.
    db.open().await;
    assert_eq!(applied_migrations(db).await.len(), 1);
}

/// A connection holding the test's database, so that instances starting meanwhile queue up
/// and then contend for the migration at once: an empty migrations table is made beforehand
/// (as by an earlier version), then locked — SQLite: the write lock; PostgreSQL: the table.
enum Hold {
    Sqlite(sqlx::SqliteConnection),
    #[cfg(feature = "storage-postgres")]
    Postgres(sqlx::PgConnection),
}

impl Hold {
    async fn take(db: &Db) -> Hold {
        use sqlx::Connection;
        let Backend { url, namespace, .. } = &db.backend;
        let table = format!("\"{namespace}_migrations\"");
        let create = format!(
            "CREATE TABLE {table} (version BIGINT PRIMARY KEY, \
             description VARCHAR(200) NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        );
        let statements = |lock: &[&str]| {
            let mut all = vec![create.clone()];
            all.extend(lock.iter().map(|s| s.replace("{table}", &table)));
            all.into_iter().map(sqlx::AssertSqlSafe)
        };
        match db.backend.kind {
            Kind::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc"))
                    .await
                    .unwrap();
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                for statement in statements(&["BEGIN IMMEDIATE"]) {
                    sqlx::query(statement).execute(&mut conn).await.unwrap();
                }
                Hold::Sqlite(conn)
            }
            #[cfg(feature = "storage-postgres")]
            Kind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let lock = ["BEGIN", "LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"];
                for statement in statements(&lock) {
                    sqlx::query(statement).execute(&mut conn).await.unwrap();
                }
                Hold::Postgres(conn)
            }
            _ => unreachable!("SQL backends only"),
        }
    }

    async fn release(self) {
        let committed = match self {
            Hold::Sqlite(mut conn) => sqlx::query("COMMIT").execute(&mut conn).await.map(|_| ()),
            #[cfg(feature = "storage-postgres")]
            Hold::Postgres(mut conn) => sqlx::query("COMMIT").execute(&mut conn).await.map(|_| ()),
        };
        committed.unwrap();
    }
}

/// The rows of the test table's migrations table, read directly.
async fn applied_migrations(db: &Db) -> Vec<(i64, String)> {
    let Backend { url, namespace, .. } = &db.backend;
    let query =
        format!("SELECT version, description FROM \"{namespace}_migrations\" ORDER BY version");
    match db.backend.kind {
        Kind::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query_as(sqlx::AssertSqlSafe(query))
                .fetch_all(&pool)
                .await
                .unwrap()
        }
        #[cfg(feature = "storage-postgres")]
        Kind::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_as(sqlx::AssertSqlSafe(query))
                .fetch_all(&pool)
                .await
                .unwrap()
        }
        _ => unreachable!("SQL backends only"),
    }
}

async fn without_auto_migrate_the_schema_must_be_current(db: &Db) {
    let settings = db.settings("auto_migrate = false");
    let err = SqlUserStore::from_settings(&settings).await.unwrap_err();
    assert_unavailable(&err);
    assert!(
        err.to_string().contains("portcullis users migrate"),
        "{err}"
    );
    db.open().await; // migrates
    let users = SqlUserStore::from_settings(&settings).await.unwrap();
    users
        .add(NewUser::new("max", "max's password"))
        .await
        .unwrap();
}

mod start_up {
    use super::*;

    #[tokio::test]
    async fn bad_settings_fail_naming_the_key() {
        let key = |text: &str| match Settings::from_toml_str(text) {
            Err(Error::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        };
        assert_eq!(key("[users]\ntable = \"users; drop\""), "users.table");
        assert_eq!(key("[users]\ndriver = \"postgres\""), "users.url");

        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.users.path = dir.path().join("missing/users.db");
        match SqlUserStore::from_settings(&settings).await {
            Err(Error::Config { key, reason }) => {
                assert_eq!(key, "users.path");
                assert!(reason.contains("does not exist"), "{reason}");
            }
            other => panic!("expected a config error, got {other:?}"),
        }
        // Settings changed in code are checked too.
        settings.users.path = dir.path().join("users.db");
        settings.users.table = "1table".into();
        assert!(matches!(
            SqlUserStore::from_settings(&settings).await,
            Err(Error::Config { key, .. }) if key == "users.table"
        ));
    }

    #[tokio::test]
    async fn relative_paths_are_taken_from_the_settings_directory() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            Settings::from_toml_str(&format!("[users]\npath = \"users.db\"\n{FAST}")).unwrap();
        let users = SqlUserStore::from_settings_in(&settings, dir.path())
            .await
            .unwrap();
        users
            .add(NewUser::new("ned", "ned's password"))
            .await
            .unwrap();
        assert!(dir.path().join("users.db").is_file());
    }

    #[cfg(feature = "storage-postgres")]
    #[tokio::test]
    async fn an_unreachable_database_is_unavailable() {
        // Nothing listens on port 1; the URL's password must not leak into the error.
        let settings = Settings::from_toml_str(
            "[users]\ndriver = \"postgres\"\nurl = \"postgres://u:hunter2@127.0.0.1:1/db\"",
        )
        .unwrap();
        let err = SqlUserStore::from_settings(&settings).await.unwrap_err();
        assert_unavailable(&err);
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

/// A login endpoint and a protected route, over real HTTP, with users from the store.
mod http {
    use super::*;
    use axum::extract::State;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use portcullis::auth::CurrentUser;
    use portcullis::jwt::{JwtAuthLayer, JwtService, TokenPair};
    use portcullis::users::StoredUser;
    use reqwest::StatusCode;
    use serde_json::{json, Value};

    async fn login(
        State(jwt): State<JwtService<StoredUser>>,
        Json(body): Json<Value>,
    ) -> portcullis::Result<Json<TokenPair>> {
        let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
        Ok(Json(
            jwt.attempt(&field("username"), &field("password")).await?,
        ))
    }

    async fn me(CurrentUser(user): CurrentUser<StoredUser>) -> Json<StoredUser> {
        Json(user)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn users_log_in_and_lose_access_when_disabled() {
        let db = Db::sqlite().unwrap();
        let mut settings = db.settings("");
        settings.jwt = Settings::from_toml_str(
            "[jwt]\nalgorithm = \"HS256\"\nsecret_key = \"a test secret that is long enough!!\"",
        )
        .unwrap()
        .jwt;
        let users = SqlUserStore::from_settings(&settings).await.unwrap();
        let hash = bcrypt::hash("olga's password", 4).unwrap();
        users
            .add(
                NewUser::with_hash("olga", hash)
                    .roles(["admin"])
                    .permissions(["orders:read"]),
            )
            .await
            .unwrap();
        let jwt = JwtService::builder(settings.jwt.clone(), users.clone())
            .build()
            .await
            .unwrap();
        let app = Router::new()
            .route("/me", get(me))
            .layer(JwtAuthLayer::new(jwt.clone()))
            .route("/login", post(login))
            .with_state(jwt);
        let base = common::server::serve(app).await;
        let client = reqwest::Client::new();
        let login = |password: &'static str| {
            client
                .post(format!("{base}/login"))
                .json(&json!({ "username": "OLGA", "password": password }))
                .send()
        };

        assert_eq!(
            login("wrong").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        let response = login("olga's password").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let token = response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let me = || client.get(format!("{base}/me")).bearer_auth(&token).send();
        let response = me().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["username"], "olga");
        assert_eq!(body["roles"], json!(["admin"]));
        assert_eq!(
            body["password_scheme"], "argon2id",
            "upgraded from bcrypt at login"
        );
        assert!(body.get("password").is_none());

        users.disable("olga").await.unwrap();
        assert_eq!(me().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            login("olga's password").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
