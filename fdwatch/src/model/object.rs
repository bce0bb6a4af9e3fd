//! Open objects (pipes, sockets, files, ...) with identity: every fd that refers to the
//! same object, in any process, points to the same `ObjectId`, and the object lists
//! its holders, so "who holds the write end of pipe:[N]" is a lookup.
use fdwatch_common::{
    FdObject,
    object::{CharDevice, Dev, FileType},
};

use super::Holders;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub u64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Pipe,
    /// domain/type/protocol as passed to socket(2) (0 when learned from /proc).
    Socket {
        domain: u16,
        sock_type: u16,
        protocol: u16,
        peer: Option<Box<str>>,
    },
    File {
        path: Box<str>,
    },
    /// A terminal: /dev/tty*, /dev/pts/* (a pseudo-terminal's slave), /dev/console.
    Tty {
        path: Box<str>,
    },
    /// A pseudo-terminal's master (/dev/ptmx, pty(7)): whoever holds it reads what
    /// programs on the slave /dev/pts/`index` write, and types their input.
    /// (/proc names every master `/dev/ptmx`.)
    PtyMaster {
        /// The slave's number (TIOCGPTN; fdinfo `tty-index:`), when known.
        index: Option<u32>,
    },
    DevNull,
    /// An anonymous inode: eventfd, [eventpoll], timerfd, signalfd, inotify, pidfd, ...
    Anon {
        name: Box<str>,
    },
    /// Anything else /proc shows (e.g. `net:[...]`), as shown.
    Other {
        name: Box<str>,
    },
}

impl ObjectKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            ObjectKind::Pipe => "pipe",
            ObjectKind::Socket { .. } => "socket",
            ObjectKind::File { .. } => "file",
            ObjectKind::Tty { .. } | ObjectKind::PtyMaster { .. } => "tty",
            ObjectKind::DevNull => "null",
            ObjectKind::Anon { .. } => "anon",
            ObjectKind::Other { .. } => "other",
        }
    }

    /// The number N of a pseudo-terminal: a master's index, or a slave's /dev/pts/N.
    pub fn pty_index(&self) -> Option<u32> {
        match self {
            ObjectKind::PtyMaster { index } => *index,
            ObjectKind::Tty { path } => path.strip_prefix("/dev/pts/")?.parse().ok(),
            _ => None,
        }
    }
}

/// Pipes and sockets are identified by inode (pipefs and sockfs are single
/// filesystems, so the inode alone is unique: the N of `pipe:[N]`); a pseudo-terminal
/// master by its index (one master per index at a time: devpts allocates them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InodeKey {
    Pipe(u64),
    Socket(u64),
    PtyMaster(u32),
}

#[derive(Debug)]
pub struct Object {
    pub kind: ObjectKind,
    /// Inode number (0 if unknown).
    pub ino: u64,
    /// Every (table, fd) that refers to it: most objects have one, kept inline.
    pub holders: Holders,
}

impl Object {
    pub fn inode_key(&self) -> Option<InodeKey> {
        match self.kind {
            ObjectKind::Pipe if self.ino != 0 => Some(InodeKey::Pipe(self.ino)),
            ObjectKind::Socket { .. } if self.ino != 0 => Some(InodeKey::Socket(self.ino)),
            ObjectKind::PtyMaster { index: Some(index) } => Some(InodeKey::PtyMaster(index)),
            _ => None,
        }
    }

    /// How /proc/PID/fd shows it: `pipe:[N]`, `socket:[N]`, a path, `anon_inode:[x]`.
    pub fn proc_name(&self) -> String {
        match &self.kind {
            ObjectKind::Pipe => format!("pipe:[{}]", self.ino),
            ObjectKind::Socket { .. } => format!("socket:[{}]", self.ino),
            ObjectKind::File { path } | ObjectKind::Tty { path } => path.to_string(),
            ObjectKind::PtyMaster { .. } => "/dev/ptmx".to_owned(),
            ObjectKind::DevNull => "/dev/null".to_owned(),
            ObjectKind::Anon { name } => format!("anon_inode:{name}"),
            ObjectKind::Other { name } => name.to_string(),
        }
    }
}

/// A character device's kind; `path` is what the syscall or /proc named it. A pty slave
/// opened without a path (TIOCGPTPEER) is named as /proc names it.
pub fn chr_kind(rdev: Dev, path: &str) -> ObjectKind {
    match CharDevice::of(rdev) {
        CharDevice::Null => ObjectKind::DevNull,
        CharDevice::PtyMaster => ObjectKind::PtyMaster { index: None },
        CharDevice::Terminal if path.is_empty() => match rdev.pts_index() {
            Some(n) => ObjectKind::Tty { path: format!("/dev/pts/{n}").into() },
            None => ObjectKind::Tty { path: path.into() },
        },
        CharDevice::Terminal => ObjectKind::Tty { path: path.into() },
        CharDevice::Other => ObjectKind::File { path: path.into() },
    }
}

