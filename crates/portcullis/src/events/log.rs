//! [`log_event`]: every [`SecurityEvent`] as one structured `tracing` line (what
//! `portcullis serve` writes to its log).
//!
//! Lines have the target [`LOG_TARGET`], the field `event` (the event's
//! [`name`](SecurityEvent::name)) and, where the event knows them, `user` (an id or a
//! normalised username), `ip`, `method`, `path`, `rule`, `action`, `jti`, `reason` and counts.
//! They never carry a token, a password, a session id or a cookie value.
//!
//! | level | events |
//! |---|---|
//! | `warn` | failed logins, lockouts, authorization refusals, host/IP blocks, refresh token reuse, tokens of unknown users or with bad claims, revoking every token |
//! | `info` | logins, logouts, authentication refusals, tokens issued or revoked, revoked tokens presented |
//! | `debug` | expired tokens presented |
//! | `trace` | every accepted token (one per authenticated request) |
//!
//! ```
//! use portcullis::events::{log_event, EventBus, SecurityEvent};
//!
//! let bus = EventBus::new().on(log_event); // with a tracing subscriber installed
//! bus.emit(SecurityEvent::JwtInvalidateAllTokens);
//! ```

use std::net::IpAddr;
use std::time::SystemTime;

use tracing::Level;

use super::{FirewallBlock, SecurityEvent};

/// The `tracing` target of the lines [`log_event`] writes.
pub const LOG_TARGET: &str = "portcullis::security";

/// The fields of one line; `None` fields are left out.
#[derive(Default)]
struct Line<'a> {
    user: Option<String>,
    ip: Option<IpAddr>,
    method: Option<&'a str>,
    path: Option<&'a str>,
    rule: Option<&'a str>,
    action: Option<&'static str>,
    jti: Option<&'a str>,
    reason: Option<&'a str>,
    failures: Option<u64>,
    by: Option<&'static str>,
    retry_after_s: Option<u64>,
    refresh: Option<bool>,
    host: Option<&'a str>,
}

/// Writes `line` at `level` (a `tracing` callsite needs its level as a constant).
macro_rules! write_line {
    ($level:expr, $name:expr, $line:expr, $message:expr, [$($constant:ident),*]) => {
        match $level {
            $(Level::$constant => tracing::event!(
                target: LOG_TARGET,
                Level::$constant,
                event = $name,
                user = $line.user.as_deref(),
                ip = $line.ip.map(tracing::field::display),
                method = $line.method,
                path = $line.path,
                rule = $line.rule,
                action = $line.action,
                jti = $line.jti,
                reason = $line.reason,
                failures = $line.failures,
                by = $line.by,
                retry_after_s = $line.retry_after_s,
                refresh = $line.refresh,
                host = $line.host,
                "{}",
                $message
            ),)*
        }
    };
}

/// Logs `event` as one line (see the module docs). Register it with
/// [`EventBus::on`](super::EventBus::on).
pub fn log_event(event: &SecurityEvent) {
    let level = level(event);
    if !enabled(level) {
        return;
    }
    let (message, line) = describe(event);
    write_line!(
        level,
        event.name(),
        line,
        message,
        [ERROR, WARN, INFO, DEBUG, TRACE]
    );
}

/// Whether lines at `level` are written (checked before anything is formatted).
fn enabled(level: Level) -> bool {
    match level {
        Level::ERROR => tracing::enabled!(target: LOG_TARGET, Level::ERROR),
        Level::WARN => tracing::enabled!(target: LOG_TARGET, Level::WARN),
        Level::INFO => tracing::enabled!(target: LOG_TARGET, Level::INFO),
        Level::DEBUG => tracing::enabled!(target: LOG_TARGET, Level::DEBUG),
        Level::TRACE => tracing::enabled!(target: LOG_TARGET, Level::TRACE),
    }
}

/// The level of `event`'s line (see the module docs).
fn level(event: &SecurityEvent) -> Level {
    match event {
        SecurityEvent::JwtValidParsing { .. } | SecurityEvent::JwtValidAuthentication { .. } => {
            Level::TRACE
        }
        SecurityEvent::JwtExpiration { .. } => Level::DEBUG,
        SecurityEvent::JwtCreation { .. }
        | SecurityEvent::JwtInvalidation { .. }
        | SecurityEvent::JwtSubjectInvalidation { .. }
        | SecurityEvent::JwtStorageRejection { .. }
        | SecurityEvent::InvalidAuthentication(_)
        | SecurityEvent::Login { .. }
        | SecurityEvent::Logout { .. } => Level::INFO,
        SecurityEvent::JwtInvalidUser { .. }
        | SecurityEvent::JwtInvalidClaims { .. }
        | SecurityEvent::JwtInvalidateAllTokens
        | SecurityEvent::RefreshReuseDetected { .. }
        | SecurityEvent::InvalidAuthorization(_)
        | SecurityEvent::FirewallBlock(_)
        | SecurityEvent::LoginFailure { .. }
        | SecurityEvent::LoginLockout { .. } => Level::WARN,
    }
}

