//! The SQL user store: people who log in with a username and password, kept in SQLite (the
//! embedded default) or PostgreSQL, managed with `portcullis users …` and read by the JWT
//! service and the firewall as a [`UserService`](crate::auth::UserService).
//!
//! It lives beside `auth` rather than inside it: `auth` holds the traits every user source
//! implements and the settings-only basic-auth users, while this module owns a database
//! schema with migrations and its own settings section (`users`), like `storage` does.
//!
//! 1. **Start-up** ([`SqlUserStore::from_settings`]): the `users` settings are checked (a bad
//!    one fails naming its key), the database is opened, and the pending migrations are
//!    applied in one transaction — concurrent start-ups take turns (PostgreSQL: an advisory
//!    lock; SQLite: `BEGIN IMMEDIATE`), and each migration is recorded in
//!    `<table>_migrations`, so it runs once. With `auto_migrate = false` start-up fails
//!    instead unless the schema is current. An unreachable database is
//!    [`Error::Unavailable`](crate::Error::Unavailable).
//! 2. **Adding** ([`SqlUserStore::add`], [`SqlUserStore::register`]): every value is bounded
//!    (see [Bounds](#bounds)); the password is hashed with Argon2id (`users.argon2`), or an
//!    imported hash (Argon2, bcrypt, cbsecurity's hex digest) is checked to be one; the user
//!    gets a random UUID v4. A name taken ignoring ASCII case is
//!    [`Error::UserExists`](crate::Error::UserExists).
//! 3. **Login** ([`UserService::authenticate`](crate::auth::UserService::authenticate)): the
//!    password is verified in constant time, off the async workers; an unknown or disabled
//!    user costs a full verification too (the hasher's decoy), and a password longer than
//!    `users.max_password_length` is refused before any hashing.
//! 4. **Upgrade**: when the password matched a hash that is not current Argon2id (bcrypt, a
//!    legacy digest, Argon2 with other costs), it is re-hashed and replaced in one
//!    conditional `UPDATE` — only if the stored hash is still the one verified.
//! 5. **Lookups** for tokens ([`retrieve_user_by_id`](crate::auth::UserService::retrieve_user_by_id))
//!    skip disabled users, so disabling a user also stops their tokens at the next request.
//!
//! # Bounds
//!
//! | value | accepted |
//! |---|---|
//! | username | 1–64 ASCII letters, digits, `. _ - @ +`, starting with a letter or digit; unique ignoring ASCII case |
//! | password | `users.min_password_length` (8) to `max_password_length` (1024) characters |
//! | role, permission | 1–128 characters without white space, commas or control characters; at most 256 each |
//! | first and last name | at most 128 characters, no control characters |
//! | email | optional; `name@domain`, at most 254 characters |
//!
//! # Tokens
//!
//! [`StoredUser`] is a [`JwtSubject`](crate::jwt::JwtSubject) as cbsecurity's delegate
//! defines it: `sub` is the user's id, `scope` their permissions, and a `role` claim their
//! roles, comma-joined.
//!
//! ```
//! use portcullis::auth::{PasswordScheme, UserService};
//! use portcullis::settings::Settings;
//! use portcullis::users::{Access, NewUser, SqlUserStore};
//! use portcullis::Error;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings = Settings::from_toml_str(r#"
//!     [users]
//!     path = ":memory:"      # a file next to the settings in real life: "portcullis.db"
//!     allow_registration = true
//!     default_roles = "member"
//!     argon2 = { memory_kib = 1024, iterations = 1 }   # cheap, for the example only
//! "#)?;
//! let users = SqlUserStore::from_settings(&settings).await?;
//!
//! let alice = users.add(NewUser::new("Alice", "wonderland!").roles(["admin"])).await?;
//! assert_eq!(alice.id.len(), 36);
//! assert!(matches!(
//!     users.add(NewUser::new("alice", "looking-glass")).await,
//!     Err(Error::UserExists { .. })
//! ));
//! let bob = users.register(NewUser::new("bob", "builder-bob")).await?;
//! assert_eq!(bob.roles, ["member"]);
//!
//! assert!(users.authenticate("ALICE", "wonderland!").await?.is_some());
//! assert!(users.authenticate("alice", "wrong password").await?.is_none());
//!
//! // A bcrypt hash imported from another system becomes Argon2id at the first login.
//! let hash = bcrypt::hash("carol's password", 4).unwrap();
//! users.add(NewUser::with_hash("carol", hash)).await?;
//! assert_eq!(users.get("carol").await?.unwrap().password_scheme, PasswordScheme::Bcrypt);
//! users.authenticate("carol", "carol's password").await?.unwrap();
//! assert_eq!(users.get("carol").await?.unwrap().password_scheme, PasswordScheme::Argon2id);
//!
//! users.grant("bob", &Access::permissions(["orders:read"])).await?;
//! users.disable("bob").await?;
//! assert!(users.authenticate("bob", "builder-bob").await?.is_none());
//! assert!(users.retrieve_user_by_id(&bob.id).await?.is_none());
//! assert_eq!(users.list().await?.len(), 3);
//! # Ok(()) }
//! ```

// Without a database feature only the bounds remain (the settings check against them).
pub(crate) mod input;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
mod schema;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
mod store;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
mod user;

pub use self::input::{MAX_EMAIL, MAX_GRANTS, MAX_NAME, MAX_USERNAME, PASSWORD_CAP};
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::schema::SCHEMA_VERSION;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::store::SqlUserStore;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::user::{Access, NewUser, StoredUser};
