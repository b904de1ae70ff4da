//! Facts about the request that audit events and sessions record: the client
//! address, its user agent and the request id.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use lambda_http::request::RequestContext;

use crate::audit::actor::Actor;
use crate::audit::{AuditEvent, Outcome};
use crate::http::RequestId;
use crate::types::Timestamp;

#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The peer address: API Gateway's `sourceIp` under Lambda, the TCP peer
    /// locally. `X-Forwarded-For` is not trusted (anyone can send it, and login
    /// throttling keys on this address).
    pub addr: String,
    pub user_agent: String,
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let lambda_ip = parts.extensions.get::<RequestContext>().and_then(|ctx| match ctx {
            RequestContext::ApiGatewayV2(c) => c.http.source_ip.clone(),
            RequestContext::ApiGatewayV1(c) => c.identity.source_ip.clone(),
            _ => None,
        });
        let addr = lambda_ip
            .or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip().to_string()))
            .unwrap_or_else(|| "unknown".to_owned());
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect())
            .unwrap_or_default();
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        Ok(Self { addr, user_agent, request_id })
    }
}

impl ClientInfo {
    /// An audit event of this request.
    pub fn event(&self, actor: impl Into<Actor>, action: &'static str, outcome: Outcome) -> AuditEvent {
        let actor = actor.into();
        AuditEvent {
            id: uuid::Uuid::new_v4().simple().to_string(),
            at: Timestamp::now(),
            actor: actor.name,
            actor_id: actor.id,
            actor_must_hold: actor.must_hold,
            actor_manages: None,
            actor_manages_member: None,
            action,
            target: None,
            outcome,
            reason: None,
            detail: None,
            client: Some(self.addr.clone()),
            request_id: self.request_id.clone(),
        }
    }
}

impl AuditEvent {
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Marks the actor as acting as a manager of `group_id`: the write then
    /// commits only while their membership of it carries the manager flag.
    pub fn managing(mut self, group_id: u64) -> Self {
        if self.actor_id.is_some() {
            self.actor_manages = Some(group_id);
        }
        self
    }

    /// [`AuditEvent::managing`], about `member` of the group (a task's
    /// owner): the write also requires them to still be a member.
    pub fn managing_member(mut self, group_id: u64, member: u64) -> Self {
        if self.actor_id.is_some() {
            self.actor_manages = Some(group_id);
            self.actor_manages_member = Some(member);
        }
        self
    }

    /// Raises the role the actor must still hold when the write commits
    /// (an action that needs more than the handler's own minimum).
    pub fn requiring(mut self, role: crate::types::Role) -> Self {
        if self.actor_id.is_some() {
            self.actor_must_hold = Some(self.actor_must_hold.map_or(role, |r| r.max(role)));
        }
        self
    }
}
