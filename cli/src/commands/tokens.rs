//! `kohakuriver auth token …`: the caller's API tokens (scopes, resource
//! limits, expiry, rotation), and every user's tokens for admins.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Context, TokenSource, find_id, print_list, service_accounts};
use crate::credentials::Credentials;
use crate::error::{CliError, NOT_FOUND};
use crate::output;

/// The largest page `GET /api/auth/tokens/all` hands out.
const ADMIN_PAGE: usize = 200;

/// `kohakuriver auth token …`
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for scripts; it is printed once and never again
    Create {
        /// A name for the token, unique among yours (e.g. my-script-token)
        name: String,
        /// What the token may do and on what, and when it expires
        #[command(flatten)]
        spec: TokenSpec,
    },
    /// List your API tokens (never the secrets)
    List,
    /// Revoke one of your API tokens, by name or id
    Revoke {
        /// The token's name, or its numeric id
        token: String,
    },
    /// Give a token a new secret, printed once; the old secret keeps working for a short overlap
    Rotate {
        /// The token's name (one of yours), or its numeric id (admins: anyone's)
        token: String,
    },
    /// List every user's and service account's tokens (admins)
    All(AllArgs),
}

/// What a new token may do, on which objects, and for how long. Without
/// `--scope` and `--resource` the request is the original client's: a token
/// with all its owner's rights.
#[derive(Args, Debug)]
pub struct TokenSpec {
    /// Grant only this scope (repeat, or separate with commas): read, tasks:submit, tasks:approve, vps:connect, vps:manage, users:admin, tokens:manage; default: inherit (all the owner's rights)
    #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Let the token act only on this object (repeat, up to 20): vps:<task id> or task:<task id>; default: any
    #[arg(long = "resource", value_name = "RESOURCE", value_delimiter = ',')]
    pub resources: Vec<String>,
    /// Let the token expire after this many days (default: never, or the server's TOKEN_MAX_LIFETIME_DAYS when set)
    #[arg(long, visible_alias = "expires-in-days", value_name = "DAYS")]
    pub expires: Option<u32>,
}

impl TokenSpec {
    /// The create body for a token named `name`. `scopes` and `resources` are
    /// sent only when given, so a plain create is exactly the original request.
    pub fn body(&self, name: &str) -> Value {
        let mut body = json!({"name": name});
        if let Some(days) = self.expires {
            body["expires_in_days"] = json!(days);
        }
        if !self.scopes.is_empty() {
            body["scopes"] = json!(self.scopes);
        }
        if !self.resources.is_empty() {
            body["resources"] = json!(self.resources);
        }
        body
    }
}

/// `kohakuriver auth token all`
#[derive(Args, Debug)]
pub struct AllArgs {
    /// Only this owner's tokens (a username, a service account's name, or a user id)
    #[arg(long, value_name = "USER")]
    owner: Option<String>,
    /// Only tokens granting this scope (e.g. users:admin, inherit)
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,
    /// Only tokens expiring within this many days
    #[arg(long, value_name = "DAYS")]
    expiring_days: Option<u32>,
    /// Only tokens living longer than the server's lifetime cap allows (or never expiring while a cap is set)
    #[arg(long)]
    past_cap: bool,
    /// Show at most this many tokens (default: all)
    #[arg(long)]
    limit: Option<usize>,
}

/// Runs a `token` command.
pub async fn run(ctx: &Context, cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create { name, spec } => {
            let created = ctx.client.post("/api/auth/tokens", Some(&spec.body(&name))).await?;
            report_created(ctx, &created, None)
        }
        TokenCommand::List => {
            let tokens = ctx.client.list("/api/auth/tokens", &[], None).await?;
            print_list(
                ctx,
                tokens,
                &["ID", "NAME", "PREFIX", "SCOPES", "RESOURCES", "CREATED", "LAST USED", "EXPIRES"],
                &["id", "name", "prefix", "scopes", "resources", "created_at", "last_used_at", "expires_at"],
            )
        }
        TokenCommand::Revoke { token } => {
            let id = own_token_id(ctx, &token).await?;
            let answer = ctx.client.delete(&format!("/api/auth/tokens/{id}")).await?;
            output::message(ctx.json, &answer, &format!("Token {token} revoked"))
        }
        TokenCommand::Rotate { token } => rotate(ctx, &token).await,
        TokenCommand::All(args) => all(ctx, args).await,
    }
}

/// The id of the caller's token named `token`, else `token` as an id.
async fn own_token_id(ctx: &Context, token: &str) -> Result<u64> {
    let tokens = ctx.client.list("/api/auth/tokens", &[], None).await?;
    match find_id(&tokens, "name", token) {
        Some(id) => Ok(id),
        None => Ok(token
            .parse::<u64>()
            .map_err(|_| CliError::new(NOT_FOUND, format!("you have no token named {token:?}")))?),
    }
}

