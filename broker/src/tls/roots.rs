//! The Mozilla roots bundled in the binary, as the PEM lapin takes.

use std::sync::OnceLock;

use base64::Engine;

/// Every root of `webpki-root-certs` as one PEM bundle, encoded once.
pub(super) fn bundled_roots_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        let mut out = String::new();
        for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
            out.push_str("-----BEGIN CERTIFICATE-----\n");
            // PEM lines hold 64 characters; base64 is ASCII, so any byte
            // boundary is a character boundary.
            for line in b64.as_bytes().chunks(64) {
                out.push_str(&String::from_utf8_lossy(line));
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----\n");
        }
        out
    })
}
