//! The SFTP protocol (version 3), without I/O: [`wire`] encodes requests and decodes replies,
//! [`buffers`] recycles their packet buffers. A connection's thread (`mux.rs`) moves the bytes;
//! `sftp_client.rs` gives the operations typed requests over it.

pub mod buffers;
pub mod wire;
