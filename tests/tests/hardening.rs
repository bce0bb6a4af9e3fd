//! What fdwatch promises under faults and hostile use (README, "Guarantees"), with the
//! real binary and the real fault: output that cannot be written, a reader that goes
//! away, --pid values that name no watchable process or a process that exits while
//! fdwatch starts, every numeric flag's limits, the capabilities it runs with, and a
//! panic.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use fdwatch_tests::{
    child::{Child, Spawn},
    helpers::FdwatchForAnyone,
    *,
};

/// `fdwatch ARGS` with its stdout going to `stdout` (a file, /dev/full).
fn fdwatch_writing_to(args: &[&str], stdout: fs::File, what: &str) -> Child {
    let mut cmd = Command::new(fdwatch_bin());
    cmd.args(args);
    Spawn::new(cmd, format!("fdwatch {args:?}, {what}")).stdin_null().stdout_to(stdout).spawn()
}

/// One line on stderr that names `what`, and no panic report.
#[track_caller]
fn assert_one_line(stderr: &str, what: &[&str]) {
    assert_eq!(stderr.lines().count(), 1, "not one line on stderr: {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for w in what {
        assert!(stderr.contains(w), "stderr does not say {w:?}: {stderr}");
    }
}

#[test]
fn output_that_cannot_be_written_is_one_line_and_exit_3() {
    require_root();
    let full = fs::OpenOptions::new().write(true).open("/dev/full").expect("open /dev/full");
    // No control socket: another agent on the default one would be a line of its own.
    let mut fw = fdwatch_writing_to(
        &["--json", "--events", "--duration", "10", "--control-socket", "off"],
        full,
        "stdout is /dev/full",
    );
    let (status, _, stderr) = fw.end_within(DEADLINE);
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(3), "{status:?}, stderr: {stderr}");
    assert_one_line(&stderr, &["cannot write to standard output", "No space left on device"]);
}

/// A small tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn new(size: &str) -> Tmpfs {
        let dir = std::env::temp_dir().join(format!("fdwatch-full-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs {}: {status:?}", dir.display());
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_disk_ends_the_run_with_whole_lines_and_says_so() {
    require_root();
    let disk = Tmpfs::new("256k");
    let path = disk.0.join("out.ndjson");
    let mut flood = Fdops::waiting(&["flood", "100000"]);
    let file = fs::File::create(&path).expect("create the output file");
    let mut fw = fdwatch_writing_to(&["--json", "--events", "--pid", &flood.pid().to_string()], file, "a full disk");
    // The ready record is the first line of the file.
    let until = Instant::now() + START_DEADLINE;
    while !fs::read(&path).unwrap_or_default().contains(&b'\n') {
        assert!(Instant::now() < until, "no ready record in {}", path.display());
        assert!(fw.status().is_none(), "{}", fw.report("fdwatch exited before ready"));
        thread::sleep(POLL);
    }
    flood.go();
    let (status, _, stderr) = fw.end_within(DEADLINE);
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(3), "{status:?}, stderr: {stderr}");
    assert_one_line(&stderr, &["No space left on device", "stopped after", "events"]);
    let bytes = fs::read(&path).unwrap();
    assert!(bytes.len() > 200_000, "the disk was not filled: {} bytes", bytes.len());
    assert_eq!(bytes.last(), Some(&b'\n'), "the last line was cut: ...{:?}", &bytes[bytes.len().saturating_sub(80)..]);
    for (i, line) in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let parsed: Result<Value, _> = serde_json::from_slice(line);
        assert!(parsed.is_ok(), "line {i} is not a whole JSON record: {}", String::from_utf8_lossy(line));
    }
}

