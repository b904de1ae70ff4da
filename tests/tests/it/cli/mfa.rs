//! Second factors from the command line: logging in with a code (asked at a
//! terminal, or `--otp` in one step), enrolling an authenticator app (the QR
//! code drawn in the terminal, the recovery codes shown once), turning it off,
//! new recovery codes, an admin's reset, and a role that requires a factor.
//!
//! Prompts are answered the way a person answers them: the binary runs in a
//! pseudo-terminal (util-linux `script`, part of every Debian system), and the
//! test waits for each prompt before typing. Codes are computed from the
//! enrolled secret with `totp-rs`, as an authenticator app computes them.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD, TestApp};
use serde_json::{Value, json};
use totp_rs::TOTP;

use super::{Cli, Run};

/// How long a prompt or the end of a run may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);
/// The prompt of the login's second step for an account with an authenticator app.
const CODE_PROMPT: &str = "Code from the authenticator app (or a recovery code): ";

/// A run of the binary in a pseudo-terminal: everything it prints (stdout
/// and stderr, as a terminal shows them) and what is typed into it.
struct Terminal {
    child: Child,
    keyboard: Option<ChildStdin>,
    screen: Arc<Mutex<Vec<u8>>>,
    /// How much of the screen earlier `expect`s consumed.
    seen: usize,
}

impl Cli {
    /// Starts `kohakuriver args…` in a terminal of its own, with this shell's
    /// environment (as [`Cli::run_with`]).
    fn terminal(&self, args: &[&str]) -> Terminal {
        let binary = krv_tests::bins::binary("kohakuriver");
        let line = std::iter::once(binary.to_string_lossy().into_owned())
            .chain(args.iter().map(|a| (*a).to_owned()))
            .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ");
        // -q: no banner; -f: flush as it comes; -e: exit with the command's code;
        // /dev/null: no typescript file.
        let mut child = Command::new("script")
            .args(["-qfec", &line, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("KOHAKURIVER_HOST", &self.url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("util-linux `script` runs");
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().expect("stdout");
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("screen").extend_from_slice(&buf[..n]);
            }
        });
        Terminal { keyboard: child.stdin.take(), child, screen, seen: 0 }
    }
}

impl Terminal {
    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().expect("screen")).into_owned()
    }

    /// Waits until `text` appears after what earlier calls consumed; returns
    /// the screen from there up to and including it.
    async fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let bytes = self.screen.lock().expect("screen").clone();
            let fresh = &bytes[self.seen.min(bytes.len())..];
            if let Some(at) = fresh.windows(text.len()).position(|w| w == text.as_bytes()) {
                let end = at + text.len();
                let part = String::from_utf8_lossy(&fresh[..end]).into_owned();
                self.seen += end;
                return part;
            }
            assert!(Instant::now() < deadline, "waited for {text:?}; the terminal shows:\n{}", self.screen());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Types `line` and Enter.
    fn send(&mut self, line: &str) {
        let keyboard = self.keyboard.as_mut().expect("the terminal is open");
        keyboard.write_all(format!("{line}\n").as_bytes()).expect("typing into the terminal");
        keyboard.flush().expect("typing into the terminal");
    }

    /// Waits for the program to end; the whole screen is its stdout.
    async fn finish(mut self) -> Run {
        drop(self.keyboard.take());
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the terminal") {
                break status;
            }
            assert!(Instant::now() < deadline, "the program did not end; the terminal shows:\n{}", self.screen());
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // The reader thread drains what is left once `script` has gone.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Run { code: status.code().expect("exited, not killed"), stdout: self.screen(), stderr: String::new() }
    }
}

/// An authenticator app: the codes of one secret, each time step used at most
/// once and in order, as the server accepts them (a used step never again).
struct Authenticator {
    totp: TOTP,
    last_step: Option<u64>,
}

impl Authenticator {
    /// The app after scanning `uri` (an `otpauth://totp/…` URI).
    fn scan(uri: &str) -> Self {
        let totp = TOTP::from_url_unchecked(uri).unwrap_or_else(|e| panic!("{uri} is an otpauth URI: {e:?}"));
        assert_eq!((totp.digits, totp.step), (6, 30), "six digits every 30 seconds");
        Self { totp, last_step: None }
    }

