//! TLS for `amqps://`: the files a config names ([`TlsFiles`]), read and
//! checked once at start into what every connect hands lapin ([`Tls`]).
//!
//! - **Trust.** With `ca_file`, the certificates in it are the only roots
//!   trusted: a private CA pins the broker, and no public CA can stand in
//!   for it. Without one, the Mozilla roots bundled in the binary
//!   (`webpki-root-certs`) are trusted, as a browser would: what a managed
//!   broker with a public certificate (Amazon MQ) needs. A system bundle
//!   (`/etc/ssl/certs/ca-certificates.crt`) may be given as the CA file.
//! - **Client certificate** (optional): `cert_file` (PEM, the leaf first,
//!   then any intermediates) and `key_file` (PEM: PKCS#8, PKCS#1 or SEC1,
//!   not encrypted), both or neither; checked to belong together.
//! - **Checks at start**: a file that is missing or unreadable, holds no PEM
//!   certificate or key, or a key that is not the certificate's, is a
//!   [`crate::BrokerError::Tls`] naming the key and the file — permanent, so
//!   `run` stops at once instead of failing every handshake. The handshake
//!   itself is checked by the broker's answer ([`crate::TlsFailure`]).
//! - **Secrets**: the key's bytes are never printed; [`Tls`]'s `Debug` shows
//!   the file names only.
//!
//! The files are read once: a renewed certificate is used after a restart.

mod check;
mod files;
mod roots;

pub use check::Tls;
pub use files::TlsFiles;
