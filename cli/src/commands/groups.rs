//! `kohakuriver groups …`: groups and memberships (admins change; operators read).

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::{Context, group_id, print_list, user_id};
use crate::output;

/// `kohakuriver groups …`
#[derive(Subcommand, Debug)]
pub enum GroupsCommand {
    /// List groups, oldest first
    List {
        /// Show at most this many groups (default: all)
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Create a group
    Create {
        /// The group's name (unique regardless of case)
        name: String,
        /// A description
        #[arg(long, short)]
        description: Option<String>,
    },
    /// Delete a group (its memberships and VPS assignments go too)
    Delete {
        /// Group name or numeric id
        group: String,
    },
    /// Add a user to a group
    AddMember {
        /// Group name or numeric id
        group: String,
        /// Username or numeric id
        user: String,
    },
    /// Remove a user from a group
    RemoveMember {
        /// Group name or numeric id
        group: String,
        /// Username or numeric id
        user: String,
    },
    /// List a group's members
    Members {
        /// Group name or numeric id
        group: String,
    },
}

/// Runs a `groups` command.
pub async fn run(ctx: &Context, cmd: GroupsCommand) -> Result<()> {
    match cmd {
        GroupsCommand::List { limit } => {
            let groups = ctx.client.list("/api/auth/groups", &[], limit).await?;
            print_list(
                ctx,
                groups,
                &["ID", "NAME", "MEMBERS", "DESCRIPTION", "CREATED"],
                &["id", "name", "member_count", "description", "created_at"],
            )
        }
        GroupsCommand::Create { name, description } => {
            let mut body = json!({"name": name});
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            let group = ctx.client.post("/api/auth/groups", Some(&body)).await?;
            let text = format!("Created group {} (id {}).", output::cell(&group["name"]), output::cell(&group["id"]));
            if ctx.json { output::json(&group) } else { output::line(&text) }
        }
        GroupsCommand::Delete { group } => {
            let id = group_id(ctx, &group).await?;
            let answer = ctx.client.delete(&format!("/api/auth/groups/{id}")).await?;
            output::message(ctx.json, &answer, &format!("Deleted group {group}."))
        }
        GroupsCommand::AddMember { group, user } => {
            let gid = group_id(ctx, &group).await?;
            let uid = user_id(ctx, &user).await?;
            let answer = ctx.client.put(&format!("/api/auth/groups/{gid}/members/{uid}"), None).await?;
            output::message(ctx.json, &answer, &format!("Added {user} to {group}."))
        }
        GroupsCommand::RemoveMember { group, user } => {
            let gid = group_id(ctx, &group).await?;
            let uid = user_id(ctx, &user).await?;
            let answer = ctx.client.delete(&format!("/api/auth/groups/{gid}/members/{uid}")).await?;
            output::message(ctx.json, &answer, &format!("Removed {user} from {group}."))
        }
        GroupsCommand::Members { group } => {
            let gid = group_id(ctx, &group).await?;
            let members = ctx.client.list(&format!("/api/auth/groups/{gid}/members"), &[], None).await?;
            print_list(
                ctx,
                members,
                &["ID", "USERNAME", "DISPLAY NAME", "ROLE", "ACTIVE"],
                &["id", "username", "display_name", "role", "is_active"],
            )
        }
    }
}
