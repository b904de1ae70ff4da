//! Timestamps: RFC 3339 UTC with whole seconds on the wire (`2026-11-24T08:00:00Z`),
//! milliseconds since the epoch where ordering matters.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    pub fn from_millis(ms: i64) -> Self {
        Self(
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    }

    pub fn millis(self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    pub fn seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn plus_secs(self, secs: i64) -> Self {
        Self(self.0 + time::Duration::seconds(secs))
    }

    /// `2026-11-24T08:00:00Z`.
    pub fn rfc3339(self) -> String {
        let whole = self.0.replace_nanosecond(0).unwrap_or(self.0);
        whole.format(&Rfc3339).unwrap_or_default()
    }

    /// Parses RFC 3339 (any offset, fractions allowed).
    pub fn parse(s: &str) -> Option<Self> {
        OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| Self(t.to_offset(time::UtcOffset::UTC)))
    }
}

/// On the wire an RFC 3339 string (`2026-11-24T08:00:00Z`).
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples(["2026-11-24T08:00:00Z"])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 time"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_rfc3339_utc_whole_seconds() {
        let t = Timestamp::from_millis(1_795_507_200_123);
        assert_eq!(t.rfc3339(), "2026-11-24T08:00:00Z");
        assert_eq!(t.millis(), 1_795_507_200_123);
        assert_eq!(Timestamp::parse("2026-11-24T09:00:00+01:00").map(|t| t.seconds()), Some(t.seconds()));
    }
}
