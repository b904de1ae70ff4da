//! The DynamoDB client and the mapping of its errors.

use std::time::Duration;

use crate::db::Store;
use crate::db::StoreError;
use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

/// Where the client should point when the environment does not say.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// An explicit endpoint (the embedded store); `None` leaves it to the SDK's
    /// own variables (`AWS_ENDPOINT_URL`, …) and, failing those, AWS itself.
    pub url: Option<String>,
}

/// Builds the client once. `timeout` bounds one operation including retries, so
/// an unreachable endpoint becomes an error in well under two seconds.
pub async fn connect(
    endpoint: &Endpoint,
    timeout: Duration,
    io: std::sync::Arc<crate::db::io::IoCounters>,
) -> aws_sdk_dynamodb::Client {
    let region = RegionProviderChain::default_provider().or_else("us-east-1");
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeout.min(Duration::from_millis(500)))
                .operation_attempt_timeout(timeout.mul_f32(0.6))
                .operation_timeout(timeout)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(200)),
        );
    if let Some(url) = &endpoint.url {
        // The embedded store checks no signatures, but the SDK insists on signing;
        // a fixed region also spares a metadata-service lookup off AWS.
        loader = loader.endpoint_url(url).region(aws_config::Region::new("us-east-1")).credentials_provider(
            aws_sdk_dynamodb::config::Credentials::new("embedded", "embedded", None, None, "embedded"),
        );
    }
    let config = aws_sdk_dynamodb::config::Builder::from(&loader.load().await)
        .interceptor(crate::db::io::CountDynamoCalls(io))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Error codes that mean "the service is busy or broken right now".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
];

/// What a DynamoDB failure means for the caller.
#[derive(Debug)]
pub enum Failure {
    /// A `ConditionExpression` did not hold.
    ConditionFailed,
    /// A transaction was cancelled; one reason code per action ("None" for those that were fine).
    TransactionCanceled(Vec<String>),
    /// Anything else, already classified.
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Classifies an SDK error: unreachable, timed out or throttled → unavailable;
/// condition and transaction failures → their own variants; the rest → internal.
pub fn classify<E, R>(err: SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            Failure::Store(StoreError::unavailable(Store::DynamoDb, anyhow::Error::new(err)))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if code == "ConditionalCheckFailedException" {
                Failure::ConditionFailed
            } else if code == "TransactionCanceledException" {
                Failure::TransactionCanceled(cancellation_reasons(service.err().message().unwrap_or_default()))
            } else if TRANSIENT_CODES.contains(&code) {
                Failure::Store(StoreError::unavailable(Store::DynamoDb, anyhow::Error::new(err)))
            } else {
                Failure::Store(StoreError::Internal(anyhow::Error::new(err)))
            }
        }
        SdkError::ResponseError(_) => Failure::Store(StoreError::unavailable(Store::DynamoDb, anyhow::Error::new(err))),
        _ => Failure::Store(StoreError::Internal(anyhow::Error::new(err))),
    }
}

impl Failure {
    /// As a plain store error, for calls where no condition is expected to fail.
    pub fn into_store_error(self) -> StoreError {
        match self {
            Self::Store(err) => err,
            Self::ConditionFailed => StoreError::Internal(anyhow::anyhow!("unexpected condition failure")),
            Self::TransactionCanceled(reasons) => {
                StoreError::Internal(anyhow::anyhow!("unexpected transaction cancellation: {reasons:?}"))
            }
        }
    }
}

/// Any failure as a plain store error, for calls where a condition is not expected.
pub fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    classify(err).into_store_error()
}

/// DynamoDB's message reads "Transaction cancelled, please refer cancellation
/// reasons for specific reasons [None, ConditionalCheckFailed]".
fn cancellation_reasons(message: &str) -> Vec<String> {
    message
        .rsplit_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default()
}

/// Finishes an SDK builder; a missing required field is a bug.
pub fn built<T, E: Into<anyhow::Error>>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Internal(e.into()))
}

