//! Buffers for big SFTP packets, reused.
//!
//! File data moves in packets of up to 255 KiB, each its own buffer from the connection's
//! thread to the caller (downloads) or the other way (uploads). Allocating and freeing those
//! on different threads made glibc map, unmap and trim memory all the time (a quarter more
//! system time on a 64 MiB transfer); a few spare buffers kept here avoid it. Small packets
//! are plain allocations.

use std::sync::Mutex;

use crate::sync::lock;

/// Smallest buffer worth keeping.
const MIN: usize = 64 << 10;
/// Spare buffers kept at most (with 255 KiB packets, about 4 MiB).
const KEEP: usize = 16;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer with room for `capacity` bytes: a spare one when it is big.
pub fn take(capacity: usize) -> Vec<u8> {
    let mut buf = spare(capacity).unwrap_or_else(|| Vec::with_capacity(capacity));
    buf.clear();
    buf
}

/// A buffer of exactly `len` bytes to read into. A spare one keeps its old bytes (they are
/// overwritten by the read): no time is spent zeroing 255 KiB for every packet.
pub fn take_filled(len: usize) -> Vec<u8> {
    let mut buf = spare(len).unwrap_or_default();
    buf.resize(len, 0);
    buf
}

fn spare(capacity: usize) -> Option<Vec<u8>> {
    if capacity < MIN {
        return None;
    }
    let mut spare = lock(&SPARE);
    let i = spare.iter().position(|b| b.capacity() >= capacity)?;
    Some(spare.swap_remove(i))
}

/// Gives a buffer back for reuse (kept if it is big and there is room, else freed).
pub fn give(buf: Vec<u8>) {
    if buf.capacity() < MIN {
        return;
    }
    let mut spare = lock(&SPARE);
    if spare.len() < KEEP {
        spare.push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_buffers_come_back_small_ones_do_not() {
        let big = take(MIN * 2);
        let ptr = big.as_ptr();
        give(big);
        let again = take(MIN);
        assert!(again.is_empty() && again.capacity() >= MIN * 2);
        assert_eq!(again.as_ptr(), ptr, "the spare was reused");
        give(Vec::with_capacity(10));
        assert!(take(10).capacity() < MIN);
    }
}
