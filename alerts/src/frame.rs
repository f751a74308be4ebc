//! Byte layout of a segment file and a reader of its frames.
//!
//! ```text
//! segment = header frame*
//! header  = "ALDJNL" version:u16le                          (8 bytes)
//! frame   = len:u32le crc:u32le seq:u64le payload[len]      (16 + len bytes)
//! crc     = CRC-32 (crc32fast) over seq:u64le ++ payload
//! ```
//!
//! The length is not covered by the CRC; a damaged length shows up as a CRC
//! mismatch, a length over [`MAX_PAYLOAD`], or a frame running past the end of
//! the file.

use std::io::{self, Read, Seek, SeekFrom};

pub(crate) const MAGIC: [u8; 6] = *b"ALDJNL";
/// The segment format version written (and the only one read): see
/// [`crate::formats::SEGMENT`].
pub(crate) const VERSION: u16 = crate::formats::SEGMENT.current as u16;
pub(crate) const HEADER_LEN: u64 = 8;
pub(crate) const FRAME_HEADER_LEN: usize = 16;
/// Largest payload accepted; bounds what a damaged length field can make us read.
pub(crate) const MAX_PAYLOAD: u32 = 16 << 20;

pub(crate) fn segment_header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..6].copy_from_slice(&MAGIC);
    h[6..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

pub(crate) fn frame_len(payload_len: usize) -> u64 {
    (FRAME_HEADER_LEN + payload_len) as u64
}

pub(crate) fn checksum(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Appends one frame to `buf`. The caller has checked `payload.len() <= MAX_PAYLOAD`.
pub(crate) fn encode_into(buf: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_PAYLOAD as usize);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&checksum(seq, payload).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
}

/// What is wrong with a frame that could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadKind {
    /// The frame header or the payload runs past the end of the file.
    Incomplete,
    /// The length field exceeds [`MAX_PAYLOAD`].
    BadLength(u32),
    /// The CRC does not match seq + payload.
    BadCrc,
}

/// Observed facts about the first unreadable frame of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadFrame {
    /// Byte offset of the frame in its segment.
    pub offset: u64,
    pub kind: BadKind,
    /// Every byte from `offset` to the end of the file is zero.
    pub zeros_from_start: bool,
    /// Every byte after the frame (after its 16-byte header for `BadLength`) is
    /// zero, or there are none.
    pub zeros_after: bool,
}

/// Outcome of reading at the current position.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// A good frame; its payload is in the caller's buffer.
    Frame {
        offset: u64,
        seq: u64,
    },
    /// Clean end of file at a frame boundary.
    End,
    /// A frame header of zero bytes: never a frame (seq 0 is not used and its
    /// CRC would not be 0), so nothing was written here yet. The writer
    /// preallocates zeros ahead of its records; whether everything after is
    /// zero too is left to the caller (a live tail need not look further).
    Zeros {
        offset: u64,
    },
    Bad(BadFrame),
}

/// Reads frames sequentially. The position only advances past good frames, so
/// after `End` or `Bad` a later call (or [`FrameReader::rewind`]) retries there.
pub(crate) struct FrameReader<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> FrameReader<R> {
    /// `inner` is positioned at byte `offset` of the segment.
    pub(crate) fn new(inner: R, offset: u64) -> Self {
        Self { inner, offset }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The underlying reader; the caller must leave it positioned at `offset()`.
    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Reads the next frame, its payload into `payload` (cleared first).
    pub(crate) fn next_frame(&mut self, payload: &mut Vec<u8>) -> io::Result<Next> {
        payload.clear();
        let offset = self.offset;
        let mut head = [0u8; FRAME_HEADER_LEN];
        let n = read_full(&mut self.inner, &mut head)?;
        if n == 0 {
            return Ok(Next::End);
        }
        let head_zero = all_zero(&head[..n]);
        if n < FRAME_HEADER_LEN {
            return Ok(Next::Bad(BadFrame {
                offset,
                kind: BadKind::Incomplete,
                zeros_from_start: head_zero,
                zeros_after: true,
            }));
        }
        if head_zero {
            return Ok(Next::Zeros { offset });
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let seq = u64::from_le_bytes([
            head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
        ]);
        if len > MAX_PAYLOAD {
            let rest_zero = rest_is_zero(&mut self.inner)?;
            return Ok(Next::Bad(BadFrame {
                offset,
                kind: BadKind::BadLength(len),
                zeros_from_start: false, // len > 0, so the header is not all zero
                zeros_after: rest_zero,
            }));
        }
        // `take` + `read_to_end` grows the buffer only as far as the file has data,
        // so a damaged length near MAX_PAYLOAD costs no large allocation.
        let got = (&mut self.inner)
            .take(u64::from(len))
            .read_to_end(payload)?;
        if got < len as usize {
            return Ok(Next::Bad(BadFrame {
                offset,
                kind: BadKind::Incomplete,
                zeros_from_start: head_zero && all_zero(payload),
                zeros_after: true,
            }));
        }
        if checksum(seq, payload) != crc {
            let rest_zero = rest_is_zero(&mut self.inner)?;
            return Ok(Next::Bad(BadFrame {
                offset,
                kind: BadKind::BadCrc,
                zeros_from_start: head_zero && all_zero(payload) && rest_zero,
                zeros_after: rest_zero,
            }));
        }
        self.offset += frame_len(payload.len());
        Ok(Next::Frame { offset, seq })
    }
}

impl<R: Read + Seek> FrameReader<R> {
    /// Seeks back to the current frame boundary, to retry after `End` or `Bad`.
    pub(crate) fn rewind(&mut self) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(self.offset)).map(drop)
    }
}

