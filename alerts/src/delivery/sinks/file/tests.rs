//! Tests of the file sink on a temporary directory.

use std::path::Path;

use super::config::FileSinkConfig;
use super::sink::{CHUNK, FileSink};
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};

fn out(seq: u64) -> Outgoing {
    Outgoing {
        seq,
        alert_id: format!("a:{seq}"),
        json: format!("{{\"seq\":{seq},\"alert_id\":\"a:{seq}\"}}").into_bytes(),
        epoch: 0,
    }
}

fn sink(path: &Path) -> FileSink {
    FileSink::new(&FileSinkConfig {
        path: path.to_path_buf(),
        fsync: true,
    })
}

#[test]
fn appends_and_recovers_last_seq() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.jsonl");
    let mut s = sink(&path);
    assert_eq!(s.recover(), Ok(None));
    s.send(&[out(1), out(2)]).expect("send");
    s.send(&[out(3)]).expect("send");
    let mut s = sink(&path);
    assert_eq!(s.recover(), Ok(Some(3)));
    // Already held records are skipped, the rest appended.
    s.send(&[out(2), out(3), out(4)]).expect("send");
    let text = std::fs::read_to_string(&path).expect("read");
    let seqs: Vec<_> = text.lines().map(|l| l[7..8].to_string()).collect();
    assert_eq!(seqs, ["1", "2", "3", "4"]);
}

#[test]
fn torn_line_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, "{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3,\"al").expect("write");
    let mut s = sink(&path);
    assert_eq!(s.recover(), Ok(Some(2)));
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "{\"seq\":1}\n{\"seq\":2}\n"
    );
    std::fs::write(&path, "{\"seq\":1").expect("write");
    assert_eq!(sink(&path).recover(), Ok(None));
    assert_eq!(std::fs::read(&path).expect("read"), b"");
}

#[test]
fn long_lines_across_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.jsonl");
    let pad = "x".repeat(3 * CHUNK as usize);
    std::fs::write(
        &path,
        format!("{{\"seq\":8,\"p\":\"{pad}\"}}\n{{\"seq\":9,\"p\":\"{pad}\"}}\n{pad}"),
    )
    .expect("write");
    assert_eq!(sink(&path).recover(), Ok(Some(9)));
}

#[test]
fn foreign_last_line_is_transient_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, "hello\n").expect("write");
    assert!(
        matches!(sink(&path).recover(), Err(SendError::Transient(r)) if r.contains("never overwritten"))
    );
    assert_eq!(std::fs::read(&path).expect("read"), b"hello\n");
}

#[test]
fn missing_directory_is_transient() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = sink(&dir.path().join("no/such/out.jsonl"));
    assert!(matches!(s.recover(), Err(SendError::Transient(_))));
    assert!(matches!(
        s.send(&[out(1)]),
        Err(SendFailure {
            delivered: 0,
            error: SendError::Transient(_)
        })
    ));
}
