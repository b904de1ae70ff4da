//! A restart on the same data: sessions and tokens keep working.

use super::*;
use serde_json::json;

/// `systemctl restart` with the store on disk and Redis left running: the
/// session cookie and the API token issued before the restart authenticate
/// the new process, with no new login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_tokens_issued_before_a_restart_keep_working() {
    let node = Node::new().await;
    let client = &node.client;
    let mut server = node.start().await;
    let session = register_admin(client, &server, "root").await;
    let created = client
        .post(server.url("/api/auth/tokens"))
        .bearer_auth(&session)
        .json(&json!({"name": "before-restart"}))
        .send()
        .await
        .expect("create token");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let created: serde_json::Value = created.json().await.expect("JSON");
    let token = created["token"].as_str().expect("the token").to_owned();
    assert_eq!(me(client, &server, Credential::Cookie(&session)).await.0, 200);

    server.stop().await;
    drop(server);

    let server = node.start().await;
    for (what, credential) in [
        ("the old session cookie", Credential::Cookie(&session)),
        ("the old session as a bearer token", Credential::Bearer(&session)),
        ("the old API token", Credential::Bearer(&token)),
    ] {
        let (status, body) = me(client, &server, credential).await;
        assert_eq!(status, 200, "{what} after the restart: {body}\n{}", server.log());
        assert_eq!(body["username"], "root", "{what}: {body}");
    }
    // The old session still carries its rights: it writes through the new process.
    assert_eq!(create_user(client, &server, &session, "after-restart").await, 201, "{}", server.log());
}
