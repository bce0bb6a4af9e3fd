//! Shared code of the alert tests (tests/tests/alert_*.rs): picking `alert` records out
//! of fdwatch's output and checking them against the alert contract (issue 4), the
//! processes the incident reproductions run ([`Proc`]: any command in its own process
//! group, killed with everything it started on drop), and a dummy network interface
//! where a SYN is never answered ([`BlackholeNet`]).
use std::{
    io::Write,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex, OnceLock,
        mpsc::{Receiver, RecvTimeoutError},
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{ANY, DEADLINE, Fdwatch, POLL, assert_event, child_io, workspace_root};

/// Alerts and their follow-up record types: repeats, resolutions (issue 4) and symptoms
/// written after an alert's window (issue 15).
pub const ALERT_TYPES: [&str; 4] = ["alert", "repeat", "resolved", "symptom"];

/// The fd-pool monitor of incident 2 (helpers/monitor.c, built by build.rs).
pub fn monitor_bin() -> PathBuf {
    PathBuf::from(env!("MONITOR_BIN"))
}

/// Seed 002's worker and tracer (helpers/slowlog.c, built by build.rs).
pub fn slowlog_bin() -> PathBuf {
    PathBuf::from(env!("SLOWLOG_BIN"))
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
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}); install it (cargo xtask setup does)"));
        assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
        let p = String::from_utf8(out.stdout).expect("UTF-8").trim().to_string();
        assert!(!p.is_empty() && std::path::Path::new(&p).is_file(), "python3's sys.executable {p:?} is not a file");
        p
    })
    .clone()
}

// ------------------------------------------------------------------ records

/// Every record of one of [`ALERT_TYPES`].
pub fn alert_records(records: &[Value]) -> Vec<Value> {
    records.iter().filter(|r| ALERT_TYPES.contains(&r["type"].as_str().unwrap_or(""))).cloned().collect()
}

/// `alert` records of `kind` for `pid`.
pub fn alerts_of(records: &[Value], kind: &str, pid: i64) -> Vec<Value> {
    records.iter().filter(|r| r["type"] == "alert" && r["kind"] == kind && r["pid"] == pid).cloned().collect()
}

/// Every `alert` record of `pid`, any kind.
pub fn all_alerts_of(records: &[Value], pid: i64) -> Vec<Value> {
    records.iter().filter(|r| r["type"] == "alert" && r["pid"] == pid).cloned().collect()
}

fn lines(records: &[Value]) -> String {
    if records.is_empty() {
        return "  (none)".into();
    }
    records.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n")
}

/// The one `alert` of `kind` for `pid` among `records` (all of fdwatch's output, after
/// it stopped): panics, listing every alert record, unless there is exactly one.
#[track_caller]
pub fn the_alert(records: &[Value], kind: &str, pid: i64, what: &str) -> Value {
    let found = alerts_of(records, kind, pid);
    assert!(
        found.len() == 1,
        "{what}: expected exactly one {kind} alert for pid {pid}, got {}.\nevery alert/repeat/resolved record:\n{}",
        found.len(),
        lines(&alert_records(records))
    );
    found[0].clone()
}

/// Panics (listing them) if `records` hold any alert, repeat or resolved record.
#[track_caller]
pub fn assert_no_alerts(records: &[Value], what: &str) {
    let found = alert_records(records);
    assert!(found.is_empty(), "{what}: expected no alert at all, got {}:\n{}", found.len(), lines(&found));
}

/// Panics (listing them) if `records` hold an alert, repeat or resolved record about any
/// of `pids`.
#[track_caller]
pub fn assert_no_alerts_for(records: &[Value], pids: &[i64], what: &str) {
    let found: Vec<Value> =
        alert_records(records).into_iter().filter(|r| pids.iter().any(|p| r["pid"] == *p)).collect();
    assert!(found.is_empty(), "{what}: expected no alert for pids {pids:?}, got {}:\n{}", found.len(), lines(&found));
}

/// Stops fdwatch with SIGINT (which flushes every pending alert) and returns all its
/// records; asserts it exited 0.
pub fn stop(fw: Fdwatch) -> Vec<Value> {
    let (status, records) = fw.stop();
    assert!(status.success(), "fdwatch exited {status} on SIGINT");
    records
}

