//! `kohakuriver invite …`: invitation codes (admins; operators may invite viewers).

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::{Context, group_id, print_list};
use crate::output;

/// `kohakuriver invite …`
#[derive(Subcommand, Debug)]
pub enum InviteCommand {
    /// Create an invitation; prints the code and the registration URL (shown only once)
    Create {
        /// Role the invited users get: viewer, user, operator or admin
        #[arg(long, default_value = "user")]
        role: String,
        /// Group the invited users join, by name or id (repeatable)
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// How many registrations the code allows (1-1000; server default 1)
        #[arg(long)]
        max_uses: Option<u32>,
        /// Hours until the code expires (1-720; server default 72)
        #[arg(long)]
        expires_hours: Option<u32>,
    },
    /// List invitations, newest first (codes are never shown again, only their prefix)
    List {
        /// Show at most this many invitations (default: all)
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Revoke an invitation: its code stops working at once
    Revoke {
        /// The invitation's numeric id (see `invite list`)
        id: u64,
    },
}

/// Runs an `invite` command.
pub async fn run(ctx: &Context, cmd: InviteCommand) -> Result<()> {
    match cmd {
        InviteCommand::Create { role, groups, max_uses, expires_hours } => {
            let mut body = json!({"role": role});
            if !groups.is_empty() {
                let mut ids = Vec::new();
                for g in &groups {
                    ids.push(group_id(ctx, g).await?);
                }
                body["group_ids"] = json!(ids);
            }
            if let Some(n) = max_uses {
                body["max_uses"] = json!(n);
            }
            if let Some(h) = expires_hours {
                body["expires_hours"] = json!(h);
            }
            let created = ctx.client.post("/api/auth/invitations", Some(&body)).await?;
            if ctx.json {
                return output::json(&created);
            }
            output::fields(&[
                ("code", output::cell(&created["code"])),
                ("register URL", output::cell(&created["register_url"])),
                ("role", output::cell(&created["role"])),
                ("groups", output::cell(&created["groups"])),
                ("max uses", output::cell(&created["max_uses"])),
                ("expires", output::cell(&created["expires_at"])),
            ])?;
            eprintln!("The code is shown only this once.");
            Ok(())
        }
        InviteCommand::List { limit } => {
            let invitations = ctx.client.list("/api/auth/invitations", &[], limit).await?;
            print_list(
                ctx,
                invitations,
                &["ID", "PREFIX", "ROLE", "GROUPS", "USES", "MAX", "EXPIRES", "VALID", "CREATED BY"],
                &["id", "code_prefix", "role", "groups", "uses", "max_uses", "expires_at", "is_valid", "created_by"],
            )
        }
        InviteCommand::Revoke { id } => {
            let answer = ctx.client.delete(&format!("/api/auth/invitations/{id}")).await?;
            output::message(ctx.json, &answer, &format!("Invitation {id} revoked."))
        }
    }
}
