//! What one connect needs: the URL parsed ([`crate::parse_url`]) and, for
//! `amqps://`, the TLS config lapin takes ([`crate::Tls`]).
//!
//! TLS files with an `amqp://` URL are refused, not ignored: whoever set a
//! CA file expects TLS, and would otherwise send the password in the clear
//! without a word.

use lapin::{
    tcp::OwnedTLSConfig,
    uri::{AMQPScheme, AMQPUri},
};

use crate::{BrokerError, Result, Tls, parse_url, redact};

/// A broker to connect to.
#[derive(Debug)]
pub struct Target {
    /// The URL, for `Connection::connect_uri_with_config`.
    pub uri: AMQPUri,
    /// The TLS settings (unused by lapin for `amqp://`).
    pub tls: OwnedTLSConfig,
}

/// `url` with `tls`, or why they cannot be used together (the error shows
/// the URL without its password).
pub fn target(url: &str, tls: &Tls) -> Result<Target> {
    let uri = parse_url(url)?;
    let tls = match uri.scheme {
        AMQPScheme::AMQPS => tls.lapin_config(),
        AMQPScheme::AMQP if tls.is_set() => {
            return Err(BrokerError::Url {
                shown: redact(url),
                reason: "TLS files are set (tls.ca_file, tls.cert_file, tls.key_file) but the \
                         URL is amqp://, which does not use TLS: use amqps:// (port 5671 by \
                         default)"
                    .to_owned(),
            });
        }
        AMQPScheme::AMQP => OwnedTLSConfig::default(),
    };
    Ok(Target { uri, tls })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::{Classified, TlsFiles};

    fn with_ca() -> Tls {
        let files = TlsFiles {
            ca_file: PathBuf::from("/x/ca.pem"),
            ..TlsFiles::default()
        };
        Tls::from_pem(
            &files,
            Some(include_bytes!("tls/testdata/ca.pem")),
            None,
            None,
        )
        .expect("a good CA")
    }

    #[test]
    fn amqps_takes_the_tls_config_and_amqp_none() {
        let t = target("amqps://u:p@h/%2f", &with_ca()).expect("amqps with a CA");
        assert!(t.tls.cert_chain.is_some());
        let t = target("amqps://u:p@h/%2f", &Tls::default()).expect("amqps, bundled roots");
        assert!(t.tls.cert_chain.is_some());
        let t = target("amqp://u:p@h/%2f", &Tls::default()).expect("plain");
        assert_eq!(t.tls, OwnedTLSConfig::default());
    }

    #[test]
    fn tls_files_with_a_plain_url_are_refused() {
        let e = target("amqp://u:S3cr3t@h/%2f", &with_ca()).expect_err("TLS files, no TLS");
        assert_eq!(e.class(), Classified::Permanent);
        let text = e.to_string();
        assert!(text.contains("amqp://u:***@h/%2f"), "{text}");
        assert!(text.contains("use amqps://"), "{text}");
        assert!(!text.contains("S3cr3t"), "{text}");
    }
}
