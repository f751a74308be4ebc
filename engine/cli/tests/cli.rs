//! Integration tests of the `aldebaran` binary: every test runs the real
//! executable (`CARGO_BIN_EXE_aldebaran`) in a temporary directory and looks
//! only at what an operator sees — exit codes, stdout, stderr and the files it
//! writes (journal via `journal dump|verify`, dead letters, stats).
//!
//! SPEC §1 (input, dead letters), §2 (the over-purchase rule, TTLs, drain,
//! determinism) and §3 (journal format, dump, verify, tail recovery).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use serde_json::{Map, Value};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_aldebaran");

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// What one run of the binary did.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    #[track_caller]
    fn assert_ok(&self) -> &Self {
        assert!(
            self.ok(),
            "expected success, got {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// An error as SPEC'd for the CLI: non-zero exit, exactly one stderr line
    /// naming the problem (every `needle`), no panic, no backtrace.
    #[track_caller]
    fn assert_one_line_error(&self, needles: &[&str]) {
        let ctx = format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        assert!(
            self.code.is_some_and(|c| c != 0),
            "expected a non-zero exit; {ctx}"
        );
        assert!(!self.stderr.contains("panicked"), "panic; {ctx}");
        assert!(!self.stderr.contains("stack backtrace"), "backtrace; {ctx}");
        assert!(!self.stderr.contains("RUST_BACKTRACE"), "backtrace; {ctx}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr must be exactly one line; {ctx}");
        for n in needles {
            assert!(lines[0].contains(n), "stderr must name `{n}`; {ctx}");
        }
    }

    /// The rest of the summary line that starts with `label`.
    #[track_caller]
    fn line(&self, label: &str) -> &str {
        self.stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix(label)
                    .filter(|r| r.starts_with(' '))
                    .map(str::trim)
            })
            .unwrap_or_else(|| panic!("no `{label}` line in summary:\n{}", self.stdout))
    }

    /// A latency line's p50, p99, p99.9 and max, in ms.
    #[track_caller]
    fn percentiles(&self, label: &str) -> [f64; 4] {
        let l = self.line(label);
        let mut out = [0.0; 4];
        for (i, key) in ["p50", "p99", "p99.9", "max"].into_iter().enumerate() {
            let mut words = l.split_whitespace();
            words
                .find(|w| *w == key)
                .unwrap_or_else(|| panic!("`{l}` lacks {key}"));
            let (v, unit) = (words.next(), words.next());
            assert_eq!(unit, Some("ms"), "`{l}`: {key} in ms");
            out[i] = v
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("`{l}`: {key}"));
        }
        out
    }

    /// The leading number of a summary line (`events 123`).
    #[track_caller]
    fn num(&self, label: &str) -> u64 {
        let l = self.line(label);
        let n = l.split_whitespace().next().unwrap_or("");
        n.parse()
            .unwrap_or_else(|_| panic!("`{label}` line `{l}` does not start with a number"))
    }

    /// `key=N` on the summary line starting with `label`, 0 if absent.
    #[track_caller]
    fn kv(&self, label: &str, key: &str) -> u64 {
        kv(self.line(label), key).unwrap_or(0)
    }

    /// An `overfill` job counter.
    #[track_caller]
    fn counter(&self, key: &str) -> u64 {
        kv(self.line("overfill"), key)
            .unwrap_or_else(|| panic!("no counter `{key}` in summary:\n{}", self.stdout))
    }
}

/// `key=N` in `line`, where `key` starts a token.
fn kv(line: &str, key: &str) -> Option<u64> {
    line.split([' ', ',', '(', ')'])
        .find_map(|tok| tok.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.parse().expect("counter value"))
}

/// A scratch directory; every command runs with it as working directory, so a
/// default journal (`./aldebaran-data/journal`) lands there too.
struct Fx {
    dir: TempDir,
}

impl Fx {
    fn new() -> Fx {
        Fx {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.p(name);
        fs::write(&p, content).expect("write fixture");
        p
    }

    /// The binary, isolated from the caller's `ALDEBARAN_*` and `RUST_LOG`,
    /// with backtraces on so any panic would show.
    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ALDEBARAN_") {
                c.env_remove(k);
            }
        }
        c.env_remove("RUST_LOG")
            .env("RUST_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[])
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut c = self.cmd();
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        output(&mut c)
    }

    /// `aldebaran gen ARGS -o NAME`.
    fn gen_file(&self, name: &str, args: &[&str]) -> PathBuf {
        let p = self.p(name);
        let mut a = vec!["gen", "-o", s(&p)];
        a.extend_from_slice(args);
        self.run(&a).assert_ok();
        p
    }

    /// `aldebaran replay INPUT --journal JOURNAL -q EXTRA`.
    fn replay(&self, input: &Path, journal: &Path, extra: &[&str]) -> Out {
        let mut a = vec!["replay", s(input), "--journal", s(journal), "-q"];
        a.extend_from_slice(extra);
        self.run(&a)
    }

    #[track_caller]
    fn replay_ok(&self, input: &Path, journal: &Path, extra: &[&str]) -> Out {
        let o = self.replay(input, journal, extra);
        o.assert_ok();
        o
    }

    /// `aldebaran journal dump DIR`, parsed.
    #[track_caller]
    fn dump(&self, journal: &Path) -> Vec<Map<String, Value>> {
        let o = self.run(&["journal", "dump", s(journal)]);
        o.assert_ok();
        assert!(o.stderr.is_empty(), "dump wrote to stderr: {}", o.stderr);
        o.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("dump line `{l}`: {e}")))
            .collect()
    }

    /// The dump without the wall-clock `detected_at`, one string per alert.
    #[track_caller]
    fn dump_stable(&self, journal: &Path) -> Vec<String> {
        self.dump(journal)
            .into_iter()
            .map(|mut m| {
                assert!(m.remove("detected_at").is_some(), "no detected_at: {m:?}");
                Value::Object(m).to_string()
            })
            .collect()
    }

    /// `aldebaran journal verify DIR` must succeed without any torn-tail warning.
    #[track_caller]
    fn verify_clean(&self, journal: &Path) -> Out {
        let o = self.run(&["journal", "verify", s(journal)]);
        o.assert_ok();
        let all = format!("{}{}", o.stdout, o.stderr).to_lowercase();
        assert!(
            !all.contains("torn") && !all.contains("warning"),
            "verify not clean: {o:?}"
        );
        o
    }
}

fn output(c: &mut Command) -> Out {
    let o = c.output().expect("run aldebaran");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A SPEC §1 event line.
fn ev(id: &str, shares: u64, order: Option<&str>, ts: Option<u64>) -> String {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert("#shares".into(), shares.into());
    m.insert("client".into(), "cl".into());
    m.insert("stock".into(), "STK".into());
    if let Some(o) = order {
        m.insert("initial_order_id".into(), o.into());
    }
    if let Some(t) = ts {
        m.insert("ts".into(), t.into());
    }
    Value::Object(m).to_string()
}

fn lines(ls: &[String]) -> String {
    let mut t = ls.join("\n");
    t.push('\n');
    t
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("`{k}` is not a string in {m:?}"))
}

