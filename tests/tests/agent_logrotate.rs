//! Debian's logrotate rotates fdwatch's file output while fdwatch writes to it under
//! load (`create 0600`, then SIGHUP in postrotate): across the rotations nothing is lost
//! and nothing is written twice.
use std::{fs, os::unix::fs::PermissionsExt, process::Command};

use fdwatch_tests::{
    agent::{TempDir, assert_valid, ndjson, wait_for},
    *,
};

#[test]
fn logrotate_rotates_the_file_under_load_without_loss_or_duplicates() {
    require_root();
    let dir = TempDir::new("logrotate");
    let log = dir.path("fdwatch.json");
    let per_round = 30_000;
    let rounds = 5;
    // flood, wait, flood, wait, ..., flood: each go() lets one flood run.
    let mut ops: Vec<String> = Vec::new();
    for round in 0..rounds {
        if round > 0 {
            ops.push("wait".into());
        }
        ops.extend(["flood".into(), per_round.to_string()]);
    }
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    let mut flood = Fdops::waiting(&ops);
    let pid = flood.pid();
    // stdout takes only the small records; the file every event of the flood.
    let config = dir.path("fdwatch.toml");
    fs::write(
        &config,
        format!(
            "json = true\nevents = true\npid = [{pid}]\nring_bytes = 67108864\n\n[[output]]\nto = \"stdout\"\nrecords = [\"ready\", \"loss\", \"stats\", \"reload\"]\n\n[[output]]\nto = \"file:{}\"\n",
            log.display()
        ),
    )
    .unwrap();
    let fw = Fdwatch::until_ready(Fdwatch::spawn_raw(&["--config", config.to_str().unwrap()]));
    let state = dir.path("logrotate.state");
    let conf = dir.path("logrotate.conf");
    fs::write(
        &conf,
        format!(
            "{} {{\n    rotate 100\n    create 0600 root root\n    missingok\n    postrotate\n        kill -HUP {}\n    endscript\n}}\n",
            log.display(),
            fw.pid()
        ),
    )
    .unwrap();
    let mut reloads = 0;
    for round in 0..rounds {
        flood.go();
        // Rotate while the flood is being written.
        let mut cmd = Command::new("logrotate");
        cmd.arg("-f").arg("-s").arg(&state).arg(&conf);
        let (status, _, stderr) = child::run_to_end(cmd, "logrotate", DEADLINE);
        assert!(status.success(), "logrotate: {}", String::from_utf8_lossy(&stderr));
        reloads += 1;
        fw.expect(&format!("reload {reloads}"), DEADLINE, |r| {
            r["type"] == "reload" && r["reopened"] == 1 && r["ok"] == true
        });
        let rotated = dir.path(&format!("fdwatch.json.{}", 1));
        assert!(rotated.exists(), "round {round}: logrotate renamed the file");
        let _ = flood.op("flood");
    }
    flood.finish_ok();
    let (status, records) = fw.stop();
    assert_eq!(status.code(), Some(0));
    let stats = records.last().unwrap();
    assert_eq!(stats["kernel_lost"], 0, "the load stayed within what the collector takes: {stats}");
    assert_eq!(stats["outputs"][1]["dropped"], 0, "{stats}");
    // The oldest rotation has the highest number.
    let mut files: Vec<(u32, std::path::PathBuf)> = fs::read_dir(&dir.0)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("fdwatch.json.")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), rounds, "one file per rotation: {files:?}");
    wait_for("the current file", DEADLINE, || log.exists());
    assert_eq!(fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    let mut all = Vec::new();
    for (_, f) in files.iter().rev() {
        all.extend(ndjson(f));
    }
    all.extend(ndjson(&log));
    for r in &all {
        assert_valid(r, "the rotated files");
    }
    // Every event of the flood once, in order: dup2 then close, per_round * rounds times.
    let flood_events: Vec<&Value> = all
        .iter()
        .filter(|r| r["type"] == "event" && r["pid"] == pid && (r["syscall"] == "dup2" || r["syscall"] == "close"))
        .collect();
    let dup2 = flood_events.iter().filter(|e| e["syscall"] == "dup2").count();
    let close = flood_events.iter().filter(|e| e["syscall"] == "close").count();
    assert_eq!(
        (dup2, close),
        (per_round * rounds, per_round * rounds),
        "every event once across {} files",
        files.len() + 1
    );
    for pair in flood_events.chunks(2) {
        assert!(pair[0]["syscall"] == "dup2" && pair[1]["syscall"] == "close", "in order: {pair:?}");
    }
    let mut ts: Vec<&str> = all.iter().filter(|r| r["type"] == "event").map(|r| r["ts"].as_str().unwrap()).collect();
    let n = ts.len();
    ts.dedup();
    assert_eq!(ts.len(), n, "no record twice");
    // The records both outputs take are the same ones, in the same order.
    let small = |r: &&Value| ["ready", "loss", "stats", "reload"].contains(&r["type"].as_str().unwrap_or(""));
    let in_files: Vec<&Value> = all.iter().filter(small).collect();
    let on_stdout: Vec<&Value> = records.iter().filter(small).collect();
    assert_eq!(in_files, on_stdout);
}
