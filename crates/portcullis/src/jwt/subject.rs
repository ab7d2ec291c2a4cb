//! What a user contributes to the tokens issued for them (cbsecurity's `IJwtSubject`).
//!
//! ```
//! use portcullis::jwt::{JwtSubject, TokenBuilder, Algorithm, SigningKey};
//! use serde_json::{json, Map, Value};
//!
//! struct User { id: u64, roles: Vec<String>, permissions: Vec<String> }
//!
//! impl JwtSubject for User {
//!     fn jwt_subject(&self) -> String { self.id.to_string() }
//!     fn jwt_scopes(&self) -> Vec<String> { self.permissions.clone() }
//!     fn jwt_custom_claims(&self, payload: &Map<String, Value>) -> Map<String, Value> {
//!         // cbsecurity's default: the roles, comma-joined. The payload so far is visible.
//!         let mut claims = Map::new();
//!         claims.insert("role".into(), json!(self.roles.join(",")));
//!         claims.insert("session".into(), payload["jti"].clone());
//!         claims
//!     }
//! }
//!
//! let user = User { id: 7, roles: vec!["admin".into()], permissions: vec!["orders:read".into()] };
//! let key = SigningKey::from_secret(Algorithm::HS256, &[3; 32]).unwrap();
//! let claims = TokenBuilder::for_subject("me", &user).issue(&key).unwrap().claims;
//! assert_eq!(claims.sub(), Some("7"));
//! assert_eq!(claims.scope(), Some("orders:read"));
//! assert_eq!(claims.get("role"), Some(&json!("admin")));
//! assert_eq!(claims.get("session").and_then(|v| v.as_str()), claims.jti());
//! ```

use serde_json::{Map, Value};

/// A user that tokens can be issued for.
pub trait JwtSubject {
    /// The `sub` claim: the user's stable id.
    fn jwt_subject(&self) -> String;

    /// The scopes put in the `scope` claim (cbsecurity: the user's permissions). Default none.
    fn jwt_scopes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Extra claims, given the payload built so far (`iss`, `iat`, `sub`, `exp`, `jti`,
    /// `scope`). They override those claims. Default none.
    fn jwt_custom_claims(&self, payload: &Map<String, Value>) -> Map<String, Value> {
        let _ = payload;
        Map::new()
    }
}
