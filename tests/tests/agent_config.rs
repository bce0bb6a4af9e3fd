//! The config file (README, *Configuration*): every key is read and shown by
//! `fdwatch config check`, flags override the file, every bad value is one line naming
//! the key and exit 2, and SIGHUP reloads it without detaching the probes or losing the
//! fd model, keeping the running configuration when the new file is bad.
use std::{fs, process::Command};

use fdwatch_tests::{agent::TempDir, *};

fn check(path: &std::path::Path) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(fdwatch_bin());
    cmd.args(["config", "check"]).arg(path);
    let (status, stdout, stderr) = child::run_to_end(cmd, "fdwatch config check", DEADLINE);
    (status.code(), String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned())
}

const EVERY_KEY: &str = r#"
json = true
events = true
pid = [1]
follow = true
duration = 3600
dump_on_exit = true
max_fds = 100000
ring_bytes = 65536
wakeup_bytes = 4096
stats_interval = 5
metrics = "127.0.0.1:9464"
control_socket = "/run/fdwatch/test.sock"
allow = ["mydaemon", "/usr/sbin/other"]
pipe_leak_grace = 2.5
repeat_interval = 30
symptom_window = 0.5

[[output]]
to = "file:/var/log/fdwatch/fdwatch.json"
format = "json"
records = ["alert", "loss", "stats"]
min_severity = "warning"
queue_bytes = 1048576
rotate_bytes = 10485760
rotate_keep = 3

[[output]]
to = "syslog:tcp:127.0.0.1:514"
facility = "local3"

[[output]]
to = "tcp:127.0.0.1:9000"
format = "text"

[[output]]
to = "unix:/run/vector.sock"

[[output]]
to = "syslog:udp:127.0.0.1:514"

[[output]]
to = "syslog"

[[output]]
to = "stdout"
"#;

#[test]
fn every_key_is_read_and_shown() {
    require_root();
    let dir = TempDir::new("config-keys");
    let path = dir.path("fdwatch.toml");
    fs::write(&path, EVERY_KEY).unwrap();
    let (code, out, err) = check(&path);
    assert_eq!(code, Some(0), "stderr: {err}");
    for line in [
        "json = true",
        "events = true",
        "pid = [1]",
        "follow = true",
        "duration = 3600.0",
        "dump_on_exit = true",
        "max_fds = 100000",
        "ring_bytes = 65536",
        "wakeup_bytes = 4096",
        "stats_interval = 5.0",
        "metrics = \"127.0.0.1:9464\"",
        "control_socket = \"/run/fdwatch/test.sock\"",
        "allow = [\"mydaemon\", \"/usr/sbin/other\"]",
        "pipe_leak_grace = 2.5",
        "repeat_interval = 30.0",
        "symptom_window = 0.5",
        "to = \"file:/var/log/fdwatch/fdwatch.json\"",
        "records = [\"alert\", \"loss\", \"stats\"]",
        "min_severity = \"warning\"",
        "queue_bytes = 1048576",
        "rotate_bytes = 10485760",
        "rotate_keep = 3",
        "to = \"syslog:tcp:127.0.0.1:514\"",
        "facility = \"local3\"",
        "format = \"text\"",
        "to = \"unix:/run/vector.sock\"",
        "to = \"syslog:udp:127.0.0.1:514\"",
        "to = \"syslog\"",
        "to = \"stdout\"",
    ] {
        assert!(out.lines().any(|l| l.trim() == line), "`config check` does not show {line:?}:\n{out}");
    }
    // What it prints is itself a valid config that gives the same configuration.
    let shown = dir.path("shown.toml");
    fs::write(&shown, &out).unwrap();
    let (code, again, err) = check(&shown);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(again.lines().skip(1).collect::<Vec<_>>(), out.lines().skip(1).collect::<Vec<_>>());
}

