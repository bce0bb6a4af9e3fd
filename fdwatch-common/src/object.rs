//! What an open file's inode and flags say about it: the one place that interprets
//! [`FdObject`]'s mode, flags and device numbers, for events, the fd model, the startup
//! scan and /proc readings alike (they must agree: an fd's type in an `event` record
//! and in an `fd` record is the same word).
use crate::FdObject;

/// `S_IFMT` and its file types (inode(7), include/uapi/linux/stat.h).
const S_IFMT: u16 = 0o170000;
const S_IFSOCK: u16 = 0o140000;
const S_IFLNK: u16 = 0o120000;
const S_IFREG: u16 = 0o100000;
const S_IFBLK: u16 = 0o060000;
const S_IFDIR: u16 = 0o040000;
const S_IFCHR: u16 = 0o020000;
const S_IFIFO: u16 = 0o010000;

/// The file type bits of an inode's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Directory,
    Regular,
    Symlink,
    /// No type bits: an anonymous inode (eventfd, [eventpoll], timerfd, ...), which
    /// fs/anon_inodes.c creates with a mode of 0 plus permission bits.
    Anonymous,
}

impl FileType {
    pub const fn of_mode(mode: u16) -> FileType {
        match mode & S_IFMT {
            S_IFIFO => FileType::Fifo,
            S_IFSOCK => FileType::Socket,
            S_IFCHR => FileType::CharDevice,
            S_IFBLK => FileType::BlockDevice,
            S_IFDIR => FileType::Directory,
            S_IFLNK => FileType::Symlink,
            0 => FileType::Anonymous,
            S_IFREG => FileType::Regular,
            // Bit patterns no file type uses (S_IFWHT and the like): treat as a file.
            _ => FileType::Regular,
        }
    }
}

/// Which way an open file description reads or writes (O_ACCMODE of `f_flags`, and of
/// fdinfo's `flags:`); for a pipe it says which end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
}

impl Access {
    /// O_RDONLY 0, O_WRONLY 1, O_RDWR 2 (include/uapi/asm-generic/fcntl.h); 3 is
    /// "no access" (open(2)'s O_PATH-like special case) and reads as read-write.
    pub const fn of_flags(flags: u32) -> Access {
        match flags & 0o3 {
            0 => Access::Read,
            1 => Access::Write,
            _ => Access::ReadWrite,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::ReadWrite => "read-write",
        }
    }
}

/// A kernel `dev_t`: major in the bits above MINORBITS (20), minor below
/// (include/linux/kdev_t.h). Not the userspace encoding of stat(2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dev(pub u32);

impl Dev {
    pub const fn major(self) -> u32 {
        self.0 >> 20
    }

    pub const fn minor(self) -> u32 {
        self.0 & 0xfffff
    }

    /// The N of a pty slave /dev/pts/N: UNIX98_PTY_SLAVE_MAJOR (136) with the index as
    /// minor (drivers/tty/pty.c registers NR_UNIX98_PTY_MAX minors from MKDEV(136, 0),
    /// spilling into the next majors only past 2^20). None for another device.
    pub const fn pts_index(self) -> Option<u32> {
        match self.major() {
            136..=143 => Some(((self.major() - 136) << 20) | self.minor()),
            _ => None,
        }
    }
}

/// The character devices fdwatch tells apart (Documentation/admin-guide/devices.txt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CharDevice {
    /// 1:3.
    Null,
    /// 4:* virtual consoles and serial ports, 5:0 /dev/tty, 5:1 /dev/console, 136-143
    /// Unix98 pty slaves (/dev/pts/N).
    Terminal,
    /// 5:2 /dev/ptmx, the pty multiplexer: every open makes a new pty master (pty(7)).
    PtyMaster,
    Other,
}

impl CharDevice {
    pub const fn of(rdev: Dev) -> CharDevice {
        match (rdev.major(), rdev.minor()) {
            (1, 3) => CharDevice::Null,
            (5, 2) => CharDevice::PtyMaster,
            (4, _) | (5, 0) | (5, 1) | (136..=143, _) => CharDevice::Terminal,
            _ => CharDevice::Other,
        }
    }
}

impl FdObject {
    pub const fn file_type(&self) -> FileType {
        FileType::of_mode(self.mode)
    }

    pub const fn access(&self) -> Access {
        Access::of_flags(self.file_flags)
    }

    pub const fn dev(&self) -> Dev {
        Dev(self.dev)
    }

    /// The device a character or block device inode stands for.
    pub const fn rdev(&self) -> Dev {
        Dev(self.rdev)
    }

    /// The word `event` and `fd` records use for the object's type (the README's
    /// Output section): pipe, socket, file, dir, tty, null, anon. The fd model types
    /// what it learns from /proc with the same words (it cannot tell a directory from
    /// a file there, so it says file).
    pub const fn type_name(&self) -> &'static str {
        match self.file_type() {
            FileType::Fifo => "pipe",
            FileType::Socket => "socket",
            FileType::Anonymous => "anon",
            FileType::Directory => "dir",
            FileType::CharDevice => match CharDevice::of(self.rdev()) {
                CharDevice::Null => "null",
                CharDevice::Terminal | CharDevice::PtyMaster => "tty",
                CharDevice::Other => "file",
            },
            FileType::Regular | FileType::BlockDevice | FileType::Symlink => "file",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_flags_and_devices_read_as_the_kernel_writes_them() {
        assert_eq!(FileType::of_mode(0o010600), FileType::Fifo);
        assert_eq!(FileType::of_mode(0o140777), FileType::Socket);
        assert_eq!(FileType::of_mode(0o020666), FileType::CharDevice);
        assert_eq!(FileType::of_mode(0o040755), FileType::Directory);
        assert_eq!(FileType::of_mode(0o100644), FileType::Regular);
        assert_eq!(FileType::of_mode(0o000600), FileType::Anonymous);
        assert_eq!(Access::of_flags(0o2000001), Access::Write, "O_CLOEXEC|O_WRONLY");
        assert_eq!(Access::of_flags(0o2), Access::ReadWrite);
        assert_eq!(Access::of_flags(0o0), Access::Read);
        assert_eq!(CharDevice::of(Dev(1 << 20 | 3)), CharDevice::Null);
        assert_eq!(CharDevice::of(Dev(136 << 20 | 7)), CharDevice::Terminal);
        assert_eq!(CharDevice::of(Dev(5 << 20 | 2)), CharDevice::PtyMaster);
        assert_eq!((Dev(136 << 20 | 7).pts_index(), Dev(4 << 20 | 1).pts_index()), (Some(7), None));
        assert_eq!(CharDevice::of(Dev(1 << 20 | 5)), CharDevice::Other, "/dev/zero");
        assert_eq!((Dev(8 << 20 | 1).major(), Dev(8 << 20 | 1).minor()), (8, 1));
    }
}
