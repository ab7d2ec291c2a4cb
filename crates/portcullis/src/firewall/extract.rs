//! Extractors for what the firewall decided: the rule that applied and the verdict
//! (cbsecurity's `cbSecurity_matchedRule` and `cbSecurity_validatorResults`), and the refused
//! URL of an overridden request.
//!
//! ```no_run
//! use portcullis::firewall::{MatchedRule, VerdictOf};
//! use portcullis::firewall::SecuredUrl;
//!
//! // An override target (a login page) sees why it is answering.
//! async fn login(rule: Option<MatchedRule>, verdict: Option<VerdictOf>, back: Option<SecuredUrl>) -> String {
//!     format!("{:?} {:?} {:?}", rule.map(|r| r.0.id().to_owned()), verdict.map(|v| v.0.allow), back)
//! }
//! ```

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::Response;
use http::request::Parts;

use super::action::SecuredUrl;
use super::{Rule, Verdict};
use crate::response::error_response;
use crate::Error;

/// The rule that applied to this request.
#[derive(Debug, Clone)]
pub struct MatchedRule(pub Arc<Rule>);

/// The verdict of the validator that decided this request.
#[derive(Debug, Clone)]
pub struct VerdictOf(pub Verdict);

macro_rules! firewall_extractor {
    ($type:ty, $what:literal) => {
        impl<S: Send + Sync> FromRequestParts<S> for $type {
            type Rejection = Response;

            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
                parts.extensions.get::<Self>().cloned().ok_or_else(|| {
                    error_response(&Error::config(
                        "firewall",
                        concat!(
                            "no ",
                            $what,
                            " on this request: is the route behind the firewall?"
                        ),
                    ))
                })
            }
        }

        impl<S: Send + Sync> OptionalFromRequestParts<S> for $type {
            type Rejection = std::convert::Infallible;

            async fn from_request_parts(
                parts: &mut Parts,
                _: &S,
            ) -> Result<Option<Self>, Self::Rejection> {
                Ok(parts.extensions.get::<Self>().cloned())
            }
        }
    };
}

firewall_extractor!(MatchedRule, "matched rule");
firewall_extractor!(VerdictOf, "verdict");
firewall_extractor!(SecuredUrl, "refused URL");
