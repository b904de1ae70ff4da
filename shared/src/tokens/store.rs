//! API tokens in the `tokens` table (their shape: format.rs; their Redis
//! cache for the hot path: cache.rs).
//!
//! Key layout: a token is `TOKEN#<sha256>`/`TOKEN` (listed per owner through
//! `gsi1pk = USER#<id>`); `TOKENID#<id>`/`TOKENID` finds it by id; the
//! case-folded name is reserved per owner by `TOKENNAME#<owner>#<name>`; ids
//! come from the counter `COUNTER`/`token_id` and are never reused. Only the
//! SHA-256 of a token is stored; a token is a random 256-bit secret, for which
//! a fast hash is the right one.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::crypto::sha256_hex;
use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::{self, Failure, built};
use crate::db::item::{Item, get_n, get_s, key, n, opt_n, opt_s, s};
use crate::db::kv::Redis;
use crate::tokens::cache::{self, CachedToken};
use crate::tokens::format::{display_prefix, new_secret};
use crate::tokens::grant::Grant;
use crate::types::Timestamp;

/// A stored token (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    /// The first characters of the token, for recognising it in a list.
    pub prefix: String,
    pub hash: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// What it may do (see `scope.rs`).
    pub grant: Grant,
    /// Set on the record of a secret that was rotated out: it works until
    /// its (shortened) expiry and is no longer listed.
    pub rotated: bool,
    /// The hash of the secret this one replaced, while that one still works
    /// (see `rotate.rs`): revoking the token revokes both.
    pub previous_hash: Option<String>,
}

impl TokenRecord {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            id: get_n(item, "id")?,
            user_id: get_n(item, "user_id")?,
            name: get_s(item, "name")?,
            prefix: get_s(item, "prefix")?,
            hash: get_s(item, "hash")?,
            created_at: Timestamp::from_millis(get_n(item, "created_at_ms")?),
            expires_at: opt_n(item, "expires_at_ms").map(Timestamp::from_millis),
            last_used_at: opt_n(item, "last_used_at_ms").map(Timestamp::from_millis),
            grant: Grant::from_item(item),
            rotated: item.contains_key("rotated_at_ms"),
            previous_hash: opt_s(item, "previous_hash"),
        })
    }

    /// The token's item (also written in batches by the bench's scale
    /// seeder, `bench/src/scale.rs`, with the lookups below).
    pub fn to_item(&self) -> Item {
        let mut item = key(token_pk(&self.hash), "TOKEN");
        item.extend([
            ("gsi1pk".to_owned(), s(owner_pk(self.user_id))),
            ("gsi1sk".to_owned(), s(format!("TOKEN#{:020}", self.id))),
            ("id".to_owned(), n(self.id)),
            ("user_id".to_owned(), n(self.user_id)),
            ("name".to_owned(), s(&self.name)),
            ("prefix".to_owned(), s(&self.prefix)),
            ("hash".to_owned(), s(&self.hash)),
            ("created_at_ms".to_owned(), n(self.created_at.millis())),
        ]);
        if let Some(expires) = self.expires_at {
            item.insert("expires_at_ms".into(), n(expires.millis()));
        }
        self.grant.to_item(&mut item);
        if let Some(previous) = &self.previous_hash {
            item.insert("previous_hash".into(), s(previous));
        }
        item
    }

    /// Its entry in the Redis cache (see `cache.rs`).
    pub fn cache_entry(&self) -> CachedToken {
        CachedToken {
            id: self.id,
            user_id: self.user_id,
            expires_at_ms: self.expires_at.map(Timestamp::millis),
            missing: false,
            scopes: self.grant.scopes.bits(),
            resources: self.grant.resources.names(),
        }
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

pub(crate) fn token_pk(hash: &str) -> String {
    format!("TOKEN#{hash}")
}

pub(crate) fn owner_pk(user_id: u64) -> String {
    format!("USER#{user_id}")
}

/// The key of the by-id lookup (public for the bench's scale seeder).
pub fn id_pk(id: u64) -> String {
    format!("TOKENID#{id}")
}

/// The key of the per-owner name reservation (public for the bench's scale seeder).
pub fn name_pk(user_id: u64, name: &str) -> String {
    format!("TOKENNAME#{user_id}#{}", name.to_lowercase())
}

/// A new token: the secret (shown once) and its record.
pub struct Issued {
    pub token: String,
    pub record: TokenRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("name taken")]
    NameTaken,
    #[error("the user holds the most tokens allowed")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The most tokens one user may hold, so a user's token list (unpaginated,
/// as the original's clients expect) stays small.
pub const MAX_PER_USER: u32 = 100;

/// The key of the owner's token counter (public for the bench's scale seeder).
pub fn counter_pk(user_id: u64) -> String {
    format!("TOKENCOUNT#{user_id}")
}

/// `ADD count :delta` on the user's token counter, which must exist; with
/// `cap`, only while it is below the cap (the counter and the token are one
/// transaction, so many concurrent creations cannot pass it). A missing
/// counter fails the action: users whose tokens predate the counter get it
/// seeded first (see [`seed_counter`]), so it never starts from a wrong zero.
fn count_action(table: &str, user_id: u64, delta: i64, cap: Option<u32>) -> Result<TransactWriteItem, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key(counter_pk(user_id), "COUNT")))
        .update_expression("ADD #c :d")
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":d", n(delta));
    update = match cap {
        Some(cap) => update.condition_expression("#c < :cap").expression_attribute_values(":cap", n(cap)),
        None => update.condition_expression("attribute_exists(#c)"),
    };
    Ok(TransactWriteItem::builder().update(built(update.build())?).build())
}

