//! How `aldebaran run`, `declare` and `publish` meet a broker they cannot
//! use, against the real RabbitMQ on 127.0.0.1:5672 (started through
//! `scripts/rabbitmq.sh` when it does not answer):
//!
//! - what the URL or the broker makes permanent (a bad scheme, a malformed
//!   URL, a wrong password, an unknown vhost) stops `run` at start, exit 2,
//!   with one error line naming the problem and no retry loop;
//! - a broker that is not listening is retried, and the log says it was
//!   never reached; once connected, even a refused login is retried;
//! - no password is ever printed: not in errors, not in `--help`, not in
//!   lapin's trace logs (which dump the SASL PLAIN response).
//!
//! The passwords are recognisable ([`PASSWORD`]); a test that needs a real
//! login creates a broker user of its own with `rabbitmqctl` and deletes it.

mod amqp_support;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use amqp_support::*;

/// The password that must never be printed.
const PASSWORD: &str = "S3cr3t-Pa55";

/// How long a permanent failure may take to end `run` (a loaded machine).
const FAIL_FAST: Duration = Duration::from_secs(10);

/// The forms in which a printed password has been seen: as text, and as the
/// decimal bytes of a `Debug`-printed byte string (lapin's trace of the SASL
/// PLAIN response is `LongString([0, 103, 117, …])`).
fn secret_forms(password: &str) -> [String; 2] {
    let bytes: Vec<String> = password.bytes().map(|b| b.to_string()).collect();
    [password.to_owned(), bytes.join(", ")]
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for form in secret_forms(PASSWORD) {
        assert!(
            !text.contains(&form),
            "{what}: the password is printed (as {form:?}):\n{text}"
        );
    }
}

/// The log lines that are not INFO: warnings, errors, the final error line.
fn not_info(log: &str) -> Vec<&str> {
    log.lines().filter(|l| !l.contains(" INFO ")).collect()
}

/// What one run of a tool printed.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn aldebaran(args: &[&str], env: &[(&str, &str)]) -> Out {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
        .envs(env.iter().copied())
        .output()
        .expect("run aldebaran");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A broker user of one test with [`PASSWORD`] and every permission on the
/// default vhost; deleted when dropped.
struct BrokerUser {
    name: String,
}

impl BrokerUser {
    fn new(test: &str) -> Self {
        broker();
        let user = BrokerUser {
            name: format!("aldebaran-errors-{}-{test}", std::process::id()),
        };
        let _ = rabbitmqctl(&["-q", "delete_user", &user.name]);
        assert!(
            rabbitmqctl(&["-q", "add_user", &user.name, PASSWORD]).is_some(),
            "rabbitmqctl add_user {}",
            user.name
        );
        assert!(
            rabbitmqctl(&[
                "-q",
                "set_permissions",
                "-p",
                "/",
                &user.name,
                ".*",
                ".*",
                ".*"
            ])
            .is_some(),
            "rabbitmqctl set_permissions {}",
            user.name
        );
        user
    }

    fn url(&self) -> String {
        format!("amqp://{}:{PASSWORD}@127.0.0.1:5672/%2f", self.name)
    }

    #[track_caller]
    fn set_password(&self, password: &str) {
        assert!(
            rabbitmqctl(&["-q", "change_password", &self.name, password]).is_some(),
            "rabbitmqctl change_password {}",
            self.name
        );
    }
}

impl Drop for BrokerUser {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["-q", "delete_user", &self.name]);
    }
}

/// A port on 127.0.0.1 where nothing listens (just released by the OS).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

// ---------------------------------------------------------------------------
// Permanent failures at start: exit 2, one line, no retry loop
// ---------------------------------------------------------------------------

/// `run` with `url` exits 2 within [`FAIL_FAST`], its only line that is not
/// INFO the error, which names each of `names`; it retried nothing and wrote
/// no checkpoint.
#[track_caller]
fn run_fails_fast(test: &str, url: &str, names: &[&str]) {
    let q = TestQueue::new(test);
    let dirs = ServiceDirs::new(&q, 100, 1, false);
    let t0 = Instant::now();
    let mut svc = dirs.start_with(1, &[("ALDEBARAN_SOURCE__AMQP__URL", url)]);
    let status = svc.wait_exit(FAIL_FAST * 3);
    let took = t0.elapsed();
    let log = svc.stderr();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(2),
        "{url}: `run` should exit 2 ({status:?} after {took:?})\n{log}"
    );
    assert!(took < FAIL_FAST, "{url}: took {took:?}\n{log}");
    let lines = not_info(&log);
    assert_eq!(lines.len(), 1, "{url}: one error line expected:\n{log}");
    assert!(lines[0].starts_with("aldebaran: error: "), "{log}");
    for name in names {
        assert!(lines[0].contains(name), "{url}: no {name:?} in:\n{log}");
    }
    assert!(
        !log.contains("retrying") && !log.contains("reconnecting"),
        "{log}"
    );
    assert_no_secret(url, &log);
    assert_no_secret(url, &svc.stdout());
    assert!(
        !dirs.state.join("checkpoint").exists(),
        "a failed start wrote a checkpoint"
    );
}

