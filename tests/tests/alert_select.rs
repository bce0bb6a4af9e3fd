//! select_high_fd (issue 4), incident 2 of README.md's *Alerts*: a monitor keeps a pool of UDP
//! sockets without CLOEXEC and runs a probe; the probe inherits them across exec, so its
//! own TCP socket lands above 1023, and select(nfds = fd + 1) overflows the caller's
//! 1024-bit fd_set. The probe connects non-blocking to an address on a dummy interface
//! (a tun device nobody reads: the SYN is never answered), selects for writability, then connects again: EALREADY,
//! the symptom.
//!
//! The monitor is helpers/monitor.c (comm "monitor"); the probe is fdops, whose fd_sets
//! are 8192 bits long, so the overflow harms nobody here.
use fdwatch_tests::{alerts::*, *};

/// Sockets in the monitor's pool: fds 3..=1032, so fds 1024..=1032 are inherited high
/// fds and the probe's own socket is fd 1033.
const POOL: i64 = 1030;

struct Incident {
    monitor: i64,
    probe: i64,
    sock: i64,
    nfds: i64,
    target: String,
    records: Vec<Value>,
}

/// Runs the incident with `syscall` (select or pselect6) on a blackhole interface `iface`
/// with the /24 `net` ("10.213.0"), under `fdwatch --pid MONITOR --follow`.
fn run_incident(syscall: &str, iface: &str, net: &str) -> Incident {
    let _net = BlackholeNet::new(iface, &format!("{net}.1"));
    let target = format!("{net}.2:80");
    let nfds = POOL + 4; // the probe's socket is fd POOL + 3
    let timeout = if syscall == "select" { "20000" } else { "20000000" }; // 20 ms
    let nfds_s = nfds.to_string();
    let pool = POOL.to_string();
    let fdops = fdops_bin();
    let fdops = fdops.to_str().unwrap();
    let mut monitor = Proc::run(
        monitor_bin().to_str().unwrap(),
        &[
            &pool,
            fdops,
            "socket",
            "AF_INET",
            "SOCK_STREAM|SOCK_NONBLOCK",
            "0",
            "connect",
            "%socket.ret",
            &target,
            syscall,
            &nfds_s,
            timeout,
            "%socket.ret",
            "connect",
            "%socket.ret",
            &target,
        ],
        "monitor",
    );
    let ready = monitor.line("op=monitor");
    let monitor_pid = Proc::field(&ready, "pid");
    assert_eq!(monitor_pid, monitor.pid());
    assert_eq!(
        (Proc::field(&ready, "first"), Proc::field(&ready, "last"), Proc::field(&ready, "open")),
        (3, POOL + 2, POOL + 3),
        "the monitor should hold stdio and its pool only, on fds 3..={}: {ready}",
        POOL + 2
    );

    let fw = monitor.go_watched();
    let sock = Proc::field(&monitor.line("op=socket"), "ret");
    assert_eq!(sock, POOL + 3, "the probe's socket should land just above the inherited pool");
    let first = monitor.line("op=connect");
    assert!(first.contains("errno=EINPROGRESS"), "a non-blocking connect to {target} should be in progress: {first}");
    let sel = monitor.line(&format!("op={syscall}"));
    assert!(sel.starts_with(&format!("op={syscall} ret=0 ")), "{syscall} should time out (SYN never answered): {sel}");
    let again = monitor.line("op=connect");
    assert!(again.contains("errno=EALREADY"), "the second connect should fail with EALREADY: {again}");
    let probe = Proc::field(&monitor.line("op=probe"), "pid");
    monitor.finish_ok();

    fw.expect(&format!("a select_high_fd alert for the probe (pid {probe})"), DEADLINE, |r| {
        r["type"] == "alert" && r["kind"] == "select_high_fd" && r["pid"] == probe
    });
    let records = stop(fw);
    Incident { monitor: monitor_pid, probe, sock, nfds, target, records }
}

