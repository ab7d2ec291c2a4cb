//! [`AnyOf`]: several validators, the first that allows wins (a site taking both session
//! cookies and bearer tokens).
//!
//! 1. Each validator is asked in order; the first `allow` is the verdict.
//! 2. Otherwise an `authorization` refusal (someone was identified) beats an `authentication`
//!    one; the challenges of every refusal are sent together (RFC 9110 allows several
//!    `WWW-Authenticate` headers).
//! 3. A backend error of any validator is the error (fail closed).

use std::sync::Arc;

use async_trait::async_trait;
use http::request::Parts;
use http::HeaderValue;

use super::SecurityValidator;
use crate::firewall::{Rule, Secured, Verdict, VerdictKind};
use crate::{Error, Result};

/// The first of several validators that allows.
pub struct AnyOf {
    validators: Vec<Arc<dyn SecurityValidator>>,
    name: String,
}

impl AnyOf {
    /// Asks `validators` in order (at least one).
    pub fn new(validators: Vec<Arc<dyn SecurityValidator>>) -> Result<Self> {
        if validators.is_empty() {
            return Err(Error::config(
                "firewall.validator",
                "any-of needs at least one validator",
            ));
        }
        let name = validators
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join("|");
        Ok(AnyOf { validators, name })
    }

    fn combine(verdicts: Vec<Verdict>) -> Verdict {
        let mut chosen = verdicts
            .iter()
            .position(|v| v.kind == VerdictKind::Authorization)
            .map_or_else(|| verdicts[0].clone(), |i| verdicts[i].clone());
        for verdict in &verdicts {
            for (name, value) in &verdict.headers {
                if !chosen.headers.get_all(name).iter().any(|v| v == value) {
                    chosen.headers.append(name, value.clone());
                }
            }
            chosen.challenge |= verdict.challenge && chosen.kind == VerdictKind::Authentication;
        }
        chosen
    }
}

#[async_trait]
impl SecurityValidator for AnyOf {
    fn name(&self) -> &str {
        &self.name
    }

    async fn validate_rule(&self, rule: &Rule, parts: &mut Parts) -> Result<Verdict> {
        let mut refusals = Vec::with_capacity(self.validators.len());
        for validator in &self.validators {
            let verdict = validator.validate_rule(rule, parts).await?;
            if verdict.allow {
                return Ok(verdict);
            }
            refusals.push(verdict);
        }
        Ok(Self::combine(refusals))
    }

    async fn validate_guard(&self, guard: &Secured, parts: &mut Parts) -> Result<Verdict> {
        let mut refusals = Vec::with_capacity(self.validators.len());
        for validator in &self.validators {
            let verdict = validator.validate_guard(guard, parts).await?;
            if verdict.allow {
                return Ok(verdict);
            }
            refusals.push(verdict);
        }
        Ok(Self::combine(refusals))
    }

    async fn identify(&self, parts: &mut Parts) {
        for validator in &self.validators {
            validator.identify(parts).await;
        }
    }

    fn challenge(&self) -> Option<HeaderValue> {
        self.validators.iter().find_map(|v| v.challenge())
    }
}
