//! The model against /proc: every process of a tree must have exactly the fds /proc
//! shows, each with the same object name (`readlink /proc/PID/fd/N`), CLOEXEC (`flags &
//! 0o2000000` of fdinfo), and also the documented `ino` (fdinfo `ino:`), `access`
//! (fdinfo `flags & O_ACCMODE`) and `comm`.
use std::{
    collections::{BTreeMap, BTreeSet},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{Dump, Dumps};
use crate::{
    Fdwatch,
    procfs::{ProcProcess, proc_tree},
};

/// How long the model may take to agree with /proc once the processes are paused.
pub const CONVERGE: Duration = Duration::from_secs(15);

/// Every difference between the model (`dump`) and /proc (`procs`) for the processes
/// of `procs` and any other process the dump names. Empty: equal.
pub fn compare(dump: &Dump, procs: &BTreeMap<i64, ProcProcess>) -> Vec<String> {
    let mut problems = Vec::new();
    let pids: BTreeSet<i64> = dump.keys().chain(procs.keys()).copied().collect();
    for pid in pids {
        let empty = BTreeMap::new();
        let model = dump.get(&pid).unwrap_or(&empty);
        let Some(real) = procs.get(&pid) else {
            problems.push(format!(
                "pid {pid}: the model has {} fds of it, but /proc has no such (living) process of the tree",
                model.len()
            ));
            continue;
        };
        let fds: BTreeSet<i32> = model.keys().chain(real.fds.keys()).copied().collect();
        for fd in fds {
            match (model.get(&fd), real.fds.get(&fd)) {
                (None, Some(p)) => problems.push(format!(
                    "pid {pid} ({}) fd {fd}: open in /proc ({}, cloexec {}) but missing from the model",
                    real.comm, p.name, p.cloexec
                )),
                (Some(m), None) => problems.push(format!(
                    "pid {pid} ({}) fd {fd}: in the model ({}, cloexec {}) but not open in /proc; record: {m}",
                    real.comm, m["object"]["name"], m["cloexec"]
                )),
                (Some(m), Some(p)) => {
                    let mut diff = Vec::new();
                    if m.get("__repeated__").is_some() {
                        diff.push("the dump has several records for it".to_string());
                    }
                    if m["object"]["name"] != p.name.as_str() {
                        diff.push(format!("name {} (proc {:?})", m["object"]["name"], p.name));
                    }
                    if m["cloexec"] != p.cloexec {
                        diff.push(format!("cloexec {} (proc {})", m["cloexec"], p.cloexec));
                    }
                    if m["object"]["ino"] != p.ino {
                        diff.push(format!("ino {} (proc {})", m["object"]["ino"], p.ino));
                    }
                    if m["object"]["access"] != p.access.as_str() {
                        diff.push(format!("access {} (proc {:?})", m["object"]["access"], p.access));
                    }
                    if m["comm"] != real.comm.as_str() {
                        diff.push(format!("comm {} (proc {:?})", m["comm"], real.comm));
                    }
                    if !diff.is_empty() {
                        problems.push(format!("pid {pid} ({}) fd {fd}: {}; record: {m}", real.comm, diff.join(", ")));
                    }
                }
                (None, None) => unreachable!(),
            }
        }
    }
    problems
}

/// Dumps the model (SIGUSR1) until, for every process of the tree under `root`, it
/// equals /proc, or [`CONVERGE`] passes (then panics with every difference of the last
/// dump). /proc is read before and after each dump; a dump only counts if both
/// readings agree (the processes are meant to be paused). Returns the matching dump.
#[track_caller]
pub fn assert_model_matches_proc(fw: &Fdwatch, dumps: &mut Dumps, root: i64, what: &str) -> Dump {
    let until = Instant::now() + CONVERGE;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let before = proc_tree(root);
        let dump = dumps.take(fw);
        let after = proc_tree(root);
        if before != after {
            assert!(Instant::now() < until, "{what}: the processes under {root} never stood still in /proc");
            continue;
        }
        let problems = compare(&dump, &after);
        if problems.is_empty() {
            return dump;
        }
        if Instant::now() >= until {
            panic!("{}", mismatch_report(what, &problems, attempts, &after));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// The same comparison for a dump that cannot be retried (`--dump-on-exit`).
#[track_caller]
pub fn assert_dump_matches(dump: &Dump, procs: &BTreeMap<i64, ProcProcess>, what: &str) {
    let problems = compare(dump, procs);
    if !problems.is_empty() {
        panic!("{}", mismatch_report(what, &problems, 1, procs));
    }
}

fn mismatch_report(what: &str, problems: &[String], attempts: usize, procs: &BTreeMap<i64, ProcProcess>) -> String {
    const SHOWN: usize = 40;
    let mut text = format!(
        "{what}: the fd model differs from /proc in {} ways (last of {attempts} dumps; processes {:?}):\n  - {}",
        problems.len(),
        procs.iter().map(|(p, pr)| format!("{p} {} ({} fds)", pr.comm, pr.fds.len())).collect::<Vec<_>>(),
        problems[..problems.len().min(SHOWN)].join("\n  - ")
    );
    if problems.len() > SHOWN {
        text.push_str(&format!("\n  ... and {} more", problems.len() - SHOWN));
    }
    text
}

/// The `loss` and `resync` records so far: where the model had to heal. Scenarios
/// without a forced loss must have none (a resync there means an event contradicted
/// the model).
pub fn healing_records(fw: &Fdwatch) -> Vec<Value> {
    fw.records().into_iter().filter(|r| r["type"] == "loss" || r["type"] == "resync").collect()
}

#[track_caller]
pub fn assert_no_healing(fw: &Fdwatch, what: &str) {
    let heal = healing_records(fw);
    assert!(
        heal.is_empty(),
        "{what}: the model needed healing ({} loss/resync records), e.g.:\n  {}",
        heal.len(),
        heal.iter().take(10).map(Value::to_string).collect::<Vec<_>>().join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        model_check::{by_pid_fd, dumps::tests::fd},
        procfs::ProcFd,
    };

    #[test]
    fn compare_reports_every_difference() {
        let procs: BTreeMap<i64, ProcProcess> = [(
            1,
            ProcProcess {
                comm: "x".into(),
                fds: [
                    (0, ProcFd { name: "/dev/null".into(), cloexec: false, ino: 3, access: "read".into() }),
                    (1, ProcFd { name: "/dev/null".into(), cloexec: true, ino: 3, access: "read".into() }),
                ]
                .into(),
            },
        )]
        .into();
        assert!(
            compare(
                &by_pid_fd(&[fd(1, 0), {
                    let mut r = fd(1, 1);
                    r["cloexec"] = json!(true);
                    r
                }]),
                &procs
            )
            .is_empty()
        );
        let problems = compare(&by_pid_fd(&[fd(1, 0), fd(1, 1), fd(1, 2), fd(9, 0)]), &procs);
        assert_eq!(problems.len(), 3, "{problems:#?}"); // cloexec of 1, extra 2, pid 9
        let problems = compare(&by_pid_fd(&[fd(1, 0)]), &procs);
        assert_eq!(problems.len(), 1, "{problems:#?}"); // 1 missing
    }
}
