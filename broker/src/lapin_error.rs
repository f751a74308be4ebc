//! The facts of a lapin error ([`Failure`]) and its reason as it may be
//! printed.

use lapin::ErrorKind;

use crate::{
    Classified, ConsumeRefusal, Failure, classify, consume_refusal, hint,
    tls_error::{rustls_error, tls_failure},
};

impl Failure {
    /// What `e` says happened.
    pub fn of(e: &lapin::Error) -> Failure {
        match e.kind() {
            ErrorKind::ProtocolError(amqp) => Failure::Reply(amqp.get_id()),
            ErrorKind::IOError(io) => match rustls_error(io) {
                Some(tls) => Failure::Tls(tls_failure(tls)),
                None => Failure::Io(io.kind()),
            },
            ErrorKind::InvalidProtocolVersion(_) | ErrorKind::ParsingError(_) => Failure::Protocol,
            ErrorKind::InvalidChannel(_)
            | ErrorKind::InvalidChannelState(..)
            | ErrorKind::InvalidConnectionState(_)
            | ErrorKind::MissingHeartbeatError => Failure::Lost,
            // The runtime shut down, the auth provider failed, no channel
            // left, a frame that would not serialise, a future polled twice,
            // and kinds added later (the enum is non-exhaustive).
            _ => Failure::Client,
        }
    }
}

/// The class of `e`.
pub fn classify_lapin(e: &lapin::Error) -> Classified {
    classify(Failure::of(e))
}

/// What `e`, the failure of a `basic.consume`, means: the lease held by
/// another consumer, or anything else ([`consume_refusal`] on its reply
/// code and text).
pub fn consume_refusal_lapin(e: &lapin::Error) -> ConsumeRefusal {
    let text = match e.kind() {
        ErrorKind::ProtocolError(amqp) => amqp.get_message().as_str(),
        _ => "",
    };
    consume_refusal(Failure::of(e), text)
}

/// `e`'s reason, for a one-line message: the broker's own words for a
/// refusal (`ACCESS_REFUSED - Login was refused …`) rather than lapin's
/// wrapping of them, and what to check when an operator must act.
///
/// lapin's messages do not hold the URL once it has parsed (only a URL
/// that does not parse is echoed, and [`crate::parse_url`] catches those
/// first).
pub fn describe(e: &lapin::Error) -> String {
    let failure = Failure::of(e);
    let reason = match e.kind() {
        ErrorKind::ProtocolError(amqp) => amqp.get_message().to_string(),
        ErrorKind::IOError(io) => match rustls_error(io) {
            Some(tls) => format!("TLS handshake failed: {tls}"),
            None => io.to_string(),
        },
        _ => e.to_string(),
    };
    match hint(failure) {
        Some(h) => format!("{reason} ({}: {h})", classify(failure)),
        None => reason,
    }
}