pub(crate) fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Reads until `buf` is full or end of file; returns the bytes read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Consumes `r` to its end; true if every remaining byte is zero.
pub(crate) fn rest_is_zero(r: &mut impl Read) -> io::Result<bool> {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = read_full(r, &mut chunk)?;
        if !all_zero(&chunk[..n]) {
            return Ok(false);
        }
        if n < chunk.len() {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all(bytes: &[u8]) -> Vec<Next> {
        let mut r = FrameReader::new(Cursor::new(bytes), 0);
        let mut out = Vec::new();
        let mut payload = Vec::new();
        loop {
            let next = r.next_frame(&mut payload).expect("in-memory read");
            let stop = !matches!(next, Next::Frame { .. });
            out.push(next);
            if stop {
                return out;
            }
        }
    }

    #[test]
    fn round_trip() {
        let payloads: [&[u8]; 3] = [b"", b"{}", &[7u8; 1000]];
        let mut buf = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            encode_into(&mut buf, 10 + i as u64, p);
        }
        let mut r = FrameReader::new(Cursor::new(&buf), 0);
        let mut payload = Vec::new();
        let mut offset = 0;
        for (i, p) in payloads.iter().enumerate() {
            let next = r.next_frame(&mut payload).expect("in-memory read");
            assert_eq!(
                next,
                Next::Frame {
                    offset,
                    seq: 10 + i as u64
                }
            );
            assert_eq!(payload, *p);
            offset += frame_len(p.len());
        }
        assert_eq!(r.next_frame(&mut payload).expect("read"), Next::End);
        assert_eq!(r.offset(), buf.len() as u64);
    }

    #[test]
    fn crc_covers_seq() {
        let mut buf = Vec::new();
        encode_into(&mut buf, 1, b"abc");
        buf[8] ^= 1; // seq 1 -> 0
        let next = read_all(&buf).pop();
        assert!(matches!(
            next,
            Some(Next::Bad(BadFrame {
                kind: BadKind::BadCrc,
                offset: 0,
                ..
            }))
        ));
    }

    #[test]
    fn incomplete_and_zero_and_bad_length() {
        let mut buf = Vec::new();
        encode_into(&mut buf, 1, b"abc");
        for cut in 1..buf.len() {
            let got = read_all(&buf[..cut]).pop();
            assert!(
                matches!(
                    got,
                    Some(Next::Bad(BadFrame {
                        kind: BadKind::Incomplete,
                        zeros_after: true,
                        ..
                    }))
                ),
                "cut {cut}: {got:?}"
            );
        }
        let zeros = [0u8; 40];
        assert_eq!(read_all(&zeros).pop(), Some(Next::Zeros { offset: 0 }));
        // A zero header after a good frame: the position stays at the boundary.
        let mut then_zeros = buf.clone();
        then_zeros.extend_from_slice(&zeros);
        let mut r = FrameReader::new(Cursor::new(&then_zeros), 0);
        let mut payload = Vec::new();
        assert!(matches!(
            r.next_frame(&mut payload),
            Ok(Next::Frame { seq: 1, .. })
        ));
        let at = buf.len() as u64;
        assert_eq!(
            r.next_frame(&mut payload).expect("read"),
            Next::Zeros { offset: at }
        );
        assert_eq!(r.offset(), at);
        let mut big = Vec::new();
        big.extend_from_slice(&(MAX_PAYLOAD + 1).to_le_bytes());
        big.extend_from_slice(&[1u8; 30]);
        let got = read_all(&big).pop();
        assert!(matches!(
            got,
            Some(Next::Bad(BadFrame {
                kind: BadKind::BadLength(_),
                zeros_after: false,
                ..
            }))
        ));
    }

    #[test]
    fn header_layout() {
        assert_eq!(&segment_header(), b"ALDJNL\x01\x00");
    }
}
