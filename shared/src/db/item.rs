//! Reading and writing DynamoDB item attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::db::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

fn missing(name: &str) -> StoreError {
    StoreError::Internal(anyhow::anyhow!("stored item lacks a valid {name:?}"))
}

/// A required string attribute.
pub fn get_s(item: &Item, name: &str) -> Result<String, StoreError> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned().ok_or_else(|| missing(name))
}

/// An optional string attribute.
pub fn opt_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// A required number attribute.
pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).ok_or_else(|| missing(name))
}

/// An optional number attribute.
pub fn opt_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

/// A required boolean attribute.
pub fn get_b(item: &Item, name: &str) -> Result<bool, StoreError> {
    item.get(name).and_then(|v| v.as_bool().ok()).copied().ok_or_else(|| missing(name))
}

/// The key map `{pk, sk}`.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// A number set attribute as sorted numbers (empty when absent).
pub fn number_set(item: &Item, name: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = item
        .get(name)
        .and_then(|v| v.as_ns().ok())
        .map(|ns| ns.iter().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}
