//! # portcullis
//!
//! The security layer a Rust web service puts in front of everything: JWT services, token
//! storage, a rule firewall, route guards, basic auth, CSRF and security headers, modelled on
//! ColdBox's cbsecurity.
//!
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
mod backend;
pub mod clock;
#[cfg(feature = "csrf")]
pub mod csrf;
mod error;
pub mod events;
mod extension;
pub mod firewall;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod guard;
#[cfg(feature = "headers")]
pub mod headers;
pub mod jwt;
pub mod net;
mod random;
pub mod response;
pub mod session;
pub mod settings;
pub mod storage;
pub mod users;

pub use error::{Error, InvalidToken, Result};

/// `#[secured]`, `#[secured("…")]`: a route guard on an `async fn` handler, cbsecurity's
/// `secured` annotation (feature `macros`, on by default); see [`guard`].
#[cfg(feature = "macros")]
pub use portcullis_macros::secured;
