//! The ways a test can make its stores fail, and undo it. Stopped stores
//! refuse connections at once; a frozen Redis and an unresponsive DynamoDB
//! accept them and never answer, so only the service's own timeouts stand
//! between a client and a hang.

use crate::stack::TestStack;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// Redis killed (its data lost, as in a crash without persistence).
    RedisStopped,
    /// DynamoDB no longer listening (its data kept).
    DynamoStopped,
    BothStopped,
    /// Redis suspended (SIGSTOP) with its connections open.
    RedisFrozen,
    /// DynamoDB replaced by a listener that accepts and never answers.
    DynamoUnresponsive,
}

impl StoreFault {
    pub fn name(self) -> &'static str {
        match self {
            Self::RedisStopped => "Redis stopped",
            Self::DynamoStopped => "DynamoDB stopped",
            Self::BothStopped => "both stores stopped",
            Self::RedisFrozen => "Redis frozen",
            Self::DynamoUnresponsive => "DynamoDB unresponsive",
        }
    }

    /// Whether Redis is out during this fault.
    pub fn redis(self) -> bool {
        matches!(self, Self::RedisStopped | Self::BothStopped | Self::RedisFrozen)
    }

    /// Whether DynamoDB is out during this fault.
    pub fn dynamo(self) -> bool {
        matches!(self, Self::DynamoStopped | Self::BothStopped | Self::DynamoUnresponsive)
    }

    /// Whether Redis comes back empty (sessions and caches gone).
    pub fn loses_redis_data(self) -> bool {
        matches!(self, Self::RedisStopped | Self::BothStopped)
    }

    /// Whether requests meet a store that hangs rather than one that refuses.
    pub fn hangs(self) -> bool {
        matches!(self, Self::RedisFrozen | Self::DynamoUnresponsive)
    }

    pub async fn begin(self, stack: &mut TestStack) -> anyhow::Result<()> {
        match self {
            Self::RedisFrozen => stack.redis.freeze(),
            Self::DynamoUnresponsive => stack.hang_dynamo().await,
            _ => {
                if self.redis() {
                    stack.redis.stop();
                }
                if self.dynamo() {
                    stack.dynamo.stop().await;
                }
                Ok(())
            }
        }
    }

    /// Ends the fault: the stores serve again on the same addresses.
    pub async fn end(self, stack: &mut TestStack) -> anyhow::Result<()> {
        match self {
            Self::RedisFrozen => stack.redis.thaw(),
            Self::DynamoUnresponsive => stack.unhang_dynamo().await,
            _ => {
                if self.redis() {
                    stack.redis.restart().await?;
                }
                if self.dynamo() {
                    stack.dynamo.restart().await?;
                }
                Ok(())
            }
        }
    }
}
