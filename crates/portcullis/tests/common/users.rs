//! A user store for tests: users in a map, removable to test unknown subjects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portcullis::auth::{AuthUser, UserService};
use portcullis::jwt::JwtSubject;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub password: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

impl AuthUser for User {
    fn id(&self) -> String {
        self.id.clone()
    }
    fn roles(&self) -> &[String] {
        &self.roles
    }
    fn permissions(&self) -> &[String] {
        &self.permissions
    }
}

impl JwtSubject for User {
    fn jwt_subject(&self) -> String {
        self.id.clone()
    }
    fn jwt_scopes(&self) -> Vec<String> {
        self.permissions.clone()
    }
    fn jwt_custom_claims(&self, _: &Map<String, Value>) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("role".into(), json!(self.roles.join(",")));
        claims
    }
}

/// Users by id; clones share the map.
#[derive(Clone, Default)]
pub struct Users(Arc<Mutex<HashMap<String, User>>>);

impl Users {
    /// Alice (id 1, admin, orders:read) and Bob (id 2, no roles).
    pub fn sample() -> Self {
        let users = Users::default();
        users.add(User {
            id: "1".into(),
            username: "alice".into(),
            password: "alice-password".into(),
            roles: vec!["admin".into()],
            permissions: vec!["orders:read".into()],
        });
        users.add(User {
            id: "2".into(),
            username: "bob".into(),
            password: "bob-password".into(),
            roles: vec![],
            permissions: vec![],
        });
        users
    }

    pub fn add(&self, user: User) {
        self.0.lock().unwrap().insert(user.id.clone(), user);
    }

    pub fn remove(&self, id: &str) {
        self.0.lock().unwrap().remove(id);
    }

    pub fn get(&self, id: &str) -> User {
        self.0.lock().unwrap()[id].clone()
    }
}

#[async_trait]
impl UserService for Users {
    type User = User;

    async fn is_valid_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> portcullis::Result<bool> {
        let stored = self
            .0
            .lock()
            .unwrap()
            .values()
            .find(|u| u.username == username)
            .map(|u| u.password.clone())
            .unwrap_or_default();
        Ok(!stored.is_empty()
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                stored.as_bytes(),
                password.as_bytes(),
            )
            .is_ok())
    }

    async fn retrieve_user_by_username(&self, username: &str) -> portcullis::Result<Option<User>> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .values()
            .find(|u| u.username == username)
            .cloned())
    }

    async fn retrieve_user_by_id(&self, id: &str) -> portcullis::Result<Option<User>> {
        Ok(self.0.lock().unwrap().get(id).cloned())
    }
}