/// The segment files of a journal, in order.
fn segments(journal: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(journal)
        .expect("journal dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

/// Frame start offsets in a segment (header 8 bytes, frame =
/// len:u32le crc:u32le seq:u64le payload).
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

/// A generated file rich in everything SPEC §1–§2 cares about: duplicates,
/// late requests, malformed lines, overfills; with short TTLs it also has
/// expiries, orphans and re-opened orders.
fn rich_file(fx: &Fx) -> PathBuf {
    fx.gen_file(
        "rich.jsonl",
        &[
            "--orders",
            "1500",
            "--open",
            "300",
            "--duplicates",
            "0.05",
            "--late",
            "0.2",
            "--malformed",
            "0.01",
            "--seed",
            "7",
        ],
    )
}

const SHORT_TTLS: [&str; 4] = ["--book-ttl-ms", "500", "--tombstone-ttl-ms", "700"];

// ---------------------------------------------------------------------------
// replay: stdin, determinism, drain, TTLs
// ---------------------------------------------------------------------------

#[test]
fn replay_stdin_gives_the_same_journal_as_the_file() {
    let fx = Fx::new();
    let input = rich_file(&fx);
    for ttl in [&[][..], &SHORT_TTLS[..]] {
        let jf = fx.p(&format!("jf{}", ttl.len()));
        let js = fx.p(&format!("js{}", ttl.len()));
        let from_file = fx.replay_ok(&input, &jf, ttl);

        let mut c = fx.cmd();
        c.args(["replay", "-", "--journal", s(&js), "-q"])
            .args(ttl)
            .stdin(fs::File::open(&input).expect("open input"));
        let from_stdin = output(&mut c);
        from_stdin.assert_ok();

        let a = fx.dump_stable(&jf);
        assert!(a.len() > 10, "too few alerts to compare: {}", a.len());
        assert_eq!(a, fx.dump_stable(&js), "stdin and file journals differ");
        for label in ["events", "accepted", "rejected", "overfill", "alerts"] {
            assert_eq!(
                from_file.line(label),
                from_stdin.line(label),
                "summary `{label}` differs"
            );
        }
    }
}

#[test]
fn replay_is_deterministic_across_batching_threads_and_pinning() {
    let fx = Fx::new();
    let input = rich_file(&fx);
    let base_j = fx.p("base");
    let base = fx.replay_ok(&input, &base_j, &SHORT_TTLS);
    let expected = fx.dump_stable(&base_j);
    assert!(base.kv("alerts", "overfill") > 0 && base.kv("alerts", "orphan") > 0);
    assert!(base.counter("expired") > 0 && base.counter("closed") > 0);

    let variants: &[&[&str]] = &[
        &["--batch-events", "1"],
        &["--batch-events", "7", "--batch-ms", "0"],
        &["--batch-events", "1000000", "--batch-ms", "50"],
        &["--batch-ms", "0"],
        &["--threads", "1"],
        &["--threads", "2"],
        &["--threads", "4"],
        &["--threads", "2", "--pin"],
        &["--threads", "4", "--pin", "--batch-events", "33"],
    ];
    for (i, v) in variants.iter().enumerate() {
        let j = fx.p(&format!("v{i}"));
        let mut args = SHORT_TTLS.to_vec();
        args.extend_from_slice(v);
        let o = fx.replay_ok(&input, &j, &args);
        assert_eq!(fx.dump_stable(&j), expected, "journal differs with {v:?}");
        assert_eq!(o.line("overfill"), base.line("overfill"), "counters, {v:?}");
        assert_eq!(o.line("rejected"), base.line("rejected"), "rejected, {v:?}");
    }
}

#[test]
fn drain_reports_orphans_and_no_drain_does_not() {
    let fx = Fx::new();
    // Handwritten: two orders purchased without a request, one request alone.
    let hand = fx.write(
        "orphans.jsonl",
        lines(&[
            ev("p1", 10, Some("A"), Some(1000)),
            ev("p2", 7, Some("B"), Some(1001)),
            ev("C", 7, None, Some(1002)),
        ]),
    );
    let drained = fx.replay_ok(&hand, &fx.p("j1"), &[]);
    let alerts = fx.dump(&fx.p("j1"));
    let got: Vec<(&str, &str, u64)> = alerts
        .iter()
        .map(|a| {
            (
                str_field(a, "kind"),
                str_field(a, "order_id"),
                a["filled"].as_u64().expect("filled"),
            )
        })
        .collect();
    // Drained orphans come last, oldest book first (SPEC §2).
    assert_eq!(got, [("orphan", "A", 10), ("orphan", "B", 7)]);
    for a in &alerts {
        assert!(
            a["requested"].is_null() && a["trigger_id"].is_null(),
            "{a:?}"
        );
    }
    assert_eq!(drained.counter("drained"), 3);
    assert_eq!(drained.kv("alerts", "orphan"), 2);

    let kept = fx.replay_ok(&hand, &fx.p("j2"), &["--no-drain"]);
    assert!(
        fx.dump(&fx.p("j2")).is_empty(),
        "--no-drain journal not empty"
    );
    assert_eq!(kept.counter("drained"), 0);
    assert_eq!(kept.num("alerts"), 0);

    // Generated: every request late, file cut in the middle.
    let full = fx.gen_file(
        "late.jsonl",
        &[
            "--orders",
            "200",
            "--late",
            "1.0",
            "--duplicates",
            "0",
            "--malformed",
            "0",
        ],
    );
    let text = fs::read_to_string(&full).expect("read");
    let cut: String = text.lines().take(300).map(|l| format!("{l}\n")).collect();
    let cut = fx.write("late-cut.jsonl", cut);
    let drained = fx.replay_ok(&cut, &fx.p("j3"), &[]);
    let orphans = fx
        .dump(&fx.p("j3"))
        .iter()
        .filter(|a| a["kind"] == "orphan")
        .count();
    assert!(
        orphans > 0,
        "drain produced no orphans:\n{}",
        drained.stdout
    );
    assert!(drained.counter("drained") > 0);
    let kept = fx.replay_ok(&cut, &fx.p("j4"), &["--no-drain"]);
    assert_eq!(
        fx.dump(&fx.p("j4"))
            .iter()
            .filter(|a| a["kind"] == "orphan")
            .count(),
        0,
        "--no-drain still reported orphans"
    );
    assert_eq!(kept.counter("drained"), 0);
}

/// A purchase at t=1000 opens book A; A's request arrives at t=3000.
fn ttl_file(fx: &Fx) -> PathBuf {
    fx.write(
        "ttl.jsonl",
        lines(&[
            ev("p1", 10, Some("A"), Some(1000)),
            ev("A", 5, None, Some(3000)),
            ev("z", 1, None, Some(20_000)),
        ]),
    )
}

#[test]
fn book_ttl_flag_decides_between_orphan_and_overfill() {
    let fx = Fx::new();
    let input = ttl_file(&fx);
    // opened_at + ttl <= clock closes: 1000 + 2000 <= 3000, so the book expires
    // when the request arrives (orphan) and the request hits its tombstone.
    for ttl in ["1000", "2000"] {
        let j = fx.p(&format!("j{ttl}"));
        let o = fx.replay_ok(&input, &j, &["--book-ttl-ms", ttl]);
        let a = fx.dump(&j);
        assert_eq!(a.len(), 1, "ttl {ttl}: {a:?}");
        assert_eq!(str_field(&a[0], "alert_id"), "orphan:A:p1", "ttl {ttl}");
        assert_eq!(a[0]["filled"], 10);
        assert!(a[0]["requested"].is_null());
        assert_eq!(o.counter("expired"), 1, "ttl {ttl}");
        assert_eq!(o.counter("closed"), 1, "ttl {ttl}");
    }
    // 1000 + 2001 > 3000: the book is still open, the late request overfills.
    for ttl in ["2001", "60000"] {
        let j = fx.p(&format!("j{ttl}"));
        let o = fx.replay_ok(&input, &j, &["--book-ttl-ms", ttl]);
        let a = fx.dump(&j);
        assert_eq!(a.len(), 1, "ttl {ttl}: {a:?}");
        assert_eq!(str_field(&a[0], "alert_id"), "overfill:A:A", "ttl {ttl}");
        assert_eq!(a[0]["requested"], 5);
        assert_eq!(a[0]["filled"], 10);
        assert_eq!(a[0]["trigger_id"], "A", "the late PR is the trigger");
        assert_eq!(o.counter("expired"), 0, "ttl {ttl}");
    }
}

#[test]
fn tombstone_ttl_flag_decides_when_a_closed_order_is_forgotten() {
    let fx = Fx::new();
    // A overfills at t=1100 (closed_at = 1100); p2 at t=3000 is 1900 ms later.
    let input = fx.write(
        "tomb.jsonl",
        lines(&[
            ev("A", 5, None, Some(1000)),
            ev("p1", 10, Some("A"), Some(1100)),
            ev("p2", 10, Some("A"), Some(3000)),
            ev("A", 5, None, Some(3100)),
        ]),
    );
    // 5000: both later events fall on the tombstone and are dropped.
    let j = fx.p("longer");
    let o = fx.replay_ok(&input, &j, &["--tombstone-ttl-ms", "5000"]);
    let a = fx.dump(&j);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["trigger_id"], "p1");
    assert_eq!(o.counter("closed"), 2);
    assert_eq!(o.counter("books_opened"), 1);
    // 1901: p2 (1900 ms after the close) is dropped; the PR at 3100 (2000 ms
    // after) finds A forgotten and opens a fresh book that never overfills.
    let j = fx.p("long");
    let o = fx.replay_ok(&input, &j, &["--tombstone-ttl-ms", "1901"]);
    let a = fx.dump(&j);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["trigger_id"], "p1");
    assert_eq!(o.counter("closed"), 1);
    assert_eq!(o.counter("books_opened"), 2);
    // 1900 < 1900 is false: forgotten, p2 opens a new book, the PR overfills it.
    let j = fx.p("short");
    let o = fx.replay_ok(&input, &j, &["--tombstone-ttl-ms", "1900"]);
    let a = fx.dump(&j);
    let triggers: Vec<&Value> = a.iter().map(|x| &x["trigger_id"]).collect();
    assert_eq!(triggers, [&Value::from("p1"), &Value::from("A")], "{a:?}");
    assert_eq!(o.counter("closed"), 0);
    assert_eq!(o.counter("books_opened"), 2);
}

