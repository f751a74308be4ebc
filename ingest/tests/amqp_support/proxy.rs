//! A TCP proxy in front of the broker that can stop forwarding, in both
//! directions, without closing anything: what a silent network loss looks
//! like to both ends (no FIN, no RST, just nothing).

use std::{
    io::{ErrorKind, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::{JoinHandle, sleep, spawn},
    time::Duration,
};

/// A proxy from a port of 127.0.0.1 to `upstream`.
pub struct Proxy {
    port: u16,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a free port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let paused = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&paused), Arc::clone(&stop));
        let accept = spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect(upstream) else {
                            continue;
                        };
                        let _ = client.set_nonblocking(false);
                        pump_both(client, server, &p, &s);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => sleep(Duration::from_millis(10)),
                    Err(_) => break,
                }
            }
        });
        Proxy {
            port,
            paused,
            stop,
            accept: Some(accept),
        }
    }

    /// The broker URL through the proxy.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Stops forwarding (what was read stays held until [`Proxy::resume`]).
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Forwards again, what was held first.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn pump_both(
    client: TcpStream,
    server: TcpStream,
    paused: &Arc<AtomicBool>,
    stop: &Arc<AtomicBool>,
) {
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    for (from, to) in [(client, s2), (server, c2)] {
        let (p, s) = (Arc::clone(paused), Arc::clone(stop));
        spawn(move || pump(from, to, &p, &s));
    }
}

/// Copies `from` to `to` until either closes or the proxy stops; holds
/// each chunk read while paused.
fn pump(mut from: TcpStream, mut to: TcpStream, paused: &AtomicBool, stop: &AtomicBool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                while paused.load(Ordering::SeqCst) && !stop.load(Ordering::Relaxed) {
                    sleep(Duration::from_millis(5));
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
