//! The workload: `fdops OPS...` (helpers/fdops.c), one output line per op.
use std::{
    collections::BTreeMap,
    process::{Command, ExitStatus},
};

use crate::{DEADLINE, child::Child, fdops_bin};

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

/// A running fdops: a [`Child`] whose lines are [`OpLine`]s. Dropping it kills the
/// process.
pub struct Fdops {
    child: Child,
}

impl Fdops {
    /// Spawns `fdops OPS...`.
    pub fn spawn(ops: &[&str]) -> Fdops {
        let mut cmd = Command::new(fdops_bin());
        cmd.args(ops);
        Fdops { child: Child::spawn(cmd, format!("fdops {ops:?}")) }
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
        self.child.pid()
    }

    /// Releases one `wait`.
    pub fn go(&mut self) {
        self.child.send("go");
    }

    /// The next line of op `name` not returned before, waiting up to [`DEADLINE`].
    #[track_caller]
    pub fn op(&mut self, name: &str) -> OpLine {
        self.child.take_line(&format!("a line op={name}"), DEADLINE, |raw| {
            let line = String::from_utf8_lossy(raw);
            let op = OpLine::parse(&line).ok_or_else(|| format!("unparsable fdops line: {line}"))?;
            Ok((op.op == name).then_some(op))
        })
    }

    /// Waits up to [`DEADLINE`] for fdops to exit and its output to end.
    #[track_caller]
    pub fn finish(&mut self) -> ExitStatus {
        self.child.finish(DEADLINE)
    }

    /// `finish` and assert a zero exit status.
    #[track_caller]
    pub fn finish_ok(&mut self) {
        let status = self.finish();
        assert!(status.success(), "{}", self.child.report("fdops failed"));
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<OpLine> {
        self.child.lines().iter().filter_map(|l| OpLine::parse(l)).collect()
    }
}
