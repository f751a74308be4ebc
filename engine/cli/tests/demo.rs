//! `scripts/demo.sh`, as a newcomer runs it: it says that it builds (and how
//! long a first build takes) before cargo goes quiet, runs the binary cargo
//! built, and ends by saying where its files are.
//!
//! cargo is stubbed out (a build here would take minutes): the stub stands
//! where `CARGO_TARGET_DIR` says, and the binary there is the one under test.

use std::{fs, os::unix::fs::PermissionsExt, path::Path, process::Command};

const BIN: &str = env!("CARGO_BIN_EXE_aldebaran");

#[test]
fn the_demo_says_it_builds_and_where_its_output_went() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let stub = tmp.path().join("stub");
    fs::create_dir(&stub).expect("stub dir");
    let cargo = stub.join("cargo");
    fs::write(&cargo, "#!/bin/sh\nexit 0\n").expect("stub cargo");
    fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).expect("chmod");
    let target = tmp.path().join("target");
    fs::create_dir_all(target.join("release")).expect("target dir");
    let work = tmp.path().join("demo");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/demo.sh");
    let path = format!(
        "{}:{}",
        stub.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = || {
        Command::new("bash")
            .arg(&script)
            .arg(&work)
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUST_LOG")
            .output()
            .expect("run scripts/demo.sh")
    };

    // No binary yet: a first build, and the script says how long it takes.
    // (The stub built nothing: the run then fails, after saying so.)
    let first = run();
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(
        out.lines().next().is_some_and(|l| l.contains("building")
            && l.contains("first build")
            && l.contains("minutes")),
        "{out}"
    );

    std::os::unix::fs::symlink(BIN, target.join("release/aldebaran")).expect("symlink");
    let o = run();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.lines().next().is_some_and(|l| l.contains("building")),
        "{out}"
    );
    assert!(out.contains("events "), "the replay's summary: {out}");
    assert!(out.contains("\"alert_id\""), "the first alerts: {out}");
    let work = work.display().to_string();
    assert!(out.contains(&format!("output in {work}/:")), "{out}");
    for file in ["trades.jsonl", "journal/", "dead-letters.jsonl"] {
        assert!(out.contains(file), "{file} not named: {out}");
    }
    assert!(Path::new(&work).join("journal").is_dir());
}
