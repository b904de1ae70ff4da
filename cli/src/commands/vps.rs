//! `kohakuriver vps …`: who may use which VPS.

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::json;

use super::tasks::segment;
use super::{Context, group_id, print_list, user_id};
use crate::output;

/// `kohakuriver vps …`
#[derive(Subcommand, Debug)]
pub enum VpsCommand {
    /// Give users and groups access to a VPS (operators)
    Assign {
        /// The VPS (task) id
        vps: String,
        /// A user to assign, by username or id (repeatable)
        #[arg(long = "user", value_name = "USER")]
        users: Vec<String>,
        /// A group to assign, by name or id (repeatable)
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Take access to a VPS away from users and groups (operators)
    Unassign {
        /// The VPS (task) id
        vps: String,
        /// A user to unassign, by username or id (repeatable)
        #[arg(long = "user", value_name = "USER")]
        users: Vec<String>,
        /// A group to unassign, by name or id (repeatable)
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Show who is assigned to a VPS (operators)
    Assignments {
        /// The VPS (task) id
        vps: String,
    },
    /// List the VPS you own or are assigned to, directly or through a group
    My,
}

/// Runs a `vps` command.
pub async fn run(ctx: &Context, cmd: VpsCommand) -> Result<()> {
    match cmd {
        VpsCommand::Assign { vps, users, groups } => {
            let (user_ids, group_ids) = resolve(ctx, &users, &groups).await?;
            let body = json!({"user_ids": user_ids, "group_ids": group_ids});
            let answer = ctx.client.post(&format!("/api/vps/{}/assign", segment(&vps)), Some(&body)).await?;
            output::message(ctx.json, &answer, &format!("Assigned to VPS {vps}."))
        }
        VpsCommand::Unassign { vps, users, groups } => {
            let (user_ids, group_ids) = resolve(ctx, &users, &groups).await?;
            let mut answers = Vec::new();
            for id in &user_ids {
                answers.push(ctx.client.delete(&format!("/api/vps/{}/assign/{id}", segment(&vps))).await?);
            }
            for id in &group_ids {
                answers.push(ctx.client.delete(&format!("/api/vps/{}/assign/group/{id}", segment(&vps))).await?);
            }
            if ctx.json {
                return output::json(
                    &json!({"task_id": vps, "unassigned_users": user_ids, "unassigned_groups": group_ids, "results": answers}),
                );
            }
            for answer in &answers {
                output::line(answer["message"].as_str().unwrap_or("Unassigned."))?;
            }
            Ok(())
        }
        VpsCommand::Assignments { vps } => {
            let answer = ctx.client.get(&format!("/api/vps/{}/assignments", segment(&vps))).await?;
            if ctx.json {
                return output::json(&answer);
            }
            let mut rows: Vec<Vec<String>> = Vec::new();
            for a in answer["assignments"].as_array().into_iter().flatten() {
                rows.push(vec![
                    "user".to_owned(),
                    output::cell(&a["user_id"]),
                    output::cell(&a["username"]),
                    output::cell(&a["assigned_at"]),
                ]);
            }
            for a in answer["group_assignments"].as_array().into_iter().flatten() {
                rows.push(vec![
                    "group".to_owned(),
                    output::cell(&a["group_id"]),
                    output::cell(&a["name"]),
                    output::cell(&a["assigned_at"]),
                ]);
            }
            output::table(&["KIND", "ID", "NAME", "ASSIGNED"], rows)
        }
        VpsCommand::My => {
            let list = ctx.client.list("/api/vps/my", &[], None).await?;
            print_list(
                ctx,
                list,
                &["TASK ID", "NAME", "STATUS", "OWNER", "NODE", "ASSIGNEES", "GROUPS"],
                &["task_id", "name", "status", "owner_username", "assigned_node", "assignees", "assigned_groups"],
            )
        }
    }
}

async fn resolve(ctx: &Context, users: &[String], groups: &[String]) -> Result<(Vec<u64>, Vec<u64>)> {
    if users.is_empty() && groups.is_empty() {
        bail!("name at least one --user or --group");
    }
    let mut user_ids = Vec::new();
    for u in users {
        user_ids.push(user_id(ctx, u).await?);
    }
    let mut group_ids = Vec::new();
    for g in groups {
        group_ids.push(group_id(ctx, g).await?);
    }
    Ok((user_ids, group_ids))
}
