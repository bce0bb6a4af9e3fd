//! `file:PATH`: NDJSON (or text) appended to a file.
//! - Opened with O_APPEND|O_CREAT, mode 0600 (alerts quote other users' command lines
//!   and paths), O_NOFOLLOW (a symlink planted at the path is refused, never written
//!   through: open(2) fails with ELOOP), O_NONBLOCK (a FIFO planted there fails with
//!   ENXIO instead of blocking), and it must be a regular file.
//! - SIGHUP reopens the path, so logrotate(8) can rename the file and signal us in
//!   `postrotate` (no `copytruncate`, which loses what is written between its copy and
//!   its truncate): records written before the reopen are in the renamed file, the rest
//!   in the new one, none in both.
//! - Optional rotation of its own for hosts without logrotate: when the next write would
//!   take the file past `rotate_bytes`, PATH.N-1 becomes PATH.N ... PATH becomes PATH.1,
//!   and a new PATH is created; `rotate_keep` files are kept. rename(2) replaces a link
//!   at the target rather than following it.
//! - A write that fails part-way (a full disk) is cut back to its last whole line
//!   (ftruncate(2)) and retried from there with backoff; nothing is half-written.
use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use super::{Backoff, Chunk, Health, Queue, Writer};

pub struct FileWriter {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    rotate_bytes: Option<u64>,
    keep: u32,
    health: Health,
    backoff: Backoff,
}

fn open(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::other("it is a symbolic link, which fdwatch never writes through"),
            Some(libc::ENXIO) => io::Error::other("it is not a regular file"),
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
    Ok((file, meta.len()))
}

impl FileWriter {
    pub fn open(path: &Path, rotate_bytes: Option<u64>, keep: u32, health: Health) -> io::Result<Self> {
        let (file, size) = open(path)?;
        Ok(Self {
            path: path.to_owned(),
            file: Some(file),
            size,
            rotate_bytes,
            keep: keep.max(1),
            health,
            backoff: Backoff::new(),
        })
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        p.into()
    }

    fn rotate(&mut self) {
        self.file = None;
        for n in (1..self.keep).rev() {
            let _ = fs::rename(self.numbered(n), self.numbered(n + 1));
        }
        if let Err(e) = fs::rename(&self.path, self.numbered(1)) {
            self.health.failed(format_args!("cannot rotate {}: {e}", self.path.display()));
        }
        self.size = 0;
    }

    /// Write `data` (whole lines); on failure, cut the file back to the last whole
    /// line written and return how many bytes of whole lines went out.
    fn write_lines(file: &mut File, data: &[u8]) -> (usize, io::Result<()>) {
        let mut written = 0;
        while written < data.len() {
            match file.write(&data[written..]) {
                Ok(0) => return (Self::cut_back(file, data, written), Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Self::cut_back(file, data, written), Err(e)),
            }
        }
        (written, Ok(()))
    }

    fn cut_back(file: &File, data: &[u8], written: usize) -> usize {
        let whole = data[..written].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let partial = (written - whole) as u64;
        if partial > 0 {
            if let Ok(meta) = file.metadata() {
                let _ = file.set_len(meta.len().saturating_sub(partial));
            }
        }
        whole
    }
}

impl Writer for FileWriter {
    fn deliver(&mut self, chunk: &Chunk, queue: &Queue) {
        // Always at a line start: what is before it is in the file.
        let mut from = 0;
        loop {
            if self.file.is_none() {
                match open(&self.path) {
                    Ok((file, size)) => {
                        self.file = Some(file);
                        self.size = size;
                    }
                    Err(e) => {
                        self.health.failed(format_args!("cannot open {}: {e}", self.path.display()));
                        if self.backoff.wait(queue) {
                            queue.undelivered(&chunk.counts);
                            return;
                        }
                        continue;
                    }
                }
            }
            let rest = &chunk.data[from..];
            if self.rotate_bytes.is_some_and(|max| self.size > 0 && self.size + rest.len() as u64 > max) {
                self.rotate();
                continue;
            }
            let Some(file) = self.file.as_mut() else { continue };
            let (whole, result) = Self::write_lines(file, rest);
            from += whole;
            self.size += whole as u64;
            match result {
                Ok(()) => {
                    self.health.ok();
                    self.backoff.reset();
                    return;
                }
                Err(e) => {
                    self.health.failed(format_args!("cannot write {}: {e}", self.path.display()));
                    if self.backoff.wait(queue) {
                        queue.undelivered(&chunk.counts);
                        return;
                    }
                }
            }
        }
    }

    fn reopen(&mut self) {
        match open(&self.path) {
            Ok((file, size)) => {
                self.file = Some(file);
                self.size = size;
            }
            // Kept writing to the file it has; retried at the next reopen, or now if
            // it had none.
            Err(e) => self.health.failed(format_args!("cannot reopen {}: {e}", self.path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use bytes::Bytes;

    use super::*;
    use crate::outputs::record::RecordType;

    fn chunk(text: &str) -> Chunk {
        let mut counts = [0; RecordType::COUNT];
        counts[RecordType::Event as usize] = text.lines().count() as u64;
        Chunk { data: Bytes::copy_from_slice(text.as_bytes()), counts, frames: None }
    }

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fdwatch-unit-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn creates_0600_refuses_symlinks_and_rotates_by_size() {
        let d = dir("file");
        let path = d.join("out.json");
        let q = Queue::new(1 << 20);
        let mut w = FileWriter::open(&path, Some(20), 2, Health::new("t".into())).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        w.deliver(&chunk("aaaaaaaaa\n"), &q);
        w.deliver(&chunk("bbbbbbbbb\n"), &q);
        w.deliver(&chunk("ccccccccc\n"), &q);
        w.deliver(&chunk("ddddddddd\n"), &q);
        w.deliver(&chunk("eeeeeeeee\n"), &q);
        assert_eq!(fs::read_to_string(&path).unwrap(), "eeeeeeeee\n");
        assert_eq!(fs::read_to_string(d.join("out.json.1")).unwrap(), "ccccccccc\nddddddddd\n");
        assert_eq!(fs::read_to_string(d.join("out.json.2")).unwrap(), "aaaaaaaaa\nbbbbbbbbb\n");
        assert!(!d.join("out.json.3").exists(), "two kept");
        let link = d.join("link.json");
        std::os::unix::fs::symlink(d.join("target"), &link).unwrap();
        let e = FileWriter::open(&link, None, 1, Health::new("t".into())).err().unwrap();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!d.join("target").exists(), "nothing created through the link");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn reopen_follows_a_rename() {
        let d = dir("reopen");
        let path = d.join("out.json");
        let q = Queue::new(1 << 20);
        let mut w = FileWriter::open(&path, None, 1, Health::new("t".into())).unwrap();
        w.deliver(&chunk("1\n"), &q);
        fs::rename(&path, d.join("out.json.1")).unwrap();
        w.deliver(&chunk("2\n"), &q);
        w.reopen();
        w.deliver(&chunk("3\n"), &q);
        assert_eq!(fs::read_to_string(d.join("out.json.1")).unwrap(), "1\n2\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "3\n");
        let _ = fs::remove_dir_all(&d);
    }
}
