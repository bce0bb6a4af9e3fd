//! The real components the agent tests run fdwatch with, each started by the test with
//! its own config, in its own temp dir, on its own port or socket, and stopped on drop:
//! Debian's rsyslogd, prometheus and logrotate, and socat as a TCP collector.
use std::{
    fs,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{
    DEADLINE, Fdops, POLL,
    child::{Child, Spawn},
};

/// A directory under /tmp for one test, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("fdwatch-agent-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create a temp dir");
        // Anyone may enter (fdwatch runs as nobody in the service test).
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A loopback TCP port nobody listens on now (the kernel's pick).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Waits until `what` is true, or panics naming `what` after `deadline`.
#[track_caller]
pub fn wait_for(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) {
    crate::wait_for(what, deadline, || if ready() { Ok(()) } else { Err("not yet".into()) })
}

/// A daemon the test runs: a [`Child`] in its own process group (killed with its
/// group on drop), its output kept for the failure reports.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    fn spawn(cmd: Command, what: &str) -> Daemon {
        let what = format!("{what}, which cargo xtask setup installs");
        Daemon { child: Spawn::new(cmd, what).stdin_null().process_group().spawn() }
    }

    pub fn pid(&self) -> i32 {
        self.child.pid() as i32
    }

    /// Send `sig` to its whole process group (socat forks one child per connection).
    pub fn signal_group(&self, sig: i32) {
        self.child.signal_group(sig);
    }

    /// What it wrote, for a failure message.
    pub fn log(&self) -> String {
        self.child.report("its output")
    }

    #[track_caller]
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.status() {
            panic!("{}", self.child.report(&format!("exited ({status})")));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A group the test stopped (SIGSTOP) is let go first, then the child's drop
        // kills it.
        // SAFETY: kill has no memory-safety preconditions; the group is our child's.
        unsafe { libc::kill(-self.pid(), libc::SIGCONT) };
    }
}

/// rsyslogd with two inputs: a /dev/log-style unix datagram socket and a TCP port
/// (RFC 6587 octet counting), each written to its own file as
/// `SEVERITY MSGID MSG` lines.
pub struct Rsyslog {
    pub daemon: Daemon,
    pub socket: PathBuf,
    pub port: u16,
    pub unix_out: PathBuf,
    pub tcp_out: PathBuf,
}

impl Rsyslog {
    pub fn start(dir: &TempDir) -> Rsyslog {
        let socket = dir.path("log.sock");
        let port = free_port();
        let unix_out = dir.path("from-unix.log");
        let tcp_out = dir.path("from-tcp.log");
        let work = dir.path("rsyslog-work");
        fs::create_dir_all(&work).unwrap();
        let conf = dir.path("rsyslog.conf");
        // imuxsock's special parser expects the legacy format: the regular parser
        // chain reads RFC 5424. Alerts with their evidence pass the default 8 KiB limit.
        fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}" maxMessageSize="256k")
module(load="imuxsock" SysSock.Use="off")
module(load="imtcp")
template(name="line" type="string" string="%syslogseverity% %msgid% %msg%\n")
ruleset(name="unix") {{ action(type="omfile" file="{unix_out}" template="line") }}
ruleset(name="tcp") {{ action(type="omfile" file="{tcp_out}" template="line") }}
input(type="imuxsock" Socket="{socket}" UseSpecialParser="off" ParseHostname="on" RateLimit.Interval="0" Ruleset="unix")
input(type="imtcp" Address="127.0.0.1" Port="{port}" Ruleset="tcp")
"#,
                work = work.display(),
                unix_out = unix_out.display(),
                tcp_out = tcp_out.display(),
                socket = socket.display(),
            ),
        )
        .unwrap();
        let mut cmd = Command::new("rsyslogd");
        cmd.args(["-n", "-f"]).arg(&conf).arg("-i").arg(dir.path("rsyslog.pid"));
        let mut daemon = Daemon::spawn(cmd, "rsyslogd");
        let until = Instant::now() + DEADLINE;
        while !(socket.exists() && TcpStream::connect(("127.0.0.1", port)).is_ok()) {
            daemon.assert_running();
            assert!(Instant::now() < until, "rsyslogd did not open its socket and port; {}", daemon.log());
            thread::sleep(POLL);
        }
        Rsyslog { daemon, socket, port, unix_out, tcp_out }
    }

    /// (syslog severity, MSGID, the message as JSON) of each line of `file`.
    pub fn messages(file: &Path) -> Vec<(u8, String, Value)> {
        let text = fs::read_to_string(file).unwrap_or_default();
        text.lines()
            .map(|l| {
                let mut parts = l.splitn(3, ' ');
                let sev = parts.next().and_then(|s| s.parse().ok()).unwrap_or(255);
                let msgid = parts.next().unwrap_or("").to_owned();
                let msg = parts.next().unwrap_or("");
                let v = crate::check::parse_record(msg.as_bytes())
                    .unwrap_or_else(|e| panic!("a syslog message is not a JSON record ({e}): {l}"));
                (sev, msgid, v)
            })
            .collect()
    }
}

