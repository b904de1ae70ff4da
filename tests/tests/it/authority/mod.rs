//! The right to act, checked with the write: login throttles count an attempt
//! before its password is checked; every privileged write is conditioned on
//! the actor's own record when it commits; sessions belong to a credential
//! generation; invitations grant no more than their creator still could; and
//! connecting to a VPS needs `user`. The concurrent tests run many trials and
//! assert that each outcome is one some serial order of the requests gives.

mod actor;
mod invitations;
mod sessions;
mod throttle;

use http::StatusCode;
use krv_tests::TestResponse;

fn count(responses: &[TestResponse], status: StatusCode) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}
