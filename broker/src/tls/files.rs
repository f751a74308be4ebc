//! The `[… .tls]` section of a config, and reading its files (the only I/O
//! of this crate).

use std::path::{Path, PathBuf};

use super::Tls;
use crate::{BrokerError, Result};

/// The TLS files of one broker client (`[source.amqp.tls]`,
/// `[sinks.<name>.tls]`, the tools' `--ca-file`, `--cert-file`,
/// `--key-file`). An empty path is not set.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsFiles {
    /// PEM file of the CA certificates to trust instead of the bundled
    /// Mozilla roots.
    pub ca_file: PathBuf,
    /// PEM file of this client's certificate (then its intermediates).
    pub cert_file: PathBuf,
    /// PEM file of the private key of `cert_file`.
    pub key_file: PathBuf,
}

impl TlsFiles {
    /// Whether any file is set.
    pub fn is_set(&self) -> bool {
        [&self.ca_file, &self.cert_file, &self.key_file]
            .iter()
            .any(|p| !p.as_os_str().is_empty())
    }

    /// Reads and checks the files ([`Tls::from_pem`]); the error names the
    /// key and the file.
    pub fn load(&self) -> Result<Tls> {
        let ca = read(KEY_CA, &self.ca_file)?;
        let cert = read(KEY_CERT, &self.cert_file)?;
        let key = read(KEY_KEY, &self.key_file)?;
        Tls::from_pem(self, ca.as_deref(), cert.as_deref(), key.as_deref())
    }
}

/// The config keys, for messages.
pub(super) const KEY_CA: &str = "tls.ca_file";
pub(super) const KEY_CERT: &str = "tls.cert_file";
pub(super) const KEY_KEY: &str = "tls.key_file";

/// The bytes of `path`, or `None` if it is not set.
fn read(key: &'static str, path: &Path) -> Result<Option<Vec<u8>>> {
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    std::fs::read(path).map(Some).map_err(|e| BrokerError::Tls {
        key,
        path: path.to_owned(),
        reason: format!("cannot read it: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Classified;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/tls/testdata")
            .join(name)
    }

    #[test]
    fn nothing_set_is_the_bundled_roots() {
        let files = TlsFiles::default();
        assert!(!files.is_set());
        let tls = files.load().expect("no files to read");
        assert!(!tls.has_client_cert());
    }

    #[test]
    fn the_test_files_load() {
        let files = TlsFiles {
            ca_file: testdata("ca.pem"),
            cert_file: testdata("client.pem"),
            key_file: testdata("client.key"),
        };
        assert!(files.is_set());
        let tls = files.load().expect("the test files are good");
        assert!(tls.has_client_cert());
    }

    #[test]
    fn a_missing_file_is_named_and_permanent() {
        let files = TlsFiles {
            ca_file: PathBuf::from("/nonexistent/ca.pem"),
            ..TlsFiles::default()
        };
        let e = files.load().expect_err("no such file");
        assert_eq!(e.class(), Classified::Permanent);
        let text = e.to_string();
        assert!(
            text.starts_with("tls.ca_file /nonexistent/ca.pem: cannot read it: "),
            "{text}"
        );
    }

    #[test]
    fn the_section_deserialises_and_refuses_unknown_keys() {
        let files: TlsFiles = serde_json::from_str(r#"{"ca_file": "/x/ca.pem"}"#).expect("parses");
        assert_eq!(files.ca_file, PathBuf::from("/x/ca.pem"));
        assert!(files.cert_file.as_os_str().is_empty());
        let e = serde_json::from_str::<TlsFiles>(r#"{"ca": "/x"}"#).expect_err("unknown key");
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}
