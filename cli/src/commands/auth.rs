//! `kohakuriver auth …`: logging in (which trades the password, and the
//! second factor when the account has one, for an API token and ends the
//! login session), logging out, status, password change, second factors.

use anyhow::{Context as _, Result, anyhow};
use clap::{Args, Subcommand};
use reqwest::Method;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use super::mfa::{self, MfaCommand};
use super::sso;
use super::{Context, TokenSource, tokens};
use crate::client::{Answer, Client, MFA_ENROLLMENT_REQUIRED};
use crate::credentials::{self, Credentials, Stored};
use crate::error::{AUTH, CONFLICT, CliError};
use crate::{output, prompt};

/// The cookie the service keeps sessions in.
const SESSION_COOKIE: &str = "kohakuriver_session";
/// Where passwords are exchanged for sessions.
const LOGIN: &str = "/api/auth/login";

/// `kohakuriver auth …`
#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Log in: exchange a username and password (or an existing token) for a stored API token
    Login(LoginArgs),
    /// Forget the stored token for this server (and, with --revoke, revoke it on the server)
    Logout {
        /// Also revoke the token on the server before forgetting it
        #[arg(long)]
        revoke: bool,
    },
    /// Show who you are on this server, your role, and the token in use
    Status,
    /// Change your password
    Password {
        /// Read the current password and then the new one as two lines from stdin (for scripts)
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create, list and revoke your API tokens
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Your second factors: authenticator-app codes (TOTP) and recovery codes (passkeys: in the web panel)
    #[command(subcommand)]
    Mfa(MfaCommand),
}

/// `kohakuriver auth login`
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username (prompted for when missing)
    #[arg(short, long, conflicts_with = "token")]
    username: Option<String>,
    /// Password; visible in shell history and process lists, so meant for scripts only (prefer the prompt or --password-stdin)
    #[arg(short, long, conflicts_with_all = ["password_stdin", "token"])]
    password: Option<String>,
    /// Read the password as one line from stdin
    #[arg(long, conflicts_with = "token")]
    password_stdin: bool,
    /// Store this existing API token instead of logging in with a password (it is checked first)
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Name of the API token to create (default: this machine's host name)
    #[arg(long, value_name = "NAME", conflicts_with = "token")]
    token_name: Option<String>,
    /// Let the created token expire after this many days (default: never)
    #[arg(long, value_name = "DAYS", conflicts_with = "token")]
    expires_in_days: Option<u32>,
    /// The current code of your authenticator app, sent with the password in one step (for scripts; without it you are asked when the account has a second factor)
    #[arg(long, value_name = "CODE", conflicts_with = "token")]
    otp: Option<String>,
    /// Log in through this single sign-on provider (its id, as the login page lists them) in a browser
    #[arg(long, value_name = "PROVIDER", conflicts_with_all = ["token", "username", "password", "password_stdin", "otp"])]
    sso: Option<String>,
    /// With --sso: print the URL to open instead of starting a browser
    #[arg(long, requires = "sso")]
    no_browser: bool,
}

/// Runs an `auth` command.
pub async fn run(ctx: &Context, cmd: AuthCommand) -> Result<()> {
    match cmd {
        AuthCommand::Login(args) => login(ctx, args).await,
        AuthCommand::Logout { revoke } => logout(ctx, revoke).await,
        AuthCommand::Status => status(ctx).await,
        AuthCommand::Password { password_stdin } => password(ctx, password_stdin).await,
        AuthCommand::Token(cmd) => tokens::run(ctx, cmd).await,
        AuthCommand::Mfa(cmd) => mfa::run(ctx, cmd).await,
    }
}

