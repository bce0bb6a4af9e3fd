//! packaging/fdwatch.service: systemd-analyze accepts it, and its command line, run as
//! an ordinary user with exactly its capability set (setpriv), with the packaged config
//! pointed at this test's rsyslogd, prometheus and log directory, is a working agent:
//! alerts reach rsyslog and a file that is rotated under it, counters reach prometheus,
//! and every record validates against docs/schema.json.
use std::{fs, os::unix::fs::PermissionsExt, path::Path, process::Command};

use fdwatch_tests::{
    agent::{Prometheus, Rsyslog, TempDir, alert_makers, assert_valid, free_port, ndjson, wait_for},
    helpers::FdwatchForAnyone,
    *,
};

fn unit() -> String {
    fs::read_to_string(workspace_root().join("packaging/fdwatch.service")).expect("read packaging/fdwatch.service")
}

/// The value of `key=` in the unit (the last one).
fn directive(unit: &str, key: &str) -> String {
    unit.lines()
        .rev()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the unit has no {key}="))
        .to_owned()
}

/// A test's directory, a copy of the binary that nobody may run, and the unit's text.
fn scene(tag: &str) -> (TempDir, FdwatchForAnyone, String) {
    require_root();
    (TempDir::new(tag), FdwatchForAnyone::new(tag), unit())
}

/// `systemd-analyze verify UNIT`: its exit status and what it said (stdout and stderr).
fn verify(unit: &Path) -> (std::process::ExitStatus, String) {
    let mut cmd = Command::new("systemd-analyze");
    cmd.arg("verify").arg(unit);
    let (status, stdout, stderr) = child::run_to_end(cmd, "systemd-analyze verify", DEADLINE);
    (status, format!("{}{}", String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr)))
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let (dir, anyone, unit) = scene("unit-verify");
    let bin = &anyone.path;
    let exec = directive(&unit, "ExecStart");
    let program = exec.split_whitespace().next().unwrap();
    assert_eq!(program, "/usr/local/bin/fdwatch", "the README's install path");
    // The same unit with ExecStart's program where this build is: verify checks that
    // it exists and is executable.
    let copy = dir.path("fdwatch.service");
    fs::write(&copy, unit.replace(program, bin.to_str().unwrap())).unwrap();
    let (status, said) = verify(&copy);
    assert!(status.success(), "systemd-analyze verify: {said}");
    assert!(said.trim().is_empty(), "systemd-analyze verify warns: {said}");
    // It checks what it parses: a misspelt option fails it.
    fs::write(&copy, unit.replace(program, bin.to_str().unwrap()).replace("ProtectSystem=", "ProtectSystm=")).unwrap();
    let (_, said) = verify(&copy);
    assert!(said.contains("ProtectSystm"), "verify did not notice a bad option: {said}");
}