#[test]
fn every_bad_value_is_one_line_naming_the_key_and_exit_2() {
    require_root();
    let dir = TempDir::new("config-bad");
    let path = dir.path("fdwatch.toml");
    let cases: &[(&str, &str)] = &[
        ("jsno = true\n", "unknown field `jsno`"),
        ("json = 1\n", "json: invalid type"),
        ("events = \"yes\"\n", "events: invalid type"),
        ("pid = [0]\n", "pid: 0: must be from 1 to 4194304"),
        ("pid = [4194305]\n", "pid: 4194305"),
        ("follow = 1\n", "follow: invalid type"),
        ("duration = 0\n", "duration: must be above 0"),
        ("duration = 315360001\n", "duration: must be above 0 and at most"),
        ("dump_on_exit = 0\n", "dump_on_exit: invalid type"),
        ("max_fds = 0\n", "max_fds: must be from 1 to 67108864"),
        ("max_fds = 67108865\n", "max_fds"),
        ("ring_bytes = 5000\n", "ring_bytes: 5000 is not a power of two"),
        ("ring_bytes = 536870912\n", "ring_bytes: must be from 4096"),
        ("wakeup_bytes = 0\n", "wakeup_bytes: must be from 1"),
        ("ring_bytes = 8192\nwakeup_bytes = 4097\n", "wakeup_bytes 4097 is more than half of ring_bytes 8192"),
        ("stats_interval = -1\n", "stats_interval: must be above 0"),
        ("stats_interval = 86401\n", "stats_interval"),
        ("metrics = \"9464\"\n", "metrics: \"9464\" is not an address"),
        ("allow = \"x\"\n", "allow: invalid type"),
        ("pipe_leak_grace = 0\n", "pipe_leak_grace: must be above 0"),
        ("repeat_interval = 86401\n", "repeat_interval: must be above 0 and at most 86400"),
        ("symptom_window = 61\n", "symptom_window: must be above 0 and at most 60"),
        ("follow = true\n", "follow needs pid"),
        ("[[output]]\nto = \"ftp:x\"\n", "output[1].to: \"ftp:x\" is not an output"),
        ("[[output]]\nto = \"file:relative\"\n", "output[1].to: file:relative: the path must be absolute"),
        ("[[output]]\nto = \"tcp:127.0.0.1:0\"\n", "output[1].to: tcp:127.0.0.1:0: expected HOST:PORT"),
        ("[[output]]\nto = \"stdout\"\nformat = \"yaml\"\n", "output[1].format: \"yaml\" is not a format"),
        ("[[output]]\nto = \"stdout\"\nrecords = [\"alerts\"]\n", "output[1].records: \"alerts\" is not a record type"),
        (
            "[[output]]\nto = \"stdout\"\nmin_severity = \"high\"\n",
            "output[1].min_severity: \"high\" is not a severity",
        ),
        ("[[output]]\nto = \"stdout\"\nqueue_bytes = 1\n", "output[1].queue_bytes: must be from 65536"),
        ("[[output]]\nto = \"file:/tmp/x\"\nrotate_bytes = 10\n", "output[1].rotate_bytes: must be from 4096"),
        ("[[output]]\nto = \"file:/tmp/x\"\nrotate_keep = 0\n", "output[1].rotate_keep: must be from 1 to 1000"),
        ("[[output]]\nto = \"tcp:h:1\"\nrotate_keep = 2\n", "output[1].rotate_keep: only a file output rotates"),
        (
            "[[output]]\nto = \"syslog\"\nfacility = \"local9\"\n",
            "output[1].facility: \"local9\" is not a syslog facility",
        ),
        ("[[output]]\nto = \"stdout\"\nfacility = \"daemon\"\n", "output[1].facility: only a syslog output has one"),
        ("[[output]]\nto = \"stdout\"\nspeed = 1\n", "unknown field `speed`"),
        ("[[output]]\nto = \"stdout\"\n[[output]]\nto = \"stdout\"\n", "output[2].to: stdout is already an output"),
        ("json = tru\n", "fdwatch.toml:1:"),
    ];
    for (text, expect) in cases {
        fs::write(&path, text).unwrap();
        let (code, out, err) = check(&path);
        assert_eq!(code, Some(2), "{text:?}: stdout {out}, stderr {err}");
        assert!(out.is_empty(), "{text:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{text:?}: not one line: {err:?}");
        assert!(err.contains(expect), "{text:?}: the error does not say {expect:?}: {err}");
        assert!(err.contains("fdwatch.toml:"), "{text:?}: the error does not name the file: {err}");
        // The monitor refuses the same file the same way, before loading anything.
        let fw = Fdwatch::spawn_raw(&["--json", "--config", path.to_str().unwrap()]);
        let (status, records, stderr) = fw.outcome(DEADLINE);
        assert_eq!(status.code(), Some(2), "{text:?}: {stderr}");
        assert!(records.is_empty());
        assert_eq!(stderr.trim_end(), err.trim_end(), "{text:?}");
    }
    let (code, _, err) = check(&dir.path("missing.toml"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing.toml: cannot read it"), "{err}");
}

#[test]
fn flags_override_the_file() {
    require_root();
    let dir = TempDir::new("config-flags");
    let mut a = Fdops::waiting(&["dup2", "1", "101", "close", "101"]);
    let b = Fdops::waiting(&[]);
    let path = dir.path("fdwatch.toml");
    // The file watches b, writes no events and text; the flags say a, --events, --json.
    fs::write(&path, format!("pid = [{}]\nevents = false\njson = false\nring_bytes = 65536\n", b.pid())).unwrap();
    let fw = Fdwatch::until_ready(Fdwatch::spawn_raw(&[
        "--config",
        path.to_str().unwrap(),
        "--json",
        "--events",
        "--pid",
        &a.pid().to_string(),
    ]));
    assert_eq!(fw.records()[0]["watched"], json!([a.pid()]), "--pid replaced the file's pid");
    a.go();
    a.finish_ok();
    fw.expect_event(a.pid(), "dup2", |e| e["newfd"] == 101);
}

#[test]
fn sighup_reloads_keeps_the_model_and_keeps_the_old_config_when_the_new_one_is_bad() {
    require_root();
    let dir = TempDir::new("config-reload");
    let path = dir.path("fdwatch.toml");
    // Step 1 before the reload, step 2 after it, step 3 after a bad reload.
    let mut child =
        Fdops::waiting(&["dup2", "1", "101", "wait", "close", "101", "dup2", "1", "102", "wait", "close", "102"]);
    fs::write(&path, format!("json = true\npid = [{}]\nevents = false\n", child.pid())).unwrap();
    let fw = Fdwatch::until_ready(Fdwatch::spawn_raw(&["--config", path.to_str().unwrap()]));
    child.go();
    child.op("dup2");
    // events = false: the dup2 gives no record, but the model learns fd 101 (a dump
    // shows it, and proves the event was handled before the reload).
    fw.signal(libc::SIGUSR1);
    fw.expect("fd 101 in the model", DEADLINE, |r| r["type"] == "fd" && r["pid"] == child.pid() && r["fd"] == 101);
    // Now events on, and a key that needs a restart.
    // (16 MiB: the default wakeup_bytes stays 262144.)
    fs::write(&path, format!("json = true\npid = [{}]\nevents = true\nring_bytes = 16777216\n", child.pid())).unwrap();
    fw.signal(libc::SIGHUP);
    let reload = fw.expect("a reload record", DEADLINE, |r| r["type"] == "reload");
    assert_event(
        &reload,
        &json!({"ok": true, "config": path.to_str().unwrap(), "applied": ["events"], "needs_restart": ["ring_bytes"], "reopened": 0}),
    );
    child.go();
    // The fd the model learned before the reload is still known: its close is an
    // event, and no process is re-read for an unknown fd.
    fw.expect_event(child.pid(), "close", |e| e["fd"] == 101 && e["ret"] == 0);
    fw.expect_event(child.pid(), "dup2", |e| e["newfd"] == 102);
    // A bad file: refused, said on stderr, the running configuration kept.
    fs::write(&path, "json = true\nevents = false\nring_bytes = 5000\n").unwrap();
    fw.signal(libc::SIGHUP);
    let refused = fw.expect("a refused reload", DEADLINE, |r| r["type"] == "reload" && r["ok"] == false);
    let error = refused["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("ring_bytes: 5000 is not a power of two") && error.contains(":3:14:"), "{refused}");
    child.go();
    child.finish_ok();
    // events = true still holds (the bad file said false).
    fw.expect_event(child.pid(), "close", |e| e["fd"] == 102);
    let stderr = fw.stderr();
    assert!(stderr.contains("ring_bytes: 5000") && stderr.contains("the running configuration is kept"), "{stderr}");
    let (status, records) = fw.stop();
    assert_eq!(status.code(), Some(0));
    assert_eq!(records.iter().filter(|r| r["type"] == "ready").count(), 1, "the probes stayed attached: one ready");
    let resyncs: Vec<&Value> = records.iter().filter(|r| r["type"] == "resync").collect();
    assert!(resyncs.is_empty(), "the model was kept, nothing re-read: {resyncs:?}");
    let dup2s: Vec<&Value> = records.iter().filter(|r| event_of(r, child.pid(), "dup2") && r["newfd"] == 101).collect();
    assert!(dup2s.is_empty(), "the first dup2 came while events were off: {dup2s:?}");
}
