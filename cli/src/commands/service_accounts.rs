//! `kohakuriver service-account …`: non-human accounts for automation
//! (admins). They cannot log in; they act only through tokens an admin mints
//! for them here.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use super::tokens::{self, TokenSpec};
use super::{Context, find_id, group_id, print_list, user_id};
use crate::error::{CliError, NOT_FOUND};
use crate::{output, prompt};

/// Where service accounts live.
const ACCOUNTS: &str = "/api/auth/service-accounts";

/// `kohakuriver service-account …`
#[derive(Subcommand, Debug)]
pub enum ServiceAccountCommand {
    /// Create a service account (it has no password and cannot log in)
    Create {
        /// The account's name (unique among all users, regardless of case)
        name: String,
        /// Its role: viewer, user or operator
        #[arg(long)]
        role: String,
        /// The group that owns it (name or numeric id; default: none, the creating admin owns it)
        #[arg(long)]
        group: Option<String>,
        /// A display name
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List the service accounts
    List {
        /// Show at most this many accounts (default: all)
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Delete a service account; its tokens stop working at once
    Delete {
        /// The account's name, or its numeric id
        account: String,
        /// Do not ask for confirmation
        #[arg(long, short)]
        yes: bool,
    },
    /// Mint an API token for a service account; it is printed once and never again
    Token {
        /// The account's name, or its numeric id
        account: String,
        /// A name for the token, unique among the account's tokens
        name: String,
        /// What the token may do and on what, and when it expires
        #[command(flatten)]
        spec: TokenSpec,
    },
}

/// Runs a `service-account` command.
pub async fn run(ctx: &Context, cmd: ServiceAccountCommand) -> Result<()> {
    match cmd {
        ServiceAccountCommand::Create { name, role, group, display_name } => {
            let mut body = json!({"name": name, "role": role});
            if let Some(group) = group {
                body["group_id"] = json!(group_id(ctx, &group).await?);
            }
            if let Some(display_name) = display_name {
                body["display_name"] = json!(display_name);
            }
            let created = ctx.client.post(ACCOUNTS, Some(&body)).await?;
            if ctx.json {
                return output::json(&created);
            }
            output::line(&format!(
                "Created service account {} (id {}, {}). Mint its tokens with `kohakuriver service-account token {} NAME`.",
                output::cell(&created["username"]),
                output::cell(&created["id"]),
                output::cell(&created["role"]),
                output::cell(&created["username"]),
            ))
        }
        ServiceAccountCommand::List { limit } => {
            let mut accounts = ctx.client.list(ACCOUNTS, &[], limit).await?;
            if !ctx.json {
                name_groups(ctx, &mut accounts).await;
            }
            print_list(
                ctx,
                accounts,
                &["ID", "NAME", "DISPLAY NAME", "ROLE", "GROUP", "ACTIVE", "CREATED"],
                &["id", "username", "display_name", "role", "group", "is_active", "created_at"],
            )
        }
        ServiceAccountCommand::Delete { account, yes } => {
            let id = account_id(ctx, &account).await?;
            let question = format!("Delete service account {account} (id {id}) and revoke its tokens?");
            if !yes && !prompt::confirm(&question)? {
                return output::line("Not deleted.");
            }
            let answer = ctx.client.delete(&format!("{ACCOUNTS}/{id}")).await?;
            output::message(ctx.json, &answer, &format!("Deleted service account {account}; its tokens are revoked."))
        }
        ServiceAccountCommand::Token { account, name, spec } => {
            let id = account_id(ctx, &account).await?;
            let created = ctx.client.post(&format!("{ACCOUNTS}/{id}/tokens"), Some(&spec.body(&name))).await?;
            tokens::report_created(ctx, &created, Some(&format!("service account {account}")))
        }
    }
}

/// A service account's id from its name or an id.
pub async fn account_id(ctx: &Context, account: &str) -> Result<u64> {
    if let Ok(id) = account.parse::<u64>() {
        return Ok(id);
    }
    let accounts = ctx.client.list(ACCOUNTS, &[], None).await?;
    find_id(&accounts, "username", account)
        .ok_or_else(|| CliError::new(NOT_FOUND, format!("no service account named {account:?}")).into())
}

/// A token owner's id: a user's (username or id), else a service account's name.
pub async fn owner_id(ctx: &Context, owner: &str) -> Result<u64> {
    match user_id(ctx, owner).await {
        Err(err) if err.downcast_ref::<CliError>().is_some_and(|e| e.exit_code == NOT_FOUND) => {
            account_id(ctx, owner).await.map_err(|_| err)
        }
        other => other,
    }
}

/// Adds a `group` cell (the owning group's name) to each account, for the
/// table. Best effort: without the group list the id is shown.
async fn name_groups(ctx: &Context, accounts: &mut [Value]) {
    if accounts.iter().all(|a| a["group_id"].is_null()) {
        return;
    }
    let groups = ctx.client.list("/api/auth/groups", &[], None).await.unwrap_or_default();
    for account in accounts {
        let id = &account["group_id"];
        let name = groups.iter().find(|g| g["id"] == *id).map_or_else(|| id.clone(), |g| g["name"].clone());
        account["group"] = name;
    }
}
