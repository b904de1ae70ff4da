//! A verified provider login → the user it is, by the identity's link: an
//! existing link logs that user in (their role and groups synced from the
//! claims when the provider syncs at every login); no link provisions a new
//! user where the provider allows it, in one transaction with the link (so
//! concurrent first logins of one identity make one user: the losers find
//! the winner's link and log in as it). Nobody is ever linked by a matching
//! email. Changes of role and groups go through `identity` (which keeps the
//! cached user in step) and are audited with the actor `_system`.

use std::convert::Infallible;

use super::flow::Verified;
use super::mapping::{self, Claims};
use super::store::{self, Link, LinkError, Remaining, UnlinkError};
use super::{OidcError, ProviderConfig, SyncMode};
use crate::audit::{AuditEvent, Outcome, SYSTEM_USERNAME};
use crate::auth::ClientInfo;
use crate::config::Config;
use crate::db::Stores;
use crate::groups::{self, GroupError};
use crate::identity;
use crate::mfa::policy;
use crate::types::Timestamp;
use crate::users::{self, CreateError, CreateGuard, NewUser, UpdateError, UserChange, UserRecord, Username};

/// How many usernames (`name`, `name-2`, …) a provisioning tries.
const NAME_TRIES: usize = 50;
/// How many times a provisioning that lost a race is re-tried.
const RACE_TRIES: usize = 5;

fn system(client: &ClientInfo, action: &'static str, outcome: Outcome) -> AuditEvent {
    client.event((SYSTEM_USERNAME.to_owned(), None), action, outcome)
}

fn target(user: &UserRecord) -> String {
    format!("user:{} {}", user.id, user.username)
}

fn new_link(provider: &ProviderConfig, verified: &Verified, user_id: u64) -> Link {
    Link {
        id: store::identity_id(&verified.issuer, &verified.subject),
        user_id,
        provider: provider.id.clone(),
        issuer: verified.issuer.clone(),
        subject: verified.subject.clone(),
        email: mapping::string(&verified.claims, "email"),
        linked_at: Timestamp::now(),
    }
}

/// The user a login at `provider` signs in, provisioned or synced as the
/// provider's settings say. Their account must be active.
pub async fn sign_in(
    stores: &Stores,
    config: &Config,
    provider: &ProviderConfig,
    verified: &Verified,
    client: &ClientInfo,
) -> Result<UserRecord, OidcError> {
    let id = store::identity_id(&verified.issuer, &verified.subject);
    for _ in 0..RACE_TRIES {
        if let Some(link) = store::find(stores, &id).await? {
            let Some(user) = users::get(stores, link.user_id).await? else {
                // The user was deleted and the clean-up did not reach the link.
                store::remove_stale(stores, &link).await?;
                continue;
            };
            if user.kind.is_service() {
                // No link to one is ever made (`link_to`); one that exists
                // anyway signs nobody in.
                return Err(OidcError::ServiceAccount);
            }
            if !user.is_active {
                return Err(OidcError::Disabled);
            }
            return match provider.sync {
                SyncMode::EveryLogin => sync(stores, config, provider, &verified.claims, user, client).await,
                SyncMode::FirstLogin => Ok(user),
            };
        }
        if !provider.provision {
            return Err(OidcError::ProvisioningRefused);
        }
        match provision(stores, provider, verified, client).await? {
            Some(user) => return Ok(user),
            // Another login of this identity won the race: take its link.
            None => continue,
        }
    }
    Err(OidcError::Store(crate::db::StoreError::Internal(anyhow::anyhow!("the identity's link kept changing"))))
}