#[test]
fn a_reader_that_goes_away_stops_an_idle_run_promptly() {
    require_root();
    // Watching one idle process: nothing is ever written after `ready`, so only a
    // poll of stdout can notice that the reader is gone (`fdwatch --json | head -1`).
    let idle = Fdops::waiting(&[]);
    let mut fw = fdwatch_head_1(&["--json", "--pid", &idle.pid().to_string()]);
    let closed = Instant::now();
    let status = fw.exit_within(DEADLINE);
    let took = closed.elapsed();
    let (_, _, stderr) = fw.end_within(DEADLINE);
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(0), "{status:?}, stderr: {stderr}");
    assert!(stderr.is_empty(), "a reader going away is a normal stop: {stderr}");
    // The drain tick polls every 10 ms, 100 ms once idle; allow for a loaded machine.
    assert!(took < Duration::from_secs(2), "noticed only after {took:?}");
}

/// Sets the pid the next fork in the root pid namespace gets (`ns_last_pid` is the
/// last one handed out, pid_namespaces(7)), then forks a helper with `ops` until one
/// gets `pid`; other processes on the machine may take it first.
fn spawn_with_pid(pid: i64, ops: &[&str]) -> Fdops {
    for _ in 0..200 {
        fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).expect("write ns_last_pid");
        let helper = Fdops::waiting(ops);
        if helper.pid() == pid {
            return helper;
        }
    }
    panic!("could not get pid {pid} back for a new process");
}

#[test]
fn a_watched_process_that_exits_while_fdwatch_starts_is_not_watched_when_its_pid_comes_back() {
    require_root();
    let mut stays = Fdops::waiting(&["dup2", "1", "101", "close", "101"]);
    let mut leaves = Fdops::waiting(&[]);
    let left = leaves.pid();
    let mut command = Command::new(fdwatch_bin());
    command.args(["--json", "--events", "--pid", &stays.pid().to_string(), "--pid", &left.to_string()]);
    let fw = Fdwatch::spawn_command(command);
    // fdwatch holds a pidfd on each watched process from the moment it checked it;
    // the pidfd shows up long before the probes are attached (the kernel's BTF is
    // parsed in between), and `leaves` ends right then.
    let fd_dir = format!("/proc/{}/fd", fw.pid());
    let until = Instant::now() + START_DEADLINE;
    let pidfds = || {
        fs::read_dir(&fd_dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| fs::read_link(e.path()).is_ok_and(|l| l == Path::new("anon_inode:[pidfd]")))
                    .count()
            })
            .unwrap_or(0)
    };
    while pidfds() < 2 {
        assert!(Instant::now() < until, "fdwatch never opened its pidfds");
        thread::sleep(Duration::from_millis(1));
    }
    leaves.go();
    assert!(leaves.finish().success());
    let fw = Fdwatch::until_ready(fw);
    let ready = fw.records()[0].clone();
    assert_eq!(ready["watched"], json!([stays.pid()]), "the exited process is not watched: {ready}");
    // Its pid, reused by a new process: nothing of it may be reported.
    let mut reused = spawn_with_pid(left, &["dup2", "1", "102", "close", "102"]);
    reused.go();
    reused.finish_ok();
    // A barrier: the watched process's later events arrive after the reused pid's.
    stays.go();
    stays.finish_ok();
    fw.expect_event(stays.pid(), "close", |e| e["fd"] == 101);
    let leaked: Vec<Value> = fw.events_of(left);
    assert!(
        leaked.is_empty(),
        "pid {left} was reused by an unwatched process and reported: {} events, the first {}",
        leaked.len(),
        leaked[0]
    );
}

#[test]
fn a_thread_id_watches_its_process_and_says_so() {
    require_root();
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import threading, sys\n\
         ev = threading.Event()\n\
         t = threading.Thread(target=lambda: (print(threading.get_native_id(), flush=True), ev.wait()))\n\
         t.start(); sys.stdin.readline(); ev.set(); t.join()",
    ]);
    let mut py = Child::spawn(cmd, "python3 with a thread");
    let tid: i64 = py.take_line("the thread's id", DEADLINE, |l| {
        let line = String::from_utf8_lossy(l);
        line.trim().parse().map(Some).map_err(|_| format!("no thread id: {line:?}"))
    });
    assert_ne!(tid, py.pid());
    let fw = Fdwatch::start(&["--pid", &tid.to_string()]);
    let ready = fw.records()[0].clone();
    assert_eq!(ready["watched"], json!([py.pid()]), "{ready}");
    let stderr = fw.stderr();
    assert!(
        stderr.contains(&format!("pid {tid} is a thread of process {}", py.pid())),
        "no note that the thread's process is watched: {stderr:?}"
    );
    py.close_stdin();
    py.wait_exit(DEADLINE);
}

