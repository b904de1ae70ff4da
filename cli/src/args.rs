//! The top-level command line: global options and the command groups.

use crate::commands::{audit, auth, groups, invites, service_accounts, tasks, users, vps};
use clap::{Parser, Subcommand};

/// KohakuRiver command-line client: log in, manage API tokens, users, service accounts, roles,
/// invitations, groups, task approvals, VPS assignments and the audit log.
///
/// The server comes from --host or KOHAKURIVER_HOST (default http://localhost:8000);
/// the credentials from KOHAKURIVER_TOKEN or the credentials file written by
/// `kohakuriver auth login`.
#[derive(Parser, Debug)]
#[command(name = "kohakuriver", version, propagate_version = true)]
pub struct Cli {
    /// Server to talk to: a URL (https://river.example.com) or host[:port] (plain http)
    #[arg(long, global = true, env = "KOHAKURIVER_HOST", value_name = "URL|HOST[:PORT]")]
    pub host: Option<String>,

    /// Port for a --host given without one (compatibility with the original client)
    #[arg(long, global = true, env = "KOHAKURIVER_PORT", hide = true)]
    pub port: Option<u16>,

    /// Print JSON instead of tables (the server's answer, or an object built from it)
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The command groups.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Log in and out, show who you are, change your password, manage API tokens
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Manage user accounts (operators list and show; admins change)
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Create, list and revoke invitation codes
    #[command(subcommand, name = "invite")]
    Invites(invites::InviteCommand),
    /// Manage groups and their members
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Create, list and delete service accounts and mint their tokens (admins)
    #[command(subcommand, name = "service-account")]
    ServiceAccount(service_accounts::ServiceAccountCommand),
    /// List tasks and decide on those waiting for approval
    #[command(subcommand)]
    Tasks(tasks::TasksCommand),
    /// Assign VPS instances to users and groups
    #[command(subcommand)]
    Vps(vps::VpsCommand),
    /// Read the audit log (admins)
    Audit(audit::AuditArgs),
    /// Print a shell completion script (e.g. `kohakuriver completions bash > /etc/bash_completion.d/kohakuriver`)
    Completions {
        /// The shell to generate completions for
        shell: clap_complete::Shell,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command has an about text and every argument a help text.
    fn check(cmd: &clap::Command, path: &str) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            assert!(arg.get_help().is_some(), "{path}: argument {id} has no help");
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let sub_path = format!("{path} {}", sub.get_name());
            assert!(sub.get_about().is_some(), "{sub_path} has no about");
            check(sub, &sub_path);
        }
    }

    #[test]
    fn the_command_line_is_consistent_and_documented() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        check(&cmd, "kohakuriver");
    }
}
