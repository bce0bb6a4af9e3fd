//! What an output is: where it writes (`--output SPEC`, or `to` in the config file),
//! in which format, which records, and its own options.
use std::{fmt, path::PathBuf};

use super::record::Filter;

/// How an output writes records: NDJSON, or the one-line text of a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Text,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Text => "text",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dest {
    Stdout,
    /// NDJSON appended to a file (outputs/file.rs).
    File(PathBuf),
    /// RFC 5424 messages (outputs/syslog.rs).
    Syslog(SyslogTo),
    /// An NDJSON stream to a collector (outputs/stream.rs).
    Tcp(String),
    Unix(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SyslogTo {
    /// A datagram socket: /dev/log, or another path (`syslog:unix:PATH`).
    Unix(PathBuf),
    Udp(String),
    /// RFC 6587 octet counting.
    Tcp(String),
}

/// The local syslog socket (syslog(3), journald's and rsyslog's imuxsock).
pub const DEV_LOG: &str = "/dev/log";

/// `HOST:PORT` with a port from 1 to 65535 (the host is resolved when connecting, so a
/// collector that comes up later is found).
fn host_port(s: &str, spec: &str) -> Result<String, String> {
    let (host, port) = s.rsplit_once(':').ok_or_else(|| format!("{spec}: expected HOST:PORT"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || !port.parse::<u16>().is_ok_and(|p| p > 0) {
        return Err(format!("{spec}: expected HOST:PORT with a port from 1 to 65535"));
    }
    Ok(s.to_owned())
}

fn path(s: &str, spec: &str) -> Result<PathBuf, String> {
    if !s.starts_with('/') {
        return Err(format!("{spec}: the path must be absolute (the service's working directory is /)"));
    }
    Ok(PathBuf::from(s))
}

impl Dest {
    /// `stdout`, `file:PATH`, `syslog`, `syslog:unix:PATH`, `syslog:udp:HOST:PORT`,
    /// `syslog:tcp:HOST:PORT`, `tcp:HOST:PORT`, `unix:PATH`.
    pub fn parse(spec: &str) -> Result<Dest, String> {
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        match (kind, rest) {
            ("stdout", "") => Ok(Dest::Stdout),
            ("syslog", "") => Ok(Dest::Syslog(SyslogTo::Unix(DEV_LOG.into()))),
            ("file", p) => path(p, spec).map(Dest::File),
            ("unix", p) => path(p, spec).map(Dest::Unix),
            ("tcp", a) => host_port(a, spec).map(Dest::Tcp),
            ("syslog", rest) => match rest.split_once(':') {
                Some(("unix", p)) => path(p, spec).map(|p| Dest::Syslog(SyslogTo::Unix(p))),
                Some(("udp", a)) => host_port(a, spec).map(|a| Dest::Syslog(SyslogTo::Udp(a))),
                Some(("tcp", a)) => host_port(a, spec).map(|a| Dest::Syslog(SyslogTo::Tcp(a))),
                _ => Err(format!(
                    "{spec}: expected syslog, syslog:unix:PATH, syslog:udp:HOST:PORT or syslog:tcp:HOST:PORT"
                )),
            },
            _ => Err(format!(
                "{spec:?} is not an output: expected stdout, file:PATH, syslog, syslog:unix:PATH, \
                 syslog:udp:HOST:PORT, syslog:tcp:HOST:PORT, tcp:HOST:PORT or unix:PATH"
            )),
        }
    }

    /// The format an output takes unless told: text on stdout (a person reads it, as
    /// before outputs existed), JSON everywhere else (a program reads it).
    pub fn default_format(&self) -> Format {
        match self {
            Dest::Stdout => Format::Text,
            _ => Format::Json,
        }
    }
}

/// The spec again: the output's name in `loss` records, metrics and messages.
impl fmt::Display for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dest::Stdout => f.write_str("stdout"),
            Dest::File(p) => write!(f, "file:{}", p.display()),
            Dest::Syslog(SyslogTo::Unix(p)) if p.as_os_str() == DEV_LOG => f.write_str("syslog"),
            Dest::Syslog(SyslogTo::Unix(p)) => write!(f, "syslog:unix:{}", p.display()),
            Dest::Syslog(SyslogTo::Udp(a)) => write!(f, "syslog:udp:{a}"),
            Dest::Syslog(SyslogTo::Tcp(a)) => write!(f, "syslog:tcp:{a}"),
            Dest::Tcp(a) => write!(f, "tcp:{a}"),
            Dest::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Syslog facilities by name (RFC 5424 6.2.1, table 1; syslog(3)).
pub const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// Default and range of an output's queue (`queue_bytes`): what it may hold while its
/// destination is slow or gone, on top of the one chunk being written.
pub const DEFAULT_QUEUE_BYTES: u64 = 4 << 20;
pub const MIN_QUEUE_BYTES: u64 = 64 << 10;
pub const MAX_QUEUE_BYTES: u64 = 1 << 30;
/// Built-in rotation (`rotate_bytes`, `rotate_keep`).
pub const MIN_ROTATE_BYTES: u64 = 4096;
pub const DEFAULT_ROTATE_KEEP: u32 = 5;
pub const MAX_ROTATE_KEEP: u32 = 1000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OutputConfig {
    pub dest: Dest,
    pub format: Format,
    pub filter: Filter,
    pub queue_bytes: usize,
    /// File: rotate when the next write would take the file past this size.
    pub rotate_bytes: Option<u64>,
    /// File: rotated files kept (PATH.1 is the newest).
    pub rotate_keep: u32,
    /// Syslog: the facility code.
    pub facility: u8,
}

impl OutputConfig {
    pub fn new(dest: Dest, format: Format) -> Self {
        Self {
            dest,
            format,
            filter: Filter::default(),
            queue_bytes: DEFAULT_QUEUE_BYTES as usize,
            rotate_bytes: None,
            rotate_keep: DEFAULT_ROTATE_KEEP,
            facility: 3,
        }
    }

    /// Whether the writer (thread, destination) of `self` can carry on for `other`:
    /// the same destination with the same options; format and filter are the lane's.
    pub fn same_writer(&self, other: &OutputConfig) -> bool {
        self.dest == other.dest
            && self.queue_bytes == other.queue_bytes
            && self.rotate_bytes == other.rotate_bytes
            && self.rotate_keep == other.rotate_keep
            && self.facility == other.facility
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for spec in [
            "stdout",
            "file:/var/log/fdwatch/fdwatch.json",
            "syslog",
            "syslog:unix:/run/x.sock",
            "syslog:udp:127.0.0.1:514",
            "syslog:tcp:[::1]:6514",
            "tcp:collector.example:9000",
            "unix:/run/vector.sock",
        ] {
            let dest = Dest::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(dest.to_string(), spec);
        }
        assert_eq!(Dest::parse("syslog:unix:/dev/log").unwrap().to_string(), "syslog");
        for bad in [
            "",
            "stdout:x",
            "file:",
            "file:rel/path",
            "tcp:host",
            "tcp::9",
            "tcp:h:0",
            "tcp:h:70000",
            "udp:h:1",
            "syslog:x",
        ] {
            assert!(Dest::parse(bad).is_err(), "{bad}");
        }
    }
}
