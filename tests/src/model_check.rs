//! Checking fdwatch's fd model against /proc (tests/tests/model_*.rs).
//!
//! - [`Tree`]: a process tree built by `helpers/model_procs.c` (compiled here with gcc
//!   into `<target>/model-helpers/`), in its own process group, killed on drop.
//! - [`Dumps`]: SIGUSR1 dumps of the model, cut out of fdwatch's output.
//! - [`proc_tree`] / [`compare`] / [`assert_model_matches_proc`]: the model of every
//!   process of a tree must equal /proc exactly: the set of fds, each fd's object name
//!   (`readlink /proc/PID/fd/N`), CLOEXEC (`flags & 0o2000000` of fdinfo), and also the
//!   documented `ino` (fdinfo `ino:`), `access` (fdinfo `flags & O_ACCMODE`) and `comm`.
//! - [`step`] and [`assert_origin`]: exact provenance chains.
use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Arc, Mutex, OnceLock,
        mpsc::{Receiver, RecvTimeoutError},
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{DEADLINE, Fdwatch, workspace_root};

/// How long the model may take to agree with /proc once the processes are paused.
pub const CONVERGE: Duration = Duration::from_secs(15);

// ------------------------------------------------------------------ the C helper

/// `helpers/model_procs.c`, compiled once per test binary with gcc (-Werror) into
/// `<target>/model-helpers/model_procs` (the file name is the processes' comm).
pub fn model_procs_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = workspace_root().join("tests/helpers/model_procs.c");
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"));
        let target = if target.is_relative() { workspace_root().join(target) } else { target };
        let dir = target.join("model-helpers");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        // Build beside and rename: test binaries may build it at the same time.
        let tmp = dir.join(format!("model_procs.{}.tmp", std::process::id()));
        let out = Command::new("gcc")
            .args(["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .unwrap_or_else(|e| panic!("cannot run gcc to build {} ({e}); install gcc", src.display()));
        assert!(
            out.status.success(),
            "gcc failed to build {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = dir.join("model_procs");
        std::fs::rename(&tmp, &bin).unwrap_or_else(|e| panic!("rename to {}: {e}", bin.display()));
        bin
    })
    .clone()
}

/// A running `model_procs MODE ARGS...` and everything it started (one process group,
/// SIGKILLed on drop). Its stdout is JSON lines `{"ev":...}`.
pub struct Tree {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Option<String>>,
    lines: Vec<Value>,
    /// Lines already returned by expect_ev.
    taken: Vec<bool>,
    eof: bool,
    stderr: Arc<Mutex<Vec<u8>>>,
    args: Vec<String>,
}

impl Tree {
    /// Spawns the helper and waits for its `started` line.
    pub fn spawn(args: &[&str]) -> Tree {
        let bin = model_procs_bin();
        let mut child = Command::new(&bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let crate::child_io::ChildIo { stdin, lines: rx, stderr } = crate::child_io::capture(&mut child);
        let mut tree = Tree {
            child,
            stdin,
            rx,
            lines: Vec::new(),
            taken: Vec::new(),
            eof: false,
            stderr,
            args: args.iter().map(|s| s.to_string()).collect(),
        };
        let started = tree.expect_ev("started");
        assert_eq!(started["pid"], tree.pid(), "model_procs announced another pid: {started}");
        tree
    }

    /// The root's pid (also its process group).
    pub fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    /// Writes one line to the root's stdin ("go", "poke").
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{}", self.report(&format!("cannot write to model_procs: {e}"))));
    }

