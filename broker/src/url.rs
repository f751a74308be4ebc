//! Parsing a broker URL before lapin sees it, for two reasons:
//!
//! - lapin's `Connection::connect(&str)` turns a parse failure into an I/O
//!   error of kind `Other`, indistinguishable from a socket error, so it
//!   would be retried as if the broker were down; parsed here, it is a
//!   [`BrokerError::Url`], permanent.
//! - amq-protocol's message for a URL without an authority quotes the whole
//!   URL (`Invalid URL: 'amqp:guest:secret@host'`), password included; the
//!   reason here never quotes it.
//!
//! `amqps://` parses like `amqp://` (port 5671 by default); what TLS it uses
//! is [`crate::target`]'s part.

use lapin::uri::AMQPUri;

use crate::{BrokerError, Result, redact};

/// The form a broker URL has, for messages.
const FORM: &str = "expected amqp://user:password@host:port/vhost";

/// `url` parsed for `Connection::connect_uri`, or why it cannot be used (the
/// error shows the URL without its password).
pub fn parse_url(url: &str) -> Result<AMQPUri> {
    let refuse = |reason: String| BrokerError::Url {
        shown: redact(url),
        reason,
    };
    url.parse().map_err(|e: String| refuse(reason(url, &e)))
}

/// amq-protocol's parse error `e` as a reason that never quotes `url`.
fn reason(url: &str, e: &str) -> String {
    if e.starts_with("Invalid URL:") {
        // A scheme with no `//` authority (`amqp:guest:pw@host`).
        return format!("not a URL with a host ({FORM})");
    }
    if e == "relative URL without a base" {
        return format!("no scheme ({FORM})");
    }
    if let Some(scheme) = e.strip_prefix("Invalid AMQP scheme: ") {
        return format!("unknown scheme {scheme:?} ({FORM})");
    }
    // The url crate's own messages ("invalid port number", "empty host")
    // quote nothing; should one ever quote the URL, it is redacted.
    e.replace(url, &redact(url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Classified;

    #[track_caller]
    fn refused(url: &str) -> String {
        let e = parse_url(url).expect_err(url);
        assert_eq!(e.class(), Classified::Permanent, "{e}");
        e.to_string()
    }

    #[test]
    fn a_good_url_parses() {
        let uri = parse_url("amqp://guest:guest@127.0.0.1:5672/%2f").expect("parses");
        assert_eq!(uri.authority.port, 5672);
        assert_eq!(uri.vhost, "/");
    }

    #[test]
    fn malformed_urls_are_refused_without_their_password() {
        for (url, says) in [
            ("amqp//guest:S3cr3t-Pa55@127.0.0.1", "no scheme"),
            ("amqp:guest:S3cr3t-Pa55@127.0.0.1", "not a URL with a host"),
            ("guest:S3cr3t-Pa55@127.0.0.1", "not a URL with a host"),
            (
                "amqpx://guest:S3cr3t-Pa55@127.0.0.1/",
                "unknown scheme \"amqpx\"",
            ),
            (
                "http://guest:S3cr3t-Pa55@127.0.0.1/",
                "unknown scheme \"http\"",
            ),
            (
                "amqp://guest:S3cr3t-Pa55@127.0.0.1:99999/",
                "invalid port number",
            ),
            ("amqp://guest:S3cr3t-Pa55@:5672/", "empty host"),
            ("not a url", "no scheme"),
        ] {
            let text = refused(url);
            assert!(text.starts_with("invalid broker URL "), "{text}");
            assert!(text.contains(says), "{url}: {text}");
            assert!(!text.contains("S3cr3t"), "{url}: {text}");
        }
    }

    #[test]
    fn amqps_parses_with_its_own_default_port() {
        let uri = parse_url("amqps://guest:S3cr3t-Pa55@broker/%2f").expect("parses");
        assert_eq!(uri.scheme, lapin::uri::AMQPScheme::AMQPS);
        assert_eq!(uri.authority.port, 5671);
    }
}
