//! A TLS failure inside an I/O error: rustls reports a failed handshake
//! (or record) as an `io::Error` of kind `InvalidData` wrapping its own
//! error, which lapin passes on as an I/O error. Told apart here, it is a
//! [`Failure::Tls`](crate::Failure::Tls) with its [`TlsFailure`] instead of
//! a bare "invalid data".

use std::io;

use rustls::{AlertDescription as Alert, Error as Rustls};

use crate::TlsFailure;

/// The rustls error inside `io`, if it is one.
pub(crate) fn rustls_error(io: &io::Error) -> Option<&Rustls> {
    io.get_ref()?.downcast_ref::<Rustls>()
}

/// What `e` says about the handshake.
pub(crate) fn tls_failure(e: &Rustls) -> TlsFailure {
    match e {
        Rustls::InvalidCertificate(_) | Rustls::NoCertificatesPresented => TlsFailure::Untrusted,
        Rustls::AlertReceived(
            Alert::BadCertificate
            | Alert::UnsupportedCertificate
            | Alert::CertificateRevoked
            | Alert::CertificateExpired
            | Alert::CertificateUnknown
            | Alert::UnknownCA
            | Alert::AccessDenied
            | Alert::CertificateRequired,
        ) => TlsFailure::ClientRefused,
        Rustls::AlertReceived(
            Alert::HandshakeFailure | Alert::ProtocolVersion | Alert::InsufficientSecurity,
        )
        | Rustls::PeerIncompatible(_) => TlsFailure::Incompatible,
        // Bytes that are no TLS record: the first bytes of a plain AMQP
        // broker's reply (`AMQP…`) are no content type TLS knows.
        Rustls::InvalidMessage(_) => TlsFailure::NotTls,
        _ => TlsFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use rustls::{CertificateError, InvalidMessage, PeerIncompatible};

    use super::*;

    fn wrapped(e: Rustls) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn each_handshake_failure_has_its_kind() {
        for (e, want) in [
            (
                Rustls::InvalidCertificate(CertificateError::UnknownIssuer),
                TlsFailure::Untrusted,
            ),
            (
                Rustls::InvalidCertificate(CertificateError::Expired),
                TlsFailure::Untrusted,
            ),
            (Rustls::NoCertificatesPresented, TlsFailure::Untrusted),
            (
                Rustls::AlertReceived(Alert::UnknownCA),
                TlsFailure::ClientRefused,
            ),
            (
                Rustls::AlertReceived(Alert::CertificateRequired),
                TlsFailure::ClientRefused,
            ),
            (
                Rustls::AlertReceived(Alert::HandshakeFailure),
                TlsFailure::Incompatible,
            ),
            (
                Rustls::PeerIncompatible(PeerIncompatible::Tls12NotOffered),
                TlsFailure::Incompatible,
            ),
            (
                Rustls::InvalidMessage(InvalidMessage::InvalidContentType),
                TlsFailure::NotTls,
            ),
            (Rustls::DecryptError, TlsFailure::Other),
            (
                Rustls::AlertReceived(Alert::InternalError),
                TlsFailure::Other,
            ),
        ] {
            let io = wrapped(e);
            let inner = rustls_error(&io).expect("a rustls error inside");
            assert_eq!(tls_failure(inner), want, "{inner:?}");
        }
    }

    #[test]
    fn a_plain_io_error_is_not_tls() {
        assert!(rustls_error(&io::Error::from(io::ErrorKind::ConnectionReset)).is_none());
        assert!(rustls_error(&io::Error::new(io::ErrorKind::InvalidData, "x")).is_none());
    }
}