/// Gives a user without a token counter (a new user, or one whose tokens
/// were made before the counter existed) one that counts their tokens. A
/// concurrent seeding wins harmlessly: the counter is only written if absent.
/// `false` when the counter existed already.
async fn seed_counter(stores: &Stores, user_id: u64) -> Result<bool, StoreError> {
    let table = &stores.tables.tokens;
    if dynamo::get_item(&stores.dynamo, table, counter_pk(user_id), "COUNT").await?.is_some() {
        return Ok(false);
    }
    let held = list_of(stores, user_id).await?.len();
    let mut item = key(counter_pk(user_id), "COUNT");
    item.insert("count".into(), n(held));
    let result = stores
        .dynamo
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(err) => match dynamo::classify(err) {
            Failure::ConditionFailed => Ok(false),
            other => Err(other.into_store_error()),
        },
    }
}

pub(crate) fn delete(table: &str, pk: String, sk: &str) -> Result<TransactWriteItem, StoreError> {
    let delete = built(Delete::builder().table_name(table).set_key(Some(key(pk, sk))).build())?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Creates a token for `user_id`; the name must be new for that user.
pub async fn create(
    stores: &Stores,
    user_id: u64,
    name: &str,
    expires_at: Option<Timestamp>,
    grant: Grant,
    audit: impl FnOnce(&TokenRecord) -> AuditEvent,
) -> Result<Issued, CreateError> {
    let id = dynamo::next_id(&stores.dynamo, &stores.tables.tokens, "token_id").await?;
    let token = new_secret(user_id);
    let record = TokenRecord {
        id,
        user_id,
        name: name.to_owned(),
        prefix: display_prefix(&token),
        hash: sha256_hex(&token),
        created_at: Timestamp::now(),
        expires_at,
        last_used_at: None,
        grant,
        rotated: false,
        previous_hash: None,
    };
    let table = &stores.tables.tokens;
    let mut by_name = key(name_pk(user_id, name), "TOKENNAME");
    by_name.insert("hash".into(), s(&record.hash));
    let mut by_id = key(id_pk(id), "TOKENID");
    by_id.insert("hash".into(), s(&record.hash));
    by_id.insert("user_id".into(), n(user_id));
    let items = vec![
        dynamo::put_new(table, record.to_item())?,
        dynamo::put_new(table, by_name)?,
        dynamo::put_new(table, by_id)?,
        audit(&record).transact_put(stores)?,
        count_action(table, user_id, 1, Some(MAX_PER_USER))?,
    ];
    let failed = |reasons: &[String], i: usize| reasons.get(i).is_some_and(|r| r == "ConditionalCheckFailed");
    // Twice at most: a counter found missing is seeded, then the creation runs again.
    for _ in 0..2 {
        match actor::transact(stores, items.clone()).await {
            Ok(()) => return Ok(Issued { token, record }),
            Err(Failure::TransactionCanceled(reasons)) if failed(&reasons, 1) => return Err(CreateError::NameTaken),
            Err(Failure::TransactionCanceled(reasons)) if failed(&reasons, 4) => {
                if !seed_counter(stores, user_id).await? {
                    return Err(CreateError::TooMany);
                }
            }
            Err(Failure::TransactionCanceled(reasons)) => {
                return Err(StoreError::Internal(anyhow::anyhow!("token creation cancelled: {reasons:?}")).into());
            }
            Err(Failure::ConditionFailed) => return Err(CreateError::NameTaken),
            Err(Failure::Store(e)) => return Err(e.into()),
        }
    }
    Err(CreateError::TooMany)
}

/// The token with `id`, if any.
///
/// The id lookup and the token are two reads: a rotation committed between
/// them may have moved the lookup on (the token read is then a rotated-out
/// secret, or gone after a second rotation), so a lookup whose token is not
/// current is read again rather than taken for "no such token".
pub async fn get_by_id(stores: &Stores, id: u64) -> Result<Option<TokenRecord>, StoreError> {
    for _ in 0..5 {
        let item = dynamo::get_item(&stores.dynamo, &stores.tables.tokens, id_pk(id), "TOKENID").await?;
        let Some(hash) = item.as_ref().map(|i| get_s(i, "hash")).transpose()? else {
            return Ok(None);
        };
        match get_by_hash(stores, &hash).await? {
            Some(token) if !token.rotated => return Ok(Some(token)),
            _ => continue,
        }
    }
    Err(StoreError::Internal(anyhow::anyhow!("token {id} kept moving while it was read")))
}

async fn get_by_hash(stores: &Stores, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.tokens, token_pk(hash), "TOKEN").await?;
    item.as_ref().map(TokenRecord::from_item).transpose()
}

