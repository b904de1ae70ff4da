//! Backup while running, restore into a wiped store, and failed restores
//! that leave the store as it was.

use super::*;
use krv_tests::PASSWORD;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_running_then_restore_into_a_wiped_store() {
    let node = Node::new().await;
    let (client, store_env) = (&node.client, node.store_env());
    let backup = node.dir.path().join("backup.sqlite");
    let backup_path = backup.to_str().expect("utf-8").to_owned();
    let mut server = node.start().await;
    let admin = register_admin(client, &server, "root").await;
    let created = client
        .post(server.url("/api/auth/register"))
        .bearer_auth(&admin)
        .json(&json!({"username": "alice", "password": PASSWORD, "role": "operator"}))
        .send()
        .await
        .expect("create user");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);

    let (code, stderr) = run(&["backup", &backup_path], &store_env);
    assert_eq!(code, Some(0), "backup while running: {stderr}");
    assert!(backup.is_file());
    let (code, stderr) = run(&["restore", &backup_path], &store_env);
    assert_eq!(code, Some(1), "restore while running must be refused: {stderr}");
    assert!(stderr.contains("stop the service first"), "{stderr}");

    server.stop().await;
    drop(server);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", node.data_path()));
    }
    assert!(!node.data.exists());

    let (code, stderr) = run(&["restore", &backup_path], &store_env);
    assert_eq!(code, Some(0), "restore: {stderr}");

    let server = node.start().await;
    // Redis kept running: the session from before the restore still works,
    // as its user is in the backup.
    let (status, body) = me(client, &server, Credential::Cookie(&admin)).await;
    assert_eq!(status, 200, "the old session after the restore: {body}\n{}", server.log());
    let names = usernames(client, &server, &admin).await;
    assert!(
        names.iter().any(|n| n == "alice") && names.iter().any(|n| n == "root"),
        "users after the restore: {names:?}"
    );
    let login = client
        .post(server.url("/api/auth/login"))
        .json(&json!({"username": "root", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), reqwest::StatusCode::OK, "the admin's password survives the restore");
}

/// SQLite's page size in the embedded store (its default).
const PAGE: usize = 4096;

/// `file` with its page `index` (from 0) overwritten with junk.
fn damaged_page(file: &[u8], index: usize) -> Vec<u8> {
    let mut damaged = file.to_vec();
    damaged[index * PAGE..(index + 1) * PAGE].fill(0xA5);
    damaged
}

/// A restore from a file that is not a usable backup fails with exit 1 and
/// one line, and the store keeps the data it had (written after the backup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restore_leaves_the_store_as_it_was() {
    let node = Node::new().await;
    let (client, store_env, dir) = (&node.client, node.store_env(), node.dir.path());
    let backup = dir.join("backup.sqlite");
    let backup_path = backup.to_str().expect("utf-8").to_owned();
    let mut server = node.start().await;
    let admin = register_admin(client, &server, "root").await;
    assert_eq!(create_user(client, &server, &admin, "alice").await, 201);
    let (code, stderr) = run(&["backup", &backup_path], &store_env);
    assert_eq!(code, Some(0), "backup: {stderr}");
    // Changed after the backup: what a failed restore must keep.
    assert_eq!(create_user(client, &server, &admin, "bob").await, 201);
    server.stop().await;
    drop(server);

    let good = std::fs::read(&backup).expect("read the backup");
    let bad_files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("text", b"this is not a backup\n".to_vec()),
        ("truncated to its first half", good[..good.len() / 2].to_vec()),
        ("truncated to its SQLite header", good[..100].to_vec()),
        // SQLite reads these pages only when a query needs them: a restore
        // that checks no more than the file's format takes them as sound.
        ("with one page in the middle overwritten", damaged_page(&good, good.len() / PAGE / 2)),
        ("with its last page overwritten", damaged_page(&good, good.len() / PAGE - 1)),
        ("with its middle overwritten", {
            let mut damaged = good.clone();
            let (from, to) = (good.len() / 4, good.len() * 3 / 4);
            damaged[from..to].fill(0xA5);
            damaged
        }),
    ];
    let mut refused = Vec::new();
    for (what, bytes) in &bad_files {
        let path = dir.join(format!("bad-{}.sqlite", refused.len()));
        std::fs::write(&path, bytes).expect("write the bad file");
        let (code, stderr) = run(&["restore", path.to_str().expect("utf-8")], &store_env);
        refused.push((*what, code, stderr));
    }
    let missing = dir.join("no-such-backup.sqlite");
    let (code, stderr) = run(&["restore", missing.to_str().expect("utf-8")], &store_env);
    refused.push(("missing", code, stderr));
    for (what, code, stderr) in &refused {
        eprintln!("restore from a {what} file: exit {code:?}: {}", stderr.trim_end());
    }
    for (what, code, stderr) in &refused {
        assert_eq!(*code, Some(1), "restore from a {what} file must fail with exit 1: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line for a {what} file: {stderr}");
        assert!(stderr.starts_with("krv-server: "), "{what}: {stderr}");
    }

    let server = node.start().await;
    let (status, body) = me(client, &server, Credential::Cookie(&admin)).await;
    assert_eq!(status, 200, "the admin's session after the failed restores: {body}\n{}", server.log());
    let names = usernames(client, &server, &admin).await;
    for name in ["root", "alice", "bob"] {
        assert!(names.iter().any(|n| n == name), "{name} is gone after the failed restores: {names:?}");
    }
    // The store still takes writes.
    assert_eq!(create_user(client, &server, &admin, "carol").await, 201, "{}", server.log());

    // Into a missing store, a refused restore creates nothing.
    let absent = dir.join("elsewhere").join("dynamodb.sqlite");
    let damaged = dir.join("bad-0.sqlite");
    let env = [("DYNAMODB_DATA_PATH", absent.to_str().expect("utf-8")), ("SESSION_SIGNING_KEY", SIGNING_KEY)];
    let (code, stderr) = run(&["restore", damaged.to_str().expect("utf-8")], &env);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!absent.exists(), "a refused restore created the store");
}
