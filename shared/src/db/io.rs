//! The service's own count of store round trips, so tests and the benchmarks
//! can say what one request costs (on AWS, round trips decide latency and bill).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};

/// Counters shared by every clone of the store clients of one process.
#[derive(Debug, Default)]
pub struct IoCounters {
    dynamo_calls: AtomicU64,
    redis_round_trips: AtomicU64,
}

/// A reading of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoSnapshot {
    pub dynamo_calls: u64,
    pub redis_round_trips: u64,
}

impl std::ops::Sub for IoSnapshot {
    type Output = IoSnapshot;
    fn sub(self, earlier: IoSnapshot) -> IoSnapshot {
        IoSnapshot {
            dynamo_calls: self.dynamo_calls - earlier.dynamo_calls,
            redis_round_trips: self.redis_round_trips - earlier.redis_round_trips,
        }
    }
}

impl IoCounters {
    pub fn snapshot(&self) -> IoSnapshot {
        IoSnapshot {
            dynamo_calls: self.dynamo_calls.load(Ordering::Relaxed),
            redis_round_trips: self.redis_round_trips.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn redis_round_trip(&self) {
        self.redis_round_trips.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts every DynamoDB operation (once per operation, retries aside).
#[derive(Debug)]
pub(crate) struct CountDynamoCalls(pub Arc<IoCounters>);

impl Intercept for CountDynamoCalls {
    fn name(&self) -> &'static str {
        "CountDynamoCalls"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.dynamo_calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
