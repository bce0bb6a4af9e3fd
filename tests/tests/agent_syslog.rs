//! Debian's rsyslogd receives fdwatch's syslog outputs, over a /dev/log-style unix
//! datagram socket and over TCP (RFC 6587 octet counting), and writes them to files:
//! every alert arrives exactly once on each, parses, validates against
//! docs/schema.json, and carries its severity as the syslog severity.
use std::collections::BTreeMap;

use fdwatch_tests::{
    agent::{Rsyslog, TempDir, alert_makers, assert_valid, wait_for},
    *,
};

#[test]
fn rsyslog_gets_every_alert_once_over_the_unix_socket_and_tcp() {
    require_root();
    let dir = TempDir::new("syslog");
    let rsyslog = Rsyslog::start(&dir);
    let mut makers = alert_makers();
    let mut args = vec![
        "--json".to_string(),
        "--output".into(),
        "stdout".into(),
        "--output".into(),
        format!("syslog:unix:{}", rsyslog.socket.display()),
        "--output".into(),
        format!("syslog:tcp:127.0.0.1:{}", rsyslog.port),
    ];
    for m in &makers {
        args.extend(["--pid".into(), m.pid().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let fw = Fdwatch::until_ready(Fdwatch::spawn_raw(&args));
    for m in &mut makers {
        m.go();
    }
    for m in &mut makers {
        m.finish_ok();
    }
    let (status, records) = fw.stop();
    assert_eq!(status.code(), Some(0));
    let alerts: Vec<&Value> = records.iter().filter(|r| r["type"] == "alert").collect();
    let by_id: BTreeMap<i64, &Value> = alerts.iter().map(|a| (a["id"].as_i64().unwrap(), *a)).collect();
    let kinds: Vec<(&str, &str)> =
        alerts.iter().map(|a| (a["kind"].as_str().unwrap(), a["severity"].as_str().unwrap())).collect();
    assert_eq!(alerts.len(), 3, "three alerts on stdout: {kinds:?}");
    for (file, transport) in [(&rsyslog.unix_out, "unix"), (&rsyslog.tcp_out, "tcp")] {
        // Everything fdwatch wrote: rsyslog writes what it received as it comes.
        wait_for(&format!("the last record over {transport}"), DEADLINE, || {
            Rsyslog::messages(file).iter().any(|(_, _, v)| v["type"] == "stats" && v["last"] == true)
        });
        let messages = Rsyslog::messages(file);
        let mut seen = BTreeMap::new();
        for (severity, msgid, v) in &messages {
            assert_valid(v, &format!("rsyslog over {transport}"));
            assert_eq!(msgid, v["type"].as_str().unwrap(), "MSGID is the record type: {v}");
            if v["type"] == "alert" {
                let expect = match v["severity"].as_str() {
                    Some("critical") => 2,
                    Some("warning") => 4,
                    _ => 6,
                };
                assert_eq!(*severity, expect, "{transport}: syslog severity of {v}");
                *seen.entry(v["id"].as_i64().unwrap()).or_insert(0) += 1;
                assert_eq!(
                    Some(v),
                    by_id.get(&v["id"].as_i64().unwrap()).copied(),
                    "{transport}: the same record as stdout"
                );
            }
        }
        let once: BTreeMap<i64, i32> = by_id.keys().map(|id| (*id, 1)).collect();
        assert_eq!(seen, once, "{transport}: every alert exactly once (alert id -> times received)");
        // Not only alerts: every record stdout got, in order.
        let types: Vec<&Value> = messages.iter().map(|(_, _, v)| &v["type"]).collect();
        let stdout_types: Vec<&Value> = records.iter().map(|v| &v["type"]).collect();
        assert_eq!(types, stdout_types, "{transport}: the same records as stdout");
    }
}
