//! `infra/template.json` agrees with the code: the routes the local server
//! serves, the table definitions, least-privilege policies, no secret literals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use shared::db::tables::TABLES;

fn committed() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("template.json");
    let text = std::fs::read_to_string(&path).expect("infra/template.json exists");
    serde_json::from_str(&text).expect("template is JSON")
}

const REGENERATE: &str = "regenerate with `cargo run -q -p krv-infra --bin sam-template > infra/template.json`";

#[test]
fn the_committed_template_is_the_generated_one() {
    assert_eq!(committed(), krv_infra::template(), "infra/template.json is stale; {REGENERATE}");
}

#[test]
fn every_local_route_goes_to_its_groups_function_and_nothing_else_is_routed() {
    let template = committed();
    let resources = template["Resources"].as_object().expect("resources");
    let mut routed: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (id, resource) in resources {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        for event in resource["Properties"]["Events"].as_object().expect("events").values() {
            if id == krv_infra::RETRY_FUNCTION {
                assert_eq!(event["Type"], "Schedule", "the retry pass runs on a schedule, not behind the API");
                continue;
            }
            assert_eq!(event["Type"], "HttpApi", "{id}");
            let p = &event["Properties"];
            routed.insert((
                id.clone(),
                p["Method"].as_str().expect("method").to_owned(),
                p["Path"].as_str().expect("path").to_owned(),
            ));
        }
    }
    let served: BTreeSet<(String, String, String)> = krv_server::routes()
        .list()
        .iter()
        .map(|r| (krv_infra::function_id(r.group), r.method.to_string(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = served.difference(&routed).collect();
    let extra: Vec<_> = routed.difference(&served).collect();
    assert!(missing.is_empty(), "routes the template does not route: {missing:?}; {REGENERATE}");
    assert!(extra.is_empty(), "template routes the server does not serve: {extra:?}; {REGENERATE}");
}

#[test]
fn the_tables_match_their_definitions() {
    let template = committed();
    let resources = template["Resources"].as_object().expect("resources");
    let tables: BTreeMap<&String, &Value> =
        resources.iter().filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table").collect();
    assert_eq!(tables.len(), TABLES.len());
    for def in TABLES {
        let table =
            &tables.get(&krv_infra::table_id(def.name)).unwrap_or_else(|| panic!("{} missing", def.name))["Properties"];
        assert_eq!(table["TableName"]["Fn::Sub"], format!("${{TablePrefix}}-{}", def.name));
        let indexes: Vec<&str> = table["GlobalSecondaryIndexes"]
            .as_array()
            .expect("indexes")
            .iter()
            .filter_map(|i| i["IndexName"].as_str())
            .collect();
        assert_eq!(indexes, def.indexes, "{}", def.name);
        assert_eq!(table["TimeToLiveSpecification"]["AttributeName"], "ttl");
        assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    }
}

#[test]
fn no_secret_is_a_literal() {
    let template = committed();
    let env = &template["Globals"]["Function"]["Environment"]["Variables"];
    for name in [
        "SESSION_SIGNING_KEY",
        "ADMIN_SECRET",
        "ADMIN_REGISTER_SECRET",
        "DISPATCH_WEBHOOK_SECRET",
        "OIDC_CLIENT_SECRETS",
    ] {
        let value = env[name]["Fn::Sub"].as_str().unwrap_or_else(|| panic!("{name} must be resolved at deploy time"));
        assert!(value.starts_with("{{resolve:secretsmanager:"), "{name}: {value}");
    }
    for (id, resource) in template["Resources"].as_object().expect("resources") {
        if let Some(vars) = resource["Properties"]["Environment"]["Variables"].as_object() {
            for (name, value) in vars {
                let secretish = name.contains("SECRET") || name.contains("KEY");
                assert!(!(secretish && value.is_string()), "{id} sets {name} to a literal");
            }
        }
    }
}

#[test]
fn each_function_may_touch_only_its_own_tables_and_actions() {
    let template = committed();
    for (id, resource) in template["Resources"].as_object().expect("resources") {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let group = resource["Metadata"]["Binary"].as_str().and_then(|b| b.strip_prefix("krv-")).expect("binary name");
        let allowed = krv_infra::access_of(group);
        let statements = resource["Properties"]["Policies"][0]["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), allowed.len(), "{id}");
        for (statement, access) in statements.iter().zip(&allowed) {
            assert_eq!(statement["Effect"], "Allow");
            let actions: Vec<&str> =
                statement["Action"].as_array().expect("actions").iter().filter_map(Value::as_str).collect();
            assert!(actions.iter().all(|a| a.starts_with("dynamodb:") && !a.contains('*')), "{id}: {actions:?}");
            let expected: Vec<String> = access.actions.iter().map(|a| format!("dynamodb:{a}")).collect();
            assert_eq!(actions, expected, "{id} on {}", access.table);
            for arn in statement["Resource"].as_array().expect("resources") {
                let text = arn["Fn::Sub"].as_str().expect("ARN");
                assert!(text.contains(&format!("table/${{TablePrefix}}-{}", access.table)), "{id}: {text}");
            }
        }
    }
}

#[test]
fn failed_announcements_are_retried_on_a_schedule_when_a_webhook_is_configured() {
    let template = committed();
    let retry = &template["Resources"][krv_infra::RETRY_FUNCTION];
    assert_eq!(retry["Metadata"]["Binary"], "krv-tasks-retry");
    assert_eq!(retry["Condition"], "HasDispatchWebhook");
    let events: Vec<&Value> = retry["Properties"]["Events"].as_object().expect("events").values().collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["Type"], "Schedule");
    assert_eq!(
        template["Conditions"]["HasDispatchWebhook"]["Fn::Not"][0]["Fn::Equals"][0]["Ref"],
        "DispatchWebhookUrl"
    );
    assert_eq!(template["Parameters"]["DispatchWebhookUrl"]["Default"], "");
}

#[test]
fn redis_is_reached_over_tls() {
    let template = committed();
    let url = &template["Globals"]["Function"]["Environment"]["Variables"]["REDIS_URL"]["Fn::If"];
    for branch in [&url[1], &url[2]] {
        let url = &branch["Fn::Sub"];
        assert!(url.as_str().is_some_and(|u| u.starts_with("rediss://")), "{url}");
    }
    assert_eq!(template["Resources"]["Redis"]["Properties"]["TransitEncryptionEnabled"], true);
}

/// `RedisClusterMode=true` makes the replication group a cluster of
/// `RedisShards` shards and points the functions at its configuration
/// endpoint with `REDIS_CLUSTER=true`; the default is one primary and a
/// replica, reached at the primary endpoint.
#[test]
fn redis_cluster_mode_is_one_parameter() {
    let template = committed();
    let condition = krv_infra::REDIS_CLUSTER_CONDITION;
    assert_eq!(template["Conditions"][condition]["Fn::Equals"][0]["Ref"], "RedisClusterMode");
    assert_eq!(template["Conditions"][condition]["Fn::Equals"][1], "true");
    let mode = &template["Parameters"]["RedisClusterMode"];
    assert_eq!(mode["Default"], "false");
    assert_eq!(mode["AllowedValues"], serde_json::json!(["false", "true"]));

    let vars = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(vars["REDIS_CLUSTER"]["Ref"], "RedisClusterMode");
    let url = &vars["REDIS_URL"]["Fn::If"];
    assert_eq!(url[0], condition);
    assert!(url[1]["Fn::Sub"].as_str().is_some_and(|u| u.contains("Redis.ConfigurationEndPoint.Address")), "{url}");
    assert!(url[2]["Fn::Sub"].as_str().is_some_and(|u| u.contains("Redis.PrimaryEndPoint.Address")), "{url}");

    let redis = &template["Resources"]["Redis"]["Properties"];
    let no_value = serde_json::json!({"Ref": "AWS::NoValue"});
    let when = |property: &str| {
        let choice = &redis[property]["Fn::If"];
        assert_eq!(choice[0], condition, "{property}");
        (choice[1].clone(), choice[2].clone())
    };
    assert_eq!(when("ClusterMode"), (serde_json::json!("enabled"), no_value.clone()));
    assert_eq!(when("NumNodeGroups"), (serde_json::json!({"Ref": "RedisShards"}), no_value.clone()));
    assert_eq!(when("ReplicasPerNodeGroup"), (serde_json::json!({"Ref": "RedisReplicasPerShard"}), no_value.clone()));
    assert_eq!(when("NumCacheClusters"), (no_value, serde_json::json!(2)));
    assert_eq!(redis["AutomaticFailoverEnabled"], true, "cluster mode needs it");
}

/// The binaries the `functions/` crates declare (`[[bin]] name = …`).
fn lambda_binaries() -> BTreeSet<String> {
    let functions = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let mut names = BTreeSet::new();
    for crate_dir in std::fs::read_dir(&functions).expect("functions/") {
        let manifest = crate_dir.expect("entry").path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("Cargo.toml");
        let manifest: toml::Table = toml::from_str(&text).expect("TOML");
        for bin in manifest.get("bin").and_then(|b| b.as_array()).into_iter().flatten() {
            names.insert(bin["name"].as_str().expect("bin name").to_owned());
        }
    }
    names
}

#[test]
fn every_function_deploys_the_zip_the_packaging_command_builds_for_its_binary() {
    let template = committed();
    let binaries = lambda_binaries();
    let mut deployed = BTreeSet::new();
    for (id, resource) in template["Resources"].as_object().expect("resources") {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["Binary"].as_str().expect("binary name").to_owned();
        assert!(binaries.contains(&binary), "{id} deploys {binary}, which no functions/ crate builds");
        assert_eq!(resource["Properties"]["CodeUri"], format!("../target/lambda/{binary}/bootstrap.zip"), "{id}");
        deployed.insert(binary);
    }
    assert_eq!(deployed, binaries, "every Lambda binary is deployed, once");
}
