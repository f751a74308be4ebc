//! Checking the TLS files' contents ([`Tls::from_pem`], pure) and handing
//! them to lapin ([`Tls::lapin_config`]).
//!
//! lapin's rustls backend would skip a CA certificate it cannot parse and
//! fail the handshake later with "no valid certificates", or read a file
//! with no key as an I/O error on every connect: checked here, each is one
//! error at start that says which file and why.

use std::sync::Arc;

use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use rustls::{
    RootCertStore,
    pki_types::{
        CertificateDer, PrivateKeyDer,
        pem::{self, PemObject},
    },
    sign::CertifiedKey,
};

use super::{
    TlsFiles,
    files::{KEY_CA, KEY_CERT, KEY_KEY},
    roots::bundled_roots_pem,
};
use crate::{BrokerError, Result};

/// What lapin is given for an `amqps://` connection: the roots to trust and
/// the client certificate, checked. [`Tls::default`] trusts the bundled
/// Mozilla roots and has no client certificate. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Tls {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The files it was read from, for `Debug`.
    files: TlsFiles,
    /// The CA file's PEM; `None`: the bundled roots.
    ca_pem: Option<String>,
    /// The client certificate chain's and key's PEM.
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// The file names only: the key's bytes never reach a log.
impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files = &self.inner.files;
        f.debug_struct("Tls")
            .field("ca_file", &files.ca_file)
            .field("cert_file", &files.cert_file)
            .field("key_file", &files.key_file)
            .finish()
    }
}

impl Tls {
    /// Checks the contents of the files `files` names (`None`: not set):
    /// the CA file must hold at least one usable certificate; the
    /// certificate and the key come together, each holds what its name
    /// says, and the key is the certificate's.
    pub fn from_pem(
        files: &TlsFiles,
        ca: Option<&[u8]>,
        cert: Option<&[u8]>,
        key: Option<&[u8]>,
    ) -> Result<Tls> {
        let refuse = |key: &'static str, reason: String| BrokerError::Tls {
            key,
            path: match key {
                KEY_CA => files.ca_file.clone(),
                KEY_CERT => files.cert_file.clone(),
                _ => files.key_file.clone(),
            },
            reason,
        };
        let ca_pem = match ca {
            None => None,
            Some(bytes) => {
                let certs = certificates(bytes).map_err(|r| refuse(KEY_CA, r))?;
                check_roots(&certs).map_err(|r| refuse(KEY_CA, r))?;
                // Checked as PEM just above; lapin takes it as a string.
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
        };
        let identity = match (cert, key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(refuse(
                    KEY_CERT,
                    format!("is set without {KEY_KEY} (a client certificate needs its key)"),
                ));
            }
            (None, Some(_)) => {
                return Err(refuse(
                    KEY_KEY,
                    format!("is set without {KEY_CERT} (a key needs its certificate)"),
                ));
            }
            (Some(cert), Some(key)) => {
                let chain = certificates(cert).map_err(|r| refuse(KEY_CERT, r))?;
                let private = private_key(key).map_err(|r| refuse(KEY_KEY, r))?;
                let provider = rustls::crypto::ring::default_provider();
                CertifiedKey::from_der(chain, private, &provider).map_err(|e| {
                    refuse(
                        KEY_KEY,
                        format!(
                            "is not the key of {KEY_CERT} {} ({e})",
                            files.cert_file.display()
                        ),
                    )
                })?;
                Some((cert.to_vec(), key.to_vec()))
            }
        };
        Ok(Tls {
            inner: Arc::new(Inner {
                files: files.clone(),
                ca_pem,
                identity,
            }),
        })
    }

    /// Whether a client certificate is presented.
    pub fn has_client_cert(&self) -> bool {
        self.inner.identity.is_some()
    }

    /// Whether any TLS file was given (an `amqp://` URL with TLS files is
    /// refused: see [`crate::target`]).
    pub fn is_set(&self) -> bool {
        self.inner.files.is_set()
    }

    /// The files it was read from.
    pub fn files(&self) -> &TlsFiles {
        &self.inner.files
    }

    /// The config lapin's `connect_uri_with_config` takes: the roots always
    /// given (lapin is built without a root store of its own, so nothing
    /// else is trusted), the client certificate if any.
    pub fn lapin_config(&self) -> OwnedTLSConfig {
        OwnedTLSConfig {
            identity: self
                .inner
                .identity
                .as_ref()
                .map(|(pem, key)| OwnedIdentity::PKCS8 {
                    // lapin reads any PEM key here (PKCS#8, PKCS#1 or SEC1),
                    // whatever the variant's name says.
                    pem: pem.clone(),
                    key: key.clone(),
                }),
            cert_chain: Some(
                self.inner
                    .ca_pem
                    .clone()
                    .unwrap_or_else(|| bundled_roots_pem().to_owned()),
            ),
        }
    }
}

/// The PEM certificates in `bytes`, at least one.
fn certificates(bytes: &[u8]) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned());
    }
    Ok(certs)
}