async fn login(ctx: &Context, args: LoginArgs) -> Result<()> {
    if let Some(token) = args.token {
        return login_with_token(ctx, token).await;
    }
    if let Some(provider) = &args.sso {
        let answer = sso::login(ctx, provider, args.no_browser).await?;
        return finish_login(ctx, answer, args.token_name, args.expires_in_days).await;
    }
    let username = match args.username {
        Some(u) => u,
        None => prompt::visible("Username")?,
    };
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => p,
        (None, true) => prompt::stdin_line("password")?,
        (None, false) => prompt::secret("Password")?,
    };
    let anonymous = ctx.client.with_token(None);
    let mut body = json!({"username": username, "password": password});
    if let Some(otp) = &args.otp {
        body["otp"] = json!(otp.split_whitespace().collect::<String>());
    }
    let reply = anonymous.exchange(Method::POST, LOGIN, &[], Some(&body)).await?;
    let answer = if reply.status.is_success() {
        reply.answer
    } else if mfa::is_challenge(&reply) && args.otp.is_none() {
        mfa::second_step(&anonymous, &reply.answer.body).await?
    } else {
        return Err(anonymous.refusal(LOGIN, &reply).into());
    };
    finish_login(ctx, answer, args.token_name, args.expires_in_days).await
}

/// The end of every login: the session the server started is traded for a
/// stored API token (or kept, when it may only enrol a second factor).
async fn finish_login(ctx: &Context, answer: Answer, token_name: Option<String>, days: Option<u32>) -> Result<()> {
    let session = session_token(&answer.headers)
        .ok_or_else(|| anyhow!("the server answered the login without a session cookie"))?;
    let session_client = ctx.client.with_token(Some(session.clone()));
    let created = create_login_token(&session_client, token_name, days).await;
    if let Err(err) = &created
        && CliError::has_code(err, MFA_ENROLLMENT_REQUIRED)
    {
        return keep_enrolment_session(ctx, session, &answer.body).await;
    }
    // The session only served to create the token: end it whatever happened.
    let ended = session_client.post("/api/auth/logout", None).await;
    let created = created?;
    let user = &answer.body["user"];
    let stored = Stored {
        token: created["token"].as_str().ok_or_else(|| anyhow!("the server returned no token"))?.to_owned(),
        token_id: created["id"].as_u64(),
        token_name: created["name"].as_str().map(str::to_owned),
        username: user["username"].as_str().map(str::to_owned),
        expires_at: created["expires_at"].as_str().map(str::to_owned),
        session: false,
    };
    let path = store(ctx, stored.clone()).await?;
    if let Err(err) = ended {
        eprintln!("warning: the login session could not be ended ({err:#}); it expires on its own");
    }
    report_login(ctx, &stored, &user["role"], &path)
}

/// How many suffixed names a login tries after its default token name is taken.
const NAME_ATTEMPTS: u32 = 10;

