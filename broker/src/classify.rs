//! Whether a failed broker operation can succeed if tried again: the pure
//! decision [`classify`] from the observed facts of one failure
//! ([`Failure`], plain values, so the table is tested without a broker).
//!
//! | failure | class | why |
//! |---|---|---|
//! | URL that does not parse, unknown scheme, TLS files with an `amqp://` URL | permanent | the same URL fails the same way |
//! | reply 403 `ACCESS_REFUSED` | permanent | wrong user name or password, or no permission for the operation |
//! | reply 530 `NOT_ALLOWED` | permanent | unknown vhost, or the user may not use it |
//! | reply 402, 404, 406, 311, 540, 501–505 | permanent | a path, object, property or frame the broker refuses: it refuses it again |
//! | reply 320 `CONNECTION_FORCED`, 506, 541, 405, 313, 312, 200, unknown codes | transient | broker shutting down or closed by an operator, out of resources, a lock or a route that may come |
//! | I/O: refused, reset, aborted, broken pipe, timed out, unreachable, end of stream, a name that does not resolve, any other kind | transient | the broker is down, restarting or not reachable yet |
//! | I/O: permission denied, unsupported, invalid data | permanent | a local policy or a peer that is not an AMQP broker |
//! | no answer within the deadline | transient | a slow or overloaded broker or network |
//! | a peer that does not speak AMQP 0-9-1 (bad frame, other version) | permanent | connecting again reaches the same peer |
//! | the client cannot (its runtime is gone, its auth provider failed) | permanent | nothing outside it will change |
//! | the link found closed (channel or connection state, missed heartbeat) | transient | reconnecting makes a new link |
//! | TLS: the broker's certificate not trusted (unknown issuer, not for the URL's host, expired) | permanent | the same certificate and roots fail the same way |
//! | TLS: the broker refused this client's certificate, or wants one | permanent | until the client certificate or the broker's CA changes |
//! | TLS: the peer does not speak TLS (an `amqps://` URL on a plain port) | permanent | the same port answers the same way |
//! | TLS: no protocol version or cipher suite in common | permanent | both ends' settings decide it |
//! | TLS: any other failure of the handshake or the record layer | transient | a peer or a network that misbehaved once |
//!
//! **Names that do not resolve are transient.** The resolver cannot tell a
//! misspelt host from one that does not exist *yet* (a container whose
//! broker service is still starting, a DNS server restarting), and Rust
//! reports both alike. Retrying a typo costs log lines that name the lookup
//! failure each time; giving up on a broker that appears a second later
//! would stop a service that would have worked.
//!
//! Unknown reply codes are transient: a long-running client that meets
//! something new keeps trying and says so, rather than stopping.

use std::io::ErrorKind;

/// Whether trying again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classified {
    /// Fails the same way until someone changes the configuration or the
    /// broker: report it, do not retry.
    Permanent,
    /// May succeed later (broker down or restarting, network): retry with
    /// backoff.
    Transient,
}

impl Classified {
    /// `"permanent"` or `"transient"`, for logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Classified::Permanent => "permanent",
            Classified::Transient => "transient",
        }
    }
}

impl std::fmt::Display for Classified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was observed of one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The URL does not parse, or names a scheme this client cannot use.
    Url,
    /// The broker closed the connection or the channel with this AMQP reply
    /// code.
    Reply(u16),
    /// A socket error of this kind (a name lookup failure included).
    Io(ErrorKind),
    /// No answer within the deadline.
    Timeout,
    /// The peer does not speak AMQP 0-9-1 as this client does.
    Protocol,
    /// The client itself cannot do it (its runtime shut down, its
    /// authentication provider failed, a bug).
    Client,
    /// The link was found closed or broken (channel or connection state, a
    /// missed heartbeat).
    Lost,
    /// The TLS handshake (or a TLS record) failed this way.
    Tls(TlsFailure),
}

/// How a TLS handshake failed, as far as a client can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The broker's certificate is not trusted: signed by no trusted root,
    /// not for the URL's host, expired or not yet valid, or none was sent.
    Untrusted,
    /// The broker refused this client's certificate, or asked for one and
    /// got none (its TLS alert: bad or unknown certificate, unknown CA,
    /// certificate required, access denied).
    ClientRefused,
    /// What came back is not TLS: a plain AMQP port, or another protocol.
    NotTls,
    /// No protocol version or cipher suite both ends accept.
    Incompatible,
    /// Anything else (a record that failed to decrypt, an internal error
    /// alert, a peer that misbehaved).
    Other,
}

