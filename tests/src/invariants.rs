//! What must hold of the stored data whatever happened to the requests that
//! wrote it, read straight from DynamoDB (by scanning: a test may, request
//! handling never does) and Redis. A test checks these after a run that may
//! have cut writes short (store outages, races), then compares the snapshot
//! with what the service acknowledged.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use shared::db::Stores;
use shared::db::item::{get_n, get_s, opt_n};

pub type Item = HashMap<String, AttributeValue>;

/// Every item of `table`.
pub async fn scan(stores: &Stores, table: &str) -> anyhow::Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = stores.dynamo.scan().table_name(table).set_exclusive_start_key(start).send().await?;
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(items),
        }
    }
}

fn pk(item: &Item) -> String {
    get_s(item, "pk").expect("pk")
}

fn sk(item: &Item) -> String {
    get_s(item, "sk").expect("sk")
}

fn counter(items: &[Item], name: &str) -> i64 {
    items.iter().find(|i| pk(i) == "COUNTER" && sk(i) == name).and_then(|i| opt_n(i, "value")).unwrap_or(0)
}

fn count(n: usize) -> i64 {
    i64::try_from(n).expect("count fits")
}

/// Every table's items at one moment.
pub struct Snapshot {
    pub identity: Vec<Item>,
    pub invitations: Vec<Item>,
    pub tokens: Vec<Item>,
    pub tasks: Vec<Item>,
    pub audit: Vec<Item>,
}

/// A user as stored: id → (username, role, active).
pub type Users = HashMap<u64, (String, String, bool)>;

impl Snapshot {
    pub async fn read(stores: &Stores) -> anyhow::Result<Self> {
        let t = &stores.tables;
        Ok(Self {
            identity: scan(stores, &t.identity).await?,
            invitations: scan(stores, &t.invitations).await?,
            tokens: scan(stores, &t.tokens).await?,
            tasks: scan(stores, &t.tasks).await?,
            audit: scan(stores, &t.audit).await?,
        })
    }