/// A user's tokens, newest first.
pub async fn list_of(stores: &Stores, user_id: u64) -> Result<Vec<TokenRecord>, StoreError> {
    let owner = owner_pk(user_id);
    let items = dynamo::query_all(&stores.dynamo, &stores.tables.tokens, Some("gsi1"), "gsi1pk", &owner, None).await?;
    let mut tokens = items.iter().map(TokenRecord::from_item).collect::<Result<Vec<_>, _>>()?;
    tokens.sort_by_key(|t| std::cmp::Reverse(t.id));
    Ok(tokens)
}

/// Deletes a token and its lookups (with its audit event, if given). `false`
/// if it was already gone.
///
/// The cache entry becomes a "no such token" tombstone *before* the delete:
/// a request that missed the cache and read the token from DynamoDB a moment
/// earlier can then no longer cache it as valid (fills only set absent entries),
/// and a failed delete leaves the token refused rather than usable.
pub async fn revoke(stores: &Stores, token: &TokenRecord, audit: Option<&AuditEvent>) -> Result<bool, StoreError> {
    cache::tombstone(&stores.redis, token.id, token.user_id, &token.hash).await?;
    if let Some(previous) = &token.previous_hash {
        cache::tombstone(&stores.redis, token.id, token.user_id, previous).await?;
    }
    let table = &stores.tables.tokens;
    let remove = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key(token_pk(&token.hash), "TOKEN")))
            // A secret rotated out meanwhile is not the token any more: its
            // lookups point at the new one, which a retry revokes.
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(rotated_at_ms)")
            .build(),
    )?;
    let mut items = vec![
        TransactWriteItem::builder().delete(remove).build(),
        delete(table, name_pk(token.user_id, &token.name), "TOKENNAME")?,
        delete(table, id_pk(token.id), "TOKENID")?,
        count_action(table, token.user_id, -1, None)?,
    ];
    if let Some(previous) = &token.previous_hash {
        // The rotated-out secret goes too (it may have lapsed already).
        items.push(delete(table, token_pk(previous), "TOKEN")?);
    }
    if let Some(event) = audit {
        items.push(event.transact_put(stores)?);
    }
    for _ in 0..2 {
        match actor::transact(stores, items.clone()).await {
            Ok(()) => return Ok(true),
            // The counter is missing (tokens older than it): seed it, then again.
            Err(Failure::TransactionCanceled(reasons))
                if reasons.first().is_none_or(|r| r != "ConditionalCheckFailed")
                    && reasons.get(3).is_some_and(|r| r == "ConditionalCheckFailed") =>
            {
                seed_counter(stores, token.user_id).await?;
            }
            Err(Failure::TransactionCanceled(_) | Failure::ConditionFailed) => return Ok(false),
            Err(Failure::Store(e)) => return Err(e),
        }
    }
    Err(StoreError::Internal(anyhow::anyhow!("token {} kept failing its counter", token.id)))
}

