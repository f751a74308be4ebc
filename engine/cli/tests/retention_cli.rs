//! Journal retention as an operator meets it (`[journal.retention]`): `run`
//! removes (or archives) the segments every sink has delivered and no
//! checkpoint needs, past `keep_bytes`; a lagging sink holds what it has not
//! delivered; a registered sink whose cursor was deleted holds everything; a
//! sink whose cursor is behind the oldest seq kept refuses to start, naming
//! itself and the way out, rather than skip. `journal cursors` shows the
//! oldest seq kept.
//!
//! Each test runs the real binary over a followed file with tiny segments
//! and `keep_bytes = 1`, waits until the sinks' cursors are where it wants
//! them, and stops it with SIGTERM: the last checkpoint of the stop is the
//! one whose retention pass is checked.

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
/// Orders per batch of input; each one alerts once.
const ORDERS: usize = 40;

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

/// `count` orders that overfill once each, named `<tag>0`, `<tag>1`, ...
fn orders(tag: &str, count: usize, from_ts: u64) -> String {
    let mut text = String::new();
    for i in 0..count {
        let at = from_ts + 10 * i as u64;
        text.push_str(&format!(
            "{{\"id\":\"{tag}{i}\",\"#shares\":10,\"client\":\"c\",\"stock\":\"S\",\"ts\":{at}}}\n\
             {{\"id\":\"{tag}{i}-p\",\"#shares\":11,\"client\":\"c\",\"stock\":\"S\",\"initial_order_id\":\"{tag}{i}\",\"ts\":{}}}\n",
            at + 1
        ));
    }
    text
}

fn append(path: &Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("input");
    f.write_all(text.as_bytes()).expect("append");
}

/// Waits up to 30 s for `done`, failing with `what`.
#[track_caller]
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
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

/// Waits up to 20 s for `child` to exit by itself; its output.
fn exits(mut child: Child) -> Output {
    wait_for("aldebaran run to exit by itself", || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    child.wait_with_output().expect("output")
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

    fn input(&self) -> PathBuf {
        self.p("trades.jsonl")
    }

    /// `run` over the followed input with 1 KiB segments, `retention` (the
    /// body of `[journal.retention]`) and `sinks` (TOML tables).
    fn config(&self, retention: &str, sinks: &str) -> PathBuf {
        let c = self.p("aldebaran.toml");
        let text = format!(
            "[source]\nkind = \"file\"\n[source.file]\npath = {}\nfollow = true\n\
             [journal]\ndir = {}\nsegment_bytes = 1024\n[journal.retention]\n{retention}\n\
             [state]\ndir = {}\n[metrics]\nlisten = \"\"\n[delivery]\nshutdown_grace_ms = 500\n\
             {sinks}",
            q(&self.input()),
            q(&self.journal()),
            q(&self.p("state")),
        );
        fs::write(&c, text).expect("config");
        c
    }

    /// A file sink `name` writing `<name>.jsonl`.
    fn file_sink(&self, name: &str) -> String {
        format!(
            "[sinks.{name}]\nkind = \"file\"\npath = {}\n",
            q(&self.p(&format!("{name}.jsonl")))
        )
    }

    fn start(&self, config: &Path) -> Child {
        Command::new(BIN)
            .args(["run", "--config", s(config)])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aldebaran run")
    }

    /// Starts `run`, waits until every sink in `until` has delivered up to
    /// `seq`, stops it; its summary and its log (both on stderr, the
    /// summary last, from its `events` line on).
    fn run_until(&self, config: &Path, until: &[(&str, u64)]) -> (String, String) {
        let mut child = self.start(config);
        wait_for(&format!("cursors at {until:?}"), || {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(e) = child.stderr.as_mut() {
                    let _ = std::io::Read::read_to_string(e, &mut err);
                }
                panic!("aldebaran run exited early ({status}): {err}");
            }
            until
                .iter()
                .all(|(sink, seq)| self.delivered(sink).is_some_and(|d| d >= *seq))
        });
        let out = terminate(child);
        ok(&out);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let at = stderr.find("\nevents ").map_or(stderr.len(), |i| i + 1);
        let (log, summary) = stderr.split_at(at);
        (summary.to_owned(), log.to_owned())
    }

    /// `journal cursors`.
    fn cursors(&self) -> String {
        ok(&aldebaran(&["journal", "cursors", s(&self.journal())]))
    }

    /// The seq `sink` has delivered up to, per `journal cursors`.
    fn delivered(&self, sink: &str) -> Option<u64> {
        let o = aldebaran(&["journal", "cursors", s(&self.journal())]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let row = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(sink))?;
        row.split_whitespace().nth(3)?.parse().ok()
    }

    /// The oldest seq kept, per `journal cursors`.
    fn oldest(&self) -> u64 {
        let text = self.cursors();
        text.lines()
            .find_map(|l| l.strip_prefix("oldest seq kept "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no oldest seq in {text}"))
    }

    /// The journal's seqs (`journal dump`).
    fn seqs(&self) -> Vec<u64> {
        ok(&aldebaran(&["journal", "dump", s(&self.journal())]))
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("json")["seq"]
                    .as_u64()
                    .expect("seq")
            })
            .collect()
    }
}