#[test]
fn kernel_threads_and_zombies_are_refused_by_name() {
    require_root();
    // kthreadd is pid 2 on every Linux since 2.6.22 (kernel/kthread.c).
    let (status, records, stderr) = Fdwatch::spawn_raw(&["--json", "--pid", "2"]).outcome(DEADLINE);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(records.is_empty());
    assert_one_line(&stderr, &["--pid 2", "kernel thread"]);

    let child = Child::spawn(Command::new("true"), "true");
    let pid = child.pid();
    let until = Instant::now() + DEADLINE;
    while !fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z ")) {
        assert!(Instant::now() < until, "pid {pid} never became a zombie");
        thread::sleep(POLL);
    }
    let (status, _, stderr) = Fdwatch::spawn_raw(&["--json", "--pid", &pid.to_string()]).outcome(DEADLINE);
    drop(child); // reaps it
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert_one_line(&stderr, &[&format!("--pid {pid}"), "already exited"]);
}

#[test]
fn every_numeric_flag_is_checked_against_its_documented_range() {
    require_root();
    // (flag, values outside the range, including the ones that used to panic or wrap)
    let cases: &[(&str, &[&str])] = &[
        ("--duration", &["0", "-1", "1e30", "315360001", "nan", "inf", "soon"]),
        ("--pipe-leak-grace", &["0", "-5", "86401", "1e20"]),
        ("--repeat-interval", &["0", "-0.5", "86401", "1e300"]),
        ("--ring-bytes", &["0", "-4096", "2048", "5000", "536870912", "2147483648", "99999999999"]),
        ("--wakeup-bytes", &["0", "-1", "134217729"]),
        ("--max-fds", &["0", "-1", "67108865"]),
        ("--pid", &["0", "-3", "4194305", "abc"]),
    ];
    for (flag, values) in cases {
        for value in *values {
            let (status, records, stderr) = Fdwatch::spawn_raw(&["--json", flag, value]).outcome(DEADLINE);
            assert_eq!(status.code(), Some(2), "{flag} {value}: {status:?}, stderr: {stderr}");
            assert!(records.is_empty(), "{flag} {value}");
            assert_one_line(&stderr, &[flag, value]);
        }
    }
    // --wakeup-bytes is checked against the ring it wakes up for.
    let (status, _, stderr) =
        Fdwatch::spawn_raw(&["--json", "--ring-bytes", "8192", "--wakeup-bytes", "4097"]).outcome(DEADLINE);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert_one_line(&stderr, &["--wakeup-bytes 4097", "--ring-bytes 8192"]);
    // The limits themselves are accepted.
    let fw = Fdwatch::start(&[
        "--duration",
        "0.5",
        "--ring-bytes",
        "4096",
        "--wakeup-bytes",
        "2048",
        "--pipe-leak-grace",
        "86400",
        "--repeat-interval",
        "86400",
        "--max-fds",
        "67108864",
    ]);
    let (status, records) = fw.wait_done(DEADLINE);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(records.last().unwrap()["type"], "stats");
}

/// `fdwatch ARGS` as nobody with exactly `caps` (setpriv(1): inheritable + ambient, so
/// they survive the exec as an unprivileged uid).
fn as_nobody_with(caps: &str, bin: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    if !caps.is_empty() {
        command.arg(format!("--inh-caps={caps}")).arg(format!("--ambient-caps={caps}"));
    }
    command.arg(bin).args(args);
    command
}

