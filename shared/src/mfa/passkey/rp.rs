//! The WebAuthn relying party: who passkeys are made for (the RP id, a
//! domain) and which page may use them (the origin), read from the
//! configuration once and built into a `Webauthn` value at start.
//!
//! `WEBAUTHN_ORIGIN` (else `PUBLIC_URL`) is the origin; `WEBAUTHN_RP_ID`
//! (else the origin's host) the RP id. Browsers only accept an RP id that is
//! a domain, never an IP address: a deployment reached by address alone has
//! no passkeys, and their endpoints answer 503 saying why.
//!
//! The configuration reads this file (`RpSettings`), so it names nothing of
//! the crate but `env`: no circle through the error type and the stores.

use webauthn_rs::prelude::{Url, Uuid, Webauthn, WebauthnBuilder};

use crate::env::{Env, EnvError};

/// The relying party as configured (validated, not built yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpSettings {
    pub rp_id: String,
    /// `scheme://host[:port]`, without a path.
    pub origin: String,
}

impl RpSettings {
    /// Reads `WEBAUTHN_RP_ID` and `WEBAUTHN_ORIGIN`, falling back on
    /// `public_url`. `None` when neither gives a usable relying party; an
    /// explicit setting that cannot work stops the start (`EnvError`), a
    /// `PUBLIC_URL` that cannot (an IP address) only leaves passkeys off.
    pub fn from_env(env: &Env, public_url: Option<&str>) -> Result<Option<Self>, EnvError> {
        let explicit_id = env.get("WEBAUTHN_RP_ID").map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty());
        let explicit_origin = env.get("WEBAUTHN_ORIGIN").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let problem = |var: &str, problem: String| EnvError { var: var.into(), problem };
        let (origin_var, raw_origin) = match (&explicit_origin, public_url) {
            (Some(origin), _) => ("WEBAUTHN_ORIGIN", origin.as_str()),
            (None, Some(url)) => ("PUBLIC_URL", url),
            (None, None) if explicit_id.is_some() => {
                return Err(problem(
                    "WEBAUTHN_ORIGIN",
                    "required with WEBAUTHN_RP_ID when PUBLIC_URL is not set (e.g. https://riverhost.example)".into(),
                ));
            }
            (None, None) => return Ok(None),
        };
        let explicit = explicit_id.is_some() || explicit_origin.is_some();
        let origin = match origin_of(raw_origin) {
            Ok(origin) => origin,
            Err(why) if explicit => return Err(problem(origin_var, why)),
            Err(_) => return Ok(None),
        };
        let Some(host) = origin.domain().map(str::to_owned) else {
            if explicit {
                return Err(problem(
                    origin_var,
                    "passkeys need a domain name, not an IP address (browsers refuse an IP as the relying party)"
                        .into(),
                ));
            }
            return Ok(None);
        };
        let rp_id = explicit_id.unwrap_or(host);
        let settings = Self { rp_id, origin: origin.origin().ascii_serialization() };
        if RelyingParty::new(&settings).is_err() {
            return Err(problem(
                "WEBAUTHN_RP_ID",
                format!("must be the origin's host ({}) or a domain it belongs to", settings.origin),
            ));
        }
        Ok(Some(settings))
    }
}

/// `raw` as an origin: an http(s) URL, reduced to scheme, host and port.
fn origin_of(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("expected an http:// or https:// URL".into());
    }
    Url::parse(&url.origin().ascii_serialization()).map_err(|e| format!("not a URL ({e})"))
}

/// The relying party, built once per process (see `http::state`).
#[derive(Debug, Clone)]
pub struct RelyingParty {
    pub webauthn: Webauthn,
    pub settings: RpSettings,
}

impl RelyingParty {
    pub fn new(settings: &RpSettings) -> Result<Self, webauthn_rs::prelude::WebauthnError> {
        let origin = Url::parse(&settings.origin).map_err(|_| webauthn_rs::prelude::WebauthnError::Configuration)?;
        let webauthn = WebauthnBuilder::new(&settings.rp_id, &origin)?.rp_name("KohakuRiver").build()?;
        Ok(Self { webauthn, settings: settings.clone() })
    }
}

/// Marks the user handles this service makes (the high half of the UUID),
/// so a handle from elsewhere is not mistaken for a user id.
const HANDLE_TAG: u64 = u64::from_be_bytes(*b"krv-user");

/// The WebAuthn user handle of user `id`: derived, not stored, so a
/// discoverable assertion's handle names the user to look the key up under.
pub fn user_handle(id: u64) -> Uuid {
    Uuid::from_u64_pair(HANDLE_TAG, id)
}

/// The user id a handle of [`user_handle`] stands for.
pub fn user_of_handle(handle: &Uuid) -> Option<u64> {
    let (tag, id) = handle.as_u64_pair();
    (tag == HANDLE_TAG).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)], public_url: Option<&str>) -> Result<Option<RpSettings>, EnvError> {
        RpSettings::from_env(&Env::from_map(pairs.iter().copied()), public_url)
    }

    #[test]
    fn the_public_url_gives_the_relying_party() {
        let rp = settings(&[], Some("https://river.example.org/panel/")).expect("valid").expect("configured");
        assert_eq!(rp, RpSettings { rp_id: "river.example.org".into(), origin: "https://river.example.org".into() });
        let rp = settings(&[], Some("http://localhost:8000")).expect("valid").expect("configured");
        assert_eq!(rp.origin, "http://localhost:8000");
        assert_eq!(rp.rp_id, "localhost");
        assert!(settings(&[], None).expect("valid").is_none(), "nothing configured");
    }

    #[test]
    fn an_ip_public_url_leaves_passkeys_off_but_an_explicit_ip_stops_the_start() {
        assert!(settings(&[], Some("http://10.0.0.5:8000")).expect("valid").is_none());
        let err = settings(&[("WEBAUTHN_ORIGIN", "https://10.0.0.5")], None).expect_err("explicit IP");
        assert_eq!(err.var, "WEBAUTHN_ORIGIN");
    }

    #[test]
    fn explicit_settings_are_checked() {
        let rp = settings(&[("WEBAUTHN_RP_ID", "example.org"), ("WEBAUTHN_ORIGIN", "https://river.example.org")], None)
            .expect("valid")
            .expect("configured");
        assert_eq!(rp.rp_id, "example.org");
        let err = settings(&[("WEBAUTHN_RP_ID", "other.org")], Some("https://river.example.org")).expect_err("foreign");
        assert_eq!(err.var, "WEBAUTHN_RP_ID");
        let err = settings(&[("WEBAUTHN_RP_ID", "example.org")], None).expect_err("no origin");
        assert_eq!(err.var, "WEBAUTHN_ORIGIN");
        let err = settings(&[("WEBAUTHN_ORIGIN", "ftp://example.org")], None).expect_err("scheme");
        assert_eq!(err.var, "WEBAUTHN_ORIGIN");
    }

    #[test]
    fn user_handles_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(user_of_handle(&user_handle(42)), Some(42));
        assert_eq!(user_of_handle(&Uuid::from_u64_pair(7, 42)), None);
    }
}
