//! [`Link`]: one replication connection — the framed messages of
//! [`crate::wire`] over TCP, buffered both ways, `TCP_NODELAY` (a frame is
//! waited for by the active's acknowledgements), with a read and a write
//! timeout: each side sends a status at least every heartbeat, so a link
//! silent for the timeout is dead (a host gone, a cable cut) and is closed,
//! never waited on.
//!
//! A timed-out read may have consumed part of a frame, so a timeout ends
//! the link: the reader is not resumed.

use std::{
    io::{BufReader, BufWriter, Write},
    net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs},
    time::Duration,
};

use crate::{
    PairError, Result,
    wire::{Message, read_message, write_message},
};

/// A connected link, before it is split between two threads.
pub struct Link {
    reader: LinkReader,
    writer: LinkWriter,
}

/// The receiving half.
pub struct LinkReader {
    r: BufReader<TcpStream>,
    buf: Vec<u8>,
    peer: SocketAddr,
}

/// The sending half.
pub struct LinkWriter {
    w: BufWriter<TcpStream>,
    scratch: Vec<u8>,
    stream: TcpStream,
}

impl Link {
    /// Connects to `addr` (host:port), trying each address it resolves to
    /// for at most `connect_timeout`; `timeout` bounds every read and write.
    pub fn connect(addr: &str, connect_timeout: Duration, timeout: Duration) -> Result<Link> {
        let addrs = addr.to_socket_addrs().map_err(PairError::Io)?;
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, connect_timeout) {
                Ok(s) => return Link::over(s, timeout),
                Err(e) => last = Some(e),
            }
        }
        Err(PairError::Io(last.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("{addr} resolves to no address"),
            )
        })))
    }

    /// A link over an accepted (or connected) stream.
    pub fn over(stream: TcpStream, timeout: Duration) -> Result<Link> {
        stream.set_nodelay(true).map_err(PairError::Io)?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(PairError::Io)?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(PairError::Io)?;
        let peer = stream.peer_addr().map_err(PairError::Io)?;
        let r = stream.try_clone().map_err(PairError::Io)?;
        let w = stream.try_clone().map_err(PairError::Io)?;
        Ok(Link {
            reader: LinkReader {
                r: BufReader::with_capacity(1 << 20, r),
                buf: Vec::new(),
                peer,
            },
            writer: LinkWriter {
                w: BufWriter::with_capacity(1 << 20, w),
                scratch: Vec::new(),
                stream,
            },
        })
    }

    /// Sends `msg` now (written and flushed).
    pub fn send(&mut self, msg: &Message) -> Result<()> {
        self.writer.send(msg)?;
        self.writer.flush()
    }

    /// Receives the next message.
    pub fn recv(&mut self) -> Result<Message> {
        self.reader.recv()
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.reader.peer
    }

    /// Splits the link for a reading and a writing thread.
    pub fn split(self) -> (LinkReader, LinkWriter) {
        (self.reader, self.writer)
    }
}

impl LinkReader {
    /// Receives the next message; a timeout is an error (the link is dead).
    pub fn recv(&mut self) -> Result<Message> {
        read_message(&mut self.r, &mut self.buf)
    }

    /// Whether a message (or part of one) is already buffered: a reader
    /// applying a stream commits when this turns false.
    pub fn has_buffered(&self) -> bool {
        !self.r.buffer().is_empty()
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

impl LinkWriter {
    /// Queues `msg` (sent by the next [`LinkWriter::flush`], or sooner when
    /// the buffer fills).
    pub fn send(&mut self, msg: &Message) -> Result<()> {
        write_message(&mut self.w, msg, &mut self.scratch)
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> Result<()> {
        self.w.flush().map_err(PairError::Io)
    }

    /// Ends the connection both ways (the other half's blocked read
    /// returns).
    pub fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// A handle another thread can end the connection with.
    pub fn closer(&self) -> Result<Closer> {
        Ok(Closer(self.stream.try_clone().map_err(PairError::Io)?))
    }
}

/// Ends a link from another thread than its own (a node demoting itself
/// cuts its standby's connection at once).
pub struct Closer(TcpStream);

impl Closer {
    /// Ends the connection both ways.
    pub fn close(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::PeerStatus;
    use std::net::TcpListener;

    #[test]
    fn messages_cross_and_a_silent_peer_times_out() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let t = std::thread::spawn(move || {
            let (s, _) = l.accept().expect("accept");
            let mut link = Link::over(s, Duration::from_secs(5)).expect("link");
            let m = link.recv().expect("recv");
            link.send(&m).expect("echo");
            // Then silence: the client's read times out.
            std::thread::sleep(Duration::from_millis(400));
        });
        let mut c = Link::connect(&addr, Duration::from_secs(1), Duration::from_millis(150))
            .expect("connect");
        let status = Message::Status(PeerStatus {
            epoch: 1,
            active: true,
            synced: false,
            input_head: 2,
            journal_head: 3,
            lag_events: 5,
        });
        c.send(&status).expect("send");
        assert_eq!(c.recv().expect("echo"), status);
        let err = c.recv().expect_err("silence");
        assert!(err.is_transient(), "{err}");
        t.join().expect("server");
    }

    #[test]
    fn nobody_listening_is_a_transient_error() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        drop(l);
        let e = Link::connect(&addr, Duration::from_millis(200), Duration::from_secs(1))
            .err()
            .expect("refused");
        assert!(e.is_transient());
    }
}
