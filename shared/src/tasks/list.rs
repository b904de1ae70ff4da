//! Listing tasks: pages of one index partition, newest (or oldest) first,
//! with the filters DynamoDB applies after reading bounded by
//! [`MAX_EXAMINED`]; and the walk over tasks whose announcement is due.

use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::{self, QueryFilter, store_error};
use crate::db::item::{key, n, s};
use crate::tasks::record::{owner_partition, sort_key};
use crate::tasks::{TaskRecord, TaskStatus, TaskType, task_pk};

/// Whether `position` has the shape [`list`] hands out (`<13 digits>#<20
/// digits>`): anything else must not reach DynamoDB as a start key.
pub fn is_list_position(position: &str) -> bool {
    position.split_once('#').is_some_and(|(ms, id)| {
        ms.len() == 13 && id.len() == 20 && ms.bytes().chain(id.bytes()).all(|b| b.is_ascii_digit())
    })
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<TaskStatus>,
    /// `Some(None)`: the system admin's tasks.
    pub owner: Option<Option<u64>>,
    pub task_type: Option<TaskType>,
}

/// The most index items one [`list`] call reads. A filter DynamoDB applies
/// after reading (`owner` together with `status`, or `task_type`) may match
/// few of them; without a cap one request could read a whole partition. When
/// the cap stops the walk, the page is shorter than asked for (even empty) and
/// still carries the position to continue from.
pub const MAX_EXAMINED: usize = 1_000;

/// One page, newest first (oldest first with `oldest_first`), and the sort key
/// to continue after: after the last task returned, or after the last one read
/// when [`MAX_EXAMINED`] ended the walk first.
pub async fn list(
    stores: &Stores,
    filter: &Filter,
    oldest_first: bool,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<TaskRecord>, Option<String>), StoreError> {
    // The most selective index: status, else owner, else all.
    let (index, partition) = match (filter.status, filter.owner) {
        (Some(status), _) => ("gsi1", format!("STATUS#{status}")),
        (None, Some(owner)) => ("gsi2", owner_partition(owner)),
        (None, None) => ("gsi3", "TASKS".to_owned()),
    };
    let mut conditions = Vec::new();
    let mut values = vec![(":p".to_owned(), s(&partition))];
    if let (Some(_), Some(owner)) = (filter.status, filter.owner) {
        match owner {
            Some(id) => {
                conditions.push("owner_id = :owner");
                values.push((":owner".into(), n(id)));
            }
            None => conditions.push("attribute_not_exists(owner_id)"),
        }
    }
    if let Some(t) = filter.task_type {
        conditions.push("task_type = :tt");
        values.push((":tt".into(), s(t.as_str())));
    }
    let mut start = match after {
        Some(sort) => {
            let id: u64 = sort.rsplit('#').next().and_then(|i| i.parse().ok()).unwrap_or(0);
            let mut k = key(task_pk(id), "TASK");
            k.insert(format!("{index}pk"), s(&partition));
            k.insert(format!("{index}sk"), s(sort));
            Some(k)
        }
        None => None,
    };
    let mut found = Vec::new();
    let mut examined = 0;
    loop {
        // Ask for what is still missing; when a filter dropped items, ask for
        // as many as were read so far (so a sparse filter takes a few
        // doubling queries, not one per missing row), never past the cap.
        let want = (limit - found.len()).max(examined).min(MAX_EXAMINED.saturating_sub(examined)).max(1);
        let mut request = stores
            .dynamo
            .query()
            .table_name(&stores.tables.tasks)
            .index_name(index)
            .key_condition_expression(format!("{index}pk = :p"))
            .scan_index_forward(oldest_first)
            .limit(i32::try_from(want).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.take());
        for (name, value) in &values {
            request = request.expression_attribute_values(name, value.clone());
        }
        if !conditions.is_empty() {
            request = request.filter_expression(conditions.join(" AND "));
        }
        let out = request.send().await.map_err(store_error)?;
        // What DynamoDB read, matching or not (at least one, so the walk ends).
        examined += usize::try_from(out.scanned_count()).unwrap_or(0).max(out.items().len()).max(1);
        for item in out.items() {
            let task = TaskRecord::from_item(item)?;
            let sort = sort_key(task.submitted_at, task.id);
            found.push(task);
            if found.len() == limit {
                return Ok((found, Some(sort)));
            }
        }
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() && examined >= MAX_EXAMINED => {
                // The cap: continue after the last item read, matched or not.
                let position = k.get(&format!("{index}sk")).and_then(|v| v.as_s().ok()).cloned();
                return match position {
                    Some(position) if is_list_position(&position) => Ok((found, Some(position))),
                    _ => Err(StoreError::Internal(anyhow::anyhow!("task query ended on an unexpected key"))),
                };
            }
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok((found, None)),
        }
    }
}

/// Tasks in `assigning` whose announcement is due for another try.
pub async fn due_for_dispatch(stores: &Stores, now_ms: i64) -> Result<Vec<TaskRecord>, StoreError> {
    // Every page: delivered tasks stay `assigning` until the scheduler moves
    // them on, so the due ones can sit past DynamoDB's first 1 MB. Pages of
    // 100 evaluated tasks keep each call small.
    let values = [(":pending", s("pending")), (":now", n(now_ms))];
    let filter = QueryFilter {
        expression: Some("dispatch_state = :pending AND dispatch_due_ms <= :now"),
        values: &values,
        page_limit: Some(100),
    };
    let partition = format!("STATUS#{}", TaskStatus::Assigning);
    let table = &stores.tables.tasks;
    let items =
        dynamo::query_filtered(&stores.dynamo, table, Some("gsi1"), "gsi1pk", &partition, None, &filter).await?;
    items.iter().map(TaskRecord::from_item).collect()
}
