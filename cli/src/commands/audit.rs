//! `kohakuriver audit`: the audit log, newest first (admins).

use anyhow::Result;
use clap::Args;

use super::{Context, print_list};

/// `kohakuriver audit`
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only events by this actor (a username)
    #[arg(long)]
    actor: Option<String>,
    /// Only events with this action (e.g. auth.login, user.create, token.revoke)
    #[arg(long)]
    action: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-01-31T00:00:00Z)
    #[arg(long)]
    since: Option<String>,
    /// Only events at or before this time (RFC 3339)
    #[arg(long)]
    until: Option<String>,
    /// Show at most this many events
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

/// Runs `audit`.
pub async fn run(ctx: &Context, args: AuditArgs) -> Result<()> {
    let query: Vec<(&str, String)> =
        [("actor", args.actor), ("action", args.action), ("since", args.since), ("until", args.until)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
    let events = ctx.client.list("/api/admin/audit", &query, Some(args.limit.max(1))).await?;
    print_list(
        ctx,
        events,
        &["AT", "ACTOR", "ACTION", "TARGET", "OUTCOME", "REASON", "DETAIL"],
        &["at", "actor", "action", "target", "outcome", "reason", "detail"],
    )
}
