//! `portcullis users add | list | remove | passwd | grant | revoke | disable | enable |
//! migrate`: the SQL user store of a settings file (`[users]`; `PORTCULLIS_…` variables
//! override the file, so a database password can stay out of it).
//!
//! Passwords are read from standard input when it is not a terminal (its first line), or
//! with `--password-stdin`; at a terminal they are prompted for twice, without echo. They
//! never appear in arguments, output or errors.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use portcullis::settings::{Settings, SettingsSource};
use portcullis::users::{Access, NewUser, SqlUserStore, StoredUser, PASSWORD_CAP, SCHEMA_VERSION};
use portcullis::Error;

use crate::Failure;

/// The users subcommands.
#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user. The password comes from standard input (first line) when it is not a
    /// terminal, else from a prompt without echo.
    Add(Add),
    /// List the users, without password material: a table, or JSON with --json.
    List(List),
    /// Remove a user.
    Remove(Named),
    /// Set a user's password (read as for `add`).
    Passwd(Passwd),
    /// Give a user roles and/or permissions.
    Grant(Change),
    /// Take roles and/or permissions from a user.
    Revoke(Change),
    /// Disable a user: they cannot log in, and their tokens stop working.
    Disable(Named),
    /// Enable a disabled user.
    Enable(Named),
    /// Create or upgrade the user tables (needed when users.auto_migrate is off).
    Migrate(Config),
}

/// The settings file.
#[derive(Args)]
pub(crate) struct Config {
    /// The settings file (TOML); its `[users]` section names the database.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

/// A command on one user.
#[derive(Args)]
pub(crate) struct Named {
    #[command(flatten)]
    config: Config,
    /// The username (case is ignored).
    name: String,
}

/// Arguments of `users add`.
#[derive(Args)]
pub(crate) struct Add {
    #[command(flatten)]
    config: Config,
    /// The username: 1 to 64 ASCII letters, digits and . _ - @ +.
    name: String,
    /// Roles, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,…")]
    roles: Vec<String>,
    /// Permissions, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "PERMISSION,…")]
    permissions: Vec<String>,
    /// First name.
    #[arg(long, default_value = "")]
    first_name: String,
    /// Last name.
    #[arg(long, default_value = "")]
    last_name: String,
    /// Email address.
    #[arg(long, default_value = "")]
    email: String,
    /// Read the password from standard input even when it is a terminal.
    #[arg(long, conflicts_with = "hash_stdin")]
    password_stdin: bool,
    /// Read an existing password hash from standard input instead (Argon2, bcrypt, or a
    /// cbsecurity hex digest): to import users; upgraded to Argon2id at their first login.
    #[arg(long)]
    hash_stdin: bool,
}

/// Arguments of `users list`.
#[derive(Args)]
pub(crate) struct List {
    #[command(flatten)]
    config: Config,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `users passwd`.
#[derive(Args)]
pub(crate) struct Passwd {
    #[command(flatten)]
    user: Named,
    /// Read the password from standard input even when it is a terminal.
    #[arg(long)]
    password_stdin: bool,
}

/// Arguments of `users grant` and `users revoke`.
#[derive(Args)]
pub(crate) struct Change {
    #[command(flatten)]
    user: Named,
    /// Roles, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,…")]
    roles: Vec<String>,
    /// Permissions, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "PERMISSION,…")]
    permissions: Vec<String>,
}

impl Change {
    fn access(&self) -> Result<Access, Failure> {
        let access =
            Access::roles(trimmed(&self.roles)).and_permissions(trimmed(&self.permissions));
        if access.is_empty() {
            return Err(Failure::usage("give --roles and/or --permissions"));
        }
        Ok(access)
    }
}

/// Runs a users subcommand, returning what to print.
pub(crate) async fn run(command: UsersCommand) -> Result<String, Failure> {
    match command {
        UsersCommand::Add(args) => add(args).await,
        UsersCommand::List(args) => list(args).await,
        UsersCommand::Remove(user) => {
            let store = open(&user.config, false).await?;
            store.remove(&user.name).await.map_err(failure)?;
            Ok(format!("removed user {:?}", user.name))
        }
        UsersCommand::Passwd(args) => {
            let store = open(&args.user.config, false).await?;
            let password = read_password(&args.user.name, args.password_stdin)?;
            store
                .set_password(&args.user.name, &password)
                .await
                .map_err(failure)?;
            Ok(format!("changed the password of {:?}", args.user.name))
        }
        UsersCommand::Grant(args) => {
            let store = open(&args.user.config, false).await?;
            let user = store.grant(&args.user.name, &args.access()?).await;
            user.map(|u| access_line(&u)).map_err(failure)
        }
        UsersCommand::Revoke(args) => {
            let store = open(&args.user.config, false).await?;
            let user = store.revoke(&args.user.name, &args.access()?).await;
            user.map(|u| access_line(&u)).map_err(failure)
        }
        UsersCommand::Disable(user) => {
            let store = open(&user.config, false).await?;
            store.disable(&user.name).await.map_err(failure)?;
            Ok(format!("disabled user {:?}", user.name))
        }
        UsersCommand::Enable(user) => {
            let store = open(&user.config, false).await?;
            store.enable(&user.name).await.map_err(failure)?;
            Ok(format!("enabled user {:?}", user.name))
        }
        UsersCommand::Migrate(config) => {
            let store = open(&config, true).await?;
            store.close().await;
            Ok(format!(
                "the user tables are at schema version {SCHEMA_VERSION}"
            ))
        }
    }
}

/// The store of the settings file `config` (its environment applied); relative SQLite paths
/// are taken from the file's directory. `migrate` applies migrations whatever
/// `users.auto_migrate` says.
async fn open(config: &Config, migrate: bool) -> Result<SqlUserStore, Failure> {
    let source = SettingsSource::File(config.config.clone());
    let mut settings = Settings::load_with_env(source, std::env::vars()).map_err(failure)?;
    if migrate {
        settings.users.auto_migrate = true;
    }
    let base = config
        .config
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    SqlUserStore::from_settings_in(&settings, base)
        .await
        .map_err(failure)
}

async fn add(args: Add) -> Result<String, Failure> {
    let store = open(&args.config, false).await?;
    let new = if args.hash_stdin {
        NewUser::with_hash(&args.name, read_stdin("password hash")?.trim())
    } else {
        NewUser::new(&args.name, read_password(&args.name, args.password_stdin)?)
    };
    let new = new
        .roles(trimmed(&args.roles))
        .permissions(trimmed(&args.permissions))
        .first_name(args.first_name)
        .last_name(args.last_name)
        .email(args.email);
    let user = store.add(new).await.map_err(failure)?;
    Ok(format!("added user {:?} (id {})", user.username, user.id))
}

async fn list(args: List) -> Result<String, Failure> {
    let store = open(&args.config, false).await?;
    let users = store.list().await.map_err(failure)?;
    if args.json {
        return serde_json::to_string_pretty(&users)
            .map_err(|e| Failure::usage(format!("cannot print JSON: {e}")));
    }
    if users.is_empty() {
        return Ok("no users".to_owned());
    }
    let mut rows = vec![[
        "USERNAME",
        "ROLES",
        "PERMISSIONS",
        "STATUS",
        "PASSWORD",
        "ID",
    ]
    .map(str::to_owned)];
    for user in &users {
        let scheme = serde_json::to_value(user.password_scheme)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let status = if user.disabled { "disabled" } else { "enabled" };
        rows.push([
            user.username.clone(),
            joined(&user.roles),
            joined(&user.permissions),
            status.to_owned(),
            scheme,
            user.id.clone(),
        ]);
    }
    Ok(table(&rows))
}

/// Rows as left-aligned columns two spaces apart.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let lines = rows.iter().map(|row| {
        let cells = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"));
        cells.collect::<Vec<_>>().join("  ").trim_end().to_owned()
    });
    lines.collect::<Vec<_>>().join("\n")
}