/// AMQP 0-9-1 reply codes (the spec's constants).
pub mod reply {
    /// A normal close.
    pub const SUCCESS: u16 = 200;
    /// The message is too large.
    pub const CONTENT_TOO_LARGE: u16 = 311;
    /// A mandatory message could not be routed.
    pub const NO_ROUTE: u16 = 312;
    /// An immediate message found no consumer.
    pub const NO_CONSUMERS: u16 = 313;
    /// The broker or an operator closed the connection.
    pub const CONNECTION_FORCED: u16 = 320;
    /// A path (vhost) that is not valid.
    pub const INVALID_PATH: u16 = 402;
    /// Login refused, or no permission for the operation.
    pub const ACCESS_REFUSED: u16 = 403;
    /// The exchange or queue does not exist.
    pub const NOT_FOUND: u16 = 404;
    /// An exclusive resource held by another connection.
    pub const RESOURCE_LOCKED: u16 = 405;
    /// Declared with other properties, or an unknown delivery tag.
    pub const PRECONDITION_FAILED: u16 = 406;
    /// A malformed frame.
    pub const FRAME_ERROR: u16 = 501;
    /// A frame with bad values.
    pub const SYNTAX_ERROR: u16 = 502;
    /// A method that is not valid here.
    pub const COMMAND_INVALID: u16 = 503;
    /// A channel that is not open.
    pub const CHANNEL_ERROR: u16 = 504;
    /// A frame out of sequence.
    pub const UNEXPECTED_FRAME: u16 = 505;
    /// The broker lacks resources.
    pub const RESOURCE_ERROR: u16 = 506;
    /// Unknown vhost, or the user may not use it.
    pub const NOT_ALLOWED: u16 = 530;
    /// A method the broker does not implement.
    pub const NOT_IMPLEMENTED: u16 = 540;
    /// The broker failed internally.
    pub const INTERNAL_ERROR: u16 = 541;
}

/// The class of `failure` (the table in the module's doc).
pub fn classify(failure: Failure) -> Classified {
    use Classified::{Permanent, Transient};
    match failure {
        Failure::Url | Failure::Protocol | Failure::Client => Permanent,
        Failure::Timeout | Failure::Lost => Transient,
        Failure::Tls(tls) => match tls {
            TlsFailure::Untrusted
            | TlsFailure::ClientRefused
            | TlsFailure::NotTls
            | TlsFailure::Incompatible => Permanent,
            TlsFailure::Other => Transient,
        },
        Failure::Reply(code) => match code {
            reply::ACCESS_REFUSED
            | reply::NOT_ALLOWED
            | reply::INVALID_PATH
            | reply::NOT_FOUND
            | reply::PRECONDITION_FAILED
            | reply::CONTENT_TOO_LARGE
            | reply::NOT_IMPLEMENTED
            | reply::FRAME_ERROR..=reply::UNEXPECTED_FRAME => Permanent,
            _ => Transient,
        },
        Failure::Io(kind) => match kind {
            ErrorKind::PermissionDenied | ErrorKind::Unsupported | ErrorKind::InvalidData => {
                Permanent
            }
            _ => Transient,
        },
    }
}