    /// A code the server accepts now: the current step, or the next one while
    /// the current one is used, else (both used) after waiting for time to move on.
    async fn code(&mut self) -> String {
        loop {
            let now = unix_now();
            let current = now / 30;
            let step = self.last_step.map_or(current, |last| (last + 1).max(current));
            if step <= current + 1 {
                self.last_step = Some(step);
                return self.totp.generate(step * 30);
            }
            tokio::time::sleep(Duration::from_secs((current + 1) * 30 - now)).await;
        }
    }

    /// Six digits that are none of the codes the server would take now.
    fn wrong_code(&self) -> String {
        let current = unix_now() / 30;
        let window: Vec<String> = (current - 2..=current + 2).map(|s| self.totp.generate(s * 30)).collect();
        ["000000", "111111", "222222"].into_iter().find(|c| !window.iter().any(|w| w == c)).expect("one").to_owned()
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// The `otpauth://` URI somewhere in `text`.
fn otpauth_uri(text: &str) -> String {
    let start = text.find("otpauth://totp/").unwrap_or_else(|| panic!("no otpauth URI in:\n{text}"));
    text[start..].chars().take_while(|c| !c.is_whitespace() && *c != ')').collect()
}

/// The recovery codes (`xxxx-xxxx-xxxx-xxxx`) in `text`, in order.
fn recovery_codes_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| {
            w.len() == 19
                && w.split('-').count() == 4
                && w.split('-').all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
        .map(str::to_owned)
        .collect()
}

/// The lines of the QR code: wide lines of half blocks and spaces only (the
/// quiet zone's lines are all spaces or all blocks), colour codes removed.
fn qr_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.replace("\x1b[30;107m", "").replace("\x1b[0m", "").replace('\r', ""))
        .filter(|l| l.chars().count() >= 21 && l.chars().all(|c| matches!(c, ' ' | '▀' | '▄' | '█')))
        .collect()
}

/// The key TOTP secrets are encrypted with in these tests.
const MFA_KEY: &str = "test-mfa-encryption-key-0123456789abcdef-0";

/// A test app that can keep TOTP secrets, with `settings` besides.
async fn mfa_app(settings: &[(&str, &str)]) -> TestApp {
    TestApp::builder().env("MFA_ENCRYPTION_KEY", MFA_KEY).envs(settings).build().await
}

/// A served app with the first admin logged in on a shell, and `name`, a
/// `user`, logged in on a shell of their own.
async fn user_shell(name: &str) -> (TestApp, krv_tests::ServerGuard, String, Cli, Cli) {
    let app = mfa_app(&[]).await;
    let (url, guard) = app.serve().await;
    let admin = app.with_admin().await.token;
    let admin_cli = Cli::new(&url);
    admin_cli.login("admin").await.ok();
    app.create_user(&admin, name, "user").await;
    let cli = Cli::new(&admin_cli.url);
    cli.login(name).await.ok();
    (app, guard, admin, admin_cli, cli)
}

