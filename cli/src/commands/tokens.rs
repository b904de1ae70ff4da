//! `kohakuriver auth token …`: the caller's API tokens.

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::{Context, find_id, print_list};
use crate::error::{CliError, NOT_FOUND};
use crate::output;

/// `kohakuriver auth token …`
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for scripts; it is printed once and never again
    Create {
        /// A name for the token, unique among yours (e.g. my-script-token)
        name: String,
        /// Let the token expire after this many days (1-3650; default: never)
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
    },
    /// List your API tokens (never the secrets)
    List,
    /// Revoke one of your API tokens, by name or id
    Revoke {
        /// The token's name, or its numeric id
        token: String,
    },
}

/// Runs a `token` command.
pub async fn run(ctx: &Context, cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create { name, expires_in_days } => {
            let mut body = json!({"name": name});
            if let Some(days) = expires_in_days {
                body["expires_in_days"] = json!(days);
            }
            let created = ctx.client.post("/api/auth/tokens", Some(&body)).await?;
            if ctx.json {
                return output::json(&created);
            }
            output::line(&output::cell(&created["token"]))?;
            eprintln!(
                "Created token {:?} (id {}, expires {}). It is shown only this once: store it now.",
                output::cell(&created["name"]),
                output::cell(&created["id"]),
                created["expires_at"].as_str().unwrap_or("never")
            );
            Ok(())
        }
        TokenCommand::List => {
            let tokens = ctx.client.list("/api/auth/tokens", &[], None).await?;
            print_list(
                ctx,
                tokens,
                &["ID", "NAME", "PREFIX", "CREATED", "LAST USED", "EXPIRES"],
                &["id", "name", "prefix", "created_at", "last_used_at", "expires_at"],
            )
        }
        TokenCommand::Revoke { token } => {
            let tokens = ctx.client.list("/api/auth/tokens", &[], None).await?;
            let id = match find_id(&tokens, "name", &token) {
                Some(id) => id,
                None => token
                    .parse::<u64>()
                    .map_err(|_| CliError::new(NOT_FOUND, format!("you have no token named {token:?}")))?,
            };
            let answer = ctx.client.delete(&format!("/api/auth/tokens/{id}")).await?;
            output::message(ctx.json, &answer, &format!("Token {token} revoked"))
        }
    }
}
