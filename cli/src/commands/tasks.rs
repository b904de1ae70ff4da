//! `kohakuriver tasks …`: tasks and the approval queue.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use super::{Context, print_list};
use crate::output;

/// The columns of a task table.
const HEADERS: [&str; 7] = ["TASK ID", "TYPE", "NAME", "STATUS", "OWNER", "NODE", "SUBMITTED"];
const KEYS: [&str; 7] = ["task_id", "task_type", "name", "status", "owner_username", "assigned_node", "submitted_at"];

/// `kohakuriver tasks …`
#[derive(Subcommand, Debug)]
pub enum TasksCommand {
    /// List tasks, newest first
    List {
        /// Only tasks in this status (e.g. pending_approval, running, completed)
        #[arg(long)]
        status: Option<String>,
        /// Only tasks of this owner (a username, or _system)
        #[arg(long)]
        owner: Option<String>,
        /// Only tasks of this type: command or vps
        #[arg(long = "type", value_name = "TYPE")]
        task_type: Option<String>,
        /// Show at most this many tasks (default: all)
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show one task in full
    Show {
        /// The task id
        id: String,
    },
    /// List the tasks waiting for approval, oldest first (operators; a
    /// group's manager sees their groups' members' tasks)
    Pending {
        /// Only the tasks of this group's members (name or numeric id)
        #[arg(long)]
        group: Option<String>,
    },
    /// Approve a task waiting for approval (operators)
    Approve {
        /// The task id
        id: String,
    },
    /// Reject a task waiting for approval (operators)
    Reject {
        /// The task id
        id: String,
        /// Why, shown to the owner
        #[arg(long, short)]
        reason: Option<String>,
    },
    /// Cancel a task still waiting for approval (its owner, or operators)
    Cancel {
        /// The task id
        id: String,
    },
}

/// Runs a `tasks` command.
pub async fn run(ctx: &Context, cmd: TasksCommand) -> Result<()> {
    match cmd {
        TasksCommand::List { status, owner, task_type, limit } => {
            let query: Vec<(&str, String)> = [("status", status), ("owner", owner), ("task_type", task_type)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            let tasks = ctx.client.list("/api/tasks", &query, limit).await?;
            print_list(ctx, tasks, &HEADERS, &KEYS)
        }
        TasksCommand::Show { id } => {
            let task = ctx.client.get(&format!("/api/tasks/{}", segment(&id))).await?;
            show(ctx, &task)
        }
        TasksCommand::Pending { group } => {
            let query = match group {
                Some(group) => vec![("group", super::group_id(ctx, &group).await?.to_string())],
                None => Vec::new(),
            };
            let tasks = ctx.client.list("/api/tasks/pending-approval", &query, None).await?;
            print_list(ctx, tasks, &HEADERS, &KEYS)
        }
        TasksCommand::Approve { id } => {
            let answer = ctx.client.post(&format!("/api/approve/{}", segment(&id)), None).await?;
            output::message(ctx.json, &answer, &format!("Task {id} approved."))
        }
        TasksCommand::Reject { id, reason } => {
            let body = json!({"reason": reason});
            let answer = ctx.client.post(&format!("/api/reject/{}", segment(&id)), Some(&body)).await?;
            output::message(ctx.json, &answer, &format!("Task {id} rejected."))
        }
        TasksCommand::Cancel { id } => {
            let answer = ctx.client.post(&format!("/api/tasks/{}/cancel", segment(&id)), None).await?;
            output::message(ctx.json, &answer, &format!("Task {id} cancelled."))
        }
    }
}

/// A task or VPS id as one path segment (ids are numbers; anything else must
/// not be able to reach another path).
pub fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn show(ctx: &Context, task: &Value) -> Result<()> {
    if ctx.json {
        return output::json(task);
    }
    let pairs: Vec<(&str, String)> = match task.as_object() {
        Some(map) => map.iter().map(|(k, v)| (k.as_str(), output::cell(v))).collect(),
        None => vec![("task", task.to_string())],
    };
    output::fields(&pairs)
}
