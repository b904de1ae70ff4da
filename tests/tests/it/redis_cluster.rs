//! Redis Cluster (`REDIS_CLUSTER=true`, ElastiCache cluster mode): the service
//! on a real three-primary cluster on loopback, whatever `KRV_TEST_REDIS` says.
//! The single-server client cannot follow a cluster's `MOVED` answers, so
//! these pass only when the cluster backend is the one in use.

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp};
use redis::cluster_routing::Slot;
use shared::db::StoreError;

async fn on_a_cluster() -> TestApp {
    let app = TestApp::builder().redis_cluster().build().await;
    assert!(app.state.stores.redis.is_cluster(), "the service was not configured for the cluster");
    app
}

/// Keys each primary holds, in the order of the cluster's nodes.
async fn keys_per_node(app: &TestApp) -> Vec<u64> {
    let stack = app.stack.lock().await;
    let cluster = stack.redis.cluster().expect("a cluster");
    let mut counts = Vec::new();
    for mut node in cluster.node_connections().await.expect("node connections") {
        counts.push(redis::cmd("DBSIZE").query_async::<u64>(&mut node).await.expect("DBSIZE"));
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_api_tokens_work_end_to_end_on_a_cluster() {
    let app = on_a_cluster().await;
    app.get("/api/health/ready").await.assert_status(StatusCode::OK);
    let session = app.first_admin("root").await;
    let me = app.call(Method::GET, "/api/auth/me", Auth::Cookie(&session), None).await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["username"], "root");
    let (token, _) = app.create_token(&session, "ci").await;
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["username"], "root");

    // A second instance (another Lambda container) sees the same cluster.
    let other = app.another_instance().await;
    other.call(Method::GET, "/api/auth/me", Auth::Cookie(&session), None).await.assert_status(StatusCode::OK);
    app.call(Method::POST, "/api/auth/logout", Auth::Cookie(&session), None).await.assert_status(StatusCode::OK);
    other.call(Method::GET, "/api/auth/me", Auth::Cookie(&session), None).await.assert_status(StatusCode::UNAUTHORIZED);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_spreads_its_keys_over_the_primaries() {
    let app = on_a_cluster().await;
    app.with_admin().await;
    for n in 0..8 {
        let user = app.with_user(&format!("user{n}"), "user").await;
        app.me_status(&user.token).await;
    }
    let counts = keys_per_node(&app).await;
    assert_eq!(counts.len(), 3);
    let holding = counts.iter().filter(|n| **n > 0).count();
    assert!(holding > 1, "every key on one primary: {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_refuses_a_script_whose_keys_span_slots() {
    let app = on_a_cluster().await;
    let redis = &app.state.stores.redis;
    let (a, b, c) = (redis.key("{x}:a"), redis.key("{y}:b"), redis.key("{x}:c"));
    assert_ne!(Slot::for_key(&a), Slot::for_key(&b), "the keys were meant for two slots");
    assert_eq!(Slot::for_key(&a), Slot::for_key(&c));
    let script = redis::Script::new("redis.call('SET', KEYS[1], 1) return redis.call('INCR', KEYS[2])");

    let err = redis.invoke::<i64>(script.key(&a).key(&b)).await.expect_err("keys in two slots");
    assert!(matches!(err, StoreError::Internal(_)), "a bug, not an outage: {err}");
    assert!(format!("{err:#}").to_ascii_uppercase().contains("CROSSSLOT"), "{err:#}");
    // The same script on keys that share a hash tag runs (loaded on first use).
    assert_eq!(redis.invoke::<i64>(script.key(&a).key(&c)).await.expect("one slot"), 1);

    // So does a MULTI/EXEC spanning slots; a plain pipeline is split instead.
    let mut atomic = redis::pipe();
    atomic.atomic().incr(&a, 1).incr(&b, 1);
    let err = redis.pipeline::<(i64, i64)>(&atomic).await.expect_err("a transaction over two slots");
    assert!(matches!(err, StoreError::Internal(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_and_scripts_along_reads_span_slots_in_one_call() {
    let app = on_a_cluster().await;
    let redis = &app.state.stores.redis;
    let keys: Vec<String> = (0..12).map(|n| redis.key(&format!("{{k{n}}}"))).collect();
    let slots: std::collections::HashSet<Slot> = keys.iter().map(Slot::for_key).collect();
    assert!(slots.len() > 1);

    // Commands on one key keep their order; answers come back in the pipeline's order.
    let mut pipe = redis::pipe();
    for (n, key) in keys.iter().enumerate() {
        pipe.set(key, n).ignore().incr(key, 100).expire(key, 60).ignore();
    }
    let before = app.state.stores.io.snapshot();
    let values: Vec<i64> = redis.pipeline(&pipe).await.expect("a pipeline over several slots");
    assert_eq!(values, (100..112).collect::<Vec<i64>>());
    let ttl: i64 = redis.query(redis::cmd("TTL").arg(&keys[5])).await.expect("TTL");
    assert!(ttl > 0, "the EXPIRE ran after its key's SET");

    // A script and reads of other slots: one call, the script loaded on its
    // node on the first miss.
    let script = redis::Script::new("return redis.call('INCR', KEYS[1])");
    let along: Vec<redis::Cmd> = keys[1..4].iter().map(|key| redis::cmd("GET").arg(key).clone()).collect();
    let (value, reads) = redis.invoke_along(&script.key(&keys[0]), &along).await.expect("script along reads");
    assert_eq!(redis::from_redis_value::<i64>(value).expect("number"), 101);
    let reads: Vec<i64> = reads.into_iter().map(|v| redis::from_redis_value(v).expect("number")).collect();
    assert_eq!(reads, vec![101, 102, 103]);
    let calls = app.state.stores.io.snapshot() - before;
    assert_eq!(calls.redis_round_trips, 3, "each call counts one round trip, however many nodes it reached");
}

/// One seed is enough, as ElastiCache's configuration endpoint is: the client
/// learns the other primaries from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_seed_node_is_enough_to_reach_every_primary() {
    let app = on_a_cluster().await;
    let seed = app.stack.lock().await.redis.cluster().expect("a cluster").node_urls().remove(1);
    let env = shared::env::Env::from_map([
        ("SESSION_SIGNING_KEY", "0123456789abcdef0123456789abcdef"),
        ("REDIS_CLUSTER", "true"),
        ("REDIS_URL", seed.as_str()),
    ]);
    let settings = shared::config::Config::from(&env).expect("valid").stores;
    let io = std::sync::Arc::new(shared::db::io::IoCounters::default());
    let redis = shared::db::kv::Redis::connect(&settings, io).expect("client");
    redis.ping().await.expect("every primary answers PING");
    let keys: Vec<String> = (0..9).map(|n| redis.key(&format!("{{seed{n}}}"))).collect();
    let mut writes = redis::pipe();
    for key in &keys {
        writes.set(key, key).ignore();
    }
    redis.pipeline::<()>(&writes).await.expect("writes to every primary");
    let counts = keys_per_node(&app).await;
    assert!(counts.iter().all(|n| *n > 0), "keys {counts:?}: the seed's own slots only");
}

/// Nothing answers at the seed: the service still starts (the connection is
/// made on first use) and answers 503 at once, never hangs or fails with 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_an_outage_not_a_start_failure() {
    let port = krv_tests::stack::free_port().expect("free port");
    let seed = format!("redis://127.0.0.1:{port}");
    let app = TestApp::builder().envs(&[("REDIS_CLUSTER", "true"), ("REDIS_URL", &seed)]).build().await;
    assert!(app.state.stores.redis.is_cluster());
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let ready = app.get("/api/health/ready").await;
        ready.assert_status(StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "readiness took {:?}", started.elapsed());
        let login = app.login_attempt("root", krv_tests::PASSWORD, "127.0.0.1").await;
        login.assert_error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    }
}

/// A cluster that speaks only TLS (ElastiCache with transit encryption, or a
/// private CA named by `REDIS_CA_FILE`): every node is verified, the ones
/// learned from the seed too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_is_reached_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("self-signed certificate");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let cluster = krv_tests::RedisCluster::start_tls(&cert, &key).await.expect("a TLS cluster starts");
    let seed = cluster.node_urls().remove(0);
    assert!(seed.starts_with("rediss://"));

    let ca = cert.to_str().expect("utf-8");
    let app = TestApp::builder()
        .envs(&[("REDIS_CLUSTER", "true"), ("REDIS_URL", &seed), ("REDIS_CA_FILE", ca)])
        .build()
        .await;
    app.get("/api/health/ready").await.assert_status(StatusCode::OK);
    let session = app.first_admin("root").await;
    for n in 0..4 {
        app.with_user(&format!("user{n}"), "user").await;
    }
    app.call(Method::GET, "/api/auth/me", Auth::Cookie(&session), None).await.assert_status(StatusCode::OK);
    let mut holding = 0;
    for mut node in cluster.node_connections().await.expect("node connections") {
        holding += usize::from(redis::cmd("DBSIZE").query_async::<u64>(&mut node).await.expect("DBSIZE") > 0);
    }
    assert!(holding > 1, "the nodes learned from the seed were not reached");

    // Without the CA no node can be verified: an outage (503), never an
    // unverified connection.
    let untrusting = TestApp::builder().envs(&[("REDIS_CLUSTER", "true"), ("REDIS_URL", &seed)]).build().await;
    untrusting.get("/api/health/ready").await.assert_status(StatusCode::SERVICE_UNAVAILABLE);
}
