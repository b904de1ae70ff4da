//! What one token grants: its scopes and resources (see `scope.rs`), as
//! stored in its DynamoDB item and carried in its Redis cache entry, so the
//! hot path checks them without DynamoDB.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::db::item::{Item, n, opt_n};
use crate::tokens::scope::{Resources, Scopes};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    pub scopes: Scopes,
    pub resources: Resources,
}

impl Grant {
    /// Whether every right of `other` is also this grant's: a token may only
    /// mint or be given what it holds itself.
    pub fn covers(&self, other: &Grant) -> bool {
        self.scopes.covers(other.scopes) && self.resources.covers(&other.resources)
    }

    /// Reads `scopes` (a bit set; absent on tokens older than scopes, which
    /// hold all their owner's rights) and `resources` (a list of names).
    pub(crate) fn from_item(item: &Item) -> Self {
        let scopes = opt_n::<u16>(item, "scopes").map_or(Scopes::INHERIT, Scopes::from_bits);
        let names: Vec<String> = match item.get("resources") {
            Some(AttributeValue::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
            _ => Vec::new(),
        };
        Self { scopes, resources: Resources::from_names(&names) }
    }

    /// Writes what [`Grant::from_item`] reads (nothing for an unlimited token,
    /// so its item is as before scopes).
    pub(crate) fn to_item(&self, item: &mut Item) {
        if !self.scopes.is_inherit() {
            item.insert("scopes".into(), n(self.scopes.bits()));
        }
        if self.resources.is_limited() {
            let names = self.resources.names().into_iter().map(AttributeValue::S).collect();
            item.insert("resources".into(), AttributeValue::L(names));
        }
    }
}
