//! The journal and the state as an operator meets them after damage or
//! mistakes (SPEC §3, §4): a record that a checkpoint or a sink cursor says
//! was durable is never given up as a torn tail (its seq would be reused for
//! another alert), a replay does not append the same alerts twice, a
//! checkpoint left half-written by a full disk is cleaned up.
//!
//! Each test runs the real binary over a followed file (`run`) or a file
//! (`replay`) in a temporary directory and stops it with SIGTERM.

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

fn q(p: &Path) -> String {
    Value::from(p.to_str().expect("utf-8")).to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
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

/// `run`'s summary, which it prints on stderr after its log, once it
/// succeeded.
#[track_caller]
fn ran(o: &Output) -> String {
    ok(o);
    String::from_utf8_lossy(&o.stderr).into_owned()
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

    /// `run` over `input`, followed, checkpointing often, with a file sink.
    fn config(&self, input: &Path) -> PathBuf {
        let c = self.p("aldebaran.toml");
        let text = format!(
            "[source]\nkind = \"file\"\n[source.file]\npath = {}\nfollow = true\n\
             [journal]\ndir = {}\n[state]\ndir = {}\ncheckpoint_interval_ms = 20\n\
             [metrics]\nlisten = \"\"\n[delivery]\nshutdown_grace_ms = 2000\n\
             [sinks.archive]\nkind = \"file\"\npath = {}\n",
            q(input),
            q(&self.journal()),
            q(&self.p("state")),
            q(&self.p("alerts.jsonl")),
        );
        fs::write(&c, text).expect("config");
        c
    }

    fn start(&self, config: &Path) -> Child {
        Command::new(BIN)
            .args(["run", "--config", s(config)])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aldebaran run")
    }

    /// The journal's records (`journal dump`).
    fn dump(&self) -> Vec<Value> {
        ok(&aldebaran(&["journal", "dump", s(&self.journal())]))
            .lines()
            .map(|l| serde_json::from_str(l).expect("dump line is JSON"))
            .collect()
    }

    /// The file sink's lines.
    fn archive(&self) -> Vec<Value> {
        fs::read_to_string(self.p("alerts.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("archive line is JSON"))
            .collect()
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

/// Byte offsets of the frames of a segment (an 8-byte header, then frames
/// `len:u32le crc:u32le seq:u64le payload`).
fn frame_starts(seg: &[u8]) -> Vec<usize> {
    let mut at = 8;
    let mut v = Vec::new();
    while at + 16 <= seg.len() {
        let len = u32::from_le_bytes(seg[at..at + 4].try_into().expect("4 bytes")) as usize;
        v.push(at);
        at += 16 + len;
    }
    v
}

fn last_segment(journal: &Path) -> PathBuf {
    let mut v: Vec<PathBuf> = fs::read_dir(journal)
        .expect("journal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v.pop().expect("a segment")
}

/// Runs `run` over `orders` overfilling orders until every alert is
/// journaled, checkpointed and in the archive, then stops it.
fn run_to_a_checkpoint(fx: &Fx, input: &Path, orders: usize) {
    let mut text = String::new();
    for i in 0..orders {
        text.push_str(&overfilling_order(&format!("o{i}"), T + 10 * i as u64));
    }
    fs::write(input, text).expect("input");
    let child = fx.start(&fx.config(input));
    wait_for("every alert journaled and shipped", || {
        fx.archive().len() == orders
    });
    // Past the idle checkpoint (50 ms of a quiet stream).
    sleep(Duration::from_millis(300));
    ok(&terminate(child));
    assert_eq!(fx.dump().len(), orders);
}

/// SPEC §3: a torn or corrupt tail may only cut what nothing has relied on.
/// A record the checkpoint says is durable (and a sink already holds) that
/// is now torn is corruption: the run refuses to start, naming the segment
/// and the seq range, instead of truncating it and handing its seq to the
/// next alert, which the file sink (already holding that seq) would never get.
#[test]
fn a_checkpointed_record_torn_off_the_journal_is_corruption_not_a_torn_tail() {
    let fx = Fx::new();
    let input = fx.p("trades.jsonl");
    run_to_a_checkpoint(&fx, &input, 5);

    // Cut the last frame (seq 5) in half.
    let seg = last_segment(&fx.journal());
    let bytes = fs::read(&seg).expect("segment");
    let last = *frame_starts(&bytes).last().expect("a frame");
    let cut = last + (bytes.len() - last) / 2;
    fs::write(&seg, &bytes[..cut]).expect("tear the tail");
    // More input arrives meanwhile.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .expect("input");
    f.write_all(overfilling_order("late", T + 1_000).as_bytes())
        .expect("append");
    drop(f);

    let out = exited_or_terminated(fx.start(&fx.config(&input)));
    let name = seg.file_name().and_then(|n| n.to_str()).expect("name");
    let line = one_line_error(&out, &[name, "seq 5..=5", "checkpoint"]);
    assert!(
        line.contains("backup") || line.contains("move"),
        "says what to do: {line}"
    );
    // Nothing was cut or appended: the torn segment is as it was left.
    assert_eq!(fs::read(&seg).expect("segment").len(), cut);
    // The archive never got a different alert under an old seq.
    let archive = fx.archive();
    assert_eq!(archive.len(), 5);
    assert!(
        archive.iter().all(|a| a["order_id"] != "late"),
        "{archive:?}"
    );
}

/// The same for a flipped byte in the last frame when a checkpoint covers
/// it: the CRC fails at the end of the last segment, which looks like a torn
/// write, but the record was durable.
#[test]
fn a_checkpointed_last_record_with_a_flipped_byte_is_corruption() {
    let fx = Fx::new();
    let input = fx.p("trades.jsonl");
    run_to_a_checkpoint(&fx, &input, 4);
    let seg = last_segment(&fx.journal());
    let mut bytes = fs::read(&seg).expect("segment");
    let last = *frame_starts(&bytes).last().expect("a frame");
    let at = last + 16 + 3;
    bytes[at] ^= 0x20;
    fs::write(&seg, &bytes).expect("flip a byte");

    let out = exited_or_terminated(fx.start(&fx.config(&input)));
    let name = seg.file_name().and_then(|n| n.to_str()).expect("name");
    one_line_error(&out, &[name, "seq 4..=4"]);
    assert_eq!(fs::read(&seg).expect("segment"), bytes, "left as it was");
}

/// A sink cursor says more was delivered than the journal holds (the
/// journal was cut back, or restored from an older backup): the same refusal,
/// naming the sink.
#[test]
fn a_cursor_ahead_of_the_journal_is_corruption() {
    let fx = Fx::new();
    let input = fx.p("trades.jsonl");
    run_to_a_checkpoint(&fx, &input, 3);
    // Drop the checkpoint, so only the cursor knows what was durable.
    fs::remove_dir_all(fx.p("state")).expect("state");
    let seg = last_segment(&fx.journal());
    let bytes = fs::read(&seg).expect("segment");
    let last = *frame_starts(&bytes).last().expect("a frame");
    fs::write(&seg, &bytes[..last + 5]).expect("tear the tail");

    let out = exited_or_terminated(fx.start(&fx.config(&input)));
    one_line_error(&out, &["seq 3..=3", "archive"]);
}

/// Items written by a run, from its summary's "state: N checkpoints written"
/// note (0 when there is none).
fn checkpoints_written(summary: &str) -> u64 {
    summary
        .lines()
        .find_map(|l| l.split("state: ").nth(1)?.split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// A followed file that grows every ~40 ms used to get a full checkpoint
/// after every batch (the 50 ms idle checkpoint): 286 of them, 1.09 GB, in
/// 33 s. Between snapshots the input log now carries the state, and a
/// snapshot waits until the log has grown by as much as the last one
/// weighed: a slowly growing stream over a large state writes a handful.
#[test]
fn a_slowly_growing_file_does_not_rewrite_the_state_every_batch() {
    let fx = Fx::new();
    let input = fx.p("trades.jsonl");
    // A large state: 20,000 open books.
    let mut text = String::new();
    for i in 0..20_000u64 {
        text.push_str(&format!(
            "{{\"id\":\"open-{i}\",\"#shares\":1000,\"client\":\"c\",\"stock\":\"S\",\"ts\":{}}}\n",
            T + i
        ));
    }
    fs::write(&input, text).expect("input");
    let child = fx.start(&fx.config(&input));
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .expect("input");
    for i in 0..50u64 {
        sleep(Duration::from_millis(40));
        f.write_all(overfilling_order(&format!("o{i}"), T + 30_000 + i).as_bytes())
            .expect("append");
        f.flush().expect("flush");
    }
    wait_for("the growing file's alerts", || fx.archive().len() == 50);
    let out = terminate(child);
    let summary = ran(&out);
    let written = checkpoints_written(&summary);
    assert!(
        (1..=4).contains(&written),
        "{written} full checkpoints for 50 small batches: {summary}"
    );
    // Nothing was lost for it: every batch is in the input log or a snapshot.
    assert_eq!(fx.dump().len(), 50);
}

/// Killed between snapshots, the run restores the last one and replays the
/// input log after it: the source resumes after the last logged batch (the
/// file is not read again from where the snapshot was), and no alert is
/// journaled twice.
#[test]
fn a_kill_between_snapshots_replays_the_input_log() {
    let fx = Fx::new();
    let input = fx.p("trades.jsonl");
    fs::write(&input, overfilling_order("a", T)).expect("input");
    let mut child = fx.start(&fx.config(&input));
    wait_for("the first alert", || fx.archive().len() == 1);
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .expect("input");
    for i in 0..5u64 {
        f.write_all(overfilling_order(&format!("b{i}"), T + 100 + 10 * i).as_bytes())
            .expect("append");
    }
    drop(f);
    wait_for("the later alerts", || fx.archive().len() == 6);
    sleep(Duration::from_millis(1200)); // past an input-log sync
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    // Two more orders arrive while it is down.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .expect("input");
    f.write_all(overfilling_order("c", T + 1_000).as_bytes())
        .expect("append");
    drop(f);
    let child = fx.start(&fx.config(&input));
    wait_for("the alert after the restart", || fx.archive().len() == 7);
    let out = terminate(child);
    let summary = ran(&out);
    assert!(
        summary
            .lines()
            .any(|l| l.starts_with("note") && l.contains("replayed")),
        "no input frames replayed: {summary}"
    );
    // Only the new order's two lines were read from the file this time.
    let events: u64 = summary
        .lines()
        .find_map(|l| l.strip_prefix("events")?.trim().parse().ok())
        .expect("events line");
    assert_eq!(events, 2, "{summary}");
    let ids: Vec<String> = fx
        .dump()
        .iter()
        .map(|a| a["alert_id"].as_str().expect("id").to_owned())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an alert journaled twice: {ids:?}");
    assert_eq!(ids.len(), 7);
}

/// A `checkpoint.tmp` a failed write left behind (a full disk) is removed at
/// the next start instead of lying there forever.
#[test]
fn a_checkpoint_tmp_left_by_a_failed_write_is_cleaned_at_start() {
    let fx = Fx::new();
    let input = fx.p("trades.jsonl");
    run_to_a_checkpoint(&fx, &input, 1);
    let tmp = fx.p("state").join("checkpoint.tmp");
    fs::write(&tmp, b"half a checkpoint").expect("tmp");
    let child = fx.start(&fx.config(&input));
    wait_for("the stale temporary file to go", || !tmp.exists());
    ok(&terminate(child));
}

/// A checkpoint of another format version is refused with one line naming
/// both versions, never misread.
#[test]
fn a_checkpoint_of_another_version_is_refused_naming_it() {
    let fx = Fx::new();
    let input = fx.p("trades.jsonl");
    run_to_a_checkpoint(&fx, &input, 1);
    let path = fx.p("state").join("checkpoint");
    // A version-3 file: the same framing, another magic (and a valid CRC).
    let mut body = Vec::new();
    let magic = b"aldebaran-checkpoint-3";
    body.extend_from_slice(&(magic.len() as u64).to_le_bytes());
    body.extend_from_slice(magic);
    body.extend_from_slice(&[0u8; 32]);
    let crc = crc32(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    fs::write(&path, body).expect("old checkpoint");
    let out = exited_or_terminated(fx.start(&fx.config(&input)));
    one_line_error(&out, &["checkpoint", "version 3", "version 4"]);
}

/// CRC-32 (IEEE), as the state files use.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