/// Checks the alert's envelope against the contract: exactly the fields of `fields`
/// (kind-specific ones included) plus `id` (a positive integer), `message` (one
/// non-empty line) and `evidence` (a list of items, each an `event`, `symptom` or `fact`
/// with `ts` and `pid`, in time order). Returns the evidence.
#[track_caller]
pub fn assert_alert(alert: &Value, fields: Value) -> Vec<Value> {
    let mut want = json!({"id": ANY, "message": ANY, "evidence": ANY});
    for (k, v) in fields.as_object().expect("fields is an object") {
        want[k] = v.clone();
    }
    assert_event(alert, &want);
    assert!(alert["id"].as_i64().is_some_and(|i| i > 0), "alert id is not a positive integer: {alert}");
    let msg = alert["message"].as_str().unwrap_or("");
    assert!(!msg.trim().is_empty() && !msg.contains('\n'), "alert message is not one non-empty line: {alert}");
    let evidence = alert["evidence"].as_array().unwrap_or_else(|| panic!("evidence is not a list: {alert}")).clone();
    assert!(!evidence.is_empty(), "alert without evidence: {alert}");
    let mut prev = String::new();
    for (i, item) in evidence.iter().enumerate() {
        let what = item["what"].as_str().unwrap_or("");
        assert!(
            matches!(what, "event" | "symptom" | "fact"),
            "evidence item {i} has \"what\" {:?}, not event|symptom|fact: {item}\nalert: {alert}",
            item["what"]
        );
        let ts = item["ts"].as_str().unwrap_or_else(|| panic!("evidence item {i} has no ts: {item}\nalert: {alert}"));
        assert!(item["pid"].is_i64(), "evidence item {i} has no integer pid: {item}\nalert: {alert}");
        if what == "fact" {
            assert!(item["fact"].as_str().is_some_and(|s| !s.is_empty()), "fact without a sentence: {item}");
        } else {
            for k in ["comm", "syscall"] {
                assert!(item[k].is_string(), "evidence {what} {i} has no string {k:?}: {item}\nalert: {alert}");
            }
            assert!(item["args"].is_object(), "evidence {what} {i} has no args object: {item}\nalert: {alert}");
            // Like event records, the process events (fork, exec, exit) and signals have no ret.
            let process_event = matches!(item["syscall"].as_str(), Some("fork" | "exec" | "exit" | "signal"));
            assert!(
                item["ret"].is_i64() || (process_event && item.get("ret").is_none()),
                "evidence {what} {i} has no integer ret: {item}\nalert: {alert}"
            );
            let failed = item["ret"].as_i64().unwrap_or(0) < 0;
            assert_eq!(
                item.get("errno").is_some(),
                failed,
                "evidence {what} {i}: errno must be there exactly when the call failed: {item}\nalert: {alert}"
            );
        }
        assert!(ts >= prev.as_str(), "evidence item {i} (ts {ts}) is earlier than the one before ({prev}): {alert}");
        prev = ts.to_string();
    }
    evidence
}

/// Index of the first evidence item `what` (event/symptom) of `pid` for `syscall` whose
/// args contain `args` (a subset) and whose `ret` (and `errno`) match; panics with the
/// whole evidence if there is none.
#[track_caller]
pub fn find_evidence(
    alert: &Value,
    what: &str,
    pid: i64,
    syscall: &str,
    args: Value,
    ret: i64,
    errno: Option<&str>,
) -> usize {
    let evidence = alert["evidence"].as_array().cloned().unwrap_or_default();
    let want = args.as_object().expect("args is an object").clone();
    let pos = evidence.iter().position(|e| {
        e["what"] == what
            && e["pid"] == pid
            && e["syscall"] == syscall
            && e["ret"] == ret
            && match errno {
                Some(n) => e["errno"] == n,
                None => e.get("errno").is_none(),
            }
            && want.iter().all(|(k, v)| e["args"][k] == *v)
    });
    pos.unwrap_or_else(|| {
        panic!(
            "alert {} has no {what} {syscall}({}) = {ret}{} by pid {pid} in its evidence:\n{}",
            alert["kind"],
            Value::Object(want.clone()),
            errno.map(|e| format!(" {e}")).unwrap_or_default(),
            evidence.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
        )
    })
}