#[test]
fn rate_paces_the_replay() {
    let fx = Fx::new();
    let input = fx.gen_file(
        "2k.jsonl",
        &[
            "--orders",
            "400",
            "--purchases",
            "4",
            "--duplicates",
            "0",
            "--malformed",
            "0",
        ],
    );
    let n = fs::read_to_string(&input).expect("read").lines().count();
    assert_eq!(n, 2000);
    let t = Instant::now();
    let o = fx.replay_ok(&input, &fx.p("j"), &["--rate", "10000"]);
    let took = t.elapsed();
    assert_eq!(o.num("events"), 2000);
    // 2000 events at 10 000/s take 0.2 s; allow for a first burst.
    assert!(
        took >= Duration::from_millis(150),
        "--rate 10000 replayed 2000 events in {took:?}"
    );
}

// ---------------------------------------------------------------------------
// replay outputs: stats, dead letters, summary
// ---------------------------------------------------------------------------

#[test]
fn stats_csv_has_a_header_and_one_row_per_batch() {
    let fx = Fx::new();
    let input = rich_file(&fx);
    let csv = fx.p("stats.csv");
    let o = fx.replay_ok(
        &input,
        &fx.p("j"),
        &["--stats", s(&csv), "--batch-events", "500"],
    );
    let text = fs::read_to_string(&csv).expect("stats file");
    let mut ls = text.lines();
    let header: Vec<&str> = ls.next().expect("header").split(',').collect();
    for col in ["batch", "events", "rejected", "alerts"] {
        assert!(header.contains(&col), "no column `{col}` in {header:?}");
    }
    let rows: Vec<Vec<u64>> = ls
        .map(|l| {
            let r: Vec<u64> = l
                .split(',')
                .map(|v| v.parse().unwrap_or_else(|_| panic!("row `{l}`")))
                .collect();
            assert_eq!(r.len(), header.len(), "row `{l}`");
            r
        })
        .collect();
    let batches = o.num("batches");
    assert!(batches > 2, "--batch-events 500 gave {batches} batches");
    assert_eq!(rows.len() as u64, batches, "one row per batch");
    let col = |name: &str| {
        let i = header.iter().position(|h| *h == name).expect("column");
        rows.iter().map(|r| r[i]).collect::<Vec<u64>>()
    };
    assert_eq!(col("batch"), (1..=batches).collect::<Vec<_>>());
    assert_eq!(col("events").iter().sum::<u64>(), o.num("accepted"));
    assert_eq!(col("rejected").iter().sum::<u64>(), o.num("rejected"));
    assert_eq!(col("alerts").iter().sum::<u64>(), o.num("alerts"));
}

#[test]
fn stats_parquet_is_a_parquet_file() {
    let fx = Fx::new();
    let input = fx.write(
        "in.jsonl",
        lines(&[ev("A", 1, None, Some(1)), ev("p", 2, Some("A"), Some(2))]),
    );
    let pq = fx.p("stats.parquet");
    fx.replay_ok(&input, &fx.p("j"), &["--stats", s(&pq)]);
    let bytes = fs::read(&pq).expect("parquet file");
    assert!(bytes.len() > 8, "parquet file too short");
    assert_eq!(&bytes[..4], b"PAR1", "parquet magic at the start");
    assert_eq!(
        &bytes[bytes.len() - 4..],
        b"PAR1",
        "parquet magic at the end"
    );
}

