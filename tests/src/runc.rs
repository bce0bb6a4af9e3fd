//! Real containers for the tests: Debian's `runc` running a busybox rootfs the test lays
//! out itself from the static /bin/busybox (busybox-static; `cargo xtask setup` installs
//! both). Each container has an id unique to the test process and is deleted (killed
//! first) on drop, its bundle directory removed.
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use serde_json::Value;

use crate::{alerts::Proc, require_root};

/// The busybox applets the rootfs links to.
const APPLETS: &[&str] = &["sh", "nc", "sleep", "cat", "echo", "true"];

/// A container created (not started) with `runc create`, its stdio the returned
/// [`Proc`]'s (runc create passes its own stdio to the container's process).
pub struct Container {
    pub id: String,
    bundle: PathBuf,
}

/// runc's command, failing the test with its output if it fails.
#[track_caller]
pub fn runc(args: &[&str]) -> String {
    let out = Command::new("runc").args(args).output().unwrap_or_else(|e| {
        panic!("cannot run runc {args:?}: {e} (cargo xtask setup installs Debian's runc)");
    });
    assert!(
        out.status.success(),
        "runc {args:?}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Container {
    /// A unique id for `tag` (runc ids: letters, digits, `_+-.`).
    pub fn unique_id(tag: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        format!("fdwatch-{}-{}-{tag}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// `runc create` of a busybox container with id `id` running `sh -c script`, in
    /// the host's network namespace (so it reaches the test's loopback listeners) and
    /// its own pid, mount, ipc and uts namespaces. Returns it and its stdio.
    pub fn create(id: &str, script: &str) -> (Container, Proc) {
        require_root();
        let bundle = PathBuf::from(format!("/tmp/{id}.bundle"));
        let _ = std::fs::remove_dir_all(&bundle);
        let container = Container { id: id.to_owned(), bundle };
        container.lay_out(script);
        let mut cmd = Command::new("runc");
        cmd.args(["create", "--bundle"]).arg(&container.bundle).arg(id);
        let mut stdio = Proc::spawn(cmd, &format!("runc create {id}"));
        let status = stdio.exit_within(crate::DEADLINE);
        assert!(status.success(), "{}", stdio.report("runc create failed"));
        (container, stdio)
    }

    fn lay_out(&self, script: &str) {
        let rootfs = self.bundle.join("rootfs");
        let bin = rootfs.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let busybox = Path::new("/bin/busybox");
        std::fs::copy(busybox, bin.join("busybox")).unwrap_or_else(|e| {
            panic!("cannot copy {}: {e} (cargo xtask setup installs busybox-static)", busybox.display())
        });
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        runc(&["spec", "--bundle", self.bundle.to_str().unwrap()]);
        let path = self.bundle.join("config.json");
        let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        spec["process"]["terminal"] = Value::Bool(false);
        spec["process"]["args"] = serde_json::json!(["sh", "-c", script]);
        let namespaces = spec["linux"]["namespaces"].as_array_mut().expect("runc spec has linux.namespaces");
        namespaces.retain(|n| n["type"] != "network");
        std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    }

    /// `runc start`: the script runs.
    pub fn start(&self) {
        runc(&["start", &self.id]);
    }

    /// The host pid of the container's first process (`runc state`).
    pub fn init_pid(&self) -> i64 {
        let state: Value = serde_json::from_str(&runc(&["state", &self.id])).unwrap();
        state["pid"].as_i64().unwrap_or_else(|| panic!("runc state {}: no pid: {state}", self.id))
    }

    /// `runc exec ID sh -c script`, waited for; returns the host pid of the process.
    pub fn exec(&self, script: &str) -> i64 {
        let pid_file = self.bundle.join("exec.pid");
        runc(&["exec", "--pid-file", pid_file.to_str().unwrap(), &self.id, "sh", "-c", script]);
        let text = std::fs::read_to_string(&pid_file).unwrap();
        text.trim().parse().unwrap_or_else(|_| panic!("runc exec's pid file says {text:?}"))
    }

    /// The container's cgroup directory in the unified hierarchy (at
    /// /sys/fs/cgroup/unified on hybrid hosts like this one, else at /sys/fs/cgroup).
    pub fn cgroup_dir(&self) -> PathBuf {
        ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .iter()
            .map(|h| Path::new(h).join(&self.id))
            .find(|d| d.is_dir())
            .unwrap_or_else(|| panic!("container {} has no cgroup of its own in the unified hierarchy", self.id))
    }

    /// Moves process `pid` into a new cgroup `name` under the container's (cgroups(7):
    /// a pid written to cgroup.procs moves its whole process).
    pub fn move_to_nested(&self, pid: i64, name: &str) {
        let dir = self.cgroup_dir().join(name);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            .unwrap_or_else(|e| panic!("moving pid {pid} to {}: {e}", dir.display()));
    }

    /// `runc delete --force`: every process killed, the cgroups removed; then waits
    /// until the cgroup directory is gone.
    pub fn delete(&self) {
        runc(&["delete", "--force", &self.id]);
        // The unified hierarchy: at /sys/fs/cgroup/unified on hybrid hosts, else at
        // /sys/fs/cgroup (runc with no cgroupsPath puts the container at /<id>).
        let cgroups = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].map(|h| Path::new(h).join(&self.id));
        let until = std::time::Instant::now() + crate::DEADLINE;
        while let Some(left) = cgroups.iter().find(|c| c.exists()) {
            assert!(std::time::Instant::now() < until, "{} still exists after runc delete", left.display());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("runc").args(["delete", "--force", &self.id]).output();
        let _ = std::fs::remove_dir_all(&self.bundle);
    }
}
