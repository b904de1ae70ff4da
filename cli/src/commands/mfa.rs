//! Second factors: the login's second step, and `kohakuriver auth mfa …`
//! (authenticator-app codes and recovery codes; passkeys live in the web
//! panel, since a terminal has no authenticator to talk to).

use std::io::IsTerminal;

use anyhow::{Context as _, Result, anyhow};
use clap::{Args, Subcommand};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Context, TokenSource};
use crate::client::{Answer, Client, Reply};
use crate::credentials::Credentials;
use crate::error::{AUTH, CliError};
use crate::{output, prompt};

/// The `code` of the login's 401 for an account with a second factor.
pub const MFA_REQUIRED: &str = "mfa_required";
/// How many codes may be typed at one prompt (a typo is not the end of a
/// login or an enrolment; every wrong one counts in the server's throttle).
const ATTEMPTS: usize = 3;
/// The refusals after which the prompt asks again: a wrong (or used) code, or
/// one that is not of a code's shape. Anything else (throttled, the
/// `mfa_token` expired, the server failing) ends the command.
const RETYPE: &[&str] = &["invalid_code", "wrong_code", "validation_failed"];

/// `kohakuriver auth mfa …`
#[derive(Subcommand, Debug)]
pub enum MfaCommand {
    /// Show your second factors: authenticator app, passkeys, recovery codes left, and whether your role requires one
    Status,
    /// Codes from an authenticator app (TOTP): enable, confirm, disable
    #[command(subcommand)]
    Totp(TotpCommand),
    /// Replace your recovery codes with 10 new ones; the old ones stop working (asks your password, or give --code)
    RecoveryCodes(ProofArgs),
}

/// `kohakuriver auth mfa totp …`
#[derive(Subcommand, Debug)]
pub enum TotpCommand {
    /// Enable an authenticator app: asks your password, shows a QR code to scan, asks for a code from the app, prints recovery codes
    Enable {
        /// Read the password as one line from stdin (without a terminal, finish with `auth mfa totp confirm`)
        #[arg(long)]
        password_stdin: bool,
    },
    /// Finish an enrolment begun by `enable` without a terminal: check a code from the app, print the recovery codes
    Confirm {
        /// The 6-digit code the app shows now
        code: String,
    },
    /// Turn authenticator-app codes off (asks your password, or give a current --code)
    Disable(ProofArgs),
}

/// How a change to your factors proves it is you: the password (prompted or
/// from stdin) or a current authenticator code.
#[derive(Args, Debug)]
pub struct ProofArgs {
    /// A current code from your authenticator app instead of the password
    #[arg(long, value_name = "CODE", conflicts_with = "password_stdin")]
    code: Option<String>,
    /// Read the password as one line from stdin
    #[arg(long)]
    password_stdin: bool,
}

impl ProofArgs {
    /// `{"code": …}` or `{"password": …}`.
    fn body(self) -> Result<Value> {
        Ok(match (self.code, self.password_stdin) {
            (Some(code), _) => json!({"code": code.split_whitespace().collect::<String>()}),
            (None, true) => json!({"password": prompt::stdin_line("password")?}),
            (None, false) => json!({"password": prompt::secret("Password")?}),
        })
    }
}

/// Runs an `auth mfa` command.
pub async fn run(ctx: &Context, cmd: MfaCommand) -> Result<()> {
    match cmd {
        MfaCommand::Status => status(ctx).await,
        MfaCommand::Totp(TotpCommand::Enable { password_stdin }) => enable(ctx, password_stdin).await,
        MfaCommand::Totp(TotpCommand::Confirm { code }) => {
            let answer = confirm(ctx, &code).await?;
            recovery_codes(ctx, &answer, "Authenticator app enabled.")?;
            session_hint(ctx)
        }
        MfaCommand::Totp(TotpCommand::Disable(proof)) => {
            let body = proof.body()?;
            let answer = ctx.client.delete_with("/api/auth/mfa/totp", &body).await.context("TOTP was not disabled")?;
            output::message(ctx.json, &answer, "Authenticator app disabled; its recovery codes no longer work.")
        }
        MfaCommand::RecoveryCodes(proof) => {
            let body = proof.body()?;
            let answer = ctx
                .client
                .post("/api/auth/mfa/recovery-codes", Some(&body))
                .await
                .context("the recovery codes were not replaced")?;
            recovery_codes(ctx, &answer, "New recovery codes; the old ones no longer work.")
        }
    }
}