/// A strongly consistent read of the item `(pk, sk)`.
pub async fn get_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: String,
    sk: &str,
) -> Result<Option<crate::db::item::Item>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(crate::db::item::key(pk, sk)))
        .consistent_read(true)
        .send()
        .await
        .map_err(store_error)?;
    Ok(out.item().cloned())
}

/// Adds one to the counter `COUNTER`/`name` and returns the new value: ids
/// that only grow, so none is ever handed out twice.
pub async fn next_id(client: &aws_sdk_dynamodb::Client, table: &str, name: &str) -> Result<u64, StoreError> {
    use crate::db::item::{get_n, key, n};
    let out = client
        .update_item()
        .table_name(table)
        .set_key(Some(key("COUNTER", name)))
        .update_expression("ADD #v :one")
        .expression_attribute_names("#v", "value")
        .expression_attribute_values(":one", n(1))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
        .send()
        .await
        .map_err(store_error)?;
    out.attributes()
        .map(|a| get_n(a, "value"))
        .transpose()?
        .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("counter {name} returned no value")))
}

/// Every item of one partition (`attr = value`), following pages, optionally
/// on an index and limited to sort keys that begin with `prefix`.
pub async fn query_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    index: Option<&str>,
    attr: &str,
    value: &str,
    prefix: Option<(&str, &str)>,
) -> Result<Vec<crate::db::item::Item>, StoreError> {
    query_filtered(client, table, index, attr, value, prefix, &QueryFilter::default()).await
}

/// What [`query_filtered`] adds to a partition read: a `FilterExpression`
/// DynamoDB applies to the items it reads, with its values (named `:…`, other
/// than `:p` and `:b`, which the key condition uses), and how many items one
/// call evaluates (DynamoDB's `Limit`; without it, as many as fit in 1 MB).
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryFilter<'a> {
    pub expression: Option<&'a str>,
    pub values: &'a [(&'a str, AttributeValue)],
    pub page_limit: Option<i32>,
}

/// Like [`query_all`], keeping only the items `filter` lets through. Every
/// page is read: a filter may drop the whole first megabyte and match later.
pub async fn query_filtered(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    index: Option<&str>,
    attr: &str,
    value: &str,
    prefix: Option<(&str, &str)>,
    filter: &QueryFilter<'_>,
) -> Result<Vec<crate::db::item::Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let mut request = client
            .query()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .expression_attribute_names("#p", attr)
            .expression_attribute_values(":p", crate::db::item::s(value))
            .set_filter_expression(filter.expression.map(str::to_owned))
            .set_limit(filter.page_limit)
            .set_exclusive_start_key(start);
        for (name, value) in filter.values {
            request = request.expression_attribute_values(*name, value.clone());
        }
        request = match prefix {
            Some((sort_attr, begins)) => request
                .key_condition_expression("#p = :p AND begins_with(#s, :b)")
                .expression_attribute_names("#s", sort_attr)
                .expression_attribute_values(":b", crate::db::item::s(begins)),
            None => request.key_condition_expression("#p = :p"),
        };
        let out = request.send().await.map_err(store_error)?;
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(items),
        }
    }
}

/// The items of `keys` that exist, read strongly consistent in calls of at
/// most 100 keys (BatchGetItem's limit; duplicate keys are read once), in no
/// particular order. Keys DynamoDB leaves unprocessed under load are asked for
/// again; if some still are after a few tries, the read fails as unavailable
/// rather than answer as if those items did not exist.
pub async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<crate::db::item::Item>,
) -> Result<Vec<crate::db::item::Item>, StoreError> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    let mut unique: Vec<crate::db::item::Item> = Vec::with_capacity(keys.len());
    for k in keys {
        if !unique.contains(&k) {
            unique.push(k);
        }
    }
    let mut found = Vec::new();
    for chunk in unique.chunks(100) {
        let mut pending =
            Some(built(KeysAndAttributes::builder().set_keys(Some(chunk.to_vec())).consistent_read(true).build())?);
        let mut pause = Duration::from_millis(20);
        // Six tries, 620 ms of pauses at most: within the 2 s every answer must come in.
        for attempt in 0..6 {
            let Some(request) = pending.take() else { break };
            if attempt > 0 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let out = client.batch_get_item().request_items(table, request).send().await.map_err(store_error)?;
            found.extend(out.responses().and_then(|r| r.get(table)).into_iter().flatten().cloned());
            pending = out.unprocessed_keys().and_then(|u| u.get(table)).filter(|k| !k.keys().is_empty()).cloned();
        }
        if pending.is_some() {
            return Err(StoreError::unavailable(Store::DynamoDb, anyhow::anyhow!("batch read kept being throttled")));
        }
    }
    Ok(found)
}

