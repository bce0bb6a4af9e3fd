//! Command line. Usage errors print one line and exit 2 (clap's own multi-line report
//! is cut to its first line); --help and --version print in full and exit 0.
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The range of every numeric flag, in one place (the README's Usage section lists them).
pub mod limits {
    /// Seconds flags: above zero, at most ten years (a `Duration` from f64 panics past
    /// u64 seconds, and a grace period that long is a typo).
    pub const MAX_SECS: f64 = 10.0 * 365.0 * 86400.0;
    /// `--pipe-leak-grace` and `--repeat-interval`: at most a day.
    pub const MAX_WINDOW_SECS: f64 = 86400.0;
    /// `--ring-bytes`: the kernel maps a ring buffer's pages twice, so RSS grows by twice
    /// this; 256 MiB holds ~2 s of events at 1M events/s.
    pub const MIN_RING_BYTES: u64 = 4096;
    pub const MAX_RING_BYTES: u64 = 256 << 20;
    pub const DEFAULT_RING_BYTES: u32 = fdwatch_common::config::DEFAULT_RING_BYTES;
    /// `--wakeup-bytes`: at most half the ring, or the ring could fill before a wake-up.
    pub const DEFAULT_WAKEUP_BYTES: u64 = 256 << 10;
    /// `symptom_window` (config file): how long an alert waits for its symptoms; at
    /// most a minute, or alerts would come that much later.
    pub const MAX_SYMPTOM_WINDOW_SECS: f64 = 60.0;
    /// `--max-fds`: ~100 bytes each in the model.
    pub const MAX_FDS: u64 = 64 << 20;
    pub const DEFAULT_MAX_FDS: usize = 4 << 20;
    /// `--pid`: PID_MAX_LIMIT, include/linux/threads.h (2^22 on 64-bit).
    pub const MAX_PID: u64 = 4 << 20;
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = "fdwatch",
    version,
    about = "Watch file descriptors and sockets of every process with eBPF, and explain what goes wrong.",
    after_help = "Exit codes: 0 normal stop (SIGINT, SIGTERM, --duration, output closed by its reader), \
                  1 environment problem, 2 usage error, 3 output error (cannot write), 4 internal error (a bug)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Write NDJSON records (one JSON object per line) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write every traced syscall as an `event` record (default: alerts only).
    #[arg(long)]
    pub events: bool,
    /// Allow what matches RULE to put sockets on fd 0/1/2 or relay a shell: conditions
    /// joined by commas, all of which must hold (comm=NAME, exe=PATH, parent_comm=NAME,
    /// parent_exe=PATH, peer=ADDR[/PREFIX][:PORT] or :PORT or a unix path), e.g.
    /// `comm=python3,peer=127.0.0.1:8000`; a bare NAME is comm=NAME, a bare path
    /// exe=PATH. Repeatable. Added to the built-in rules (inetd, xinetd, systemd,
    /// systemd-executor, spawn-fcgi, tcpserver; sshd and similar relays for relayed shells).
    #[arg(long = "allow", value_name = "RULE", value_parser = parse_allow)]
    pub allow: Vec<String>,
    /// Raise pipe_leak when a leaked write end is still held this many seconds after
    /// its writer let go (above 0, at most 86400).
    /// [default: 1]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_window)]
    pub pipe_leak_grace: Option<Duration>,
    /// Count repeats of an alert and write them every SECS seconds (above 0, at most 86400)
    /// [default: 10].
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_window)]
    pub repeat_interval: Option<Duration>,
    /// Watch only this process (repeatable); filtered in the kernel. A thread id stands
    /// for its process.
    #[arg(long = "pid", value_name = "PID", allow_negative_numbers = true, value_parser = parse_pid)]
    pub pids: Vec<u32>,
    /// With --pid: also watch the processes' children, present and future.
    #[arg(long)]
    pub follow: bool,
    /// Watch only this container's processes, present and future (filtered in the
    /// kernel by its cgroup): a prefix of its id, or its name. It must be running (or
    /// created). Not with --pid.
    #[arg(long, value_name = "ID", conflicts_with_all = ["pids", "follow"])]
    pub container: Option<String>,
    /// Stop after SECS seconds (fractions allowed; above 0, at most ten years).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Kernel ring buffer size in bytes (a power of two from 4096 to 268435456). The
    /// kernel maps its pages twice, so it counts double in RSS; 8 MiB holds ~70 ms of
    /// events at 1M events/s, far more than the collector's 10 ms drain interval
    /// [default: 8388608].
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true, value_parser = parse_ring_bytes)]
    pub ring_bytes: Option<u32>,
    /// Wake the collector once this many bytes wait in the ring buffer (it also
    /// drains every 10 ms); from 1 to half of --ring-bytes (default 262144, or a
    /// quarter of a smaller ring). Larger batches cost less CPU per event.
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true, value_parser = parse_wakeup_bytes)]
    pub wakeup_bytes: Option<u64>,
    /// At exit, write the fd model: one `fd` record per open fd (SIGUSR1 does it any time).
    #[arg(long)]
    pub dump_on_exit: bool,
    /// Track at most N fds in the model (1 to 67108864); beyond it new fds are reported
    /// as `loss` [default: 4194304].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_max_fds)]
    pub max_fds: Option<usize>,
    /// Read settings from this TOML file (the service uses /etc/fdwatch/fdwatch.toml);
    /// flags override it. SIGHUP reads it again.
    #[arg(long, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,
    /// Write records here (repeatable): stdout, file:PATH, syslog (/dev/log),
    /// syslog:unix:PATH, syslog:udp:HOST:PORT, syslog:tcp:HOST:PORT, tcp:HOST:PORT,
    /// unix:PATH. Default: stdout.
    #[arg(long = "output", value_name = "SPEC", value_parser = parse_output)]
    pub outputs: Vec<crate::outputs::Dest>,
    /// Serve Prometheus metrics on http://ADDR/metrics and a health check on
    /// /healthz (e.g. 127.0.0.1:9464). Off unless given.
    #[arg(long, value_name = "IP:PORT", value_parser = parse_metrics)]
    pub metrics: Option<std::net::SocketAddr>,
    /// Write a `stats` record every SECS seconds (0: only the last one) [default: 60].
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_stats_interval)]
    pub stats_interval: Option<Interval>,
    /// The control socket that answers `fdwatch fds` and `fdwatch holders` (root only),
    /// or `off`. A host-wide run listens on /run/fdwatch/control.sock unless told
    /// otherwise; a --pid or --container run only when given one. The query commands ask it.
    #[arg(long, global = true, value_name = "PATH")]
    pub control_socket: Option<std::path::PathBuf>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// The configuration file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print the open fds of a process, like lsof, with where each came from: asked of
    /// the running agent, else read from /proc (no history).
    Fds {
        /// The process.
        #[arg(long, allow_negative_numbers = true, value_parser = parse_pid)]
        pid: u32,
        /// One JSON object per fd, then an `end` record.
        #[arg(long)]
        json: bool,
    },
    /// Every process and fd holding an object, and how each got it: asked of the
    /// running agent, else found in /proc (no history).
    Holders {
        /// `pipe:[N]`, `socket:[N]`, `anon_inode:NAME` as /proc/PID/fd shows them, or a
        /// file's path.
        object: String,
        /// One JSON object per fd, then an `end` record.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum ConfigAction {
    /// Check a config file and print the configuration it gives (defaults filled in);
    /// exit 2 with one line naming the key if it is wrong.
    Check {
        /// [default: /etc/fdwatch/fdwatch.toml]
        path: Option<std::path::PathBuf>,
    },
}

