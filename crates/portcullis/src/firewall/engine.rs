//! [`Firewall`]: the rules in force, the validators, and what happens to refused requests.
//! Shared by the [`FirewallLayer`](super::FirewallLayer) and the route guards.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use axum::extract::MatchedPath;
use axum::response::Response;
use http::request::Parts;
use http::{HeaderMap, Method, Uri};
use serde::Serialize;

use super::action::{self, Defaults, Resolved, SecuredUrl};
use super::matcher::Targets;
use super::ruleset::{Module, RuleSet};
use super::sources::RuleAssembly;
use super::validator::SecurityValidator;
use super::{Rule, Secured, Verdict, VerdictKind};
use crate::events::{EventBus, SecurityEvent};
use crate::net::{ClientInfo, TrustedProxies};
use crate::response::error_response;
use crate::settings::{Action, FirewallSettings};
use crate::{Error, Result};

/// Where a guard sits (cbsecurity's annotation type: `handler` / `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardLevel {
    /// A guard on a router: a group of routes (cbsecurity's handler).
    Router,
    /// A guard on one route or handler (cbsecurity's action).
    Route,
}

/// A refused request, as events and interceptors see it (spec §2.8's event data).
#[derive(Debug, Clone, Serialize)]
pub struct InvalidAccess {
    /// The validator's verdict.
    pub verdict: Verdict,
    /// The rule that applied (none for guards).
    pub rule: Option<Arc<Rule>>,
    /// The guard that refused (none for rules).
    pub guard: Option<GuardLevel>,
    /// The client's address, behind trusted proxies.
    pub ip: Option<IpAddr>,
    /// The id of the user the request was identified as (`None` for a guest): the user who
    /// lacked the role or permission of an authorization refusal.
    pub user: Option<String>,
    /// The request method.
    #[serde(serialize_with = "display")]
    pub method: Method,
    /// The request URI.
    #[serde(serialize_with = "display")]
    pub uri: Uri,
    /// The module the request belongs to.
    pub module: Option<String>,
    /// The action taken.
    pub action: Action,
    /// The refused URL, as passed to the login page.
    pub secured_url: String,
}

