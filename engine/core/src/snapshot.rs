//! A small binary codec for job state snapshots (the state part of the
//! checkpoints `aldebaran run` writes while it runs and reads at start).
//!
//! Little-endian fixed-width integers and length-prefixed bytes; the engine
//! frames each shard's bytes and checks a CRC over the whole snapshot.

use std::fmt;

/// A snapshot that cannot be read: truncated, corrupt, or from another setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError(pub String);

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SnapshotError {}

/// Appends state to a buffer.
#[derive(Debug)]
pub struct SnapshotWriter<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> SnapshotWriter<'a> {
    /// Writes into `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        SnapshotWriter { buf }
    }

    /// A `u8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A `u128`.
    pub fn u128(&mut self, v: u128) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// A length-prefixed string.
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
}

/// Reads state back, failing cleanly on truncated or invalid input.
#[derive(Debug)]
pub struct SnapshotReader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> SnapshotReader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        SnapshotReader { buf, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| SnapshotError(format!("snapshot truncated at byte {}", self.at)))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A `u8`.
    pub fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A `u128`.
    pub fn u128(&mut self) -> Result<u128, SnapshotError> {
        Ok(u128::from_le_bytes(self.array()?))
    }

    /// A count that must fit in what is left (each element at least `min` bytes).
    pub fn count(&mut self, min: usize) -> Result<usize, SnapshotError> {
        let n = self.u64()?;
        let left = (self.buf.len() - self.at) / min.max(1);
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= left)
            .ok_or_else(|| {
                SnapshotError(format!(
                    "snapshot count {n} exceeds its data at byte {}",
                    self.at
                ))
            })
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], SnapshotError> {
        let n = self.count(1)?;
        self.take(n)
    }

    /// A length-prefixed string.
    pub fn str(&mut self) -> Result<&'a str, SnapshotError> {
        let at = self.at;
        std::str::from_utf8(self.bytes()?)
            .map_err(|_| SnapshotError(format!("snapshot string at byte {at} is not UTF-8")))
    }

    /// Whether everything was read.
    pub fn is_done(&self) -> bool {
        self.at == self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let mut buf = Vec::new();
        let mut w = SnapshotWriter::new(&mut buf);
        w.u8(7);
        w.u32(9);
        w.u64(u64::MAX);
        w.u128(1 << 100);
        w.str("héllo");
        let mut r = SnapshotReader::new(&buf);
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u32().unwrap(), 9);
        assert_eq!(r.u64().unwrap(), u64::MAX);
        assert_eq!(r.u128().unwrap(), 1 << 100);
        assert_eq!(r.str().unwrap(), "héllo");
        assert!(r.is_done());
        for cut in 0..buf.len() {
            let mut r = SnapshotReader::new(&buf[..cut]);
            let all = (|| {
                r.u8()?;
                r.u32()?;
                r.u64()?;
                r.u128()?;
                r.str().map(|_| ())
            })();
            assert!(all.is_err(), "cut at {cut}");
        }
    }
}
