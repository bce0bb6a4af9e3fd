//! Detectors: pure functions of the fd model and the event stream that raise alerts
//! with the evidence that explains them. Each event is shown to them twice, before the
//! model applies it (what is about to be overwritten or released) and after (what
//! landed where); `tick` runs the timers (symptom windows, grace periods, repeat
//! counts). No I/O: the collector hands the outputs to the sinks.
pub mod alert;
pub mod allow;
mod explain;
mod interrupted;
mod outbox;
mod pipe_leak;
mod relay;
mod select;
mod shells;
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

pub use allow::DEFAULT_ALLOW;

#[derive(Clone, Debug)]
pub struct Config {
    /// Allow rules (allow.rs: `comm=NAME,peer=ADDR`, or a bare comm or path), on top of
    /// the built-in ones: programs that put sockets on stdio or relay shells by design.
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
            allow: Vec::new(),
            pipe_leak_grace: Duration::from_secs(1),
            symptom_window: Duration::from_millis(250),
            repeat_every: Duration::from_secs(10),
        }
    }
}

pub struct Detectors {
    config: Config,
    /// `config.allow` parsed, after the built-in rules.
    rules: Vec<allow::Rule>,
    clock: Clock,
    outbox: Outbox,
    stdio: stdio::Stdio,
    relays: relay::Relays,
    interrupted: interrupted::Interrupted,
    pipes: pipe_leak::PipeLeaks,
}

impl Detectors {
    pub fn new(config: Config, clock: Clock) -> Self {
        let outbox = Outbox::new(config.symptom_window.as_nanos() as u64, config.repeat_every.as_nanos() as u64);
        let rules = rules_of(&config);
        Self {
            config,
            rules,
            clock,
            outbox,
            stdio: stdio::Stdio::default(),
            relays: relay::Relays::default(),
            interrupted: interrupted::Interrupted::default(),
            pipes: pipe_leak::PipeLeaks::default(),
        }
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
        self.stdio.before(model, &self.clock, &mut self.outbox, event);
        self.pipes.before(model, event);
    }

    /// After `model.apply(event)`.
    pub fn after(&mut self, model: &Model, event: &Event) {
        self.stdio.after(model, &self.clock, &self.rules, &mut self.outbox, event);
        self.relays.after(model, &self.clock, &self.rules, &mut self.outbox, &mut self.stdio, event);
        self.interrupted.after(model, &self.clock, &mut self.outbox, event);
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
        self.interrupted.tick(now_ns);
        self.relays.tick(model, &self.clock, &self.rules, &mut self.outbox, &mut self.stdio, now_ns);
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

    /// The allow rules in force (the built-in ones first).
    pub fn rules(&self) -> &[allow::Rule] {
        &self.rules
    }

    fn grace_ns(&self) -> u64 {
        self.config.pipe_leak_grace.as_nanos() as u64
    }
}

/// The built-in rules and `config.allow`; a rule that does not parse (the command line
/// and the config file check them first, so none should) is left out.
fn rules_of(config: &Config) -> Vec<allow::Rule> {
    let (good, _bad): (Vec<String>, Vec<String>) =
        config.allow.iter().cloned().partition(|text| allow::Rule::parse(text).is_ok());
    debug_assert!(_bad.is_empty(), "unchecked allow rules: {_bad:?}");
    allow::rules(&good).unwrap_or_default()
}
