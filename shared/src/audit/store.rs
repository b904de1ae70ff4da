//! The append-only audit log. Events carry who, what, on what,
//! the outcome, the client address and the request id, and never a secret.
//!
//! Key layout in the `audit` table: `pk = MONTH#<yyyy-mm>`, `sk = <ms>#<id>`
//! (newest-first reads month by month; a month partition takes far more writes
//! per second than logins ever produce), `gsi1pk` for per-actor reads, `ttl` =
//! time + retention.
//!
//! `gsi1pk` is `ACTORID#<user id>` for a user, so a name freed by a deletion
//! and taken by someone else never shares a partition with its old owner's
//! events, and `ACTOR#<name>` for the pseudo actors `_system` and `_anonymous`
//! (which no user can be named). Events written before the index was keyed by
//! id stay under `ACTOR#<username>` (not migrated; they expire with the retention).

use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::store_error;
use crate::db::item::{Item, n, s};
use crate::types::Timestamp;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::Serialize;

/// The actor name of the built-in system admin (the admin secret, or any
/// caller while auth is disabled) in audit events and `/me`.
pub const SYSTEM_USERNAME: &str = "_system";
/// The actor name of unauthenticated callers in audit events.
pub const ANONYMOUS_USERNAME: &str = "_anonymous";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
    Throttled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
            Self::Throttled => "throttled",
        }
    }
}

/// One audit event.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: Timestamp,
    /// Username of the actor, `_system` for the admin secret or disabled auth,
    /// `_anonymous` for unauthenticated callers.
    pub actor: String,
    pub actor_id: Option<u64>,
    /// The least role the actor must still hold when a transaction recording
    /// this event commits (see `store::actor`); never stored.
    #[serde(skip)]
    pub actor_must_hold: Option<crate::types::Role>,
    /// The group whose manager the actor acts as (see `groups::manage`): the
    /// transaction then also requires the actor's membership of it to still
    /// carry the manager flag. Recorded with the event.
    #[serde(skip)]
    pub actor_manages: Option<u64>,
    /// The member of that group the action is about (a task's owner, whose
    /// task a manager decides): the transaction then also requires that
    /// membership to still exist. Recorded with the event.
    #[serde(skip)]
    pub actor_manages_member: Option<u64>,
    pub action: &'static str,
    pub target: Option<String>,
    pub outcome: Outcome,
    /// A short machine reason for failures (`wrong_password`, `throttled`, …).
    pub reason: Option<&'static str>,
    /// What changed, in words (`role user → operator`); never a secret.
    pub detail: Option<String>,
    pub client: Option<String>,
    pub request_id: Option<String>,
}

/// `yyyy-mm` of a time: the audit partition it falls in.
pub fn month_of(at: Timestamp) -> String {
    at.rfc3339().get(..7).unwrap_or("1970-01").to_owned()
}

impl AuditEvent {
    /// The stored item; it expires `retention_days` after the event.
    fn item(&self, retention_days: u32) -> Item {
        let sk = format!("{:013}#{}", self.at.millis(), self.id);
        let month = month_of(self.at);
        let ttl = self.at.seconds() + i64::from(retention_days) * 86_400;
        let mut item = Item::from([
            ("pk".to_owned(), s(format!("MONTH#{month}"))),
            ("sk".to_owned(), s(sk.clone())),
            ("gsi1pk".to_owned(), s(self.actor_partition().partition())),
            ("gsi1sk".to_owned(), s(sk)),
            ("id".to_owned(), s(&self.id)),
            ("at".to_owned(), s(self.at.rfc3339())),
            ("at_ms".to_owned(), n(self.at.millis())),
            ("actor".to_owned(), s(&self.actor)),
            ("action".to_owned(), s(self.action)),
            ("outcome".to_owned(), s(self.outcome.as_str())),
            ("ttl".to_owned(), n(ttl)),
        ]);
        if let Some(id) = self.actor_id {
            item.insert("actor_id".into(), n(id));
        }
        // The least role the action needed: recorded, and re-checked against
        // the actor's record by the transaction that writes this event.
        if let Some(role) = self.actor_must_hold {
            item.insert("actor_must_hold".into(), s(role.as_str()));
        }
        if let Some(group_id) = self.actor_manages {
            item.insert("actor_manages".into(), n(group_id));
        }
        if let Some(member) = self.actor_manages_member {
            item.insert("actor_manages_member".into(), n(member));
        }
        for (name, value) in [
            ("target", self.target.as_deref()),
            ("reason", self.reason),
            ("detail", self.detail.as_deref()),
            ("client", self.client.as_deref()),
            ("request_id", self.request_id.as_deref()),
        ] {
            if let Some(v) = value {
                item.insert(name.into(), s(v));
            }
        }
        item
    }

