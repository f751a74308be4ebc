//! Message framing: `len:u32le crc:u32le body`, the CRC (IEEE) over the body,
//! `len` its length. A message larger than [`MAX_MESSAGE`] or with a bad CRC
//! ends the connection: the peer is not speaking this protocol, or the bytes
//! were damaged on the way.

use std::io::{Read, Write};

use super::message::Message;
use crate::{PairError, Result};

/// The largest message accepted (a snapshot travels in chunks below it).
pub const MAX_MESSAGE: usize = 256 << 20;

/// Writes `msg` as one frame (the caller flushes a buffered writer).
pub fn write_message(w: &mut impl Write, msg: &Message, scratch: &mut Vec<u8>) -> Result<()> {
    scratch.clear();
    scratch.extend_from_slice(&[0u8; 8]);
    msg.encode(scratch);
    let body_len = scratch.len() - 8;
    if body_len > MAX_MESSAGE {
        return Err(PairError::Protocol(format!(
            "message of {body_len} bytes exceeds {MAX_MESSAGE}"
        )));
    }
    let crc = crc32fast::hash(&scratch[8..]);
    scratch[..4].copy_from_slice(&(body_len as u32).to_le_bytes());
    scratch[4..8].copy_from_slice(&crc.to_le_bytes());
    w.write_all(scratch).map_err(PairError::Io)
}

/// Reads one frame into `buf` and decodes it.
pub fn read_message(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<Message> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head).map_err(PairError::Io)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if len > MAX_MESSAGE {
        return Err(PairError::Protocol(format!(
            "a message of {len} bytes: not this protocol"
        )));
    }
    buf.resize(len, 0);
    r.read_exact(buf).map_err(PairError::Io)?;
    if crc32fast::hash(buf) != crc {
        return Err(PairError::Protocol("message CRC mismatch".into()));
    }
    Message::decode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Hello, PeerStatus};

    fn all() -> Vec<Message> {
        vec![
            Message::Hello(Hello {
                version: crate::wire::VERSION,
                node: "b".into(),
                epoch: 3,
                journal_next_seq: 10,
                journal_last_digest: 77,
                shipped_seq: 8,
                shipped_id: "orphan:o:q".into(),
                input_next_seq: 7,
                input_last_digest: 99,
            }),
            Message::Welcome {
                active: Hello {
                    version: crate::wire::VERSION,
                    node: "a".into(),
                    epoch: 4,
                    journal_next_seq: 12,
                    journal_last_digest: 0,
                    shipped_seq: 0,
                    shipped_id: String::new(),
                    input_next_seq: 9,
                    input_last_digest: 0,
                },
                join: crate::wire::JoinMode::Stream {
                    input_from: 7,
                    journal_from: 10,
                },
            },
            Message::Welcome {
                active: Hello {
                    version: crate::wire::VERSION,
                    node: "a".into(),
                    epoch: 4,
                    journal_next_seq: 12,
                    journal_last_digest: 0,
                    shipped_seq: 0,
                    shipped_id: String::new(),
                    input_next_seq: 9,
                    input_last_digest: 0,
                },
                join: crate::wire::JoinMode::Resync { journal_from: 8 },
            },
            Message::Refuse("diverged".into()),
            Message::Input {
                seq: 8,
                frame: vec![1, 2, 3],
            },
            Message::Ack {
                input_seq: 8,
                journal_next_seq: 11,
                cursor: 2,
            },
            Message::Cursor {
                id: 2,
                path: "cursors/archive.cursor".into(),
                bytes: vec![7; 40],
            },
            Message::Status(PeerStatus {
                epoch: 4,
                active: true,
                synced: true,
                input_head: 9,
                journal_head: 11,
                lag_events: 5,
            }),
            Message::Snapshot {
                offset: 0,
                total: 3,
                bytes: vec![9, 9, 9],
            },
            Message::Record {
                seq: 3,
                payload: b"{}".to_vec(),
            },
            Message::Query,
            Message::Report("{\"node\":\"a\"}".into()),
        ]
    }

    #[test]
    fn every_message_round_trips_through_a_stream() {
        let mut wire = Vec::new();
        let mut scratch = Vec::new();
        for m in all() {
            write_message(&mut wire, &m, &mut scratch).expect("write");
        }
        let mut r = &wire[..];
        let mut buf = Vec::new();
        for m in all() {
            assert_eq!(read_message(&mut r, &mut buf).expect("read"), m);
        }
        assert!(read_message(&mut r, &mut buf).is_err(), "the stream ended");
    }

    #[test]
    fn damage_ends_the_connection_never_misreads() {
        let mut wire = Vec::new();
        write_message(&mut wire, &all()[4], &mut Vec::new()).expect("write");
        for i in 0..wire.len() {
            let mut bad = wire.clone();
            bad[i] ^= 0x40;
            let got = read_message(&mut &bad[..], &mut Vec::new());
            assert!(
                got.is_err() || got.ok() == Some(all()[3].clone()),
                "byte {i}"
            );
        }
        let huge = [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
        assert!(read_message(&mut &huge[..], &mut Vec::new()).is_err());
    }
}
