//! The integration tests, one module per subject, in one test binary so the
//! service, the AWS SDK and the test kit are linked once (`cargo nextest run
//! -p krv-tests -E 'test(/^tokens::/)'` runs one subject). The kit is the
//! `krv_tests` library (tests/src): `TestApp` and its fixtures, the raw-request
//! builder, per-test stores, the Lambda emulator and the built binaries.

mod admin_group;
mod auth_flows;
mod auth_security;
mod auth_sessions;
mod auth_throttle;
mod authority;
mod authz_matrix;
mod cli;
mod dashboard;
mod faults;
mod faults_stamps;
mod footprint;
mod fuzz_regressions;
mod group_managers;
mod groups;
mod health;
mod invitations;
mod io_costs;
mod lambda;
mod limits;
mod mfa;
mod oidc_provider;
mod openapi;
mod overview;
mod passkeys;
mod pipeline;
mod quotas;
mod read_models;
mod redis_cluster;
mod redis_tls;
mod scale_seed;
mod selfhost;
mod service_accounts;
mod session_layout;
mod soak;
mod sso;
mod startup;
mod tables;
mod tasks;
mod token_counter;
mod token_scopes;
mod tokens;
mod users_admin;
mod vps;
mod web_serving;
