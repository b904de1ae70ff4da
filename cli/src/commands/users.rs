//! `kohakuriver users …`: accounts, roles, activation, passwords (admins;
//! operators may list and show).

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Context, print_list, user_id};
use crate::{output, prompt};

/// `kohakuriver users …`
#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// List users, newest first
    List {
        /// Show at most this many users (default: all)
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show one user
    Show {
        /// Username or numeric id
        user: String,
    },
    /// Create a user (admins)
    Create(CreateArgs),
    /// Change a user's role (admins)
    Role {
        /// Username or numeric id
        user: String,
        /// The new role: viewer, user, operator or admin
        role: String,
    },
    /// Reactivate a disabled user (admins)
    Enable {
        /// Username or numeric id
        user: String,
    },
    /// Disable a user: their sessions end and their tokens stop working (admins)
    Disable {
        /// Username or numeric id
        user: String,
    },
    /// Delete a user for good (admins)
    Delete {
        /// Username or numeric id
        user: String,
        /// Do not ask for confirmation
        #[arg(long, short)]
        yes: bool,
    },
    /// Set a new password for a user, ending their sessions (admins)
    ResetPassword(PasswordArgs),
    /// Clear a user's login lockout (admins)
    Unlock {
        /// Username or numeric id
        user: String,
    },
    /// Remove every second factor of a user who lost their device (TOTP, recovery codes, passkeys); their sessions end (admins)
    MfaReset {
        /// Username or numeric id
        user: String,
        /// Do not ask for confirmation
        #[arg(long, short)]
        yes: bool,
    },
}

/// `kohakuriver users create`
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The new user's name
    username: String,
    /// The role: viewer, user, operator or admin
    #[arg(long, default_value = "user")]
    role: String,
    /// Password; visible in shell history, so meant for scripts only (prefer the prompt or --password-stdin)
    #[arg(short, long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password as one line from stdin
    #[arg(long)]
    password_stdin: bool,
}

/// `kohakuriver users reset-password`
#[derive(Args, Debug)]
pub struct PasswordArgs {
    /// Username or numeric id
    user: String,
    /// The new password; visible in shell history, so meant for scripts only
    #[arg(short, long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the new password as one line from stdin
    #[arg(long)]
    password_stdin: bool,
}

fn new_password(given: Option<String>, from_stdin: bool) -> Result<String> {
    match (given, from_stdin) {
        (Some(p), _) => Ok(p),
        (None, true) => prompt::stdin_line("password"),
        (None, false) => prompt::new_secret("New password"),
    }
}

/// Runs a `users` command.
pub async fn run(ctx: &Context, cmd: UsersCommand) -> Result<()> {
    match cmd {
        UsersCommand::List { limit } => {
            let users = ctx.client.list("/api/auth/users", &[], limit).await?;
            print_list(
                ctx,
                users,
                &["ID", "USERNAME", "ROLE", "ACTIVE", "GROUPS", "SESSIONS", "LAST LOGIN"],
                &["id", "username", "role", "is_active", "groups", "active_sessions", "last_login_at"],
            )
        }
        UsersCommand::Show { user } => {
            let id = user_id(ctx, &user).await?;
            let found = ctx.client.get(&format!("/api/auth/users/{id}")).await?;
            show(ctx, &found)
        }
        UsersCommand::Create(args) => {
            let password = new_password(args.password, args.password_stdin)?;
            let body = json!({"username": args.username, "password": password, "role": args.role});
            let answer = ctx.client.post("/api/auth/register", Some(&body)).await?;
            let user = &answer["user"];
            output::message(
                ctx.json,
                &answer,
                &format!(
                    "Created user {} (id {}, {}).",
                    output::cell(&user["username"]),
                    user["id"],
                    output::cell(&user["role"])
                ),
            )
        }
        UsersCommand::Role { user, role } => {
            let id = user_id(ctx, &user).await?;
            let updated = ctx.client.put(&format!("/api/auth/users/{id}/role"), Some(&json!({"role": role}))).await?;
            changed(
                ctx,
                &updated,
                &format!("{} is now {}.", output::cell(&updated["username"]), output::cell(&updated["role"])),
            )
        }
        UsersCommand::Enable { user } => set_active(ctx, &user, true).await,
        UsersCommand::Disable { user } => set_active(ctx, &user, false).await,
        UsersCommand::Delete { user, yes } => {
            let id = user_id(ctx, &user).await?;
            if !yes && !prompt::confirm(&format!("Delete user {user} (id {id})?"))? {
                return output::line("Not deleted.");
            }
            let answer = ctx.client.delete(&format!("/api/auth/users/{id}")).await?;
            output::message(ctx.json, &answer, &format!("Deleted user {user}."))
        }
        UsersCommand::ResetPassword(args) => {
            let id = user_id(ctx, &args.user).await?;
            let password = new_password(args.password, args.password_stdin)?;
            let answer = ctx
                .client
                .post(&format!("/api/auth/users/{id}/password"), Some(&json!({"password": password})))
                .await?;
            output::message(ctx.json, &answer, &format!("Password of {} reset.", args.user))
        }
        UsersCommand::Unlock { user } => {
            let id = user_id(ctx, &user).await?;
            let answer = ctx.client.post(&format!("/api/auth/users/{id}/unlock"), None).await?;
            output::message(ctx.json, &answer, &format!("Unlocked {user}."))
        }
        UsersCommand::MfaReset { user, yes } => {
            let id = user_id(ctx, &user).await?;
            let question = format!("Remove every second factor of {user} (id {id}) and end their sessions?");
            if !yes && !prompt::confirm(&question)? {
                return output::line("Nothing removed.");
            }
            let answer = ctx.client.delete(&format!("/api/auth/users/{id}/mfa")).await?;
            output::message(
                ctx.json,
                &answer,
                &format!(
                    "Removed every second factor of {user}; they log in with their password alone until they enrol again."
                ),
            )
        }
    }
}

async fn set_active(ctx: &Context, user: &str, active: bool) -> Result<()> {
    let id = user_id(ctx, user).await?;
    let updated = ctx.client.patch(&format!("/api/auth/users/{id}"), &json!({"is_active": active})).await?;
    let state = if active { "enabled" } else { "disabled" };
    changed(ctx, &updated, &format!("{} {state}.", output::cell(&updated["username"])))
}

fn changed(ctx: &Context, user: &Value, text: &str) -> Result<()> {
    if ctx.json {
        return output::json(user);
    }
    output::line(text)
}

fn show(ctx: &Context, user: &Value) -> Result<()> {
    if ctx.json {
        return output::json(user);
    }
    let keys = [
        "id",
        "username",
        "display_name",
        "role",
        "is_active",
        "groups",
        "created_at",
        "last_login_at",
        "last_seen_at",
        "active_sessions",
    ];
    let mut pairs: Vec<(&str, String)> =
        keys.iter().filter(|k| user.get(**k).is_some()).map(|k| (*k, output::cell(&user[*k]))).collect();
    if let Some(mfa) = user.get("mfa") {
        pairs.push(("second factors", factors(mfa)));
    }
    output::fields(&pairs)
}

/// `{totp, passkeys}` (which factors a user has, never their secrets) in words.
fn factors(mfa: &Value) -> String {
    let mut names = Vec::new();
    if mfa["totp"].as_bool() == Some(true) {
        names.push("authenticator app".to_owned());
    }
    match mfa["passkeys"].as_u64() {
        Some(0) | None => {}
        Some(1) => names.push("1 passkey".to_owned()),
        Some(n) => names.push(format!("{n} passkeys")),
    }
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}