/// The first seqs of the segment files in `dir`, sorted.
fn segments(dir: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".seg")?.parse().ok()
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// Writes `<journal>/cursors/<sink>.cursor` settled at `delivered`, as an
/// operator restoring an old copy leaves it. The format is the shipper's
/// (`alerts/src/delivery/ship/cursor.rs`): two 32-byte slots 512 bytes
/// apart, each `magic, generation, delivered, in_flight_to, crc32`.
fn old_cursor(journal: &Path, sink: &str, delivered: u64) {
    let mut slot = Vec::with_capacity(32);
    slot.extend_from_slice(&0x4144_4355u32.to_le_bytes());
    slot.extend_from_slice(&0u64.to_le_bytes());
    slot.extend_from_slice(&delivered.to_le_bytes());
    slot.extend_from_slice(&delivered.to_le_bytes());
    let crc = crc32fast::hash(&slot);
    slot.extend_from_slice(&crc.to_le_bytes());
    let mut bytes = vec![0u8; 512 + 32];
    bytes[..32].copy_from_slice(&slot);
    fs::write(
        journal.join("cursors").join(format!("{sink}.cursor")),
        bytes,
    )
    .expect("cursor");
}

/// Segments every sink delivered and the last checkpoint is past are moved
/// to `archive_dir` (all but the newest, with keep_bytes = 1), whole; the
/// journal then starts at the newest segment. A sink whose cursor is later
/// found behind that (an old copy restored) refuses to start, naming it, its
/// cursor, the oldest seq kept and the reset; reset to `oldest`, it ships
/// from there.
#[test]
fn delivered_segments_are_archived_and_a_cursor_behind_them_is_refused() {
    let fx = Fx::new();
    let archive = fx.p("segment-archive");
    append(&fx.input(), &orders("o", ORDERS, T));
    let sinks = format!("{}{}", fx.file_sink("archive"), fx.file_sink("copy"));
    let cfg = fx.config(
        &format!("keep_bytes = 1\narchive_dir = {}\n", q(&archive)),
        &sinks,
    );
    let n = ORDERS as u64;
    let (_, log) = fx.run_until(&cfg, &[("archive", n), ("copy", n)]);

    let kept = segments(&fx.journal());
    assert_eq!(
        kept.len(),
        1,
        "only the newest segment stays: {kept:?}\n{log}"
    );
    let oldest = kept[0];
    assert!(oldest > 1, "{kept:?}");
    assert_eq!(fx.oldest(), oldest);
    let archived = segments(&archive);
    assert_eq!(archived.first(), Some(&1), "{archived:?}");
    assert!(archived.iter().all(|&s| s < oldest), "{archived:?}");
    assert!(
        log.contains(&format!("moved seqs 1..={}", oldest - 1)),
        "the log says what went: {log}"
    );
    assert_eq!(fx.seqs(), (oldest..=n).collect::<Vec<_>>());

    // An old copy of the archive sink's cursor comes back.
    old_cursor(&fx.journal(), "archive", 3);
    let listing = fx.cursors();
    assert!(
        listing.contains(&format!(
            "sink archive: cursor at seq 3 is behind the oldest seq kept {oldest}"
        )),
        "{listing}"
    );
    let out = exits(fx.start(&cfg));
    let journal = fx.journal();
    one_line_error(
        &out,
        &[
            "\"archive\"",
            "seq 3",
            &format!("from {oldest} on"),
            &format!("4..={}", oldest - 1),
            &format!(
                "aldebaran journal cursors --reset archive --to oldest {}",
                journal.display()
            ),
        ],
    );
    let done = ok(&aldebaran(&[
        "journal",
        "cursors",
        "--reset",
        "archive",
        "--to",
        "oldest",
        s(&journal),
    ]));
    assert!(
        done.contains(&format!("now at seq {}", oldest - 1)),
        "{done}"
    );
    fx.run_until(&cfg, &[("archive", n)]);
}