#[test]
fn dead_letter_file_has_one_line_per_rejected_line() {
    let fx = Fx::new();
    let good = ev("A", 5, None, Some(1)).into_bytes();
    let long = format!(
        r##"{{"id":"L","#shares":5,"client":"c","stock":"S","pad":"{}"}}"##,
        "x".repeat(70 * 1024)
    );
    // (line, expected reason); None = accepted or skipped.
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (good, None),
        (
            br##"{"id":"B","#shares":5,"client":"c","stock":"S""##.to_vec(),
            Some("malformed"),
        ),
        (long.into_bytes(), Some("too_long")),
        (
            br##"{"id":"D","id":"E","#shares":5,"client":"c","stock":"S"}"##.to_vec(),
            Some("duplicate_key"),
        ),
        (
            br##"{"id":"F","#shares":5,"stock":"S"}"##.to_vec(),
            Some("missing:client"),
        ),
        (
            br##"{"#shares":5,"client":"c","stock":"S"}"##.to_vec(),
            Some("missing:id"),
        ),
        (
            br##"{"id":"G","#shares":-5,"client":"c","stock":"S"}"##.to_vec(),
            Some("bad:#shares"),
        ),
        (
            br##"{"id":"H","#shares":5.5,"client":"c","stock":"S"}"##.to_vec(),
            Some("bad:#shares"),
        ),
        (
            br##"{"id":"I","#shares":"5","client":"c","stock":"S"}"##.to_vec(),
            Some("bad:#shares"),
        ),
        (
            br##"{"id":"J","#shares":9007199254740992,"client":"c","stock":"S"}"##.to_vec(),
            Some("bad:#shares"),
        ),
        (
            br##"{"id":"K","#shares":5,"client":"c","stock":"S","ts":true}"##.to_vec(),
            Some("bad:ts"),
        ),
        (b"   ".to_vec(), None),
        (b"[1,2,3]".to_vec(), Some("malformed")),
        (
            b"{\"id\":\"M\",\"#shares\":5,\"client\":\"c\xff\xfe\",\"stock\":\"S\"}".to_vec(),
            Some("malformed"),
        ),
        (
            br##"{"id":"N","shares":7,"client":"c","stock":"S","initial_order_id":"A","ts":2}"##
                .to_vec(),
            None,
        ),
    ];
    let mut file = Vec::new();
    let mut expected = Vec::new();
    for (line, reason) in &cases {
        if let Some(r) = reason {
            expected.push((file.len() as u64, *r, line.clone()));
        }
        file.extend_from_slice(line);
        file.push(b'\n');
    }
    let input = fx.write("dl.jsonl", &file);
    let dl = fx.p("dead.jsonl");
    let o = fx.replay_ok(&input, &fx.p("j"), &["--dead-letter", s(&dl)]);

    let text = fs::read_to_string(&dl).expect("dead-letter file");
    let got: Vec<Map<String, Value>> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("dead letter is JSON"))
        .collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "one dead letter per rejected line"
    );
    let mut truncated_problem = None;
    for (d, (pos, reason, raw)) in got.iter().zip(&expected) {
        assert_eq!(d["pos"], *pos, "pos of {reason}: {d:?}");
        assert_eq!(str_field(d, "reason"), *reason, "at pos {pos}");
        match std::str::from_utf8(raw) {
            Ok(text) if *reason == "too_long" => {
                let r = str_field(d, "raw");
                assert!(
                    !r.is_empty() && text.starts_with(r),
                    "too_long raw is a prefix"
                );
                if r.len() < text.len() && d.get("truncated") != Some(&Value::Bool(true)) {
                    // Checked last, so the other dead letters are checked too.
                    truncated_problem = Some(format!(
                        "a too_long line cut from {} to {} bytes must carry \"truncated\":true; got {:?}",
                        text.len(),
                        r.len(),
                        d.get("truncated")
                    ));
                }
            }
            Ok(text) => assert_eq!(str_field(d, "raw"), text, "raw at pos {pos}"),
            Err(_) => {
                assert!(d.get("raw").is_none(), "invalid UTF-8 has no `raw`: {d:?}");
                let b64 = str_field(d, "raw_base64");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("raw_base64 is base64");
                assert_eq!(&bytes, raw, "raw_base64 decodes to the line");
            }
        }
    }
    // Summary: counted per reason.
    let mut by_reason: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, r, _) in &expected {
        *by_reason.entry(r).or_default() += 1;
    }
    assert_eq!(o.num("rejected"), expected.len() as u64);
    for (r, n) in by_reason {
        assert_eq!(o.kv("rejected", r), n, "rejected count for {r}");
    }
    assert_eq!(o.num("accepted"), 2);
    assert_eq!(
        o.num("events"),
        2 + expected.len() as u64,
        "blank lines are not events"
    );
    // The accepted `shares` purchase overfills A.
    let a = fx.dump(&fx.p("j"));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["trigger_id"], "N");
    if let Some(p) = truncated_problem {
        panic!("{p}");
    }
}

#[test]
fn summary_reports_every_figure() {
    let fx = Fx::new();
    let input = fx.write(
        "sum.jsonl",
        lines(&[
            ev("A", 5, None, Some(1000)),
            ev("A", 5, None, Some(1001)), // duplicate request
            ev("a1", 4, Some("A"), Some(1002)),
            ev("a1", 4, Some("A"), Some(1003)), // duplicate purchase
            ev("a2", 4, Some("A"), Some(1004)), // overfill A
            ev("a3", 4, Some("A"), Some(1005)), // closed
            ev("b1", 3, Some("B"), Some(1006)), // orphan at drain
            "{oops".to_owned(),                 // malformed
            r##"{"id":"x","#shares":1,"client":"c"}"##.to_owned(), // missing:stock
        ]),
    );
    let o = fx.replay_ok(&input, &fx.p("j"), &[]);
    assert_eq!(o.num("events"), 9);
    assert_eq!(o.num("accepted"), 7);
    assert_eq!(o.num("rejected"), 2);
    assert_eq!(o.kv("rejected", "malformed"), 1);
    assert_eq!(o.kv("rejected", "missing:stock"), 1);
    assert_eq!(o.counter("duplicate_request"), 1);
    assert_eq!(o.counter("duplicate_purchase"), 1);
    assert_eq!(o.counter("closed"), 1);
    assert_eq!(o.num("alerts"), 2);
    assert_eq!(o.kv("alerts", "overfill"), 1);
    assert_eq!(o.kv("alerts", "orphan"), 1);
    // After the only batch: A is closed (a tombstone), B is open.
    assert_eq!(o.num("peak open"), 1);
    let wall: f64 = o
        .line("wall time")
        .trim_end_matches(" s")
        .parse()
        .expect("wall");
    assert!(wall > 0.0);
    let _: f64 = o.line("events/s").parse().expect("events/s is a number");
    // Processing (ingest → appended) ends before durable (→ synced) for
    // every event, so each of its percentiles is at most durable's; the
    // run synced at least once, so its fsync line is not empty.
    let durable = o.percentiles("latency");
    let processing = o.percentiles("processing");
    let fsync = o.percentiles("fsync");
    for i in 0..4 {
        assert!(
            processing[i] <= durable[i],
            "processing {processing:?} after durable {durable:?}"
        );
    }
    assert!(fsync[3] > 0.0, "no fsync timed: {fsync:?}");
    let a = fx.dump(&fx.p("j"));
    let ids: Vec<&str> = a.iter().map(|x| str_field(x, "alert_id")).collect();
    assert_eq!(ids, ["overfill:A:a2", "orphan:B:b1"]);
    assert_eq!(a[0]["trigger_id"], "a2");
    assert_eq!(a[0]["filled"], 8);
}

#[test]
fn replay_with_stdout_closed_does_not_panic() {
    // `aldebaran replay f | head -0`: the summary cannot be written.
    let fx = Fx::new();
    let input = rich_file(&fx);
    let j = fx.p("j");
    let mut c = fx.cmd();
    c.args(["replay", s(&input), "--journal", s(&j), "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    assert!(
        !err.contains("panicked") && !err.contains("stack backtrace"),
        "replay panicked on a closed stdout (exit {status:?}):\n{err}"
    );
    fx.verify_clean(&j);
}

// ---------------------------------------------------------------------------
// configuration: file, environment, flags
// ---------------------------------------------------------------------------

#[test]
fn config_file_overrides_the_default() {
    let fx = Fx::new();
    let input = ttl_file(&fx);
    let j = fx.p("cfg-journal");
    let cfg = fx.write(
        "c.toml",
        format!(
            "[overfill]\nbook_ttl_ms = 1000\n[journal]\ndir = {:?}\n",
            s(&j)
        ),
    );
    let o = fx.run(&["replay", s(&input), "--config", s(&cfg), "-q"]);
    o.assert_ok();
    assert!(o.line("journal").contains(s(&j)), "{}", o.stdout);
    let a = fx.dump(&j);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["alert_id"], "orphan:A:p1", "book_ttl_ms from the file");
    assert!(!fx.p("aldebaran-data").exists(), "default journal dir used");

    // replay.drain = false in a file acts like --no-drain.
    let cfg = fx.write("nodrain.toml", "[replay]\ndrain = false\n");
    let orphan = fx.write("o.jsonl", lines(&[ev("p", 1, Some("Q"), Some(5))]));
    let o = fx.replay_ok(&orphan, &fx.p("j2"), &["--config", s(&cfg)]);
    assert_eq!(o.counter("drained"), 0);
    assert!(fx.dump(&fx.p("j2")).is_empty());
}