/// `+bpf,+perfmon,...` from `CAP_BPF CAP_PERFMON ...`.
fn setpriv_caps(caps: &str) -> String {
    caps.split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn the_units_command_line_with_only_its_capabilities_is_a_working_agent() {
    let (dir, anyone, unit) = scene("unit-run");
    let bin = &anyone.path;
    let ambient = directive(&unit, "AmbientCapabilities");
    assert_eq!(ambient, directive(&unit, "CapabilityBoundingSet"), "the unit keeps only what it grants");
    let caps = setpriv_caps(&ambient);
    assert_eq!(caps, "+bpf,+perfmon,+sys_ptrace,+dac_read_search", "the set privileges.rs documents");
    let rsyslog = Rsyslog::start(&dir);
    let metrics = format!("127.0.0.1:{}", free_port());
    // The log directory, the transient user's (LogsDirectory=).
    let logs = dir.path("logs");
    fs::create_dir(&logs).unwrap();
    std::os::unix::fs::chown(&logs, Some(65534), Some(65534)).unwrap();
    let log = logs.join("fdwatch.json");
    // The control socket's directory, the transient user's and 0700 (RuntimeDirectory=).
    let run = dir.path("run");
    fs::create_dir(&run).unwrap();
    fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&run, Some(65534), Some(65534)).unwrap();
    let socket = run.join("control.sock");
    let mut first = alert_makers();
    let mut second = alert_makers();
    let pids: Vec<String> = first.iter().chain(&second).map(|m| m.pid().to_string()).collect();
    // The packaged config, pointed at this test's daemons, its processes, and stdout for
    // the harness.
    let packaged = fs::read_to_string(workspace_root().join("packaging/fdwatch.toml")).unwrap();
    for needle in [
        "file:/var/log/fdwatch/fdwatch.json",
        "to = \"syslog\"",
        "metrics = \"127.0.0.1:9464\"",
        "control_socket = \"/run/fdwatch/control.sock\"",
    ] {
        assert!(packaged.contains(needle), "packaging/fdwatch.toml no longer has {needle}");
    }
    let config = packaged
        .replace("file:/var/log/fdwatch/fdwatch.json", &format!("file:{}", log.display()))
        .replace("to = \"syslog\"", &format!("to = \"syslog:unix:{}\"", rsyslog.socket.display()))
        .replace("metrics = \"127.0.0.1:9464\"", &format!("metrics = \"{metrics}\""))
        .replace("/run/fdwatch/control.sock", socket.to_str().unwrap())
        .replace("stats_interval = 60", "stats_interval = 1")
        + &format!(
            "\npid = [{}]\n\n[[output]]\nto = \"stdout\"\nformat = \"json\"\nrecords = [\"ready\", \"alert\", \"loss\", \"stats\", \"reload\"]\n",
            pids.join(", ")
        );
    // Top-level keys must come before the tables: put `pid` first.
    let (head, tables) = config.split_once("[[output]]").unwrap();
    let pid_line = format!("pid = [{}]\n", pids.join(", "));
    let config = format!("{pid_line}{head}[[output]]{}", tables.replace(&format!("\n{pid_line}"), "\n"));
    let config_path = dir.path("fdwatch.toml");
    fs::write(&config_path, &config).unwrap();
    let exec = directive(&unit, "ExecStart");
    let mut args: Vec<String> = exec.split_whitespace().skip(1).map(str::to_owned).collect();
    let at = args.iter().position(|a| a == "/etc/fdwatch/fdwatch.toml").expect("ExecStart names the config");
    args[at] = config_path.to_str().unwrap().to_owned();
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs"])
        .arg(format!("--inh-caps=-all,{caps}"))
        .arg(format!("--ambient-caps=-all,{caps}"))
        .arg(format!("--bounding-set=-all,{caps}"))
        .arg(bin)
        .args(&args);
    let fw = Fdwatch::until_ready(Fdwatch::spawn_command(command));
    let status = fs::read_to_string(format!("/proc/{}/status", fw.pid())).unwrap();
    assert!(status.lines().any(|l| l.starts_with("Uid:\t65534")), "{status}");
    // It listens as its own user; root may ask it (control/server.rs checks the uid).
    let meta = fs::symlink_metadata(&socket).unwrap_or_else(|e| panic!("no control socket ({e}): {}", fw.stderr()));
    assert_eq!((std::os::unix::fs::MetadataExt::uid(&meta), meta.permissions().mode() & 0o777), (65534, 0o600));
    let asked = Command::new(bin)
        .args(["holders", "pipe:[1]", "--json", "--control-socket", socket.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&asked.stdout);
    assert!(said.contains("\"source\":\"agent\""), "{said}{}", String::from_utf8_lossy(&asked.stderr));
    let prom = Prometheus::start(&dir, &metrics);
    for m in &mut first {
        m.go();
    }
    for m in &mut first {
        m.finish_ok();
    }
    wait_for("three alerts", DEADLINE, || fw.records().iter().filter(|r| r["type"] == "alert").count() == 3);
    // logrotate's way: rename, then SIGHUP.
    wait_for("the alerts in the file", DEADLINE, || ndjson(&log).iter().filter(|r| r["type"] == "alert").count() == 3);
    let rotated = logs.join("fdwatch.json.1");
    fs::rename(&log, &rotated).unwrap();
    fw.signal(libc::SIGHUP);
    fw.expect("the reload", DEADLINE, |r| r["type"] == "reload" && r["ok"] == true && r["reopened"] == 1);
    for m in &mut second {
        m.go();
    }
    for m in &mut second {
        m.finish_ok();
    }
    wait_for("six alerts", DEADLINE, || fw.records().iter().filter(|r| r["type"] == "alert").count() == 6);
    wait_for("prometheus counts six alerts", DEADLINE, || {
        prom.query("sum(fdwatch_alerts_total)")
            .first()
            .and_then(|r| r["value"][1].as_str().map(|v| v == "6"))
            .unwrap_or(false)
    });
    let (status, records) = fw.stop();
    assert_eq!(status.code(), Some(0), "{records:?}");
    let stdout_alerts: Vec<Value> = records.iter().filter(|r| r["type"] == "alert").cloned().collect();
    let in_file = |p: &Path| ndjson(p).into_iter().filter(|r| r["type"] == "alert").collect::<Vec<_>>();
    assert_eq!(in_file(&rotated), stdout_alerts[..3], "the first three alerts in the rotated file");
    assert_eq!(in_file(&log), stdout_alerts[3..], "the last three in the new file");
    assert_eq!(fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    for r in ndjson(&rotated).iter().chain(&ndjson(&log)) {
        assert_valid(r, "the file output");
    }
    wait_for("rsyslog has the six alerts", DEADLINE, || {
        Rsyslog::messages(&rsyslog.unix_out).iter().filter(|(_, _, v)| v["type"] == "alert").count() == 6
    });
    let syslog_alerts: Vec<Value> =
        Rsyslog::messages(&rsyslog.unix_out).into_iter().map(|(_, _, v)| v).filter(|v| v["type"] == "alert").collect();
    assert_eq!(syslog_alerts, stdout_alerts, "every alert (warning and above) once in rsyslog");
    for (_, _, v) in Rsyslog::messages(&rsyslog.unix_out) {
        assert_valid(&v, "rsyslog");
    }
}
