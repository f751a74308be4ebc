//! Line sources: a memory-mapped file and any byte stream (stdin).

mod file;
mod stream;

pub(crate) use file::MappedFile;
pub(crate) use stream::read_stream;