/// Creates the user of a first login with its link, role and groups. `None`
/// when another login linked the identity meanwhile.
async fn provision(
    stores: &Stores,
    provider: &ProviderConfig,
    verified: &Verified,
    client: &ClientInfo,
) -> Result<Option<UserRecord>, OidcError> {
    let claims = &verified.claims;
    let base = username_base(mapping::string(claims, &provider.username_claim).ok_or(OidcError::NoUsername)?);
    let role = mapping::role(provider, claims);
    let (_, wanted) = mapping::groups(provider, claims);
    let mut group_ids = Vec::new();
    for name in &wanted {
        match groups::find_by_name(stores, name).await? {
            Some(group) => group_ids.push(group.id),
            None => {
                tracing::warn!(provider = %provider.id, group = %name, "a mapping rule names a group that does not exist")
            }
        }
    }
    for attempt in 1..=NAME_TRIES {
        let name = candidate(&base, attempt);
        let Ok(username) = Username::parse_new(&name) else { return Err(OidcError::NoUsername) };
        if users::find_by_username(stores, &username.key()).await?.is_some() {
            continue;
        }
        let display_name = mapping::string(claims, "name")
            .and_then(|n| users::parse_display_name(Some(&n), &username).ok())
            .unwrap_or_else(|| username.as_str().to_owned());
        let new = NewUser {
            username: username.as_str().to_owned(),
            display_name,
            role,
            // No password: a password login fails for this user as a wrong one does.
            password_hash: String::new(),
            group_ids: group_ids.clone(),
        };
        let audit = |user: &UserRecord| {
            system(client, "user.create", Outcome::Success)
                .target(target(user))
                .detail(format!("provisioned by single sign-on ({}) as {}", provider.id, user.role))
        };
        let extra = |user: &UserRecord| {
            let mut actions = new_link(provider, verified, user.id).put_actions(stores)?;
            for gid in &group_ids {
                actions.extend(groups::join_actions(stores, *gid, user.id, false)?);
            }
            Ok(actions)
        };
        match users::create(stores, new, CreateGuard::None, audit, extra).await {
            Ok(user) => return Ok(Some(user)),
            Err(CreateError::Extra(0 | 1)) => return Ok(None),
            Err(CreateError::UsernameTaken) => {}
            // A mapped group was deleted meanwhile: try again without stale ids.
            Err(CreateError::Extra(_)) => return Ok(None),
            Err(CreateError::AdminExists) => return Ok(None),
            // A transaction cancelled by a racing one (a conflict, not a
            // failed condition): look again for the winner's link.
            Err(CreateError::Store(crate::db::StoreError::Internal(e))) => {
                tracing::debug!(error = %e, "a provisioning lost a race");
                return Ok(None);
            }
            Err(CreateError::Store(e)) => return Err(e.into()),
        }
    }
    Err(OidcError::NoUsername)
}

/// The configured claim as a username's stem: letters, digits, `_`, `.`
/// and `-` kept, anything else `-`; no leading `_` (reserved); at most 44
/// characters (room for a suffix); `user-…` when shorter than 3.
fn username_base(raw: String) -> String {
    let mapped: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') { c } else { '-' }).collect();
    let base: String = mapped.trim_start_matches(['_', '-', '.']).chars().take(44).collect();
    match base.len() {
        0 => "user".to_owned(),
        1 | 2 => format!("user-{base}"),
        _ => base,
    }
}

fn candidate(base: &str, attempt: usize) -> String {
    if attempt == 1 { base.to_owned() } else { format!("{base}-{attempt}") }
}

/// Brings the user's role and managed groups in line with the claims.
async fn sync(
    stores: &Stores,
    config: &Config,
    provider: &ProviderConfig,
    claims: &Claims,
    user: UserRecord,
    client: &ClientInfo,
) -> Result<UserRecord, OidcError> {
    let role = mapping::role(provider, claims);
    let mut changed = false;
    if role != user.role {
        let change = UserChange {
            role: Some(role),
            promotion_ends_sessions_at: policy::required_role(config),
            ..UserChange::default()
        };
        let from = user.role;
        let prepare = |planned: users::Planned<'_>| {
            Ok::<_, Infallible>(
                system(client, "user.role_change", Outcome::Success)
                    .target(target(planned.before))
                    .detail(format!("single sign-on sync ({}): {from} -> {role}", provider.id)),
            )
        };
        match identity::update(stores, user.id, &change, prepare).await {
            Ok(Ok(_)) => changed = true,
            Ok(Err(UpdateError::LastAdmin)) => {
                let event = system(client, "user.role_change", Outcome::Denied)
                    .target(target(&user))
                    .reason("last_admin")
                    .detail(format!(
                        "single sign-on sync ({}) would demote the last active admin to {role}",
                        provider.id
                    ));
                crate::audit::record(stores, &event).await?;
                return Err(OidcError::LastAdmin);
            }
            Ok(Err(UpdateError::NotFound)) => return Err(OidcError::Disabled),
            Ok(Err(UpdateError::Contended)) => {
                return Err(crate::db::StoreError::Internal(anyhow::anyhow!("the user kept changing")).into());
            }
            Ok(Err(UpdateError::Store(e))) => return Err(e.into()),
            Err(never) => match never {},
        }
    }
    let (managed, wanted) = mapping::groups(provider, claims);
    for name in &managed {
        let Some(group) = groups::find_by_name(stores, name).await? else { continue };
        let member = user.group_ids.contains(&group.id);
        let want = wanted.contains(name);
        if member == want {
            continue;
        }
        let action = if want { "group.member_add" } else { "group.member_remove" };
        let event = system(client, action, Outcome::Success)
            .target(format!("group:{} {} user:{} {}", group.id, group.name, user.id, user.username))
            .detail(format!("single sign-on sync ({})", provider.id));
        let result = if want {
            identity::join_group(stores, group.id, user.id, &event).await
        } else {
            identity::leave_group(stores, group.id, user.id, &event).await
        };
        match result {
            Ok(_) | Err(GroupError::NotFound) => changed = true,
            Err(GroupError::Store(e)) => return Err(e.into()),
            Err(other) => return Err(crate::db::StoreError::Internal(anyhow::anyhow!("group sync: {other}")).into()),
        }
    }
    if !changed {
        return Ok(user);
    }
    // The session is stamped with the user as they are now (role, groups,
    // credential generation).
    users::get(stores, user.id).await?.ok_or(OidcError::Disabled)
}

