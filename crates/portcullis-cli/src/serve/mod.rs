//! `portcullis serve`: the security gateway in front of `gateway.upstream`
//! ([`portcullis::gateway`]), run until SIGTERM or SIGINT.
//!
//! 1. Settings: `--config FILE` (or `PORTCULLIS_CONFIG`), then `PORTCULLIS_*` environment
//!    overrides; `--demo` makes its own (see [`demo`]). A bad setting stops here, naming its
//!    key (exit 2).
//! 2. Users: `authentication.user_service` names the store — `basic_auth` (the users of the
//!    settings), `users` (the SQL user store, which can register users), or `""`: the
//!    `basic_auth` users when there are any, else the SQL user store.
//! 3. The gateway is assembled, the signal handlers installed, the listener bound; then the
//!    address is printed on stdout (`listening on http://ADDR`). Every security event (logins,
//!    logouts, failures, lockouts, refusals, blocks, tokens issued and revoked…) is logged on
//!    stderr as one structured line ([`log_event`]).
//! 4. SIGHUP re-reads the settings file: new rules and users apply to the next request; an
//!    unusable file is reported on stderr and the settings in force are kept.
//! 5. SIGTERM/SIGINT: no new connection is accepted, requests in flight finish (at most
//!    `gateway.shutdown_timeout`), then the command exits 0.

mod demo;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use portcullis::auth::AuthUser;
use portcullis::events::{log_event, EventBus};
use portcullis::gateway::{Gateway, GatewayUsers, SettingsUsers};
use portcullis::jwt::JwtSubject;
use portcullis::settings::{Settings, SettingsSource};
use portcullis::users::SqlUserStore;

use crate::Failure;

/// Arguments of `serve`.
#[derive(Args)]
pub(crate) struct Serve {
    /// The settings file (TOML), re-read on SIGHUP; default: the file `PORTCULLIS_CONFIG`
    /// names, else the environment alone. `PORTCULLIS_*` variables override it.
    #[arg(long, short, value_name = "FILE", conflicts_with = "demo")]
    config: Option<PathBuf>,
    /// Run a self-contained demo: a built-in echo upstream, demo users, example rules and
    /// token storage in a temporary directory. Nothing to configure.
    #[arg(long)]
    demo: bool,
    /// The address to listen on, instead of `gateway.listen` (e.g. 127.0.0.1:0 for any free
    /// port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

/// Where the settings come from, for the start and every reload.
enum Source {
    File(PathBuf),
    Environment,
}

impl Source {
    fn load(&self) -> Result<Settings, portcullis::Error> {
        let source = match self {
            Source::File(path) => SettingsSource::File(path.clone()),
            Source::Environment => SettingsSource::Defaults,
        };
        Settings::load_with_env(source, std::env::vars())
    }

    fn base_dir(&self) -> Option<&Path> {
        match self {
            Source::File(path) => path.parent().filter(|p| !p.as_os_str().is_empty()),
            Source::Environment => None,
        }
    }
}

/// Runs the gateway until it is told to stop.
pub(crate) fn run(args: Serve) -> Result<String, Failure> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(args))
}

async fn serve(args: Serve) -> Result<String, Failure> {
    let (settings, source, demo) = if args.demo {
        let demo = demo::Demo::start().await?;
        (demo.settings()?, None, Some(demo))
    } else {
        let source = match args
            .config
            .or_else(|| std::env::var_os("PORTCULLIS_CONFIG").map(PathBuf::from))
        {
            Some(path) => Source::File(path),
            None => Source::Environment,
        };
        let settings = source.load().map_err(usage)?;
        if settings.gateway.upstream.is_empty() {
            return Err(Failure::usage(
                "gateway.upstream: required: the URL of the service behind the gateway \
                 (give a settings file with --config FILE, or try --demo)",
            ));
        }
        (settings, Some(source), None)
    };
    let running = Running {
        listen: args.listen.unwrap_or(settings.gateway.listen),
        source,
        demo,
    };
    match user_store(&settings)? {
        UserStore::Settings => {
            let users = SettingsUsers::from_settings(&settings).map_err(usage)?;
            running.run(settings, Arc::new(users)).await
        }
        UserStore::Sql => {
            let base = running
                .source
                .as_ref()
                .and_then(Source::base_dir)
                .unwrap_or(Path::new("."));
            let users = SqlUserStore::from_settings_in(&settings, base)
                .await
                .map_err(usage)?;
            if let Some(demo) = &running.demo {
                demo.seed(&users).await?;
            }
            running.run(settings, Arc::new(users)).await
        }
    }
}

fn usage(error: portcullis::Error) -> Failure {
    Failure::usage(error.to_string())
}

/// The user stores the gateway can run on.
enum UserStore {
    /// `basic_auth.users`.
    Settings,
    /// The SQL user store of `users`.
    Sql,
}

/// Which user store `authentication.user_service` names: `basic_auth`, `users`, or `""` —
/// the `basic_auth` users when there are any, else the SQL user store.
fn user_store(settings: &Settings) -> Result<UserStore, Failure> {
    match settings.authentication.user_service.as_str() {
        "basic_auth" => Ok(UserStore::Settings),
        "users" => Ok(UserStore::Sql),
        "" if !settings.basic_auth.users.is_empty() => Ok(UserStore::Settings),
        "" => Ok(UserStore::Sql),
        other => Err(Failure::usage(format!(
            "authentication.user_service: {other:?} is not a user store the gateway knows: \
             use \"basic_auth\" (the users of the settings) or \"users\" (the SQL user store)"
        ))),
    }
}