/// Whether a login reply asks for a second factor.
pub fn is_challenge(reply: &Reply) -> bool {
    reply.status.as_u16() == 401 && reply.answer.body["code"].as_str() == Some(MFA_REQUIRED)
}

/// The second step of a login that answered `mfa_required`: asks for a code
/// (or a recovery code) on the terminal and sends it with the `mfa_token`.
/// The answer is the login's: the session cookie and `{user, expires_at}`.
pub async fn second_step(client: &Client, challenge: &Value) -> Result<Answer> {
    let token = challenge["mfa_token"]
        .as_str()
        .ok_or_else(|| anyhow!("the server asked for a second factor without an mfa_token"))?;
    let methods: Vec<&str> =
        challenge["methods"].as_array().map(|m| m.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let (totp, recovery) = (methods.contains(&"totp"), methods.contains(&"recovery"));
    if !totp && !recovery {
        let message = "this account's second factor is a passkey, which the command line cannot use: sign in on the \
                       web panel, create an API token there and store it with `kohakuriver auth login --token`";
        return Err(CliError::new(AUTH, message).into());
    }
    if !std::io::stdin().is_terminal() {
        let message = "this account has a second factor and there is no terminal to ask for it on: pass the current \
                       code from the authenticator app with --otp CODE";
        return Err(CliError::new(AUTH, message).into());
    }
    let label = match (totp, recovery) {
        (true, true) => "Code from the authenticator app (or a recovery code)",
        (true, false) => "Code from the authenticator app",
        _ => "Recovery code",
    };
    let mut attempt = 1;
    loop {
        let body = match Factor::parse(&prompt::visible(label)?) {
            Factor::Code(code) => json!({"mfa_token": token, "code": code}),
            Factor::Recovery(code) => json!({"mfa_token": token, "recovery_code": code}),
        };
        // A refused code leaves the mfa_token usable for another one.
        match client.send(Method::POST, "/api/auth/login/mfa", &[], Some(&body)).await {
            Err(err) if attempt < ATTEMPTS && retyped(&err) => {
                eprintln!("error: {}; try again", err.root_cause());
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// What was typed at the second-factor prompt.
#[derive(Debug, PartialEq, Eq)]
enum Factor {
    /// Six digits (spaces allowed, as apps show `123 456`): a TOTP code.
    Code(String),
    /// Anything else: a recovery code, sent as typed (trimmed).
    Recovery(String),
}

impl Factor {
    fn parse(typed: &str) -> Self {
        let compact: String = typed.split_whitespace().collect();
        if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            Self::Code(compact)
        } else {
            Self::Recovery(typed.trim().to_owned())
        }
    }
}

async fn status(ctx: &Context) -> Result<()> {
    let mfa = ctx.client.get("/api/auth/mfa").await?;
    if ctx.json {
        return output::json(&mfa);
    }
    let passkeys = mfa["passkeys"].as_array().cloned().unwrap_or_default();
    output::fields(&[
        ("authenticator app (TOTP)", output::cell(&mfa["totp"])),
        ("recovery codes left", output::cell(&mfa["recovery_codes_left"])),
        ("passkeys", passkeys.len().to_string()),
        ("required for your role", output::cell(&mfa["required"])),
    ])?;
    if !passkeys.is_empty() {
        output::line("Passkeys (managed in the web panel):")?;
        output::table(
            &["ID", "NAME", "CREATED", "LAST USED"],
            passkeys.iter().map(|p| output::row(p, &["id", "name", "created_at", "last_used_at"])).collect(),
        )?;
    }
    Ok(())
}

/// Starts an enrolment, shows the QR code, and (at a terminal) asks for a
/// code from the app to confirm it; without one, names `confirm`.
async fn enable(ctx: &Context, password_stdin: bool) -> Result<()> {
    let password = if password_stdin { prompt::stdin_line("password")? } else { prompt::secret("Password")? };
    let enrol = ctx
        .client
        .post("/api/auth/mfa/totp", Some(&json!({"password": password})))
        .await
        .context("the authenticator app was not enabled")?;
    let uri = enrol["otpauth_uri"].as_str().ok_or_else(|| anyhow!("the server returned no otpauth_uri"))?;
    let secret = output::cell(&enrol["secret"]);
    let interactive = std::io::stdin().is_terminal();
    if ctx.json && !interactive {
        return output::json(&enrol);
    }
    let shown = format!(
        "Scan this QR code with your authenticator app:\n\n{}\nOr add it by hand: secret {secret}\n(otpauth URI: {uri})\n",
        qr(uri)?
    );
    // With --json stdout carries one JSON document (the recovery codes), so
    // what is for the eyes goes to stderr.
    if ctx.json {
        eprintln!("{shown}")
    } else {
        output::line(&shown)?
    }
    if !interactive {
        return output::line(
            "Not enabled yet: finish with `kohakuriver auth mfa totp confirm CODE` and a code the app shows.",
        );
    }
    let mut attempt = 1;
    let answer = loop {
        let code = prompt::visible("Code from the app")?;
        match confirm(ctx, &code).await {
            Ok(answer) => break answer,
            Err(err) if attempt < ATTEMPTS && retyped(&err) => {
                eprintln!("error: {}; try again", err.root_cause());
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    };
    recovery_codes(ctx, &answer, "Authenticator app enabled.")?;
    session_hint(ctx)
}

/// Whether the prompt asks again after `err` (see [`RETYPE`]).
fn retyped(err: &anyhow::Error) -> bool {
    RETYPE.iter().any(|code| CliError::has_code(err, code))
}

async fn confirm(ctx: &Context, code: &str) -> Result<Value> {
    let code: String = code.split_whitespace().collect();
    ctx.client
        .post("/api/auth/mfa/totp/confirm", Some(&json!({"code": code})))
        .await
        .context("the code was not accepted; the authenticator app is not enabled yet")
}

/// Prints the recovery codes of `answer` once, with the warning that goes with them.
fn recovery_codes(ctx: &Context, answer: &Value, done: &str) -> Result<()> {
    if ctx.json {
        return output::json(answer);
    }
    let codes = answer["recovery_codes"]
        .as_array()
        .or_else(|| answer.as_array())
        .ok_or_else(|| anyhow!("the server returned no recovery codes"))?;
    output::line(done)?;
    output::line("\nRecovery codes (each works once, in place of a code from the app):\n")?;
    for code in codes {
        output::line(&format!("    {}", output::cell(code)))?;
    }
    output::line(
        "\nwarning: store these codes somewhere safe now (a password manager, or on paper); they are not shown \
         again. Without the app and without a code, only an admin can let you back in.",
    )
}

/// After an enrolment made with the restricted login session `auth login`
/// kept, the next step is a full login.
fn session_hint(ctx: &Context) -> Result<()> {
    if ctx.json || ctx.token_source != TokenSource::File {
        return Ok(());
    }
    let stored = Credentials::load()?.servers.remove(&ctx.server);
    if stored.is_some_and(|s| s.session) {
        output::line("\nNow run `kohakuriver auth login` again: it asks for a code and stores an API token.")?;
    }
    Ok(())
}

/// `uri` as a QR code of unicode half blocks (two modules per character).
///
/// On a terminal (and without `NO_COLOR`) the code is drawn black on white
/// whatever the terminal's theme; otherwise it is drawn for a dark terminal
/// (light modules as blocks), the common case, and the URI and secret printed
/// with it cover the rest.
fn qr(uri: &str) -> Result<String> {
    let code = QrCode::new(uri.as_bytes()).context("the otpauth URI does not fit in a QR code")?;
    let colours = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut renderer = code.render::<Dense1x2>();
    if !colours {
        renderer.dark_color(Dense1x2::Light).light_color(Dense1x2::Dark);
    }
    let image = renderer.quiet_zone(true).build();
    if !colours {
        return Ok(image);
    }
    Ok(image.lines().map(|line| format!("\x1b[30;107m{line}\x1b[0m\n")).collect())
}

#[cfg(test)]
mod tests {
    use super::{Factor, qr};

    #[test]
    fn six_digits_are_a_code_anything_else_a_recovery_code() {
        assert_eq!(Factor::parse("123456"), Factor::Code("123456".to_owned()));
        assert_eq!(Factor::parse(" 123 456 \n"), Factor::Code("123456".to_owned()));
        assert_eq!(Factor::parse("1234567"), Factor::Recovery("1234567".to_owned()));
        assert_eq!(Factor::parse("abcd-efgh-2345"), Factor::Recovery("abcd-efgh-2345".to_owned()));
        assert_eq!(Factor::parse("12345a"), Factor::Recovery("12345a".to_owned()));
    }

    #[test]
    fn the_qr_code_is_drawn_with_half_blocks() {
        let image = qr("otpauth://totp/KohakuRiver:alice?secret=JBSWY3DPEHPK3PXP&issuer=KohakuRiver").expect("fits");
        let lines: Vec<&str> = image.lines().collect();
        assert!(lines.len() > 10, "{image}");
        assert!(image.contains('▀') || image.contains('▄'), "two modules per character: {image}");
    }
}
