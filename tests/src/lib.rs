//! Harness for fdwatch's root integration tests: they run the real collector
//! ([`Fdwatch`], the binary named by `FDWATCH_BIN`) next to real processes doing
//! syscalls with known arguments ([`Fdops`], the C helper in `helpers/fdops.c`), and
//! check the NDJSON records it prints, field by field ([`assert_event`]). Every process
//! a test runs is a [`child::Child`] (spawn, capture, wait for lines with a deadline,
//! kill on drop, a report of the near miss); `Fdwatch`, `TextFdwatch`, `Fdops`,
//! [`model_check::Tree`] and [`alerts::Proc`] only say what their lines mean.
//!
//! No test is ever skipped: without root, without the fdwatch binary or without a C
//! compiler, tests fail and say what is missing.
pub mod agent;
pub mod alerts;
pub mod check;
pub mod child;
pub mod collector;
pub mod fdops;
pub mod helpers;
pub mod model_check;
pub mod procfs;
pub mod schema;
pub mod shells;
pub mod text_output;

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    thread,
    time::{Duration, Instant},
};

pub use check::{ANY, DUPLICATES, assert_event, event_of};
pub use collector::{Fdwatch, fdwatch_head_1};
pub use fdops::{Fdops, OpLine};
pub use helpers::{fdops_bin, hostile_abi_bin};
pub use serde_json::{Value, json};
pub use text_output::TextFdwatch;

/// How long a record or a helper's line may take to arrive. Generous: the tests run in
/// parallel on small, noisy VMs, and waiting ends as soon as the record is there.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// How long fdwatch may take to load and attach its probes (the `ready` record).
pub const START_DEADLINE: Duration = Duration::from_secs(60);
/// Poll interval inside a deadline.
pub const POLL: Duration = Duration::from_millis(10);

/// Panics unless we are root: fdwatch loads eBPF programs. Never a silent skip.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "fdwatch's integration tests must run as root (euid is {euid}): the collector loads eBPF \
         programs. Run them as root, e.g. `sudo -E cargo xtask test`."
    );
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The collector under test: `$FDWATCH_BIN`, else `<target>/release/fdwatch` of this
/// workspace. Panics with the fix if it does not exist.
pub fn fdwatch_bin() -> PathBuf {
    let (path, origin) = match std::env::var_os("FDWATCH_BIN") {
        Some(p) if !p.is_empty() => (PathBuf::from(p), "FDWATCH_BIN"),
        _ => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("target"));
            let target = if target.is_relative() { workspace_root().join(target) } else { target };
            (target.join("release/fdwatch"), "the default (FDWATCH_BIN is not set)")
        }
    };
    assert!(
        path.is_file(),
        "the fdwatch binary {} (from {origin}) does not exist: build it with \
         `cargo build --release -p fdwatch` or point FDWATCH_BIN at it (`cargo xtask test` does both)",
        path.display()
    );
    path
}