fn display<T: std::fmt::Display, S: serde::Serializer>(
    value: &T,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// Takes over the response to a refused request. It cannot let the request through: the
/// protected handler is never called.
pub type Interceptor = Arc<dyn Fn(&InvalidAccess) -> Option<Response> + Send + Sync>;

/// What the firewall decided for one request.
pub(crate) enum Outcome {
    /// Go on; add these headers to the response.
    Pass(HeaderMap),
    /// Answer with this response.
    Respond(Response),
    /// Answer with the route at this path (an override).
    Override(String),
}

/// The firewall. Cheap to clone; clones share the rules in force.
#[derive(Clone)]
pub struct Firewall {
    inner: Arc<Inner>,
}

struct Inner {
    settings: FirewallSettings,
    global_rules: Vec<Rule>,
    registered: Mutex<Vec<Arc<Module>>>,
    current: ArcSwap<RuleSet>,
    validators: HashMap<String, Arc<dyn SecurityValidator>>,
    default_validator: Arc<dyn SecurityValidator>,
    proxies: TrustedProxies,
    events: EventBus,
    interceptors: Vec<Interceptor>,
}

/// Builds a [`Firewall`].
pub struct FirewallBuilder {
    settings: FirewallSettings,
    rules: Vec<Rule>,
    modules: Vec<Module>,
    validators: HashMap<String, Arc<dyn SecurityValidator>>,
    events: EventBus,
    interceptors: Vec<Interceptor>,
}

impl FirewallBuilder {
    /// Registers a validator under `name` (`auth`, `jwt`, `basic`, or a custom name), for
    /// `firewall.validator` and the modules' `validator` to select.
    pub fn validator(
        mut self,
        name: impl Into<String>,
        validator: Arc<dyn SecurityValidator>,
    ) -> Self {
        self.validators.insert(name.into(), validator);
        self
    }

    /// The global rules, normalised (inline, then provider rules).
    pub fn rules(mut self, rules: Vec<Rule>) -> Self {
        self.rules = rules;
        self
    }

    /// Loads the rules `firewall.rules` and `firewall.modules` describe (inline, JSON, XML,
    /// SQL, providers registered on `assembly`), as the global rules and one module per
    /// `firewall.modules` entry (entry point `entry_point`, default `/<name>`).
    pub async fn load_rules(mut self, assembly: RuleAssembly<'_>) -> Result<Self> {
        let rules = assembly.load().await?;
        let (global, tagged): (Vec<Rule>, Vec<Rule>) =
            rules.into_iter().partition(|r| r.module().is_none());
        self.rules = global;
        for (name, settings) in &self.settings.modules {
            let rules = tagged
                .iter()
                .filter(|r| r.module() == Some(name))
                .cloned()
                .collect();
            let module = Module::with_rules(name, settings.clone(), rules);
            self.modules.push(module);
        }
        Ok(self)
    }

    /// A module registered at start-up (modules registered later come before it).
    pub fn module(mut self, module: Module) -> Self {
        self.modules.push(module);
        self
    }

    /// Delivers `InvalidAuthentication` / `InvalidAuthorization` events to `events`.
    pub fn events(mut self, events: EventBus) -> Self {
        self.events = events;
        self
    }

    /// Lets `interceptor` take over the response to refused requests; the first that returns
    /// a response wins.
    pub fn on_invalid_access<F>(mut self, interceptor: F) -> Self
    where
        F: Fn(&InvalidAccess) -> Option<Response> + Send + Sync + 'static,
    {
        self.interceptors.push(Arc::new(interceptor));
        self
    }

    /// Checks the configuration and compiles the rules.
    pub fn build(mut self) -> Result<Firewall> {
        let name = self.settings.validator.as_str().to_owned();
        let default_validator = self.validators.get(&name).cloned().ok_or_else(|| {
            Error::config(
                "firewall.validator",
                format!(
                    "no validator named {name:?} is registered (registered: {})",
                    self.registered_names()
                ),
            )
        })?;
        let global = &self.settings;
        for rule in &self.rules {
            check_rule_target(rule, global, None)?;
        }
        let mut modules = Vec::new();
        for module in std::mem::take(&mut self.modules) {
            modules.insert(0, Arc::new(self.resolve_module(module)?));
        }
        let current =
            RuleSet::compile(&self.rules, modules.clone(), self.settings.rules.use_regex)?;
        Ok(Firewall {
            inner: Arc::new(Inner {
                proxies: TrustedProxies::new(self.settings.trusted_proxies.iter().copied()),
                settings: self.settings,
                global_rules: self.rules,
                registered: Mutex::new(modules),
                current: ArcSwap::from_pointee(current),
                validators: self.validators,
                default_validator,
                events: self.events,
                interceptors: self.interceptors,
            }),
        })
    }

    fn registered_names(&self) -> String {
        let mut names: Vec<&str> = self.validators.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.join(", ")
    }

    /// Fills a module's validator from its settings and checks it.
    fn resolve_module(&self, module: Module) -> Result<Module> {
        resolve_module(module, &self.validators, &self.settings)
    }
}

fn resolve_module(
    mut module: Module,
    validators: &HashMap<String, Arc<dyn SecurityValidator>>,
    settings: &FirewallSettings,
) -> Result<Module> {
    if module.validator.is_none() {
        if let Some(kind) = &module.settings.validator {
            let name = kind.as_str();
            module.validator = Some(validators.get(name).cloned().ok_or_else(|| {
                Error::config(
                    format!("firewall.modules.{}.validator", module.name),
                    format!("no validator named {name:?} is registered"),
                )
            })?);
        }
    }
    let key = format!("firewall.modules.{}", module.name);
    if module.name.is_empty() {
        return Err(Error::config("firewall.modules", "a module needs a name"));
    }
    if !module.entry_point.starts_with('/') {
        return Err(Error::config(
            format!("{key}.entry_point"),
            format!("{:?} must be a path starting with /", module.entry_point),
        ));
    }
    for rule in &module.rules {
        check_rule_target(rule, settings, Some((&key, &module.settings)))?;
    }
    Ok(module)
}

/// A redirect or override target must exist for every rule that can resolve to one, with the
/// defaults a request of the rule's module would use.
fn check_rule_target(
    rule: &Rule,
    settings: &FirewallSettings,
    module: Option<(&str, &crate::settings::ModuleFirewallSettings)>,
) -> Result<()> {
    if rule.redirect().is_some() || rule.override_event().is_some() {
        return Ok(());
    }
    let prefix = module.map_or("firewall", |(key, _)| key);
    for (authorization, name) in [
        (false, "invalid_authentication_event"),
        (true, "invalid_authorization_event"),
    ] {
        let defaults = defaults_for(settings, module.map(|(_, m)| m), authorization);
        let action = rule.action().unwrap_or(defaults.action);
        if action != Action::Block && defaults.target.is_empty() {
            return Err(Error::config(
                format!("{prefix}.{name}"),
                format!(
                    "rule {} can {} but no target is configured",
                    rule.id(),
                    action.as_str()
                ),
            ));
        }
    }
    Ok(())
}

impl Firewall {
    /// Starts building a firewall from its settings.
    pub fn builder(settings: FirewallSettings) -> FirewallBuilder {
        FirewallBuilder {
            settings,
            rules: Vec::new(),
            modules: Vec::new(),
            validators: HashMap::new(),
            events: EventBus::new(),
            interceptors: Vec::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &FirewallSettings {
        &self.inner.settings
    }

    /// The rules and modules in force now.
    pub fn ruleset(&self) -> Arc<RuleSet> {
        self.inner.current.load_full()
    }

    /// Whether a refusal can be answered with an override (then a request's parts are kept
    /// for it).
    pub fn may_override(&self) -> bool {
        let settings = &self.inner.settings;
        settings.default_authentication_action == Action::Override
            || settings.default_authorization_action == Action::Override
            || self.inner.current.load().may_override()
    }

    /// The trusted proxies.
    pub fn proxies(&self) -> &TrustedProxies {
        &self.inner.proxies
    }

    /// Registers a module at run time: its rules come first from the next request on.
    /// Requests in flight finish with the rules they started with.
    pub fn register_module(&self, module: Module) -> Result<()> {
        let module = Arc::new(resolve_module(
            module,
            &self.inner.validators,
            &self.inner.settings,
        )?);
        self.swap(|modules| {
            modules.retain(|m| m.name != module.name);
            modules.insert(0, module.clone());
        })
    }

    /// Unregisters a module: its rules (inline and provider) leave with it. Whether it was
    /// registered.
    pub fn unregister_module(&self, name: &str) -> Result<bool> {
        let mut found = false;
        self.swap(|modules| {
            let before = modules.len();
            modules.retain(|m| m.name != name);
            found = modules.len() != before;
        })?;
        Ok(found)
    }

    fn swap(&self, change: impl FnOnce(&mut Vec<Arc<Module>>)) -> Result<()> {
        let mut registered =
            self.inner.registered.lock().map_err(|_| {
                Error::config("firewall.modules", "the module registry is poisoned")
            })?;
        let mut next = registered.clone();
        change(&mut next);
        let compiled = RuleSet::compile(
            &self.inner.global_rules,
            next.clone(),
            self.inner.settings.rules.use_regex,
        )?;
        self.inner.current.store(Arc::new(compiled));
        *registered = next;
        Ok(())
    }

    /// The validator for a request of `module`.
    fn validator_for(&self, module: Option<&Arc<Module>>) -> Arc<dyn SecurityValidator> {
        module
            .and_then(|m| m.validator.clone())
            .unwrap_or_else(|| self.inner.default_validator.clone())
    }

    /// Applies the rules to a request (spec §2.6–2.7).
    pub(crate) async fn check_rules(&self, parts: &mut Parts) -> Outcome {
        let set = self.inner.current.load_full();
        let client = self.inner.proxies.client(parts);
        parts.extensions.insert(client.clone());
        let url = Targets::url_target(parts.uri.path()).into_owned();
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned());
        let module = set.module_of(&url).cloned();
        let Some(rule) = set
            .first_applying(&Targets::new(&url, route.as_deref()))
            .cloned()
        else {
            self.validator_for(module.as_ref()).identify(parts).await;
            return Outcome::Pass(HeaderMap::new());
        };
        let validator = self.validator_for(module.as_ref());
        let mut verdict = match validator.validate_rule(&rule, parts).await {
            Ok(verdict) => verdict,
            Err(error) => return Outcome::Respond(error_response(&error)),
        };
        if !rule.spec().allows_any_ip() && !client.ip.is_some_and(|ip| rule.ip_allowed(ip)) {
            verdict = Verdict::deny(VerdictKind::Authorization, "Detected IP is not allowed");
        }
        if !rule.methods_allow(&parts.method) {
            verdict = Verdict::deny(
                VerdictKind::Authorization,
                "Detected HTTP Method is not allowed",
            );
        }
        parts.extensions.insert(super::MatchedRule(rule.clone()));
        parts.extensions.insert(super::VerdictOf(verdict.clone()));
        if verdict.allow {
            return Outcome::Pass(verdict.headers);
        }
        self.refuse(
            verdict,
            Some(rule),
            None,
            module.as_ref(),
            validator.as_ref(),
            parts,
            &client,
        )
    }

    /// Applies a route guard (spec §2.9).
    pub(crate) async fn check_guard(
        &self,
        guard: &Secured,
        level: GuardLevel,
        parts: &mut Parts,
    ) -> Outcome {
        if !self.inner.settings.handler_annotation_security || *guard == Secured::Open {
            return Outcome::Pass(HeaderMap::new());
        }
        let set = self.inner.current.load_full();
        let client = self.inner.proxies.client(parts);
        let url = Targets::url_target(parts.uri.path()).into_owned();
        let module = set.module_of(&url).cloned();
        let validator = self.validator_for(module.as_ref());
        let verdict = match validator.validate_guard(guard, parts).await {
            Ok(verdict) => verdict,
            Err(error) => return Outcome::Respond(error_response(&error)),
        };
        parts.extensions.insert(super::VerdictOf(verdict.clone()));
        if verdict.allow {
            return Outcome::Pass(verdict.headers);
        }
        let verdict = Verdict {
            kind: match verdict.kind {
                VerdictKind::Block => VerdictKind::Authorization,
                kind => kind,
            },
            ..verdict
        };
        self.refuse(
            verdict,
            None,
            Some(level),
            module.as_ref(),
            validator.as_ref(),
            parts,
            &client,
        )
    }

    /// The invalid-access flow (spec §2.8): event, interceptors, action.
    #[allow(clippy::too_many_arguments)]
    fn refuse(
        &self,
        verdict: Verdict,
        rule: Option<Arc<Rule>>,
        guard: Option<GuardLevel>,
        module: Option<&Arc<Module>>,
        validator: &dyn SecurityValidator,
        parts: &mut Parts,
        client: &ClientInfo,
    ) -> Outcome {
        let settings = &self.inner.settings;
        let authorization = verdict.kind == VerdictKind::Authorization;
        let defaults = defaults_for(settings, module.map(|m| &m.settings), authorization);
        let resolved = action::resolve(&verdict, rule.as_deref(), defaults);
        let secured = SecuredUrl::of(parts, client);
        parts.extensions.insert(secured.clone());
        let access = InvalidAccess {
            verdict: verdict.clone(),
            rule: rule.clone(),
            guard,
            ip: client.ip,
            user: parts
                .extensions
                .get::<crate::auth::Identity>()
                .map(|identity| identity.id().to_owned()),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            module: module.map(|m| m.name.clone()),
            action: resolved.action(),
            secured_url: secured.0.clone(),
        };
        tracing::warn!(
            kind = verdict.kind.as_str(),
            action = access.action.as_str(),
            rule = rule.as_ref().map(|r| r.id()),
            guard = ?guard,
            ip = ?client.ip,
            method = %parts.method,
            path = parts.uri.path(),
            "request refused"
        );
        if !self.inner.events.is_empty() {
            let event = if authorization {
                SecurityEvent::InvalidAuthorization(Box::new(access.clone()))
            } else {
                SecurityEvent::InvalidAuthentication(Box::new(access.clone()))
            };
            self.inner.events.emit(event);
        }
        for interceptor in &self.inner.interceptors {
            if let Some(response) = interceptor(&access) {
                return Outcome::Respond(response);
            }
        }
        let json = settings.json_responses && action::wants_json(parts);
        let kind = verdict.kind.as_str();
        match resolved {
            Resolved::Redirect(target) if !json => {
                let https = settings.rules.use_ssl
                    || rule.as_ref().is_some_and(|r| r.use_ssl())
                    || client.secure;
                Outcome::Respond(action::redirect(&target, &secured, https, client, kind))
            }
            Resolved::Override(target) if !json => Outcome::Override(target),
            _ => Outcome::Respond(action::block(&verdict, json, validator.challenge())),
        }
    }

    /// The response when an override's own target is refused too: a block.
    pub(crate) fn block_override(&self, parts: &Parts) -> Response {
        let verdict = parts.extensions.get::<super::VerdictOf>().map_or_else(
            || Verdict::deny(VerdictKind::Authentication, "Unauthorized"),
            |v| v.0.clone(),
        );
        let json = self.inner.settings.json_responses && action::wants_json(parts);
        action::block(&verdict, json, self.inner.default_validator.challenge())
    }
}

/// The module's defaults over the global ones for one kind of refusal.
pub(crate) fn defaults_for<'a>(
    global: &'a FirewallSettings,
    module: Option<&'a crate::settings::ModuleFirewallSettings>,
    authorization: bool,
) -> Defaults<'a> {
    let (global_action, global_target) = if authorization {
        (
            global.default_authorization_action,
            global.invalid_authorization_event.as_str(),
        )
    } else {
        (
            global.default_authentication_action,
            global.invalid_authentication_event.as_str(),
        )
    };
    let (module_action, module_target) = match module {
        Some(m) if authorization => (
            m.default_authorization_action,
            m.invalid_authorization_event.as_str(),
        ),
        Some(m) => (
            m.default_authentication_action,
            m.invalid_authentication_event.as_str(),
        ),
        None => (None, ""),
    };
    Defaults {
        action: module_action.unwrap_or(global_action),
        target: if module_target.is_empty() {
            global_target
        } else {
            module_target
        },
    }
}

impl std::fmt::Debug for Firewall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Firewall")
            .field("rules", &self.ruleset().rules().len())
            .field("modules", &self.ruleset().modules().len())
            .finish_non_exhaustive()
    }
}