/// Creates the token login stores; a default name already taken gets a time
/// suffix (`-<unix time>`, then `-<unix time>-2`… for logins in the same second).
async fn create_login_token(client: &Client, name: Option<String>, days: Option<u32>) -> Result<Value> {
    let explicit = name.is_some();
    let name = name.unwrap_or_else(hostname);
    let body = |name: &str| {
        let mut body = json!({"name": name});
        if let Some(days) = days {
            body["expires_in_days"] = json!(days);
        }
        body
    };
    let taken = |err: &anyhow::Error| err.downcast_ref::<CliError>().is_some_and(|e| e.exit_code == CONFLICT);
    let mut result = client.post("/api/auth/tokens", Some(&body(&name))).await;
    if explicit {
        return result;
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for attempt in 1..=NAME_ATTEMPTS {
        match &result {
            Err(err) if taken(err) => {}
            _ => break,
        }
        let unique = if attempt == 1 { format!("{name}-{secs}") } else { format!("{name}-{secs}-{attempt}") };
        result = client.post("/api/auth/tokens", Some(&body(&unique))).await;
    }
    result
}

/// Checks an existing token with `/me` and stores it, with its id and name
/// when the token list identifies it.
async fn login_with_token(ctx: &Context, token: String) -> Result<()> {
    let client = ctx.client.with_token(Some(token.clone()));
    let me = client.get("/api/auth/me").await.map_err(|err| match err.downcast_ref::<CliError>() {
        Some(e) if e.exit_code == AUTH => {
            CliError::new(AUTH, format!("the token was refused by {}: {}", ctx.server, e.message)).into()
        }
        _ => err,
    })?;
    let listed = client.list("/api/auth/tokens", &[], None).await.unwrap_or_default();
    let matching: Vec<&Value> =
        listed.iter().filter(|t| t["prefix"].as_str().is_some_and(|p| !p.is_empty() && token.starts_with(p))).collect();
    let known = if matching.len() == 1 { matching.first().copied() } else { None };
    let stored = Stored {
        token,
        token_id: known.and_then(|t| t["id"].as_u64()),
        token_name: known.and_then(|t| t["name"].as_str()).map(str::to_owned),
        username: me["username"].as_str().map(str::to_owned),
        expires_at: known.and_then(|t| t["expires_at"].as_str()).map(str::to_owned),
        session: false,
    };
    let path = store(ctx, stored.clone()).await?;
    report_login(ctx, &stored, &me["role"], &path)
}

/// Stores the credentials for this server. A login session kept there for
/// enrolment is ended on the server once it is replaced (best effort: it
/// expires on its own).
async fn store(ctx: &Context, stored: Stored) -> Result<std::path::PathBuf> {
    let mut creds = Credentials::load()?;
    let previous = creds.servers.insert(ctx.server.clone(), stored);
    let path = creds.save()?;
    if let Some(previous) = previous.filter(|p| p.session) {
        let _ = ctx.client.with_token(Some(previous.token)).post("/api/auth/logout", None).await;
    }
    Ok(path)
}

/// The login succeeded but no token may be created: the user's role requires
/// a second factor and they have none, so the session may only enrol one.
/// That session is stored (the only credential that can enrol), and the user
/// is told what comes next.
async fn keep_enrolment_session(ctx: &Context, session: String, answer: &Value) -> Result<()> {
    let user = &answer["user"];
    let stored = Stored {
        token: session,
        token_id: None,
        token_name: None,
        username: user["username"].as_str().map(str::to_owned),
        expires_at: answer["expires_at"].as_str().map(str::to_owned),
        session: true,
    };
    let path = store(ctx, stored.clone()).await?;
    if ctx.json {
        return output::json(&json!({
            "server": ctx.server,
            "username": stored.username,
            "role": user["role"],
            "token_id": null,
            "token_name": null,
            "expires_at": stored.expires_at,
            "credentials_file": path.display().to_string(),
            "mfa_enrollment_required": true,
        }));
    }
    output::line(&format!(
        "Logged in to {} as {} ({}), but your role requires a second factor and you have none yet, so this login \
         may only enrol one. Run `kohakuriver auth mfa totp enable`, then `kohakuriver auth login` again for an API \
         token. (The login session is stored in {} until then.)",
        ctx.server,
        stored.username.as_deref().unwrap_or("?"),
        output::cell(&user["role"]),
        path.display()
    ))
}

fn report_login(ctx: &Context, stored: &Stored, role: &Value, path: &std::path::Path) -> Result<()> {
    if ctx.json {
        return output::json(&json!({
            "server": ctx.server,
            "username": stored.username,
            "role": role,
            "token_id": stored.token_id,
            "token_name": stored.token_name,
            "expires_at": stored.expires_at,
            "credentials_file": path.display().to_string(),
        }));
    }
    output::line(&format!(
        "Logged in to {} as {} ({}). API token {} stored in {}.",
        ctx.server,
        stored.username.as_deref().unwrap_or("?"),
        output::cell(role),
        stored.token_name.as_deref().map_or_else(|| "(unnamed)".to_owned(), |n| format!("{n:?}")),
        path.display()
    ))
}

/// The session token of a `Set-Cookie: kohakuriver_session=…` header.
fn session_token(headers: &HeaderMap) -> Option<String> {
    headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|cookie| {
        let value = cookie.strip_prefix(SESSION_COOKIE)?.strip_prefix('=')?.split(';').next()?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// This machine's host name, the default token name.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().chars().take(100).collect::<String>())
        .find(|h| !h.is_empty())
        .unwrap_or_else(|| "kohakuriver-cli".to_owned())
}

async fn logout(ctx: &Context, revoke: bool) -> Result<()> {
    let mut creds = Credentials::load()?;
    let Some(stored) = creds.servers.get(&ctx.server).cloned() else {
        let answer = json!({"server": ctx.server, "logged_out": false, "revoked": false});
        return output::message(ctx.json, &answer, &format!("Not logged in to {}.", ctx.server));
    };
    let mut revoked = false;
    if stored.session {
        // A kept login session is ended whatever --revoke says: it was only for enrolling.
        let ended = ctx.client.with_token(Some(stored.token.clone())).post("/api/auth/logout", None).await;
        creds.servers.remove(&ctx.server);
        creds.save()?;
        let text = match ended {
            Ok(_) => format!("Logged out of {}; the login session was ended.", ctx.server),
            Err(_) => format!("Logged out of {}; the login session had already ended.", ctx.server),
        };
        return output::message(ctx.json, &json!({"server": ctx.server, "logged_out": true, "revoked": false}), &text);
    }
    if revoke {
        let client = ctx.client.with_token(Some(stored.token.clone()));
        let id = match stored.token_id {
            Some(id) => Some(id),
            None => {
                let listed = client.list("/api/auth/tokens", &[], None).await?;
                listed
                    .iter()
                    .find(|t| t["prefix"].as_str().is_some_and(|p| !p.is_empty() && stored.token.starts_with(p)))
                    .and_then(|t| t["id"].as_u64())
            }
        };
        let id = id.ok_or_else(|| anyhow!("cannot tell which token to revoke; revoke it with `auth token revoke`"))?;
        match client.delete(&format!("/api/auth/tokens/{id}")).await {
            Ok(_) => revoked = true,
            // Already revoked or expired: nothing left to revoke.
            Err(err) if err.downcast_ref::<CliError>().is_some_and(|e| e.exit_code == AUTH || e.exit_code == 4) => {}
            Err(err) => return Err(err.context("the token was not revoked and is still stored")),
        }
    }
    creds.servers.remove(&ctx.server);
    creds.save()?;
    let text = if revoked {
        format!("Logged out of {}; the token was revoked.", ctx.server)
    } else if revoke {
        format!("Logged out of {}; the token was already invalid.", ctx.server)
    } else {
        format!(
            "Logged out of {}. The token still works on the server: use `auth logout --revoke` or `auth token revoke` to end it.",
            ctx.server
        )
    };
    output::message(ctx.json, &json!({"server": ctx.server, "logged_out": true, "revoked": revoked}), &text)
}

async fn status(ctx: &Context) -> Result<()> {
    if !ctx.client.has_token() {
        return Err(
            CliError::new(AUTH, format!("not logged in to {}: run `kohakuriver auth login`", ctx.server)).into()
        );
    }
    let me = ctx.client.get("/api/auth/me").await?;
    let stored = match ctx.token_source {
        TokenSource::File => Credentials::load()?.servers.remove(&ctx.server),
        _ => None,
    };
    let source = match ctx.token_source {
        TokenSource::Env => "KOHAKURIVER_TOKEN".to_owned(),
        _ => credentials::path()?.display().to_string(),
    };
    let session = stored.as_ref().is_some_and(|s| s.session);
    let token_name = stored.as_ref().and_then(|s| s.token_name.clone());
    let expires_at = stored.as_ref().and_then(|s| s.expires_at.clone());
    if ctx.json {
        return output::json(&json!({
            "server": ctx.server,
            "username": me["username"],
            "display_name": me["display_name"],
            "role": me["role"],
            "groups": me["groups"],
            "auth_method": me["auth_method"],
            "token_source": source,
            "token_name": token_name,
            "token_expires_at": expires_at,
            "credential": if session { "session" } else { "api_token" },
        }));
    }
    if session {
        output::line(
            "This is a login session that may only enrol a second factor: run `kohakuriver auth mfa totp enable`, \
             then `kohakuriver auth login` again.",
        )?;
    }
    output::fields(&[
        ("server", ctx.server.clone()),
        ("user", output::cell(&me["username"])),
        ("role", output::cell(&me["role"])),
        ("groups", output::cell(&me["groups"])),
        ("token from", source),
        ("token name", token_name.unwrap_or_else(|| if session { "- (a login session)" } else { "-" }.to_owned())),
        ("token expires", expires_at.unwrap_or_else(|| "never".to_owned())),
    ])
}

async fn password(ctx: &Context, from_stdin: bool) -> Result<()> {
    let (current, new) = if from_stdin {
        (prompt::stdin_line("current password")?, prompt::stdin_line("new password")?)
    } else {
        (prompt::secret("Current password")?, prompt::new_secret("New password")?)
    };
    let answer = ctx
        .client
        .post("/api/auth/password", Some(&json!({"current_password": current, "new_password": new})))
        .await
        .context("the password was not changed")?;
    output::message(ctx.json, &answer, "Password changed.")
}