#[test]
fn environment_overrides_the_default_and_the_file() {
    let fx = Fx::new();
    let input = ttl_file(&fx);
    let j = fx.p("env-journal");
    let o = fx.run_with(
        &["replay", s(&input), "-q"],
        &[
            ("ALDEBARAN_OVERFILL__BOOK_TTL_MS", "1000"),
            ("ALDEBARAN_JOURNAL__DIR", s(&j)),
        ],
    );
    o.assert_ok();
    assert_eq!(fx.dump(&j)[0]["alert_id"], "orphan:A:p1");
    assert!(!fx.p("aldebaran-data").exists(), "default journal dir used");

    // File says 60 s, environment says 1 s: the environment wins.
    let cfg = fx.write("c.toml", "[overfill]\nbook_ttl_ms = 60000\n");
    let j2 = fx.p("j2");
    fx.run_with(
        &["replay", s(&input), "--config", s(&cfg), "-q"],
        &[
            ("ALDEBARAN_OVERFILL__BOOK_TTL_MS", "1000"),
            ("ALDEBARAN_JOURNAL__DIR", s(&j2)),
        ],
    )
    .assert_ok();
    assert_eq!(fx.dump(&j2)[0]["alert_id"], "orphan:A:p1");

    // A boolean from the environment.
    let orphan = fx.write("o.jsonl", lines(&[ev("p", 1, Some("Q"), Some(5))]));
    let j3 = fx.p("j3");
    let o = fx.run_with(
        &["replay", s(&orphan), "--journal", s(&j3), "-q"],
        &[("ALDEBARAN_REPLAY__DRAIN", "false")],
    );
    o.assert_ok();
    assert_eq!(o.counter("drained"), 0);
}

#[test]
fn flags_beat_config_file_and_environment() {
    let fx = Fx::new();
    let input = ttl_file(&fx);
    let cfg_j = fx.p("from-config");
    let env_j = fx.p("from-env");
    let flag_j = fx.p("from-flag");
    let cfg = fx.write(
        "c.toml",
        format!(
            "[overfill]\nbook_ttl_ms = 1000\n[journal]\ndir = {:?}\n",
            s(&cfg_j)
        ),
    );
    fx.run_with(
        &[
            "replay",
            s(&input),
            "--config",
            s(&cfg),
            "--journal",
            s(&flag_j),
            "--book-ttl-ms",
            "5000",
            "-q",
        ],
        &[
            ("ALDEBARAN_OVERFILL__BOOK_TTL_MS", "1000"),
            ("ALDEBARAN_JOURNAL__DIR", s(&env_j)),
        ],
    )
    .assert_ok();
    assert!(!cfg_j.exists() && !env_j.exists(), "--journal was not used");
    let a = fx.dump(&flag_j);
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0]["alert_id"], "overfill:A:A",
        "--book-ttl-ms 5000 must win"
    );
}

/// A journal with some alerts, for the error tests to check it survives.
fn journal_with_alerts(fx: &Fx) -> (PathBuf, Vec<String>) {
    let j = fx.p("journal");
    let input = fx.write(
        "seed.jsonl",
        lines(&[
            ev("A", 1, None, Some(1)),
            ev("a", 2, Some("A"), Some(2)),
            ev("b", 2, Some("B"), Some(3)),
        ]),
    );
    fx.replay_ok(&input, &j, &[]);
    let before = fx.dump_stable(&j);
    assert_eq!(before.len(), 2);
    (j, before)
}

#[test]
fn unknown_config_key_in_a_file_is_an_error_naming_it() {
    let fx = Fx::new();
    let (j, before) = journal_with_alerts(&fx);
    let input = ttl_file(&fx);
    for (name, toml, key) in [
        (
            "a.toml",
            "[overfill]\nbook_tll_ms = 5\n",
            "overfill.book_tll_ms",
        ),
        ("b.toml", "jobs = \"overfill\"\n", "jobs"),
        ("c.toml", "[engin]\nthreads = 1\n", "engin"),
    ] {
        let cfg = fx.write(name, toml);
        let o = fx.replay(&input, &j, &["--config", s(&cfg)]);
        o.assert_one_line_error(&[key]);
        fx.verify_clean(&j);
        assert_eq!(fx.dump_stable(&j), before, "journal changed");
    }
    // A config file that does not exist.
    let o = fx.replay(&input, &j, &["--config", s(&fx.p("missing.toml"))]);
    o.assert_one_line_error(&["missing.toml"]);
}

/// A config error says once that it is one, then where: the file, line and
/// column, and the key with its section; for `replay`, `run` and `status`.
#[test]
fn config_errors_name_file_line_column_and_key_once() {
    let fx = Fx::new();
    let input = ttl_file(&fx);
    let j = fx.p("j");
    for (name, toml, at, needle) in [
        (
            "type.toml",
            "[overfill]\nbook_ttl_ms = \"abc\"\n",
            ":2:1: ",
            "`overfill.book_ttl_ms` must be an integer, found a string",
        ),
        ("syntax.toml", "[engine]\nthreads = = 2\n", ":2:11: ", "="),
        (
            "range.toml",
            "job = \"overfill\"\n\n[overfill]\n  book_ttl_ms = -1\n",
            ":4:3: ",
            "`overfill.book_ttl_ms`: invalid value",
        ),
    ] {
        let cfg = fx.write(name, toml);
        let head = format!("aldebaran: error: config: {}{at}", s(&cfg));
        let mut runs = vec![fx.replay(&input, &j, &["--config", s(&cfg)])];
        // A job's section is checked only where jobs are built.
        if name != "range.toml" {
            runs.push(fx.run(&["run", "--config", s(&cfg)]));
            runs.push(fx.run(&["status", "--config", s(&cfg)]));
        }
        for o in runs {
            o.assert_one_line_error(&[needle]);
            let line = o.stderr.trim_end();
            assert!(
                line.starts_with(&head) || line.contains(&format!(": config: {}{at}", s(&cfg))),
                "{name}: `{line}` does not start with `{head}`"
            );
            assert_eq!(line.matches("config").count(), 1, "stutter: {line}");
            assert!(!line.contains("loading configuration"), "{line}");
        }
    }
}

