//! Second factors (SPEC §10): TOTP with recovery codes, passkeys, the login
//! challenge between password and factor, and the enrolment policy.
//!
//! - `model.rs`: the factor summary on the user record, the login methods;
//! - `store.rs`: the factor items and their conditional writes;
//! - `cipher.rs`, `totp.rs`, `recovery.rs`: sealing secrets, codes;
//! - `challenge.rs`: the `mfa_token` of a login waiting for its factor;
//! - `enrol.rs`, `verify.rs`, `reset.rs`: enrolment, checks, the admin reset;
//! - `policy.rs`: `MFA_REQUIRED_ROLE`; `view.rs`: the API shapes.

pub mod challenge;
pub mod cipher;
pub mod enrol;
pub mod model;
pub mod passkey;
pub mod policy;
pub mod recovery;
pub mod reset;
pub mod store;
pub mod totp;
pub mod verify;
pub mod view;

pub use model::{Method, MfaSummary};
