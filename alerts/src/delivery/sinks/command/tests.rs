//! Tests of the command sink with `sh -c` scripts.

use std::collections::BTreeMap;

use super::config::CommandSinkConfig;
use super::sink::{CommandSink, STDERR_TAIL};
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};
use crate::delivery::test_fixtures::{overfill, overfill_fields, send_one};

fn sink(script: &str, timeout_ms: u64) -> CommandSink {
    CommandSink::new(
        &CommandSinkConfig {
            command: vec!["sh".into(), "-c".into(), script.into()],
            timeout_ms,
            env: BTreeMap::new(),
        },
        &overfill_fields(),
    )
    .expect("sink")
}

fn out(seq: u64) -> Outgoing {
    Outgoing {
        seq,
        alert_id: format!("a:{seq}"),
        json: format!("{{\"seq\":{seq}}}").into_bytes(),
        epoch: 0,
    }
}

#[test]
fn stdin_and_env_reach_the_program() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("got");
    let script = format!(
        "cat >> {f}; echo \"$ALDEBARAN_ALERT_ID $ALDEBARAN_SEQ\" >> {f}",
        f = file.display()
    );
    sink(&script, 10_000).send(&[out(1), out(2)]).expect("send");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "{\"seq\":1}\na:1 1\n{\"seq\":2}\na:2 2\n"
    );
}

#[test]
fn the_epoch_is_in_the_environment_when_there_is_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("got");
    let script = format!(
        "echo \"${{ALDEBARAN_EPOCH-unset}}\" >> {f}",
        f = file.display()
    );
    let mut fenced = out(2);
    fenced.epoch = 5;
    sink(&script, 10_000).send(&[out(1), fenced]).expect("send");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "unset\n5\n");
    let mut env = BTreeMap::new();
    env.insert("ALDEBARAN_EPOCH".to_owned(), "1".to_owned());
    let config = CommandSinkConfig {
        command: vec!["true".into()],
        timeout_ms: 1000,
        env,
    };
    let err = CommandSink::new(&config, &overfill_fields())
        .err()
        .expect("refused");
    assert!(err.contains("set by the sink itself"), "{err}");
}

#[test]
fn exit_codes() {
    let fail = |script: &str| sink(script, 10_000).send(&[out(1), out(2)]).err();
    assert_eq!(fail("exit 0"), None);
    let Some(SendFailure {
        delivered: 0,
        error: SendError::Transient(r),
    }) = fail("exit 75")
    else {
        panic!("exit 75 must be transient");
    };
    assert!(r.contains("75"), "{r}");
    let Some(SendFailure {
        delivered: 0,
        error: SendError::Permanent(r),
    }) = fail("echo nope >&2; exit 3")
    else {
        panic!("exit 3 must be permanent");
    };
    assert_eq!(r, "exit 3: nope");
    assert!(matches!(
        fail("kill -9 $$"),
        Some(SendFailure {
            error: SendError::Transient(_),
            ..
        })
    ));
    // The second record fails: the first one counts as delivered.
    assert!(matches!(
        fail("test $ALDEBARAN_SEQ = 1"),
        Some(SendFailure {
            delivered: 1,
            error: SendError::Permanent(_)
        })
    ));
}

#[test]
fn long_stderr_keeps_the_tail() {
    let Err(SendFailure {
        error: SendError::Permanent(r),
        ..
    }) = sink(
        "head -c 5000 /dev/zero | tr '\\0' x >&2; echo END >&2; exit 4",
        10_000,
    )
    .send(&[out(1)])
    else {
        panic!("permanent expected");
    };
    assert!(r.ends_with("xEND"), "{r}");
    assert!(r.len() <= STDERR_TAIL + 10, "{}", r.len());
}

#[test]
fn timeout_and_spawn_failure_are_transient() {
    let err = sink("exec sleep 5", 50)
        .send(&[out(1)])
        .expect_err("timeout");
    assert!(
        matches!(&err.error, SendError::Transient(r) if r.contains("timed out")),
        "{err:?}"
    );
    let missing = CommandSink::new(
        &CommandSinkConfig {
            command: vec!["/nonexistent/prog".into()],
            timeout_ms: 100,
            env: BTreeMap::new(),
        },
        &overfill_fields(),
    )
    .expect("sink");
    let mut missing = missing;
    assert!(matches!(
        missing.send(&[out(1)]),
        Err(SendFailure {
            error: SendError::Transient(_),
            ..
        })
    ));
    assert!(
        CommandSink::new(
            &CommandSinkConfig {
                command: vec![],
                timeout_ms: 1,
                env: BTreeMap::new(),
            },
            &overfill_fields()
        )
        .is_err()
    );
}

/// A sink running `script` with the `env` table `env`.
fn sink_with_env(script: &str, env: &[(&str, &str)]) -> Result<CommandSink, String> {
    CommandSink::new(
        &CommandSinkConfig {
            command: vec!["sh".into(), "-c".into(), script.into()],
            timeout_ms: 10_000,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
        &overfill_fields(),
    )
}

#[test]
fn env_templates_are_rendered_per_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("got");
    let script = format!(
        "echo \"$ORDER|$TEXT|$ALDEBARAN_ALERT_ID|$ALDEBARAN_SEQ\" >> {}",
        file.display()
    );
    let mut s = sink_with_env(
        &script,
        &[
            ("ORDER", "{order_id}"),
            ("TEXT", "{kind}: {filled} of {requested} {{x}}"),
        ],
    )
    .expect("sink");
    send_one(&mut s, overfill(5, "o-7")).expect("sent");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "o-7|overfill: 150 of 100 {x}|overfill:o-7|5\n"
    );
}

#[test]
fn env_names_and_templates_are_checked_at_build() {
    let e = |env: &[(&str, &str)]| sink_with_env("true", env).err().unwrap_or_default();
    assert_eq!(e(&[("", "x")]), "env: a variable name is empty");
    assert!(e(&[("A=B", "x")]).contains("'='"), "{}", e(&[("A=B", "x")]));
    assert!(e(&[("A\0B", "x")]).contains("NUL"));
    assert!(e(&[("A", "x\0y")]).contains("NUL"));
    for own in ["ALDEBARAN_ALERT_ID", "ALDEBARAN_SEQ"] {
        let err = e(&[(own, "{order_id}")]);
        assert!(
            err.contains(own) && err.contains("set by the sink"),
            "{err}"
        );
    }
    assert_eq!(
        e(&[("WHO", "{client} sold {shares}")]),
        "env.WHO: unknown placeholder {shares} in template \"{client} sold {shares}\": \
         the configured jobs (overfill) have no field shares; known: seq, alert_id, kind, \
         order_id, client, stock, requested, filled, trigger_id, event_ts, detected_at"
    );
    assert!(sink_with_env("true", &[("A_1", "{seq}")]).is_ok());
}

#[test]
fn a_nul_in_a_rendered_value_is_permanent() {
    let mut s = sink_with_env("true", &[("ORDER", "{order_id}")]).expect("sink");
    let e = send_one(&mut s, overfill(1, "o\\u0000x")).expect_err("NUL");
    assert!(
        matches!(&e, SendError::Permanent(r) if r.contains("env.ORDER") && r.contains("NUL")),
        "{e:?}"
    );
}