/// A number of seconds in (0, max]. clap names the flag in front of the message.
fn seconds(s: &str, max: f64) -> Result<Duration, String> {
    let secs: f64 = s.trim().parse().map_err(|_| "not a number of seconds".to_owned())?;
    check_seconds(secs, max)
}

/// `secs` in (0, max]: the one check of seconds values, for flags and the config file.
pub fn check_seconds(secs: f64, max: f64) -> Result<Duration, String> {
    if !(secs > 0.0 && secs <= max) {
        return Err(format!("must be above 0 and at most {max} seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    seconds(s, limits::MAX_SECS)
}

/// `--allow RULE`: checked here so that a typo is a usage error, not a rule that never matches.
fn parse_allow(text: &str) -> Result<String, String> {
    crate::detect::allow::Rule::parse(text).map(|_| text.to_owned())
}

fn parse_window(s: &str) -> Result<Duration, String> {
    seconds(s, limits::MAX_WINDOW_SECS)
}

/// `n` in [min, max]: the one check of whole numbers, for flags and the config file.
pub fn check_integer(n: i128, min: u64, max: u64) -> Result<u64, String> {
    if !(i128::from(min)..=i128::from(max)).contains(&n) {
        return Err(format!("must be from {min} to {max}"));
    }
    Ok(n as u64)
}

pub fn check_pid(n: i128) -> Result<u32, String> {
    check_integer(n, 1, limits::MAX_PID).map(|n| n as u32)
}

pub fn check_ring_bytes(n: i128) -> Result<u32, String> {
    let n = check_integer(n, limits::MIN_RING_BYTES, limits::MAX_RING_BYTES)?;
    if !n.is_power_of_two() {
        return Err(format!("{n} is not a power of two"));
    }
    Ok(n as u32)
}

pub fn check_wakeup_bytes(n: i128) -> Result<u64, String> {
    // Checked against the ring size in `config::Settings::wakeup_bytes`.
    check_integer(n, 1, limits::MAX_RING_BYTES / 2)
}

pub fn check_max_fds(n: i128) -> Result<usize, String> {
    check_integer(n, 1, limits::MAX_FDS).map(|n| n as usize)
}

/// `--stats-interval` and `stats_interval`: 0 (only the last record), or above 0 and at
/// most a day.
pub fn check_stats_interval(secs: f64) -> Result<Option<Duration>, String> {
    if secs == 0.0 {
        return Ok(None);
    }
    check_seconds(secs, limits::MAX_WINDOW_SECS).map(Some).map_err(|e| format!("{e} (or 0: only at exit)"))
}

fn number(s: &str, min: u64, max: u64) -> Result<i128, String> {
    s.trim().parse().map_err(|_| format!("not a whole number from {min} to {max}"))
}

fn parse_pid(s: &str) -> Result<u32, String> {
    check_pid(number(s, 1, limits::MAX_PID)?)
}

fn parse_ring_bytes(s: &str) -> Result<u32, String> {
    check_ring_bytes(number(s, limits::MIN_RING_BYTES, limits::MAX_RING_BYTES)?)
}

fn parse_wakeup_bytes(s: &str) -> Result<u64, String> {
    check_wakeup_bytes(number(s, 1, limits::MAX_RING_BYTES / 2)?)
}

fn parse_max_fds(s: &str) -> Result<usize, String> {
    check_max_fds(number(s, 1, limits::MAX_FDS)?)
}

/// An interval that may be off (`--stats-interval 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval(pub Option<Duration>);

fn parse_stats_interval(s: &str) -> Result<Interval, String> {
    let secs: f64 = s.trim().parse().map_err(|_| "not a number of seconds".to_owned())?;
    check_stats_interval(secs).map(Interval)
}

fn parse_output(s: &str) -> Result<crate::outputs::Dest, String> {
    crate::outputs::Dest::parse(s)
}

fn parse_metrics(s: &str) -> Result<std::net::SocketAddr, String> {
    s.parse().map_err(|_| format!("{s:?} is not an address: expected IP:PORT, e.g. 127.0.0.1:9464"))
}

/// Parse argv; `Err(code)` means the process should exit with it (help or an error
/// was already printed).
pub fn parse() -> Result<Cli, std::process::ExitCode> {
    Cli::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                std::process::ExitCode::SUCCESS
            }
            _ => {
                // The first paragraph says what is wrong, sometimes over several lines
                // ("required arguments were not provided:" then the arguments).
                let rendered = e.render().to_string();
                let what: Vec<&str> = rendered.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
                let what = what.join(" ");
                let what = what.trim_start_matches("error: ");
                let what = if what.is_empty() { "invalid arguments" } else { what };
                // It quotes the offending argument: one escaped line like every other.
                crate::error::report(format_args!("{what} (see fdwatch --help)"));
                std::process::ExitCode::from(2)
            }
        }
    })
}

impl Cli {
    /// No flags but `--config PATH`: what `fdwatch config check PATH` resolves.
    pub fn default_for_check(path: std::path::PathBuf) -> Cli {
        let mut cli = Cli::parse_from(["fdwatch"]);
        cli.config = Some(path);
        cli
    }
}
