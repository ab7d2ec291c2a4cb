//! The users of `basic_auth.users` (spec §7), as a [`UserService`].
//!
//! 1. Users are read once from settings; `plain:` passwords are hashed with Argon2id then.
//!    Roles, permissions, names and extra keys are kept (cbsecurity's population control
//!    dropped roles and permissions).
//! 2. A user's id is their username, so it is stable across restarts and instances
//!    (cbsecurity gave each a new UUID at every start). Usernames are matched ignoring ASCII
//!    case, as CFML struct keys are.
//! 3. Listing users ([`BasicAuthUsers::users`]) returns no password material and never
//!    changes the stored hashes (cbsecurity's `getUsers()` wiped them).
//! 4. Basic auth sends the password with every request, and Argon2id is deliberately slow, so a
//!    verified username/password pair is remembered for [`VERIFIED_TTL`] under an HMAC of the
//!    pair with a per-process key — never the password itself. An unknown username costs a
//!    full verification too.
//!
//! ```
//! # tokio_test_block_on(async {
//! use portcullis::auth::{AuthUser, BasicAuthUsers, UserService};
//! use portcullis::settings::Settings;
//!
//! let settings = Settings::from_toml_str(r#"
//!     [basic_auth.users.alice]
//!     password = "plain:wonderland"
//!     roles = "admin"
//!     permissions = ["orders:read"]
//! "#).unwrap();
//! let users = BasicAuthUsers::from_settings(&settings.basic_auth).unwrap();
//! assert!(users.is_valid_credentials("ALICE", "wonderland").await.unwrap());
//! assert!(!users.is_valid_credentials("alice", "looking-glass").await.unwrap());
//! let alice = users.retrieve_user_by_id("alice").await.unwrap().unwrap();
//! assert!(alice.has_role("admin") && alice.has_permission("orders:read"));
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lc_rs::hmac;
use serde::Serialize;
use serde_json::{Map, Value};

use super::password::{Argon2Params, PasswordHasher};
use super::{AuthUser, UserService};
use crate::jwt::JwtSubject;
use crate::settings::{BasicAuthSettings, StoredPassword};
use crate::{Error, Result};

/// How long a verified username/password pair is remembered.
pub const VERIFIED_TTL: Duration = Duration::from_secs(300);

/// How many verified pairs are remembered at most (the memory is cleared when full).
const VERIFIED_CAPACITY: usize = 4096;

/// A basic-auth user, without any password material.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BasicUser {
    /// The username, also the id.
    pub username: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Every other key given in settings.
    pub extra: BTreeMap<String, Value>,
}

impl AuthUser for BasicUser {
    fn id(&self) -> String {
        self.username.clone()
    }
    fn roles(&self) -> &[String] {
        &self.roles
    }
    fn permissions(&self) -> &[String] {
        &self.permissions
    }
}

impl JwtSubject for BasicUser {
    fn jwt_subject(&self) -> String {
        self.username.clone()
    }

    /// cbsecurity's `JwtSubject` delegate: scopes are the permissions.
    fn jwt_scopes(&self) -> Vec<String> {
        self.permissions.clone()
    }

    /// cbsecurity's `JwtSubject` delegate: `role` is the roles, comma-joined.
    fn jwt_custom_claims(&self, _: &Map<String, Value>) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("role".into(), Value::from(self.roles.join(",")));
        claims
    }
}

struct Entry {
    user: BasicUser,
    hash: String,
}

/// The `basic_auth.users`, checked with a [`PasswordHasher`].
pub struct BasicAuthUsers {
    users: HashMap<String, Entry>,
    hasher: PasswordHasher,
    verified: Mutex<HashMap<[u8; 32], Instant>>,
    verified_key: hmac::Key,
}

impl BasicAuthUsers {
    /// Reads the users of `basic_auth`, hashing `plain:` passwords. Legacy digests are
    /// checked with `hash_algorithm` × `hash_iterations`.
    pub fn from_settings(settings: &BasicAuthSettings) -> Result<Self> {
        let hasher = PasswordHasher::new(
            Argon2Params::default(),
            settings.hash_algorithm,
            settings.hash_iterations,
        )?;
        let mut users = HashMap::new();
        for (username, configured) in &settings.users {
            let key = format!("basic_auth.users.{username}.password");
            let hash = match configured.stored_password() {
                Some(StoredPassword::Plaintext(plain)) => hasher.hash(plain)?,
                Some(StoredPassword::Argon2id(hash) | StoredPassword::Digest(hash)) => {
                    hash.to_owned()
                }
                None => {
                    return Err(Error::config(key, "not a password hash nor `plain:` text"));
                }
            };
            let user = BasicUser {
                username: username.clone(),
                roles: configured.roles.clone(),
                permissions: configured.permissions.clone(),
                first_name: configured.first_name.clone(),
                last_name: configured.last_name.clone(),
                extra: configured.extra.clone(),
            };
            if users
                .insert(username.to_lowercase(), Entry { user, hash })
                .is_some()
            {
                return Err(Error::config(
                    format!("basic_auth.users.{username}"),
                    "two users differ only in case",
                ));
            }
        }
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| {
            Error::config("basic_auth", "the system random number generator failed")
        })?;
        Ok(BasicAuthUsers {
            users,
            hasher,
            verified: Mutex::new(HashMap::new()),
            verified_key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    /// Every user, sorted by username, without password material.
    pub fn users(&self) -> Vec<BasicUser> {
        let mut users: Vec<BasicUser> = self.users.values().map(|e| e.user.clone()).collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        users
    }

    fn entry(&self, username: &str) -> Option<&Entry> {
        self.users.get(&username.to_lowercase())
    }

    /// The remembered-verification key of a pair.
    fn fingerprint(&self, username: &str, password: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.verified_key);
        ctx.update(username.to_lowercase().as_bytes());
        ctx.update(&[0]);
        ctx.update(password.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn recently_verified(&self, fingerprint: &[u8; 32]) -> bool {
        let Ok(verified) = self.verified.lock() else {
            return false;
        };
        verified
            .get(fingerprint)
            .is_some_and(|at| at.elapsed() < VERIFIED_TTL)
    }

    fn remember(&self, fingerprint: [u8; 32]) {
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(fingerprint, Instant::now());
        }
    }
}

#[async_trait]
impl UserService for BasicAuthUsers {
    type User = BasicUser;

    async fn is_valid_credentials(&self, username: &str, password: &str) -> Result<bool> {
        let entry = self.entry(username);
        let fingerprint = self.fingerprint(username, password);
        if entry.is_some() && self.recently_verified(&fingerprint) {
            return Ok(true);
        }
        let hasher = self.hasher.clone();
        let stored = entry.map(|e| e.hash.clone());
        let password = password.to_owned();
        // Argon2id takes tens of milliseconds of CPU: keep it off the async workers.
        let valid = tokio::task::spawn_blocking(move || match stored {
            Some(hash) => hasher.verify(&password, &hash).is_valid(),
            None => hasher.verify_nobody(&password).is_valid(),
        })
        .await
        .map_err(|_| Error::Unavailable {
            what: "password verification",
            reason: "the verification task failed".into(),
        })?;
        if valid {
            self.remember(fingerprint);
        }
        Ok(valid)
    }

    async fn retrieve_user_by_username(&self, username: &str) -> Result<Option<BasicUser>> {
        Ok(self.entry(username).map(|e| e.user.clone()))
    }

    async fn retrieve_user_by_id(&self, id: &str) -> Result<Option<BasicUser>> {
        self.retrieve_user_by_username(id).await
    }
}

impl std::fmt::Debug for BasicAuthUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuthUsers")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}
