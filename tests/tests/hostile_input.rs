//! Hostile input: an unprivileged process (helpers/hostile_abi.c, running as `nobody`)
//! makes syscalls that fdwatch must survive. Each test checks that the collector is
//! still running afterwards, that it reports what the process did later exactly, and
//! that it stops cleanly (exit 0, a final `stats` record): a collector that died on the
//! way would have ended its output early or exited with a signal or a panic's 101.
use std::process::{Command, Stdio};

use fdwatch_tests::{
    child::{Child, Spawn},
    *,
};

/// One test at a time: the dup2 loop's 800k events would flood the system-wide
/// collector of the other test, whose ring buffer could then lose the events it checks.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The helper as `nobody`, its stderr read line by line.
struct Hostile {
    child: Child,
    /// How much of its stderr [`Hostile::line`] has read.
    read: usize,
    pid: i64,
}

impl Hostile {
    /// Starts `hostile_abi ARGS`, waits for it to have become `nobody`.
    fn start(args: &[&str]) -> Hostile {
        let mut cmd = Command::new(hostile_abi_bin());
        cmd.args(args);
        let child = Spawn::new(cmd, format!("hostile_abi {args:?}")).stdout_to(Stdio::null()).spawn();
        let mut h = Hostile { child, read: 0, pid: 0 };
        let first = h.line("pid=N uid=N");
        let (pid, uid) = first
            .strip_prefix("pid=")
            .and_then(|r| r.split_once(" uid="))
            .and_then(|(p, u)| Some((p.parse::<i64>().ok()?, u.parse::<u32>().ok()?)))
            .unwrap_or_else(|| panic!("hostile_abi said {first:?}"));
        assert_ne!(uid, 0, "the helper must run unprivileged");
        h.pid = pid;
        h
    }

    /// The next stderr line, within the deadline.
    #[track_caller]
    fn line(&mut self, what: &str) -> String {
        let from = self.read;
        let (line, end) = self.child.wait_for_output(&format!("a {what} line on stderr"), DEADLINE, |out| {
            let rest = &out.stderr()[from..];
            let len = rest.iter().position(|&b| b == b'\n')?;
            Some((String::from_utf8_lossy(&rest[..len]).into_owned(), from + len + 1))
        });
        self.read = end;
        line
    }

    /// Lets it run its scenario and returns its `op=NAME ret=N errno=N` lines up to `done`.
    fn go(&mut self) -> Vec<(String, i64)> {
        self.child.send("go");
        let mut ops = Vec::new();
        loop {
            let line = self.line("op or done");
            if line == "done" {
                return ops;
            }
            let mut fields = line.split(' ').filter_map(|w| w.split_once('='));
            let (Some(("op", op)), Some(("ret", ret))) = (fields.next(), fields.next()) else {
                panic!("hostile_abi said {line:?}")
            };
            ops.push((op.to_owned(), ret.parse().unwrap_or_else(|_| panic!("hostile_abi said {line:?}"))));
        }
    }

    /// The return value it printed for `op`.
    fn ret(ops: &[(String, i64)], op: &str) -> i64 {
        ops.iter().find(|(o, _)| o == op).unwrap_or_else(|| panic!("no {op} in {ops:?}")).1
    }

    /// Closes its stdin (it exits) and waits for it.
    fn finish(mut self) {
        self.child.close_stdin();
        let status = self.child.exit_within(DEADLINE);
        assert!(status.success(), "{}", self.child.report(&format!("hostile_abi exited with {status}")));
    }
}

/// An event record of the helper, with its argument fields.
fn event(pid: i64, syscall: &str, args: Value) -> Value {
    let mut e = expected(pid, syscall, args);
    e["comm"] = json!("hostile_abi");
    e
}

/// Stops fdwatch and checks that it was alive to the end: exit 0 and `stats` last.
fn stop_cleanly(fw: Fdwatch) -> Vec<Value> {
    let (status, records) = fw.stop();
    assert!(status.success(), "fdwatch did not stop cleanly: {status}");
    assert_eq!(records.last().map(|r| r["type"].clone()), Some(json!("stats")), "the last record is not stats");
    records
}

