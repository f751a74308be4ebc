//! The messages of the replication protocol, and their binary encoding
//! (little-endian integers, `u32`-length-prefixed strings and bytes, a kind
//! byte first).

use crate::{PairError, Result};

/// The protocol version this binary speaks; a peer speaking another is
/// refused at the handshake, naming both.
pub const VERSION: u32 = 1;

/// One side's introduction: who it is and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub version: u32,
    /// `[ha] node`.
    pub node: String,
    /// The node's epoch (persisted; raised by every takeover).
    pub epoch: u64,
    /// The seq its journal appends next.
    pub journal_next_seq: u64,
    /// A digest of its last journal record, every byte of it (0 if none):
    /// the journals are prefixes of each other only if the active's record
    /// at that seq has the same one (the same `alert_id` is not enough: a
    /// former active's unreplicated record differs in `detected_at`).
    pub journal_last_digest: u64,
    /// The highest seq its own sinks recorded (delivered or in flight): a
    /// record there was (perhaps) shipped, and must be the active's too.
    pub shipped_seq: u64,
    /// The `alert_id` of that record ("" if none).
    pub shipped_id: String,
    /// The seq its input log appends next.
    pub input_next_seq: u64,
    /// A digest of its last input frame (0 if none): the frames it holds
    /// are a prefix of the active's only if this matches.
    pub input_last_digest: u64,
}

/// How a standby joins, as the active decided ([`crate::join`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinMode {
    /// Its input log and journal are prefixes of the active's: journal
    /// records follow from `journal_from`, frames from `input_from` (both
    /// where the standby said it stands).
    Stream { input_from: u64, journal_from: u64 },
    /// They are not (or the active no longer holds what would follow): the
    /// standby sets its journal and state aside and starts again from the
    /// active's: journal records from `journal_from` (the oldest the active
    /// keeps), then a snapshot (a checkpoint), then the frames after it.
    Resync { journal_from: u64 },
}

/// What a node says of itself now and then (the heartbeat, and the answer to
/// a node that connects to a standby).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerStatus {
    pub epoch: u64,
    /// It holds the lease and consumes.
    pub active: bool,
    /// Said by an active: its acknowledgements and shipping wait for this
    /// standby (it is in sync). A standby may take over only from an active
    /// that said so last.
    pub synced: bool,
    /// The newest input frame it holds.
    pub input_head: u64,
    /// The newest journal seq it holds.
    pub journal_head: u64,
    /// Said by an active: events it logged that its standby has not
    /// acknowledged yet.
    pub lag_events: u64,
}

/// A message of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Standby → active: the handshake.
    Hello(Hello),
    /// Active → standby: the handshake's answer and how the standby joins;
    /// the stream follows.
    Welcome { active: Hello, join: JoinMode },
    /// Either side: the connection is refused, and why.
    Refuse(String),
    /// Active → standby: input frame `seq` (an input-log frame, as logged).
    Input { seq: u64, frame: Vec<u8> },
    /// Standby → active: every frame through `input_seq` is durable here,
    /// the journal holds every alert below `journal_next_seq`, and every
    /// cursor file through message `cursor` is installed.
    Ack {
        input_seq: u64,
        journal_next_seq: u64,
        cursor: u64,
    },
    /// Active → standby: a file of the journal's `cursors/` directory (a
    /// sink's cursor, the registry) as the shipper just wrote it; `id`
    /// numbers these messages on the connection.
    Cursor {
        id: u64,
        path: String,
        bytes: Vec<u8>,
    },
    /// Either side: where it stands (also the heartbeat).
    Status(PeerStatus),
    /// Active → standby, resync: a piece of the state snapshot (a checkpoint
    /// file), `total` bytes in all.
    Snapshot {
        offset: u64,
        total: u64,
        bytes: Vec<u8>,
    },
    /// Active → standby: journal record `seq`, as the active appended it.
    Record { seq: u64, payload: Vec<u8> },
    /// `aldebaran status` → a node: describe yourself.
    Query,
    /// A node → `aldebaran status`: its status, as a JSON object.
    Report(String),
}

const HELLO: u8 = 1;
const WELCOME: u8 = 2;
const REFUSE: u8 = 3;
const INPUT: u8 = 4;
const ACK: u8 = 5;
const CURSOR: u8 = 6;
const STATUS: u8 = 7;
const SNAPSHOT: u8 = 8;
const RECORD: u8 = 9;
const QUERY: u8 = 10;
const REPORT: u8 = 11;

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, v: &[u8]) {
    put_u32(out, v.len() as u32);
    out.extend_from_slice(v);
}

fn put_hello(out: &mut Vec<u8>, h: &Hello) {
    put_u32(out, h.version);
    put_bytes(out, h.node.as_bytes());
    put_u64(out, h.epoch);
    put_u64(out, h.journal_next_seq);
    put_u64(out, h.journal_last_digest);
    put_u64(out, h.shipped_seq);
    put_bytes(out, h.shipped_id.as_bytes());
    put_u64(out, h.input_next_seq);
    put_u64(out, h.input_last_digest);
}

