//! A TCP collector (socat) that stops reading for 10 s under a paced load: the
//! collector keeps up (nothing lost in the kernel), its memory stays bounded by the
//! output's queue, the other outputs lose nothing, the `loss` record counts exactly
//! what the TCP output dropped, per record type, and the stream resumes.
use std::{
    collections::BTreeMap,
    fs,
    time::{Duration, Instant},
};

use fdwatch_tests::{
    agent::{Socat, TempDir, assert_valid, free_port, wait_for},
    check::parse_record,
    *,
};

/// Records per type in an NDJSON file, each checked against the contract and the
/// schema (events: one in 50, the rest of a type that repeats 600k times is the same
/// code path; every other record).
fn counts(path: &std::path::Path) -> (BTreeMap<String, u64>, Vec<Value>) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(bytes.last(), Some(&b'\n'), "{} ends with a whole line", path.display());
    let mut counts = BTreeMap::new();
    let mut others = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let ty = line.strip_prefix(b"{\"type\":\"").and_then(|r| r.split(|&b| b == b'"').next()).unwrap_or(b"?");
        let ty = String::from_utf8_lossy(ty).into_owned();
        if ty != "event" || i % 50 == 0 {
            let v = parse_record(line).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_valid(&v, &path.display().to_string());
            if ty != "event" {
                others.push(v);
            }
        }
        *counts.entry(ty).or_insert(0) += 1;
    }
    (counts, others)
}

fn rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok()))
        .unwrap_or(0)
}

#[test]
fn a_dead_tcp_collector_costs_only_its_own_records_and_says_how_many() {
    require_root();
    let dir = TempDir::new("deadtcp");
    let port = free_port();
    let tcp_file = dir.path("tcp.json");
    let all_file = dir.path("all.json");
    let socat = Socat::start(port, &tcp_file);
    // ~35k events/s: 200 dup2/close pairs every 10 ms, for about 17 s.
    let rounds = 1500;
    let mut ops = Vec::new();
    for _ in 0..rounds {
        ops.extend(["flood", "200", "sleep_ms", "10"]);
    }
    let mut load = Fdops::waiting(&ops);
    let pid = load.pid();
    let queue = 1 << 20;
    let config = dir.path("fdwatch.toml");
    fs::write(
        &config,
        format!(
            "json = true\nevents = true\npid = [{pid}]\nring_bytes = 67108864\nstats_interval = 1\n\n\
             [[output]]\nto = \"stdout\"\nrecords = [\"ready\", \"loss\", \"stats\", \"reload\"]\n\n\
             [[output]]\nto = \"file:{}\"\n\n\
             [[output]]\nto = \"tcp:127.0.0.1:{port}\"\nqueue_bytes = {queue}\n",
            all_file.display()
        ),
    )
    .unwrap();
    let fw = Fdwatch::until_ready(Fdwatch::spawn_raw(&["--config", config.to_str().unwrap()]));
    load.go();
    wait_for("the stream reaches the collector", DEADLINE, || fs::metadata(&tcp_file).is_ok_and(|m| m.len() > 100_000));
    let before = rss_kib(fw.pid());
    socat.daemon.signal_group(libc::SIGSTOP);
    let stopped = Instant::now();
    let mut peak = before;
    while stopped.elapsed() < Duration::from_secs(10) {
        peak = peak.max(rss_kib(fw.pid()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let size_at_stop = fs::metadata(&all_file).unwrap().len();
    socat.daemon.signal_group(libc::SIGCONT);
    let tcp_loss =
        |r: &Value| r["type"] == "loss" && r["where"] == "output" && r["output"] == format!("tcp:127.0.0.1:{port}");
    let first_loss = fw.expect("a loss record once the collector reads again", DEADLINE, tcp_loss);
    assert!(first_loss["count"].as_i64().unwrap() > 0, "{first_loss}");
    load.finish_ok();
    let (status, records) = fw.stop();
    assert_eq!(status.code(), Some(0));
    let stats = records.last().unwrap().clone();
    assert_eq!(stats["last"], true, "{stats}");
    assert_eq!(stats["kernel_lost"], 0, "the collector kept up: {stats}");
    let dropped: BTreeMap<String, i64> = stats["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["output"].as_str().unwrap().to_owned(), o["dropped"].as_i64().unwrap()))
        .collect();
    let tcp_name = format!("tcp:127.0.0.1:{port}");
    assert_eq!(dropped["stdout"], 0, "{stats}");
    assert_eq!(dropped[&format!("file:{}", all_file.display())], 0, "{stats}");
    // Memory: the queue's worth, not the 10 s of records it could not take.
    let grown = peak.saturating_sub(before);
    eprintln!(
        "dead collector: RSS {before} KiB before, peak {peak} KiB during 10 s; {} MB written to the file meanwhile; tcp dropped {}",
        size_at_stop / 1_000_000,
        dropped[&tcp_name]
    );
    assert!(grown < (queue as u64 / 1024) + 12 * 1024, "RSS grew {grown} KiB with a {queue}-byte queue");
    // Exact accounting: the file has every record; the collector got every one but
    // those the loss records count.
    wait_for("the collector has the last record", DEADLINE, || {
        fs::read(&tcp_file).unwrap_or_default().windows(11).any(|w| w == b"\"last\":true")
    });
    let (all, all_others) = counts(&all_file);
    let (got, got_others) = counts(&tcp_file);
    let losses: Vec<&Value> = all_others.iter().filter(|r| tcp_loss(r)).collect();
    let mut lost: BTreeMap<String, u64> = BTreeMap::new();
    for l in &losses {
        for (ty, n) in l["by_type"].as_object().unwrap() {
            *lost.entry(ty.clone()).or_insert(0) += n.as_u64().unwrap();
        }
        assert_eq!(
            l["count"].as_u64().unwrap(),
            l["by_type"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>()
        );
    }
    assert!(!losses.is_empty());
    for (ty, n) in &all {
        let received = got.get(ty).copied().unwrap_or(0);
        let missed = lost.get(ty).copied().unwrap_or(0);
        assert_eq!(
            received + missed,
            *n,
            "{ty}: the file has {n}, the collector got {received}, loss records say {missed}"
        );
    }
    assert_eq!(lost.values().sum::<u64>() as i64, dropped[&tcp_name], "the loss records add up to the stats record");
    assert!(dropped[&tcp_name] > 10_000, "the outage dropped records: {dropped:?}");
    let flood_events = fs::read_to_string(&all_file)
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!("\"pid\":{pid},")) && l.contains("\"syscall\":\"dup2\""))
        .count();
    assert_eq!(flood_events, 200 * rounds, "every dup2 of the load is in the file");
    // The stream resumed: records after the first loss record reached the collector.
    assert!(
        got_others.iter().any(|r| r["type"] == "stats" && r["last"] == true),
        "the last stats record reached the collector"
    );
    assert!(got_others.iter().any(tcp_loss), "the collector itself got the loss record of its gap");
}
