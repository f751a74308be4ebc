//! `replay`'s progress bar as a terminal shows it (run under `script`, from
//! util-linux, which gives the binary a pseudo-terminal for stderr): it
//! shows the rate and the time left, and moves smoothly through a file far
//! smaller than 1 MiB.

use std::{collections::BTreeSet, process::Command};

const BIN: &str = env!("CARGO_BIN_EXE_aldebaran");

#[test]
fn the_bar_shows_rate_and_eta_and_moves_smoothly_on_a_small_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("trades.jsonl");
    let journal = dir.path().join("journal");
    let generated = Command::new(BIN)
        .args(["gen", "--orders", "500", "-o"])
        .arg(&input)
        .output()
        .expect("gen");
    assert!(generated.status.success(), "{generated:?}");
    assert!(std::fs::metadata(&input).expect("input").len() < 1 << 20);
    // ~2500 events at 2500/s: a second of bar, redrawn every 50 ms.
    let replay = format!(
        "{BIN} replay {} --journal {} --rate 2500",
        input.display(),
        journal.display()
    );
    let o = Command::new("script")
        .args(["-qec", &replay, "/dev/null"])
        .env("COLUMNS", "100")
        .env_remove("RUST_LOG")
        .output()
        .expect("`script` (util-linux) runs the replay on a pseudo-terminal");
    let screen = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{screen}");
    let frames: Vec<&str> = screen
        .split(['\r', '\n'])
        .filter(|f| f.contains("ETA"))
        .collect();
    assert!(!frames.is_empty(), "no bar with an ETA:\n{screen}");
    assert!(
        frames
            .iter()
            .any(|f| f.contains("B/s") && f.contains("events (")),
        "no rate:\n{screen}"
    );
    let percents: BTreeSet<u32> = frames
        .iter()
        .filter_map(|f| {
            let at = f.find('%')?;
            f[..at].split_whitespace().last()?.parse().ok()
        })
        .collect();
    assert!(
        percents.len() >= 5,
        "the bar moved through {percents:?} only:\n{screen}"
    );
}
