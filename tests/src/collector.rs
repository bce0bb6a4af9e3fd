//! The collector under test: `fdwatch --json --events ARGS`, its stdout parsed line by
//! line into records that tests wait for.
use std::{
    cell::RefCell,
    io::{BufRead, BufReader, Read},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError},
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{DEADLINE, POLL, START_DEADLINE, check, fdwatch_bin, require_root};

enum Msg {
    Record(Value),
    /// A line that is not a complete JSON record meeting the contract.
    Bad(String),
    Eof,
}

#[derive(Default)]
struct State {
    /// Every record received so far, in order (expect() never consumes).
    records: Vec<Value>,
    eof: bool,
}

/// A running fdwatch. Dropping it kills the process.
pub struct Fdwatch {
    child: Child,
    args: Vec<String>,
    rx: Receiver<Msg>,
    state: RefCell<State>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Set when stderr reached EOF (everything it wrote is in `stderr`).
    stderr_done: Arc<AtomicBool>,
    reaped: Option<ExitStatus>,
}

impl Fdwatch {
    /// Starts `$FDWATCH_BIN --json --events ARGS` and waits (up to 60 s) for its first
    /// record, which must be `ready`.
    pub fn start(args: &[&str]) -> Fdwatch {
        Self::until_ready(Self::spawn(args))
    }