/// Reads the fields of a message body, failing cleanly when it is short.
struct Fields<'a> {
    b: &'a [u8],
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() < n {
            return Err(PairError::Protocol("a message ends too early".into()));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| PairError::Protocol("a string that is not UTF-8".into()))
    }

    fn hello(&mut self) -> Result<Hello> {
        Ok(Hello {
            version: self.u32()?,
            node: self.string()?,
            epoch: self.u64()?,
            journal_next_seq: self.u64()?,
            journal_last_digest: self.u64()?,
            shipped_seq: self.u64()?,
            shipped_id: self.string()?,
            input_next_seq: self.u64()?,
            input_last_digest: self.u64()?,
        })
    }
}

impl Message {
    /// Appends the message's body to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Message::Hello(h) => {
                out.push(HELLO);
                put_hello(out, h);
            }
            Message::Welcome { active, join } => {
                out.push(WELCOME);
                put_hello(out, active);
                match join {
                    JoinMode::Stream {
                        input_from,
                        journal_from,
                    } => {
                        out.push(0);
                        put_u64(out, *input_from);
                        put_u64(out, *journal_from);
                    }
                    JoinMode::Resync { journal_from } => {
                        out.push(1);
                        put_u64(out, *journal_from);
                    }
                }
            }
            Message::Refuse(why) => {
                out.push(REFUSE);
                put_bytes(out, why.as_bytes());
            }
            Message::Input { seq, frame } => {
                out.push(INPUT);
                put_u64(out, *seq);
                put_bytes(out, frame);
            }
            Message::Ack {
                input_seq,
                journal_next_seq,
                cursor,
            } => {
                out.push(ACK);
                put_u64(out, *input_seq);
                put_u64(out, *journal_next_seq);
                put_u64(out, *cursor);
            }
            Message::Cursor { id, path, bytes } => {
                out.push(CURSOR);
                put_u64(out, *id);
                put_bytes(out, path.as_bytes());
                put_bytes(out, bytes);
            }
            Message::Status(s) => {
                out.push(STATUS);
                put_u64(out, s.epoch);
                out.push(s.active as u8);
                out.push(s.synced as u8);
                put_u64(out, s.input_head);
                put_u64(out, s.journal_head);
                put_u64(out, s.lag_events);
            }
            Message::Snapshot {
                offset,
                total,
                bytes,
            } => {
                out.push(SNAPSHOT);
                put_u64(out, *offset);
                put_u64(out, *total);
                put_bytes(out, bytes);
            }
            Message::Record { seq, payload } => {
                out.push(RECORD);
                put_u64(out, *seq);
                put_bytes(out, payload);
            }
            Message::Query => out.push(QUERY),
            Message::Report(json) => {
                out.push(REPORT);
                put_bytes(out, json.as_bytes());
            }
        }
    }

    /// Decodes a message body.
    pub(crate) fn decode(body: &[u8]) -> Result<Message> {
        let mut f = Fields { b: body };
        let m = match f.u8()? {
            HELLO => Message::Hello(f.hello()?),
            WELCOME => {
                let active = f.hello()?;
                let join = match f.u8()? {
                    0 => JoinMode::Stream {
                        input_from: f.u64()?,
                        journal_from: f.u64()?,
                    },
                    1 => JoinMode::Resync {
                        journal_from: f.u64()?,
                    },
                    k => return Err(PairError::Protocol(format!("unknown join mode {k}"))),
                };
                Message::Welcome { active, join }
            }
            REFUSE => Message::Refuse(f.string()?),
            INPUT => Message::Input {
                seq: f.u64()?,
                frame: f.bytes()?.to_vec(),
            },
            ACK => Message::Ack {
                input_seq: f.u64()?,
                journal_next_seq: f.u64()?,
                cursor: f.u64()?,
            },
            CURSOR => Message::Cursor {
                id: f.u64()?,
                path: f.string()?,
                bytes: f.bytes()?.to_vec(),
            },
            STATUS => Message::Status(PeerStatus {
                epoch: f.u64()?,
                active: f.u8()? != 0,
                synced: f.u8()? != 0,
                input_head: f.u64()?,
                journal_head: f.u64()?,
                lag_events: f.u64()?,
            }),
            SNAPSHOT => Message::Snapshot {
                offset: f.u64()?,
                total: f.u64()?,
                bytes: f.bytes()?.to_vec(),
            },
            RECORD => Message::Record {
                seq: f.u64()?,
                payload: f.bytes()?.to_vec(),
            },
            QUERY => Message::Query,
            REPORT => Message::Report(f.string()?),
            k => return Err(PairError::Protocol(format!("unknown message kind {k}"))),
        };
        if !f.b.is_empty() {
            return Err(PairError::Protocol("trailing bytes in a message".into()));
        }
        Ok(m)
    }
}
