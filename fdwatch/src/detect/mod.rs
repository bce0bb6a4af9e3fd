//! Detectors: pure functions of the fd model and the event stream that raise alerts
//! with the evidence that explains them. Each event is shown to them twice, before the
//! model applies it (what is about to be overwritten or released) and after (what
//! landed where); `tick` runs the timers (symptom windows, grace periods, repeat
//! counts). No I/O: the collector hands the outputs to the sinks.
pub mod alert;
mod explain;
mod outbox;
mod pipe_leak;
mod select;
mod stdio;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use alert::Output;
use fdwatch_common::Kind;
use outbox::Outbox;

use crate::{
    clock::Clock,
    decode::{Body, Event},
    model::Model,
};

/// Programs that take a socket on fd 0/1/2 by design (inetd and systemd socket
/// activation, FastCGI's FCGI_LISTENSOCK_FILENO = 0, daemontools' tcpserver).
pub const DEFAULT_ALLOW: &[&str] = &["inetd", "xinetd", "systemd", "systemd-executor", "spawn-fcgi", "tcpserver"];

#[derive(Clone, Debug)]
pub struct Config {
    /// comm names, or executable paths (with a '/'), allowed to put sockets on stdio.
    pub allow: Vec<String>,
    /// How long a leaked pipe holder may linger before it is an alert.
    pub pipe_leak_grace: Duration,
    /// How long an alert waits for the failures that follow it.
    pub symptom_window: Duration,
    /// How often repeats of a written alert are counted out.
    pub repeat_every: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            allow: DEFAULT_ALLOW.iter().map(|s| s.to_string()).collect(),
            pipe_leak_grace: Duration::from_secs(1),
            symptom_window: Duration::from_millis(250),
            repeat_every: Duration::from_secs(10),
        }
    }
}

pub struct Detectors {
    config: Config,
    clock: Clock,
    outbox: Outbox,
    stdio: stdio::Stdio,
    pipes: pipe_leak::PipeLeaks,
}

impl Detectors {
    pub fn new(config: Config, clock: Clock) -> Self {
        let outbox = Outbox::new(config.symptom_window.as_nanos() as u64, config.repeat_every.as_nanos() as u64);
        Self { config, clock, outbox, stdio: stdio::Stdio::default(), pipes: pipe_leak::PipeLeaks::default() }
    }

    /// A new configuration (SIGHUP): what is pending, written and counted is kept;
    /// new windows apply to alerts raised from now on.
    pub fn set_config(&mut self, config: Config) {
        self.outbox.set_windows(config.symptom_window.as_nanos() as u64, config.repeat_every.as_nanos() as u64);
        self.config = config;
    }

    /// Before `model.apply(event)`.
    pub fn before(&mut self, model: &Model, event: &Event) {
        self.outbox.observe(event);
        select::check(model, &self.clock, &mut self.outbox, event);
        self.stdio.before(model, &self.clock, &self.config, &mut self.outbox, event);
        self.pipes.before(model, event);
    }

    /// After `model.apply(event)`.
    pub fn after(&mut self, model: &Model, event: &Event) {
        self.stdio.after(model, &self.clock, &self.config, &mut self.outbox, event);
        let grace_ns = self.grace_ns();
        self.pipes.after(model, &mut self.outbox, grace_ns, event);
        if let (Kind::Exit, Body::Exit(e)) = (event.kind, &event.body) {
            if e.group_dead != 0 {
                self.outbox.process_gone(event.header.pid, event.header.ts_ns);
            }
        }
    }

    /// Timers: call often (every drain); `now_ns` is CLOCK_MONOTONIC like event times.
    pub fn tick(&mut self, model: &Model, now_ns: u64) {
        let grace_ns = self.grace_ns();
        self.pipes.tick(model, &self.clock, &mut self.outbox, grace_ns, now_ns);
        self.outbox.tick(now_ns);
    }

    /// The end of the run: write whatever is still waiting.
    pub fn finish(&mut self, now_ns: u64) {
        self.outbox.finish(now_ns);
    }

    /// What is ready for the sinks.
    pub fn take(&mut self) -> Vec<Output> {
        self.outbox.take()
    }

    fn grace_ns(&self) -> u64 {
        self.config.pipe_leak_grace.as_nanos() as u64
    }
}
