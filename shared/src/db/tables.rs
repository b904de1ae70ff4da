//! The DynamoDB table definitions: the one place they exist. The local server,
//! the local stack (`localstack/tables/*.json`, generated from here and checked
//! by a test), the tests and `infra/` all use them.
//!
//! Every table has a string partition key `pk` and sort key `sk`, one or two
//! generic global secondary indexes, and TTL on the numeric attribute `ttl`
//! (seconds since the epoch). Aggregate modules decide the key layout inside.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde_json::{Value, json};

use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::store_error;

/// The TTL attribute of every table.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// One table: its name without prefix and the indexes it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    pub name: &'static str,
    /// Global secondary indexes; each `NAME` is keyed by `NAMEpk`/`NAMEsk`.
    pub indexes: &'static [&'static str],
    pub purpose: &'static str,
}

/// Every table of the service.
pub const TABLES: &[TableDef] = &[
    TableDef {
        name: "identity",
        indexes: &["gsi1"],
        purpose: "users, username reservations, id counters, groups and memberships",
    },
    TableDef { name: "tokens", indexes: &["gsi1"], purpose: "API tokens (by hash; by owner on gsi1)" },
    TableDef { name: "invitations", indexes: &["gsi1"], purpose: "invitation codes (by hash) and their uses" },
    TableDef {
        name: "tasks",
        indexes: &["gsi1", "gsi2", "gsi3"],
        purpose: "tasks, approval state and VPS assignments (by status on gsi1, by owner on gsi2, all on gsi3)",
    },
    TableDef { name: "audit", indexes: &["gsi1"], purpose: "the append-only audit log (by actor on gsi1)" },
];

/// Full table names for one deployment (`<TABLE_PREFIX>-<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub identity: String,
    pub tokens: String,
    pub invitations: String,
    pub tasks: String,
    pub audit: String,
}

impl Tables {
    pub fn new(prefix: &str) -> Self {
        let name = |table: &str| full_name(prefix, table);
        Self {
            identity: name("identity"),
            tokens: name("tokens"),
            invitations: name("invitations"),
            tasks: name("tasks"),
            audit: name("audit"),
        }
    }

    /// Every full name, in the order of [`TABLES`].
    pub fn all(&self) -> [&str; 5] {
        [&self.identity, &self.tokens, &self.invitations, &self.tasks, &self.audit]
    }
}

pub fn full_name(prefix: &str, table: &str) -> String {
    format!("{prefix}-{table}")
}

/// The CreateTable request of `def` in DynamoDB's JSON form (what
/// `aws dynamodb create-table --cli-input-json` and CloudFormation take).
pub fn create_table_json(prefix: &str, def: &TableDef) -> Value {
    let mut attributes = vec![
        json!({"AttributeName": "pk", "AttributeType": "S"}),
        json!({"AttributeName": "sk", "AttributeType": "S"}),
    ];
    let mut indexes = Vec::new();
    for index in def.indexes {
        attributes.push(json!({"AttributeName": format!("{index}pk"), "AttributeType": "S"}));
        attributes.push(json!({"AttributeName": format!("{index}sk"), "AttributeType": "S"}));
        indexes.push(json!({
            "IndexName": index,
            "KeySchema": [
                {"AttributeName": format!("{index}pk"), "KeyType": "HASH"},
                {"AttributeName": format!("{index}sk"), "KeyType": "RANGE"}
            ],
            "Projection": {"ProjectionType": "ALL"}
        }));
    }
    json!({
        "TableName": full_name(prefix, def.name),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attributes,
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ],
        "GlobalSecondaryIndexes": indexes,
    })
}

fn attr(name: String) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StoreError::Internal(e.into()))
}

fn key(name: String, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(|e| StoreError::Internal(e.into()))
}

/// Creates every missing table and turns on TTL; tables that exist are left alone.
pub async fn ensure(stores: &Stores, prefix: &str) -> Result<(), StoreError> {
    for def in TABLES {
        let name = full_name(prefix, def.name);
        let mut request = stores
            .dynamo
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk".into())?)
            .attribute_definitions(attr("sk".into())?)
            .key_schema(key("pk".into(), KeyType::Hash)?)
            .key_schema(key("sk".into(), KeyType::Range)?);
        for index in def.indexes {
            request = request
                .attribute_definitions(attr(format!("{index}pk"))?)
                .attribute_definitions(attr(format!("{index}sk"))?)
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(*index)
                        .key_schema(key(format!("{index}pk"), KeyType::Hash)?)
                        .key_schema(key(format!("{index}sk"), KeyType::Range)?)
                        .projection(Projection::builder().projection_type(ProjectionType::All).build())
                        .build()
                        .map_err(|e| StoreError::Internal(e.into()))?,
                );
        }
        match request.send().await {
            Ok(_) => tracing::info!(table = %name, "created table"),
            // Created earlier (or by a concurrent start): keep it.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(err) => return Err(store_error(err)),
        }
        let ttl = stores.dynamo.describe_time_to_live().table_name(&name).send().await.map_err(store_error)?;
        let enabled =
            ttl.time_to_live_description().and_then(|d| d.attribute_name()).is_some_and(|a| a == TTL_ATTRIBUTE);
        if !enabled {
            stores
                .dynamo
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(TTL_ATTRIBUTE)
                        .enabled(true)
                        .build()
                        .map_err(|e| StoreError::Internal(e.into()))?,
                )
                .send()
                .await
                .map_err(store_error)?;
        }
    }
    Ok(())
}

/// Checks that DynamoDB answers and the identity table exists (readiness).
pub async fn check(stores: &Stores) -> Result<(), StoreError> {
    stores.dynamo.describe_table().table_name(&stores.tables.identity).send().await.map(|_| ()).map_err(store_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let tables = Tables::new("t1");
        assert_eq!(tables.identity, "t1-identity");
        assert_eq!(tables.all().len(), TABLES.len());
        for (full, def) in tables.all().iter().zip(TABLES) {
            assert_eq!(*full, full_name("t1", def.name));
        }
    }

    #[test]
    fn the_json_form_declares_every_index_key() {
        let def = TABLES.iter().find(|d| d.name == "tasks").expect("tasks table");
        let json = create_table_json("p", def);
        assert_eq!(json["TableName"], "p-tasks");
        let attrs: Vec<&str> = json["AttributeDefinitions"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|a| a["AttributeName"].as_str())
            .collect();
        assert_eq!(attrs, ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"]);
        assert_eq!(json["GlobalSecondaryIndexes"].as_array().map(Vec::len), Some(3));
    }
}