#[test]
fn it_runs_as_an_ordinary_user_with_only_its_capabilities() {
    require_root();
    let bin = FdwatchForAnyone::new("caps");
    let mut child = Fdops::waiting(&["dup2", "1", "100", "close", "100"]);
    let pid = child.pid().to_string();
    let command =
        as_nobody_with("+bpf,+perfmon,+sys_ptrace,+dac_read_search", &bin.path, &["--json", "--events", "--pid", &pid]);
    let fw = Fdwatch::until_ready(Fdwatch::spawn_command(command));
    let uid = fs::read_to_string(format!("/proc/{}/status", fw.pid())).unwrap();
    assert!(uid.lines().any(|l| l.starts_with("Uid:\t65534")), "not running as nobody: {uid}");
    child.go();
    child.finish_ok();
    fw.expect_event(child.pid(), "dup2", |e| e["newfd"] == 100);
    fw.expect_event(child.pid(), "close", |e| e["fd"] == 100);
    assert!(fw.stderr().is_empty(), "{}", fw.stderr());
}

#[test]
fn a_missing_capability_is_named() {
    require_root();
    let bin = FdwatchForAnyone::new("nocaps");
    for (caps, lacking) in [("+bpf", "CAP_PERFMON"), ("+perfmon", "CAP_BPF"), ("", "CAP_BPF and CAP_PERFMON")] {
        let cmd = as_nobody_with(caps, &bin.path, &["--json", "--duration", "1"]);
        let (status, stdout, stderr) = child::run_to_end(cmd, &format!("fdwatch with caps {caps:?}"), DEADLINE);
        let stderr = String::from_utf8_lossy(&stderr);
        assert_eq!(status.code(), Some(1), "caps {caps:?}: {stderr}");
        assert!(stdout.is_empty());
        assert_one_line(&stderr, &[&format!("lacks {lacking}")]);
    }
}

#[test]
fn a_panic_is_one_line_and_exit_4() {
    require_root();
    let mut cmd = Command::new(fdwatch_bin());
    cmd.args(["--json", "--duration", "1"]).env("FDWATCH_TEST_PANIC", "1").env_remove("RUST_BACKTRACE");
    let (status, stdout, stderr) = child::run_to_end(cmd, "fdwatch told to panic", DEADLINE);
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("fdwatch: internal error"), "{stderr}");
    assert!(stderr.contains("FDWATCH_TEST_PANIC") && stderr.contains("main.rs"), "what and where: {stderr}");
    assert!(stdout.is_empty());
}

/// CPU time (user + system) of `pid` in ms, from /proc/PID/stat (fields 14 and 15, in
/// clock ticks: proc_pid_stat(5)).
fn cpu_ms(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    (fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)) * 1000 / hz
}

#[test]
fn sigterm_under_a_flood_stops_promptly() {
    require_root();
    // Two producers flooding faster than the collector reads: each drain is bounded,
    // so the signal is seen between drains, not after the flood.
    let mut floods = [Fdops::waiting(&["flood", "5000000"]), Fdops::waiting(&["flood", "5000000"])];
    let pids: Vec<String> = floods.iter().map(|f| f.pid().to_string()).collect();
    // Alerts only: what is timed is the collector's stop, not a reader parsing events.
    let fw = Fdwatch::until_ready(Fdwatch::spawn_raw(&[
        "--json",
        "--pid",
        &pids[0],
        "--pid",
        &pids[1],
        "--ring-bytes",
        "67108864",
    ]));
    for f in &mut floods {
        f.go();
    }
    // Well into the flood: the collector has spent 300 ms of CPU on it.
    let until = Instant::now() + DEADLINE;
    while cpu_ms(fw.pid()) < 300 {
        assert!(Instant::now() < until, "the collector never got busy");
        thread::sleep(POLL);
    }
    let signalled = Instant::now();
    let (status, records) = fw.stop_with(libc::SIGTERM);
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(records.last().unwrap()["type"], "stats", "{:?}", records.last());
    assert!(took < Duration::from_secs(5), "SIGTERM during a flood took {took:?} to stop fdwatch");
}