/// What to check, for the failures an operator must fix.
pub fn hint(failure: Failure) -> Option<&'static str> {
    match failure {
        Failure::Reply(reply::ACCESS_REFUSED) => {
            Some("check the user name and password, and the user's permissions")
        }
        Failure::Reply(reply::NOT_ALLOWED | reply::INVALID_PATH) => {
            Some("check the vhost in the URL and the user's access to it")
        }
        Failure::Protocol => Some("is this the port of an AMQP 0-9-1 broker?"),
        Failure::Tls(TlsFailure::Untrusted) => Some(
            "check tls.ca_file (it must hold the CA that signed the broker's certificate; \
             without it the bundled Mozilla roots are trusted) and that the URL's host is a \
             name of that certificate",
        ),
        Failure::Tls(TlsFailure::ClientRefused) => Some(
            "the broker refused this client's certificate or wants one: check tls.cert_file \
             and tls.key_file, and the CA the broker trusts for clients",
        ),
        Failure::Tls(TlsFailure::NotTls) => {
            Some("is this the broker's TLS port? amqps:// is usually port 5671, amqp:// 5672")
        }
        Failure::Tls(TlsFailure::Incompatible) => Some(
            "the broker offers no TLS version or cipher suite this client accepts (TLS 1.2 or 1.3)",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Classified::*, ErrorKind, Failure, TlsFailure, classify, hint, reply};

    #[test]
    fn what_the_url_or_the_broker_makes_permanent() {
        for f in [
            Failure::Url,
            Failure::Reply(reply::ACCESS_REFUSED),
            Failure::Reply(reply::NOT_ALLOWED),
            Failure::Reply(reply::INVALID_PATH),
            Failure::Reply(reply::NOT_FOUND),
            Failure::Reply(reply::PRECONDITION_FAILED),
            Failure::Reply(reply::CONTENT_TOO_LARGE),
            Failure::Reply(reply::NOT_IMPLEMENTED),
            Failure::Reply(reply::FRAME_ERROR),
            Failure::Reply(reply::SYNTAX_ERROR),
            Failure::Reply(reply::COMMAND_INVALID),
            Failure::Reply(reply::CHANNEL_ERROR),
            Failure::Reply(reply::UNEXPECTED_FRAME),
            Failure::Io(ErrorKind::PermissionDenied),
            Failure::Io(ErrorKind::Unsupported),
            Failure::Io(ErrorKind::InvalidData),
            Failure::Protocol,
            Failure::Client,
            Failure::Tls(TlsFailure::Untrusted),
            Failure::Tls(TlsFailure::ClientRefused),
            Failure::Tls(TlsFailure::NotTls),
            Failure::Tls(TlsFailure::Incompatible),
        ] {
            assert_eq!(classify(f), Permanent, "{f:?}");
        }
    }

    #[test]
    fn what_may_succeed_later_is_transient() {
        for f in [
            Failure::Io(ErrorKind::ConnectionRefused),
            Failure::Io(ErrorKind::ConnectionReset),
            Failure::Io(ErrorKind::ConnectionAborted),
            Failure::Io(ErrorKind::NotConnected),
            Failure::Io(ErrorKind::BrokenPipe),
            Failure::Io(ErrorKind::TimedOut),
            Failure::Io(ErrorKind::UnexpectedEof),
            Failure::Io(ErrorKind::HostUnreachable),
            Failure::Io(ErrorKind::NetworkUnreachable),
            Failure::Io(ErrorKind::NetworkDown),
            Failure::Io(ErrorKind::AddrNotAvailable),
            Failure::Io(ErrorKind::Interrupted),
            // A name that does not resolve (yet): std reports it as an
            // uncategorised error, or `InvalidInput` when the lookup gives no
            // address; both land here.
            Failure::Io(ErrorKind::Other),
            Failure::Io(ErrorKind::InvalidInput),
            Failure::Timeout,
            Failure::Lost,
            Failure::Reply(reply::SUCCESS),
            Failure::Reply(reply::CONNECTION_FORCED),
            Failure::Reply(reply::RESOURCE_ERROR),
            Failure::Reply(reply::INTERNAL_ERROR),
            Failure::Reply(reply::RESOURCE_LOCKED),
            Failure::Reply(reply::NO_ROUTE),
            Failure::Reply(reply::NO_CONSUMERS),
            Failure::Reply(999),
            Failure::Tls(TlsFailure::Other),
        ] {
            assert_eq!(classify(f), Transient, "{f:?}");
        }
    }

    #[test]
    fn a_name_lookup_failure_as_std_reports_it_is_transient() {
        // The real error of a host that does not resolve, whatever kind std
        // gives it on this platform.
        let e = std::net::ToSocketAddrs::to_socket_addrs(&("no-such-host.invalid", 5672))
            .expect_err("the .invalid TLD never resolves");
        assert_eq!(classify(Failure::Io(e.kind())), Transient, "{e:?}");
    }

    #[test]
    fn permanent_refusals_say_what_to_check() {
        assert!(
            hint(Failure::Reply(reply::ACCESS_REFUSED)).is_some_and(|h| h.contains("password"))
        );
        assert!(hint(Failure::Reply(reply::NOT_ALLOWED)).is_some_and(|h| h.contains("vhost")));
        assert_eq!(hint(Failure::Io(ErrorKind::ConnectionRefused)), None);
        assert!(
            hint(Failure::Tls(TlsFailure::Untrusted)).is_some_and(|h| h.contains("tls.ca_file"))
        );
        assert!(
            hint(Failure::Tls(TlsFailure::ClientRefused))
                .is_some_and(|h| h.contains("tls.cert_file"))
        );
        assert!(hint(Failure::Tls(TlsFailure::NotTls)).is_some_and(|h| h.contains("5671")));
        assert_eq!(hint(Failure::Tls(TlsFailure::Other)), None);
    }
}
