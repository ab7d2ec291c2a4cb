//! `portcullis token create | verify | decode`.

use std::io::Read;
use std::time::Duration;

use clap::{Args, Subcommand};
use portcullis::jwt::{dangerous, Algorithm, JwtVerifier, TokenBuilder, Validation};
use portcullis::Error;
use serde_json::Value;

use crate::keys::KeyArgs;
use crate::Failure;

/// The issuer used when `--iss` is not given (the library's default for an empty
/// `jwt.issuer`).
const DEFAULT_ISSUER: &str = "portcullis";

/// The token subcommands.
#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Sign a new token and print it.
    Create(Create),
    /// Verify a token (signature and claims) and print its payload as JSON.
    Verify(Verify),
    /// Print a token's header and payload WITHOUT verifying anything.
    Decode(Decode),
}

/// Arguments of `token create`.
#[derive(Args)]
pub(crate) struct Create {
    /// Algorithm: HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA.
    #[arg(long, value_parser = parse_alg)]
    alg: Algorithm,
    #[command(flatten)]
    key: KeyArgs,
    /// Key id put in the header.
    #[arg(long)]
    kid: Option<String>,
    /// Issuer (`iss`).
    #[arg(long, default_value = DEFAULT_ISSUER)]
    iss: String,
    /// Subject (`sub`), the user's id. Without it the token has no `sub`, which verification
    /// refuses by default.
    #[arg(long)]
    sub: Option<String>,
    /// Audience (`aud`).
    #[arg(long)]
    aud: Option<String>,
    /// Space-separated scopes (`scope`).
    #[arg(long, default_value = "")]
    scope: String,
    /// Lifetime: whole minutes (`60`) or a literal (`90s`, `15m`, `2h`, `1d`).
    #[arg(long, default_value = "60", value_parser = parse_duration)]
    exp: Duration,
    /// A custom claim, NAME=JSON (`--claim tenant='"acme"'`, `--claim level=3`); a value that
    /// is not JSON is taken as a string (`--claim role=admin`). Repeatable.
    #[arg(long = "claim", value_name = "NAME=JSON", value_parser = parse_claim)]
    claims: Vec<(String, Value)>,
    /// Make a refresh token instead of an access token.
    #[arg(long)]
    refresh: bool,
}

/// Arguments of `token verify`.
#[derive(Args)]
pub(crate) struct Verify {
    /// The algorithm the key is bound to; the token's header cannot change it.
    #[arg(long, value_parser = parse_alg)]
    alg: Algorithm,
    #[command(flatten)]
    key: KeyArgs,
    /// Required issuer. Without it `iss` must be present but any value is accepted.
    #[arg(long)]
    iss: Option<String>,
    /// Required audience.
    #[arg(long)]
    aud: Option<String>,
    /// Clock-skew tolerance for `exp` and `nbf`, in seconds.
    #[arg(long, default_value_t = 0)]
    leeway: u64,
    /// Expect a refresh token instead of an access token.
    #[arg(long)]
    refresh: bool,
    /// The token, or `-` to read it from standard input (keeps it out of shell history).
    token: String,
}

/// Arguments of `token decode`.
#[derive(Args)]
pub(crate) struct Decode {
    /// The token, or `-` to read it from standard input.
    token: String,
}

/// Runs a token subcommand, returning what to print.
pub(crate) fn run(command: TokenCommand) -> Result<String, Failure> {
    match command {
        TokenCommand::Create(args) => create(args),
        TokenCommand::Verify(args) => verify(args),
        TokenCommand::Decode(args) => decode(args),
    }
}

fn create(args: Create) -> Result<String, Failure> {
    let mut key = args.key.signing_key(args.alg)?;
    if let Some(kid) = args.kid {
        key = key.with_kid(kid);
    }
    let mut builder = TokenBuilder::new(args.iss, args.sub.clone().unwrap_or_default())
        .expires_in(args.exp)
        .scope(args.scope.split_whitespace());
    if let Some(aud) = args.aud {
        builder = builder.audience(aud);
    }
    if args.refresh {
        builder = builder.refresh();
    }
    for (name, value) in args.claims {
        builder = builder.claim(name, value);
    }
    let mut payload = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
    if args.sub.is_none() {
        payload.remove("sub");
    }
    key.sign(&payload)
        .map_err(|e| Failure::usage(e.to_string()))
}

fn verify(args: Verify) -> Result<String, Failure> {
    let keys = args.key.verifying_keys(args.alg)?;
    let mut validation = Validation::new(args.iss.clone().unwrap_or_default())
        .leeway(Duration::from_secs(args.leeway));
    if args.iss.is_none() {
        validation = dangerous::any_issuer(validation);
    }
    if let Some(aud) = args.aud {
        validation = validation.audience(aud);
    }
    let verifier = JwtVerifier::new(keys, validation).map_err(|e| Failure::usage(e.to_string()))?;
    let token = read_token(&args.token)?;
    let verified = if args.refresh {
        verifier.verify_refresh(&token)
    } else {
        verifier.verify(&token)
    };
    match verified {
        Ok(claims) => Ok(pretty(&claims.to_json())),
        Err(err) => Err(Failure::refused(refusal(&err))),
    }
}

fn decode(args: Decode) -> Result<String, Failure> {
    let token = read_token(&args.token)?;
    let unverified =
        dangerous::decode_unverified(&token).map_err(|err| Failure::refused(refusal(&err)))?;
    eprintln!("warning: UNVERIFIED - the signature and claims were not checked");
    Ok(pretty(&serde_json::json!({
        "verified": false,
        "header": unverified.header,
        "payload": unverified.payload,
    })))
}

/// One line for a refused token: `expired`, `invalid: bad signature`, ….
fn refusal(err: &Error) -> String {
    match err {
        Error::TokenExpired => "expired".to_owned(),
        Error::TokenInvalid { reason } => format!("invalid: {reason}"),
        other => format!("{}: {other}", other.kind()),
    }
}

fn read_token(arg: &str) -> Result<String, Failure> {
    if arg != "-" {
        return Ok(arg.trim().to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("reading the token from standard input: {e}")))?;
    Ok(text.trim().to_owned())
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn parse_alg(text: &str) -> Result<Algorithm, String> {
    text.parse::<Algorithm>().map_err(|err| match err {
        Error::Config { reason, .. } => reason,
        other => other.to_string(),
    })
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    portcullis::settings::duration::parse(text)
}

fn parse_claim(text: &str) -> Result<(String, Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=JSON"))?;
    if name.is_empty() {
        return Err("the claim name is empty".into());
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}