fn check_incident(syscall: &str, inc: &Incident) {
    let Incident { monitor, probe, sock, nfds, target, records } = inc;
    let (monitor, probe, sock, nfds) = (*monitor, *probe, *sock, *nfds);
    let alert = the_alert(records, "select_high_fd", probe, "the probe's overflowing select");
    let exe = std::fs::canonicalize(fdops_bin()).unwrap();
    let evidence = assert_alert(
        &alert,
        json!({
            "kind": "select_high_fd", "severity": "critical", "pid": probe, "comm": "fdops",
            "exe": exe.to_str().unwrap(), "syscall": syscall, "nfds": nfds,
            // fdops' pselect6 passes no signal mask, as glibc's select() does.
            "function": "select",
            // fds 1024..=1032 inherited, 1033 its own socket
            "high_fds": POOL + 3 - 1024 + 1,
            // stdio, the pool, its socket
            "fds_total": POOL + 4,
        }),
    );
    let sel = find_evidence(&alert, "event", probe, syscall, json!({"nfds": nfds}), 0, None);
    let symptom = find_evidence(
        &alert,
        "symptom",
        probe,
        "connect",
        json!({"sockfd": sock, "addr": target}),
        -114,
        Some("EALREADY"),
    );
    assert!(sel < symptom, "the EALREADY symptom should follow the {syscall} event: {alert}");
    // The fact that explains where the high fds came from names the monitor.
    let facts = facts(&alert);
    let named = facts.iter().any(|f| {
        let s = f["fact"].as_str().unwrap_or("");
        s.contains(&monitor.to_string()) && s.contains("monitor") && s.contains("inherit")
    });
    assert!(
        named,
        "no fact says the high fds were inherited from pid {monitor} (monitor); facts:\n{}",
        facts.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
    );
    // Only the probe is at risk: the monitor never selected.
    assert_no_alerts_for(records, &[monitor], "the monitor itself");
    let others: Vec<&Value> = records.iter().filter(|r| r["type"] == "alert" && r["pid"] != probe).collect();
    assert!(others.is_empty(), "alerts for other processes: {others:?}");
    assert!(evidence.iter().all(|e| e["pid"] == probe || e["what"] == "fact"), "events of another pid: {alert}");
}

#[test]
fn select_over_an_inherited_fd_pool_is_one_critical_alert_with_the_ealready_symptom() {
    let inc = run_incident("select", "fdw-sel0", "10.213.0");
    check_incident("select", &inc);
}

#[test]
fn pselect6_over_an_inherited_fd_pool_is_one_critical_alert_with_the_ealready_symptom() {
    let inc = run_incident("pselect6", "fdw-sel1", "10.213.1");
    check_incident("pselect6", &inc);
}

/// FD_SETSIZE is 1024: nfds = 1024 covers fds 0..=1023 and is fine; nfds = 1025 already
/// makes the kernel read and write past a 128-byte fd_set, whatever fds the process holds.
#[test]
fn nfds_1025_is_an_alert_and_1024_is_not() {
    let mut child =
        Fdops::waiting(&["select", "1024", "0", "-", "pselect6", "1024", "0", "-", "select", "1025", "0", "-"]);
    let pid = child.pid();
    // select opens nothing: the fds it holds while waiting are the ones it selects with.
    let fds_total = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as i64;
    let fw = Fdwatch::watch(pid, &[]);
    child.go();
    child.finish_ok();
    fw.expect("the nfds=1025 alert", DEADLINE, |r| r["type"] == "alert" && r["pid"] == pid);
    let records = stop(fw);
    let alert = the_alert(&records, "select_high_fd", pid, "select(1025)");
    let exe = std::fs::canonicalize(fdops_bin()).unwrap();
    assert_alert(
        &alert,
        json!({
            "kind": "select_high_fd", "severity": "critical", "pid": pid, "comm": "fdops",
            "exe": exe.to_str().unwrap(), "syscall": "select", "function": "select", "nfds": 1025, "high_fds": 0, "fds_total": fds_total,
        }),
    );
    find_evidence(&alert, "event", pid, "select", json!({"nfds": 1025}), 0, None);
    let wrong: Vec<&Value> = alert["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"] != "fact" && e["args"]["nfds"] == 1024)
        .collect();
    assert!(wrong.is_empty(), "the legal nfds=1024 calls are not evidence: {wrong:?}");
    assert_eq!(all_alerts_of(&records, pid).len(), 1, "{:?}", all_alerts_of(&records, pid));
}