#[test]
fn run_with_a_wrong_password_exits_2_at_once() {
    run_fails_fast(
        "password",
        &format!("amqp://guest:{PASSWORD}@127.0.0.1:5672/%2f"),
        &[
            "amqp://guest:***@127.0.0.1:5672/%2f",
            "ACCESS_REFUSED",
            "check the user name and password",
        ],
    );
}

#[test]
fn run_with_an_unknown_vhost_exits_2_at_once() {
    run_fails_fast(
        "vhost",
        "amqp://guest:guest@127.0.0.1:5672/aldebaran-no-such-vhost",
        &["NOT_ALLOWED", "aldebaran-no-such-vhost", "check the vhost"],
    );
}

#[test]
fn run_with_a_bad_scheme_exits_2_at_once() {
    run_fails_fast(
        "scheme",
        &format!("amqpx://guest:{PASSWORD}@127.0.0.1:5672/%2f"),
        &["invalid broker URL amqpx://guest:***@", "unknown scheme"],
    );
}

#[test]
fn run_with_a_malformed_url_exits_2_at_once() {
    run_fails_fast(
        "malformed",
        &format!("amqp//guest:{PASSWORD}@127.0.0.1"),
        &["invalid broker URL amqp//guest:***@127.0.0.1", "no scheme"],
    );
    // No `//` at all: the parser's own message quotes the whole URL.
    run_fails_fast(
        "no-authority",
        &format!("amqp:guest:{PASSWORD}@127.0.0.1"),
        &["invalid broker URL", "not a URL with a host"],
    );
}

// ---------------------------------------------------------------------------
// Transient failures: retried, and the log says which it is
// ---------------------------------------------------------------------------

/// Nothing listens on the port: `run` starts anyway, keeps retrying and
/// says the broker was never reached; SIGTERM ends it with exit 0.
#[test]
fn run_retries_a_broker_that_does_not_listen() {
    let q = TestQueue::new("closed-port");
    let dirs = ServiceDirs::new(&q, 100, 1, false);
    let url = format!("amqp://guest:{PASSWORD}@127.0.0.1:{}/%2f", closed_port());
    let mut svc = dirs.start_with(1, &[("ALDEBARAN_SOURCE__AMQP__URL", &url)]);
    svc.wait_log_for(
        "AMQP broker unreachable at start; retrying",
        3,
        Duration::from_secs(60),
    );
    svc.assert_running();
    let log = svc.stderr();
    assert!(!log.contains("connection lost"), "{log}");
    assert!(log.contains("class=transient"), "{log}");
    assert!(log.contains("Connection refused"), "{log}");
    assert_no_secret("run", &log);
    let summary = svc.terminate();
    assert_eq!(summary.events, 0, "{summary:?}");
}

/// Once connected, a failure is always retried, even one that would be
/// permanent at start: here the broker refuses the login after the
/// connection was closed (the password changed), and the source reconnects
/// as soon as the password is back.
#[test]
fn a_refused_login_after_connecting_is_retried() {
    let q = TestQueue::new("relogin");
    let user = BrokerUser::new("relogin");
    let dirs = ServiceDirs::new(&q, 100, 1, false);
    let url = user.url();
    let mut svc = dirs.start_with(1, &[("ALDEBARAN_SOURCE__AMQP__URL", &url)]);
    svc.wait_consuming();

    user.set_password("Other-Pa55word");
    let names = consumer_connections(&q);
    assert_eq!(
        names.len(),
        1,
        "one connection consumes {}: {names:?}",
        q.name
    );
    assert!(close_connection(&names[0]), "close_connection {}", names[0]);
    svc.wait_log("ACCESS_REFUSED", 1);
    svc.wait_log("AMQP connection lost; reconnecting", 2);
    svc.assert_running();

    user.set_password(PASSWORD);
    svc.wait_log("consuming", 2);
    let log = svc.stderr();
    assert!(!log.contains("unreachable at start"), "{log}");
    assert!(log.contains("class=permanent"), "{log}");
    assert!(!log.contains("Other-Pa55word"), "{log}");
    assert_no_secret("run", &log);
    svc.terminate();
}

