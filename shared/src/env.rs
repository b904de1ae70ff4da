//! Reading typed settings from environment variables.
//!
//! Every parse error names the variable, so a bad deployment stops at start with
//! one clear line instead of failing on the first request. Values of secret
//! variables are never echoed in an error.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// One problem with one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub var: String,
    pub problem: String,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.var, self.problem)
    }
}

impl std::error::Error for EnvError {}

/// The bytes of the PEM file at `path` (named by the variable `var`), if it
/// reads and holds a block whose label ends in `label_end`
/// (`"CERTIFICATE-----"`, `"PRIVATE KEY-----"`).
pub fn read_pem(var: &str, path: &std::path::Path, label_end: &str) -> Result<Vec<u8>, EnvError> {
    let problem = |problem: String| EnvError { var: var.into(), problem };
    let bytes = std::fs::read(path).map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.lines().any(|line| line.starts_with("-----BEGIN ") && line.trim_end().ends_with(label_end)) {
        let label = label_end.trim_end_matches('-').to_lowercase();
        return Err(problem(format!("{} holds no PEM {label}", path.display())));
    }
    Ok(bytes)
}

/// Where settings come from: the process environment, or a map in tests
/// (`std::env::set_var` is unsafe in edition 2024 and racy across tests).
#[derive(Debug, Clone, Default)]
pub struct Env {
    overrides: Option<HashMap<String, String>>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self { overrides: None }
    }

    /// Only the given variables, nothing from the process.
    pub fn from_map<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { overrides: Some(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect()) }
    }

    /// The raw value; an empty string counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.overrides {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// A string, or `default` when unset.
    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// A value parsed with `FromStr`, or `default` when unset; `expected` describes a
    /// valid value for the error line.
    pub fn parsed_or<T: FromStr>(&self, name: &str, default: T, expected: &str) -> Result<T, EnvError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| EnvError { var: name.to_owned(), problem: format!("expected {expected}, got {raw:?}") }),
        }
    }

    /// A number within `range`, or `default` when unset.
    pub fn number_in<T>(&self, name: &str, default: T, range: std::ops::RangeInclusive<T>) -> Result<T, EnvError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        let expected = format!("a whole number from {} to {}", range.start(), range.end());
        let value = self.parsed_or(name, default, &expected)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(EnvError { var: name.to_owned(), problem: format!("expected {expected}, got {value}") })
        }
    }

    /// A boolean (`true/false`, `1/0`, `yes/no`, `on/off`), or `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, EnvError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(EnvError { var: name.to_owned(), problem: format!("expected true or false, got {raw:?}") }),
            },
        }
    }

    /// A secret of at least `min_len` characters, or `None` when unset. The value
    /// never appears in an error.
    pub fn secret(&self, name: &str, min_len: usize) -> Result<Option<secrecy::SecretString>, EnvError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) if raw.chars().count() < min_len => Err(EnvError {
                var: name.to_owned(),
                problem: format!("must be at least {min_len} characters long (the value is not shown)"),
            }),
            Some(raw) => Ok(Some(raw.into())),
        }
    }

    /// A comma-separated list; empty items are dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|raw| raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_out_of_range_names_the_variable() {
        let env = Env::from_map([("SESSION_EXPIRE_HOURS", "0")]);
        let err = env.number_in("SESSION_EXPIRE_HOURS", 24u32, 1..=8760).expect_err("0 is out of range");
        assert_eq!(
            err.to_string(),
            "invalid configuration: SESSION_EXPIRE_HOURS: expected a whole number from 1 to 8760, got 0"
        );
    }

    #[test]
    fn a_short_secret_is_refused_without_echoing_it() {
        let env = Env::from_map([("ADMIN_SECRET", "hunter2")]);
        let err = env.secret("ADMIN_SECRET", 32).expect_err("too short");
        assert!(err.to_string().contains("ADMIN_SECRET"));
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn flags_accept_the_usual_spellings_and_refuse_others() {
        let env = Env::from_map([("A", "off"), ("B", "YES"), ("C", "maybe")]);
        assert!(!env.flag("A", true).expect("off parses"));
        assert!(env.flag("B", false).expect("YES parses"));
        assert!(env.flag("C", false).is_err());
        assert!(env.flag("UNSET", true).expect("default"));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = Env::from_map([("TABLE_PREFIX", "  ")]);
        assert_eq!(env.string_or("TABLE_PREFIX", "krv"), "krv");
    }
}
