//! Harness for fdwatch's root integration tests: they run the real collector
//! ([`Fdwatch`], the binary named by `FDWATCH_BIN`) next to real processes doing
//! syscalls with known arguments ([`Fdops`], the C helper in `helpers/fdops.c`), and
//! check the NDJSON records it prints, field by field ([`assert_event`]).
//!
//! No test is ever skipped: without root, without the fdwatch binary or without a C
//! compiler, tests fail and say what is missing.
pub mod check;
pub mod collector;
pub mod fdops;

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

pub use check::{ANY, assert_event, event_of};
pub use collector::Fdwatch;
pub use fdops::{Fdops, OpLine};
pub use serde_json::{Value, json};

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

/// The test helper compiled by build.rs.
pub fn fdops_bin() -> PathBuf {
    PathBuf::from(env!("FDOPS_BIN"))
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