    /// The index partition of the event's actor: its user id when it has one.
    fn actor_partition(&self) -> ActorFilter {
        match self.actor_id {
            Some(id) => ActorFilter::User(id),
            None => ActorFilter::Name(self.actor.clone()),
        }
    }

    /// Gives a self-registration's event (whose actor is the new user, not yet
    /// numbered when the event was made) the new user's id, so it is found
    /// under that user. An event of another actor is left as it is.
    #[must_use]
    pub fn self_registered(mut self, id: u64, username: &str) -> Self {
        if self.actor_id.is_none() && self.actor == username {
            self.actor_id = Some(id);
        }
        self
    }

    /// The event as one action of a transaction, so it is written exactly when
    /// the change it records is.
    pub fn transact_put(&self, stores: &Stores) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&stores.tables.audit)
            .set_item(Some(self.item(stores.audit_retention_days)))
            .build()
            .map_err(|e| StoreError::Internal(e.into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// Appends an event on its own (for actions that write no DynamoDB item).
pub async fn record(stores: &Stores, event: &AuditEvent) -> Result<(), StoreError> {
    stores
        .dynamo
        .put_item()
        .table_name(&stores.tables.audit)
        .set_item(Some(event.item(stores.audit_retention_days)))
        .send()
        .await
        .map_err(store_error)?;
    Ok(())
}

/// An event as read back for the admin API.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub actor_id: Option<u64>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub client: Option<String>,
    pub request_id: Option<String>,
}

impl AuditEntry {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        use crate::db::item::{get_s, opt_n, opt_s};
        Ok(Self {
            id: get_s(item, "id")?,
            at: get_s(item, "at")?,
            actor: get_s(item, "actor")?,
            actor_id: opt_n(item, "actor_id"),
            action: get_s(item, "action")?,
            target: opt_s(item, "target"),
            outcome: get_s(item, "outcome")?,
            reason: opt_s(item, "reason"),
            detail: opt_s(item, "detail"),
            client: opt_s(item, "client"),
            request_id: opt_s(item, "request_id"),
        })
    }
}

/// Whose events a query reads: one partition of the per-actor index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    /// A user, by id (`ACTORID#<id>`).
    User(u64),
    /// An actor without a user id, by name (`ACTOR#<name>`): the pseudo actors
    /// `_system` and `_anonymous`.
    Name(String),
}

impl ActorFilter {
    /// The pseudo actor called `name`, if it is one.
    pub fn pseudo(name: &str) -> Option<Self> {
        [SYSTEM_USERNAME, ANONYMOUS_USERNAME].contains(&name).then(|| Self::Name(name.to_owned()))
    }

    /// The `gsi1pk` value of this actor's events.
    pub fn partition(&self) -> String {
        match self {
            Self::User(id) => format!("ACTORID#{id}"),
            Self::Name(name) => format!("ACTOR#{name}"),
        }
    }
}

/// A filtered, newest-first read of the log.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    pub actor: Option<ActorFilter>,
    pub action: Option<String>,
    pub since: Timestamp,
    pub until: Timestamp,
    pub limit: usize,
    /// Where the previous page ended: the `(pk, sk)` of its last event.
    pub after: Option<(String, String)>,
}

