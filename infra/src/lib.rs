//! The AWS SAM template (`infra/template.json`), generated from the route table
//! the local server uses and from the table definitions, so the deployed API
//! cannot drift from the code: a test regenerates it and compares.
//!
//! One Lambda per endpoint group behind one API Gateway HTTP API, the DynamoDB
//! tables with their indexes and TTL, an ElastiCache Redis replication group in
//! private subnets with the functions in the VPC, secrets from Secrets Manager
//! (generated at deploy time, never literals), per-function IAM naming only the
//! table actions that function uses, and log retention.

mod access;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use shared::store::tables::{self, TABLES, TTL_ATTRIBUTE};

pub use access::{TableAccess, access_of};

/// The function's logical id for a group (`auth` → `AuthFunction`).
pub fn function_id(group: &str) -> String {
    let mut chars = group.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).into_iter().collect::<String>();
    format!("{first}{}Function", chars.as_str())
}

/// The table's logical id (`identity` → `IdentityTable`).
pub fn table_id(name: &str) -> String {
    let mut chars = name.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).into_iter().collect::<String>();
    format!("{first}{}Table", chars.as_str())
}

fn table_resource(def: &tables::TableDef) -> Value {
    let mut properties = tables::create_table_json("PREFIX", def);
    if let Some(map) = properties.as_object_mut() {
        map.insert("TableName".into(), json!({"Fn::Sub": format!("${{TablePrefix}}-{}", def.name)}));
        map.insert("TimeToLiveSpecification".into(), json!({"AttributeName": TTL_ATTRIBUTE, "Enabled": true}));
        map.insert("PointInTimeRecoverySpecification".into(), json!({"PointInTimeRecoveryEnabled": true}));
        map.insert("SSESpecification".into(), json!({"SSEEnabled": true}));
    }
    json!({"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": properties})
}

fn table_arn(table: &str) -> Value {
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{TablePrefix}}-{table}")})
}

fn policy_of(group: &str) -> Value {
    let statements: Vec<Value> = access_of(group)
        .iter()
        .map(|a| {
            let mut resources = vec![table_arn(a.table)];
            if a.indexes {
                resources.push(json!({"Fn::Sub": format!(
                    "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{TablePrefix}}-{}/index/*",
                    a.table
                )}));
            }
            let actions: Vec<String> = a.actions.iter().map(|x| format!("dynamodb:{x}")).collect();
            json!({"Effect": "Allow", "Action": actions, "Resource": resources})
        })
        .collect();
    json!([{"Version": "2012-10-17", "Statement": statements}])
}

