//! Which tables each function may touch, with which actions: the least
//! privilege of its IAM policy. Every function resolves credentials (reads
//! users and tokens, stamps last use, writes audit events); beyond that each
//! names what its handlers do.

/// One table a function uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableAccess {
    pub table: &'static str,
    pub actions: Vec<&'static str>,
    /// Whether it queries the table's indexes.
    pub indexes: bool,
}

const READ: [&str; 3] = ["GetItem", "BatchGetItem", "Query"];
const TRANSACT: [&str; 4] = ["PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"];

fn access(table: &'static str, actions: &[&'static str], indexes: bool) -> TableAccess {
    let mut actions = actions.to_vec();
    actions.sort_unstable();
    actions.dedup();
    TableAccess { table, actions, indexes }
}

/// What credential resolution needs in every function.
fn base() -> Vec<TableAccess> {
    vec![
        access("identity", &["GetItem", "BatchGetItem", "UpdateItem"], false),
        access("tokens", &["GetItem", "UpdateItem"], false),
        access("audit", &["PutItem"], false),
    ]
}

fn merge(mut list: Vec<TableAccess>, extra: Vec<TableAccess>) -> Vec<TableAccess> {
    for add in extra {
        match list.iter_mut().find(|a| a.table == add.table) {
            Some(existing) => {
                existing.actions.extend(add.actions);
                existing.actions.sort_unstable();
                existing.actions.dedup();
                existing.indexes |= add.indexes;
            }
            None => list.push(add),
        }
    }
    list.sort_by_key(|a| a.table);
    list
}

/// The table access of the function serving `group` (or of the scheduled
/// `tasks-retry` function, which resolves no credentials).
pub fn access_of(group: &str) -> Vec<TableAccess> {
    if group == "tasks-retry" {
        // Finds due announcements on the status index and records each outcome.
        return vec![access("tasks", &["Query", "UpdateItem"], true)];
    }
    // Reading and transactional writing of a table the group owns.
    let full: Vec<&'static str> = READ.iter().chain(TRANSACT.iter()).copied().collect();
    let extra = match group {
        "health" => vec![access("identity", &["DescribeTable"], false)],
        "auth" => vec![access("identity", &full, false), access("invitations", &["GetItem", "UpdateItem"], false)],
        "tokens" => vec![access("tokens", &full, true)],
        "users" => vec![
            access("identity", &full, true),
            access("tokens", &full, true),
            access("tasks", &["Query", "UpdateItem", "BatchWriteItem", "DeleteItem"], true),
        ],
        "invitations" => vec![access("invitations", &full, true), access("identity", &["ConditionCheckItem"], false)],
        "groups" => {
            vec![access("identity", &full, true), access("tasks", &["Query", "BatchWriteItem", "DeleteItem"], true)]
        }
        "tasks" => vec![access("tasks", &[full.as_slice(), &["BatchWriteItem"]].concat(), true)],
        "vps" => vec![access("tasks", &[full.as_slice(), &["BatchWriteItem"]].concat(), true)],
        "admin" => vec![access("audit", &["Query"], true), access("tasks", &["GetItem"], false)],
        _ => Vec::new(),
    };
    merge(base(), extra)
}
