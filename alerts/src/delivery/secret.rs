//! Sink passwords: a [`Secret`] that never prints, and resolving one from the
//! config or from an environment variable (`password_env`), so that secrets
//! can stay out of config files.

use std::fmt;

use crate::error::AlertsError;

/// A password from a config file. `Debug` prints a placeholder, so logging a
/// config (or an error that holds one) cannot leak it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password (for configs built in code rather than read).
    pub fn new(password: impl Into<String>) -> Secret {
        Secret(password.into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The password given by `password` or by the variable named in
/// `password_env`. Setting both is an error rather than a silent precedence,
/// and so is a named variable that is unset or not UTF-8: both are config
/// mistakes best caught at start. `sink` is the kind, as in
/// [`AlertsError::Sink`].
pub(crate) fn resolve_password(
    sink: &'static str,
    password: Option<&Secret>,
    password_env: Option<&str>,
) -> Result<Option<String>, AlertsError> {
    match (password, password_env) {
        (Some(_), Some(_)) => Err(AlertsError::Sink {
            sink,
            reason: "set either `password` or `password_env`, not both".into(),
        }),
        (Some(p), None) => Ok(Some(p.0.clone())),
        (None, Some(var)) => std::env::var(var).map(Some).map_err(|e| AlertsError::Sink {
            sink,
            reason: format!("`password_env` names {var:?}, which cannot be read: {e}"),
        }),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_env_both_and_neither() {
        assert_eq!(
            resolve_password("s", Some(&Secret::new("pw")), None).expect("literal"),
            Some("pw".to_owned())
        );
        assert_eq!(resolve_password("s", None, None).expect("none"), None);
        assert!(resolve_password("s", Some(&Secret::new("pw")), Some("X")).is_err());
        assert_eq!(format!("{:?}", Secret::new("pw")), "Secret(<redacted>)");
        // PATH is set in every test environment; a name nobody sets is not.
        let path = std::env::var("PATH").expect("PATH");
        assert_eq!(
            resolve_password("s", None, Some("PATH")).expect("env"),
            Some(path)
        );
        let err = resolve_password("s", None, Some("ALDEBARAN_TEST_SURELY_UNSET_VAR"))
            .expect_err("unset");
        assert!(err.to_string().contains("ALDEBARAN_TEST_SURELY_UNSET_VAR"));
    }
}