/// Links the verified identity to the logged-in `user_id` (a linking flow),
/// never to a service account (a link would make it a login).
pub async fn link_to(
    stores: &Stores,
    provider: &ProviderConfig,
    verified: &Verified,
    user: &UserRecord,
    client: &ClientInfo,
) -> Result<Link, OidcError> {
    if user.kind.is_service() {
        return Err(OidcError::ServiceAccount);
    }
    let link = new_link(provider, verified, user.id);
    if let Some(existing) = store::find(stores, &link.id).await? {
        return if existing.user_id == user.id { Ok(existing) } else { Err(OidcError::LinkedElsewhere) };
    }
    let event = client
        .event((user.username.clone(), Some(user.id)), "identity.link", Outcome::Success)
        .target(target(user))
        .detail(format!("provider {}", provider.id));
    match store::link(stores, &link, &event).await {
        Ok(()) => Ok(link),
        Err(LinkError::Taken) => match store::find(stores, &link.id).await? {
            Some(existing) if existing.user_id == user.id => Ok(existing),
            _ => Err(OidcError::LinkedElsewhere),
        },
        Err(LinkError::NoUser) => Err(OidcError::Disabled),
        Err(LinkError::Store(e)) => Err(e.into()),
    }
}

/// Unlinks identity `id` from `user_id`, never the user's last way to log
/// in: the user must keep a password, a passkey or another identity, and the
/// transaction re-checks that (see `store::unlink`).
pub async fn unlink(stores: &Stores, user_id: u64, id: &str, event: &AuditEvent) -> Result<Link, UnlinkError> {
    let links = store::list(stores, user_id).await?;
    let link = links.iter().find(|l| l.id == id).cloned().ok_or(UnlinkError::NotFound)?;
    let user = users::get(stores, user_id).await?.ok_or(UnlinkError::NotFound)?;
    let remaining = if !user.password_hash.is_empty() || user.mfa.passkeys > 0 {
        Remaining::PasswordOrPasskey
    } else if let Some(other) = links.iter().find(|l| l.id != id) {
        Remaining::Identity(other.id.clone())
    } else {
        return Err(UnlinkError::LastWay);
    };
    store::unlink(stores, user_id, id, &remaining, event).await?;
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_the_claim_made_valid() {
        assert_eq!(username_base("alice".into()), "alice");
        assert_eq!(username_base("Alice Smith".into()), "Alice-Smith");
        assert_eq!(username_base("_root".into()), "root");
        assert_eq!(username_base("bob@example.org".into()), "bob-example.org");
        assert_eq!(username_base("李".into()), "user");
        assert_eq!(username_base("jo".into()), "user-jo");
        assert_eq!(username_base("x".repeat(80)).len(), 44);
        assert_eq!(candidate("alice", 1), "alice");
        assert_eq!(candidate("alice", 3), "alice-3");
        for raw in ["alice", "_x", "李", "a b c", &"y".repeat(80)] {
            let base = username_base(raw.to_owned());
            assert!(Username::parse_new(&candidate(&base, NAME_TRIES)).is_ok(), "{raw}");
        }
    }
}
