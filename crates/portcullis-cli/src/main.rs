//! The `portcullis` command: the security gateway, and token tools for people who debug
//! tokens.
//!
//! ```text
//! portcullis serve [--config FILE | --demo] [--listen ADDR]
//! portcullis gen-secret [--bytes N]
//! portcullis token create --alg ALG (--secret S | --secret-file F | --key FILE) [options]
//! portcullis token verify --alg ALG (--secret S | --secret-file F | --key FILE) [options] TOKEN
//! portcullis token decode TOKEN
//! portcullis rules check --config FILE
//! portcullis rules explain --config FILE [--ip IP] [--user U] [--route TEMPLATE] METHOD PATH
//! portcullis users add|list|remove|passwd|grant|revoke|disable|enable|migrate --config FILE …
//! ```
//!
//! Exit status: 0 on success, 1 when a token or a user operation is refused, 2 for a usage or
//! configuration error, 3 when a database cannot be reached.

mod keys;
mod rules;
mod secret;
mod serve;
mod token;
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The security layer in front of your service: token tools and the gateway.
#[derive(Parser)]
#[command(name = "portcullis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the security gateway in front of `gateway.upstream` (or a self-contained demo).
    Serve(serve::Serve),
    /// Print a new random secret for HS256/384/512, base64url-encoded.
    GenSecret(secret::GenSecret),
    /// Create, verify or decode JSON Web Tokens.
    #[command(subcommand)]
    Token(Box<token::TokenCommand>),
    /// Check the firewall's rules, or explain what they do with a request.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Manage the users of the SQL user store ([users] settings).
    #[command(subcommand)]
    Users(users::UsersCommand),
}

/// A runtime for the commands that read databases or rule providers.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))
}

/// How a command ended: the exit status and what to print on stderr.
pub(crate) struct Failure {
    status: u8,
    message: String,
}

impl Failure {
    /// A usage or configuration error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            status: 2,
            message: format!("error: {}", message.into()),
        }
    }

    /// A database that cannot be reached (exit 3).
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Failure {
            status: 3,
            message: format!("error: {}", message.into()),
        }
    }

    /// A refused token (exit 1): one line naming the error kind and reason.
    pub(crate) fn refused(message: impl Into<String>) -> Self {
        Failure {
            status: 1,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::GenSecret(args) => secret::run(&args),
        Command::Token(command) => token::run(*command),
        Command::Rules(command) => runtime().and_then(|rt| rt.block_on(rules::run(command))),
        Command::Users(command) => runtime().and_then(|rt| rt.block_on(users::run(command))),
    };
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("{}", failure.message);
            ExitCode::from(failure.status)
        }
    }
}
