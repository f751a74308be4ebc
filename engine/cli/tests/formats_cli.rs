//! Versioned formats as an operator meets them across an upgrade: a state
//! file of a format version this binary does not read (a journal segment,
//! a sink cursor, a checkpoint a newer release wrote) stops `replay` or
//! `run` with exit 2 and one line naming the file, the version found, the
//! versions read and what to do; the files of the release before versions
//! were written everywhere (a cursor, the sink registry, a sidecar and the
//! retention markers without a version) are read, so an upgrade keeps
//! every position and sends nothing twice.
//!
//! Each test runs the real binary over files in a temporary directory.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_aldebaran");
/// Event time of the first line.
const T: u64 = 1_700_000_000_000;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

fn q(p: &Path) -> String {
    Value::from(s(p)).to_string()
}

fn aldebaran(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run aldebaran")
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a one-line error (exit 2) that contains every needle.
#[track_caller]
fn one_line_error(o: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} not in {:?}", lines[0]);
    }
    lines[0].to_owned()
}

/// One order that overfills: its request and the purchase that crosses it.
fn overfilling_order(order: &str, at: u64) -> String {
    format!(
        "{{\"id\":\"{order}\",\"#shares\":10,\"client\":\"c\",\"stock\":\"S\",\"ts\":{at}}}\n\
         {{\"id\":\"{order}-p\",\"#shares\":11,\"client\":\"c\",\"stock\":\"S\",\"initial_order_id\":\"{order}\",\"ts\":{}}}\n",
        at + 1
    )
}

struct Fx {
    tmp: tempfile::TempDir,
}

impl Fx {
    fn new() -> Self {
        Fx {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn journal(&self) -> PathBuf {
        self.p("journal")
    }

    fn state(&self) -> PathBuf {
        self.p("state")
    }

    fn input(&self) -> PathBuf {
        self.p("trades.jsonl")
    }

    fn cursor(&self) -> PathBuf {
        self.journal().join("cursors").join("archive.cursor")
    }

    /// `run` over the input, followed, checkpointing often, with a file sink.
    fn config(&self) -> PathBuf {
        let c = self.p("aldebaran.toml");
        let text = format!(
            "[source]\nkind = \"file\"\n[source.file]\npath = {}\nfollow = true\n\
             [journal]\ndir = {}\n[state]\ndir = {}\ncheckpoint_interval_ms = 20\n\
             [metrics]\nlisten = \"\"\n[delivery]\nshutdown_grace_ms = 2000\n\
             [sinks.archive]\nkind = \"file\"\npath = {}\n",
            q(&self.input()),
            q(&self.journal()),
            q(&self.state()),
            q(&self.p("alerts.jsonl")),
        );
        fs::write(&c, text).expect("config");
        c
    }

    fn start(&self) -> Child {
        Command::new(BIN)
            .args(["run", "--config", s(&self.config())])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aldebaran run")
    }

    /// The file sink's alert ids.
    fn archive(&self) -> Vec<String> {
        fs::read_to_string(self.p("alerts.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("archive line is JSON");
                v["alert_id"].as_str().expect("alert_id").to_owned()
            })
            .collect()
    }

    fn append_orders(&self, from: usize, to: usize) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.input())
            .expect("input");
        for i in from..to {
            f.write_all(overfilling_order(&format!("o{i}"), T + 10 * i as u64).as_bytes())
                .expect("append");
        }
    }

    /// Runs `run` until the archive holds `alerts` alerts and a checkpoint
    /// was written after them, then stops it.
    fn run_until(&self, alerts: usize) {
        let child = self.start();
        wait_for("every alert journaled and shipped", || {
            self.archive().len() >= alerts
        });
        // Past the idle checkpoint (50 ms of a quiet stream).
        sleep(Duration::from_millis(300));
        ok(&terminate(child));
        assert_eq!(self.archive().len(), alerts);
    }
}

/// Waits up to 20 s for `done`, failing with `what`.
#[track_caller]
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, then the process's output (it must exit by itself).
fn terminate(child: Child) -> Output {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    child.wait_with_output().expect("wait for aldebaran run")
}