/// The whole template.
pub fn template() -> Value {
    let routes = krv_server::routes();
    let mut by_group: BTreeMap<&str, Vec<&shared::app::RouteInfo>> = BTreeMap::new();
    for route in routes.list() {
        by_group.entry(route.group).or_default().push(route);
    }
    let mut resources = Map::new();
    for def in TABLES {
        resources.insert(table_id(def.name), table_resource(def));
    }
    for (group, routes) in &by_group {
        let mut events = Map::new();
        for (i, route) in routes.iter().enumerate() {
            events.insert(
                format!("Route{i}"),
                json!({"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}, "Path": route.path, "Method": route.method.as_str()}}),
            );
        }
        let id = function_id(group);
        resources.insert(
            id.clone(),
            json!({
                "Type": "AWS::Serverless::Function",
                "Metadata": {"BuildMethod": "rust-cargolambda", "Binary": format!("krv-{group}")},
                "Properties": {
                    "FunctionName": {"Fn::Sub": format!("${{TablePrefix}}-{group}")},
                    "CodeUri": format!("../target/lambda/krv-{group}/"),
                    "Events": events,
                    "Policies": policy_of(group),
                    "LoggingConfig": {"LogGroup": {"Ref": format!("{id}Logs")}},
                }
            }),
        );
        resources.insert(
            format!("{id}Logs"),
            json!({"Type": "AWS::Logs::LogGroup", "Properties": {
                "LogGroupName": {"Fn::Sub": format!("/aws/lambda/${{TablePrefix}}-{group}")},
                "RetentionInDays": {"Ref": "LogRetentionDays"}
            }}),
        );
    }
    resources.extend(fixed_resources());
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": "KohakuRiver user management: one Lambda per endpoint group behind an HTTP API, DynamoDB, ElastiCache Redis. Generated by `cargo run -p krv-infra --bin sam-template`; do not edit by hand.",
        "Parameters": parameters(),
        "Globals": globals(),
        "Resources": resources,
        "Outputs": {
            "ApiUrl": {"Description": "The API's base URL", "Value": {"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}},
        },
    })
}

fn parameters() -> Value {
    json!({
        "Stage": {"Type": "String", "Default": "prod", "Description": "Deployment stage name, used in tags"},
        "TablePrefix": {"Type": "String", "Default": "kohakuriver", "AllowedPattern": "[A-Za-z0-9_.-]{1,100}", "Description": "Prefix of every table and Redis key"},
        "SessionExpireHours": {"Type": "Number", "Default": 24, "MinValue": 1, "MaxValue": 8760},
        "MemorySize": {"Type": "Number", "Default": 256, "MinValue": 128, "MaxValue": 10240},
        "Architecture": {"Type": "String", "Default": "x86_64", "AllowedValues": ["x86_64", "arm64"]},
        "LogRetentionDays": {"Type": "Number", "Default": 30},
        "VpcId": {"Type": "AWS::EC2::VPC::Id"},
        "PrivateSubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>", "Description": "At least two private subnets (with a NAT or VPC endpoints for DynamoDB)"},
        "RedisNodeType": {"Type": "String", "Default": "cache.t4g.micro"},
    })
}

fn globals() -> Value {
    json!({
        "Function": {
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": [{"Ref": "Architecture"}],
            "MemorySize": {"Ref": "MemorySize"},
            "Timeout": 10,
            "VpcConfig": {"SecurityGroupIds": [{"Ref": "FunctionSecurityGroup"}], "SubnetIds": {"Ref": "PrivateSubnetIds"}},
            "Tags": {"Stage": {"Ref": "Stage"}, "Service": "kohakuriver-user-management"},
            "Environment": {"Variables": {
                "TABLE_PREFIX": {"Ref": "TablePrefix"},
                "SESSION_EXPIRE_HOURS": {"Ref": "SessionExpireHours"},
                "REDIS_URL": {"Fn::Sub": "redis://${Redis.PrimaryEndPoint.Address}:${Redis.PrimaryEndPoint.Port}"},
                "SESSION_SIGNING_KEY": {"Fn::Sub": "{{resolve:secretsmanager:${SessionSigningKey}:SecretString}}"},
                "ADMIN_REGISTER_SECRET": {"Fn::Sub": "{{resolve:secretsmanager:${AdminRegisterSecret}:SecretString}}"},
                "ADMIN_SECRET": {"Fn::Sub": "{{resolve:secretsmanager:${AdminSecret}:SecretString}}"},
                "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true",
                "LOG_FORMAT": "json",
            }},
        }
    })
}

fn secret(description: &str) -> Value {
    json!({"Type": "AWS::SecretsManager::Secret", "Properties": {
        "Description": description,
        "GenerateSecretString": {"PasswordLength": 48, "ExcludePunctuation": true},
    }})
}

fn fixed_resources() -> Map<String, Value> {
    let mut r = Map::new();
    r.insert(
        "HttpApi".into(),
        json!({"Type": "AWS::Serverless::HttpApi", "Properties": {"StageName": "$default", "Tags": {"Stage": {"Ref": "Stage"}}}}),
    );
    r.insert("SessionSigningKey".into(), secret("HMAC key of session tokens (SESSION_SIGNING_KEY)"));
    r.insert("AdminRegisterSecret".into(), secret("Registers the first admin (ADMIN_REGISTER_SECRET)"));
    r.insert("AdminSecret".into(), secret("Break-glass admin secret (ADMIN_SECRET)"));
    r.insert(
        "FunctionSecurityGroup".into(),
        json!({"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "KohakuRiver functions",
            "VpcId": {"Ref": "VpcId"},
            "SecurityGroupEgress": [{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0", "Description": "DynamoDB and Redis"}],
        }}),
    );
    r.insert(
        "RedisSecurityGroup".into(),
        json!({"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "KohakuRiver Redis, reachable from the functions only",
            "VpcId": {"Ref": "VpcId"},
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "SourceSecurityGroupId": {"Ref": "FunctionSecurityGroup"}}],
        }}),
    );
    r.insert(
        "RedisSubnets".into(),
        json!({"Type": "AWS::ElastiCache::SubnetGroup", "Properties": {
            "Description": "Private subnets of the KohakuRiver Redis",
            "SubnetIds": {"Ref": "PrivateSubnetIds"},
        }}),
    );
    r.insert(
        "Redis".into(),
        json!({"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": {
            "ReplicationGroupDescription": "KohakuRiver sessions, caches and throttling counters",
            "Engine": "valkey",
            "CacheNodeType": {"Ref": "RedisNodeType"},
            "NumCacheClusters": 2,
            "AutomaticFailoverEnabled": true,
            "MultiAZEnabled": true,
            "CacheSubnetGroupName": {"Ref": "RedisSubnets"},
            "SecurityGroupIds": [{"Ref": "RedisSecurityGroup"}],
            "AtRestEncryptionEnabled": true,
            "TransitEncryptionEnabled": false,
        }}),
    );
    r
}