fn joined(names: &[String]) -> String {
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(",")
    }
}

fn trimmed(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

fn access_line(user: &StoredUser) -> String {
    format!(
        "user {:?}: roles {}; permissions {}",
        user.username,
        joined(&user.roles),
        joined(&user.permissions)
    )
}

/// How a store error ends the command: 1 when the operation is refused (the user exists or
/// not, a value is out of bounds), 2 for a configuration error, 3 when the database cannot
/// be reached.
fn failure(err: Error) -> Failure {
    match err {
        Error::Unavailable { .. } => Failure::unavailable(err.to_string()),
        Error::Config { .. } | Error::Io { .. } => Failure::usage(err.to_string()),
        other => Failure::refused(format!("error: {other}")),
    }
}

/// `name`'s new password: standard input's first line when asked or when it is not a
/// terminal; else prompted for twice without echo.
fn read_password(name: &str, from_stdin: bool) -> Result<String, Failure> {
    if from_stdin || !std::io::stdin().is_terminal() {
        return read_stdin("password");
    }
    let prompt = |text: String| {
        rpassword::prompt_password(text)
            .map_err(|e| Failure::usage(format!("cannot read the password: {e}")))
    };
    let password = prompt(format!("Password for {name:?}: "))?;
    if prompt("Repeat it: ".to_owned())? != password {
        return Err(Failure::refused("error: the two passwords differ"));
    }
    Ok(password)
}

/// The first line of standard input (without its line ending), read up to a bound.
fn read_stdin(what: &str) -> Result<String, Failure> {
    let limit = u64::try_from(PASSWORD_CAP * 4 + 2).unwrap_or(u64::MAX);
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::usage(format!("cannot read the {what} from standard input: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::usage(format!("the {what} on standard input is not UTF-8")))?;
    let line = text.split('\n').next().unwrap_or_default();
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err(Failure::usage(format!("no {what} on standard input")));
    }
    Ok(line.to_owned())
}
