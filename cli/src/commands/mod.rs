//! The commands: each group in its own file, sharing a [`Context`].

pub mod audit;
pub mod auth;
pub mod groups;
pub mod invites;
pub mod mfa;
pub mod service_accounts;
pub mod sso;
pub mod tasks;
pub mod tokens;
pub mod users;
pub mod vps;

use crate::args::{Cli, Command};
use crate::client::Client;
use crate::credentials::Credentials;
use crate::error::{CliError, NOT_FOUND};
use crate::{output, server};
use anyhow::Result;
use clap::CommandFactory;
use serde_json::Value;

/// The environment variable that overrides the stored token.
pub const TOKEN_ENV: &str = "KOHAKURIVER_TOKEN";

/// What every command gets: the server, its client, the output mode.
pub struct Context {
    /// The normalised server URL (the credentials file's key).
    pub server: String,
    /// A client carrying the configured token, if any.
    pub client: Client,
    /// `--json`.
    pub json: bool,
    /// Where the token came from: `KOHAKURIVER_TOKEN`, the file, or nowhere.
    pub token_source: TokenSource,
}

/// Where the token in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `KOHAKURIVER_TOKEN`.
    Env,
    /// The credentials file.
    File,
    /// No token.
    None,
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut cmd = Cli::command();
        clap_complete::generate(shell, &mut cmd, "kohakuriver", &mut std::io::stdout());
        return Ok(());
    }
    let server = server::resolve(cli.host.as_deref(), cli.port)?;
    let env_token = std::env::var(TOKEN_ENV).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let (token, token_source) = match env_token {
        Some(token) => (Some(token), TokenSource::Env),
        None => match Credentials::load()?.servers.remove(&server) {
            Some(stored) => (Some(stored.token), TokenSource::File),
            None => (None, TokenSource::None),
        },
    };
    let client = Client::new(server.clone(), token)?;
    let ctx = Context { server, client, json: cli.json, token_source };
    match cli.command {
        Command::Auth(cmd) => auth::run(&ctx, cmd).await,
        Command::Users(cmd) => users::run(&ctx, cmd).await,
        Command::Invites(cmd) => invites::run(&ctx, cmd).await,
        Command::Groups(cmd) => groups::run(&ctx, cmd).await,
        Command::ServiceAccount(cmd) => service_accounts::run(&ctx, cmd).await,
        Command::Tasks(cmd) => tasks::run(&ctx, cmd).await,
        Command::Vps(cmd) => vps::run(&ctx, cmd).await,
        Command::Audit(args) => audit::run(&ctx, args).await,
        Command::Completions { .. } => Ok(()),
    }
}

/// A user id from an id or a username (looked up in the users list).
pub async fn user_id(ctx: &Context, user: &str) -> Result<u64> {
    if let Ok(id) = user.parse::<u64>() {
        return Ok(id);
    }
    let users = ctx.client.list("/api/auth/users", &[], None).await?;
    find_id(&users, "username", user).ok_or_else(|| CliError::new(NOT_FOUND, format!("no user named {user:?}")).into())
}

/// A group id from an id or a group name (looked up in the groups list).
pub async fn group_id(ctx: &Context, group: &str) -> Result<u64> {
    if let Ok(id) = group.parse::<u64>() {
        return Ok(id);
    }
    // The caller's own groups first: a group's manager may not list all groups.
    if let Ok(me) = ctx.client.get("/api/auth/me").await
        && let Some(id) = me["groups"].as_array().and_then(|own| find_id(own, "name", group))
    {
        return Ok(id);
    }
    let groups = ctx.client.list("/api/auth/groups", &[], None).await?;
    find_id(&groups, "name", group).ok_or_else(|| CliError::new(NOT_FOUND, format!("no group named {group:?}")).into())
}

/// The `id` of the item whose `key` equals `name` (case-insensitively, as the
/// service compares names).
pub fn find_id(items: &[Value], key: &str, name: &str) -> Option<u64> {
    items.iter().find(|i| i[key].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name))).and_then(|i| i["id"].as_u64())
}

/// Prints a list as JSON or as a table of `keys` under `headers`.
pub fn print_list(ctx: &Context, items: Vec<Value>, headers: &[&str], keys: &[&str]) -> Result<()> {
    if ctx.json {
        return output::json(&Value::Array(items));
    }
    output::table(headers, items.iter().map(|i| output::row(i, keys)).collect())
}
