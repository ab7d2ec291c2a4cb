//! `portcullis rules check | explain`: the firewall's rules, read from a settings file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use portcullis::auth::{BasicAuthUsers, UserService};
use portcullis::firewall::analysis::RuleAnalysis;
use portcullis::firewall::decision::{decide, Question};
use portcullis::firewall::sources::RuleAssembly;
use portcullis::firewall::Rule;
use portcullis::settings::Settings;

use crate::Failure;

/// The rules subcommands.
#[derive(Subcommand)]
pub(crate) enum RulesCommand {
    /// Load every rule source and report errors, unanchored patterns, patterns that cannot
    /// match and rules shadowed by earlier ones. Exit 1 when a rule cannot work as written.
    Check(Check),
    /// Say which rule applies to a request, and what the verdict and action would be.
    Explain(Explain),
}

/// Arguments of `rules check`.
#[derive(Args)]
pub(crate) struct Check {
    /// The settings file (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

/// Arguments of `rules explain`.
#[derive(Args)]
pub(crate) struct Explain {
    /// The settings file (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The client's address.
    #[arg(long)]
    ip: Option<IpAddr>,
    /// A user of `basic_auth.users`, whose roles and permissions decide; a guest without.
    #[arg(long)]
    user: Option<String>,
    /// The route template the request would match (for `match = "route"` rules).
    #[arg(long)]
    route: Option<String>,
    /// The request method, e.g. GET.
    method: http::Method,
    /// The request path, e.g. /admin/users.
    path: String,
}

/// Runs a rules subcommand, returning what to print.
pub(crate) async fn run(command: RulesCommand) -> Result<String, Failure> {
    match command {
        RulesCommand::Check(args) => check(&args.config).await,
        RulesCommand::Explain(args) => explain(args).await,
    }
}

/// The settings and rules of a file; relative rule files are read next to it.
async fn load(config: &Path) -> Result<(Settings, Vec<Rule>), Failure> {
    let settings = Settings::load(config).map_err(|e| Failure::usage(e.to_string()))?;
    let base = config.parent().unwrap_or(Path::new("."));
    let rules = RuleAssembly::new(&settings.firewall)
        .base_dir(base)
        .load()
        .await
        .map_err(|e| Failure::usage(e.to_string()))?;
    Ok((settings, rules))
}

async fn check(config: &Path) -> Result<String, Failure> {
    let (settings, rules) = load(config).await?;
    let report = RuleAnalysis::new(&rules, settings.firewall.rules.use_regex)
        .map_err(|e| Failure::usage(e.to_string()))?
        .report();
    let summary = format!(
        "{} rules ({} global, {} in {} modules)\n{report}",
        rules.len(),
        rules.iter().filter(|r| r.module().is_none()).count(),
        rules.iter().filter(|r| r.module().is_some()).count(),
        settings.firewall.modules.len(),
    );
    if report.has_errors() {
        Err(Failure::refused(summary.trim_end()))
    } else {
        Ok(summary.trim_end().to_owned())
    }
}

async fn explain(args: Explain) -> Result<String, Failure> {
    let (settings, rules) = load(&args.config).await?;
    let user = match &args.user {
        None => None,
        Some(name) => {
            let users = BasicAuthUsers::from_settings(&settings.basic_auth)
                .map_err(|e| Failure::usage(e.to_string()))?;
            let user = users
                .retrieve_user_by_username(name)
                .await
                .map_err(|e| Failure::usage(e.to_string()))?
                .ok_or_else(|| {
                    Failure::usage(format!("--user: no user {name:?} in basic_auth.users"))
                })?;
            Some(user)
        }
    };
    let question = Question {
        method: args.method.clone(),
        path: &args.path,
        route: args.route.as_deref(),
        ip: args.ip,
        user: user.as_ref().map(|u| u as &dyn portcullis::auth::AuthUser),
    };
    let decision =
        decide(&settings.firewall, &rules, &question).map_err(|e| Failure::usage(e.to_string()))?;
    let who = args.user.as_deref().unwrap_or("a guest");
    let from = args
        .ip
        .map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
    Ok(format!(
        "{} {} as {who} from {from}\n{decision}",
        args.method, args.path
    )
    .trim_end()
    .to_owned())
}