/// Polls `cond` until it returns Ok or `deadline` passes (then panics with `what` and
/// the last `detail`): for what only /proc shows (a process that exec'd, an fd that
/// appeared), which nothing signals.
#[track_caller]
pub fn wait_for<T>(what: &str, deadline: Duration, mut cond: impl FnMut() -> Result<T, String>) -> T {
    let until = Instant::now() + deadline;
    loop {
        match cond() {
            Ok(v) => return v,
            Err(detail) if Instant::now() >= until => panic!("{what}: not within {deadline:?}: {detail}"),
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// This test process's pid: the `ppid` of every helper it spawns.
pub fn my_pid() -> i64 {
    i64::from(std::process::id())
}

/// A path under /tmp unique to this test process and call, removed on drop.
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = PathBuf::from(format!("/tmp/fdwatch-test-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A unique abstract unix socket name ("@..."): nothing to clean up.
pub fn abstract_name(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("@fdwatch-test-{}-{n}-{tag}", std::process::id())
}

/// The expected fields of an event of the main thread of fdops process `pid` (a child
/// of this test process): the header fields plus `args` (an object).
pub fn expected(pid: i64, syscall: &str, args: Value) -> Value {
    expected_from(pid, pid, my_pid(), syscall, args)
}

/// Like [`expected`] for any thread `tid` of `pid` whose parent process is `ppid`.
pub fn expected_from(pid: i64, tid: i64, ppid: i64, syscall: &str, args: Value) -> Value {
    let mut e = json!({"type": "event", "pid": pid, "tid": tid, "ppid": ppid, "comm": "fdops", "syscall": syscall});
    let obj = e.as_object_mut().unwrap();
    for (k, v) in args.as_object().expect("args is an object") {
        obj.insert(k.clone(), v.clone());
    }
    e
}

/// Runs `fdops wait OPS...` under `fdwatch --pid <it> EXTRA...`: starts the helper,
/// starts fdwatch on its pid, lets the helper go and waits for it to exit 0.
pub fn run_watched(ops: &[&str], extra: &[&str]) -> (Fdwatch, Fdops) {
    let (fw, mut child) = start_watched(ops, extra);
    child.finish_ok();
    (fw, child)
}

/// Like [`run_watched`] but returns as soon as the helper was let go.
pub fn start_watched(ops: &[&str], extra: &[&str]) -> (Fdwatch, Fdops) {
    let mut child = Fdops::waiting(ops);
    let fw = Fdwatch::watch(child.pid(), extra);
    child.go();
    (fw, child)
}

/// Runs `fdops OPS...` under fdwatch and checks its first op `syscall` both ways: fdops
/// saw the `errno` that `args` names (or, without one, success with `ret`), and
/// fdwatch's event has exactly the fields `args` ([`Fdwatch::expect_exact`]). Returns
/// the event.
#[track_caller]
pub fn assert_reported(ops: &[&str], syscall: &str, args: Value) -> Value {
    let (fw, mut child) = run_watched(ops, &[]);
    let pid = child.pid();
    let op = child.op(syscall);
    match args.get("errno") {
        Some(errno) => assert_eq!(op.get("errno"), errno.as_str().expect("errno is a name"), "{}", op.raw),
        None => assert_eq!(json!(op.ok()), args["ret"], "{}", op.raw),
    }
    fw.expect_exact(&expected(pid, syscall, args))
}

/// Runs `fdops OPS...` under fdwatch; its first op `syscall` must make an fd, and
/// fdwatch's event must have exactly `args`, the object fdops saw on the new fd (of
/// type `ty`, see [`object_of`]; with None the type fstat says) and the fd as `ret`.
/// Returns the op's line.
#[track_caller]
pub fn assert_creates_fd(ops: &[&str], syscall: &str, ty: Option<&str>, args: Value) -> OpLine {
    let (fw, mut child) = run_watched(ops, &[]);
    let pid = child.pid();
    let op = child.op(syscall);
    let fd = op.ok();
    let mut want = expected(pid, syscall, args);
    want["object"] = match ty {
        Some(ty) => object_of(&op, ty, ""),
        None => object_stat(&op, ""),
    };
    want["ret"] = json!(fd);
    fw.expect_exact(&want);
    op
}

/// The `object` fdwatch should report for an fd fdops printed `ino`/`dev`/`ifmt`/`rdev`
/// for (keys `ino<suffix>`, ...): its type from the S_IFMT bits (inode(7)), inode, and
/// for a pipe the end (from the access mode), for character and block devices `rdev`
/// (the device it is), else `dev` (the device it lives on). Also checks the type is `ty`, the kind of object the test made.
#[track_caller]
pub fn object_of(op: &OpLine, ty: &str, suffix: &str) -> Value {
    let object = object_stat(op, suffix);
    assert_eq!(object["type"], ty, "fdops made a {} where the test expects a {ty}: {}", object["type"], op.raw);
    object
}

/// Like [`object_of`], the type taken from what fstat says.
#[track_caller]
pub fn object_stat(op: &OpLine, suffix: &str) -> Value {
    let ino: i64 = op.int(&format!("ino{suffix}"));
    let ifmt = u32::from_str_radix(op.get(&format!("ifmt{suffix}")), 8).expect("ifmt is octal");
    let ty = match ifmt {
        libc::S_IFIFO => "pipe",
        libc::S_IFSOCK => "socket",
        libc::S_IFREG => "file",
        libc::S_IFDIR => "dir",
        // fdwatch types character devices as the fd model does: /dev/null (1:3) is
        // "null", terminals (4:*, 5:0, 5:1, 136-143:*) are "tty", the rest "file".
        libc::S_IFCHR => match op.get(&format!("rdev{suffix}")).split_once(':') {
            Some(("1", "3")) => "null",
            Some(("4", _)) | Some(("5", "0")) | Some(("5", "1")) => "tty",
            Some((major, _)) if (136..=143).contains(&major.parse::<u32>().unwrap_or(0)) => "tty",
            _ => "file",
        },
        libc::S_IFBLK => "blk",
        libc::S_IFLNK => "link",
        _ => "anon",
    };
    if ty == "pipe" {
        json!({"type": ty, "ino": ino, "end": op.get(&format!("acc{suffix}"))})
    } else if matches!(ty, "null" | "tty") {
        json!({"type": ty, "ino": ino, "rdev": op.get(&format!("rdev{suffix}"))})
    } else {
        json!({"type": ty, "ino": ino, "dev": op.get(&format!("dev{suffix}"))})
    }
}