/// The message and fields of `event`'s line, at [`level`].
fn describe(event: &SecurityEvent) -> (&'static str, Line<'_>) {
    let subject = |claims: &crate::jwt::Claims| claims.sub().map(str::to_owned);
    match event {
        SecurityEvent::JwtCreation {
            claims,
            user,
            refresh,
            ..
        } => (
            "token issued",
            Line {
                user: Some(user.id()),
                jti: claims.jti(),
                refresh: Some(*refresh),
                ..Line::default()
            },
        ),
        SecurityEvent::JwtInvalidation { claims } => (
            "token revoked",
            Line {
                user: subject(claims),
                jti: claims.jti(),
                ..Line::default()
            },
        ),
        SecurityEvent::JwtSubjectInvalidation { subject } => (
            "every token of a user revoked",
            Line {
                user: Some(subject.clone()),
                ..Line::default()
            },
        ),
        SecurityEvent::JwtValidAuthentication { claims, user } => (
            "token user loaded",
            Line {
                user: Some(user.id()),
                jti: claims.jti(),
                ..Line::default()
            },
        ),
        SecurityEvent::JwtInvalidUser { claims } => (
            "token refused: its subject is not a known user",
            Line {
                user: subject(claims),
                jti: claims.jti(),
                ..Line::default()
            },
        ),
        SecurityEvent::JwtInvalidClaims { reason, .. } => (
            "token refused: invalid claims",
            Line {
                reason: Some(reason),
                ..Line::default()
            },
        ),
        SecurityEvent::JwtExpiration { .. } => ("token refused: expired", Line::default()),
        SecurityEvent::JwtStorageRejection { claims, reason } => (
            "token refused by token storage",
            Line {
                user: subject(claims),
                jti: claims.jti(),
                reason: Some(reason),
                ..Line::default()
            },
        ),
        SecurityEvent::JwtValidParsing { claims } => (
            "token accepted",
            Line {
                user: subject(claims),
                jti: claims.jti(),
                ..Line::default()
            },
        ),
        SecurityEvent::JwtInvalidateAllTokens => ("every token revoked", Line::default()),
        SecurityEvent::RefreshReuseDetected { subject, jti, .. } => (
            "refresh token reused: its login session is revoked",
            Line {
                user: Some(subject.clone()),
                jti: Some(jti),
                ..Line::default()
            },
        ),
        SecurityEvent::InvalidAuthentication(access)
        | SecurityEvent::InvalidAuthorization(access) => {
            let message = if matches!(event, SecurityEvent::InvalidAuthorization(_)) {
                "request refused: not allowed"
            } else {
                "request refused: not logged in"
            };
            let line = Line {
                user: access.user.clone(),
                ip: access.ip,
                method: Some(access.method.as_str()),
                path: Some(access.uri.path()),
                rule: access.rule.as_ref().map(|rule| rule.id()),
                action: Some(access.action.as_str()),
                ..Line::default()
            };
            (message, line)
        }
        SecurityEvent::FirewallBlock(block) => {
            let line = match block {
                FirewallBlock::HostHeader { incoming_host, .. } => Line {
                    host: Some(incoming_host.as_deref().unwrap_or("none")),
                    reason: Some(block.kind()),
                    ..Line::default()
                },
                FirewallBlock::IpValidation { incoming_ip, .. } => Line {
                    ip: *incoming_ip,
                    reason: Some(block.kind()),
                    ..Line::default()
                },
            };
            ("request blocked", line)
        }
        SecurityEvent::Login { user, .. } => (
            "login",
            Line {
                user: Some(user.id()),
                ..Line::default()
            },
        ),
        SecurityEvent::Logout { user_id, .. } => (
            "logout",
            Line {
                user: user_id.clone(),
                ..Line::default()
            },
        ),
        SecurityEvent::LoginFailure {
            username,
            ip,
            failures,
        } => (
            "login failed",
            Line {
                user: Some(username.clone()),
                ip: *ip,
                failures: Some(*failures),
                ..Line::default()
            },
        ),
        SecurityEvent::LoginLockout {
            username,
            ip,
            by,
            failures,
            until,
        } => (
            "login locked after repeated failures",
            Line {
                user: Some(username.clone()),
                ip: *ip,
                failures: Some(*failures),
                by: Some(match by {
                    crate::auth::LockoutScope::Username => "username",
                    crate::auth::LockoutScope::Ip => "ip",
                }),
                retry_after_s: Some(
                    until
                        .duration_since(SystemTime::now())
                        .map_or(0, |left| left.as_secs().saturating_add(1)),
                ),
                ..Line::default()
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::subscriber::with_default;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;
    use crate::auth::LockoutScope;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn events_are_one_line_each_at_their_level() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .with_max_level(Level::INFO)
            .with_ansi(false)
            .finish();
        with_default(subscriber, || {
            log_event(&SecurityEvent::LoginLockout {
                username: "bob".to_owned(),
                ip: Some("192.0.2.7".parse().unwrap()),
                by: LockoutScope::Username,
                failures: 5,
                until: SystemTime::now() + std::time::Duration::from_secs(60),
            });
            log_event(&SecurityEvent::Logout {
                user_id: Some("42".to_owned()),
                session: None,
            });
            // Below the level: not written.
            log_event(&SecurityEvent::JwtExpiration {
                token: crate::jwt::Jwt::new("a.b.c"),
            });
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("WARN"), "{}", lines[0]);
        for field in [
            "event=\"login_lockout\"",
            "user=\"bob\"",
            "ip=192.0.2.7",
            "failures=5",
            "by=\"username\"",
            LOG_TARGET,
        ] {
            assert!(lines[0].contains(field), "{field} in {}", lines[0]);
        }
        assert!(lines[1].contains("INFO") && lines[1].contains("event=\"logout\""));
        assert!(!text.contains("a.b.c"));
    }
}
