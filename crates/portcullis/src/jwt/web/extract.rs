//! Extractors for what the JWT layer (or the firewall) put into the request's extensions:
//! the raw token ([`Jwt`]), its [`Claims`] and the [`CurrentUser`]. Missing means the
//! request was not authenticated: 401. Wrap in `Option` for routes open to guests.

use crate::auth::CurrentUser;
use crate::extension::extension_extractor;
use crate::jwt::{Claims, Jwt};
use crate::Error;

extension_extractor!(Jwt, missing: Error::TokenNotFound);
extension_extractor!(Claims, missing: Error::TokenNotFound);
extension_extractor!(CurrentUser<U>, missing: Error::TokenNotFound, U);