/// Runs `ops` (overflowing selects) in fdops; returns (pid, alerts of the pid, the sum of
/// the counts of the repeat records of its alert).
fn repeats(ops: &[&str]) -> (i64, Vec<Value>, i64, Vec<Value>) {
    let (fw, mut child) = start_watched(ops, &[]);
    let pid = child.pid();
    child.finish_ok();
    fw.expect("the helper's exit", DEADLINE, |r| check::event_of(r, pid, "exit"));
    fw.expect("the alert", DEADLINE, |r| r["type"] == "alert" && r["pid"] == pid);
    let records = stop(fw); // SIGINT writes every count still held
    let alerts = all_alerts_of(&records, pid);
    assert_eq!(alerts.len(), 1, "one alert, the rest repeats:\n{alerts:#?}");
    let id = alerts[0]["id"].clone();
    let repeats: Vec<Value> = records.iter().filter(|r| r["type"] == "repeat").cloned().collect();
    for r in &repeats {
        assert_event(r, &json!({"id": id, "kind": "select_high_fd", "pid": pid, "comm": "fdops", "count": ANY}));
    }
    let total = repeats.iter().map(|r| r["count"].as_i64().unwrap_or(0)).sum();
    (pid, alerts, total, repeats)
}

/// The overflow again after the alert was written (400 ms later, past the 250 ms symptom
/// window), twice: one alert and a repeat count of 2 (written when the process exits).
#[test]
fn overflowing_selects_after_the_alert_was_written_are_a_repeat_count() {
    let (_, _, total, repeats) = repeats(&[
        "select", "2000", "0", "-", "sleep_ms", "400", "select", "2000", "0", "-", "pselect6", "2000", "0", "-",
    ]);
    assert_eq!(total, 2, "two later occurrences; repeat records: {repeats:?}");
}

/// The overflow three times within the symptom window: still one alert, and the two later
/// occurrences are counted too ("later occurrences are counted"), not dropped because the
/// alert had not been written yet.
#[test]
fn overflowing_selects_within_the_window_are_counted_too() {
    let (_, _, total, repeats) = repeats(&[
        "select", "2000", "0", "-", "sleep_ms", "50", "select", "2000", "0", "-", "pselect6", "2000", "0", "-",
    ]);
    assert_eq!(total, 2, "two later occurrences within the window; repeat records: {repeats:?}");
}

/// select/pselect6/poll/ppoll on low fds, nfds up to 1024: nothing to report.
#[test]
fn select_and_poll_on_small_fds_raise_nothing() {
    let (fw, mut child) = start_watched(
        &[
            "pipe",
            "select",
            "5",
            "0",
            "%pipe.fd1",
            "pselect6",
            "5",
            "0",
            "%pipe.fd1",
            "select",
            "5",
            "1000",
            "%pipe.fd0",
            "poll",
            "%pipe.fd0,%pipe.fd1",
            "POLLIN|POLLOUT",
            "0",
            "ppoll",
            "%pipe.fd1",
            "POLLOUT",
            "0",
            "select",
            "1024",
            "0",
            "%pipe.fd1",
        ],
        &[],
    );
    let pid = child.pid();
    child.finish_ok();
    // The last call's event is there, and the process exited (which flushes alerts).
    fw.expect_event(pid, "select", |e| e["nfds"] == 1024);
    let records = stop_after_exit(fw, pid);
    assert_no_alerts(&records, "select/poll on small fds");
}