#[test]
fn a_close_of_a_register_wider_than_an_fd_is_reported_as_the_kernel_did_it_and_fdwatch_goes_on() {
    let _serial = one_at_a_time();
    // System-wide, as the always-on agent runs.
    let fw = Fdwatch::start(&[]);
    let mut h = Hostile::start(&["close-wide"]);
    let pid = h.pid;
    let ops = h.go();
    assert_eq!(Hostile::ret(&ops, "close_wide"), 0, "the kernel closed fd 1: {ops:?}");
    assert_eq!(Hostile::ret(&ops, "socket_udp"), 1, "the lowest free fd was 1: {ops:?}");
    let tcp = Hostile::ret(&ops, "socket_tcp");
    h.finish();

    // Everything after the close, exactly, in order, ending with the exit.
    fw.expect_event(pid, "exit", |_| true);
    let events = fw.events_of(pid);
    let from = events
        .iter()
        .position(|e| e["syscall"] == "close" && e["fd"] == 1)
        .unwrap_or_else(|| panic!("{}", fw.report(&format!("no close of fd 1 by pid {pid}"))));
    let later = &events[from..];
    let expected = [
        // The kernel took the low 32 bits of 0x100000001: fd 1.
        event(pid, "close", json!({"fd": 1, "ret": 0})),
        event(
            pid,
            "socket",
            json!({"domain": "AF_INET", "socket_type": "SOCK_DGRAM", "protocol": "IPPROTO_IP", "object": ANY, "ret": 1}),
        ),
        event(
            pid,
            "socket",
            json!({"domain": "AF_INET", "socket_type": "SOCK_STREAM", "protocol": "IPPROTO_IP", "object": ANY, "ret": tcp}),
        ),
        event(pid, "dup2", json!({"oldfd": tcp, "newfd": 0, "ret": 0})),
        event(pid, "close", json!({"fd": tcp, "ret": 0})),
        event(pid, "exit", json!({"group_dead": true, "exit_code": 0})),
    ];
    assert_eq!(
        later.len(),
        expected.len(),
        "{}",
        fw.report(&format!("events of pid {pid} after the close: {later:#?}"))
    );
    for (actual, expected) in later.iter().zip(&expected) {
        assert_event(actual, expected);
    }
    assert_eq!(later[1]["object"]["type"], "socket");

    // The model took the close as closing stdout: the UDP socket landed on it. (The TCP
    // socket it then put on stdin is not told: the helper's next read(0), of that
    // unconnected socket, fails at once and it exits within the alert window, and a
    // socket on the stdio of a process that exits within the window without running
    // anything is dropped, like the `</dev/tcp/host/port` port check: alert_shells.rs.)
    let alert = |shape: &str| {
        fw.expect(&format!("a {shape} alert for pid {pid}"), DEADLINE, |r| {
            r["type"] == "alert" && r["pid"] == pid && r["kind"] == "stdio_hijack" && r["shape"] == shape
        })
    };
    let landed = alert("landed_on_stdio");
    assert_eq!(landed["fds"], json!([1]), "{landed}");
    assert_eq!(landed["evidence"][0]["args"], json!({"fd": 1}), "the close is the first link: {landed}");
    let records = stop_cleanly(fw);
    let onto: Vec<&Value> = records
        .iter()
        .filter(|r| r["type"] == "alert" && r["pid"] == pid && r["shape"] == "socket_onto_stdio")
        .collect();
    assert!(onto.is_empty(), "{onto:#?}");
}

#[test]
fn a_dup2_loop_of_any_length_leaves_fdwatch_running_with_the_right_fds() {
    // Each dup2 made the new fd's history one step longer, without bound, and closing
    // the fds dropped that history by recursion: the collector's stack overflowed.
    // 800k steps: twice what overflowed the main thread's 8 MiB stack. Watched alone
    // and without --events, so the events reach the model without loss (a loss re-reads
    // the process, which resets the histories).
    let _serial = one_at_a_time();
    let mut h = Hostile::start(&["dup-loop", "400000"]);
    let pid = h.pid;
    let fw = Fdwatch::spawn_raw(&["--json", "--pid", &pid.to_string()]);
    fw.expect("ready", START_DEADLINE, |r| r["type"] == "ready");
    let ops = h.go();
    let (a, b) = (Hostile::ret(&ops, "socket"), Hostile::ret(&ops, "dup"));
    assert_eq!(Hostile::ret(&ops, "close_b"), 0, "{ops:?}");

    // What the helper holds now, and what fdwatch's model says after all of that
    // (SIGUSR1 dumps it, one `fd` record per fd in fd order).
    let mut open: Vec<i64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the helper's /proc/PID/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    open.sort_unstable();
    assert!(!open.contains(&a) && !open.contains(&b), "the helper closed {a} and {b}: {open:?}");
    let last = *open.last().expect("the helper has stdio");
    fw.signal(libc::SIGUSR1);
    fw.expect(&format!("the fd record of fd {last} of pid {pid}"), DEADLINE, |r| {
        r["type"] == "fd" && r["pid"] == pid && r["fd"] == last
    });
    let fds: Vec<i64> = fw
        .records()
        .iter()
        .filter(|r| r["type"] == "fd" && r["pid"] == pid)
        .map(|r| r["fd"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(fds, open, "fdwatch's model is not what /proc says: {}", fw.report("the fd dump"));
    h.finish();
    let records = stop_cleanly(fw);
    let stats = records.last().expect("stats");
    assert_eq!((&stats["kernel_lost"], &stats["userspace_lost"]), (&json!(0), &json!(0)), "{stats}");
    assert!(stats["by_kind"]["dup2"].as_u64().unwrap_or(0) >= 800_000, "every dup2 reached the model: {stats}");
}
