//! `POST /api/auth/invitations` (and the compat `/create`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::invitations::{self, CreatedInvitation, Invitation, InvitationError, InvitationView, NewInvitation};
use shared::types::Role;
use shared::types::Timestamp;
use shared::{ApiError, ApiResult, AppState};

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewInvitation)]
pub struct CreateBody {
    /// Default `user`; operators may invite only `viewer`s (into no group);
    /// a group's manager invites `user`s or `viewer`s into that one group.
    #[schema(value_type = Option<shared::http::openapi::AssignableRole>)]
    role: Option<String>,
    #[schema(max_items = 20)]
    group_ids: Option<Vec<u64>>,
    /// The original dashboard's single group.
    group_id: Option<u64>,
    #[serde(alias = "max_usage")]
    #[schema(minimum = 1, maximum = 1000)]
    max_uses: Option<u64>,
    /// Hours until it expires, 1 to 720 (default 72).
    #[schema(minimum = 1, maximum = 720)]
    expires_hours: Option<u32>,
}

/// Where codes are used (the link is `<base>/register?token=<code>`):
/// `PUBLIC_URL` when configured, else the address the request came to, its
/// `Host` (https unless it is a loopback address or `X-Forwarded-Proto` says
/// http). A `Host` that is not a plain `host[:port]` (see [`valid_host`]) is
/// refused with 400 rather than put into a link: it could point anywhere.
fn link_base(state: &AppState, headers: &HeaderMap) -> ApiResult<String> {
    if let Some(url) = &state.config.public_url {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let host = match headers.get(header::HOST) {
        None => "localhost",
        Some(value) => value.to_str().ok().filter(|h| valid_host(h)).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_host",
                "The request's Host header is not a valid host[:port], so no invitation link can be built \
                 from it; set PUBLIC_URL to the address users reach the service at",
            )
        })?,
    };
    let local = host_name(host) == "localhost" || host_name(host).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| matches!(*p, "http" | "https"))
        .unwrap_or(if local { "http" } else { "https" });
    Ok(format!("{scheme}://{host}"))
}

/// The host of a `host[:port]` without its port (an IPv6 address without brackets).
fn host_name(host: &str) -> &str {
    match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(ip, _)| ip),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    }
}

/// `host[:port]` and nothing else: a name of letters, digits, `-` and `.`
/// (no empty label), an IPv4 address or a bracketed IPv6 address, then
/// optionally `:` and a port of 1 to 65535.
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, after)) if ip.parse::<Ipv6Addr>().is_ok() => (None, after),
            _ => return false,
        },
        None => match host.split_once(':') {
            Some((name, _)) => (Some(name), &host[name.len()..]),
            None => (Some(host), ""),
        },
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty()
                && p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n > 0)
        });
    let name_ok = name.is_none_or(|name| {
        name.parse::<Ipv4Addr>().is_ok()
            || (name.len() <= 253
                && name.split('.').all(|label| {
                    (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }))
    });
    port_ok && name_ok
}

