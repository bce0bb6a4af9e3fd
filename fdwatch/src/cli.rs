//! Command line. Usage errors print one line and exit 2 (clap's own multi-line report
//! is cut to its first line); --help and --version print in full and exit 0.
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::error::Failure;

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
    /// `--max-fds`: ~100 bytes each in the model.
    pub const MAX_FDS: u64 = 64 << 20;
    pub const DEFAULT_MAX_FDS: usize = 4 << 20;
    /// `--pid`: PID_MAX_LIMIT, include/linux/threads.h (2^22 on 64-bit).
    pub const MAX_PID: u64 = 4 << 20;
}

#[derive(Parser, Debug)]
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
    /// Allow this program to put sockets on fd 0/1/2 (a comm name, or an executable
    /// path if it contains '/'); repeatable. Added to the built-in list: inetd, xinetd,
    /// systemd, systemd-executor, spawn-fcgi, tcpserver.
    #[arg(long = "allow", value_name = "NAME")]
    pub allow: Vec<String>,
    /// Raise pipe_leak when a leaked write end is still held this many seconds after
    /// its writer let go (above 0, at most 86400).
    #[arg(long, value_name = "SECS", default_value = "1", allow_negative_numbers = true, value_parser = parse_window)]
    pub pipe_leak_grace: Duration,
    /// Count repeats of an alert and write them every SECS seconds (above 0, at most 86400).
    #[arg(long, value_name = "SECS", default_value = "10", allow_negative_numbers = true, value_parser = parse_window)]
    pub repeat_interval: Duration,
    /// Watch only this process (repeatable); filtered in the kernel. A thread id stands
    /// for its process.
    #[arg(long = "pid", value_name = "PID", allow_negative_numbers = true, value_parser = parse_pid)]
    pub pids: Vec<u32>,
    /// With --pid: also watch the processes' children, present and future.
    #[arg(long, requires = "pids")]
    pub follow: bool,
    /// Stop after SECS seconds (fractions allowed; above 0, at most ten years).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Kernel ring buffer size in bytes (a power of two from 4096 to 268435456). The
    /// kernel maps its pages twice, so it counts double in RSS; 8 MiB holds ~70 ms of
    /// events at 1M events/s, far more than the collector's 10 ms drain interval.
    #[arg(long, value_name = "BYTES", default_value_t = limits::DEFAULT_RING_BYTES, allow_negative_numbers = true,
          value_parser = parse_ring_bytes)]
    pub ring_bytes: u32,
    /// Wake the collector once this many bytes wait in the ring buffer (it also
    /// drains every 10 ms); from 1 to half of --ring-bytes (default 262144, or a
    /// quarter of a smaller ring). Larger batches cost less CPU per event.
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true, value_parser = parse_wakeup_bytes)]
    pub wakeup_bytes: Option<u64>,
    /// At exit, write the fd model: one `fd` record per open fd (SIGUSR1 does it any time).
    #[arg(long)]
    pub dump_on_exit: bool,
    /// Track at most N fds in the model (1 to 67108864); beyond it new fds are reported
    /// as `loss`.
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_MAX_FDS, allow_negative_numbers = true,
          value_parser = parse_max_fds)]
    pub max_fds: usize,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the open fds of a process, like lsof, from /proc (no eBPF needed).
    Fds {
        /// The process.
        #[arg(long, allow_negative_numbers = true, value_parser = parse_pid)]
        pid: u32,
        /// One JSON object per fd.
        #[arg(long)]
        json: bool,
    },
}

/// A number of seconds in (0, max]. clap names the flag in front of the message.
fn seconds(s: &str, max: f64) -> Result<Duration, String> {
    let secs: f64 = s.trim().parse().map_err(|_| "not a number of seconds".to_owned())?;
    if !(secs > 0.0 && secs <= max) {
        return Err(format!("must be above 0 and at most {max} seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    seconds(s, limits::MAX_SECS)
}

fn parse_window(s: &str) -> Result<Duration, String> {
    seconds(s, limits::MAX_WINDOW_SECS)
}

/// A whole number in [min, max].
fn integer(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = s.trim().parse().map_err(|_| format!("not a whole number from {min} to {max}"))?;
    if !(min..=max).contains(&n) {
        return Err(format!("must be from {min} to {max}"));
    }
    Ok(n)
}

fn parse_pid(s: &str) -> Result<u32, String> {
    integer(s, 1, limits::MAX_PID).map(|n| n as u32)
}

fn parse_ring_bytes(s: &str) -> Result<u32, String> {
    let n = integer(s, limits::MIN_RING_BYTES, limits::MAX_RING_BYTES)?;
    if !n.is_power_of_two() {
        return Err(format!("{n} is not a power of two"));
    }
    Ok(n as u32)
}

fn parse_wakeup_bytes(s: &str) -> Result<u64, String> {
    // Checked against --ring-bytes in `Cli::wakeup_bytes`.
    integer(s, 1, limits::MAX_RING_BYTES / 2)
}

fn parse_max_fds(s: &str) -> Result<usize, String> {
    integer(s, 1, limits::MAX_FDS).map(|n| n as usize)
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
    pub fn detect_config(&self) -> crate::detect::Config {
        let mut config = crate::detect::Config::default();
        config.allow.extend(self.allow.iter().cloned());
        config.pipe_leak_grace = self.pipe_leak_grace;
        config.repeat_every = self.repeat_interval;
        config
    }

    /// `--wakeup-bytes`, checked against `--ring-bytes`: the default is a quarter of a
    /// ring smaller than 1 MiB.
    pub fn wakeup_bytes(&self) -> Result<u64, Failure> {
        let ring = u64::from(self.ring_bytes);
        match self.wakeup_bytes {
            None => Ok(limits::DEFAULT_WAKEUP_BYTES.min(ring / 4)),
            Some(n) if n <= ring / 2 => Ok(n),
            Some(n) => Err(Failure::usage(format!(
                "--wakeup-bytes {n} is more than half of --ring-bytes {ring}: the ring could fill before the \
                 collector is woken (use at most {})",
                ring / 2
            ))),
        }
    }
}