/// What kind of object the kernel installed, from its inode; `path` is what the
/// syscall named (open) and `anon` the name /proc gives anonymous inodes
/// (`[eventfd]`, `inotify`, ...).
pub fn kind_from_kernel(object: &FdObject, path: Option<&str>, anon: &str) -> ObjectKind {
    match object.file_type() {
        FileType::Fifo => ObjectKind::Pipe,
        FileType::Socket => ObjectKind::Socket { domain: 0, sock_type: 0, protocol: 0, peer: None },
        FileType::CharDevice => chr_kind(object.rdev(), path.unwrap_or("")),
        FileType::Anonymous => ObjectKind::Anon { name: anon.into() },
        // A directory is a file to the model: /proc cannot tell them apart.
        _ => ObjectKind::File { path: path.unwrap_or("").into() },
    }
}

/// Parse a /proc/PID/fd link target (proc(5)).
pub fn kind_from_proc_link(link: &str) -> (ObjectKind, u64) {
    fn bracketed(s: &str, prefix: &str) -> Option<u64> {
        s.strip_prefix(prefix)?.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
    }
    if let Some(ino) = bracketed(link, "pipe:") {
        return (ObjectKind::Pipe, ino);
    }
    if let Some(ino) = bracketed(link, "socket:") {
        return (ObjectKind::Socket { domain: 0, sock_type: 0, protocol: 0, peer: None }, ino);
    }
    if let Some(name) = link.strip_prefix("anon_inode:") {
        return (ObjectKind::Anon { name: name.into() }, 0);
    }
    if link == "/dev/null" {
        return (ObjectKind::DevNull, 0);
    }
    if link == "/dev/ptmx" || link == "/dev/pts/ptmx" {
        return (ObjectKind::PtyMaster { index: None }, 0);
    }
    if link.starts_with("/dev/pts/") || link.starts_with("/dev/tty") || link == "/dev/console" {
        return (ObjectKind::Tty { path: link.into() }, 0);
    }
    if link.starts_with('/') {
        return (ObjectKind::File { path: link.into() }, 0);
    }
    (ObjectKind::Other { name: link.into() }, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_links_parse() {
        assert_eq!(kind_from_proc_link("pipe:[44876238]"), (ObjectKind::Pipe, 44876238));
        assert!(matches!(kind_from_proc_link("socket:[5]"), (ObjectKind::Socket { .. }, 5)));
        assert_eq!(kind_from_proc_link("anon_inode:[eventfd]").0, ObjectKind::Anon { name: "[eventfd]".into() });
        assert_eq!(kind_from_proc_link("/dev/null").0, ObjectKind::DevNull);
        assert_eq!(kind_from_proc_link("/dev/pts/3").0, ObjectKind::Tty { path: "/dev/pts/3".into() });
        assert_eq!(kind_from_proc_link("/etc/passwd").0, ObjectKind::File { path: "/etc/passwd".into() });
        assert_eq!(kind_from_proc_link("net:[4026531840]").0, ObjectKind::Other { name: "net:[4026531840]".into() });
    }

    #[test]
    fn kernel_objects_classify_by_mode_and_rdev() {
        let o = |mode: u16, rdev: u32| FdObject { mode, rdev, valid: 1, ..Default::default() };
        assert_eq!(kind_from_kernel(&o(0o010600, 0), None, "x"), ObjectKind::Pipe);
        assert_eq!(kind_from_kernel(&o(0o020666, 1 << 20 | 3), Some("/dev/null"), "x"), ObjectKind::DevNull);
        assert_eq!(
            kind_from_kernel(&o(0o020620, 136 << 20 | 2), Some("/dev/pts/2"), "x"),
            ObjectKind::Tty { path: "/dev/pts/2".into() }
        );
        assert_eq!(kind_from_kernel(&o(0o600, 0), None, "[eventfd]"), ObjectKind::Anon { name: "[eventfd]".into() });
    }

    #[test]
    fn events_and_the_model_name_types_alike() {
        // Every kind of inode but a directory (a file to the model, see kind_from_kernel).
        for (mode, rdev) in [
            (0o010600, 0),
            (0o140777, 0),
            (0o020666, 1 << 20 | 3),
            (0o020620, 136 << 20),
            (0o020666, 5 << 20 | 2),
            (0o020666, 1 << 20 | 5),
            (0o600, 0),
            (0o100644, 0),
            (0o060660, 8 << 20),
        ] {
            let o = FdObject { mode, rdev, valid: 1, ..Default::default() };
            assert_eq!(kind_from_kernel(&o, Some("/x"), "[x]").type_name(), o.type_name(), "mode {mode:o}");
        }
    }

    #[test]
    fn pseudo_terminals_are_numbered() {
        let o = |mode: u16, rdev: u32| FdObject { mode, rdev, valid: 1, ..Default::default() };
        assert_eq!(
            kind_from_kernel(&o(0o020666, 5 << 20 | 2), Some("/dev/ptmx"), "x"),
            ObjectKind::PtyMaster { index: None }
        );
        // TIOCGPTPEER's slave has no path: named from its device number.
        assert_eq!(
            kind_from_kernel(&o(0o020620, 136 << 20 | 7), None, ""),
            ObjectKind::Tty { path: "/dev/pts/7".into() }
        );
        assert_eq!(ObjectKind::Tty { path: "/dev/pts/7".into() }.pty_index(), Some(7));
        assert_eq!(ObjectKind::Tty { path: "/dev/tty1".into() }.pty_index(), None);
    }
}
