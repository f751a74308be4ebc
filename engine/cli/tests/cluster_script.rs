//! `scripts/rabbitmq-cluster.sh` against a cluster whose directory was
//! removed while it ran (a deleted checkout's: CI's fresh clones do this).
//! Its nodes answer to no cookie left and hold the ports; `start` must kill
//! them and start its own, and must never touch the nodes of a directory
//! that still exists.
//!
//! The cluster here has its own ports and node names, apart from the one
//! the scale-out tests share; the test takes their lock all the same, so
//! that six brokers do not boot at once on a small machine.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq-cluster.sh")
}

/// Runs the script on `dir` with this test's ports and names.
fn cluster(dir: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(script())
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env("RABBITMQ_CLUSTER_PORT", "5721")
        .env("RABBITMQ_CLUSTER_DIST_PORT", "25721")
        .env("RABBITMQ_CLUSTER_CTL_PORT", "35751")
        .env("RABBITMQ_CLUSTER_NAME", "aldebaran-orphan-")
        .stdin(Stdio::null())
        .output()
        .expect("run the cluster script")
}

/// Runs the script on `dir` and fails the test, naming `what`, unless it
/// exits as `ok` says.
#[track_caller]
fn expect(dir: &Path, args: &[&str], ok: bool, what: &str) -> Output {
    let out = cluster(dir, args);
    assert_eq!(out.status.success(), ok, "{what}: {}", says(&out));
    out
}

fn says(out: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Stops the cluster of `dir` when the test ends, whatever happened.
struct StopOnDrop(PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = cluster(&self.0, &["stop"]);
    }
}

/// The scale-out tests' cross-process lock (`cluster_support::exclusive`).
fn scale_out_lock() -> fs::File {
    let port = std::env::var("RABBITMQ_CLUSTER_PORT").unwrap_or_else(|_| "5701".to_owned());
    let path = std::env::temp_dir().join(format!("aldebaran-cluster-{port}-shards.lock"));
    let file = fs::File::create(&path).expect("create the shard lock file");
    file.lock().expect("lock the shard lock file");
    file
}

#[test]
fn start_replaces_the_nodes_of_a_removed_directory_and_spares_those_of_a_live_one() {
    let _lock = scale_out_lock();
    let tmp = tempfile::tempdir().expect("temp dir");
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    fs::create_dir_all(&first).expect("mkdir");
    let _stop_first = StopOnDrop(first.clone());
    let stop_second = StopOnDrop(second.clone());

    expect(&first, &["start"], true, "the first cluster");

    // While the first directory exists its nodes are another checkout's:
    // the second start refuses, and the first cluster still runs.
    let out = expect(
        &second,
        &["start"],
        false,
        "a live directory's nodes were taken over",
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is taken by something"),
        "{}",
        says(&out)
    );
    expect(&first, &["status"], true, "the first cluster was disturbed");

    // Its directory removed, its nodes are orphans: the next start kills
    // them and runs its own three in their place.
    fs::remove_dir_all(&first).expect("remove the first directory");
    let out = expect(&second, &["start"], true, "the second cluster");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("of a removed directory"),
        "no orphan was reaped: {}",
        says(&out)
    );
    expect(
        &second,
        &["status"],
        true,
        "the second cluster does not run",
    );

    drop(stop_second);
    expect(
        &second,
        &["status"],
        false,
        "stop left the second cluster running",
    );
}
