//! The command sink itself: spawn, feed stdin, wait with a timeout,
//! classify the exit.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::config::CommandSinkConfig;
use crate::delivery::fields::AlertFields;
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};
use crate::delivery::template::{Template, parse_table, record_fields};

/// The variables the sink sets itself, which `env` cannot override.
const ALERT_ID_VAR: &str = "ALDEBARAN_ALERT_ID";
const SEQ_VAR: &str = "ALDEBARAN_SEQ";
/// The fencing epoch of the node that shipped the alert, when above 0.
const EPOCH_VAR: &str = "ALDEBARAN_EPOCH";
/// `EX_TEMPFAIL` from sysexits.h: "try again later".
const EX_TEMPFAIL: i32 = 75;
/// Bytes of stderr kept for a permanent failure's reason.
pub(super) const STDERR_TAIL: usize = 200;
/// How long to wait for stderr to close after the child exited (a grandchild
/// may still hold it open).
const STDERR_GRACE: Duration = Duration::from_millis(200);

pub(crate) struct CommandSink {
    program: String,
    args: Vec<String>,
    timeout: Duration,
    /// Extra variables, rendered per alert.
    env: Vec<(String, Template)>,
}

impl CommandSink {
    /// Errs only on config mistakes (never transient): an empty `command`,
    /// an `env` entry with a bad name or a template naming a field none of
    /// `fields` has.
    pub(crate) fn new(config: &CommandSinkConfig, fields: &AlertFields) -> Result<Self, String> {
        let (program, args) = config
            .command
            .split_first()
            .ok_or("`command` must name a program: [\"prog\", \"arg\", ...]")?;
        for (name, src) in &config.env {
            check_env_name(name)?;
            // Caught here rather than as a spawn failure on every alert.
            if src.contains('\0') {
                return Err(format!("env.{name}: the value contains a NUL byte"));
            }
        }
        Ok(Self {
            program: program.clone(),
            args: args.to_vec(),
            timeout: Duration::from_millis(config.timeout_ms),
            env: parse_table("env", &config.env, fields)?,
        })
    }

    /// The `env` values for `out`. A record field holding a NUL byte cannot
    /// be put in an environment, and never will: a permanent failure.
    fn render_env(&self, out: &Outgoing) -> Result<Vec<(&str, String)>, SendError> {
        if self.env.is_empty() {
            return Ok(Vec::new());
        }
        let record = record_fields(&out.json).map_err(SendError::Permanent)?;
        self.env
            .iter()
            .map(|(name, template)| {
                let value = template.render(&record);
                if value.contains('\0') {
                    return Err(SendError::Permanent(format!(
                        "env.{name}: the alert's value contains a NUL byte, \
                         which an environment variable cannot hold"
                    )));
                }
                Ok((name.as_str(), value))
            })
            .collect()
    }

    fn run(&self, out: &Outgoing) -> Result<(), SendError> {
        let env = self.render_env(out)?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env(ALERT_ID_VAR, &out.alert_id)
            .env(SEQ_VAR, out.seq.to_string());
        // Without a pair (epoch 0) the variable is absent, even if the
        // engine's own environment happens to hold one.
        if out.epoch > 0 {
            command.env(EPOCH_VAR, out.epoch.to_string());
        } else {
            command.env_remove(EPOCH_VAR);
        }
        let mut child = command
            .envs(env)
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

/// An `env` name the OS can take that does not override the sink's own.
fn check_env_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("env: a variable name is empty".to_owned());
    }
    if name.contains(['=', '\0']) {
        return Err(format!(
            "env.{name:?}: a variable name cannot contain '=' or a NUL byte"
        ));
    }
    if name == ALERT_ID_VAR || name == SEQ_VAR || name == EPOCH_VAR {
        return Err(format!(
            "env.{name}: set by the sink itself (the alert's id, seq and epoch)"
        ));
    }
    Ok(())
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