/// [`describe`] for a failed connect with `tls` over `amqps://` (`tls_used`):
/// a connection reset or closed right after the handshake while a client
/// certificate was shown may be the broker refusing that certificate. Over
/// TLS 1.3 the broker checks it after the client has finished its
/// handshake and sent its first bytes, so its alert often dies with the
/// reset that closing a socket with unread input causes; the class stays
/// that of the reset (transient), as nothing proves it.
pub fn describe_connect(e: &lapin::Error, tls_used: bool, tls: &crate::Tls) -> String {
    let text = describe(e);
    let closed = matches!(
        Failure::of(e),
        Failure::Io(
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe
        )
    );
    if tls_used && tls.has_client_cert() && closed {
        format!(
            "{text} (if it persists: a broker that refuses the client certificate over \
             TLS 1.3 may only close the connection; check tls.cert_file and tls.key_file)"
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use std::{io, sync::Arc};

    use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPHardError, AMQPSoftError};

    use super::*;
    use crate::reply;

    fn refused(kind: AMQPErrorKind, text: &str) -> lapin::Error {
        ErrorKind::ProtocolError(AMQPError::new(kind, text.into())).into()
    }

    #[test]
    fn a_wrong_password_is_a_permanent_refusal_in_the_brokers_words() {
        let e = refused(
            AMQPSoftError::ACCESSREFUSED.into(),
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN.",
        );
        assert_eq!(Failure::of(&e), Failure::Reply(reply::ACCESS_REFUSED));
        assert_eq!(classify_lapin(&e), Classified::Permanent);
        let text = describe(&e);
        assert!(
            text.starts_with("ACCESS_REFUSED - Login was refused"),
            "{text}"
        );
        assert!(
            text.contains("permanent: check the user name and password"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_vhost_is_permanent() {
        let e = refused(
            AMQPHardError::NOTALLOWED.into(),
            "NOT_ALLOWED - vhost nope not found",
        );
        assert_eq!(Failure::of(&e), Failure::Reply(reply::NOT_ALLOWED));
        assert_eq!(classify_lapin(&e), Classified::Permanent);
        assert!(describe(&e).contains("check the vhost"), "{}", describe(&e));
    }

    #[test]
    fn a_forced_close_and_socket_errors_are_transient() {
        let e = refused(
            AMQPHardError::CONNECTIONFORCED.into(),
            "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
        );
        assert_eq!(classify_lapin(&e), Classified::Transient);
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::TimedOut,
        ] {
            let e: lapin::Error = ErrorKind::IOError(Arc::new(io::Error::from(kind))).into();
            assert_eq!(Failure::of(&e), Failure::Io(kind));
            assert_eq!(classify_lapin(&e), Classified::Transient, "{kind:?}");
            assert_eq!(describe(&e), io::Error::from(kind).to_string());
        }
    }

    #[test]
    fn a_consume_refused_for_exclusive_use_is_the_lease_and_a_permission_is_not() {
        let held = refused(
            AMQPSoftError::ACCESSREFUSED.into(),
            "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use",
        );
        assert_eq!(consume_refusal_lapin(&held), ConsumeRefusal::LeaseHeld);
        let denied = refused(
            AMQPSoftError::ACCESSREFUSED.into(),
            "ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user 'u'",
        );
        assert_eq!(consume_refusal_lapin(&denied), ConsumeRefusal::Other);
        let lost: lapin::Error = ErrorKind::MissingHeartbeatError.into();
        assert_eq!(consume_refusal_lapin(&lost), ConsumeRefusal::Other);
    }

    #[test]
    fn an_untrusted_broker_certificate_is_a_permanent_tls_failure() {
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let e: lapin::Error = ErrorKind::IOError(Arc::new(io)).into();
        assert_eq!(Failure::of(&e), Failure::Tls(crate::TlsFailure::Untrusted));
        assert_eq!(classify_lapin(&e), Classified::Permanent);
        let text = describe(&e);
        assert!(
            text.starts_with("TLS handshake failed: invalid peer certificate: UnknownIssuer"),
            "{text}"
        );
        assert!(text.contains("(permanent: check tls.ca_file"), "{text}");
    }

    #[test]
    fn a_reset_after_showing_a_client_certificate_says_what_it_may_be() {
        let files = crate::TlsFiles {
            cert_file: "/x/client.pem".into(),
            key_file: "/x/client.key".into(),
            ..crate::TlsFiles::default()
        };
        let with_cert = crate::Tls::from_pem(
            &files,
            None,
            Some(include_bytes!("tls/testdata/client.pem")),
            Some(include_bytes!("tls/testdata/client.key")),
        )
        .expect("the test pair");
        let reset: lapin::Error =
            ErrorKind::IOError(Arc::new(io::Error::from(io::ErrorKind::ConnectionReset))).into();
        assert!(describe_connect(&reset, true, &with_cert).contains("check tls.cert_file"));
        assert_eq!(classify_lapin(&reset), Classified::Transient);
        // Not over TLS, or no certificate shown: a reset is only a reset.
        assert_eq!(
            describe_connect(&reset, false, &with_cert),
            describe(&reset)
        );
        let none = crate::Tls::default();
        assert_eq!(describe_connect(&reset, true, &none), describe(&reset));
        let refused: lapin::Error =
            ErrorKind::IOError(Arc::new(io::Error::from(io::ErrorKind::ConnectionRefused))).into();
        assert_eq!(
            describe_connect(&refused, true, &with_cert),
            describe(&refused)
        );
    }

    #[test]
    fn a_lost_link_is_transient_and_a_dead_runtime_permanent() {
        let e: lapin::Error = ErrorKind::MissingHeartbeatError.into();
        assert_eq!(classify_lapin(&e), Classified::Transient);
        let e: lapin::Error =
            ErrorKind::RuntimeShutdownError(Arc::new(io::Error::other("gone"))).into();
        assert_eq!(classify_lapin(&e), Classified::Permanent);
    }
}