/// Enrols an authenticator app without a terminal (`enable --password-stdin`,
/// then `confirm`); returns the app and the recovery codes.
async fn enrol(cli: &Cli) -> (Authenticator, Vec<String>) {
    let input = format!("{PASSWORD}\n");
    let started =
        cli.run_with(&["--json", "auth", "mfa", "totp", "enable", "--password-stdin"], Some(&input), &[]).await;
    let started = started.json();
    let uri = started["otpauth_uri"].as_str().unwrap_or_else(|| panic!("an otpauth URI: {started}"));
    let mut app = Authenticator::scan(uri);
    let secret = started["secret"].as_str().expect("the secret, for typing in by hand");
    assert!(uri.contains(secret), "{started}");
    let code = app.code().await;
    let confirmed = cli.json(&["auth", "mfa", "totp", "confirm", &code]).await;
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap_or_else(|| panic!("recovery codes: {confirmed}"))
        .iter()
        .map(|c| c.as_str().expect("a string").to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{confirmed}");
    (app, codes)
}

async fn mfa_status(cli: &Cli) -> Value {
    cli.json(&["auth", "mfa", "status"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabling_totp_at_a_terminal_draws_the_qr_code_and_shows_recovery_codes_once() {
    let (_app, _guard, _admin, _admin_cli, cli) = user_shell("alice").await;
    let before = mfa_status(&cli).await;
    assert_eq!((before["totp"].clone(), before["required"].clone()), (json!(false), json!(false)), "{before}");

    let mut term = cli.terminal(&["auth", "mfa", "totp", "enable"]);
    term.expect("Password: ").await;
    term.send(PASSWORD);
    let shown = term.expect("Code from the app: ").await;
    let uri = otpauth_uri(&shown);
    assert!(uri.contains("secret="), "{uri}");
    let qr = qr_lines(&shown);
    assert!(qr.len() >= 12, "a QR code of half blocks is drawn:\n{shown}");
    let width = qr[0].chars().count();
    assert!(qr.iter().all(|l| l.chars().count() == width), "the QR code is a rectangle:\n{}", qr.join("\n"));
    assert!(shown.contains('▀') || shown.contains('▄'), "two modules per character (dense 1x2):\n{shown}");
    // ≥ 12 lines of 2 modules each: at least 24 rows for a symbol as wide as it is high.
    assert!(2 * qr.len() >= width, "{} lines for {width} columns", qr.len());

    // A mistyped code is asked again; the right one enables the app.
    let mut phone = Authenticator::scan(&uri);
    term.send(&phone.wrong_code());
    term.expect("try again").await;
    term.expect("Code from the app: ").await;
    term.send(&phone.code().await);
    let run = term.finish().await;
    run.ok();
    let codes = recovery_codes_in(&run.stdout);
    assert_eq!(codes.len(), 10, "ten recovery codes are printed:\n{}", run.stdout);
    assert!(run.stdout.contains("not shown again"), "with a warning to store them:\n{}", run.stdout);

    let after = mfa_status(&cli).await;
    assert_eq!(after["totp"], true, "{after}");
    assert_eq!(after["recovery_codes_left"], 10, "{after}");
    let human = cli.run(&["auth", "mfa", "status"]).await;
    human.ok();
    assert!(human.stdout.contains("authenticator app (TOTP)") && human.stdout.contains("yes"), "{human:?}");
    // The codes are shown once: nothing shows them again.
    assert!(recovery_codes_in(&human.stdout).is_empty(), "{human:?}");
    assert!(!after.to_string().contains(&codes[0]), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolling_without_a_terminal_shows_the_code_and_names_confirm() {
    let (app, _guard, _admin, _admin_cli, cli) = user_shell("alice").await;
    let input = format!("{PASSWORD}\n");
    let started = cli.run_with(&["auth", "mfa", "totp", "enable", "--password-stdin"], Some(&input), &[]).await;
    started.ok();
    assert!(started.stdout.contains("auth mfa totp confirm"), "{started:?}");
    assert!(qr_lines(&started.stdout).len() >= 12, "the QR code is drawn on stdout too:\n{}", started.stdout);
    let mut phone = Authenticator::scan(&otpauth_uri(&started.stdout));
    assert_eq!(mfa_status(&cli).await["totp"], false, "not enabled before it is confirmed");

    let wrong = cli.run(&["auth", "mfa", "totp", "confirm", &phone.wrong_code()]).await;
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert!(wrong.stderr.contains("not enabled yet"), "{wrong:?}");
    assert_eq!(mfa_status(&cli).await["totp"], false);

    let confirmed = cli.run(&["auth", "mfa", "totp", "confirm", &phone.code().await]).await;
    confirmed.ok();
    assert_eq!(recovery_codes_in(&confirmed.stdout).len(), 10, "{confirmed:?}");
    assert_eq!(mfa_status(&cli).await["totp"], true);

    // A wrong password starts nothing.
    app.create_user_as(krv_tests::SYSTEM, "bob", "user").await;
    let bob_cli = Cli::new(&cli.url);
    bob_cli.login("bob").await.ok();
    let refused =
        bob_cli.run_with(&["auth", "mfa", "totp", "enable", "--password-stdin"], Some("wrong-password\n"), &[]).await;
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(!refused.stdout.contains("otpauth://"), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_asks_for_the_code_at_a_terminal_and_takes_a_recovery_code_once() {
    let (app, _guard, _admin, _admin_cli, cli) = user_shell("alice").await;
    let (mut phone, recovery) = enrol(&cli).await;
    let first_token = cli.stored_token();

    let mut term = cli.terminal(&["auth", "login", "--username", "alice"]);
    term.expect("Password: ").await;
    term.send(PASSWORD);
    term.expect(CODE_PROMPT).await;
    term.send(&phone.code().await);
    let run = term.finish().await;
    run.ok();
    assert!(run.stdout.contains("Logged in"), "{run:?}");
    let token = cli.stored_token();
    assert_ne!(token, first_token, "a new API token is stored");
    assert!(token.starts_with("krv_"), "an API token, not a session");
    // Like any login: the session used to create the token was ended.
    let sessions = app.call(Method::GET, "/api/auth/sessions", Auth::Bearer(&token), None).await;
    sessions.assert_status(StatusCode::OK);
    assert_eq!(sessions.json(), json!([]), "the login session was ended");

    // A recovery code typed at the same prompt is taken as one.
    let before = cli.stored_token();
    let mut term = cli.terminal(&["auth", "login", "--username", "alice"]);
    term.expect("Password: ").await;
    term.send(PASSWORD);
    term.expect(CODE_PROMPT).await;
    term.send(&recovery[0]);
    term.finish().await.ok();
    assert_ne!(cli.stored_token(), before, "logged in with a recovery code");
    assert_eq!(mfa_status(&cli).await["recovery_codes_left"], 9);

    // Once: the same recovery code again is refused and asked again, and a
    // code from the app at the second try logs in.
    let before = cli.stored_token();
    let mut term = cli.terminal(&["auth", "login", "--username", "alice"]);
    term.expect("Password: ").await;
    term.send(PASSWORD);
    term.expect(CODE_PROMPT).await;
    term.send(&recovery[0]);
    term.expect("try again").await;
    term.expect(CODE_PROMPT).await;
    term.send(&phone.code().await);
    term.finish().await.ok();
    assert_ne!(cli.stored_token(), before, "logged in at the second try");
    assert_eq!(mfa_status(&cli).await["recovery_codes_left"], 9, "the used code was not counted twice");

    // Wrong codes: asked three times, then refused with the server's reason; nothing stored.
    let before = cli.stored_token();
    let mut term = cli.terminal(&["auth", "login", "--username", "alice"]);
    term.expect("Password: ").await;
    term.send(PASSWORD);
    for attempt in 1..=3 {
        term.expect(CODE_PROMPT).await;
        term.send(&phone.wrong_code());
        if attempt < 3 {
            term.expect("try again").await;
        }
    }
    let run = term.finish().await;
    run.code(3);
    assert!(run.stdout.contains("error: "), "{run:?}");
    assert_eq!(run.stdout.matches(CODE_PROMPT).count(), 3, "three prompts, no fourth: {run:?}");
    assert!(!run.stdout.contains("run `kohakuriver auth login`"), "no advice to run what was just run: {run:?}");
    assert_eq!(cli.stored_token(), before);

    // No terminal and no --otp: a clear refusal that names --otp.
    let piped = cli.login("alice").await;
    piped.code(3);
    assert!(piped.stderr.contains("--otp"), "{piped:?}");
    assert_eq!(cli.stored_token(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_logs_in_in_one_step_and_a_code_is_good_once() {
    let (app, _guard, _admin, _admin_cli, cli) = user_shell("alice").await;
    let (mut phone, _) = enrol(&cli).await;
    let input = format!("{PASSWORD}\n");
    let login = |otp: String| {
        let cli = &cli;
        let input = input.clone();
        async move {
            cli.run_with(
                &["--json", "auth", "login", "-u", "alice", "--password-stdin", "--otp", &otp],
                Some(&input),
                &[],
            )
            .await
        }
    };

    let code = phone.code().await;
    let run = login(code.clone()).await;
    let out = run.json();
    assert_eq!(out["username"], "alice", "{out}");
    let token = cli.stored_token();
    let sessions = app.call(Method::GET, "/api/auth/sessions", Auth::Bearer(&token), None).await;
    assert_eq!(sessions.json(), json!([]), "the login session was ended");

    // The same code again is a replay; a wrong one is wrong. Neither stores anything.
    for otp in [code, phone.wrong_code()] {
        let run = login(otp).await;
        run.code(3);
        assert!(run.stderr.starts_with("error: "), "{run:?}");
        assert_eq!(cli.stored_token(), token);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_codes_are_replaced_and_totp_disabled_with_the_password_or_a_code() {
    let (app, _guard, _admin, _admin_cli, cli) = user_shell("alice").await;
    let (mut phone, old_codes) = enrol(&cli).await;
    let input = format!("{PASSWORD}\n");

    // New codes with the password: ten, all new, and the old ones are dead.
    let run = cli.run_with(&["auth", "mfa", "recovery-codes", "--password-stdin"], Some(&input), &[]).await;
    run.ok();
    let new_codes = recovery_codes_in(&run.stdout);
    assert_eq!(new_codes.len(), 10, "{run:?}");
    assert!(new_codes.iter().all(|c| !old_codes.contains(c)), "{run:?}");
    assert!(run.stdout.contains("not shown again"), "{run:?}");
    let challenge = app.login_attempt("alice", PASSWORD, "127.0.0.1").await;
    challenge.assert_status(StatusCode::UNAUTHORIZED);
    let mfa_token = challenge.json()["mfa_token"].as_str().expect("mfa_token").to_owned();
    let old = json!({"mfa_token": mfa_token, "recovery_code": old_codes[1]});
    let refused = app.call(Method::POST, "/api/auth/login/mfa", Auth::None, Some(&old)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "an old recovery code: {:?}", refused.json());

    // With a code instead, and --json: the server's answer.
    let answer = cli.json(&["auth", "mfa", "recovery-codes", "--code", &phone.code().await]).await;
    assert_eq!(answer["recovery_codes"].as_array().map(Vec::len), Some(10), "{answer}");
    assert_eq!(mfa_status(&cli).await["recovery_codes_left"], 10);

    // A wrong password or code disables nothing.
    let wrong =
        cli.run_with(&["auth", "mfa", "totp", "disable", "--password-stdin"], Some("not-it-at-all\n"), &[]).await;
    assert_ne!(wrong.code, 0, "{wrong:?}");
    let wrong = cli.run(&["auth", "mfa", "totp", "disable", "--code", &phone.wrong_code()]).await;
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert_eq!(mfa_status(&cli).await["totp"], true);

    // Disabled with a code; the password alone logs in again.
    cli.run(&["auth", "mfa", "totp", "disable", "--code", &phone.code().await]).await.ok();
    let status = mfa_status(&cli).await;
    assert_eq!((status["totp"].clone(), status["recovery_codes_left"].clone()), (json!(false), json!(0)), "{status}");
    cli.login("alice").await.ok();

    // Enabled again and disabled with the password.
    enrol(&cli).await;
    assert_eq!(mfa_status(&cli).await["totp"], true);
    let off = cli.run_with(&["auth", "mfa", "totp", "disable", "--password-stdin"], Some(&input), &[]).await;
    off.ok();
    assert!(off.stdout.trim().len() > 3, "{off:?}");
    assert_eq!(mfa_status(&cli).await["totp"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_resets_the_factors_of_a_user_who_lost_their_device() {
    let (app, _guard, _admin, admin_cli, cli) = user_shell("alice").await;
    enrol(&cli).await;
    cli.login("alice").await.code(3);

    // Only an admin may; a user trying is refused (exit 3) and changes nothing.
    let bob = Cli::new(&cli.url);
    app.create_user_as(krv_tests::SYSTEM, "bob", "user").await;
    bob.login("bob").await.ok();
    bob.run(&["users", "mfa-reset", "alice", "--yes"]).await.code(3);
    assert_eq!(mfa_status(&cli).await["totp"], true);
    // Without --yes and without a terminal to confirm on, nothing happens.
    let unconfirmed = admin_cli.run(&["users", "mfa-reset", "alice"]).await;
    assert_ne!(unconfirmed.code, 0, "{unconfirmed:?}");
    assert!(unconfirmed.stderr.contains("--yes"), "{unconfirmed:?}");
    assert_eq!(mfa_status(&cli).await["totp"], true);
    admin_cli.run(&["users", "mfa-reset", "no-such-user", "--yes"]).await.code(4);
    let shown = admin_cli.run(&["users", "show", "alice"]).await;
    shown.ok();
    assert!(shown.stdout.contains("second factors") && shown.stdout.contains("authenticator app"), "{shown:?}");

    let reset = admin_cli.run(&["users", "mfa-reset", "alice", "--yes"]).await;
    reset.ok();
    assert!(!reset.stdout.trim().is_empty(), "{reset:?}");
    // Alice's API token was not touched (tokens are not sessions); her factors are gone.
    let status = mfa_status(&cli).await;
    assert_eq!((status["totp"].clone(), status["recovery_codes_left"].clone()), (json!(false), json!(0)), "{status}");
    let shown = admin_cli.run(&["users", "show", "alice"]).await;
    assert!(!shown.stdout.contains("authenticator app"), "{shown:?}");
    cli.login("alice").await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_requires_a_factor_logs_in_to_enrol_and_then_for_a_token() {
    let app = mfa_app(&[("MFA_REQUIRED_ROLE", "operator")]).await;
    let (url, _guard) = app.serve().await;
    app.first_admin("admin").await;
    // The admin has no factor either, so the admin secret creates her.
    app.create_user_as(krv_tests::SYSTEM, "olga", "operator").await;
    let cli = Cli::new(&url);

    // The login succeeds, but the session may only enrol: it is what gets stored.
    let login = cli.login("olga").await;
    login.ok();
    assert!(login.stdout.contains("auth mfa totp enable"), "{login:?}");
    let file: Value = serde_json::from_slice(&std::fs::read(cli.credentials()).expect("file")).expect("JSON");
    assert_eq!(file["servers"][&url]["session"], true, "{file}");
    let status = cli.run(&["auth", "status"]).await;
    status.ok();
    assert!(status.stdout.contains("may only enrol"), "{status:?}");
    // Anything else is refused, with what to do about it.
    let refused = cli.run(&["users", "list"]).await;
    refused.code(3);
    assert!(refused.stderr.contains("auth mfa totp enable"), "{refused:?}");

    let (mut phone, _) = enrol(&cli).await;
    let session = cli.stored_token();

    // Now a full login, with a code: an API token replaces the session, which is ended.
    let input = format!("{PASSWORD}\n");
    let code = phone.code().await;
    cli.run_with(&["auth", "login", "-u", "olga", "--password-stdin", "--otp", &code], Some(&input), &[]).await.ok();
    let file: Value = serde_json::from_slice(&std::fs::read(cli.credentials()).expect("file")).expect("JSON");
    assert!(file["servers"][&url].get("session").is_none(), "{file}");
    assert!(cli.stored_token().starts_with("krv_"));
    assert_eq!(app.me_status(&session).await, StatusCode::UNAUTHORIZED, "the enrolment session was ended");
    cli.run(&["users", "list"]).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_factor_commands_have_help() {
    let cli = Cli::new("http://127.0.0.1:9");
    let commands: &[&[&str]] = &[
        &["auth", "mfa"],
        &["auth", "mfa", "status"],
        &["auth", "mfa", "totp"],
        &["auth", "mfa", "totp", "enable"],
        &["auth", "mfa", "totp", "confirm"],
        &["auth", "mfa", "totp", "disable"],
        &["auth", "mfa", "recovery-codes"],
        &["users", "mfa-reset"],
    ];
    for path in commands {
        let mut args = path.to_vec();
        args.push("--help");
        let run = cli.run(&args).await;
        run.ok();
        assert!(run.stdout.contains("Usage: kohakuriver"), "{path:?}: {}", run.stdout);
    }
    let login = cli.run(&["auth", "login", "--help"]).await;
    assert!(login.stdout.contains("--otp"), "{}", login.stdout);
    let auth = cli.run(&["auth", "--help"]).await;
    assert!(auth.stdout.contains("mfa"), "{}", auth.stdout);
}
