//! The progress a replay reports after each batch (the CLI's progress bar):
//! it follows the engine through the file line by line, so the bar moves
//! smoothly on a file far smaller than the ingest ring or 1 MiB.

use ingest::Input;
use pipeline::{ReplayPlan, config::Config, replay};

#[test]
fn progress_moves_with_each_batch_on_a_small_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("trades.jsonl");
    let mut text = String::new();
    for i in 0..2_000 {
        text.push_str(&format!(
            "{{\"id\":\"o-{i}\",\"#shares\":10,\"client\":\"c\",\"stock\":\"S\",\"ts\":{}}}\n",
            1_000 + i
        ));
        if i % 100 == 0 {
            text.push_str("{not json\n");
        }
    }
    std::fs::write(&file, &text).expect("write");
    let total = text.len() as u64;
    assert!(total < 1 << 20);

    let mut config = Config::load(None, std::iter::empty()).expect("default config");
    config.journal.dir = dir.path().join("journal");
    config.engine.batch_events = 50;
    let plan = ReplayPlan {
        input: Input::File(file),
        config,
    };
    let mut seen = Vec::new();
    replay(&plan, |p| {
        assert_eq!(p.total, Some(total));
        seen.push((p.bytes, p.events));
    })
    .expect("replay");

    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "goes back: {seen:?}");
    let mut at: Vec<u64> = seen.iter().map(|(b, _)| *b).collect();
    at.dedup();
    assert!(at.len() >= 30, "{} distinct positions: {seen:?}", at.len());
    assert!(at.iter().all(|&b| b < total), "{seen:?}");
    let last_line = text.lines().last().expect("a line").len() as u64 + 1;
    assert_eq!(at.last().copied(), Some(total - last_line), "{seen:?}");
}
