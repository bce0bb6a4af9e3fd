//! Object names in the fd model: `name` is documented as "as /proc shows it"
//! (readlink /proc/PID/fd/N), whatever path or call made the fd.
//!
//! model_procs `objects DIR`, after fdwatch --pid ROOT --follow is ready, opens DIR,
//! chdirs into it, and opens: `file` by a relative path, by dirfd + relative path, by
//! a symlink, `../` (a directory), /etc/passwd, /dev/null; and an eventfd, an epoll fd,
//! a timerfd, a signalfd, an inotify fd, a memfd, a pidfd, a socketpair, a UDP socket.
//! Then it pauses; the model must equal /proc, name by name.
//!
//! The same objects opened before fdwatch starts (read at startup) are the second test.
use std::os::unix::fs::symlink;

use fdwatch_tests::{model_check::*, *};

struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("fdwatch-model-objects-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("file"), b"x").unwrap();
        symlink("file", dir.join("link")).unwrap();
        ScratchDir(dir)
    }
    fn as_str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn names_of_fds_opened_while_watched_are_the_proc_names() {
    let dir = ScratchDir::new();
    let mut tree = Tree::spawn(&["objects", dir.as_str()]);
    let root = tree.pid();
    let fw = tree.go_watched(&[]);
    tree.expect_ev("fds");
    tree.expect_ev("paused");
    tree.poke(&fw); // the collector's loop runs: SIGUSR1 is safe now
    let mut dumps = Dumps::new();
    assert_model_matches_proc(&fw, &mut dumps, root, "objects of many kinds opened while watched");
    assert_no_healing(&fw, "objects of many kinds");
}

#[test]
fn names_of_fds_present_at_start_are_the_proc_names() {
    let dir = ScratchDir::new();
    let mut tree = Tree::spawn(&["objects", dir.as_str()]);
    let root = tree.pid();
    tree.send("go");
    tree.expect_ev("fds");
    tree.expect_ev("paused");
    let fw = Fdwatch::watch(root, &["--follow"]);
    tree.poke(&fw);
    let mut dumps = Dumps::new();
    assert_model_matches_proc(&fw, &mut dumps, root, "objects of many kinds present at start");
}