/// The facts of an alert's evidence.
pub fn facts(alert: &Value) -> Vec<Value> {
    alert["evidence"].as_array().into_iter().flatten().filter(|e| e["what"] == "fact").cloned().collect()
}

/// Nanoseconds between two RFC 3339 UTC timestamps with nanoseconds of the same day
/// (what every record carries): b - a.
pub fn ts_diff_ns(a: &str, b: &str) -> i64 {
    fn ns(ts: &str) -> i64 {
        let day: i64 = ts[8..10].parse().expect("day");
        let h: i64 = ts[11..13].parse().expect("hour");
        let m: i64 = ts[14..16].parse().expect("minute");
        let s: i64 = ts[17..19].parse().expect("second");
        let frac: i64 = ts[20..29].parse().expect("nanoseconds");
        (((day * 24 + h) * 60 + m) * 60 + s) * 1_000_000_000 + frac
    }
    assert_eq!(a[..7], b[..7], "timestamps of different months: {a} {b}");
    ns(b) - ns(a)
}

// ------------------------------------------------------------------ /proc

/// readlink /proc/PID/fd/FD.
pub fn fd_link(pid: i64, fd: i64) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok().map(|p| p.to_string_lossy().into_owned())
}

/// The inode of a socket or pipe fd ("socket:[123]" -> 123).
pub fn fd_ino(pid: i64, fd: i64) -> Option<i64> {
    let link = fd_link(pid, fd)?;
    let inner = link.split_once(":[")?.1.strip_suffix(']')?;
    inner.parse().ok()
}

/// readlink /proc/PID/exe.
pub fn exe_of(pid: i64) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/exe: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// /proc/PID/comm.
pub fn comm_of(pid: i64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/comm: {e}"))
        .trim_end()
        .to_string()
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: i64) -> bool {
    crate::model_check::proc_stat(pid).is_some_and(|s| s.2 != 'Z')
}

// ------------------------------------------------------------------ processes

/// A process the test runs (any command), in a process group of its own; stdout read as
/// lines, stdin kept for the test to write. Dropping it SIGKILLs the whole group and the
/// extra pids registered with [`Proc::also_kill`] (e.g. a daemon that left the group).
pub struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Option<String>>,
    lines: Vec<String>,
    taken: usize,
    eof: bool,
    stderr: Arc<Mutex<Vec<u8>>>,
    what: String,
    status: Option<ExitStatus>,
    extra: Vec<i64>,
}

impl Proc {
    /// Spawns `cmd` with piped stdin/stdout/stderr in a new process group.
    pub fn spawn(mut cmd: Command, what: &str) -> Proc {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {what} ({cmd:?}): {e}"));
        let child_io::ChildIo { stdin, lines: rx, stderr } = child_io::capture(&mut child);
        Proc {
            child,
            stdin,
            rx,
            lines: Vec::new(),
            taken: 0,
            eof: false,
            stderr,
            what: what.to_string(),
            status: None,
            extra: Vec::new(),
        }
    }

    /// `spawn` of `program args...`.
    pub fn run(program: &str, args: &[&str], what: &str) -> Proc {
        let mut cmd = Command::new(program);
        cmd.args(args);
        Self::spawn(cmd, what)
    }

    pub fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    /// Kill `pid` too on drop (SIGKILL, if it still exists).
    pub fn also_kill(&mut self, pid: i64) {
        self.extra.push(pid);
    }