    /// The users, after checking that each has exactly its username
    /// reservation (and no reservation lacks its user), and that the role
    /// and active-admin counters equal the users.
    pub fn consistent_users(&self) -> Users {
        let users: Users = self
            .identity
            .iter()
            .filter(|i| sk(i) == "USER")
            .map(|i| {
                let active = i.get("is_active").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false);
                let user = (get_s(i, "username").expect("username"), get_s(i, "role").expect("role"), active);
                (get_n(i, "id").expect("user id"), user)
            })
            .collect();
        let reservations: HashMap<String, u64> = self
            .identity
            .iter()
            .filter(|i| sk(i) == "USERNAME")
            .map(|i| (pk(i).trim_start_matches("USERNAME#").to_owned(), get_n(i, "user_id").expect("reserved id")))
            .collect();
        assert_eq!(reservations.len(), users.len(), "username reservations and users differ in number");
        for (id, (name, _, _)) in &users {
            let key = name.to_ascii_lowercase();
            assert_eq!(reservations.get(&key), Some(id), "user {id} ({name}) without its username reservation");
        }
        for role in ["viewer", "user", "operator", "admin"] {
            let holding = users.values().filter(|(_, r, _)| r == role).count();
            assert_eq!(counter(&self.identity, &format!("role:{role}")), count(holding), "the {role} counter");
        }
        let active_admins = users.values().filter(|(_, r, active)| r == "admin" && *active).count();
        assert_eq!(counter(&self.identity, "active_admins"), count(active_admins), "the active-admin counter");
        users
    }

    /// The ids of the tokens, after checking that each has its id lookup and
    /// its per-user name reservation, and no lookup lacks its token.
    pub fn consistent_tokens(&self) -> HashSet<u64> {
        let by_kind = |kind: &str| -> HashMap<String, String> {
            self.tokens.iter().filter(|i| sk(i) == kind).map(|i| (pk(i), get_s(i, "hash").expect("hash"))).collect()
        };
        let (by_id, by_name) = (by_kind("TOKENID"), by_kind("TOKENNAME"));
        let records: Vec<&Item> = self.tokens.iter().filter(|i| sk(i) == "TOKEN").collect();
        assert_eq!((by_id.len(), by_name.len()), (records.len(), records.len()), "token lookups vs tokens");
        let mut ids = HashSet::new();
        let mut per_owner: HashMap<u64, i64> = HashMap::new();
        for record in records {
            let (id, hash) = (get_n::<u64>(record, "id").expect("id"), get_s(record, "hash").expect("hash"));
            let owner = get_n::<u64>(record, "user_id").expect("owner");
            let name = get_s(record, "name").expect("name").to_lowercase();
            assert_eq!(by_id.get(&format!("TOKENID#{id}")), Some(&hash), "token {id} without its id lookup");
            assert_eq!(by_name.get(&format!("TOKENNAME#{owner}#{name}")), Some(&hash), "token {id} without its name");
            ids.insert(id);
            *per_owner.entry(owner).or_default() += 1;
        }
        // The per-user counter behind the token cap moves with the tokens.
        for item in self.tokens.iter().filter(|i| sk(i) == "COUNT") {
            let owner: u64 = pk(item).trim_start_matches("TOKENCOUNT#").parse().expect("counter owner");
            let counted = get_n::<i64>(item, "count").expect("count");
            assert_eq!(counted, per_owner.get(&owner).copied().unwrap_or(0), "token counter of user {owner}");
        }
        ids
    }

    /// Each task's status, after checking that the pending-approval counter
    /// (the badge) equals the tasks pending approval.
    pub fn consistent_tasks(&self) -> HashMap<u64, String> {
        let status: HashMap<u64, String> = self
            .tasks
            .iter()
            .filter(|i| sk(i) == "TASK")
            .map(|i| (get_n(i, "id").expect("task id"), get_s(i, "status").expect("status")))
            .collect();
        let pending = status.values().filter(|s| *s == "pending_approval").count();
        assert_eq!(counter(&self.tasks, "pending_approval"), count(pending), "the badge counter vs tasks pending");
        status
    }

    /// The invitation items (not their id lookups).
    pub fn invitations(&self) -> Vec<&Item> {
        self.invitations.iter().filter(|i| sk(i) == "INV").collect()
    }

    /// How many successful audit events of `action` exist.
    pub fn events(&self, action: &str) -> usize {
        self.audit
            .iter()
            .filter(|e| get_s(e, "action").ok().as_deref() == Some(action))
            .filter(|e| get_s(e, "outcome").ok().as_deref() == Some("success"))
            .count()
    }
}

/// Checks that Redis holds nothing for good: every key of the deployment
/// (sessions and their per-user indexes, caches, throttle counters, activity
/// markers) has a TTL, so no write cut short leaves an entry that never
/// expires. The one exception by design is the index of all live sessions
/// (`allsess`), which every login prunes of expired entries instead.
/// Returns how many keys there were.
pub async fn check_redis_expiry(redis: &shared::db::kv::Redis) -> anyhow::Result<usize> {
    let pruned_instead = redis.key("allsess");
    let mut cursor = 0u64;
    let mut keys: Vec<String> = Vec::new();
    loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor).arg("MATCH").arg(redis.key("*")).arg("COUNT").arg(1000);
        let (next, batch): (u64, Vec<String>) = redis.query(&scan).await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let mut forever = Vec::new();
    for key in &keys {
        let ttl: i64 = redis.query(redis::cmd("PTTL").arg(key)).await?;
        if ttl == -1 && *key != pruned_instead {
            forever.push(key.clone());
        }
    }
    anyhow::ensure!(forever.is_empty(), "{} of {} Redis keys never expire: {forever:?}", forever.len(), keys.len());
    Ok(keys.len())
}
