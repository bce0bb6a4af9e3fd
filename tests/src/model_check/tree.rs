//! The process trees of the model tests: `helpers/model_procs.c` (built by build.rs), a
//! [`Child`] in a process group of its own whose stdout lines are JSON `{"ev":...}`.
use std::{
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{
    DEADLINE, Fdwatch,
    child::{Child, Spawn},
    event_of,
    helpers::model_procs_bin,
};

/// A running `model_procs MODE ARGS...` and everything it started (one process group,
/// SIGKILLed on drop).
pub struct Tree {
    child: Child,
}

impl Tree {
    /// Spawns the helper and waits for its `started` line.
    pub fn spawn(args: &[&str]) -> Tree {
        let mut cmd = Command::new(model_procs_bin());
        cmd.args(args);
        let mut tree = Tree { child: Spawn::new(cmd, format!("model_procs {args:?}")).process_group().spawn() };
        let started = tree.expect_ev("started");
        assert_eq!(started["pid"], tree.pid(), "model_procs announced another pid: {started}");
        tree
    }

    /// The root's pid (also its process group).
    pub fn pid(&self) -> i64 {
        self.child.pid()
    }

    /// Starts `fdwatch --pid <root> --follow EXTRA...`, then lets the tree go (it builds
    /// itself once it reads "go").
    pub fn go_watched(&mut self, extra: &[&str]) -> Fdwatch {
        let fw = Fdwatch::watch(self.pid(), &[&["--follow"], extra].concat());
        self.send("go");
        fw
    }

    /// Writes one line to the root's stdin ("go", "poke").
    pub fn send(&mut self, line: &str) {
        self.child.send(line);
    }

    /// The first line not returned before whose `ev` is `ev`, waiting up to `deadline`
    /// (lines of other kinds stay for later calls).
    #[track_caller]
    pub fn expect_ev_within(&mut self, ev: &str, deadline: Duration) -> Value {
        self.child.take_line(&format!("a line with \"ev\":{ev:?}"), deadline, |raw| {
            let line: Value = serde_json::from_slice(raw)
                .map_err(|e| format!("a line that is not JSON ({e}): {}", String::from_utf8_lossy(raw)))?;
            Ok((line["ev"] == ev).then_some(line))
        })
    }

    #[track_caller]
    pub fn expect_ev(&mut self, ev: &str) -> Value {
        self.expect_ev_within(ev, DEADLINE)
    }

    /// Asks the root for a failing close(99999) (which changes no fd) until fdwatch
    /// reports one: proof that the collector's loop runs and has drained the ring
    /// buffer up to then. Repeated once a second, since right after a flood that
    /// overflowed the ring buffer (model_loss.rs) the event may be lost itself.
    pub fn poke(&mut self, fw: &Fdwatch) {
        let pid = self.pid();
        let poked = |v: &Value| event_of(v, pid, "close") && v["fd"] == 99999;
        let until = Instant::now() + DEADLINE;
        while Instant::now() < until {
            self.send("poke");
            let reply = self.expect_ev("poked");
            assert_eq!(reply["ret"], -1, "{reply}");
            if fw.try_expect(Duration::from_secs(1), poked).is_some() {
                return;
            }
        }
        panic!("{}", fw.report(&format!("no close(99999) event of pid {pid} after a poke a second for {DEADLINE:?}")));
    }

    pub fn report(&self, message: &str) -> String {
        self.child.report(message)
    }
}
