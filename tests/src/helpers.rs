//! The programs the tests run beside fdwatch: the C helpers build.rs compiles (each
//! file name is the comm the tests expect), the scripts in tests/helpers/, python3.
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
};

use crate::{DEADLINE, child, fdwatch_bin, workspace_root};

/// `helpers/fdops.c`: does the syscalls named on its command line, one output line each.
pub fn fdops_bin() -> PathBuf {
    PathBuf::from(env!("FDOPS_BIN"))
}

/// `helpers/monitor.c`: the fd-pool monitor of incident 2 (alert_select.rs).
pub fn monitor_bin() -> PathBuf {
    PathBuf::from(env!("MONITOR_BIN"))
}

/// `helpers/slowlog.c`: seed 002's worker and tracer (alert_interrupted.rs).
pub fn slowlog_bin() -> PathBuf {
    PathBuf::from(env!("SLOWLOG_BIN"))
}

/// `helpers/hostile.c`: a process with hostile names (hostile_text.rs).
pub fn hostile_bin() -> PathBuf {
    PathBuf::from(env!("HOSTILE_BIN"))
}

/// `helpers/hostile_abi.c`: an unprivileged process's abuse of the syscall ABI
/// (hostile_input.rs).
pub fn hostile_abi_bin() -> PathBuf {
    PathBuf::from(env!("HOSTILE_ABI_BIN"))
}

/// `helpers/model_procs.c`: the process trees of the model tests.
pub fn model_procs_bin() -> PathBuf {
    PathBuf::from(env!("MODEL_PROCS_BIN"))
}

/// A helper script in tests/helpers/.
pub fn helper(name: &str) -> String {
    let p = workspace_root().join("tests/helpers").join(name);
    assert!(p.is_file(), "test helper {} is missing", p.display());
    p.to_str().expect("UTF-8 path").to_string()
}

/// The real python3 executable (not a pyenv shim, a shell script that would add its own
/// processes to the scenario), found once by asking python3 itself.
pub fn python() -> String {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        let mut cmd = Command::new("python3");
        cmd.args(["-c", "import sys; print(sys.executable)"]);
        let (status, out, err) = child::run_to_end(cmd, "python3 (install it: cargo xtask setup does)", DEADLINE);
        assert!(status.success(), "python3 failed: {}", String::from_utf8_lossy(&err));
        let p = String::from_utf8(out).expect("UTF-8").trim().to_string();
        assert!(!p.is_empty() && Path::new(&p).is_file(), "python3's sys.executable {p:?} is not a file");
        p
    })
    .clone()
}

/// A copy of the fdwatch binary that any user can run, in a directory of its own under
/// /tmp (the checkout may sit in a directory `nobody` cannot enter: a fresh `mktemp -d`
/// clone is 0700). Removed on drop.
pub struct FdwatchForAnyone {
    pub path: PathBuf,
}

impl FdwatchForAnyone {
    pub fn new(tag: &str) -> FdwatchForAnyone {
        // Unique to this call: tests run in parallel threads of one process.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("fdwatch-{tag}-{}-{n}", std::process::id()));
        let path = dir.join("fdwatch");
        // install(1) writes the copy in a process of its own. Written from this process,
        // the copy would be open for writing while other test threads fork their
        // children, and a child that inherits the fd for the moment before its exec
        // makes an exec of the copy fail with ETXTBSY.
        let mut cmd = Command::new("install");
        cmd.args(["-D", "-m", "0755"]).arg(fdwatch_bin()).arg(&path);
        let (status, _, err) = child::run_to_end(cmd, "install (coreutils)", DEADLINE);
        assert!(status.success(), "install {}: {}", path.display(), String::from_utf8_lossy(&err));
        let mut cmd = Command::new("chmod");
        cmd.arg("0755").arg(&dir);
        let (status, _, err) = child::run_to_end(cmd, "chmod", DEADLINE);
        assert!(status.success(), "chmod 0755 {}: {}", dir.display(), String::from_utf8_lossy(&err));
        FdwatchForAnyone { path }
    }
}

impl Drop for FdwatchForAnyone {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