/// Reads one page; the second value is where the next page starts, if more may follow.
pub async fn list(stores: &Stores, q: &AuditQuery) -> Result<(Vec<AuditEntry>, Option<(String, String)>), StoreError> {
    let lo = format!("{:013}#", q.since.millis());
    let hi = format!("{:013}#~", q.until.millis());
    let mut found = Vec::new();

    // One partition per month (newest first), or the actor's index partition.
    let partitions: Vec<String> = match &q.actor {
        Some(actor) => vec![actor.partition()],
        None => months_between(q.since, q.until).into_iter().map(|m| format!("MONTH#{m}")).collect(),
    };
    let (pk_attr, sk_attr, index) =
        if q.actor.is_some() { ("gsi1pk", "gsi1sk", Some("gsi1")) } else { ("pk", "sk", None) };
    let mut partitions = partitions.into_iter().peekable();
    // Resume inside the partition the cursor names, skipping newer ones.
    let mut start: Option<Item> = None;
    if let Some((pk, sk)) = &q.after {
        while partitions.peek().is_some_and(|p| p != pk && q.actor.is_none()) {
            partitions.next();
        }
        let mut key = Item::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]);
        if let Some(actor) = &q.actor {
            key.insert("gsi1pk".into(), s(actor.partition()));
            key.insert("gsi1sk".into(), s(sk));
        }
        start = Some(key);
    }
    for partition in partitions {
        loop {
            let mut request = stores
                .dynamo
                .query()
                .table_name(&stores.tables.audit)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#pk", pk_attr)
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":pk", s(&partition))
                .expression_attribute_values(":lo", s(&lo))
                .expression_attribute_values(":hi", s(&hi))
                .scan_index_forward(false)
                .limit(i32::try_from(q.limit.saturating_sub(found.len()).clamp(1, 500)).unwrap_or(500))
                .set_exclusive_start_key(start.take());
            if let Some(action) = &q.action {
                request = request
                    .filter_expression("#action = :action")
                    .expression_attribute_names("#action", "action")
                    .expression_attribute_values(":action", s(action));
            }
            let out = request.send().await.map_err(store_error)?;
            for item in out.items() {
                found.push(AuditEntry::from_item(item)?);
                if found.len() == q.limit {
                    let last = (crate::db::item::get_s(item, "pk")?, crate::db::item::get_s(item, "sk")?);
                    return Ok((found, Some(last)));
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
    }
    Ok((found, None))
}

/// `yyyy-mm` of every month from `until` back to `since`, newest first.
fn months_between(since: Timestamp, until: Timestamp) -> Vec<String> {
    let parse = |m: &str| -> Option<(i32, u32)> {
        let (y, mo) = m.split_once('-')?;
        Some((y.parse().ok()?, mo.parse().ok()?))
    };
    let (Some((mut y, mut m)), Some((ly, lm))) = (parse(&month_of(until)), parse(&month_of(since))) else {
        return Vec::new();
    };
    let mut months = Vec::new();
    while (y, m) >= (ly, lm) && months.len() < 1200 {
        months.push(format!("{y:04}-{m:02}"));
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_run_newest_first_across_years() {
        let since = Timestamp::parse("2025-11-30T00:00:00Z").expect("time");
        let until = Timestamp::parse("2026-02-01T00:00:00Z").expect("time");
        assert_eq!(months_between(since, until), ["2026-02", "2026-01", "2025-12", "2025-11"]);
        assert!(months_between(until, since).is_empty());
    }

    fn event(actor: &str, actor_id: Option<u64>) -> AuditEvent {
        AuditEvent {
            id: "e1".into(),
            at: Timestamp::parse("2026-01-01T00:00:00Z").expect("time"),
            actor: actor.into(),
            actor_id,
            actor_must_hold: None,
            actor_manages: None,
            actor_manages_member: None,
            action: "auth.login",
            target: None,
            outcome: Outcome::Success,
            reason: None,
            detail: None,
            client: None,
            request_id: None,
        }
    }

    #[test]
    fn users_are_indexed_by_id_and_pseudo_actors_by_name() {
        let gsi = |e: &AuditEvent| e.item(30).get("gsi1pk").and_then(|v| v.as_s().ok()).cloned();
        assert_eq!(gsi(&event("alice", Some(7))).as_deref(), Some("ACTORID#7"));
        assert_eq!(gsi(&event("_system", None)).as_deref(), Some("ACTOR#_system"));
        assert_eq!(gsi(&event("_anonymous", None)).as_deref(), Some("ACTOR#_anonymous"));
        // A self-registration gets the new user's id; an admin's creation keeps the admin's.
        assert_eq!(event("bob", None).self_registered(9, "bob").actor_id, Some(9));
        assert_eq!(event("admin", Some(1)).self_registered(9, "bob").actor_id, Some(1));
        assert_eq!(event("_system", None).self_registered(9, "bob").actor_id, None);
        assert_eq!(ActorFilter::pseudo("_system"), Some(ActorFilter::Name("_system".into())));
        assert_eq!(ActorFilter::pseudo("alice"), None);
    }
}
