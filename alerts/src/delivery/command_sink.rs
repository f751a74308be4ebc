//! The `command` sink: runs a program per alert with the alert's dump line on
//! stdin and `ALDEBARAN_ALERT_ID` / `ALDEBARAN_SEQ` in its environment.
//!
//! Exit 0 is delivered. Exit 75 (`EX_TEMPFAIL`, the sendmail convention),
//! death by a signal, a failure to spawn and the timeout are transient
//! (retried); any other exit is permanent (dead-lettered, with the code and
//! the tail of stderr). A program cannot be asked what it already did, so the
//! modes are at-least-once (default) or at-most-once.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::delivery::config::Modes;
use crate::delivery::{DeliveryMode, Outgoing, SendError, SendFailure, Sink};

pub(crate) const KIND: &str = "command";
pub(crate) const MODES: Modes = Modes {
    default: DeliveryMode::AtLeastOnce,
    allowed: &[DeliveryMode::AtLeastOnce, DeliveryMode::AtMostOnce],
};
/// `EX_TEMPFAIL` from sysexits.h: "try again later".
const EX_TEMPFAIL: i32 = 75;
/// Bytes of stderr kept for a permanent failure's reason.
const STDERR_TAIL: usize = 200;
/// How long to wait for stderr to close after the child exited (a grandchild
/// may still hold it open).
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// `kind = "command"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSinkConfig {
    /// Program and arguments, run directly (no shell): `["prog", "arg"]`.
    pub command: Vec<String>,
    /// The child is killed after this long and the send retried.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    10_000
}

pub(crate) struct CommandSink {
    program: String,
    args: Vec<String>,
    timeout: Duration,
}

impl CommandSink {
    /// Errs only on an empty `command` (a config error, never transient).
    pub(crate) fn new(config: &CommandSinkConfig) -> Result<Self, String> {
        let (program, args) = config
            .command
            .split_first()
            .ok_or("`command` must name a program: [\"prog\", \"arg\", ...]")?;
        Ok(Self {
            program: program.clone(),
            args: args.to_vec(),
            timeout: Duration::from_millis(config.timeout_ms),
        })
    }

    fn run(&self, out: &Outgoing) -> Result<(), SendError> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .env("ALDEBARAN_ALERT_ID", &out.alert_id)
            .env("ALDEBARAN_SEQ", out.seq.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SendError::Transient(format!("spawning {:?}: {e}", self.program)))?;
        // Writer and stderr reader on their own threads, so neither a child
        // that never reads stdin nor one that floods stderr blocks the timeout.
        if let Some(mut stdin) = child.stdin.take() {
            let mut line = out.json.clone();
            line.push(b'\n');
            // A child that exits without reading gives EPIPE: its exit code
            // is what counts.
            std::thread::spawn(move || stdin.write_all(&line));
        }
        let (tx, stderr_tail) = mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || tx.send(read_tail(stderr)));
        }
        let status = wait_with_timeout(&mut child, self.timeout)
            .map_err(|e| SendError::Transient(format!("waiting for {:?}: {e}", self.program)))?;
        let Some(status) = status else {
            return Err(SendError::Transient(format!(
                "{:?} timed out after {} ms and was killed",
                self.program,
                self.timeout.as_millis()
            )));
        };
        classify(status, || {
            stderr_tail.recv_timeout(STDERR_GRACE).unwrap_or_default()
        })
    }
}

impl Sink for CommandSink {
    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        for (i, out) in batch.iter().enumerate() {
            self.run(out).map_err(|error| SendFailure {
                delivered: i,
                error,
            })?;
        }
        Ok(())
    }
}

/// Exit status to outcome (see the module doc).
fn classify(status: ExitStatus, stderr: impl FnOnce() -> String) -> Result<(), SendError> {
    match status.code() {
        Some(0) => Ok(()),
        Some(EX_TEMPFAIL) => Err(SendError::Transient(format!(
            "exit {EX_TEMPFAIL} (temporary failure): {}",
            stderr()
        ))),
        Some(code) => Err(SendError::Permanent(format!("exit {code}: {}", stderr()))),
        None => Err(SendError::Transient(format!(
            "killed by a signal ({status})"
        ))),
    }
}

/// Waits for the child up to `timeout`; on timeout kills and reaps it and
/// returns `None`. Polls with a short, growing sleep (std has no timed wait).
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            // Already gone is fine; the wait reaps it either way.
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// Reads `r` to its end, keeping the last [`STDERR_TAIL`] bytes as text.
fn read_tail(mut r: impl Read) -> String {
    let mut tail = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    String::from_utf8_lossy(&tail).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(script: &str, timeout_ms: u64) -> CommandSink {
        CommandSink::new(&CommandSinkConfig {
            command: vec!["sh".into(), "-c".into(), script.into()],
            timeout_ms,
        })
        .expect("sink")
    }

    fn out(seq: u64) -> Outgoing {
        Outgoing {
            seq,
            alert_id: format!("a:{seq}"),
            json: format!("{{\"seq\":{seq}}}").into_bytes(),
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
        let missing = CommandSink::new(&CommandSinkConfig {
            command: vec!["/nonexistent/prog".into()],
            timeout_ms: 100,
        })
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
            CommandSink::new(&CommandSinkConfig {
                command: vec![],
                timeout_ms: 1
            })
            .is_err()
        );
    }
}
