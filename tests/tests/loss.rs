//! Losses are never silent: with a ring buffer far too small for a flood, every event
//! is either delivered or counted in a `loss` record, exactly.

use fdwatch_tests::*;

const LOOPS: i64 = 200_000;

#[test]
fn every_event_is_delivered_or_counted_lost() {
    let mut child = Fdops::waiting(&["flood", &LOOPS.to_string()]);
    let pid = child.pid();
    // Woken only when half the ring is full: a flood overruns it between wake-ups.
    let fw = Fdwatch::watch(pid, &["--ring-bytes", "4096", "--wakeup-bytes", "2048"]);
    child.go();
    child.op("flood");
    child.finish_ok();
    // The exit event (if it was not lost itself) is the last thing the child does.
    let (status, records) = fw.stop();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let delivered = |name: &str| {
        records.iter().filter(|r| r["type"] == "event" && r["pid"] == pid && r["syscall"] == name).count() as i64
    };
    let losses: Vec<&Value> = records.iter().filter(|r| r["type"] == "loss").collect();
    assert!(
        losses.iter().any(|l| l["where"] == "kernel_ring_buffer"),
        "a 4 KiB ring buffer cannot hold {} events, yet no kernel_ring_buffer loss was reported",
        2 * LOOPS
    );
    let mut lost_total = 0;
    let lost = |name: &str| -> i64 {
        losses
            .iter()
            .filter(|l| l["where"] == "kernel_ring_buffer")
            .map(|l| l["by_kind"][name].as_i64().unwrap_or(0))
            .sum()
    };
    for l in &losses {
        assert_eq!(l["where"], "kernel_ring_buffer", "no userspace loss expected: {l}");
        let count = l["count"].as_i64().unwrap_or_else(|| panic!("loss without count: {l}"));
        let by_kind: i64 = l["by_kind"].as_object().unwrap().values().map(|v| v.as_i64().unwrap()).sum();
        assert_eq!(count, by_kind, "a loss record's count is the sum of by_kind: {l}");
        lost_total += count;
    }
    let (dup2, close) = (delivered("dup2") + lost("dup2"), delivered("close") + lost("close"));
    assert_eq!(
        (dup2, close),
        (LOOPS, LOOPS),
        "dup2: {} delivered + {} lost; close: {} delivered + {} lost",
        delivered("dup2"),
        lost("dup2"),
        delivered("close"),
        lost("close")
    );
    assert!(delivered("dup2") + delivered("close") > 0, "some events got through");
    let stats = records.last().unwrap();
    assert_eq!(stats["type"], "stats", "{stats}");
    assert_eq!(stats["kernel_lost"], json!(lost_total), "stats.kernel_lost sums the loss records: {stats}");
    assert_eq!(stats["userspace_lost"], 0, "{stats}");
}