/// A put of `item` that fails if an item with its key exists, as a
/// transaction action (a new record, or the reservation of a unique name).
pub fn put_new(
    table: &str,
    item: crate::db::item::Item,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
    let put = built(
        Put::builder().table_name(table).set_item(Some(item)).condition_expression("attribute_not_exists(pk)").build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// `ADD value :delta` on the counter `COUNTER`/`name`, as a transaction action.
pub fn counter_action(
    table: &str,
    name: &str,
    delta: i64,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    use crate::db::item::{key, n};
    let update = built(
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(table)
            .set_key(Some(key("COUNTER", name)))
            .update_expression("ADD #v :d")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":d", n(delta))
            .build(),
    )?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder().update(update).build())
}

/// `SET attr = at` on an item that still exists (activity stamps: last seen,
/// last used); an item deleted meanwhile is left deleted, not recreated.
pub async fn touch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: String,
    sk: &str,
    attr: &str,
    at: crate::types::Timestamp,
) -> Result<(), StoreError> {
    use crate::db::item::{key, n};
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .update_expression("SET #a = :t")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_names("#a", attr)
        .expression_attribute_values(":t", n(at.millis()))
        .send()
        .await;
    unless_gone(result).map(|_| ())
}

/// For a write conditioned on the item existing: `Ok(None)` when it no longer does.
pub fn unless_gone<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<Option<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) => match classify(err) {
            Failure::ConditionFailed => Ok(None),
            Failure::Store(e) => Err(e),
            Failure::TransactionCanceled(r) => Err(StoreError::Internal(anyhow::anyhow!("unexpected: {r:?}"))),
        },
    }
}

/// One page of the items under `gsi1pk = partition` on index `gsi1`, in index
/// order (`forward`) or reversed, starting after `start` (a full key of the
/// index). The second value says whether more may follow.
pub async fn index_page(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    partition: &str,
    forward: bool,
    limit: usize,
    start: Option<crate::db::item::Item>,
) -> Result<(Vec<crate::db::item::Item>, bool), StoreError> {
    let out = client
        .query()
        .table_name(table)
        .index_name("gsi1")
        .key_condition_expression("gsi1pk = :p")
        .expression_attribute_values(":p", crate::db::item::s(partition))
        .scan_index_forward(forward)
        .limit(i32::try_from(limit).unwrap_or(500))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(store_error)?;
    let more = out.last_evaluated_key().is_some_and(|k| !k.is_empty());
    Ok((out.items().to_vec(), more))
}

/// The full index key of an item listed on `gsi1` under `partition` with sort
/// key `sort` (what [`index_page`] continues after).
pub fn index_key(pk: String, sk: &str, partition: &str, sort: String) -> crate::db::item::Item {
    let mut k = crate::db::item::key(pk, sk);
    k.insert("gsi1pk".into(), crate::db::item::s(partition));
    k.insert("gsi1sk".into(), crate::db::item::s(sort));
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_reasons_are_read_in_order() {
        let reasons = cancellation_reasons(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
        );
        assert_eq!(reasons, vec!["None".to_owned(), "ConditionalCheckFailed".to_owned()]);
        assert!(cancellation_reasons("no list here").is_empty());
    }
}