// ---------------------------------------------------------------------------
// No password printed, ever
// ---------------------------------------------------------------------------

/// `declare` and `publish` fail on the first error, in one line, without the
/// password: a URL with a typo, a bad scheme, a wrong password.
#[test]
fn the_tools_never_print_the_password() {
    broker();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, "{}\n").expect("write");
    let file = file.to_str().expect("utf-8 path");
    let urls = [
        format!("amqp//guest:{PASSWORD}@127.0.0.1"),
        format!("amqp:guest:{PASSWORD}@127.0.0.1"),
        format!("amqpx://guest:{PASSWORD}@127.0.0.1:5672/%2f"),
        format!("amqp://guest:{PASSWORD}@127.0.0.1:5672/%2f"),
    ];
    for url in &urls {
        for args in [
            vec!["declare", "--url", url],
            vec!["publish", file, "--url", url],
        ] {
            // The URL from the environment as well as from the flag.
            let from_env = [("ALDEBARAN_SOURCE__AMQP__URL", url.as_str())];
            for (args, env) in [
                (&args[..], &[][..]),
                (&args[..args.len() - 2], &from_env[..]),
            ] {
                let out = aldebaran(args, env);
                assert_eq!(out.code, Some(2), "{args:?} {env:?}: {out:#?}");
                assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out:#?}");
                assert!(out.stderr.starts_with("aldebaran: error: "), "{out:#?}");
                assert_no_secret(&format!("{args:?}"), &out.stderr);
                assert_no_secret(&format!("{args:?}"), &out.stdout);
            }
        }
    }
}

/// `--help` shows where `--url` may come from, not what it holds there, and
/// names no document the binary does not ship with.
#[test]
fn help_shows_no_secret_and_no_missing_document() {
    let url = format!("amqp://guest:{PASSWORD}@broker.example:5672/%2f");
    let env = [("ALDEBARAN_SOURCE__AMQP__URL", url.as_str())];
    for cmd in ["declare", "publish"] {
        let out = aldebaran(&[cmd, "--help"], &env);
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_no_secret(cmd, &out.stdout);
        assert!(!out.stdout.contains("broker.example"), "{}", out.stdout);
        assert!(
            out.stdout.contains("[env: ALDEBARAN_SOURCE__AMQP__URL]"),
            "{}",
            out.stdout
        );
    }
    let commands: &[&[&str]] = &[
        &[],
        &["replay"],
        &["run"],
        &["declare"],
        &["publish"],
        &["gen"],
        &["status"],
        &["journal"],
        &["journal", "dump"],
        &["journal", "verify"],
        &["journal", "cursors"],
    ];
    for cmd in commands {
        for flag in ["-h", "--help"] {
            let args: Vec<&str> = cmd.iter().copied().chain([flag]).collect();
            let out = aldebaran(&args, &env);
            assert_eq!(out.code, Some(0), "{args:?}: {out:#?}");
            assert_no_secret(&format!("{args:?}"), &out.stdout);
            for doc in ["SPEC", ".md", "ARCHITECTURE", "README"] {
                assert!(
                    !out.stdout.contains(doc),
                    "{args:?} points to {doc}, which the binary does not ship with:\n{}",
                    out.stdout
                );
            }
        }
    }
}

/// `RUST_LOG=trace` with a real login: lapin's trace of the frames it writes
/// (the SASL PLAIN response among them) must not reach the log, whatever
/// the filter asks for, in `run` and in the tools.
#[test]
fn trace_logs_of_a_real_login_hold_no_password() {
    let q = TestQueue::new("trace");
    let user = BrokerUser::new("trace");
    let url = user.url();
    let dirs = ServiceDirs::new(&q, 100, 1, false);
    for (n, filter) in [(1, "trace"), (2, "info,lapin=trace,amq_protocol=trace")] {
        let mut svc = dirs.start_with(
            n,
            &[("ALDEBARAN_SOURCE__AMQP__URL", &url), ("RUST_LOG", filter)],
        );
        svc.wait_consuming();
        let log = svc.stderr();
        let stdout = svc.stdout();
        svc.terminate();
        assert!(
            log.contains("lapin"),
            "lapin logs nothing with {filter}:\n{log}"
        );
        assert_no_secret(&format!("run, RUST_LOG={filter}"), &log);
        assert_no_secret(&format!("run, RUST_LOG={filter}"), &stdout);
    }
    let out = aldebaran(
        &["declare", "--url", &url, "--queue", &q.name],
        &[("RUST_LOG", "trace")],
    );
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_no_secret("declare, RUST_LOG=trace", &out.stderr);
    assert_no_secret("declare, RUST_LOG=trace", &out.stdout);
}
