//! The extractors handlers declare: [`MaybeCaller`] (anyone; bad credentials
//! count as anonymous), [`Authenticated`] (401 unless valid credentials) and
//! [`Require`] (a minimum role; 401/403; the request then acts with that role,
//! which its writes re-check when they commit).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::caller::Caller;
use super::resolve::{Resolved, resolve};
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

/// A caller with valid credentials; 401 otherwise.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match resolve(parts, state).await? {
            Resolved::Caller(caller) if !caller.is_anonymous() => Ok(Self(caller)),
            Resolved::Caller(_) => Err(ApiError::unauthorized("Not authenticated")),
            Resolved::Invalid => Err(ApiError::unauthorized("Invalid or expired credentials")),
        }
    }
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
        let Authenticated(mut caller) = Authenticated::from_request_parts(parts, state).await?;
        if caller.role().at_least(R::ROLE) {
            caller.acting = R::ROLE;
            Ok(Self(caller, PhantomData))
        } else {
            Err(ApiError::forbidden(
                "insufficient_role",
                format!("Insufficient permissions. Required role: {}", R::ROLE),
            ))
        }
    }
}