/// What the gateway runs with, besides its settings and users.
struct Running {
    listen: SocketAddr,
    source: Option<Source>,
    demo: Option<demo::Demo>,
}

impl Running {
    /// Builds the gateway, prints where it listens, and serves until told to stop.
    async fn run<U>(
        self,
        settings: Settings,
        users: Arc<dyn GatewayUsers<User = U>>,
    ) -> Result<String, Failure>
    where
        U: AuthUser + JwtSubject + Clone,
    {
        let shutdown_timeout = settings.gateway.shutdown_timeout;
        let upstream = settings.gateway.upstream.clone();
        let mut builder = Gateway::builder(settings, users).events(EventBus::new().on(log_event));
        if let Some(dir) = self.source.as_ref().and_then(Source::base_dir) {
            builder = builder.base_dir(dir);
        }
        let gateway = builder.build().await.map_err(usage)?;

        let signals = signals::Signals::install()
            .map_err(|e| Failure::usage(format!("cannot install signal handlers: {e}")))?;
        let listen = self.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Failure::usage(format!("cannot listen on {listen}: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| Failure::usage(format!("cannot listen on {listen}: {e}")))?;

        println!("portcullis gateway listening on http://{address}");
        println!("  upstream: {upstream}");
        if let Some(demo) = &self.demo {
            println!("{}", demo.banner(address));
        }

        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = gateway.serve(listener, async move {
            let _ = stopped.await;
        });
        tokio::pin!(server);
        let reloads = signals::reload_on_hangup(signals.hangup, gateway.clone(), self.source);
        tokio::pin!(reloads);
        tokio::select! {
            result = &mut server => {
                result.map_err(|e| Failure::usage(format!("the server failed: {e}")))?;
            }
            () = &mut reloads => {}
            () = signals.terminate => {
                eprintln!("portcullis: shutting down: finishing the requests in flight");
                let _ = stop.send(());
                match tokio::time::timeout(shutdown_timeout, &mut server).await {
                    Ok(result) => {
                        result.map_err(|e| Failure::usage(format!("the server failed: {e}")))?;
                    }
                    Err(_) => eprintln!(
                        "portcullis: gateway.shutdown_timeout reached: cutting off the remaining requests"
                    ),
                }
            }
        }
        Ok("portcullis: stopped".to_owned())
    }
}

/// Logs to stderr; `PORTCULLIS_LOG` sets the level (`error`, `warn`, `info`, `debug`,
/// `trace`; default `info`).
fn init_logging() {
    let level = std::env::var("PORTCULLIS_LOG")
        .ok()
        .and_then(|level| level.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Signal handling: installed before the address is printed, so that a signal sent as soon
/// as the gateway is up is never the default action (SIGHUP would kill the process).
mod signals {
    use std::future::Future;
    use std::pin::Pin;

    use portcullis::auth::AuthUser;
    use portcullis::gateway::Gateway;
    use portcullis::jwt::JwtSubject;

    use super::Source;

    /// A future that completes on a signal.
    pub(super) type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

    /// The installed handlers.
    pub(super) struct Signals {
        /// SIGTERM or SIGINT.
        pub(super) terminate: Signal,
        /// Every SIGHUP.
        pub(super) hangup: Hangup,
    }

    #[cfg(unix)]
    pub(super) type Hangup = tokio::signal::unix::Signal;
    #[cfg(not(unix))]
    pub(super) type Hangup = ();

    impl Signals {
        #[cfg(unix)]
        pub(super) fn install() -> std::io::Result<Self> {
            use tokio::signal::unix::{signal, SignalKind};
            let mut terminate = signal(SignalKind::terminate())?;
            let mut interrupt = signal(SignalKind::interrupt())?;
            let hangup = signal(SignalKind::hangup())?;
            Ok(Signals {
                terminate: Box::pin(async move {
                    tokio::select! {
                        _ = terminate.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }),
                hangup,
            })
        }

        #[cfg(not(unix))]
        pub(super) fn install() -> std::io::Result<Self> {
            Ok(Signals {
                terminate: Box::pin(async {
                    let _ = tokio::signal::ctrl_c().await;
                }),
                hangup: (),
            })
        }
    }

    /// Reloads the gateway on every SIGHUP; never completes.
    #[cfg(unix)]
    pub(super) async fn reload_on_hangup<U: AuthUser + JwtSubject + Clone>(
        mut hangup: Hangup,
        gateway: Gateway<U>,
        source: Option<Source>,
    ) {
        while hangup.recv().await.is_some() {
            let Some(source) = &source else {
                eprintln!("portcullis: SIGHUP: the demo has no settings file to re-read");
                continue;
            };
            let reloaded = match source.load() {
                Ok(settings) => gateway.reload(settings).await,
                Err(error) => Err(error),
            };
            match reloaded {
                Ok(reloaded) => {
                    eprintln!(
                        "portcullis: reloaded: {} rules, {} modules",
                        reloaded.rules, reloaded.modules
                    );
                    for section in reloaded.needs_restart {
                        eprintln!(
                            "portcullis: [{section}] changed: restart the gateway to apply it"
                        );
                    }
                }
                Err(error) => {
                    eprintln!("portcullis: reload refused, the settings in force are kept: {error}")
                }
            }
        }
        std::future::pending::<()>().await;
    }

    /// No SIGHUP here: never completes.
    #[cfg(not(unix))]
    pub(super) async fn reload_on_hangup(_: Hangup, _: Gateway<BasicUser>, _: Option<Source>) {
        std::future::pending::<()>().await;
    }
}
