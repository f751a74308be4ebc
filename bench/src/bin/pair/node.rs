//! One `aldebaran run` process of the benchmark: its config (a single node,
//! or one node of a pair), its logs, its status and its metrics.

use std::{
    fs,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// A free loopback port (bound, then released: good enough for a bench).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What a node is started as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// No `[ha]`: `run` exactly as without a pair.
    Single,
    /// One node of a pair with `replication = "sync"` or `"async"`.
    Pair { sync: bool },
}

pub struct Node {
    pub name: String,
    bin: PathBuf,
    dir: PathBuf,
    config: PathBuf,
    pub metrics_port: u16,
    child: Option<Child>,
    runs: u32,
}

/// The `[sinks]` of a node: an HTTP receiver, or none.
pub struct NodeSpec<'a> {
    pub queue: &'a str,
    pub http: Option<&'a str>,
    pub setup: Setup,
}

impl Node {
    /// Nodes for `spec` under `dir`: one for a single node, two (`a`, `b`,
    /// each the other's peer) for a pair.
    pub fn create(bin: &Path, dir: &Path, spec: &NodeSpec) -> Result<Vec<Node>> {
        let count = if spec.setup == Setup::Single { 1 } else { 2 };
        let repl = [free_port()?, free_port()?];
        (0..count)
            .map(|i| {
                let letter = ["a", "b"][i];
                let nd = dir.join(letter);
                fs::create_dir_all(&nd)?;
                let metrics_port = free_port()?;
                let q = spec.queue;
                let mut text = format!(
                    "[source]\nkind = \"amqp\"\n[source.amqp]\nqueue = \"{q}\"\nprefetch = 20000\n\
                     consumer_tag = \"{q}-{letter}\"\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\n\
                     [journal]\ndir = \"{j}\"\n[state]\ndir = \"{s}\"\n\
                     [replay]\ndead_letter = \"{d}\"\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n",
                    j = nd.join("journal").display(),
                    s = nd.join("state").display(),
                    d = nd.join("dead.jsonl").display(),
                );
                if let Some(url) = spec.http {
                    text += &format!("[sinks.hook]\nkind = \"http\"\nurl = \"{url}\"\n");
                }
                let name = format!("{q}-{letter}");
                if let Setup::Pair { sync } = spec.setup {
                    text += &format!(
                        "[ha]\nnode = \"{name}\"\nlisten = \"127.0.0.1:{}\"\npeer = \"127.0.0.1:{}\"\n\
                         replication = \"{}\"\n",
                        repl[i],
                        repl[1 - i],
                        if sync { "sync" } else { "async" }
                    );
                }
                let config = nd.join("aldebaran.toml");
                fs::write(&config, text)?;
                Ok(Node {
                    name,
                    bin: bin.to_owned(),
                    dir: nd,
                    config,
                    metrics_port,
                    child: None,
                    runs: 0,
                })
            })
            .collect()
    }

    pub fn start(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("{} is running already", self.name);
        }
        self.runs += 1;
        let out = fs::File::create(self.dir.join(format!("run-{}.out", self.runs)))?;
        let err = fs::File::create(self.dir.join(format!("run-{}.err", self.runs)))?;
        let child = Command::new(&self.bin)
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .env_remove("RUST_LOG")
            .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("start {}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Fails, with the log's tail, if the process exited by itself.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(c) = self.child.as_mut()
            && let Some(st) = c.try_wait()?
        {
            bail!("{} exited by itself ({st}):\n{}", self.name, self.tail());
        }
        Ok(())
    }

    pub fn signal(&self, sig: &str) -> Result<()> {
        let pid = self.pid().context("signal: not running")?;
        let st = Command::new("kill")
            .args(["-s", sig, &pid.to_string()])
            .status()?;
        if !st.success() {
            bail!("kill -s {sig} {pid} failed");
        }
        Ok(())
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// SIGTERM, and waits up to a minute for the exit.
    pub fn terminate(&mut self) -> Result<()> {
        if self.child.is_none() {
            return Ok(());
        }
        self.signal("TERM")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut c = self.child.take().context("a running node")?;
        while c.try_wait()?.is_none() {
            if Instant::now() > deadline {
                c.kill()?;
                c.wait()?;
                bail!("{} did not stop within 60 s of SIGTERM", self.name);
            }
            sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Peak resident set (VmHWM) of the running process, in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let s = fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let kb: f64 = s
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }

    /// The current run's stderr and stdout (the summary).
    pub fn logs(&self) -> String {
        let read = |ext: &str| {
            fs::read_to_string(self.dir.join(format!("run-{}.{ext}", self.runs)))
                .unwrap_or_default()
        };
        format!("{}{}", read("err"), read("out"))
    }

    fn tail(&self) -> String {
        let l = self.logs();
        let lines: Vec<&str> = l.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// This node's own report (`aldebaran status --json`, its first entry)
    /// when it answers.
    pub fn status(&self) -> Option<Value> {
        let out = Command::new(&self.bin)
            .args(["status", "--json", "--config"])
            .arg(&self.config)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        let own = v["nodes"].get(0)?.clone();
        (own["reachable"] == Value::Bool(true)).then_some(own)
    }

    /// Polls [`Node::status`] until `holds`, up to `within`.
    pub fn wait(
        &mut self,
        what: &str,
        within: Duration,
        holds: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + within;
        loop {
            self.check_running()?;
            if let Some(v) = self.status()
                && holds(&v)
            {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: not {what} within {within:?}:\n{}",
                    self.name,
                    self.tail()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// A counter or gauge of this node's `/metrics` (summed over labels).
    pub fn metric(&self, name: &str) -> Option<f64> {
        let mut s = TcpStream::connect(("127.0.0.1", self.metrics_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        let mut found = None;
        for l in body.lines() {
            let Some(rest) = l.strip_prefix(name) else {
                continue;
            };
            if !(rest.starts_with(' ') || rest.starts_with('{')) {
                continue;
            }
            if let Some(v) = l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
                *found.get_or_insert(0.0) += v;
            }
        }
        found
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}
