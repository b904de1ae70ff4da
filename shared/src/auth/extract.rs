//! The extractors handlers declare: [`MaybeCaller`] (anyone; bad credentials
//! count as anonymous), [`Authenticated`] (401 unless valid credentials),
//! [`Require`] (a minimum role; 401/403; the request then acts with that role,
//! which its writes re-check when they commit) and [`Deferred`] (the same
//! policies, applied by the handler once it knows which Redis reads of its
//! own can ride on the caller's round trip).
//!
//! [`Authenticated`], [`Require`] and [`Deferred`] also apply the enrolment
//! policy (`MFA_REQUIRED_ROLE`, see `mfa::policy`): a session whose user must
//! still enrol a second factor is refused with 403 `mfa_enrollment_required`.
//! The few endpoints such a user may call (`/me`, `/mfa*`) declare
//! [`Enrolling`] instead, which states that they let such a caller through;
//! logout takes [`MaybeCaller`], which applies no policy.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::caller::Caller;
use super::resolve::{Resolved, resolve, resolve_along};
use crate::error::ApiError;
use crate::http::AppState;

/// Any caller. Invalid credentials count as anonymous (public endpoints ignore
/// them), but a wrong admin secret is still a 401.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Caller);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match resolve(parts, state).await? {
            Resolved::Caller(caller) => Ok(Self(caller)),
            Resolved::Invalid => Ok(Self(Caller::anonymous())),
        }
    }
}

/// A caller with valid credentials; 401 otherwise, 403
/// `mfa_enrollment_required` while the caller must enrol a second factor.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticated(resolve(parts, state).await?)?;
        enrolled(state, caller).map(Self)
    }
}

/// A caller with valid credentials (401 otherwise) who may still have to
/// enrol a second factor: the extractor of the endpoints the enrolment policy
/// leaves open (`GET /api/auth/me` and the `/api/auth/mfa*` self-service),
/// so each of them states that it lets such a caller through.
#[derive(Debug, Clone)]
pub struct Enrolling(pub Caller);

impl FromRequestParts<AppState> for Enrolling {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticated(resolve(parts, state).await?).map(Self)
    }
}

fn authenticated(resolved: Resolved) -> Result<Caller, ApiError> {
    match resolved {
        Resolved::Caller(caller) if !caller.is_anonymous() => Ok(caller),
        Resolved::Caller(_) => Err(ApiError::unauthorized("Not authenticated")),
        Resolved::Invalid => Err(ApiError::unauthorized("Invalid or expired credentials")),
    }
}

/// The enrolment policy: `caller`, unless they must enrol a second factor first.
pub fn enrolled(state: &AppState, caller: Caller) -> Result<Caller, ApiError> {
    if caller.must_enrol(&state.config) {
        return Err(ApiError::forbidden(
            "mfa_enrollment_required",
            "Your role requires a second factor: enrol one at /api/auth/mfa (TOTP or a passkey) before anything else",
        ));
    }
    Ok(caller)
}

/// Minimum roles for [`Require`].
pub mod min {
    use crate::types::Role;

    pub trait MinRole: Send + Sync + 'static {
        const ROLE: Role;
    }
    pub struct Viewer;
    pub struct User;
    pub struct Operator;
    pub struct Admin;
    impl MinRole for Viewer {
        const ROLE: Role = Role::Viewer;
    }
    impl MinRole for User {
        const ROLE: Role = Role::User;
    }
    impl MinRole for Operator {
        const ROLE: Role = Role::Operator;
    }
    impl MinRole for Admin {
        const ROLE: Role = Role::Admin;
    }
}

/// A caller holding at least role `R`: 401 without valid credentials, 403 with
/// too low a role.
#[derive(Debug, Clone)]
pub struct Require<R: min::MinRole>(pub Caller, pub PhantomData<R>);

impl<R: min::MinRole> Require<R> {
    pub fn caller(&self) -> &Caller {
        &self.0
    }
}

impl<R: min::MinRole> FromRequestParts<AppState> for Require<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(caller) = Authenticated::from_request_parts(parts, state).await?;
        require(caller)
    }
}

fn require<R: min::MinRole>(mut caller: Caller) -> Result<Require<R>, ApiError> {
    if caller.role().at_least(R::ROLE) {
        caller.acting = R::ROLE;
        Ok(Require(caller, PhantomData))
    } else {
        Err(ApiError::forbidden("insufficient_role", format!("Insufficient permissions. Required role: {}", R::ROLE)))
    }
}

/// The request's credentials, not resolved yet: the handler resolves them
/// with its own Redis reads sent in the same round trip as the session or
/// token lookup (a hot route's one round trip), and states its policy there
/// ([`Deferred::authenticated`], [`Deferred::require`]). Taken before a body
/// extractor, it keeps a copy of the request head.
#[derive(Debug)]
pub struct Deferred(Parts);

impl FromRequestParts<AppState> for Deferred {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.clone()))
    }
}

impl Deferred {
    /// As [`Authenticated`], with the answers to `along` (one per command).
    pub async fn authenticated(
        mut self,
        state: &AppState,
        along: &[redis::Cmd],
    ) -> Result<(Caller, Vec<redis::Value>), ApiError> {
        let (resolved, answers) = resolve_along(&mut self.0, state, along).await?;
        Ok((enrolled(state, authenticated(resolved)?)?, answers))
    }

    /// As [`Require`], with the answers to `along` (one per command).
    pub async fn require<R: min::MinRole>(
        self,
        state: &AppState,
        along: &[redis::Cmd],
    ) -> Result<(Require<R>, Vec<redis::Value>), ApiError> {
        let (caller, answers) = self.authenticated(state, along).await?;
        Ok((require(caller)?, answers))
    }
}
