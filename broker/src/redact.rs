//! Broker URLs as they may be printed: the password never is.

/// `url` with the password, if any, replaced by `***`.
///
/// In a well-formed URL the userinfo is looked for in the authority (after
/// `://`, up to the first `/`), before its last `@`: a password may itself
/// hold `@`, and a vhost after the `/` may too. A malformed URL (no `://`)
/// errs on the safe side: everything from its first `:` to its last `@` is
/// hidden, so a URL that does not parse is never printed with its secret.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return match (url.find(':'), url.rfind('@')) {
            (Some(colon), Some(at)) if colon < at => {
                format!("{}:***{}", &url[..colon], &url[at..])
            }
            _ => url.to_owned(),
        };
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    match authority[..at].find(':') {
        Some(colon) => format!(
            "{}:***{}",
            &url[..scheme_end + colon],
            &url[scheme_end + at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn the_password_only_is_hidden() {
        assert_eq!(
            redact("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
        assert_eq!(redact("amqp://u@h/v"), "amqp://u@h/v");
        assert_eq!(redact("not a url"), "not a url");
        assert_eq!(redact("amqp://a:b@c@h:1/v"), "amqp://a:***@h:1/v");
        assert_eq!(redact("amqps://u:p@h:5671"), "amqps://u:***@h:5671");
    }

    #[test]
    fn an_at_sign_in_the_vhost_does_not_expose_the_password() {
        assert_eq!(redact("amqp://u:pw@h/a@b"), "amqp://u:***@h/a@b");
    }

    #[test]
    fn malformed_urls_keep_their_secret() {
        for (url, secret) in [
            ("amqp//guest:S3CRET@host/vhost", "S3CRET"),
            ("amqp:/guest:S3CRET@host", "S3CRET"),
            ("guest:S3CRET@host", "S3CRET"),
            ("amqp:guest:S3CRET@host", "S3CRET"),
            (" amqp://guest:S3CRET@host", "S3CRET"),
        ] {
            let shown = redact(url);
            assert!(!shown.contains(secret), "{url} -> {shown}");
            assert!(shown.contains("host"), "{url} -> {shown}");
        }
    }
}
