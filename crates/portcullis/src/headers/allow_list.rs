//! [`AllowListLayer`]: what host and IP validation share — an allow list from the settings,
//! forwarded headers believed from some proxies, a [`SecurityEvent::FirewallBlock`] and a 403
//! for what is not on the list.

use std::fmt;
use std::sync::Arc;

use axum::response::Response;
use http::request::Parts;
use http::StatusCode;
use tower_layer::Layer;

use super::check::{Checked, RequestCheck};
use crate::events::{EventBus, FirewallBlock, SecurityEvent};
use crate::firewall::action::wants_json;
use crate::net::TrustedProxies;
use crate::response::refuse;

/// Settings of an allow-list check: host or IP validation.
pub trait AllowList: fmt::Debug + Send + Sync + 'static {
    /// The refusal's kind and message, e.g. `invalid_host`, `Invalid host`.
    const REFUSAL: (&'static str, &'static str);

    /// Whether the check is on.
    fn enabled(&self) -> bool;

    /// `None` if the request is allowed, else the event announcing its refusal.
    fn refuses(self: &Arc<Self>, proxies: &TrustedProxies, parts: &Parts) -> Option<FirewallBlock>;
}

/// Refuses requests an [`AllowList`] does not allow; see [`HostValidationLayer`] and
/// [`IpValidationLayer`].
///
/// [`HostValidationLayer`]: super::HostValidationLayer
/// [`IpValidationLayer`]: super::IpValidationLayer
#[derive(Debug)]
pub struct AllowListLayer<T> {
    config: Option<Arc<T>>,
    proxies: TrustedProxies,
    events: EventBus,
}

impl<T> Clone for AllowListLayer<T> {
    fn clone(&self) -> Self {
        AllowListLayer {
            config: self.config.clone(),
            proxies: self.proxies.clone(),
            events: self.events.clone(),
        }
    }
}

impl<T: AllowList + Clone> AllowListLayer<T> {
    /// As `settings` say: a layer that lets everything through when they are disabled.
    pub fn from_settings(settings: &T) -> Self {
        AllowListLayer {
            config: settings.enabled().then(|| Arc::new(settings.clone())),
            proxies: TrustedProxies::default(),
            events: EventBus::default(),
        }
    }
}

impl<T> AllowListLayer<T> {
    /// Believes forwarded headers from these proxies (cbsecurity's `trust_upstream`).
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Announces refusals as [`SecurityEvent::FirewallBlock`] on `events`.
    #[must_use]
    pub fn events(mut self, events: EventBus) -> Self {
        self.events = events;
        self
    }
}

impl<S, T: AllowList> Layer<S> for AllowListLayer<T> {
    type Service = Checked<S, Self>;

    fn layer(&self, inner: S) -> Self::Service {
        Checked::new(inner, self.clone())
    }
}

impl<T: AllowList> RequestCheck for AllowListLayer<T> {
    fn check(&self, parts: &Parts) -> Option<Response> {
        let block = self.config.as_ref()?.refuses(&self.proxies, parts)?;
        let (kind, message) = T::REFUSAL;
        tracing::warn!(refused = ?block, "{message}");
        if !self.events.is_empty() {
            self.events.emit(SecurityEvent::FirewallBlock(block));
        }
        Some(refuse(
            wants_json(parts),
            StatusCode::FORBIDDEN,
            kind,
            message,
        ))
    }
}
