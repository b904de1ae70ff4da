//! `kohakuriver groups …`: groups and memberships (admins change; operators
//! read; a group's managers read it and change its members).

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
    /// A group's managers: make or unmake them (admin)
    #[command(subcommand)]
    Managers(ManagersCommand),
    /// A group's quota: show limits and usage, or set the limits
    #[command(subcommand)]
    Quota(QuotaCommand),
}

/// `kohakuriver groups managers …` (docs/groups-invitations.md has the model).
#[derive(Subcommand, Debug)]
pub enum ManagersCommand {
    /// Make a user a manager of a group (a member too, if they are not)
    Add {
        /// Group name or numeric id
        group: String,
        /// Username or numeric id
        user: String,
    },
    /// End a user's management of a group (they stay a member)
    Remove {
        /// Group name or numeric id
        group: String,
        /// Username or numeric id
        user: String,
    },
}

/// `kohakuriver groups quota …` (docs/tasks.md has the model).
#[derive(Subcommand, Debug)]
pub enum QuotaCommand {
    /// Show a group's limits and usage (members, operators, admins)
    Show {
        /// Group name or numeric id
        group: String,
    },
    /// Replace a group's limits (admin): a limit not given is unlimited
    Set {
        /// Group name or numeric id
        group: String,
        /// Tasks approved and not yet ended
        #[arg(long)]
        max_active_tasks: Option<u64>,
        /// Cores of the active tasks, in total
        #[arg(long)]
        max_cores: Option<u64>,
        /// GPUs of the active tasks, in total
        #[arg(long)]
        max_gpus: Option<u64>,
        /// Memory of the active tasks, in bytes, in total
        #[arg(long)]
        max_memory_bytes: Option<u64>,
        /// Active VPS
        #[arg(long)]
        max_vps: Option<u64>,
        /// Approve members' tasks that fit the remaining quota at submission
        #[arg(long)]
        auto_approve: Option<bool>,
    },
}

/// A group id from an id or a name, looked up first among the caller's own
/// groups (members below operator may not read the groups list).
async fn own_group_id(ctx: &Context, group: &str) -> Result<u64> {
    if let Ok(id) = group.parse::<u64>() {
        return Ok(id);
    }
    let me = ctx.client.get("/api/auth/me").await?;
    match me["groups"].as_array().and_then(|own| super::find_id(own, "name", group)) {
        Some(id) => Ok(id),
        None => group_id(ctx, group).await,
    }
}

/// Prints a group's limits and usage, one row per resource.
fn print_quota(ctx: &Context, quota: &serde_json::Value) -> Result<()> {
    if ctx.json {
        return output::json(quota);
    }
    let rows = [
        ("active tasks", "max_active_tasks", "active_tasks"),
        ("cores", "max_cores", "cores"),
        ("GPUs", "max_gpus", "gpus"),
        ("memory (bytes)", "max_memory_bytes", "memory_bytes"),
        ("VPS", "max_vps", "vps"),
    ]
    .iter()
    .map(|(name, limit, used)| {
        let limit = &quota["limits"][*limit];
        let limit = if limit.is_null() { "unlimited".to_owned() } else { output::cell(limit) };
        vec![(*name).to_owned(), output::cell(&quota["usage"][*used]), limit]
    })
    .collect();
    output::line(&format!(
        "Group {} (id {}), auto-approve: {}",
        output::cell(&quota["group_name"]),
        output::cell(&quota["group_id"]),
        quota["limits"]["auto_approve"].as_bool().unwrap_or(false)
    ))?;
    output::table(&["RESOURCE", "IN USE", "LIMIT"], rows)
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
                &["ID", "USERNAME", "DISPLAY NAME", "ROLE", "ACTIVE", "MANAGER"],
                &["id", "username", "display_name", "role", "is_active", "manager"],
            )
        }
        GroupsCommand::Managers(ManagersCommand::Add { group, user }) => {
            let gid = group_id(ctx, &group).await?;
            let uid = user_id(ctx, &user).await?;
            let answer = ctx.client.put(&format!("/api/auth/groups/{gid}/managers/{uid}"), None).await?;
            output::message(ctx.json, &answer, &format!("{user} now manages {group}."))
        }
        GroupsCommand::Managers(ManagersCommand::Remove { group, user }) => {
            let gid = group_id(ctx, &group).await?;
            let uid = user_id(ctx, &user).await?;
            let answer = ctx.client.delete(&format!("/api/auth/groups/{gid}/managers/{uid}")).await?;
            output::message(ctx.json, &answer, &format!("{user} no longer manages {group}."))
        }
        GroupsCommand::Quota(QuotaCommand::Show { group }) => {
            let gid = own_group_id(ctx, &group).await?;
            print_quota(ctx, &ctx.client.get(&format!("/api/auth/groups/{gid}/usage")).await?)
        }
        GroupsCommand::Quota(QuotaCommand::Set {
            group,
            max_active_tasks,
            max_cores,
            max_gpus,
            max_memory_bytes,
            max_vps,
            auto_approve,
        }) => {
            let gid = group_id(ctx, &group).await?;
            let body = json!({"max_active_tasks": max_active_tasks, "max_cores": max_cores, "max_gpus": max_gpus,
                "max_memory_bytes": max_memory_bytes, "max_vps": max_vps, "auto_approve": auto_approve});
            print_quota(ctx, &ctx.client.put(&format!("/api/auth/groups/{gid}/quota"), Some(&body)).await?)
        }
    }
}