#[test]
fn unknown_config_key_in_the_environment_is_an_error_naming_it() {
    let fx = Fx::new();
    let (j, before) = journal_with_alerts(&fx);
    let input = ttl_file(&fx);
    let replay = ["replay", s(&input), "--journal", s(&j), "-q"];
    // A known key with a value of the wrong type; an unknown job.
    for (var, value, needle) in [
        ("ALDEBARAN_ENGINE__THREADS", "lots", "threads"),
        ("ALDEBARAN_JOB", "nojob", "nojob"),
    ] {
        fx.run_with(&replay, &[(var, value)])
            .assert_one_line_error(&[needle]);
        fx.verify_clean(&j);
    }
    let mut unnamed = Vec::new();
    for (var, key) in [
        ("ALDEBARAN_NOPE", "nope"),
        ("ALDEBARAN_OVERFILL__BOOK_TLL_MS", "overfill.book_tll_ms"),
        ("ALDEBARAN_ENGINE__THREADS__X", "engine.threads.x"),
    ] {
        let o = fx.run_with(&replay, &[(var, "1")]);
        o.assert_one_line_error(&[var]);
        if !o.stderr.contains(&format!("`{key}`")) {
            unnamed.push(format!(
                "{var}=1: stderr `{}` does not name key `{key}`",
                o.stderr.trim_end()
            ));
        }
        fx.verify_clean(&j);
        assert_eq!(fx.dump_stable(&j), before, "journal changed");
    }
    assert!(unnamed.is_empty(), "{}", unnamed.join("\n"));
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

#[test]
fn bad_flags_are_one_line_errors() {
    let fx = Fx::new();
    let (j, before) = journal_with_alerts(&fx);
    let input = ttl_file(&fx);
    let (i, jd) = (s(&input), s(&j));
    let cases: &[(&[&str], &str)] = &[
        (&["replay", i, "--journal", jd, "--bogus"], "--bogus"),
        (
            &["replay", i, "--journal", jd, "--threads", "abc"],
            "--threads",
        ),
        (
            &["replay", i, "--journal", jd, "--batch-events", "0"],
            "--batch-events",
        ),
        (&["replay", i, "--journal", jd, "--book-ttl-ms", "-5"], "-5"),
        (&["replay", i, "--journal", jd, "--rate", "0"], "--rate"),
        (
            &["replay", i, "--journal", jd, "--tombstone-ttl-ms", "1.5"],
            "--tombstone-ttl-ms",
        ),
        (&["gen", "--late", "2"], "--late"),
        (&["gen", "--orders", "many"], "--orders"),
        (&["journal", "compact", jd], "compact"),
    ];
    for (args, needle) in cases {
        let o = fx.run(args);
        o.assert_one_line_error(&[needle]);
        fx.verify_clean(&j);
    }
    assert_eq!(fx.dump_stable(&j), before, "journal changed");
}

/// Whether `configs/default.toml` has the dotted `key` (`replay.drain`,
/// `job`): a `key =` line in its `[section]`.
fn default_has_key(key: &str) -> bool {
    let text = include_str!("../../../configs/default.toml");
    let (section, leaf) = key.rsplit_once('.').unwrap_or(("", key));
    let mut current = "";
    text.lines().map(str::trim).any(|l| {
        if let Some(h) = l.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            current = h;
            return false;
        }
        current == section
            && l.strip_prefix(leaf)
                .is_some_and(|r| r.trim_start().starts_with('='))
    })
}

/// Every flag of `replay` that a config key can also set names that key,
/// and the key exists.
#[test]
fn every_replay_flag_names_its_config_key() {
    let fx = Fx::new();
    let o = fx.run(&["replay", "-h"]);
    o.assert_ok();
    let mut flags = 0;
    for line in o.stdout.lines().map(str::trim_start) {
        let Some(flag) = line
            .split_whitespace()
            .find(|w| w.starts_with("--"))
            .map(|w| w.trim_end_matches(','))
        else {
            continue;
        };
        // The file itself, the terminal-only bar, clap's help.
        if ["--config", "--quiet", "--help"].contains(&flag) {
            continue;
        }
        flags += 1;
        let key = line
            .split("[config: ")
            .nth(1)
            .and_then(|r| r.split([',', ' ', ']']).next())
            .unwrap_or_else(|| panic!("{flag} names no config key: {line}"));
        assert!(
            default_has_key(key),
            "{flag}: no key `{key}` in the default config"
        );
    }
    assert!(flags >= 13, "{flags} flags in:\n{}", o.stdout);
}

/// clap's own detail survives the one line: the argument that is missing,
/// the flag it would have taken instead of a misspelt one.
#[test]
fn flag_errors_keep_the_missing_argument_and_the_suggestion() {
    let fx = Fx::new();
    let cases: &[(&[&str], &[&str])] = &[
        (&["replay"], &["<FILE>"]),
        (&["journal", "dump"], &["<DIR>"]),
        (&["status"], &["--config"]),
        (
            &["replay", "x.jsonl", "--batch-event", "5"],
            &["--batch-event'", "'--batch-events'"],
        ),
        (&["replya"], &["'replay'"]),
    ];
    for (args, needles) in cases {
        let o = fx.run(args);
        o.assert_one_line_error(needles);
        assert!(!o.stderr.contains("Usage:"), "{args:?}: {}", o.stderr);
    }
}

#[test]
fn unwritable_outputs_are_one_line_errors() {
    let fx = Fx::new();
    let (j, before) = journal_with_alerts(&fx);
    let input = ttl_file(&fx);
    for flag in ["--stats", "--dead-letter"] {
        let bad = fx.p("no-such-dir").join("out.csv");
        let o = fx.replay(&input, &j, &["--append", flag, s(&bad)]);
        o.assert_one_line_error(&["no-such-dir"]);
        fx.verify_clean(&j);
    }
    assert_eq!(fx.dump_stable(&j), before, "journal changed");
}

#[test]
fn a_second_writer_is_refused_while_the_journal_is_in_use() {
    let fx = Fx::new();
    let input = fx.gen_file(
        "slow.jsonl",
        &["--orders", "400", "--duplicates", "0", "--malformed", "0"],
    );
    let j = fx.p("j");
    // About one second at 2000 events/s.
    let mut first = fx
        .cmd()
        .args([
            "replay",
            s(&input),
            "--journal",
            s(&j),
            "-q",
            "--rate",
            "2000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let t = Instant::now();
    while (!j.is_dir() || segments(&j).is_empty()) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = fx.replay(&input, &j, &[]);
    let still_running = first.try_wait().expect("try_wait").is_none();
    let status = first.wait().expect("wait");
    assert!(status.success(), "first replay: {status:?}");
    if still_running {
        o.assert_one_line_error(&["lock"]);
    }
    fx.verify_clean(&j);
    let a = fx.dump(&j);
    for (i, x) in a.iter().enumerate() {
        assert_eq!(x["seq"], i as u64 + 1);
    }
}

#[test]
fn missing_input_file_is_a_one_line_error() {
    let fx = Fx::new();
    let (j, before) = journal_with_alerts(&fx);
    let missing = fx.p("no-such-trades.jsonl");
    let o = fx.replay(&missing, &j, &[]);
    o.assert_one_line_error(&["no-such-trades.jsonl"]);
    fx.verify_clean(&j);
    assert_eq!(fx.dump_stable(&j), before, "journal changed");
}

#[test]
fn journal_path_that_is_a_regular_file_is_a_one_line_error() {
    let fx = Fx::new();
    let input = ttl_file(&fx);
    let file = fx.write("not-a-dir", "precious\n");
    let o = fx.replay(&input, &file, &[]);
    o.assert_one_line_error(&["not-a-dir"]);
    assert_eq!(
        fs::read(&file).expect("read"),
        b"precious\n",
        "file changed"
    );
    for sub in ["dump", "verify"] {
        let o = fx.run(&["journal", sub, s(&file)]);
        o.assert_one_line_error(&["not-a-dir"]);
        let o = fx.run(&["journal", sub, s(&fx.p("nowhere"))]);
        o.assert_one_line_error(&["nowhere"]);
    }
}

// ---------------------------------------------------------------------------
// gen
// ---------------------------------------------------------------------------

#[test]
fn gen_is_a_pure_function_of_its_seed() {
    let fx = Fx::new();
    let args = ["--orders", "300", "--seed", "9"];
    let a = fx.gen_file("a.jsonl", &args);
    let b = fx.gen_file("b.jsonl", &args);
    let a = fs::read(a).expect("read");
    assert!(!a.is_empty());
    assert_eq!(a, fs::read(b).expect("read"), "same seed, different files");
    let mut to_stdout = vec!["gen"];
    to_stdout.extend_from_slice(&args);
    let o = fx.run(&to_stdout);
    o.assert_ok();
    assert_eq!(o.stdout.as_bytes(), a, "stdout differs from -o");
    let c = fx.gen_file("c.jsonl", &["--orders", "300", "--seed", "10"]);
    assert_ne!(a, fs::read(c).expect("read"), "different seeds, same file");
}

fn parsed(path: &Path) -> Vec<Option<Map<String, Value>>> {
    BufReader::new(fs::File::open(path).expect("open"))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("line")).ok())
        .collect()
}

