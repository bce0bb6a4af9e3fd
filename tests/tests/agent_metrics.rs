//! Debian's prometheus scrapes fdwatch's /metrics; the counters read back through
//! prometheus's HTTP API match the `stats` record exactly.
use std::{collections::BTreeMap, time::Duration};

use fdwatch_tests::{
    agent::{Prometheus, TempDir, alert_makers, free_port, http_get, wait_for},
    *,
};

/// `{label value: sample value}` of an instant query.
fn by_label(prom: &Prometheus, query: &str, label: &str) -> BTreeMap<String, i64> {
    prom.query(query)
        .iter()
        .map(|r| {
            let key = r["metric"][label].as_str().unwrap_or_default().to_owned();
            let value: f64 = r["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
            (key, value as i64)
        })
        .collect()
}

#[test]
fn prometheus_reads_the_counters_of_the_stats_record() {
    require_root();
    let dir = TempDir::new("metrics");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut makers = alert_makers();
    let mut work = Fdops::waiting(&["pipe", "dup2", "%pipe.fd1", "100", "close", "100", "close", "9999"]);
    let socket = dir.path("ctl/control.sock");
    let mut args = vec!["--json".to_string(), "--metrics".into(), addr.clone(), "--stats-interval".into(), "1".into()];
    args.extend(["--control-socket".into(), socket.to_str().unwrap().to_owned()]);
    for p in makers.iter().map(Fdops::pid).chain([work.pid()]) {
        args.extend(["--pid".into(), p.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let fw = Fdwatch::until_ready(Fdwatch::spawn_raw(&args));
    assert_eq!(http_get(&addr, "/healthz"), Some((200, "ok\n".into())));
    assert_eq!(http_get(&addr, "/nope").map(|(c, _)| c), Some(404));
    let prom = Prometheus::start(&dir, &addr);
    for m in makers.iter_mut().chain([&mut work]) {
        m.go();
    }
    for m in makers.iter_mut().chain([&mut work]) {
        m.finish_ok();
    }
    // Quiet now: the next stats record has the final totals (the processes exited, so
    // nothing more is counted for them).
    let alerts = 3;
    wait_for("three alerts", DEADLINE, || fw.records().iter().filter(|r| r["type"] == "alert").count() >= alerts);
    let n = fw.records().len();
    let is_stats = |r: &&Value| r["type"] == "stats";
    wait_for("a stats record after the work", DEADLINE, || fw.records()[n..].iter().any(|r| is_stats(&r)));
    let stats = fw.records()[n..].iter().find(is_stats).cloned().unwrap();
    // The stats record's totals, as prometheus should have them.
    let kinds: BTreeMap<String, i64> =
        stats["by_kind"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_i64().unwrap())).collect();
    assert!(kinds.get("dup2").is_some_and(|&n| n >= 2), "{stats}");
    let mut last = BTreeMap::new();
    let matched = (0..300).any(|_| {
        let scraped = by_label(&prom, "fdwatch_events_total > 0", "kind");
        let same = scraped == kinds;
        last = scraped;
        if !same {
            std::thread::sleep(Duration::from_millis(100));
        }
        same
    });
    assert!(matched, "prometheus's fdwatch_events_total {last:?} never matched the stats record {kinds:?}");
    let lost = by_label(&prom, "fdwatch_events_lost_total", "where");
    assert_eq!(
        lost,
        BTreeMap::from([
            ("fd_model".into(), stats["fd_model_lost"].as_i64().unwrap()),
            ("kernel_ring_buffer".into(), stats["kernel_lost"].as_i64().unwrap()),
            ("userspace".into(), stats["userspace_lost"].as_i64().unwrap()),
        ])
    );
    let alerts_scraped: BTreeMap<String, i64> = prom
        .query("fdwatch_alerts_total")
        .iter()
        .map(|r| {
            (
                format!("{}/{}", r["metric"]["kind"].as_str().unwrap(), r["metric"]["severity"].as_str().unwrap()),
                r["value"][1].as_str().unwrap().parse::<f64>().unwrap() as i64,
            )
        })
        .collect();
    let alerts_stats: BTreeMap<String, i64> = stats["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                format!("{}/{}", a["kind"].as_str().unwrap(), a["severity"].as_str().unwrap()),
                a["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(alerts_scraped, alerts_stats);
    assert_eq!(alerts_stats.values().sum::<i64>(), alerts as i64, "{stats}");
    let gauge =
        |name: &str| prom.query(name).first().and_then(|r| r["value"][1].as_str()?.parse::<f64>().ok()).unwrap() as i64;
    wait_for("the gauges of the last stats", DEADLINE, || {
        let s = fw.records().into_iter().rev().find(|r| r["type"] == "stats").unwrap();
        gauge("fdwatch_tracked_fds") == s["tracked_fds"].as_i64().unwrap()
            && gauge("fdwatch_tracked_processes") == s["processes"].as_i64().unwrap()
    });
    assert!(gauge("fdwatch_resident_memory_bytes") > 1 << 20);
    let dropped = prom.query("fdwatch_output_dropped_total");
    assert_eq!(dropped.len(), 1, "one output, stdout: {dropped:?}");
    assert_eq!(dropped[0]["metric"]["output"], "stdout");
    // A query through the control socket is counted.
    let asked = std::process::Command::new(fdwatch_bin())
        .args(["holders", "pipe:[1]", "--json", "--control-socket", socket.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&asked.stdout).contains("\"source\":\"agent\""), "{asked:?}");
    wait_for("the query in fdwatch_queries_total", DEADLINE, || {
        prom.query("fdwatch_queries_total{outcome=\"answered\"}")
            .first()
            .and_then(|r| r["value"][1].as_str()?.parse::<f64>().ok())
            == Some(1.0)
    });
    let (status, _) = fw.stop();
    assert_eq!(status.code(), Some(0));
}
