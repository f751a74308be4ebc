//! A unique input queue per measurement, declared with `aldebaran declare`
//! and deleted when dropped.

use std::{
    path::Path,
    process::Command,
    thread::sleep,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};

pub struct Queue {
    pub name: String,
}

impl Queue {
    pub fn declare(bin: &Path, tag: &str) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "aldebaran-bench-pair-{tag}-{}-{nanos:09}",
            std::process::id()
        );
        let out = Command::new(bin)
            .args(["declare", "--queue", &name])
            .output()
            .context("aldebaran declare")?;
        if !out.status.success() {
            bail!("declare {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(Queue { name })
    }

    /// Waits until the queue has a consumer (a single node is up).
    pub fn wait_consumer(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new("rabbitmqctl")
                .args(["-q", "list_queues", "name", "consumers"])
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let has = text.lines().any(|l| {
                let mut w = l.split_whitespace();
                w.next() == Some(self.name.as_str()) && w.next().is_some_and(|c| c != "0")
            });
            if has {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{}: no consumer within 60 s", self.name);
            }
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_queue", &self.name])
            .output();
    }
}