/// Debian's prometheus, scraping one target every second.
pub struct Prometheus {
    pub daemon: Daemon,
    pub port: u16,
}

impl Prometheus {
    pub fn start(dir: &TempDir, target: &str) -> Prometheus {
        let port = free_port();
        let conf = dir.path("prometheus.yml");
        fs::write(
            &conf,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: fdwatch\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", conf.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        let mut daemon = Daemon::spawn(cmd, "prometheus");
        let until = Instant::now() + Duration::from_secs(60);
        while http_get(&format!("127.0.0.1:{port}"), "/-/ready").is_none_or(|(code, _)| code != 200) {
            daemon.assert_running();
            assert!(Instant::now() < until, "prometheus never became ready; {}", daemon.log());
            thread::sleep(Duration::from_millis(100));
        }
        Prometheus { daemon, port }
    }

    /// The result vector of an instant query through the HTTP API.
    pub fn query(&self, promql: &str) -> Vec<Value> {
        let q: String = promql
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let (code, body) = http_get(&format!("127.0.0.1:{}", self.port), &format!("/api/v1/query?query={q}"))
            .unwrap_or_else(|| panic!("prometheus does not answer; {}", self.daemon.log()));
        assert_eq!(code, 200, "{promql}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

/// GET `path` from `addr` over HTTP/1.0: (status, body).
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// socat as a TCP collector: every connection appended to one file.
pub struct Socat {
    pub daemon: Daemon,
    pub port: u16,
    pub out: PathBuf,
}

impl Socat {
    pub fn start(port: u16, out: &Path) -> Socat {
        let mut cmd = Command::new("socat");
        cmd.arg("-u")
            .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"))
            .arg(format!("OPEN:{},creat,append", out.display()));
        let mut daemon = Daemon::spawn(cmd, "socat");
        wait_for("socat listens", DEADLINE, || {
            daemon.assert_running();
            listening(port)
        });
        Socat { daemon, port, out: out.to_owned() }
    }
}

/// Whether a TCP socket listens on 127.0.0.1:`port` (/proc/net/tcp, state 0A), without
/// connecting to it (socat would take the connection as its one client).
pub fn listening(port: u16) -> bool {
    let hex = format!("0100007F:{port:04X}");
    fs::read_to_string("/proc/net/tcp").unwrap_or_default().lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1] == hex && f[3] == "0A"
    })
}

/// Records of `file` (NDJSON), each parsed; panics on a line that is not a record.
pub fn ndjson(file: &Path) -> Vec<Value> {
    let text = fs::read(file).unwrap_or_default();
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            crate::check::parse_record(l)
                .unwrap_or_else(|e| panic!("{}: not a record ({e}): {}", file.display(), String::from_utf8_lossy(l)))
        })
        .collect()
}

/// Checks `record` against docs/schema.json and the record contract.
#[track_caller]
pub fn assert_valid(record: &Value, from: &str) {
    if let Some(why) = crate::check::contract_violation(record) {
        panic!("{from}: {why}: {record}");
    }
    if let Some(why) = crate::schema::violations(record) {
        panic!("{from}: docs/schema.json: {why}: {record}");
    }
}

/// Processes that raise three alerts (two critical, one warning), each let go at once:
/// a socket dup2'd onto stdin (stdio_hijack socket_onto_stdio, critical), select() with
/// nfds 1100 (select_high_fd, critical) and a socket landing on a closed stdin
/// (stdio_hijack landed_on_stdio, warning).
pub fn alert_makers() -> Vec<Fdops> {
    let hijack = Fdops::waiting(&[
        "listen_tcp",
        "127.0.0.1:0",
        "socket",
        "AF_INET",
        "SOCK_STREAM",
        "0",
        "connect",
        "%socket.ret",
        "127.0.0.1:%listen_tcp.port",
        "dup2",
        "%socket.ret",
        "0",
        "sleep_ms",
        "400",
    ]);
    let select = Fdops::waiting(&["select", "1100", "0", "-", "sleep_ms", "400"]);
    let landed = Fdops::waiting(&["close", "0", "socket", "AF_INET", "SOCK_DGRAM", "0", "sleep_ms", "600"]);
    vec![hijack, select, landed]
}