    /// Writes one line to its stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap_or_else(|| panic!("{}: stdin closed", self.what));
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("write to {}'s stdin: {e}", self.what));
    }

    /// Closes its stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn report(&self, message: &str) -> String {
        format!(
            "{message}\n{} (pid {}), exit {:?}, stdout:\n  {}\nstderr: {}",
            self.what,
            self.child.id(),
            self.status,
            self.lines.join("\n  "),
            String::from_utf8_lossy(&self.stderr.lock().unwrap())
        )
    }

    fn pump(&mut self, until: Instant) -> bool {
        if self.eof {
            return false;
        }
        let wait = until.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
        match self.rx.recv_timeout(wait) {
            Ok(Some(line)) => {
                self.lines.push(line);
                true
            }
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
        }
    }

    /// The next line (after the ones returned before) that starts with `prefix`, waiting
    /// up to `deadline`; lines before it are skipped.
    #[track_caller]
    pub fn line_within(&mut self, prefix: &str, deadline: Duration) -> String {
        let until = Instant::now() + deadline;
        loop {
            while self.taken < self.lines.len() {
                let i = self.taken;
                self.taken += 1;
                if self.lines[i].starts_with(prefix) {
                    return self.lines[i].clone();
                }
            }
            if self.eof || Instant::now() >= until {
                let why = if self.eof { "its output ended" } else { "deadline passed" };
                panic!("{}", self.report(&format!("expected a line starting with {prefix:?}: {why}")));
            }
            self.pump(until);
        }
    }

    /// `line_within` with [`DEADLINE`].
    #[track_caller]
    pub fn line(&mut self, prefix: &str) -> String {
        self.line_within(prefix, DEADLINE)
    }

    /// The value of `key=` in a line of words `k=v`.
    #[track_caller]
    pub fn field(line: &str, key: &str) -> i64 {
        line.split(' ')
            .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
            .parse()
            .unwrap_or_else(|_| panic!("{key}= is not an integer in {line:?}"))
    }

    /// Waits up to `deadline` for it to exit; returns the status.
    #[track_caller]
    pub fn wait_within(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(s) = self.status {
                return s;
            }
            if let Ok(Some(s)) = self.child.try_wait() {
                self.status = Some(s);
                // Take in the rest of its output.
                let end = Instant::now() + Duration::from_secs(5);
                while !self.eof && Instant::now() < end && self.pump(end) {}
                return s;
            }
            if Instant::now() >= until {
                panic!("{}", self.report(&format!("did not exit within {deadline:?}")));
            }
            if !self.pump(Instant::now() + POLL) {
                thread::sleep(POLL);
            }
        }
    }

    /// Waits ([`DEADLINE`]) for it to exit 0.
    #[track_caller]
    pub fn finish_ok(&mut self) {
        let s = self.wait_within(DEADLINE);
        assert!(s.success(), "{}", self.report(&format!("exited {s}")));
    }

    /// Every stdout line so far.
    pub fn all_lines(&self) -> &[String] {
        &self.lines
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill has no memory-safety preconditions; the group is ours (pgid is our
        // child's pid, not yet reaped, so not reused).
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        for &p in &self.extra {
            if p > 1 {
                // SAFETY: as above; a pid the test saw belong to its scenario.
                unsafe { libc::kill(p as i32, libc::SIGKILL) };
            }
        }
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ------------------------------------------------------------------ network

/// A network interface with `addr/24` (e.g. 10.213.0.1) where packets vanish, so a TCP
/// connect to another address of that /24 stays in SYN_SENT forever (EINPROGRESS, then
/// EALREADY). It is a tun device nobody reads (the kernels the tests run on may lack the
/// `dummy` driver; tun is there wherever /dev/net/tun is). Deleted on drop.
pub struct BlackholeNet {
    pub name: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("cannot run ip ({e}); install iproute2"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl BlackholeNet {
    pub fn new(name: &str, addr: &str) -> BlackholeNet {
        // A leftover of a killed run would make `add` fail.
        let _ = ip(&["link", "del", name]);
        let net = BlackholeNet { name: name.to_string() };
        let cidr = format!("{addr}/24");
        for args in [
            vec!["tuntap", "add", name, "mode", "tun"],
            vec!["addr", "add", cidr.as_str(), "dev", name],
            vec!["link", "set", name, "up"],
        ] {
            ip(&args).unwrap_or_else(|e| panic!("setting up the dummy interface {name}: {e}"));
        }
        net
    }
}

impl Drop for BlackholeNet {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.name]);
    }
}