/// Whether `certs` can be trust anchors: one that cannot is skipped, as
/// lapin would (a system bundle may hold a few), but not all of them.
fn check_roots(certs: &[CertificateDer<'static>]) -> std::result::Result<(), String> {
    let mut store = RootCertStore::empty();
    let mut first_error = None;
    for cert in certs {
        if let Err(e) = store.add(cert.clone()) {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) if store.is_empty() => Err(format!(
            "none of its {} certificate(s) can be a CA: {e}",
            certs.len()
        )),
        _ => Ok(()),
    }
}

/// The PEM private key in `bytes`.
fn private_key(bytes: &[u8]) -> std::result::Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
        pem::Error::NoItemsFound if contains(bytes, b"ENCRYPTED PRIVATE KEY") => {
            "holds an encrypted key, which is not supported (decrypt it: \
             openssl pkey -in KEY -out PLAIN_KEY)"
                .to_owned()
        }
        pem::Error::NoItemsFound => "holds no PEM private key (-----BEGIN PRIVATE KEY-----, \
                                     RSA PRIVATE KEY or EC PRIVATE KEY)"
            .to_owned(),
        other => format!("not PEM: {other}"),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::Classified;

    const CA: &[u8] = include_bytes!("testdata/ca.pem");
    const CLIENT: &[u8] = include_bytes!("testdata/client.pem");
    const CLIENT_KEY: &[u8] = include_bytes!("testdata/client.key");
    const CLIENT_SEC1_KEY: &[u8] = include_bytes!("testdata/client-sec1.key");
    const OTHER_KEY: &[u8] = include_bytes!("testdata/other.key");

    fn files() -> TlsFiles {
        TlsFiles {
            ca_file: PathBuf::from("/etc/x/ca.pem"),
            cert_file: PathBuf::from("/etc/x/client.pem"),
            key_file: PathBuf::from("/etc/x/client.key"),
        }
    }

    #[track_caller]
    fn refused(ca: Option<&[u8]>, cert: Option<&[u8]>, key: Option<&[u8]>) -> String {
        let e = Tls::from_pem(&files(), ca, cert, key).expect_err("refused");
        assert_eq!(e.class(), Classified::Permanent, "{e}");
        e.to_string()
    }

    #[test]
    fn a_ca_file_replaces_the_bundled_roots() {
        let tls = Tls::from_pem(&files(), Some(CA), None, None).expect("a good CA");
        let cfg = tls.lapin_config();
        assert_eq!(cfg.cert_chain.as_deref().map(str::as_bytes), Some(CA));
        assert!(cfg.identity.is_none());
    }

    #[test]
    fn without_a_ca_file_the_bundled_roots_are_trusted() {
        let cfg = Tls::default().lapin_config();
        let pem = cfg.cert_chain.expect("roots given");
        let n = CertificateDer::pem_slice_iter(pem.as_bytes()).count();
        assert_eq!(n, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(n > 100, "{n}");
    }

    #[test]
    fn a_client_certificate_goes_with_its_key_in_any_pem_form() {
        for key in [CLIENT_KEY, CLIENT_SEC1_KEY] {
            let tls = Tls::from_pem(&files(), None, Some(CLIENT), Some(key)).expect("a good pair");
            assert!(tls.has_client_cert());
            assert!(matches!(
                tls.lapin_config().identity,
                Some(OwnedIdentity::PKCS8 { .. })
            ));
        }
    }

    #[test]
    fn bad_files_are_named_with_the_reason() {
        for (ca, cert, key, says) in [
            (
                Some(&b"hello"[..]),
                None,
                None,
                "tls.ca_file /etc/x/ca.pem: holds no PEM certificate",
            ),
            (
                Some(CLIENT_KEY),
                None,
                None,
                "tls.ca_file /etc/x/ca.pem: holds no PEM certificate",
            ),
            (
                Some(&b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"[..]),
                None,
                None,
                "tls.ca_file /etc/x/ca.pem: not PEM: base64 decode error",
            ),
            (
                Some(&b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n"[..]),
                None,
                None,
                "tls.ca_file /etc/x/ca.pem: none of its 1 certificate(s) can be a CA",
            ),
            (
                None,
                Some(CLIENT),
                None,
                "tls.cert_file /etc/x/client.pem: is set without tls.key_file",
            ),
            (
                None,
                None,
                Some(CLIENT_KEY),
                "tls.key_file /etc/x/client.key: is set without tls.cert_file",
            ),
            (
                None,
                Some(CLIENT_KEY),
                Some(CLIENT_KEY),
                "tls.cert_file /etc/x/client.pem: holds no PEM certificate",
            ),
            (
                None,
                Some(CLIENT),
                Some(CLIENT),
                "tls.key_file /etc/x/client.key: holds no PEM private key",
            ),
            (
                None,
                Some(CLIENT),
                Some(&b"-----BEGIN ENCRYPTED PRIVATE KEY-----\naGVsbG8=\n-----END ENCRYPTED PRIVATE KEY-----\n"[..]),
                "tls.key_file /etc/x/client.key: holds an encrypted key",
            ),
            (
                None,
                Some(CLIENT),
                Some(OTHER_KEY),
                "tls.key_file /etc/x/client.key: is not the key of tls.cert_file /etc/x/client.pem",
            ),
        ] {
            let text = refused(ca, cert, key);
            assert!(text.starts_with(says), "{text}\nwanted: {says}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let tls = Tls::from_pem(&files(), Some(CA), Some(CLIENT), Some(CLIENT_KEY)).expect("good");
        let shown = format!("{tls:?}");
        assert!(shown.contains("/etc/x/client.key"), "{shown}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
    }
}