#[test]
fn gen_ts_flags() {
    let fx = Fx::new();
    let plain = fx.gen_file("ts.jsonl", &["--orders", "50", "--malformed", "0"]);
    let evs = parsed(&plain);
    assert!(
        evs.iter()
            .all(|e| e.as_ref().is_some_and(|m| m["ts"].is_u64()))
    );
    assert_eq!(evs[0].as_ref().expect("json")["ts"], 1_700_000_000_000u64);

    let custom = fx.gen_file(
        "ts2.jsonl",
        &[
            "--orders",
            "50",
            "--malformed",
            "0",
            "--duplicates",
            "0",
            "--ts-start",
            "5000",
            "--ts-step",
            "10",
        ],
    );
    let ts: Vec<u64> = parsed(&custom)
        .iter()
        .map(|e| e.as_ref().expect("json")["ts"].as_u64().expect("ts"))
        .collect();
    assert_eq!(ts[0], 5000);
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "ts not monotonic");
    assert!(
        ts.windows(2).any(|w| w[1] - w[0] == 10),
        "step not 10: {ts:?}"
    );

    let no_ts = fx.gen_file("nots.jsonl", &["--orders", "200", "--no-ts"]);
    let text = fs::read_to_string(&no_ts).expect("read");
    assert!(!text.contains("\"ts\""), "--no-ts file has ts");
    // Replayed without ts, alerts carry event_ts = null.
    let j = fx.p("j");
    fx.replay_ok(&no_ts, &j, &[]);
    let a = fx.dump(&j);
    assert!(!a.is_empty());
    assert!(
        a.iter().all(|x| x["event_ts"].is_null()),
        "event_ts not null"
    );
}

#[test]
fn gen_counts_follow_the_flags() {
    let fx = Fx::new();
    // Clean: exactly orders requests and orders × purchases purchases.
    let clean = fx.gen_file(
        "clean.jsonl",
        &[
            "--orders",
            "300",
            "--purchases",
            "3",
            "--duplicates",
            "0",
            "--malformed",
            "0",
            "--late",
            "0",
            "--overfill",
            "0.3",
        ],
    );
    let evs: Vec<Map<String, Value>> = parsed(&clean)
        .into_iter()
        .map(|e| e.expect("no malformed line"))
        .collect();
    let prs = evs
        .iter()
        .filter(|m| !m.contains_key("initial_order_id"))
        .count();
    assert_eq!(prs, 300);
    assert_eq!(evs.len() - prs, 900);
    // No late requests: each order's request precedes its purchases.
    let mut seen = BTreeSet::new();
    for m in &evs {
        match m.get("initial_order_id") {
            None => {
                seen.insert(str_field(m, "id").to_owned());
            }
            Some(o) => assert!(seen.contains(o.as_str().expect("str")), "late PR for {o}"),
        }
    }
    // About 30 % of orders overfill (no TTL can interfere within 1200 ms).
    let o = fx.replay_ok(&clean, &fx.p("j"), &[]);
    let over = o.kv("alerts", "overfill");
    assert!(
        (45..=135).contains(&over),
        "overfills {over} for --overfill 0.3 of 300"
    );
    assert_eq!(o.kv("alerts", "orphan"), 0);

    // Dirty: duplicates, malformed lines and late requests in proportion.
    let dirty = fx.gen_file(
        "dirty.jsonl",
        &[
            "--orders",
            "500",
            "--purchases",
            "4",
            "--duplicates",
            "0.1",
            "--malformed",
            "0.05",
            "--late",
            "0.5",
            "--no-ts",
        ],
    );
    // Malformed lines may be invalid UTF-8: count bytes, not text.
    let bytes = fs::read(&dirty).expect("read");
    let all: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let n = all.len() as f64;
    let mut uniq = BTreeSet::new();
    let dups = all.iter().filter(|l| !uniq.insert(**l)).count() as f64;
    assert!(
        (0.05..=0.15).contains(&(dups / n)),
        "duplicate share {}",
        dups / n
    );
    let o = fx.replay_ok(&dirty, &fx.p("j2"), &[]);
    let rejected = o.num("rejected") as f64 / o.num("events") as f64;
    assert!(
        (0.025..=0.075).contains(&rejected),
        "malformed share {rejected}"
    );
    let late = o.counter("late_request") as f64 / 500.0;
    assert!((0.3..=0.7).contains(&late), "late share {late}");
}

// ---------------------------------------------------------------------------
// journal: dump, seq, verify, recovery
// ---------------------------------------------------------------------------

/// The fields of a dumped overfill/orphan record: `seq`, `alert_id`, `kind`
/// and what the job declares (the jobs crate holds that against SPEC §3).
fn overfill_fields() -> BTreeSet<&'static str> {
    let job = jobs::find("overfill").expect("overfill is registered");
    ["seq", "alert_id", "kind"]
        .into_iter()
        .chain(job.alert_fields().iter().map(|f| f.name))
        .collect()
}

#[test]
fn journal_dump_prints_spec_fields_with_gapless_seq() {
    let fx = Fx::new();
    let input = rich_file(&fx);
    let j = fx.p("j");
    let t0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    fx.replay_ok(&input, &j, &SHORT_TTLS);
    let t1 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    let a = fx.dump(&j);
    assert!(a.iter().any(|x| x["kind"] == "orphan") && a.iter().any(|x| x["kind"] == "overfill"));
    let want = overfill_fields();
    for (i, x) in a.iter().enumerate() {
        let got: BTreeSet<&str> = x.keys().map(String::as_str).collect();
        assert_eq!(got, want, "fields of record {i}");
        assert_eq!(x["seq"], i as u64 + 1, "seq gapless from 1");
        let kind = str_field(x, "kind");
        // SPEC §3: the episode's id names the trigger (overfill) or the
        // first purchase the book counted (orphan, not in the record).
        let episode = format!("{kind}:{}:", str_field(x, "order_id"));
        let id = str_field(x, "alert_id");
        assert!(id.starts_with(&episode), "{id} is not {episode}…");
        if kind == "overfill" {
            assert_eq!(id, format!("{episode}{}", str_field(x, "trigger_id")));
        }
        let orphan = match kind {
            "orphan" => true,
            "overfill" => false,
            k => panic!("unknown kind {k}"),
        };
        assert_eq!(x["requested"].is_null(), orphan, "{x:?}");
        assert_eq!(x["trigger_id"].is_null(), orphan, "{x:?}");
        assert!(x["filled"].is_u64() && x["event_ts"].is_u64(), "{x:?}");
        if !orphan {
            assert!(x["filled"].as_u64() > x["requested"].as_u64(), "{x:?}");
        }
        let at = x["detected_at"].as_u64().expect("detected_at ns");
        assert!(
            (t0..=t1).contains(&at),
            "detected_at {at} not in [{t0}, {t1}]"
        );
    }
}