/// Creates an invitation (also at the compat `/create`, see [`create_compat`]).
#[utoipa::path(post, path = "/api/auth/invitations", tag = "invitations", request_body = CreateBody,
    responses((status = 201, description = "Created; `code` is shown only now", body = CreatedInvitation),
        (status = 400, description = "The body is not valid JSON; or `PUBLIC_URL` is unset and the `Host` header is not a valid `host[:port]` to build the link from (`invalid_host`)", body = shared::http::openapi::ErrorBody),
        (status = 403, description = "Below operator and no manager of the group; an operator inviting above viewer or into groups; a manager inviting above user or into other groups", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "A group of `group_ids` does not exist", body = shared::http::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    client: ClientInfo,
    headers: HeaderMap,
    shared::http::extract::Json(body): shared::http::extract::Json<CreateBody>,
) -> ApiResult<(StatusCode, Json<CreatedInvitation>)> {
    // The role is validated first, so a bad role is a 422 for everyone.
    let role = Role::parse_assignable("role", body.role.as_deref().unwrap_or("user"))?;
    let mut group_ids = body.group_ids.unwrap_or_default();
    group_ids.extend(body.group_id);
    group_ids.sort_unstable();
    group_ids.dedup();
    // A manager of the one group named invites users and viewers into it;
    // the write (and every use) re-checks that they still manage it.
    let manager_group = match group_ids.as_slice() {
        [only] if !caller.role().at_least(Role::Admin) && caller.user().is_some_and(|u| u.manages(*only)) => {
            if role.at_least(Role::Operator) {
                return Err(ApiError::forbidden(
                    "role_too_high",
                    "A group's managers invite only users and viewers into it",
                ));
            }
            Some(*only)
        }
        _ => None,
    };
    if manager_group.is_none() && !caller.role().at_least(Role::Admin) {
        if !caller.role().at_least(Role::Operator) {
            return Err(ApiError::forbidden(
                "not_manager",
                "Only admins, operators (viewers) and a group's managers (into that group) can invite",
            ));
        }
        if role != Role::Viewer {
            return Err(ApiError::forbidden("role_too_high", "Operators can only create viewer invitations"));
        }
        // Group membership can grant VPS access, which is an admin's to give.
        if !group_ids.is_empty() {
            return Err(ApiError::forbidden("groups_admin_only", "Only admins can invite into groups"));
        }
    }
    if !caller.role().at_least(role) {
        return Err(ApiError::forbidden("role_too_high", "You cannot invite a role above your own"));
    }
    if group_ids.len() > 20 {
        return Err(ApiError::invalid("group_ids", "at most 20 groups"));
    }
    // Before anything is written: a request whose link cannot be built creates nothing.
    let link_base = link_base(&state, &headers)?;
    let max_uses = body.max_uses.unwrap_or(1);
    if !(1..=1000).contains(&max_uses) {
        return Err(ApiError::invalid("max_uses", "must be from 1 to 1000"));
    }
    let hours = body.expires_hours.unwrap_or(72);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::invalid("expires_hours", "must be from 1 to 720"));
    }
    let actor = caller.actor();
    let new = NewInvitation {
        role,
        group_ids,
        max_uses,
        expires_at: Timestamp::now().plus_secs(i64::from(hours) * 3600),
        created_by: actor.name,
        created_by_id: actor.id,
        manager_group,
    };
    let audit = |inv: &Invitation| {
        let event = client
            .event(caller.actor(), "invitation.create", Outcome::Success)
            .requiring(Invitation::creator_must_hold(inv.role, &inv.group_ids, inv.manager_group));
        let event = match inv.manager_group {
            Some(group_id) => event.managing(group_id),
            None => event,
        };
        event
            .target(format!("invitation:{}", inv.id))
            .detail(format!("role {}, {} uses, groups {:?}", inv.role, inv.max_uses, inv.group_ids))
    };
    let (code, invitation) = match invitations::create(&state.stores, new, audit).await {
        Ok(created) => created,
        Err(InvitationError::GroupNotFound(id)) => return Err(ApiError::not_found(format!("Group {id} not found"))),
        Err(InvitationError::Store(e)) => return Err(e.into()),
    };
    let view = InvitationView::read(&state.stores, &invitation).await?;
    let url = format!("{link_base}/register?token={code}");
    Ok((StatusCode::CREATED, Json(CreatedInvitation::new(view, code, url))))
}

/// The original dashboard's `POST /api/auth/invitations/create`: the same as [`create`].
#[utoipa::path(post, path = "/api/auth/invitations/create", tag = "invitations", request_body = CreateBody,
    responses((status = 201, description = "Created; `code` is shown only now", body = CreatedInvitation),
        (status = 400, description = "The body is not valid JSON; or `PUBLIC_URL` is unset and the `Host` header is not a valid `host[:port]` to build the link from (`invalid_host`)", body = shared::http::openapi::ErrorBody),
        (status = 403, description = "Below operator and no manager of the group; an operator inviting above viewer or into groups; a manager inviting above user or into other groups", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "A group of `group_ids` does not exist", body = shared::http::openapi::ErrorBody)))]
pub async fn create_compat(
    state: State<AppState>,
    caller: Require<min::User>,
    client: ClientInfo,
    headers: HeaderMap,
    body: shared::http::extract::Json<CreateBody>,
) -> ApiResult<(StatusCode, Json<CreatedInvitation>)> {
    create(state, caller, client, headers, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_host_and_optional_port_only() {
        for ok in [
            "krv.example",
            "krv.example:8443",
            "KRV-1.Example.org",
            "localhost",
            "localhost:8000",
            "127.0.0.1:8000",
            "10.0.0.1",
            "[::1]",
            "[::1]:8000",
            "[2001:db8::1]:443",
            "a:65535",
        ] {
            assert!(valid_host(ok), "{ok} is a valid host");
        }
        for bad in [
            "",
            "evil.example/phish?x=",
            "evil.example/",
            "evil.example?x",
            "evil.example#x",
            "user@evil.example",
            "evil.example:",
            "evil.example:0",
            "evil.example:65536",
            "evil.example:99999",
            "evil.example:80:80",
            "evil.example:+80",
            "evil..example",
            ".evil.example",
            "evil example",
            "evil_example",
            "::1",
            "[::1",
            "[evil.example]",
            "[::1]x",
            "[::1]:",
            "évil.example",
            "evil.example\\x",
        ] {
            assert!(!valid_host(bad), "{bad:?} must be refused");
        }
    }

    #[test]
    fn host_names_drop_the_port() {
        assert_eq!(host_name("localhost:8000"), "localhost");
        assert_eq!(host_name("[::1]:8000"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
    }
}
