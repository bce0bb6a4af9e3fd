//! The configuration: the TOML file (`--config PATH`; the service's is
//! /etc/fdwatch/fdwatch.toml), with a key for every flag, the detector settings, the
//! allowlist and the outputs; flags override it. Every value is checked with the same
//! ranges as its flag (cli.rs `limits` and `check_*`). A wrong file is one line naming
//! the file, line, column and key (exit 2 at startup, a `reload` record and a line on
//! stderr at SIGHUP, where the running configuration is kept).
use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::{
    cli::{self, Cli, limits},
    control, detect,
    error::Failure,
    outputs::{
        Dest, Format, OutputConfig,
        record::{Filter, RecordType, parse_severity},
        spec,
    },
};

/// Where the service's configuration lives (packaging/fdwatch.service), and what
/// `fdwatch config check` checks without a path. fdwatch reads no file unless given
/// `--config`: an ad-hoc run on a host with the agent must not write to its outputs.
pub const DEFAULT_PATH: &str = "/etc/fdwatch/fdwatch.toml";

/// Default `stats_interval`.
pub const DEFAULT_STATS_INTERVAL: Duration = Duration::from_secs(60);

/// A number of seconds: a TOML integer or float.
#[derive(Clone, Copy, Debug)]
struct Secs(f64);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Secs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Secs, E> {
                Ok(Secs(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Secs, E> {
                Ok(Secs(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Secs, E> {
                Ok(Secs(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The file as written: every key optional.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct File {
    json: Option<bool>,
    events: Option<bool>,
    pid: Option<Spanned<Vec<i64>>>,
    follow: Option<bool>,
    container: Option<Spanned<String>>,
    duration: Option<Spanned<Secs>>,
    dump_on_exit: Option<bool>,
    max_fds: Option<Spanned<i64>>,
    ring_bytes: Option<Spanned<i64>>,
    wakeup_bytes: Option<Spanned<i64>>,
    stats_interval: Option<Spanned<Secs>>,
    metrics: Option<Spanned<String>>,
    control_socket: Option<Spanned<String>>,
    allow: Option<Spanned<Vec<String>>>,
    pipe_leak_grace: Option<Spanned<Secs>>,
    repeat_interval: Option<Spanned<Secs>>,
    symptom_window: Option<Spanned<Secs>>,
    output: Option<Vec<OutputTable>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct OutputTable {
    to: Spanned<String>,
    format: Option<Spanned<String>>,
    records: Option<Spanned<Vec<String>>>,
    min_severity: Option<Spanned<String>>,
    queue_bytes: Option<Spanned<i64>>,
    rotate_bytes: Option<Spanned<i64>>,
    rotate_keep: Option<Spanned<i64>>,
    facility: Option<Spanned<String>>,
}

/// The effective configuration: defaults, then the file, then the flags.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub json: bool,
    pub events: bool,
    pub pids: Vec<u32>,
    pub follow: bool,
    /// `--container`: a prefix of a container's id, or its name (scope.rs).
    pub container: Option<String>,
    pub duration: Option<Duration>,
    pub dump_on_exit: bool,
    pub max_fds: usize,
    pub ring_bytes: u32,
    pub wakeup_bytes: u64,
    pub stats_interval: Option<Duration>,
    pub metrics: Option<SocketAddr>,
    /// Where the agent answers queries (control/), None: it does not. Default: the
    /// host-wide agent listens on control::DEFAULT_PATH; a --pid or --container run
    /// does not.
    pub control_socket: Option<PathBuf>,
    /// Added to the built-in allowlist (detect::DEFAULT_ALLOW).
    pub allow: Vec<String>,
    pub pipe_leak_grace: Duration,
    pub repeat_interval: Duration,
    pub symptom_window: Duration,
    pub outputs: Vec<OutputConfig>,
}

/// A file that cannot be used: where, and what is wrong (one line).
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::usage(e.0)
    }
}

/// Reads the file (again at SIGHUP) and applies the same flags over it.
#[derive(Clone, Debug)]
pub struct Loader {
    pub path: Option<PathBuf>,
    pub cli: Cli,
}

impl Loader {
    pub fn new(cli: &Cli) -> Self {
        Self { path: cli.config.clone(), cli: cli.clone() }
    }

    pub fn load(&self) -> Result<Settings, ConfigError> {
        let file = match &self.path {
            Some(path) => read(path)?,
            None => Parsed::default(),
        };
        Settings::resolve(&file, &self.cli).map_err(|e| match (&self.path, e.0.starts_with("--")) {
            // A conflict between keys of the file: name the file.
            (Some(path), false) => ConfigError(format!("{}: {}", path.display(), e.0)),
            _ => e,
        })
    }
}

/// The file's values, checked one by one.
#[derive(Default)]
struct Parsed {
    json: Option<bool>,
    events: Option<bool>,
    pids: Option<Vec<u32>>,
    follow: Option<bool>,
    container: Option<String>,
    duration: Option<Duration>,
    dump_on_exit: Option<bool>,
    max_fds: Option<usize>,
    ring_bytes: Option<u32>,
    wakeup_bytes: Option<u64>,
    stats_interval: Option<Option<Duration>>,
    metrics: Option<SocketAddr>,
    control_socket: Option<PathBuf>,
    allow: Option<Vec<String>>,
    pipe_leak_grace: Option<Duration>,
    repeat_interval: Option<Duration>,
    symptom_window: Option<Duration>,
    /// Each with whether it named its format.
    outputs: Option<Vec<(OutputConfig, bool)>>,
}

/// `LINE:COLUMN` (1-based) of byte `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The key a serde error points into, as `key` or `output[N].key`: from the line's
/// `key =` and the `[[output]]` tables above it.
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = &text[..at.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let line = line.split('\n').next().unwrap_or("");
    let key = line.split_once('=').map(|(k, _)| k.trim().trim_matches('"').to_owned())?;
    let outputs = before[..line_start].lines().filter(|l| l.trim() == "[[output]]").count();
    let in_output = before[..line_start]
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('['))
        .is_some_and(|l| l.trim() == "[[output]]");
    Some(if in_output { format!("output[{outputs}].{key}") } else { key })
}

fn read(path: &std::path::Path) -> Result<Parsed, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError(format!("{shown}: cannot read it: {e}")))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let (line, col) = line_col(&text, span.start);
                let key = key_at(&text, span.start).filter(|_| !message.starts_with("unknown field"));
                match key {
                    Some(key) => ConfigError(format!("{shown}:{line}:{col}: {key}: {message}")),
                    None => ConfigError(format!("{shown}:{line}:{col}: {message}")),
                }
            }
            None => ConfigError(format!("{shown}: {message}")),
        }
    })?;
    let at = |span: std::ops::Range<usize>, key: &str, why: String| {
        let (line, col) = line_col(&text, span.start);
        ConfigError(format!("{shown}:{line}:{col}: {key}: {why}"))
    };
    fn check<T, U>(
        v: &Option<Spanned<T>>,
        key: &str,
        at: &impl Fn(std::ops::Range<usize>, &str, String) -> ConfigError,
        f: impl Fn(&T) -> Result<U, String>,
    ) -> Result<Option<U>, ConfigError> {
        match v {
            None => Ok(None),
            Some(s) => f(s.get_ref()).map(Some).map_err(|why| at(s.span(), key, why)),
        }
    }
    let secs = |max: f64| move |s: &Secs| cli::check_seconds(s.0, max);
    let mut parsed = Parsed {
        json: file.json,
        events: file.events,
        follow: file.follow,
        dump_on_exit: file.dump_on_exit,
        // Each rule parsed as `--allow` parses it (detect/allow.rs): a typo is an error
        // naming the rule, not a rule that never matches.
        allow: check(&file.allow, "allow", &at, |rules| {
            rules.iter().map(|r| detect::allow::Rule::parse(r).map(|_| r.clone())).collect()
        })?,
        pids: check(&file.pid, "pid", &at, |pids| {
            pids.iter().map(|p| cli::check_pid(i128::from(*p)).map_err(|e| format!("{p}: {e}"))).collect()
        })?,
        container: check(&file.container, "container", &at, |c| {
            crate::containers::find::check_prefix(c).map(|()| c.clone())
        })?,
        duration: check(&file.duration, "duration", &at, secs(limits::MAX_SECS))?,
        max_fds: check(&file.max_fds, "max_fds", &at, |n| cli::check_max_fds(i128::from(*n)))?,
        ring_bytes: check(&file.ring_bytes, "ring_bytes", &at, |n| cli::check_ring_bytes(i128::from(*n)))?,
        wakeup_bytes: check(&file.wakeup_bytes, "wakeup_bytes", &at, |n| cli::check_wakeup_bytes(i128::from(*n)))?,
        stats_interval: check(&file.stats_interval, "stats_interval", &at, |s| cli::check_stats_interval(s.0))?,
        metrics: check(&file.metrics, "metrics", &at, |s| {
            s.parse::<SocketAddr>()
                .map_err(|_| format!("{s:?} is not an address: expected IP:PORT, e.g. 127.0.0.1:9464"))
        })?,
        control_socket: check(&file.control_socket, "control_socket", &at, |s| check_socket_path(s))?,
        pipe_leak_grace: check(&file.pipe_leak_grace, "pipe_leak_grace", &at, secs(limits::MAX_WINDOW_SECS))?,
        repeat_interval: check(&file.repeat_interval, "repeat_interval", &at, secs(limits::MAX_WINDOW_SECS))?,
        symptom_window: check(&file.symptom_window, "symptom_window", &at, secs(limits::MAX_SYMPTOM_WINDOW_SECS))?,
        outputs: None,
    };
    if let Some(tables) = &file.output {
        let mut outputs = Vec::new();
        for (i, t) in tables.iter().enumerate() {
            let key = |k: &str| format!("output[{}].{k}", i + 1);
            let dest = Dest::parse(t.to.get_ref()).map_err(|why| at(t.to.span(), &key("to"), why))?;
            let format = check(&t.format, &key("format"), &at, |f| match f.as_str() {
                "json" => Ok(Format::Json),
                "text" => Ok(Format::Text),
                other => Err(format!("{other:?} is not a format: json or text")),
            })?;
            let mut config = OutputConfig::new(dest.clone(), format.unwrap_or(dest.default_format()));
            let records = check(&t.records, &key("records"), &at, |names| {
                names
                    .iter()
                    .map(|n| {
                        RecordType::parse(n).ok_or_else(|| {
                            let all: Vec<&str> = RecordType::ALL.iter().map(|t| t.name()).collect();
                            format!("{n:?} is not a record type: {}", all.join(", "))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })?;
            let min = check(&t.min_severity, &key("min_severity"), &at, |s| {
                parse_severity(s).ok_or_else(|| format!("{s:?} is not a severity: info, warning or critical"))
            })?;
            let types = records.unwrap_or_else(|| RecordType::ALL.to_vec());
            config.filter = Filter::new(&types, min.unwrap_or(config.filter.min_severity));
            if let Some(n) = check(&t.queue_bytes, &key("queue_bytes"), &at, |n| {
                cli::check_integer(i128::from(*n), spec::MIN_QUEUE_BYTES, spec::MAX_QUEUE_BYTES)
            })? {
                config.queue_bytes = n as usize;
            }
            let file_only = |k: &str, span: std::ops::Range<usize>| match dest {
                Dest::File(_) => Ok(()),
                _ => Err(at(span, &key(k), format!("only a file output rotates (this one is {dest})"))),
            };
            if let Some(s) = &t.rotate_bytes {
                file_only("rotate_bytes", s.span())?;
            }
            if let Some(s) = &t.rotate_keep {
                file_only("rotate_keep", s.span())?;
            }
            config.rotate_bytes = check(&t.rotate_bytes, &key("rotate_bytes"), &at, |n| {
                cli::check_integer(i128::from(*n), spec::MIN_ROTATE_BYTES, u64::MAX >> 1)
            })?;
            if let Some(n) = check(&t.rotate_keep, &key("rotate_keep"), &at, |n| {
                cli::check_integer(i128::from(*n), 1, u64::from(spec::MAX_ROTATE_KEEP))
            })? {
                config.rotate_keep = n as u32;
            }
            if let Some(s) = &t.facility {
                if !matches!(dest, Dest::Syslog(_)) {
                    return Err(at(
                        s.span(),
                        &key("facility"),
                        format!("only a syslog output has one (this one is {dest})"),
                    ));
                }
            }
            if let Some(code) = check(&t.facility, &key("facility"), &at, |f| {
                spec::FACILITIES.iter().find(|(n, _)| n == f).map(|(_, c)| *c).ok_or_else(|| {
                    let names: Vec<&str> = spec::FACILITIES.iter().map(|(n, _)| *n).collect();
                    format!("{f:?} is not a syslog facility: {}", names.join(", "))
                })
            })? {
                config.facility = code;
            }
            if outputs.iter().any(|(o, _): &(OutputConfig, bool)| o.dest == dest) {
                return Err(at(t.to.span(), &key("to"), format!("{dest} is already an output")));
            }
            outputs.push((config, format.is_some()));
        }
        parsed.outputs = Some(outputs);
    }
    Ok(parsed)
}

impl Settings {
    fn resolve(file: &Parsed, cli: &Cli) -> Result<Settings, ConfigError> {
        let json = cli.json || file.json.unwrap_or(false);
        let ring_bytes = cli.ring_bytes.or(file.ring_bytes).unwrap_or(limits::DEFAULT_RING_BYTES);
        let pids = if cli.pids.is_empty() { file.pids.clone().unwrap_or_default() } else { cli.pids.clone() };
        let follow = cli.follow || file.follow.unwrap_or(false);
        let container = cli.container.clone().or_else(|| file.container.clone());
        if let Some(c) = &container {
            crate::containers::find::check_prefix(c).map_err(|e| ConfigError(format!("--container: {e}")))?;
            if !pids.is_empty() || follow {
                let (c, p) = if cli.container.is_some() { ("--container", "--pid") } else { ("container", "pid") };
                return Err(ConfigError(format!(
                    "{c} and {p}/follow cannot be used together: watch a container, or processes"
                )));
            }
        }
        if follow && pids.is_empty() {
            let (f, p) = if cli.follow { ("--follow", "--pid") } else { ("follow", "pid") };
            return Err(ConfigError(format!("{f} needs {p}: the processes whose children to follow")));
        }
        // Flag-form outputs, and stdout by default, take --json's format; the file's
        // outputs their own `format`, else JSON (stdout: as --json says).
        let outputs: Vec<OutputConfig> = if !cli.outputs.is_empty() {
            cli.outputs
                .iter()
                .map(|d| {
                    let format = if json || *d != Dest::Stdout { Format::Json } else { Format::Text };
                    OutputConfig::new(d.clone(), format)
                })
                .collect()
        } else if let Some(outputs) = &file.outputs {
            outputs
                .iter()
                .map(|(o, named)| {
                    let mut o = o.clone();
                    if !named && o.dest == Dest::Stdout && json {
                        o.format = Format::Json;
                    }
                    o
                })
                .collect()
        } else {
            vec![OutputConfig::new(Dest::Stdout, if json { Format::Json } else { Format::Text })]
        };
        let mut seen = Vec::new();
        for o in &outputs {
            if seen.contains(&&o.dest) {
                return Err(ConfigError(format!("--output {}: given twice", o.dest)));
            }
            seen.push(&o.dest);
        }
        let settings = Settings {
            json,
            events: cli.events || file.events.unwrap_or(false),
            pids,
            follow,
            container,
            duration: cli.duration.or(file.duration),
            dump_on_exit: cli.dump_on_exit || file.dump_on_exit.unwrap_or(false),
            max_fds: cli.max_fds.or(file.max_fds).unwrap_or(limits::DEFAULT_MAX_FDS),
            ring_bytes,
            wakeup_bytes: 0,
            stats_interval: cli
                .stats_interval
                .map(|i| i.0)
                .or(file.stats_interval)
                .unwrap_or(Some(DEFAULT_STATS_INTERVAL)),
            metrics: cli.metrics.or(file.metrics),
            control_socket: None,
            allow: if cli.allow.is_empty() { file.allow.clone().unwrap_or_default() } else { cli.allow.clone() },
            pipe_leak_grace: cli
                .pipe_leak_grace
                .or(file.pipe_leak_grace)
                .unwrap_or(detect::Config::default().pipe_leak_grace),
            repeat_interval: cli
                .repeat_interval
                .or(file.repeat_interval)
                .unwrap_or(detect::Config::default().repeat_every),
            symptom_window: file.symptom_window.unwrap_or(detect::Config::default().symptom_window),
            outputs,
        };
        let wakeup_bytes = settings.check_wakeup(cli.wakeup_bytes.or(file.wakeup_bytes), cli.wakeup_bytes.is_some())?;
        let flag = cli
            .control_socket
            .as_ref()
            .map(|p| {
                check_socket_path(&p.to_string_lossy()).map_err(|why| ConfigError(format!("--control-socket: {why}")))
            })
            .transpose()?;
        let control_socket = match flag.or_else(|| file.control_socket.clone()) {
            Some(p) if p.as_os_str() == control::OFF => None,
            Some(p) => Some(p),
            // A --pid or --container run is an ad-hoc look at a few processes: the
            // host's agent, if any, is the one to answer queries.
            None if settings.pids.is_empty() && settings.container.is_none() => {
                Some(PathBuf::from(control::DEFAULT_PATH))
            }
            None => None,
        };
        Ok(Settings { wakeup_bytes, control_socket, ..settings })
    }

    /// The wake-up threshold, checked against the ring: the default is a quarter of a
    /// ring smaller than 1 MiB.
    fn check_wakeup(&self, wakeup: Option<u64>, from_flag: bool) -> Result<u64, ConfigError> {
        let ring = u64::from(self.ring_bytes);
        match wakeup {
            None => Ok(limits::DEFAULT_WAKEUP_BYTES.min(ring / 4)),
            Some(n) if n <= ring / 2 => Ok(n),
            Some(n) => {
                let (w, r) =
                    if from_flag { ("--wakeup-bytes", "--ring-bytes") } else { ("wakeup_bytes", "ring_bytes") };
                Err(ConfigError(format!(
                    "{w} {n} is more than half of {r} {ring}: the ring could fill before the collector is woken \
                     (use at most {})",
                    ring / 2
                )))
            }
        }
    }

    pub fn detect_config(&self) -> detect::Config {
        let mut config = detect::Config::default();
        config.allow.extend(self.allow.iter().cloned());
        config.pipe_leak_grace = self.pipe_leak_grace;
        config.repeat_every = self.repeat_interval;
        config.symptom_window = self.symptom_window;
        config
    }

    /// Standard output is the only output: the collector writes it itself (outputs/).
    pub fn stdout_only(&self) -> bool {
        matches!(self.outputs.as_slice(), [o] if o.dest == Dest::Stdout)
    }

    /// Keys whose value differs in `new`: (applied at once, needs a restart).
    pub fn changes(&self, new: &Settings) -> (Vec<String>, Vec<String>) {
        let mut applied = Vec::new();
        let mut restart = Vec::new();
        let mut diff = |key: &str, differs: bool, live: bool| {
            if differs {
                if live { applied.push(key.to_owned()) } else { restart.push(key.to_owned()) }
            }
        };
        diff("events", self.events != new.events, true);
        diff("dump_on_exit", self.dump_on_exit != new.dump_on_exit, true);
        diff("allow", self.allow != new.allow, true);
        diff("pipe_leak_grace", self.pipe_leak_grace != new.pipe_leak_grace, true);
        diff("repeat_interval", self.repeat_interval != new.repeat_interval, true);
        diff("symptom_window", self.symptom_window != new.symptom_window, true);
        diff("stats_interval", self.stats_interval != new.stats_interval, true);
        let outputs_differ = self.outputs != new.outputs;
        // The synchronous stdout of a stdout-only run cannot become queued outputs.
        diff("output", outputs_differ, !(self.stdout_only() || new.stdout_only()));
        diff("json", self.json != new.json && !outputs_differ, true);
        diff("pid", self.pids != new.pids, false);
        diff("follow", self.follow != new.follow, false);
        diff("container", self.container != new.container, false);
        diff("duration", self.duration != new.duration, false);
        diff("max_fds", self.max_fds != new.max_fds, false);
        diff("ring_bytes", self.ring_bytes != new.ring_bytes, false);
        diff("wakeup_bytes", self.wakeup_bytes != new.wakeup_bytes, false);
        diff("metrics", self.metrics != new.metrics, false);
        diff("control_socket", self.control_socket != new.control_socket, false);
        (applied, restart)
    }

    /// `new` with what needs a restart kept as it is now.
    pub fn reloaded(&self, new: &Settings) -> Settings {
        let outputs = if self.stdout_only() || new.stdout_only() { self.outputs.clone() } else { new.outputs.clone() };
        Settings {
            pids: self.pids.clone(),
            follow: self.follow,
            container: self.container.clone(),
            duration: self.duration,
            max_fds: self.max_fds,
            ring_bytes: self.ring_bytes,
            wakeup_bytes: self.wakeup_bytes,
            metrics: self.metrics,
            control_socket: self.control_socket.clone(),
            outputs,
            ..new.clone()
        }
    }
}

/// The effective configuration as a config file (`fdwatch config check`).
#[derive(Serialize)]
struct Shown {
    json: bool,
    events: bool,
    pid: Vec<u32>,
    follow: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<f64>,
    dump_on_exit: bool,
    max_fds: usize,
    ring_bytes: u32,
    wakeup_bytes: u64,
    stats_interval: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<String>,
    control_socket: String,
    allow: Vec<String>,
    pipe_leak_grace: f64,
    repeat_interval: f64,
    symptom_window: f64,
    output: Vec<ShownOutput>,
}

#[derive(Serialize)]
struct ShownOutput {
    to: String,
    format: &'static str,
    records: Vec<&'static str>,
    min_severity: &'static str,
    queue_bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotate_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotate_keep: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    facility: Option<&'static str>,
}

impl Settings {
    pub fn to_toml(&self) -> String {
        let shown = Shown {
            json: self.json,
            events: self.events,
            pid: self.pids.clone(),
            follow: self.follow,
            container: self.container.clone(),
            duration: self.duration.map(|d| d.as_secs_f64()),
            dump_on_exit: self.dump_on_exit,
            max_fds: self.max_fds,
            ring_bytes: self.ring_bytes,
            wakeup_bytes: self.wakeup_bytes,
            stats_interval: self.stats_interval.map_or(0.0, |d| d.as_secs_f64()),
            metrics: self.metrics.map(|m| m.to_string()),
            control_socket: self.control_socket.as_ref().map_or(control::OFF.to_owned(), |p| p.display().to_string()),
            allow: self.allow.clone(),
            pipe_leak_grace: self.pipe_leak_grace.as_secs_f64(),
            repeat_interval: self.repeat_interval.as_secs_f64(),
            symptom_window: self.symptom_window.as_secs_f64(),
            output: self
                .outputs
                .iter()
                .map(|o| ShownOutput {
                    to: o.dest.to_string(),
                    format: o.format.name(),
                    records: o.filter.types().iter().map(|t| t.name()).collect(),
                    min_severity: o.filter.min_severity.name(),
                    queue_bytes: o.queue_bytes,
                    rotate_bytes: o.rotate_bytes,
                    rotate_keep: matches!(o.dest, Dest::File(_)).then_some(o.rotate_keep),
                    facility: matches!(o.dest, Dest::Syslog(_))
                        .then(|| spec::FACILITIES.iter().find(|(_, c)| *c == o.facility).map_or("daemon", |(n, _)| *n)),
                })
                .collect(),
        };
        toml::to_string(&shown).unwrap_or_default()
    }
}

/// `control_socket` and `--control-socket`: `off`, or an absolute path (the agent
/// may run from any directory; sun_path holds 107 bytes, unix(7)).
fn check_socket_path(s: &str) -> Result<PathBuf, String> {
    if s == control::OFF {
        return Ok(PathBuf::from(s));
    }
    if !s.starts_with('/') {
        return Err(format!("{s:?} is not an absolute path (or off)"));
    }
    if s.len() > 107 {
        return Err(format!("{s:?} is longer than a unix socket path may be (107 bytes)"));
    }
    Ok(PathBuf::from(s))
}

/// `fdwatch config check [PATH]`: the effective configuration on stdout, or one line
/// and exit 2.
pub fn check(path: Option<PathBuf>) -> Result<(), Failure> {
    let path = path.unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
    let cli = Cli::default_for_check(path.clone());
    let settings = Loader::new(&cli).load()?;
    let text = format!("# {}: valid; the effective configuration:\n{}", path.display(), settings.to_toml());
    use std::io::Write as _;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Failure::output(format!("cannot write to standard output: {e}")))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn load(text: &str, args: &[&str]) -> Result<Settings, String> {
        // One file per call: tests run in parallel threads, and two texts may be as long.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("fdwatch-config-unit-{}-{n}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let mut argv = vec!["fdwatch", "--config", path.to_str().unwrap()];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let r = Loader::new(&cli).load().map_err(|e| e.0);
        let _ = std::fs::remove_file(&path);
        r
    }

    #[test]
    fn every_key_is_read_and_flags_win() {
        let s = load(
            r#"
json = true
events = true
pid = [1]
follow = true
duration = 2.5
dump_on_exit = true
max_fds = 1000
ring_bytes = 65536
wakeup_bytes = 4096
stats_interval = 5
metrics = "127.0.0.1:9999"
allow = ["mydaemon"]
pipe_leak_grace = 3
repeat_interval = 20
symptom_window = 0.5

[[output]]
to = "file:/tmp/x.json"
rotate_bytes = 100000
rotate_keep = 3
queue_bytes = 1048576

[[output]]
to = "syslog"
records = ["alert", "loss"]
min_severity = "warning"
facility = "local3"
format = "text"
"#,
            &[],
        )
        .unwrap();
        assert!(s.json && s.events && s.follow && s.dump_on_exit);
        assert_eq!(s.pids, [1]);
        assert_eq!(s.duration, Some(Duration::from_millis(2500)));
        assert_eq!((s.max_fds, s.ring_bytes, s.wakeup_bytes), (1000, 65536, 4096));
        assert_eq!(s.stats_interval, Some(Duration::from_secs(5)));
        assert_eq!(s.metrics, Some("127.0.0.1:9999".parse().unwrap()));
        assert_eq!(s.allow, ["mydaemon"]);
        assert_eq!(s.pipe_leak_grace, Duration::from_secs(3));
        assert_eq!(s.repeat_interval, Duration::from_secs(20));
        assert_eq!(s.symptom_window, Duration::from_millis(500));
        assert_eq!(s.outputs.len(), 2);
        assert_eq!(s.outputs[0].rotate_bytes, Some(100000));
        assert_eq!(s.outputs[0].rotate_keep, 3);
        assert_eq!(s.outputs[0].queue_bytes, 1 << 20);
        assert_eq!(s.outputs[0].format, Format::Json);
        assert_eq!(s.outputs[1].facility, 19);
        assert_eq!(s.outputs[1].format, Format::Text);
        assert!(s.outputs[1].filter.admits(RecordType::Alert, Some(detect::alert::Severity::Critical)));
        assert!(!s.outputs[1].filter.admits(RecordType::Event, None));
        let flags = load(
            "ring_bytes = 65536\nallow = [\"a\"]\n[[output]]\nto = \"stdout\"\n",
            &["--ring-bytes", "8192", "--allow", "b", "--output", "tcp:127.0.0.1:9"],
        )
        .unwrap();
        assert_eq!(flags.ring_bytes, 8192);
        assert_eq!(flags.allow, ["b"]);
        assert_eq!(flags.outputs[0].dest, Dest::Tcp("127.0.0.1:9".into()));
        // The shown configuration reads back as the same settings.
        let shown = s.to_toml();
        let again = load(&shown, &[]).unwrap();
        assert_eq!(again, s, "{shown}");
        let c = load("container = \"3f2a9c\"\n", &[]).unwrap();
        assert_eq!(c.container.as_deref(), Some("3f2a9c"));
        assert_eq!(load(&c.to_toml(), &[]).unwrap(), c);
        assert_eq!(load("", &["--container", "rt1"]).unwrap().container.as_deref(), Some("rt1"));
    }

    #[test]
    fn the_control_socket_is_on_for_the_host_off_for_pids_unless_named() {
        let socket = |text: &str, args: &[&str]| load(text, args).unwrap().control_socket;
        assert_eq!(socket("", &[]), Some(PathBuf::from(control::DEFAULT_PATH)));
        assert_eq!(socket("pid = [1]\n", &[]), None);
        assert_eq!(socket("container = \"abc\"\n", &[]), None);
        assert_eq!(socket("pid = [1]\ncontrol_socket = \"/run/x.sock\"\n", &[]), Some(PathBuf::from("/run/x.sock")));
        assert_eq!(socket("control_socket = \"off\"\n", &[]), None);
        assert_eq!(
            socket("control_socket = \"off\"\n", &["--control-socket", "/run/y.sock"]),
            Some("/run/y.sock".into())
        );
        assert_eq!(socket("", &["--control-socket", "off"]), None);
        let err = load("control_socket = \"rel.sock\"\n", &[]).unwrap_err();
        assert!(err.contains("control_socket: \"rel.sock\" is not an absolute path"), "{err}");
        let err = load("", &["--control-socket", "rel"]).unwrap_err();
        assert!(err.starts_with("--control-socket: \"rel\" is not an absolute path"), "{err}");
    }

    #[test]
    fn bad_files_are_one_line_naming_the_key() {
        for (text, expect) in [
            ("nope = 1\n", ":1:1: unknown field `nope`"),
            ("ring_bytes = 5000\n", ":1:14: ring_bytes: 5000 is not a power of two"),
            ("json = \"yes\"\n", ":1:8: json: invalid type: string \"yes\""),
            ("duration = 0\n", ":1:12: duration: must be above 0"),
            ("pid = [0]\n", "pid: 0: must be from 1"),
            ("metrics = \"localhost\"\n", "metrics: \"localhost\" is not an address"),
            ("\n[[output]]\nto = \"file:x\"\n", ":3:6: output[1].to: file:x: the path must be absolute"),
            (
                "[[output]]\nto = \"stdout\"\n[[output]]\nto = \"tcp:h:1\"\nformat = \"xml\"\n",
                ":5:10: output[2].format: \"xml\" is not a format",
            ),
            ("[[output]]\nto = \"stdout\"\nrotate_keep = 2\n", "output[1].rotate_keep: only a file output rotates"),
            (
                "[[output]]\nto = \"syslog\"\nrecords = [\"alerts\"]\n",
                "output[1].records: \"alerts\" is not a record type",
            ),
            ("[[output]]\nto = \"stdout\"\nfrmat = \"json\"\n", ":3:1: unknown field `frmat`"),
            ("ring_bytes = 8192\nwakeup_bytes = 8192\n", "wakeup_bytes 8192 is more than half of ring_bytes 8192"),
            ("follow = true\n", "follow needs pid"),
            ("allow = [\"comm=x,user=root\"]\n", ":1:9: allow: allow rule \"comm=x,user=root\": unknown key \"user\""),
            ("container = \"a/b\"\n", ":1:13: container: \"a/b\": '/' is not in any container's id or name"),
            ("container = \"rt1\"\npid = [1]\n", "container and pid/follow cannot be used together"),
        ] {
            let e = load(text, &[]).expect_err(text);
            assert!(e.contains(expect), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