#[test]
fn replaying_twice_into_one_journal_continues_seq() {
    let fx = Fx::new();
    let input = rich_file(&fx);
    let j = fx.p("j");
    // Small segments, so seq also continues across segment files.
    let env = [("ALDEBARAN_JOURNAL__SEGMENT_BYTES", "4096")];
    let args = ["replay", s(&input), "--journal", s(&j), "-q"];
    let first = fx.run_with(&args, &env);
    first.assert_ok();
    let n = fx.dump(&j).len() as u64;
    assert!(n > 0);
    assert!(
        first.line("journal").contains(&format!("seq 1..={n}")),
        "{}",
        first.stdout
    );
    // Another capture (other order ids), appended.
    let other = fx.gen_file(
        "other.jsonl",
        &["--orders", "1500", "--open", "300", "--seed", "8"],
    );
    let renamed = fs::read_to_string(&other)
        .expect("other capture")
        .replace("\"o-", "\"second-o-");
    fs::write(&other, renamed).expect("rename orders");
    let second = fx.run_with(
        &["replay", s(&other), "--journal", s(&j), "-q", "--append"],
        &env,
    );
    second.assert_ok();
    assert!(
        second
            .line("journal")
            .contains(&format!("seq {}..=", n + 1)),
        "{}",
        second.stdout
    );
    let a = fx.dump(&j);
    assert!(a.len() as u64 > n);
    for (i, x) in a.iter().enumerate() {
        assert_eq!(x["seq"], i as u64 + 1, "seq gapless across runs");
    }
    assert!(segments(&j).len() > 1, "segment_bytes 4096 did not roll");
    let v = fx.verify_clean(&j);
    assert!(
        v.stdout.contains(&format!("{} records", a.len())),
        "{}",
        v.stdout
    );
}

/// A second `replay` into a journal that holds alerts would append every one
/// of them again (each `alert_id` twice): refused, one line, unless asked
/// with `--append`, which appends only what the journal does not hold yet.
#[test]
fn replay_into_a_journal_with_alerts_needs_append_and_appends_no_repeat() {
    let fx = Fx::new();
    let input = rich_file(&fx);
    let j = fx.p("j");
    fx.replay_ok(&input, &j, &[]);
    let before = fx.dump_stable(&j);
    assert!(!before.is_empty());

    let o = fx.replay(&input, &j, &[]);
    o.assert_one_line_error(&["--append", s(&j)]);
    assert_eq!(fx.dump_stable(&j), before, "nothing appended");

    // The same input again with --append: every alert is already there.
    let o = fx.replay_ok(&input, &j, &["--append"]);
    assert_eq!(fx.dump_stable(&j), before, "no alert twice");
    assert!(o.stdout.contains("already"), "{}", o.stdout);

    // Another input with --append: only its own alerts are added.
    let more = fx.write(
        "more.jsonl",
        lines(&[ev("Z", 1, None, Some(1)), ev("z1", 2, Some("Z"), Some(2))]),
    );
    fx.replay_ok(&more, &j, &["--append"]);
    let after = fx.dump(&j);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[before.len()]["alert_id"], "overfill:Z:z1");
    let ids: BTreeSet<&str> = after.iter().map(|x| str_field(x, "alert_id")).collect();
    assert_eq!(ids.len(), after.len(), "each alert_id once");
}

#[test]
fn journal_dump_into_a_closed_pipe_ends_quietly() {
    // `aldebaran journal dump DIR | head -1`
    let fx = Fx::new();
    let input = fx.gen_file(
        "many.jsonl",
        &["--orders", "3000", "--overfill", "0.9", "--purchases", "2"],
    );
    let j = fx.p("j");
    fx.replay_ok(&input, &j, &[]);
    let mut child = fx
        .cmd()
        .args(["journal", "dump", s(&j)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read a line");
    assert!(first.starts_with("{\"seq\":1,"), "{first}");
    // The reader is gone now.
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit {status:?}, stderr: {err}");
    assert!(err.is_empty(), "stderr: {err}");
}

#[test]
fn verify_reports_a_corrupt_middle_record_and_nothing_repairs_it() {
    let fx = Fx::new();
    let input = rich_file(&fx);
    let j = fx.p("j");
    fx.replay_ok(&input, &j, &[]);
    let n = fx.verify_clean(&j);
    assert!(n.stdout.contains("ok:"), "{}", n.stdout);
    let seg = segments(&j).pop().expect("a segment");
    let mut bytes = fs::read(&seg).expect("read segment");
    let starts = frame_starts(&bytes);
    assert!(starts.len() > 3, "need several records");
    // Flip a payload byte of the first record.
    let first = starts[0];
    bytes[first + 16 + 5] ^= 0x01;
    fs::write(&seg, &bytes).expect("write segment");
    let seg_name = seg.file_name().and_then(|f| f.to_str()).expect("name");
    let offset = format!("offset {first}");

    let o = fx.run(&["journal", "verify", s(&j)]);
    assert_eq!(o.code, Some(1), "verify exit code: {o:?}");
    o.assert_one_line_error(&[seg_name, &offset]);

    let o = fx.run(&["journal", "dump", s(&j)]);
    o.assert_one_line_error(&[seg_name, &offset]);

    // A replay must refuse the journal, not skip or truncate the record.
    let o = fx.replay(&input, &j, &[]);
    o.assert_one_line_error(&[seg_name, &offset]);
    assert_eq!(
        fs::read(&seg).expect("read"),
        bytes,
        "corrupt segment modified"
    );
    assert_eq!(segments(&j).len(), 1, "a segment was added");
}

#[test]
fn torn_tail_is_reported_by_verify_and_truncated_by_the_next_replay() {
    let fx = Fx::new();
    let input = rich_file(&fx);
    let j = fx.p("j");
    fx.replay_ok(&input, &j, &[]);
    let n = fx.dump(&j).len();
    let seg = segments(&j).pop().expect("a segment");
    let bytes = fs::read(&seg).expect("read segment");
    let last = *frame_starts(&bytes).last().expect("a frame");
    fs::write(&seg, &bytes[..bytes.len() - 5]).expect("tear the tail");
    let seg_name = seg.file_name().and_then(|f| f.to_str()).expect("name");

    let v = fx.run(&["journal", "verify", s(&j)]);
    assert!(!v.stderr.contains("panicked"), "{v:?}");
    let report = format!("{}{}", v.stdout, v.stderr);
    assert!(
        report.contains("torn"),
        "verify did not report the torn tail: {v:?}"
    );
    assert!(report.contains(seg_name), "{v:?}");
    assert!(report.contains(&format!("offset {last}")), "{v:?}");
    // dump stops before the torn record.
    assert_eq!(fx.dump(&j).len(), n - 1);

    let small = ttl_file(&fx);
    let o = fx.replay_ok(&small, &j, &["--append"]);
    let note = o.line("note");
    assert!(note.contains("truncated"), "note `{note}`");
    assert!(
        note.contains(seg_name) && note.contains(&format!("offset {last}")),
        "{note}"
    );
    assert!(!o.stderr.contains("panicked"));

    fx.verify_clean(&j);
    let a = fx.dump(&j);
    assert_eq!(a.len(), n, "n-1 kept + 1 new");
    for (i, x) in a.iter().enumerate() {
        assert_eq!(x["seq"], i as u64 + 1, "seq continues after the cut");
    }
    assert_eq!(a[n - 1]["alert_id"], "overfill:A:A");
    // A further replay has nothing to report but what it did not append.
    let o = fx.replay_ok(&small, &j, &["--append"]);
    assert!(!o.stdout.contains("truncated"), "{}", o.stdout);
}
