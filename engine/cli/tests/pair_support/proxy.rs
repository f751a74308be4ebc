//! [`Proxy`]: a TCP relay in the test process between a standby and the
//! active's replication address, which the test can cut (every connection
//! shut down, the port closed so new ones are refused) and restore (the
//! same port bound again).

use std::{
    io::ErrorKind,
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::{JoinHandle, sleep},
    time::{Duration, Instant},
};

/// The relay.
pub struct Proxy {
    /// `127.0.0.1:PORT`, to give the standby as its `peer`.
    pub addr: String,
    target: String,
    /// The relayed sockets (both sides), to shut down on a cut.
    open: Arc<Mutex<Vec<TcpStream>>>,
    accepted: Arc<AtomicUsize>,
    up: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Proxy {
    /// Listens on a free port and relays every connection to `target`.
    pub fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener
            .local_addr()
            .expect("the proxy's address")
            .to_string();
        let mut p = Proxy {
            addr,
            target: target.to_owned(),
            open: Arc::new(Mutex::new(Vec::new())),
            accepted: Arc::new(AtomicUsize::new(0)),
            up: None,
        };
        p.serve(listener);
        p
    }

    /// Connections accepted so far (over every up phase).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Acquire)
    }

    /// Cuts the link: the port closes (a connect is refused) and every
    /// relayed connection is shut down both ways.
    pub fn cut(&mut self) {
        if let Some((stop, t)) = self.up.take() {
            stop.store(true, Ordering::Release);
            let _ = t.join();
        }
        let open: Vec<TcpStream> = std::mem::take(&mut *self.open.lock().expect("proxy sockets"));
        for s in open {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Binds the same port again and relays anew.
    #[track_caller]
    pub fn restore(&mut self) {
        assert!(self.up.is_none(), "the proxy is up already");
        let deadline = Instant::now() + Duration::from_secs(30);
        let listener = loop {
            match TcpListener::bind(&self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("proxy: rebinding {}: {e}; retrying", self.addr);
                    sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("cannot bind the proxy's port {} again: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        listener
            .set_nonblocking(true)
            .expect("a non-blocking proxy listener");
        let stop = Arc::new(AtomicBool::new(false));
        let (s, open, accepted, target) = (
            Arc::clone(&stop),
            Arc::clone(&self.open),
            Arc::clone(&self.accepted),
            self.target.clone(),
        );
        let t = std::thread::spawn(move || {
            while !s.load(Ordering::Acquire) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => continue,
                };
                accepted.fetch_add(1, Ordering::AcqRel);
                // The target down: the client sees its connection close.
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                if client.set_nonblocking(false).is_err() {
                    continue;
                }
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                ) else {
                    continue;
                };
                if let Ok(mut o) = open.lock() {
                    o.push(c3);
                    o.push(s3);
                }
                std::thread::spawn(move || pump(client, server));
                std::thread::spawn(move || pump(s2, c2));
            }
            // The listener drops here: the port refuses connections.
        });
        self.up = Some((stop, t));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Copies `from` to `to` until either ends, then ends both.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