/// Revokes every token of a user (when the user is deleted).
pub async fn revoke_all_of(stores: &Stores, user_id: u64) -> Result<usize, StoreError> {
    let revoked = revoke_every(stores, user_id).await?;
    // The counter goes with the user (ids are never reused, so this only
    // keeps the table tidy).
    stores
        .dynamo
        .delete_item()
        .table_name(&stores.tables.tokens)
        .set_key(Some(key(counter_pk(user_id), "COUNT")))
        .send()
        .await
        .map_err(dynamo::store_error)?;
    Ok(revoked)
}

/// Revokes every token of a user who stays (an admin's password reset with
/// `revoke_tokens`); each revocation keeps the token counter exact.
pub async fn revoke_every(stores: &Stores, user_id: u64) -> Result<usize, StoreError> {
    let tokens = list_of(stores, user_id).await?;
    for token in &tokens {
        revoke(stores, token, None).await?;
    }
    Ok(tokens.len())
}

/// Records use, at most once a minute per token (the caller decides when).
pub async fn touch_last_used(stores: &Stores, hash: &str, at: Timestamp) -> Result<(), StoreError> {
    dynamo::touch(&stores.dynamo, &stores.tables.tokens, token_pk(hash), "TOKEN", "last_used_at_ms", at).await
}

/// Fills the cache after a miss (`record: None` caches "no such token").
/// `named` is the owner the token names (see `format.rs`); a record of
/// another owner is no match.
pub async fn fill(
    redis: &Redis,
    hash: &str,
    named: Option<u64>,
    record: Option<&TokenRecord>,
) -> Result<Option<CachedToken>, StoreError> {
    let record = record.filter(|t| named.is_none_or(|owner| owner == t.user_id));
    let entry = record.map(TokenRecord::cache_entry);
    cache::put_if_absent(redis, hash, named, entry.as_ref()).await?;
    Ok(entry)
}

/// Reads a token straight from DynamoDB (a cache miss).
pub async fn find(stores: &Stores, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
    get_by_hash(stores, hash).await
}

/// One page of every user's tokens (the admin's view): scanned in table
/// order from `start` (a position [`list_all`] answered), at most `limit`
/// tokens that `keep` accepts, and the position to go on from, if any. Each
/// scan reads no more items than tokens are still wanted, so a page never
/// overshoots; a page reads at most [`SCAN_BUDGET`] items, so a filter that
/// few tokens pass may answer a short (even empty) page and a position.
pub async fn list_all(
    stores: &Stores,
    start: Option<(String, String)>,
    limit: usize,
    keep: impl Fn(&TokenRecord) -> bool,
) -> Result<(Vec<TokenRecord>, Option<(String, String)>), StoreError> {
    let mut found = Vec::new();
    let mut start = start.map(|(pk, sk)| key(pk, sk));
    let mut read = 0;
    loop {
        let wanted = limit.saturating_sub(found.len()).max(1);
        let out = stores
            .dynamo
            .scan()
            .table_name(&stores.tables.tokens)
            .filter_expression("sk = :t AND attribute_exists(gsi1pk)")
            .expression_attribute_values(":t", s("TOKEN"))
            .limit(i32::try_from(wanted).unwrap_or(1000))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(dynamo::store_error)?;
        read += usize::try_from(out.scanned_count()).unwrap_or(0).max(1);
        for item in out.items() {
            let token = TokenRecord::from_item(item)?;
            if keep(&token) {
                found.push(token);
            }
        }
        let next = out
            .last_evaluated_key()
            .filter(|k| !k.is_empty())
            .and_then(|k| Some((k.get("pk")?.as_s().ok()?.clone(), k.get("sk")?.as_s().ok()?.clone())));
        match next {
            Some(position) if found.len() >= limit || read >= SCAN_BUDGET => return Ok((found, Some(position))),
            Some(position) => start = Some(key(position.0, position.1)),
            None => return Ok((found, None)),
        }
    }
}

/// The most items one page of [`list_all`] reads.
pub const SCAN_BUDGET: usize = 5_000;
