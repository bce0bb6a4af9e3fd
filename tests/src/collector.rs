//! The collector under test: `fdwatch --json --events ARGS`, a [`Child`] whose stdout
//! lines are NDJSON records, each checked against the record contract as it is read.
use std::{
    cell::RefCell,
    process::{Command, ExitStatus},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{
    DEADLINE, START_DEADLINE, check,
    child::{Child, GaveUp, Lines, Spawn},
    fdwatch_bin, require_root,
};

/// `fdwatch ARGS | head -1`: starts fdwatch, reads its first line, which must be the
/// ready record, and closes its stdout, as a reader that goes away does. Returns once
/// the pipe is closed.
#[track_caller]
pub fn fdwatch_head_1(args: &[&str]) -> Child {
    require_root();
    let mut cmd = Command::new(fdwatch_bin());
    cmd.args(args);
    let fw = Spawn::new(cmd, format!("fdwatch {args:?} | head -1")).stdin_null().stdout_first_line().spawn();
    let first = fw.wait_for("the ready record, then the end of the pipe", START_DEADLINE, |out| {
        (out.line_count() > 0 && out.stdout_ended()).then(|| out.text(0))
    });
    assert!(
        first.starts_with("{\"type\":\"ready\""),
        "{}",
        fw.report(&format!("the first line is not ready: {first}"))
    );
    fw
}

/// One line of fdwatch's stdout as a record, or what is wrong with it: the output
/// contract (complete JSON records only, README.md *Output*) and docs/schema.json.
fn checked(line: &[u8], complete: bool) -> Result<Value, String> {
    let broke = |why: String| format!("fdwatch broke the output contract (complete JSON records only): {why}");
    if !complete {
        return Err(broke(format!("incomplete last line (no newline): {}", String::from_utf8_lossy(line))));
    }
    let record =
        check::parse_record(line).map_err(|e| broke(format!("not JSON ({e}): {}", String::from_utf8_lossy(line))))?;
    if let Some(why) = check::contract_violation(&record) {
        return Err(broke(format!("{why}: {record}")));
    }
    // Checked as the test takes the record in, not as it is read: reading must not be
    // slowed and hold fdwatch back.
    if let Some(why) = crate::schema::violations(&record) {
        return Err(format!("fdwatch wrote a record docs/schema.json does not allow: {why}\nrecord: {record}"));
    }
    Ok(record)
}

/// A running fdwatch. Dropping it kills the process.
pub struct Fdwatch {
    child: Child,
    /// Every record of stdout so far, in order: line i is record i (nothing is ever
    /// consumed: `expect` finds records seen before too).
    records: RefCell<Vec<Value>>,
    /// Why the line after the last record broke the output contract.
    bad: RefCell<Option<String>>,
}

impl Fdwatch {
    /// Starts `$FDWATCH_BIN --json --events ARGS` and waits (up to 60 s) for its first
    /// record, which must be `ready`.
    pub fn start(args: &[&str]) -> Fdwatch {
        Self::until_ready(Self::spawn(args))
    }

    /// Waits (up to 60 s) for the first record of a spawned fdwatch, which must be `ready`.
    pub fn until_ready(mut fw: Fdwatch) -> Fdwatch {
        match fw.find(START_DEADLINE, &|_| true) {
            Ok(_) if fw.records.borrow()[0]["type"] == "ready" => fw,
            Ok(_) => {
                panic!("{}", fw.report(&format!("fdwatch's first record is not ready: {}", fw.records.borrow()[0])))
            }
            Err(gave_up) => {
                // It may be on its way out: its exit status says why.
                fw.child.wait_exit(Duration::from_secs(5));
                fw.child.fail("the ready record", &gave_up.to_string())
            }
        }
    }

    /// `start(["--pid", PID, extra...])`.
    pub fn watch(pid: i64, extra: &[&str]) -> Fdwatch {
        let pid = pid.to_string();
        let mut args = vec!["--pid", pid.as_str()];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    /// Spawns fdwatch without waiting for anything (for exit-code tests).
    pub fn spawn(args: &[&str]) -> Fdwatch {
        Self::spawn_raw(&[&["--json", "--events"], args].concat())
    }

    /// Spawns `$FDWATCH_BIN ARGS` exactly as given, stdout parsed as NDJSON.
    pub fn spawn_raw(args: &[&str]) -> Fdwatch {
        require_root();
        let mut command = Command::new(fdwatch_bin());
        command.args(args);
        Self::spawn_command(command)
    }

    /// Spawns `command` (fdwatch run some other way: as another user, under setpriv),
    /// stdout parsed as NDJSON.
    pub fn spawn_command(command: Command) -> Fdwatch {
        let args: Vec<String> = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        // A record is one long line: the last 12 say enough.
        let child = Spawn::new(command, format!("fdwatch {args:?}")).stdin_null().show_last(12).spawn();
        Fdwatch { child, records: RefCell::default(), bad: RefCell::default() }
    }

    /// The collector's pid.
    pub fn pid(&self) -> u32 {
        self.child.pid() as u32
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.child.stderr()
    }

    /// Sends it `signal` (SIGUSR1: a dump of the model).
    pub fn signal(&self, signal: i32) {
        self.child.signal(signal);
    }

    /// Parses `lines`, the next lines of stdout, into `records`, up to the first that
    /// breaks the output contract (complete JSON records only), which is kept in `bad`.
    fn take_in(&self, lines: Lines) {
        let mut records = self.records.borrow_mut();
        for (line, complete) in lines.iter() {
            match checked(line, complete) {
                Ok(record) => records.push(record),
                Err(why) => {
                    *self.bad.borrow_mut() = Some(why);
                    return;
                }
            }
        }
    }

    /// Panics if a line broke the output contract or the schema.
    fn check_contract(&self) {
        if let Some(why) = self.bad.borrow().as_deref() {
            panic!("{}", self.report(why))
        }
    }

    /// Index of the first record (from the very first) matching `pred`, waiting up to
    /// `deadline` for it; Err on timeout or the end of the output. Panics on a line that
    /// breaks the output contract before such a record.
    fn find(&self, deadline: Duration, pred: &dyn Fn(&Value) -> bool) -> Result<usize, GaveUp> {
        let until = Instant::now() + deadline;
        let mut i = 0;
        loop {
            {
                let records = self.records.borrow();
                while i < records.len() {
                    if pred(&records[i]) {
                        return Ok(i);
                    }
                    i += 1;
                }
            }
            self.check_contract();
            let lines =
                self.child.take_new_lines(until.saturating_duration_since(Instant::now())).map_err(|e| match e {
                    // Say the whole wait, not what was left of it.
                    GaveUp::Deadline(_) => GaveUp::Deadline(deadline),
                    ended => ended,
                })?;
            self.take_in(lines);
        }
    }

    /// Takes in whatever has already arrived, without waiting.
    fn take_in_now(&self) {
        if let Ok(lines) = self.child.take_new_lines(Duration::ZERO) {
            self.take_in(lines);
        }
        self.check_contract();
    }

    /// A failure report: the message, the collector's args and exit status, its last
    /// records (the records are kept here, not as lines in the child), stderr.
    pub fn report(&self, message: &str) -> String {
        self.take_in_quietly();
        let records = self.records.borrow();
        let last = &records[records.len().saturating_sub(12)..];
        let mut text = format!("{message}\n{} records", records.len());
        if !last.is_empty() {
            text.push_str(&format!(", the last {}:", last.len()));
        }
        for r in last {
            text.push_str(&format!("\n  {r}"));
        }
        self.child.report(&text)
    }

    /// Panics with the report: `expected` did not come, because `why`.
    #[track_caller]
    fn fail(&self, expected: &str, why: &str) -> ! {
        panic!("{}", self.report(&format!("expected {expected}: {why}")))
    }

    /// Takes in what has arrived, for a report: a broken line is left for the report's
    /// last lines to show.
    fn take_in_quietly(&self) {
        if self.bad.borrow().is_none() {
            if let Ok(lines) = self.child.take_new_lines(Duration::ZERO) {
                self.take_in(lines);
            }
        }
    }

    /// Waits up to `deadline` for a record matching `pred` (records seen earlier count:
    /// nothing is consumed) and returns it; panics naming `what` if none comes.
    #[track_caller]
    pub fn expect(&self, what: &str, deadline: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        match self.find(deadline, &pred) {
            Ok(i) => self.records.borrow()[i].clone(),
            Err(gave_up) => self.fail(what, &gave_up.to_string()),
        }
    }

    /// Like `expect`, but None if no such record comes within `deadline`.
    pub fn try_expect(&self, deadline: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let i = self.find(deadline, &pred).ok()?;
        Some(self.records.borrow()[i].clone())
    }

    /// `expect` with the default deadline, for an event of `pid` / `syscall` matching
    /// `pred` as well. If none comes, the report shows the records that came closest,
    /// check by check.
    #[track_caller]
    pub fn expect_event(&self, pid: i64, syscall: &str, pred: impl Fn(&Value) -> bool) -> Value {
        match self.find(DEADLINE, &|v| check::event_of(v, pid, syscall) && pred(v)) {
            Ok(i) => self.records.borrow()[i].clone(),
            Err(gave_up) => {
                let checks = [
                    check::Check::field("type", "event"),
                    check::Check::field("pid", pid),
                    check::Check::field("syscall", syscall),
                    check::Check::new("the test's own condition on it", "true", |v| {
                        (!pred(v)).then(|| "false".to_string())
                    }),
                ];
                let near = check::near_misses(&self.records.borrow(), &checks, 3);
                self.fail(&format!("a {syscall} event of pid {pid}"), &format!("{gave_up}\n{near}"))
            }
        }
    }

    /// The first event of the pid and the syscall that `want` names, which must have
    /// exactly the fields of `want` ([`check::assert_event`], e.g. of
    /// [`crate::expected`]); returns it.
    #[track_caller]
    pub fn expect_exact(&self, want: &Value) -> Value {
        self.expect_exact_where(want, |_| true)
    }

    /// Like [`Fdwatch::expect_exact`], for the first such event that `pred` accepts.
    #[track_caller]
    pub fn expect_exact_where(&self, want: &Value, pred: impl Fn(&Value) -> bool) -> Value {
        let pid = want["pid"].as_i64().unwrap_or_else(|| panic!("the expected event names no pid: {want}"));
        let syscall = want["syscall"].as_str().unwrap_or_else(|| panic!("the expected event names no syscall: {want}"));
        let event = self.expect_event(pid, syscall, pred);
        check::assert_event(&event, want);
        event
    }

    /// Every record up to and including the first matching `pred` (waiting for it
    /// like `expect`).
    #[track_caller]
    pub fn collect_until(&self, what: &str, deadline: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        match self.find(deadline, &pred) {
            Ok(i) => self.records.borrow()[..=i].to_vec(),
            Err(gave_up) => self.fail(what, &gave_up.to_string()),
        }
    }

    /// Every record received so far.
    pub fn records(&self) -> Vec<Value> {
        self.take_in_now();
        self.records.borrow().clone()
    }

    /// Every event of `pid` received so far.
    pub fn events_of(&self, pid: i64) -> Vec<Value> {
        self.take_in_now();
        self.records.borrow().iter().filter(|v| v["type"] == "event" && v["pid"] == pid).cloned().collect()
    }

    /// Sends `signal` and reads the rest of the output; returns the exit status and
    /// every record. Panics if fdwatch is not done within 30 s.
    pub fn stop_with(mut self, signal: i32) -> (ExitStatus, Vec<Value>) {
        self.child.signal(signal);
        self.finish(Duration::from_secs(30))
    }

    /// SIGINT, then the rest of the output (the last record should be `stats`).
    pub fn stop(self) -> (ExitStatus, Vec<Value>) {
        self.stop_with(libc::SIGINT)
    }

    /// Waits (without a signal) for fdwatch to exit by itself, e.g. with --duration.
    pub fn wait_done(mut self, deadline: Duration) -> (ExitStatus, Vec<Value>) {
        self.finish(deadline)
    }

    /// Reads the output to its end (all of it within `deadline`), then the exit status.
    #[track_caller]
    fn finish(&mut self, deadline: Duration) -> (ExitStatus, Vec<Value>) {
        let until = Instant::now() + deadline;
        if !self.child.wait_output_end(deadline, false) {
            self.fail("the end of fdwatch's output", &format!("it did not end within {deadline:?}"));
        }
        self.take_in_now();
        // It closed stdout on its way out: give the exit a moment even if the deadline
        // is spent.
        let left = until.saturating_duration_since(Instant::now()).max(Duration::from_secs(5));
        if self.child.wait_exit(left).is_none() {
            self.fail("fdwatch to exit", "it closed stdout but did not exit");
        }
        (self.child.status().expect("reaped"), self.records.take())
    }

    /// Waits for the exit and returns (status, stdout records, stderr) of a run that
    /// ends by itself (usage errors, --duration).
    pub fn outcome(mut self, deadline: Duration) -> (ExitStatus, Vec<Value>, String) {
        let (status, records) = self.finish(deadline);
        // stderr's reader may still be copying the last bytes.
        self.child.wait_output_end(Duration::from_secs(10), true);
        (status, records, self.stderr())
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;

    /// An "fdwatch" that prints `script`'s output: the harness without root or eBPF.
    fn fake(script: &str) -> Fdwatch {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", script]);
        Fdwatch::spawn_command(cmd)
    }

    const READY: &str = r#"{"type":"ready","ts":"2026-11-21T18:40:41.887515443Z","host":"vm","v":1,"probes":4,"collector_pid":9,"watched":[],"follow":false,"processes":3,"fds":9,"scan_ns":5}"#;
    const RESYNC: &str = r#"{"type":"resync","ts":"2026-11-21T18:40:41.887515443Z","host":"vm","v":1,"scope":"all","reason":"r","processes":3,"fds_changed":0}"#;

    #[test]
    fn records_are_found_and_stop_reads_to_the_end() {
        let fw = Fdwatch::until_ready(fake(&format!("echo '{READY}'; echo '{RESYNC}'; exec sleep 30")));
        assert_eq!(fw.expect("resync", DEADLINE, |r| r["type"] == "resync")["host"], "vm");
        let (status, records) = fw.stop_with(libc::SIGTERM);
        assert!(!status.success());
        assert_eq!(records.len(), 2);
    }

    #[test]
    fn a_line_that_breaks_the_contract_fails_the_test_that_reaches_it() {
        let fw = fake(&format!("echo '{READY}'; echo 'not json'; exec sleep 30"));
        let fw = Fdwatch::until_ready(fw);
        let r = catch_unwind(AssertUnwindSafe(|| fw.expect("more", DEADLINE, |r| r["type"] == "resync")));
        let why = *r.expect_err("a line that is not JSON panics").downcast::<String>().unwrap();
        assert!(why.contains("broke the output contract") && why.contains("not JSON"), "{why}");
        let fw = fake(&format!("echo '{READY}'; printf '{READY}'"));
        let r = catch_unwind(AssertUnwindSafe(|| fw.wait_done(DEADLINE)));
        let why = *r.expect_err("an incomplete last line panics").downcast::<String>().unwrap();
        assert!(why.contains("incomplete last line"), "{why}");
        let fw = fake(&format!("echo '{READY}'; echo '{}'", RESYNC.replace("\"all\"", "7")));
        let r = catch_unwind(AssertUnwindSafe(|| fw.wait_done(DEADLINE)));
        let why = *r.expect_err("a record the schema does not allow panics").downcast::<String>().unwrap();
        assert!(why.contains("docs/schema.json does not allow"), "{why}");
    }
}
