//! A local file written and hashed on a thread of its own, so a download's receiving side only
//! receives.
//!
//! On a 2-core machine a 64 MiB download kept one thread busy with receiving, decrypting,
//! SHA-256 (about a third of its time) and copying into the page cache, one piece after the
//! other, while the cores sat idle a quarter of the time. Here each piece (the SFTP answer it
//! arrived in, by value: no copy) goes on a short bounded queue; this thread writes and hashes
//! it. Memory stays bounded: the queue holds at most [`QUEUE`] pieces.

use std::fs::File;
use std::io::{self, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender};

use crate::sha256::Sha256;

/// Pieces queued for the writer at most (a full queue makes the network thread wait).
const QUEUE: usize = 4;

/// A file being written in order by a thread of its own.
pub struct FileWriter {
    pieces: Option<Sender<(Vec<u8>, usize, usize)>>,
    thread: Option<JoinHandle<io::Result<String>>>,
}

impl FileWriter {
    /// Starts the thread that writes into `file` (from its current position).
    pub fn start(mut file: File) -> io::Result<FileWriter> {
        let (pieces, queued) = bounded::<(Vec<u8>, usize, usize)>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("scout-write".into())
            .spawn(move || {
                let mut hash = Sha256::new();
                for (buf, start, len) in queued {
                    let piece = buf.get(start..start + len).unwrap_or_default();
                    file.write_all(piece)?;
                    hash.update(piece);
                    crate::ssh::sftp::buffers::give(buf);
                }
                Ok(hash.finish_hex())
            })?;
        Ok(FileWriter {
            pieces: Some(pieces),
            thread: Some(thread),
        })
    }

    /// Queues `len` bytes of `buf` from `start`. An error is the writer's (the write failed
    /// and it stopped): nothing more can be written.
    pub fn write(&mut self, buf: Vec<u8>, start: usize, len: usize) -> io::Result<()> {
        let sent = match &self.pieces {
            Some(pieces) => pieces.send((buf, start, len)).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        match self.stop() {
            Err(e) => Err(e),
            Ok(_) => Err(io::Error::other("the file writer has stopped")),
        }
    }

    /// Waits until everything queued is written; the SHA-256 (hex) of all of it.
    pub fn finish(mut self) -> io::Result<String> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<String> {
        self.pieces = None; // ends the thread's loop once the queue is drained
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| io::Error::other("the file writer panicked"))?,
            None => Err(io::Error::other("the file writer has stopped")),
        }
    }
}

impl Drop for FileWriter {
    /// Joins the thread, so the file is closed when the writer is gone (a caller removing a
    /// half-written file must not race a thread still writing it).
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn temp_file(name: &str) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!("scout-writer-{name}-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        (path, file)
    }

    #[test]
    fn writes_and_hashes_pieces_in_order() {
        let (path, file) = temp_file("order");
        let mut w = FileWriter::start(file).unwrap();
        let mut expected = Vec::new();
        for i in 0..50u8 {
            let mut buf = vec![0u8; 80];
            let start = i as usize % 16;
            let len = 1 + (i as usize * 7) % 64;
            buf[start..start + len].fill(i);
            expected.extend(std::iter::repeat_n(i, len));
            w.write(buf, start, len).unwrap();
        }
        let sha = w.finish().unwrap();
        assert_eq!(fs::read(&path).unwrap(), expected);
        assert_eq!(sha, crate::sha256::hex(&expected));
        let _ = fs::remove_file(path);
    }

    #[test]
    fn a_failing_write_is_reported_not_lost() {
        // A file opened read-only: every write fails.
        let (path, file) = temp_file("fail");
        drop(file);
        let read_only = File::open(&path).unwrap();
        let mut w = FileWriter::start(read_only).unwrap();
        let mut failed = None;
        for _ in 0..(QUEUE + 8) {
            if let Err(e) = w.write(vec![1u8; 16], 0, 16) {
                failed = Some(e);
                break;
            }
        }
        let e = match failed {
            Some(e) => e,
            None => w.finish().unwrap_err(),
        };
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        let _ = fs::remove_file(path);
    }
}
