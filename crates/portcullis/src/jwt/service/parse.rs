//! Reading a request's token: discovery, verification, storage, the user.

use std::sync::Arc;

use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::{Authenticated, JwtService, TokenPair};
use crate::auth::{AuthUser, CurrentUser, Identity};
use crate::events::SecurityEvent;
use crate::jwt::{Claims, Jwt, JwtSubject, TokenType};
use crate::{Error, InvalidToken, Result};

impl<U> JwtService<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// Verifies an access token — signature, claims, token type — and checks it against
    /// token storage (cbsecurity's `parseToken` without the request context).
    pub async fn parse_token(&self, token: &str) -> Result<Claims> {
        let claims = self.verified(token, TokenType::Access)?;
        self.check_standing(&claims).await?;
        if !self.inner.events.is_empty() {
            self.inner.events.emit(SecurityEvent::JwtValidParsing {
                claims: claims.clone(),
            });
        }
        Ok(claims)
    }

    /// Finds the request's access token, verifies it, checks storage and loads its user; puts
    /// the token ([`Jwt`]), its [`Claims`] and the [`CurrentUser`] into the request's
    /// extensions (cbsecurity's `parseToken` + `authenticate`).
    pub async fn parse_request(&self, parts: &mut Parts) -> Result<Authenticated<U>> {
        let token = self.discover_token(parts).ok_or(Error::TokenNotFound)?;
        self.accept(parts, token).await
    }

    /// Parses and authenticates `token` for the request `parts`, as
    /// [`JwtService::parse_request`] does with the token it discovers.
    pub async fn accept(&self, parts: &mut Parts, token: Jwt) -> Result<Authenticated<U>> {
        let claims = self.parse_token(token.as_str()).await?;
        let user = self.authenticate(&claims).await?;
        parts.extensions.insert(token.clone());
        parts.extensions.insert(claims.clone());
        parts.extensions.insert(CurrentUser(user.clone()));
        parts
            .extensions
            .insert(Identity::of(&user, claims.scopes()));
        Ok(Authenticated {
            token,
            claims,
            user,
        })
    }

    /// [`JwtService::parse_request`], with auto-refresh: when the access token is expired,
    /// invalid or missing, `jwt.enable_auto_refresh_validator` is on and the request carries a
    /// refresh token, the pair is rotated and the request authenticated with the new access
    /// token, which is returned with its refresh token (put them in the response with
    /// [`JwtService::pair_headers`]). A revoked access token is never auto-refreshed.
    pub async fn authenticate_request(
        &self,
        parts: &mut Parts,
    ) -> Result<(Authenticated<U>, Option<TokenPair>)> {
        let error = match self.parse_request(parts).await {
            Ok(authenticated) => return Ok((authenticated, None)),
            Err(error) => error,
        };
        let refreshable = matches!(
            error,
            Error::TokenExpired | Error::TokenInvalid { .. } | Error::TokenNotFound
        );
        if !refreshable || !self.inner.settings.enable_auto_refresh_validator {
            return Err(error);
        }
        let Some(refresh_token) = self.discover_refresh_token(parts) else {
            return Err(error);
        };
        let pair = self.refresh_token(refresh_token.as_str()).await?;
        let authenticated = self
            .accept(parts, Jwt::new(pair.access_token.as_str()))
            .await?;
        Ok((authenticated, Some(pair)))
    }

    /// The response headers announcing a new pair: `jwt.custom_auth_header` and
    /// `jwt.custom_refresh_header`.
    pub fn pair_headers(&self, pair: &TokenPair) -> HeaderMap {
        let settings = &self.inner.settings;
        let values = [
            (&settings.custom_auth_header, Some(&pair.access_token)),
            (&settings.custom_refresh_header, pair.refresh_token.as_ref()),
        ];
        let mut headers = HeaderMap::new();
        for (name, value) in values {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::try_from(name.as_str()),
                value.map(|v| HeaderValue::from_str(v)),
            ) {
                headers.insert(name, value);
            }
        }
        headers
    }

    /// Loads the user a token's `sub` names (cbsecurity's `authenticate`); an unknown
    /// subject is [`Error::UnknownUser`].
    pub async fn authenticate(&self, claims: &Claims) -> Result<U> {
        let subject = claims.sub().unwrap_or_default();
        let user = self.inner.users.retrieve_user_by_id(subject).await?;
        let events = &self.inner.events;
        match user {
            Some(user) if !user.id().is_empty() => {
                if !events.is_empty() {
                    events.emit(SecurityEvent::JwtValidAuthentication {
                        claims: claims.clone(),
                        user: Arc::new(user.clone()),
                    });
                }
                Ok(user)
            }
            _ => {
                if !events.is_empty() {
                    events.emit(SecurityEvent::JwtInvalidUser {
                        claims: claims.clone(),
                    });
                }
                Err(Error::UnknownUser)
            }
        }
    }

    /// Verifies `token` as a token of type `expected`, announcing expiry and claim problems.
    pub(super) fn verified(&self, token: &str, expected: TokenType) -> Result<Claims> {
        let verifier = self.inner.keys.verifier();
        let result = match expected {
            TokenType::Access => verifier.verify(token),
            TokenType::Refresh => verifier.verify_refresh(token),
        };
        let events = &self.inner.events;
        if let Err(err) = &result {
            if !events.is_empty() {
                match err {
                    Error::TokenExpired => events.emit(SecurityEvent::JwtExpiration {
                        token: Jwt::new(token),
                    }),
                    Error::TokenInvalid {
                        reason:
                            reason
                            @ (InvalidToken::MissingClaim { .. } | InvalidToken::ClaimType { .. }),
                    } => events.emit(SecurityEvent::JwtInvalidClaims {
                        token: Jwt::new(token),
                        reason: reason.to_string(),
                    }),
                    _ => {}
                }
            }
        }
        result
    }
}