    /// The first line not returned before whose `ev` is `ev`, waiting up to `deadline`
    /// (lines of other kinds stay for later calls).
    pub fn expect_ev_within(&mut self, ev: &str, deadline: Duration) -> Value {
        let until = Instant::now() + deadline;
        loop {
            if let Some(i) = (0..self.lines.len()).find(|&i| !self.taken[i] && self.lines[i]["ev"] == ev) {
                self.taken[i] = true;
                return self.lines[i].clone();
            }
            if self.eof || Instant::now() >= until {
                let why = if self.eof { "its output ended" } else { "deadline passed" };
                panic!("{}", self.report(&format!("model_procs printed no (more) ev={ev}: {why}")));
            }
            let wait = until.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
            match self.rx.recv_timeout(wait) {
                Ok(Some(line)) => {
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("{}", self.report(&format!("bad line ({e}): {line}"))));
                    self.lines.push(v);
                    self.taken.push(false);
                }
                Ok(None) | Err(RecvTimeoutError::Disconnected) => self.eof = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    pub fn expect_ev(&mut self, ev: &str) -> Value {
        self.expect_ev_within(ev, DEADLINE)
    }

    /// Asks the root for a failing close(99999) (which changes no fd) until fdwatch
    /// reports one: proof that the collector's loop runs and has drained the ring
    /// buffer up to then. Repeated once a second, since right after a flood that
    /// overflowed the ring buffer (model_loss.rs) the event may be lost itself.
    pub fn poke(&mut self, fw: &Fdwatch) {
        let pid = self.pid();
        let seen = || fw.records().iter().any(|v| crate::event_of(v, pid, "close") && v["fd"] == 99999);
        let until = Instant::now() + DEADLINE;
        while Instant::now() < until {
            self.send("poke");
            let poked = self.expect_ev("poked");
            assert_eq!(poked["ret"], -1, "{poked}");
            let again = Instant::now() + Duration::from_secs(1);
            while Instant::now() < again {
                if seen() {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("{}", fw.report(&format!("no close(99999) event of pid {pid} after a poke a second for {DEADLINE:?}")));
    }

    pub fn report(&self, message: &str) -> String {
        let lines: Vec<String> = self.lines.iter().map(Value::to_string).collect();
        format!(
            "{message}\nmodel_procs {:?} (pid {}), output:\n  {}\nstderr: {}",
            self.args,
            self.child.id(),
            lines.join("\n  "),
            String::from_utf8_lossy(&self.stderr.lock().unwrap())
        )
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // The whole process group: the root and every process it started.
        // SAFETY: kill has no memory-safety preconditions; the group is ours (the root,
        // not yet reaped, leads it).
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ waiting

/// Polls `cond` until it returns Some or `deadline` passes (then panics with `what`
/// and the last `detail`).
#[track_caller]
pub fn wait_for<T>(what: &str, deadline: Duration, mut cond: impl FnMut() -> Result<T, String>) -> T {
    let until = Instant::now() + deadline;
    loop {
        match cond() {
            Ok(v) => return v,
            Err(detail) if Instant::now() >= until => panic!("{what}: not within {deadline:?}: {detail}"),
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

// ------------------------------------------------------------------ /proc

/// One fd as /proc shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcFd {
    /// readlink /proc/PID/fd/N
    pub name: String,
    /// fdinfo `flags:` & O_CLOEXEC
    pub cloexec: bool,
    /// fdinfo `ino:`
    pub ino: u64,
    /// fdinfo `flags:` & O_ACCMODE: "read", "write", "read-write"
    pub access: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcProcess {
    pub comm: String,
    pub fds: BTreeMap<i32, ProcFd>,
}

/// A process's fds from /proc; None if it is gone (or a zombie: no fd directory left
/// to read).
pub fn proc_fds(pid: i64) -> Option<BTreeMap<i32, ProcFd>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let entry = entry.ok()?;
        let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(link) = std::fs::read_link(entry.path()) else { continue };
        let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) else { continue };
        let mut flags = 0u32;
        let mut ino = 0u64;
        for line in info.lines() {
            if let Some(v) = line.strip_prefix("flags:") {
                flags = u32::from_str_radix(v.trim(), 8).expect("fdinfo flags are octal");
            } else if let Some(v) = line.strip_prefix("ino:") {
                ino = v.trim().parse().expect("fdinfo ino is a number");
            }
        }
        let access = match flags & 0o3 {
            0 => "read",
            1 => "write",
            _ => "read-write",
        };
        out.insert(
            fd,
            ProcFd {
                name: link.to_string_lossy().into_owned(),
                cloexec: flags & 0o2000000 != 0,
                ino,
                access: access.into(),
            },
        );
    }
    Some(out)
}

/// (ppid, comm, state) from /proc/PID/stat.
pub fn proc_stat(pid: i64) -> Option<(i64, String, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let mut rest = stat[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((ppid, comm, state))
}

/// `root` and all its living descendants.
pub fn tree_pids(root: i64) -> Vec<i64> {
    let all: Vec<(i64, i64)> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter_map(|p| Some((p, proc_stat(p)?.0)))
        .collect();
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for &(child, ppid) in &all {
            if ppid == parent && !out.contains(&child) {
                out.push(child);
            }
        }
        i += 1;
    }
    out.sort_unstable();
    out
}

/// Every living process of the tree under `root` with its fds, as /proc shows them.
pub fn proc_tree(root: i64) -> BTreeMap<i64, ProcProcess> {
    let mut out = BTreeMap::new();
    for pid in tree_pids(root) {
        let Some((_, comm, state)) = proc_stat(pid) else { continue };
        if state == 'Z' {
            continue;
        }
        let Some(fds) = proc_fds(pid) else { continue };
        out.insert(pid, ProcProcess { comm, fds });
    }
    out
}

/// The children of `pid` (by /proc/*/stat ppid).
pub fn children_of(pid: i64) -> Vec<i64> {
    tree_pids(pid).into_iter().filter(|&p| proc_stat(p).is_some_and(|s| s.0 == pid)).collect()
}

// ------------------------------------------------------------------ dumps

/// The fd records of one dump, by pid and fd.
pub type Dump = BTreeMap<i64, BTreeMap<i32, Value>>;

/// SIGUSR1 dumps of one collector, cut out of its output.
///
/// A dump writes its `fd` records sorted by (pid, fd), all at once (one buffer, one
/// flush), so in the output a dump is a maximal run of consecutive `fd` records with
/// strictly increasing (pid, fd): it ends at the first other record or where the
/// order starts over (the next dump). Nothing marks the end of the last dump, so each
/// [`Dumps::take`] sends a second SIGUSR1 whose dump is the end marker (and skipped).
///
/// Send the first SIGUSR1 only once the collector's loop runs ([`Tree::poke`]): until
/// its handler is installed, a SIGUSR1 kills fdwatch, and the `ready` record comes
/// before that (model_startup.rs checks this on its own).
#[derive(Default)]
pub struct Dumps {
    /// Dumps (segments) known to have started in the output.
    started: usize,
}

/// Index (0-based) of the segment each record of `records` belongs to (None: not an fd
/// record), computed incrementally.
#[derive(Default)]
struct Segmenter {
    count: usize,
    last: Option<(i64, i64)>,
}

impl Segmenter {
    fn feed(&mut self, v: &Value) -> Option<usize> {
        if v["type"] != "fd" {
            self.last = None;
            return None;
        }
        let key = (v["pid"].as_i64().unwrap_or(-1), v["fd"].as_i64().unwrap_or(-1));
        match self.last {
            Some(prev) if key > prev => {}
            _ => self.count += 1,
        }
        self.last = Some(key);
        Some(self.count - 1)
    }
}

impl Dumps {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends SIGUSR1 and returns the dump it caused.
    pub fn take(&mut self, fw: &Fdwatch) -> Dump {
        let mine = self.started;
        signal(fw, libc::SIGUSR1);
        // Wait for it to start before the end marker: two SIGUSR1 pending at once
        // would be one dump.
        self.wait_started(fw, mine + 1);
        signal(fw, libc::SIGUSR1);
        let records = std::cell::RefCell::new(Vec::new());
        let seg = std::cell::RefCell::new(Segmenter::default());
        fw.expect(&format!("the end of dump #{mine} (the start of dump #{})", mine + 1), DEADLINE * 3, |v| {
            match seg.borrow_mut().feed(v) {
                Some(i) if i == mine => {
                    records.borrow_mut().push(v.clone());
                    false
                }
                Some(i) => i > mine,
                None => false,
            }
        });
        self.started = mine + 2;
        by_pid_fd(&records.into_inner())
    }

    fn wait_started(&self, fw: &Fdwatch, n: usize) {
        let seg = std::cell::RefCell::new(Segmenter::default());
        fw.expect(&format!("dump #{} (fd records after SIGUSR1)", n - 1), DEADLINE * 3, |v| {
            seg.borrow_mut().feed(v).is_some_and(|i| i + 1 >= n)
        });
    }
}

fn signal(fw: &Fdwatch, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions; fdwatch is our unreaped child.
    let r = unsafe { libc::kill(fw.pid() as i32, sig) };
    assert_eq!(r, 0, "kill(fdwatch, {sig}) failed");
}

/// Groups fd records by pid and fd (a repeated (pid, fd) is kept as a list so that
/// [`compare`] reports it).
pub fn by_pid_fd(records: &[Value]) -> Dump {
    let mut out: Dump = BTreeMap::new();
    for r in records.iter().filter(|r| r["type"] == "fd") {
        let pid = r["pid"].as_i64().unwrap_or(-1);
        let fd = r["fd"].as_i64().unwrap_or(-1) as i32;
        let slot = out.entry(pid).or_default();
        match slot.get_mut(&fd) {
            Some(prev) => {
                let mut list = prev.get("__repeated__").cloned().unwrap_or(json!([]));
                list.as_array_mut().unwrap().push(r.clone());
                prev["__repeated__"] = list;
            }
            None => {
                slot.insert(fd, r.clone());
            }
        }
    }
    out
}

/// The last dump in a finished run's records (the `--dump-on-exit` one).
pub fn last_dump(records: &[Value]) -> Dump {
    let mut seg = Segmenter::default();
    let idx: Vec<Option<usize>> = records.iter().map(|r| seg.feed(r)).collect();
    let Some(last) = idx.iter().flatten().max().copied() else { return Dump::new() };
    let mine: Vec<Value> =
        records.iter().zip(&idx).filter(|(_, i)| **i == Some(last)).map(|(r, _)| r.clone()).collect();
    by_pid_fd(&mine)
}

// ------------------------------------------------------------------ comparing

/// Every difference between the model (`dump`) and /proc (`procs`) for the processes
/// of `procs` and any other process the dump names. Empty: equal.
pub fn compare(dump: &Dump, procs: &BTreeMap<i64, ProcProcess>) -> Vec<String> {
    let mut problems = Vec::new();
    let pids: BTreeSet<i64> = dump.keys().chain(procs.keys()).copied().collect();
    for pid in pids {
        let empty = BTreeMap::new();
        let model = dump.get(&pid).unwrap_or(&empty);
        let Some(real) = procs.get(&pid) else {
            problems.push(format!(
                "pid {pid}: the model has {} fds of it, but /proc has no such (living) process of the tree",
                model.len()
            ));
            continue;
        };
        let fds: BTreeSet<i32> = model.keys().chain(real.fds.keys()).copied().collect();
        for fd in fds {
            match (model.get(&fd), real.fds.get(&fd)) {
                (None, Some(p)) => problems.push(format!(
                    "pid {pid} ({}) fd {fd}: open in /proc ({}, cloexec {}) but missing from the model",
                    real.comm, p.name, p.cloexec
                )),
                (Some(m), None) => problems.push(format!(
                    "pid {pid} ({}) fd {fd}: in the model ({}, cloexec {}) but not open in /proc; record: {m}",
                    real.comm, m["object"]["name"], m["cloexec"]
                )),
                (Some(m), Some(p)) => {
                    let mut diff = Vec::new();
                    if m.get("__repeated__").is_some() {
                        diff.push("the dump has several records for it".to_string());
                    }
                    if m["object"]["name"] != p.name.as_str() {
                        diff.push(format!("name {} (proc {:?})", m["object"]["name"], p.name));
                    }
                    if m["cloexec"] != p.cloexec {
                        diff.push(format!("cloexec {} (proc {})", m["cloexec"], p.cloexec));
                    }
                    if m["object"]["ino"] != p.ino {
                        diff.push(format!("ino {} (proc {})", m["object"]["ino"], p.ino));
                    }
                    if m["object"]["access"] != p.access.as_str() {
                        diff.push(format!("access {} (proc {:?})", m["object"]["access"], p.access));
                    }
                    if m["comm"] != real.comm.as_str() {
                        diff.push(format!("comm {} (proc {:?})", m["comm"], real.comm));
                    }
                    if !diff.is_empty() {
                        problems.push(format!("pid {pid} ({}) fd {fd}: {}; record: {m}", real.comm, diff.join(", ")));
                    }
                }
                (None, None) => unreachable!(),
            }
        }
    }
    problems
}

/// Dumps the model (SIGUSR1) until, for every process of the tree under `root`, it
/// equals /proc, or [`CONVERGE`] passes (then panics with every difference of the last
/// dump). /proc is read before and after each dump; a dump only counts if both
/// readings agree (the processes are meant to be paused). Returns the matching dump.
#[track_caller]
pub fn assert_model_matches_proc(fw: &Fdwatch, dumps: &mut Dumps, root: i64, what: &str) -> Dump {
    let until = Instant::now() + CONVERGE;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let before = proc_tree(root);
        let dump = dumps.take(fw);
        let after = proc_tree(root);
        if before != after {
            assert!(Instant::now() < until, "{what}: the processes under {root} never stood still in /proc");
            continue;
        }
        let problems = compare(&dump, &after);
        if problems.is_empty() {
            return dump;
        }
        if Instant::now() >= until {
            panic!("{}", mismatch_report(what, &problems, attempts, &after));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// The same comparison for a dump that cannot be retried (`--dump-on-exit`).
#[track_caller]
pub fn assert_dump_matches(dump: &Dump, procs: &BTreeMap<i64, ProcProcess>, what: &str) {
    let problems = compare(dump, procs);
    if !problems.is_empty() {
        panic!("{}", mismatch_report(what, &problems, 1, procs));
    }
}

fn mismatch_report(what: &str, problems: &[String], attempts: usize, procs: &BTreeMap<i64, ProcProcess>) -> String {
    const SHOWN: usize = 40;
    let mut text = format!(
        "{what}: the fd model differs from /proc in {} ways (last of {attempts} dumps; processes {:?}):\n  - {}",
        problems.len(),
        procs.iter().map(|(p, pr)| format!("{p} {} ({} fds)", pr.comm, pr.fds.len())).collect::<Vec<_>>(),
        problems[..problems.len().min(SHOWN)].join("\n  - ")
    );
    if problems.len() > SHOWN {
        text.push_str(&format!("\n  ... and {} more", problems.len() - SHOWN));
    }
    text
}

// ------------------------------------------------------------------ provenance

/// An expected provenance step: `step` plus its fields besides `pid` and `ts`.
pub fn step(step: &str, pid: i64, fields: Value) -> Value {
    let mut v = json!({"step": step, "pid": pid});
    for (k, f) in fields.as_object().expect("fields is an object") {
        v[k] = f.clone();
    }
    v
}

pub fn created(syscall: &str, pid: i64) -> Value {
    step("created", pid, json!({"syscall": syscall}))
}

pub fn dup(syscall: &str, from_fd: i64, pid: i64) -> Value {
    step("dup", pid, json!({"syscall": syscall, "from_fd": from_fd}))
}

pub fn inherited(from_pid: i64, pid: i64) -> Value {
    step("inherited", pid, json!({"from_pid": from_pid}))
}

pub fn survived_exec(pid: i64) -> Value {
    step("survived_exec", pid, json!({}))
}

pub fn present_at_start(pid: i64) -> Value {
    step("present_at_start", pid, json!({}))
}

/// Problems of an fd record's `origin` against `want` (oldest first): every step must
/// have exactly the expected fields plus `ts`, an RFC 3339 time, not earlier than the
/// step before.
pub fn origin_problems(record: &Value, want: &[Value]) -> Option<String> {
    let Some(got) = record["origin"].as_array() else { return Some(format!("no origin list: {record}")) };
    let mut problems = Vec::new();
    if got.len() != want.len() {
        problems.push(format!("{} steps, expected {}", got.len(), want.len()));
    }
    let mut prev_ts: Option<&str> = None;
    for (i, g) in got.iter().enumerate() {
        let Some(obj) = g.as_object() else {
            problems.push(format!("step {i} is not an object"));
            continue;
        };
        match obj.get("ts").and_then(Value::as_str) {
            Some(ts) => {
                if prev_ts.is_some_and(|p| p > ts) {
                    problems.push(format!("step {i}: ts {ts} is before the previous step's"));
                }
                prev_ts = Some(ts);
            }
            None => problems.push(format!("step {i} has no ts")),
        }
        let Some(w) = want.get(i) else { continue };
        let mut g = g.clone();
        g.as_object_mut().unwrap().remove("ts");
        if &g != w {
            problems.push(format!("step {i} is {g}, expected {w}"));
        }
    }
    (!problems.is_empty()).then(|| {
        format!(
            "pid {} fd {}: origin {}: {}\n    expected {}",
            record["pid"],
            record["fd"],
            record["origin"],
            problems.join("; "),
            Value::Array(want.to_vec())
        )
    })
}

/// The record of `fd` of `pid` in `dump`.
#[track_caller]
pub fn fd_record(dump: &Dump, pid: i64, fd: i64) -> &Value {
    dump.get(&pid)
        .and_then(|fds| fds.get(&(fd as i32)))
        .unwrap_or_else(|| panic!("the dump has no fd {fd} of pid {pid}"))
}

/// Asserts the provenance chain of `fd` of `pid`.
#[track_caller]
pub fn assert_origin(dump: &Dump, pid: i64, fd: i64, want: &[Value]) {
    if let Some(p) = origin_problems(fd_record(dump, pid, fd), want) {
        panic!("wrong provenance: {p}");
    }
}

/// Collects provenance problems to report them all at once.
#[derive(Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    pub fn origin(&mut self, dump: &Dump, pid: i64, fd: i64, want: &[Value]) {
        match dump.get(&pid).and_then(|fds| fds.get(&(fd as i32))) {
            None => self.0.push(format!("the dump has no fd {fd} of pid {pid}")),
            Some(r) => {
                if let Some(p) = origin_problems(r, want) {
                    self.0.push(p);
                }
            }
        }
    }

    pub fn push(&mut self, p: String) {
        self.0.push(p);
    }

    #[track_caller]
    pub fn assert_none(&self, what: &str) {
        const SHOWN: usize = 30;
        if !self.0.is_empty() {
            let mut text =
                format!("{what}: {} problems:\n  - {}", self.0.len(), self.0[..self.0.len().min(SHOWN)].join("\n  - "));
            if self.0.len() > SHOWN {
                text.push_str(&format!("\n  ... and {} more", self.0.len() - SHOWN));
            }
            panic!("{text}");
        }
    }
}

/// The `loss` and `resync` records so far: where the model had to heal. Scenarios
/// without a forced loss must have none (a resync there means an event contradicted
/// the model).
pub fn healing_records(fw: &Fdwatch) -> Vec<Value> {
    fw.records().into_iter().filter(|r| r["type"] == "loss" || r["type"] == "resync").collect()
}

#[track_caller]
pub fn assert_no_healing(fw: &Fdwatch, what: &str) {
    let heal = healing_records(fw);
    assert!(
        heal.is_empty(),
        "{what}: the model needed healing ({} loss/resync records), e.g.:\n  {}",
        heal.len(),
        heal.iter().take(10).map(Value::to_string).collect::<Vec<_>>().join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd(pid: i64, fd: i64) -> Value {
        json!({"type": "fd", "pid": pid, "fd": fd, "comm": "x", "cloexec": false,
               "object": {"name": "/dev/null", "ino": 3, "access": "read"}, "origin": []})
    }

    #[test]
    fn dumps_are_cut_at_other_records_and_where_the_order_starts_over() {
        let ev = json!({"type": "event"});
        let records = [fd(1, 0), fd(1, 1), fd(2, 0), fd(1, 0), fd(2, 5), ev.clone(), fd(1, 0), ev, fd(3, 3)];
        let mut seg = Segmenter::default();
        let idx: Vec<Option<usize>> = records.iter().map(|r| seg.feed(r)).collect();
        assert_eq!(idx, [Some(0), Some(0), Some(0), Some(1), Some(1), None, Some(2), None, Some(3)]);
        let last = last_dump(&records);
        assert_eq!(last.keys().copied().collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn compare_reports_every_difference() {
        let procs: BTreeMap<i64, ProcProcess> = [(
            1,
            ProcProcess {
                comm: "x".into(),
                fds: [
                    (0, ProcFd { name: "/dev/null".into(), cloexec: false, ino: 3, access: "read".into() }),
                    (1, ProcFd { name: "/dev/null".into(), cloexec: true, ino: 3, access: "read".into() }),
                ]
                .into(),
            },
        )]
        .into();
        assert!(
            compare(
                &by_pid_fd(&[fd(1, 0), {
                    let mut r = fd(1, 1);
                    r["cloexec"] = json!(true);
                    r
                }]),
                &procs
            )
            .is_empty()
        );
        let problems = compare(&by_pid_fd(&[fd(1, 0), fd(1, 1), fd(1, 2), fd(9, 0)]), &procs);
        assert_eq!(problems.len(), 3, "{problems:#?}"); // cloexec of 1, extra 2, pid 9
        let problems = compare(&by_pid_fd(&[fd(1, 0)]), &procs);
        assert_eq!(problems.len(), 1, "{problems:#?}"); // 1 missing
    }

    #[test]
    fn origins_compare_exactly_but_for_ts() {
        let rec = json!({"pid": 1, "fd": 0, "origin": [
            {"step": "created", "syscall": "socket", "pid": 1, "ts": "2026-01-01T00:00:00.000000001Z"},
            {"step": "inherited", "from_pid": 1, "pid": 2, "ts": "2026-01-01T00:00:00.000000002Z"}]});
        assert_eq!(origin_problems(&rec, &[created("socket", 1), inherited(1, 2)]), None);
        assert!(origin_problems(&rec, &[created("socket", 1)]).is_some());
        assert!(origin_problems(&rec, &[created("socket", 1), inherited(2, 2)]).is_some());
    }
}