/// Prints a created token: the secret alone on stdout (for `$(…)`), what it
/// may do on stderr; `--json`: the server's answer.
pub fn report_created(ctx: &Context, created: &Value, owner: Option<&str>) -> Result<()> {
    if ctx.json {
        return output::json(created);
    }
    output::line(&output::cell(&created["token"]))?;
    let whose = owner.map_or_else(String::new, |o| format!(" for {o}"));
    eprintln!(
        "Created token {:?}{whose} (id {}; {}; expires {}). It is shown only this once: store it now.",
        output::cell(&created["name"]),
        output::cell(&created["id"]),
        reach(created),
        created["expires_at"].as_str().unwrap_or("never")
    );
    Ok(())
}

/// A token's scopes and resource limits in words.
fn reach(token: &Value) -> String {
    let scopes = match &token["scopes"] {
        Value::Array(s) if !s.is_empty() => output::cell(&token["scopes"]),
        // An older server, or no scopes asked for: all the owner's rights.
        _ => "inherit".to_owned(),
    };
    match &token["resources"] {
        Value::Array(r) if !r.is_empty() => format!("scopes {scopes}; only {}", output::cell(&token["resources"])),
        _ => format!("scopes {scopes}"),
    }
}

/// `auth token rotate`: a new secret for the same token. When the rotated
/// token is the one this CLI stores for the server, the stored copy is
/// replaced, since the old secret stops working after the overlap.
async fn rotate(ctx: &Context, token: &str) -> Result<()> {
    let id = own_token_id(ctx, token).await?;
    let rotated = ctx.client.post(&format!("/api/auth/tokens/{id}/rotate"), None).await?;
    let stored = update_stored(ctx, id, &rotated)?;
    if ctx.json {
        output::json(&rotated)?;
    } else {
        output::line(&output::cell(&rotated["token"]))?;
        eprintln!(
            "Rotated token {:?} (id {}; {}; expires {}). The new secret is shown only this once: store it now. \
             The old secret keeps working until {}.",
            output::cell(&rotated["name"]),
            output::cell(&rotated["id"]),
            reach(&rotated),
            rotated["expires_at"].as_str().unwrap_or("never"),
            rotated["previous_valid_until"].as_str().unwrap_or("the server's overlap ends")
        );
    }
    if stored {
        eprintln!("The credentials file now holds the new secret.");
    }
    Ok(())
}

/// Replaces the stored token of this server by the rotated secret when it is
/// the token that was rotated. Whether it did.
fn update_stored(ctx: &Context, id: u64, rotated: &Value) -> Result<bool> {
    if ctx.token_source != TokenSource::File {
        return Ok(false);
    }
    let Some(secret) = rotated["token"].as_str() else { return Ok(false) };
    let mut creds = Credentials::load()?;
    let Some(stored) = creds.servers.get_mut(&ctx.server).filter(|s| !s.session && s.token_id == Some(id)) else {
        return Ok(false);
    };
    secret.clone_into(&mut stored.token);
    stored.expires_at = rotated["expires_at"].as_str().map(str::to_owned);
    creds.save()?;
    Ok(true)
}

/// `auth token all`: every token, all pages, with the filters the server applies.
async fn all(ctx: &Context, args: AllArgs) -> Result<()> {
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(owner) = &args.owner {
        query.push(("owner", service_accounts::owner_id(ctx, owner).await?.to_string()));
    }
    if let Some(scope) = args.scope {
        query.push(("scope", scope));
    }
    if let Some(days) = args.expiring_days {
        query.push(("expiring_within_days", days.to_string()));
    }
    if args.past_cap {
        query.push(("past_cap", "true".to_owned()));
    }
    let (tokens, last) =
        ctx.client.list_in("/api/auth/tokens/all", &query, "tokens", ADMIN_PAGE, args.limit.map(|l| l.max(1))).await?;
    let cap = &last["max_lifetime_days"];
    if ctx.json {
        return output::json(&json!({"tokens": tokens, "max_lifetime_days": cap}));
    }
    print_list(
        ctx,
        tokens,
        &["ID", "OWNER", "KIND", "NAME", "PREFIX", "SCOPES", "RESOURCES", "EXPIRES", "LAST USED", "PAST CAP"],
        &[
            "id",
            "username",
            "owner_kind",
            "name",
            "prefix",
            "scopes",
            "resources",
            "expires_at",
            "last_used_at",
            "past_cap",
        ],
    )?;
    match cap.as_u64() {
        Some(days) => eprintln!("Token lifetime cap: {days} days (TOKEN_MAX_LIFETIME_DAYS)."),
        None => eprintln!("No token lifetime cap is set (TOKEN_MAX_LIFETIME_DAYS)."),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::TokenSpec;

    fn spec(scopes: &[&str], resources: &[&str], expires: Option<u32>) -> TokenSpec {
        TokenSpec {
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            resources: resources.iter().map(|s| (*s).to_owned()).collect(),
            expires,
        }
    }

    #[test]
    fn a_plain_create_sends_the_original_body_and_only_what_was_given() {
        assert_eq!(spec(&[], &[], None).body("ci"), json!({"name": "ci"}));
        assert_eq!(spec(&[], &[], Some(7)).body("ci"), json!({"name": "ci", "expires_in_days": 7}));
        assert_eq!(
            spec(&["read", "tasks:submit"], &["vps:3"], None).body("ci"),
            json!({"name": "ci", "scopes": ["read", "tasks:submit"], "resources": ["vps:3"]})
        );
    }
}
