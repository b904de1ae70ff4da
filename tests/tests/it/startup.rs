//! Misconfiguration stops a process at start with one line naming the variable.

use krv_tests::bins::run;

const KEY: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn the_local_server_refuses_to_start_without_a_signing_key() {
    let (code, stderr) = run("krv-server", &[], &[]);
    assert_eq!(code, Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("invalid configuration: SESSION_SIGNING_KEY:"), "{stderr}");
}

#[test]
fn the_local_server_refuses_a_short_admin_secret_without_printing_it() {
    let (code, stderr) = run("krv-server", &[], &[("SESSION_SIGNING_KEY", KEY), ("ADMIN_SECRET", "tooshort-secret")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("ADMIN_SECRET"), "{stderr}");
    assert!(!stderr.contains("tooshort-secret"), "{stderr}");
}

#[test]
fn the_local_server_refuses_a_bad_port() {
    let (code, stderr) = run("krv-server", &[], &[("SESSION_SIGNING_KEY", KEY), ("PORT", "eighty")]);
    assert_eq!(code, Some(2));
    assert!(stderr.starts_with("invalid configuration: PORT:"), "{stderr}");
}

#[test]
fn a_lambda_binary_refuses_to_start_misconfigured() {
    let (code, stderr) = run(
        "krv-health",
        &[],
        &[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9"), ("SESSION_SIGNING_KEY", KEY), ("SESSION_EXPIRE_HOURS", "forever")],
    );
    assert_eq!(code, Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("SESSION_EXPIRE_HOURS"), "{stderr}");
}
