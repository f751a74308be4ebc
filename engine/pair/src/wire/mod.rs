//! The replication protocol between the two nodes of a pair: one TCP
//! connection, the standby's, carrying length-prefixed, CRC-checked messages
//! (`frame`), opened by a versioned handshake in which each side names
//! itself, its epoch and where its journal and input log stand (`message`).

mod frame;
mod message;

pub use frame::{read_message, write_message};
pub use message::{Hello, JoinMode, Message, PeerStatus, VERSION};