    /// Waits (up to 60 s) for the first record of a spawned fdwatch, which must be `ready`.
    pub fn until_ready(fw: Fdwatch) -> Fdwatch {
        let first = fw.next_record_within(START_DEADLINE);
        match first {
            Some(r) if r["type"] == "ready" => fw,
            Some(r) => panic!("fdwatch {:?}: first record is not ready: {r}", fw.args),
            None => {
                let mut fw = fw;
                let status = fw.wait_exit(Duration::from_secs(5));
                panic!(
                    "fdwatch {:?} gave no ready record within {START_DEADLINE:?} (exit: {status:?}); stderr:\n{}",
                    fw.args,
                    fw.stderr()
                )
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
    pub fn spawn_command(mut command: Command) -> Fdwatch {
        let args: Vec<String> = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let msg = if line.last() != Some(&b'\n') {
                    Msg::Bad(format!("incomplete last line (no newline): {}", String::from_utf8_lossy(&line)))
                } else {
                    match check::parse_record(&line) {
                        // Checked against docs/schema.json when the test takes it in
                        // (`pump`), not here: validating must not slow this reader and
                        // hold fdwatch back.
                        Ok(v) => match check::contract_violation(&v) {
                            None => Msg::Record(v),
                            Some(why) => Msg::Bad(format!("{why}: {v}")),
                        },
                        Err(e) => Msg::Bad(format!("not JSON ({e}): {}", String::from_utf8_lossy(&line))),
                    }
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
            let _ = tx.send(Msg::Eof);
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        let stderr_done = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&stderr_done);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            done.store(true, Ordering::Release);
        });
        Fdwatch { child, args, rx, state: RefCell::default(), stderr, stderr_done, reaped: None }
    }

    /// The collector's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Receives at most one message, waiting until `until`; false on timeout or EOF.
    fn pump(&self, until: Instant) -> bool {
        if self.state.borrow().eof {
            return false;
        }
        let wait = until.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
        match self.rx.recv_timeout(wait) {
            Ok(Msg::Record(v)) => {
                if let Some(why) = crate::schema::violations(&v) {
                    panic!(
                        "fdwatch {:?} wrote a record docs/schema.json does not allow: {why}\nrecord: {v}",
                        self.args
                    );
                }
                self.state.borrow_mut().records.push(v);
                true
            }
            Ok(Msg::Bad(why)) => {
                panic!("fdwatch {:?} broke the output contract (complete JSON records only): {why}", self.args)
            }
            Ok(Msg::Eof) | Err(RecvTimeoutError::Disconnected) => {
                self.state.borrow_mut().eof = true;
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
        }
    }

    /// Takes in whatever has already arrived, without waiting.
    fn pump_ready(&self) {
        while self.pump(Instant::now()) {}
    }

    fn next_record_within(&self, deadline: Duration) -> Option<Value> {
        let until = Instant::now() + deadline;
        let have = self.state.borrow().records.len();
        loop {
            if let Some(r) = self.state.borrow().records.get(have) {
                return Some(r.clone());
            }
            if self.state.borrow().eof || Instant::now() >= until {
                return None;
            }
            self.pump(until);
        }
    }

    /// Index of the first record (from the very first) matching `pred`, waiting up to
    /// `deadline` for it; panics with `what` and the last records on timeout or EOF.
    fn find(&self, what: &str, deadline: Duration, pred: &dyn Fn(&Value) -> bool) -> usize {
        let until = Instant::now() + deadline;
        let mut i = 0;
        loop {
            {
                let st = self.state.borrow();
                while i < st.records.len() {
                    if pred(&st.records[i]) {
                        return i;
                    }
                    i += 1;
                }
            }
            let eof = self.state.borrow().eof;
            if eof || Instant::now() >= until {
                let why = if eof { "fdwatch's output ended".to_string() } else { format!("none within {deadline:?}") };
                panic!("{}", self.report(&format!("expected {what}: {why}")));
            }
            self.pump(until);
        }
    }

    /// A failure report: the message, the collector's args, its last records, stderr.
    pub fn report(&self, message: &str) -> String {
        self.pump_ready();
        let st = self.state.borrow();
        let n = st.records.len();
        let last: Vec<String> = st.records[n.saturating_sub(12)..].iter().map(Value::to_string).collect();
        format!(
            "{message}\nfdwatch {:?}: {n} records, the last {}:\n  {}\nstderr: {}",
            self.args,
            last.len(),
            last.join("\n  "),
            self.stderr()
        )
    }

    /// Waits up to `deadline` for a record matching `pred` (records seen earlier count:
    /// nothing is consumed) and returns it; panics naming `what` if none comes.
    pub fn expect(&self, what: &str, deadline: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let i = self.find(what, deadline, &pred);
        self.state.borrow().records[i].clone()
    }

    /// `expect` with the default deadline, for an event of `pid` / `syscall` matching
    /// `pred` as well.
    pub fn expect_event(&self, pid: i64, syscall: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let what = format!("a {syscall} event of pid {pid}");
        self.expect(&what, DEADLINE, |v| check::event_of(v, pid, syscall) && pred(v))
    }

    /// Every record up to and including the first matching `pred` (waiting for it
    /// like `expect`).
    pub fn collect_until(&self, what: &str, deadline: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let i = self.find(what, deadline, &pred);
        self.state.borrow().records[..=i].to_vec()
    }

    /// Every record received so far.
    pub fn records(&self) -> Vec<Value> {
        self.pump_ready();
        self.state.borrow().records.clone()
    }

    /// Every event of `pid` received so far.
    pub fn events_of(&self, pid: i64) -> Vec<Value> {
        self.records().into_iter().filter(|v| v["type"] == "event" && v["pid"] == pid).collect()
    }

    /// Sends `signal` and reads the rest of the output; returns the exit status and
    /// every record. Panics if fdwatch is not done within 30 s.
    pub fn stop_with(mut self, signal: i32) -> (ExitStatus, Vec<Value>) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child, not
        // yet reaped (so not reused).
        unsafe { libc::kill(self.child.id() as i32, signal) };
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

    fn finish(&mut self, deadline: Duration) -> (ExitStatus, Vec<Value>) {
        let until = Instant::now() + deadline;
        while !self.state.borrow().eof && Instant::now() < until {
            self.pump(until);
        }
        let eof = self.state.borrow().eof;
        if !eof {
            panic!("{}", self.report(&format!("fdwatch did not finish its output within {deadline:?}")));
        }
        let left = until.saturating_duration_since(Instant::now()).max(Duration::from_secs(5));
        let Some(status) = self.wait_exit(left) else {
            panic!("{}", self.report("fdwatch closed stdout but did not exit"));
        };
        (status, std::mem::take(&mut self.state.borrow_mut().records))
    }

    /// Polls for the exit status up to `deadline`.
    fn wait_exit(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + deadline;
        loop {
            if let Some(s) = self.reaped {
                return Some(s);
            }
            if let Ok(Some(s)) = self.child.try_wait() {
                self.reaped = Some(s);
                return Some(s);
            }
            if Instant::now() >= until {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// Waits for the exit and returns (status, stdout records, stderr) of a run that
    /// ends by itself (usage errors, --duration).
    pub fn outcome(mut self, deadline: Duration) -> (ExitStatus, Vec<Value>, String) {
        let (status, records) = self.finish(deadline);
        // stderr's reader may still be copying the last bytes.
        let until = Instant::now() + Duration::from_secs(10);
        while !self.stderr_done.load(Ordering::Acquire) && Instant::now() < until {
            thread::sleep(POLL);
        }
        (status, records, self.stderr())
    }
}

impl Drop for Fdwatch {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