/// Waits up to 10 s for `child` to exit by itself; SIGTERMs it otherwise.
fn exited_or_terminated(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("output");
        }
        sleep(Duration::from_millis(20));
    }
    terminate(child)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .expect("journal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

/// A journal segment whose header says version 99 (`ALDJNL version:u16le`,
/// as a newer release would write it) stops `replay` before it appends
/// anything, and `run` before it starts.
#[test]
fn a_journal_segment_of_an_unknown_version_is_refused_by_replay_and_run() {
    let fx = Fx::new();
    fx.append_orders(0, 3);
    let journal = fx.journal();
    ok(&aldebaran(&[
        "replay",
        "--quiet",
        "--journal",
        s(&journal),
        s(&fx.input()),
    ]));
    let seg = segments(&journal).pop().expect("a segment");
    let mut bytes = fs::read(&seg).expect("segment");
    assert_eq!(&bytes[..8], b"ALDJNL\x01\x00", "today's header, version 1");
    bytes[6..8].copy_from_slice(&99u16.to_le_bytes());
    fs::write(&seg, &bytes).expect("write");

    let out = aldebaran(&[
        "replay",
        "--quiet",
        "--journal",
        s(&journal),
        s(&fx.input()),
    ]);
    let line = one_line_error(
        &out,
        &[
            &format!("journal segment {}", seg.display()),
            "format version 99",
            "reads version 1",
            "run the aldebaran release that wrote it",
        ],
    );
    assert!(!line.contains("corrupt"), "not taken for damage: {line}");
    assert_eq!(fs::read(&seg).expect("segment"), bytes, "left as it was");

    let out = exited_or_terminated(fx.start());
    one_line_error(
        &out,
        &[
            &seg.display().to_string(),
            "format version 99",
            "reads version 1",
        ],
    );
    assert_eq!(fs::read(&seg).expect("segment"), bytes, "left as it was");
    assert!(fx.archive().is_empty(), "nothing shipped");
}

/// A sink cursor with slots of version 99 stops `run`, naming the cursor
/// and the way out (`journal cursors --reset`); nothing is shipped again.
#[test]
fn a_cursor_of_an_unknown_version_is_refused_by_run() {
    let fx = Fx::new();
    fx.append_orders(0, 4);
    fx.run_until(4);
    let path = fx.cursor();
    let mut bytes = fs::read(&path).expect("cursor");
    for at in [0, 512] {
        // The version and its complement, as a newer release writes them.
        if bytes.get(at..at + 4) == Some(b"VCDA") {
            bytes[at + 4..at + 6].copy_from_slice(&99u16.to_le_bytes());
            bytes[at + 6..at + 8].copy_from_slice(&(!99u16).to_le_bytes());
        }
    }
    fs::write(&path, &bytes).expect("write");
    fx.append_orders(4, 5);

    let out = exited_or_terminated(fx.start());
    one_line_error(
        &out,
        &[
            &format!("delivery cursor {}", path.display()),
            "format version 99",
            "reads versions 1 and 2",
            "journal cursors --reset",
        ],
    );
    assert_eq!(fx.archive().len(), 4, "nothing shipped");
    assert_eq!(fs::read(&path).expect("cursor"), bytes, "left as it was");
}

/// A checkpoint whose magic says version 99 stops `run`, naming it and the
/// way out (the release that wrote it, or rebuilding from the input).
#[test]
fn a_checkpoint_of_an_unknown_version_is_refused_by_run() {
    let fx = Fx::new();
    fx.append_orders(0, 3);
    fx.run_until(3);
    let path = fx.state().join("checkpoint");
    let magic = b"aldebaran-checkpoint-99";
    let mut bytes = (magic.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(b"what that release keeps");
    fs::write(&path, &bytes).expect("write");

    let out = exited_or_terminated(fx.start());
    one_line_error(
        &out,
        &[
            &format!("checkpoint {}", path.display()),
            "format version 99",
            "reads version 4",
            "move the state directory",
        ],
    );
    assert_eq!(
        fs::read(&path).expect("checkpoint"),
        bytes,
        "left as it was"
    );
}

/// A cursor slot as the releases before versioned formats wrote it
/// (`alerts/src/delivery/ship/cursor_slot.rs`, version 1): magic "ADCU",
/// generation, delivered, in_flight_to, CRC-32; 32 bytes.
fn v1_slot(generation: u64, delivered: u64) -> Vec<u8> {
    let mut slot = Vec::with_capacity(32);
    slot.extend_from_slice(&0x4144_4355u32.to_le_bytes());
    slot.extend_from_slice(&generation.to_le_bytes());
    slot.extend_from_slice(&delivered.to_le_bytes());
    slot.extend_from_slice(&delivered.to_le_bytes());
    let crc = crc32fast::hash(&slot);
    slot.extend_from_slice(&crc.to_le_bytes());
    slot
}

/// A retention marker in today's unversioned form (a bare seq), if there is
/// one in the versioned form.
fn unversion_marker(dir: &Path) {
    let path = dir.join("OLDEST");
    let Ok(text) = fs::read_to_string(&path) else {
        return;
    };
    let seq = text
        .lines()
        .find_map(|l| l.strip_prefix("oldest = "))
        .expect("a versioned marker");
    fs::write(&path, format!("{seq}\n")).expect("marker");
}

/// An upgrade keeps state: a journal directory and state directory as the
/// release before versioned formats left them (the cursor, the sink
/// registry, the sidecar and the markers without a version; segments,
/// frames and the checkpoint as they were) are read by this release, the
/// sink resumes where its cursor stood (nothing is sent twice), and what
/// is written from then on carries its version.
#[test]
fn an_upgrade_reads_todays_unversioned_files_and_sends_nothing_twice() {
    let fx = Fx::new();
    fx.append_orders(0, 5);
    fx.run_until(5);
    let cursors = fx.journal().join("cursors");
    // Rewrite what this release versions in the form the last one wrote.
    let mut cursor = vec![0u8; 544];
    cursor[..32].copy_from_slice(&v1_slot(8, 5));
    cursor[512..].copy_from_slice(&v1_slot(7, 5));
    fs::write(fx.cursor(), &cursor).expect("cursor");
    let registry = fs::read_to_string(cursors.join("registry")).expect("registry");
    assert!(registry.contains("format_version = 2"), "{registry}");
    let old_registry = registry
        .replace("format_version = 2\n", "")
        .replace("[sinks.archive]", "[archive]");
    fs::write(cursors.join("registry"), &old_registry).expect("registry");
    fs::write(
        cursors.join("archive.sink"),
        "kind = \"file\"\nmode = \"exactly-once\"\n",
    )
    .expect("sidecar");
    unversion_marker(&fx.journal());
    unversion_marker(&fx.state().join("input"));
    // Read as they are: the sink stands where the old cursor says.
    let listed = ok(&aldebaran(&["journal", "cursors", s(&fx.journal())]));
    let row: Vec<&str> = listed
        .lines()
        .find(|l| l.starts_with("archive "))
        .unwrap_or_else(|| panic!("no row for the sink: {listed}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        ["archive", "file", "exactly-once", "5", "-", "0"],
        "{listed}"
    );

    fx.append_orders(5, 7);
    fx.run_until(7);
    let ids = fx.archive();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7, "each alert once: {ids:?}");
    // The cursor is written in this release's form from then on.
    let cursor = fs::read(fx.cursor()).expect("cursor");
    assert_eq!(cursor.len(), 548);
    assert_eq!(&cursor[..4], b"VCDA");
    assert_eq!(&cursor[512..516], b"VCDA");
    let sidecar = fs::read_to_string(cursors.join("archive.sink")).expect("sidecar");
    assert!(sidecar.starts_with("format_version = 2\n"), "{sidecar}");
    // The registry had nothing to add: it is read as it was.
    assert_eq!(
        fs::read_to_string(cursors.join("registry")).expect("registry"),
        old_registry
    );
}
