//! The workload: `fdops OPS...` (helpers/fdops.c), one output line per op.
use std::{
    collections::BTreeMap,
    io::Write,
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        mpsc::{Receiver, RecvTimeoutError},
    },
    thread,
    time::{Duration, Instant},
};

use crate::{DEADLINE, POLL, fdops_bin};

/// One output line of fdops: `op=NAME ret=N errno=E key=value...`.
#[derive(Clone, Debug)]
pub struct OpLine {
    pub op: String,
    pub fields: BTreeMap<String, String>,
    pub raw: String,
}

impl OpLine {
    fn parse(raw: &str) -> Option<OpLine> {
        let mut fields = BTreeMap::new();
        for word in raw.split(' ') {
            let (k, v) = word.split_once('=')?;
            fields.insert(k.to_string(), v.to_string());
        }
        let op = fields.get("op")?.clone();
        Some(OpLine { op, fields, raw: raw.to_string() })
    }

    #[track_caller]
    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).unwrap_or_else(|| panic!("fdops line has no {key}: {}", self.raw))
    }

    #[track_caller]
    pub fn int(&self, key: &str) -> i64 {
        let v = self.get(key);
        v.parse().unwrap_or_else(|_| panic!("fdops {key}={v} is not an integer: {}", self.raw))
    }

    /// The return value (libc convention: -1 on failure, see `errno`).
    #[track_caller]
    pub fn ret(&self) -> i64 {
        self.int("ret")
    }

    /// Asserts success and returns the return value.
    #[track_caller]
    pub fn ok(&self) -> i64 {
        assert_eq!(self.get("errno"), "0", "fdops op failed: {}", self.raw);
        self.ret()
    }
}

/// A running fdops. Dropping it kills the process.
pub struct Fdops {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Option<String>>,
    lines: Vec<OpLine>,
    taken: Vec<bool>,
    eof: bool,
    status: Option<ExitStatus>,
    stderr: Arc<Mutex<Vec<u8>>>,
    ops: Vec<String>,
}

impl Fdops {
    /// Spawns `fdops OPS...`.
    pub fn spawn(ops: &[&str]) -> Fdops {
        let bin = fdops_bin();
        let mut child = Command::new(&bin)
            .args(ops)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run the test helper {}: {e}", bin.display()));
        let crate::child_io::ChildIo { stdin, lines: rx, stderr } = crate::child_io::capture(&mut child);
        Fdops {
            child,
            stdin,
            rx,
            lines: Vec::new(),
            taken: Vec::new(),
            eof: false,
            status: None,
            stderr,
            ops: ops.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Spawns `fdops wait OPS...` and waits until it is blocked in `wait`: the test can
    /// start fdwatch on its pid, then let it go with [`Fdops::go`].
    pub fn waiting(ops: &[&str]) -> Fdops {
        let mut all = vec!["wait"];
        all.extend_from_slice(ops);
        let mut f = Self::spawn(&all);
        let w = f.op("wait");
        assert_eq!(w.int("pid"), f.pid(), "fdops announced another pid: {}", w.raw);
        f
    }

    pub fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    /// Releases one `wait`.
    pub fn go(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(b"go\n").and_then(|()| stdin.flush()).expect("write to fdops' stdin");
    }

    fn report(&self, message: &str) -> String {
        let lines: Vec<&str> = self.lines.iter().map(|l| l.raw.as_str()).collect();
        format!(
            "{message}\nfdops {:?} (pid {}), exit {:?}, output:\n  {}\nstderr: {}",
            self.ops,
            self.child.id(),
            self.status,
            lines.join("\n  "),
            String::from_utf8_lossy(&self.stderr.lock().unwrap())
        )
    }

    /// Takes one line in, waiting until `until`; false on timeout or EOF.
    fn pump(&mut self, until: Instant) -> bool {
        if self.eof {
            return false;
        }
        let wait = until.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
        match self.rx.recv_timeout(wait) {
            Ok(Some(line)) => {
                let parsed = OpLine::parse(&line)
                    .unwrap_or_else(|| panic!("{}", self.report(&format!("unparsable fdops line: {line}"))));
                self.lines.push(parsed);
                self.taken.push(false);
                true
            }
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
        }
    }

    /// The next line of op `name` not returned before, waiting up to [`DEADLINE`].
    pub fn op(&mut self, name: &str) -> OpLine {
        let until = Instant::now() + DEADLINE;
        let mut i = 0;
        loop {
            while i < self.lines.len() {
                if !self.taken[i] && self.lines[i].op == name {
                    self.taken[i] = true;
                    return self.lines[i].clone();
                }
                i += 1;
            }
            if self.eof || Instant::now() >= until {
                let why = if self.eof { "its output ended" } else { "deadline passed" };
                panic!("{}", self.report(&format!("fdops printed no (more) op={name}: {why}")));
            }
            self.pump(until);
        }
    }

    /// Waits up to [`DEADLINE`] for fdops to exit and its output to end.
    pub fn finish(&mut self) -> ExitStatus {
        let until = Instant::now() + DEADLINE;
        while self.status.is_none() {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.status = Some(s);
                break;
            }
            if Instant::now() >= until {
                panic!("{}", self.report("fdops did not exit in time"));
            }
            // Keep reading so a full pipe cannot block it.
            if !self.pump(Instant::now() + POLL) {
                thread::sleep(POLL);
            }
        }
        while !self.eof && Instant::now() < until {
            self.pump(until);
        }
        self.status.unwrap()
    }

    /// `finish` and assert a zero exit status.
    #[track_caller]
    pub fn finish_ok(&mut self) {
        let status = self.finish();
        assert!(status.success(), "{}", self.report("fdops failed"));
    }

    /// Every line so far.
    pub fn lines(&self) -> &[OpLine] {
        &self.lines
    }
}

impl Drop for Fdops {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
