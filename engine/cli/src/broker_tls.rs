//! The AMQP tools' TLS flags (`--ca-file`, `--cert-file`, `--key-file`),
//! read and checked before connecting.

use anyhow::{Context, Result};
use ingest::amqp::{Tls, TlsFiles};

use crate::cli::BrokerArgs;

impl BrokerArgs {
    /// The TLS settings of the flags (none given: the bundled roots, no
    /// client certificate); a file that cannot be used is an error naming it.
    pub fn tls(&self) -> Result<Tls> {
        let path = |p: &Option<std::path::PathBuf>| p.clone().unwrap_or_default();
        TlsFiles {
            ca_file: path(&self.ca_file),
            cert_file: path(&self.cert_file),
            key_file: path(&self.key_file),
        }
        .load()
        .context("TLS files (--ca-file, --cert-file, --key-file)")
    }
}