/// A sink that has delivered only part of the journal holds every segment
/// from the one with the first seq it still needs; the segments before it
/// go (deleted, without an archive directory).
#[test]
fn a_lagging_sink_holds_what_it_has_not_delivered() {
    let fx = Fx::new();
    append(&fx.input(), &orders("o", ORDERS, T));
    // Takes 10 alerts, then answers "try again later" (exit 75) forever.
    let count = fx.p("taken");
    let script = format!(
        "cat > /dev/null; n=$(cat '{0}' 2>/dev/null || echo 0); [ \"$n\" -ge 10 ] && exit 75; \
         echo $((n + 1)) > '{0}'",
        s(&count)
    );
    let sinks = format!(
        "{}[sinks.slow]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", {}]\n\
         retry_min_ms = 10\nretry_max_ms = 50\n",
        fx.file_sink("archive"),
        Value::from(script)
    );
    let cfg = fx.config("keep_bytes = 1\n", &sinks);
    let n = ORDERS as u64;
    let (summary, log) = fx.run_until(&cfg, &[("archive", n), ("slow", 10)]);
    assert_eq!(fx.delivered("slow"), Some(10), "{summary}");

    // Seq 11 is what the slow sink needs next: its segment stays.
    let kept = segments(&fx.journal());
    let oldest = kept[0];
    assert!(oldest > 1 && oldest <= 11, "{kept:?}\n{log}");
    assert!(kept.get(1).is_none_or(|&next| next > 11), "{kept:?}");
    assert_eq!(fx.oldest(), oldest);
    assert!(
        log.contains(&format!("deleted seqs 1..={}", oldest - 1)),
        "{log}"
    );
    assert!(log.contains("\"slow\""), "the log names who holds: {log}");
    assert_eq!(fx.seqs(), (oldest..=n).collect::<Vec<_>>());
}

/// A sink that has shipped from the journal (it is in the registry) but
/// whose cursor was deleted could need anything: nothing is removed, and
/// the log says why — even though it is no longer configured. Once its
/// cursor is set again, retention resumes.
#[test]
fn a_registered_sink_with_a_deleted_cursor_holds_everything() {
    let fx = Fx::new();
    append(&fx.input(), &orders("o", ORDERS, T));
    let n = ORDERS as u64;
    // First both sinks ship everything; the default keeps 1 GiB.
    let both = format!("{}{}", fx.file_sink("archive"), fx.file_sink("gone"));
    fx.run_until(&fx.config("", &both), &[("archive", n), ("gone", n)]);
    let all = segments(&fx.journal());
    assert!(all.len() > 3, "{all:?}");

    // "gone" is removed from the config, and its cursor deleted.
    fs::remove_file(fx.journal().join("cursors").join("gone.cursor")).expect("delete");
    let cfg = fx.config("keep_bytes = 1\n", &fx.file_sink("archive"));
    append(&fx.input(), &orders("p", ORDERS, T + 1_000_000));
    let (_, log) = fx.run_until(&cfg, &[("archive", 2 * n)]);
    let kept = segments(&fx.journal());
    assert_eq!(kept.first(), Some(&1), "nothing was removed: {kept:?}");
    assert_eq!(fx.oldest(), 1);
    assert!(
        log.contains("keeping every segment")
            && log.contains("\"gone\"")
            && log.contains("missing"),
        "the log says why: {log}"
    );
    assert_eq!(fx.seqs().len() as u64, 2 * n);

    // Its cursor set (to the head), it holds nothing more.
    ok(&aldebaran(&[
        "journal",
        "cursors",
        "--reset",
        "gone",
        "--to",
        "head",
        s(&fx.journal()),
    ]));
    append(&fx.input(), &orders("r", 5, T + 2_000_000));
    fx.run_until(&cfg, &[("archive", 2 * n + 5)]);
    // "gone" now needs seq 2n + 1 on: the segments before it go.
    let kept = segments(&fx.journal());
    assert!(kept[0] > 1 && kept[0] <= 2 * n + 1, "{kept:?}");
    assert_eq!(fx.oldest(), kept[0]);
}
