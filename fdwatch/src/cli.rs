//! Command line. Usage errors print one line and exit 2 (clap's own multi-line report
//! is cut to its first line); --help and --version print in full and exit 0.
use std::{path::Path, time::Duration};

use clap::{Parser, Subcommand};

use crate::error::Failure;

#[derive(Parser, Debug)]
#[command(
    name = "fdwatch",
    version,
    about = "Watch file descriptors and sockets of every process with eBPF, and explain what goes wrong.",
    after_help = "Exit codes: 0 normal stop (SIGINT, SIGTERM, --duration), 1 environment problem, 2 usage error."
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
    /// its writer let go.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_duration)]
    pub pipe_leak_grace: Duration,
    /// Count repeats of an alert and write them every SECS seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_duration)]
    pub repeat_interval: Duration,
    /// Watch only this process (repeatable); filtered in the kernel.
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// With --pid: also watch the processes' children, present and future.
    #[arg(long, requires = "pids")]
    pub follow: bool,
    /// Stop after SECS seconds (fractions allowed).
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Kernel ring buffer size in bytes (a power of two, at least 4096). The kernel maps
    /// its pages twice, so it counts double in RSS; 8 MiB holds ~70 ms of events at
    /// 1M events/s, far more than the collector's 10 ms drain interval.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20, value_parser = parse_ring_bytes)]
    pub ring_bytes: u32,
    /// Wake the collector once this many bytes wait in the ring buffer (it also
    /// drains every 10 ms). Larger batches cost less CPU per event.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 10)]
    pub wakeup_bytes: u64,
    /// At exit, write the fd model: one `fd` record per open fd (SIGUSR1 does it any time).
    #[arg(long)]
    pub dump_on_exit: bool,
    /// Track at most N fds in the model; beyond it new fds are reported as `loss`.
    #[arg(long, value_name = "N", default_value_t = 4 << 20)]
    pub max_fds: usize,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the open fds of a process, like lsof, from /proc (no eBPF needed).
    Fds {
        /// The process.
        #[arg(long)]
        pid: u32,
        /// One JSON object per fd.
        #[arg(long)]
        json: bool,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("'{s}' must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_ring_bytes(s: &str) -> Result<u32, String> {
    let n: u32 = s.parse().map_err(|_| format!("'{s}' is not a number of bytes"))?;
    if n < 4096 || !n.is_power_of_two() {
        return Err(format!("{n} must be a power of two of at least 4096"));
    }
    Ok(n)
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
                eprintln!("fdwatch: {} (see fdwatch --help)", if what.is_empty() { "invalid arguments" } else { what });
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

    /// The processes to watch: the given pids (which must exist) and, with --follow,
    /// their descendants alive now (later ones join in the kernel at fork).
    pub fn watched(&self) -> Result<Vec<u32>, Failure> {
        for &pid in &self.pids {
            if pid == 0 || !Path::new(&format!("/proc/{pid}")).exists() {
                return Err(Failure::usage(format!("no process with pid {pid}")));
            }
        }
        let mut watched = self.pids.clone();
        if self.follow {
            crate::procfs::add_descendants(&mut watched);
        }
        watched.sort_unstable();
        watched.dedup();
        Ok(watched)
    }
}
