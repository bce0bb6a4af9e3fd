//! Real servers (issue 17): Debian's redis-server under redis-benchmark (SET and GET, 50
//! clients, keep-alive), and nginx serving a 1 KiB file to wrk over loopback (50
//! connections, keep-alive, and a new connection per request).
//!
//! The server runs on CPU 0 and its client on CPU 1 (taskset); fdwatch's collector and
//! the empty program's loader are not pinned: the collector floats, as an agent would, and
//! its CPU comes out of the server's and the client's. Each scenario starts its server
//! once, warms it up, then runs its rounds: every variant once per round (untraced, the
//! empty tp_btf program on sys_exit, fdwatch in agent mode, fdwatch `--events`), in an
//! order that shifts by one each round, against the same server process.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};

use super::measure::{Ctx, Tracer, Variant, median};
use super::procs::{self, Proc};
use crate::cmd::Result;

/// Where the server and its client run (`taskset -c`).
pub const SERVER_CPU: &str = "0";
pub const CLIENT_CPU: &str = "1";
/// Parallel connections of both clients (redis-benchmark's default).
pub const CLIENTS: u32 = 50;
/// Bytes of the file nginx serves.
pub const FILE_BYTES: usize = 1024;

/// The variants of every scenario, in the order of the first round.
pub const VARIANTS: [Variant; 4] = [Variant::Untraced, Variant::EmptyTpBtf, Variant::FdWatchAgent, Variant::FdWatch];

/// How long each client run lasts, roughly.
#[derive(Clone, Copy)]
pub struct Sizes {
    /// wrk's `-d`, seconds.
    pub wrk_secs: u64,
    /// redis-benchmark's `-n` is sized from a warm-up run so that each of SET and GET
    /// takes about this long untraced.
    pub redis_secs: f64,
}

/// One measured quantity of a client run: e.g. redis SET, or nginx keep-alive.
#[derive(Clone, Debug)]
pub struct Point {
    pub name: String,
    pub rps: f64,
    pub p99_ms: f64,
    /// Requests that failed (wrk's socket errors and non-2xx answers).
    pub errors: u64,
}

/// One client run under one variant.
#[derive(Clone, Debug, Default)]
pub struct RunSample {
    pub points: Vec<Point>,
    /// fdwatch's final stats record: events delivered, lost (kernel + userspace), its
    /// busiest kinds, and its CPU over the run.
    pub events: Option<u64>,
    pub lost: Option<u64>,
    pub kinds: Vec<(String, u64)>,
    pub cpu_s: Option<f64>,
    /// Wall time of the client run, seconds.
    pub secs: f64,
}

pub struct Row {
    pub variant: Variant,
    pub samples: Vec<RunSample>,
    pub error: Option<String>,
}

impl Row {
    /// Median over the rounds of one point's throughput, or p99 latency.
    pub fn median_of(&self, point: &str, f: impl Fn(&Point) -> f64) -> Option<f64> {
        median(self.samples.iter().flat_map(|s| s.points.iter().filter(|p| p.name == point).map(&f)).collect())
    }

    pub fn median_sample(&self, f: impl Fn(&RunSample) -> Option<f64>) -> Option<f64> {
        median(self.samples.iter().filter_map(f).collect())
    }

    pub fn max_lost(&self) -> Option<u64> {
        self.samples.iter().filter_map(|s| s.lost).max()
    }

    pub fn errors(&self) -> u64 {
        self.samples.iter().flat_map(|s| &s.points).map(|p| p.errors).sum()
    }
}

pub struct Scenario {
    pub name: &'static str,
    /// The client's command line, as run (port elided), for the report.
    pub client: String,
    /// The names of the points each run yields, in report order.
    pub points: Vec<String>,
    pub rows: Vec<Row>,
    /// Why the scenario did not run at all (the server did not start).
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Redis,
    NginxKeepAlive,
    NginxClose,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Redis => "redis-server, redis-benchmark SET and GET",
            Kind::NginxKeepAlive => "nginx, wrk keep-alive",
            Kind::NginxClose => "nginx, wrk connection per request",
        }
    }
}

pub fn run(ctx: &Ctx, sizes: Sizes, rounds: usize) -> Result<Vec<Scenario>> {
    let mut out = Vec::new();
    for kind in [Kind::Redis, Kind::NginxKeepAlive, Kind::NginxClose] {
        let scenario = scenario(ctx, kind, sizes, rounds);
        procs::check_interrupted()?;
        out.push(scenario);
    }
    Ok(out)
}

fn scenario(ctx: &Ctx, kind: Kind, sizes: Sizes, rounds: usize) -> Scenario {
    let mut s =
        Scenario { name: kind.name(), client: String::new(), points: Vec::new(), rows: Vec::new(), error: None };
    let server = match Server::start(ctx, kind) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("bench: {}: {e:#}", kind.name());
            s.error = Some(format!("{e:#}"));
            return s;
        }
    };
    // Warm-up, untraced; for redis it also sizes the runs.
    let client = match warm_up(&server, kind, sizes) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("bench: {}: warm-up: {e:#}", kind.name());
            s.error = Some(format!("warm-up: {e:#}"));
            return s;
        }
    };
    s.client = client.shown();
    s.rows = VARIANTS.iter().map(|&variant| Row { variant, samples: Vec::new(), error: None }).collect();
    for round in 0..rounds {
        for k in 0..VARIANTS.len() {
            let row = &mut s.rows[(k + round) % VARIANTS.len()];
            if row.error.is_some() {
                continue;
            }
            match sample(ctx, &client, row.variant) {
                Ok(sample) => {
                    eprintln!(
                        "bench: {} round {}/{rounds}: {}: {}{}",
                        kind.name(),
                        round + 1,
                        row.variant.label(),
                        sample
                            .points
                            .iter()
                            .map(|p| format!("{} {:.0} req/s p99 {:.2} ms", p.name, p.rps, p.p99_ms))
                            .collect::<Vec<_>>()
                            .join(", "),
                        match (sample.events, sample.lost) {
                            (Some(e), Some(l)) => format!("; {e} events, lost {l}"),
                            _ => String::new(),
                        }
                    );
                    for p in &sample.points {
                        if !s.points.contains(&p.name) {
                            s.points.push(p.name.clone());
                        }
                    }
                    row.samples.push(sample);
                }
                Err(e) => {
                    if procs::check_interrupted().is_err() {
                        break;
                    }
                    eprintln!("bench: {}: {}: {e:#}", kind.name(), row.variant.label());
                    row.error = Some(format!("{e:#}"));
                }
            }
        }
    }
    drop(server);
    s
}

fn sample(ctx: &Ctx, client: &Client, v: Variant) -> Result<RunSample> {
    let tracer = Tracer::start(ctx, v)?;
    let t0 = Instant::now();
    let points = client.run();
    let secs = t0.elapsed().as_secs_f64();
    let stopped = tracer.stop()?;
    let mut sample = RunSample { points: points?, secs, ..RunSample::default() };
    if let Some(st) = stopped {
        sample.events = Some(st.events());
        sample.lost = Some(st.lost());
        sample.cpu_s = Some(st.cpu_s);
        let mut kinds: Vec<(String, u64)> = st.stats["by_kind"]
            .as_object()
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_u64()?))).collect())
            .unwrap_or_default();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sample.kinds = kinds;
    }
    Ok(sample)
}

/// A server process on CPU 0, listening on a loopback port of its own; stopped on drop.
struct Server {
    _proc: Proc,
    port: u16,
}

impl Server {
    fn start(ctx: &Ctx, kind: Kind) -> Result<Server> {
        let port = free_port()?;
        let dir = ctx.dir.join(match kind {
            Kind::Redis => "redis",
            _ => "nginx",
        });
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut command = Command::new("taskset");
        command.args(["-c", SERVER_CPU]);
        match kind {
            Kind::Redis => {
                // No persistence: the bench measures the request path, not fsync.
                command.args(["redis-server", "--port", &port.to_string(), "--bind", "127.0.0.1"]);
                command.args(["--save", "", "--appendonly", "no", "--daemonize", "no", "--dir"]);
                command.arg(&dir).arg("--logfile").arg(dir.join("redis.log"));
            }
            Kind::NginxKeepAlive | Kind::NginxClose => {
                let conf = nginx_conf(&dir, port)?;
                command.arg("nginx").arg("-p").arg(&dir).arg("-c").arg(&conf).arg("-e").arg(dir.join("error.log"));
            }
        }
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let mut proc = Proc::spawn(kind.name(), &mut command)?;
        let end = Instant::now() + Duration::from_secs(20);
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        loop {
            procs::check_interrupted()?;
            if TcpStream::connect_timeout(&addr.into(), Duration::from_millis(100)).is_ok() {
                break;
            }
            if let Some(status) = proc.try_wait()? {
                return Err(anyhow!("{} exited before it listened ({status}); see {}", kind.name(), dir.display()));
            }
            if Instant::now() > end {
                return Err(anyhow!("{} did not listen on port {port} within 20 s", kind.name()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Server { _proc: proc, port })
    }
}

/// A loopback port nothing listens on now (the kernel's pick for an ephemeral bind), so
/// the bench does not collide with servers others run on this machine.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot find a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// A minimal nginx configuration under `dir`: one worker process (the server is one
/// process on CPU 0, as redis is), no access log, sendfile, the file in `dir/html`.
fn nginx_conf(dir: &Path, port: u16) -> Result<PathBuf> {
    let html = dir.join("html");
    std::fs::create_dir_all(&html).with_context(|| format!("cannot create {}", html.display()))?;
    let body: String =
        (0..FILE_BYTES).map(|i| if i % 64 == 63 { '\n' } else { (b'a' + (i % 26) as u8) as char }).collect();
    std::fs::write(html.join("index.html"), body).context("cannot write nginx's file")?;
    let d = dir.display();
    let mut conf = String::new();
    let _ = writeln!(conf, "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;");
    let _ = writeln!(conf, "error_log {d}/error.log warn;\nevents {{ worker_connections 4096; }}");
    let _ =
        writeln!(conf, "http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;");
    for temp in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        let _ = writeln!(conf, "  {temp}_temp_path {d}/tmp_{temp};");
    }
    let _ = writeln!(conf, "  server {{\n    listen 127.0.0.1:{port} backlog=4096;\n    root {d}/html;\n  }}\n}}");
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The client of a scenario, sized.
enum Client {
    Redis { port: u16, requests: u64 },
    Wrk { port: u16, secs: u64, close: bool },
}

impl Client {
    fn command(&self) -> Command {
        let mut c = Command::new("taskset");
        c.args(["-c", CLIENT_CPU]);
        match *self {
            Client::Redis { port, requests } => {
                c.args(["redis-benchmark", "-h", "127.0.0.1", "-p", &port.to_string()]);
                c.args(["-c", &CLIENTS.to_string(), "-n", &requests.to_string(), "-t", "set,get", "--csv"]);
            }
            Client::Wrk { port, secs, close } => {
                c.args(["wrk", "-t1", &format!("-c{CLIENTS}"), &format!("-d{secs}s"), "--latency"]);
                if close {
                    c.args(["-H", "Connection: close"]);
                }
                c.arg(format!("http://127.0.0.1:{port}/index.html"));
            }
        }
        c
    }

    /// The command line without the port, for the report.
    fn shown(&self) -> String {
        match *self {
            Client::Redis { requests, .. } => {
                format!("taskset -c {CLIENT_CPU} redis-benchmark -c {CLIENTS} -n {requests} -t set,get --csv")
            }
            Client::Wrk { secs, close, .. } => format!(
                "taskset -c {CLIENT_CPU} wrk -t1 -c{CLIENTS} -d{secs}s --latency{} http://127.0.0.1:PORT/index.html",
                if close { " -H 'Connection: close'" } else { "" }
            ),
        }
    }

    fn run(&self) -> Result<Vec<Point>> {
        let (stdout, _) = procs::output("client", &mut self.command())?;
        match self {
            Client::Redis { .. } => parse_redis(&stdout),
            Client::Wrk { close, .. } => {
                let name = if *close { "nginx connection per request" } else { "nginx keep-alive" };
                parse_wrk(&stdout, name).map(|p| vec![p])
            }
        }
    }
}

/// One untraced run to warm the server (and the page cache, and the client's code) up.
/// redis-benchmark runs a number of requests, not a time: the warm-up's rate sizes it.
fn warm_up(server: &Server, kind: Kind, sizes: Sizes) -> Result<Client> {
    let port = server.port;
    match kind {
        Kind::Redis => {
            let probe = Client::Redis { port, requests: 20_000 };
            let points = probe.run()?;
            let slowest = points.iter().map(|p| p.rps).fold(f64::INFINITY, f64::min);
            if !slowest.is_finite() {
                return Err(anyhow!("redis-benchmark printed no SET/GET line"));
            }
            let requests = ((slowest * sizes.redis_secs) as u64).clamp(10_000, 5_000_000);
            eprintln!("bench: redis warm-up: slowest of SET/GET {slowest:.0} req/s, so -n {requests}");
            Ok(Client::Redis { port, requests })
        }
        Kind::NginxKeepAlive | Kind::NginxClose => {
            let close = kind == Kind::NginxClose;
            Client::Wrk { port, secs: 1, close }.run()?;
            Ok(Client::Wrk { port, secs: sizes.wrk_secs, close })
        }
    }
}

/// redis-benchmark --csv: a header, then `"SET","rps","avg","min","p50","p95","p99","max"`.
fn parse_redis(stdout: &str) -> Result<Vec<Point>> {
    let mut points = Vec::new();
    for line in stdout.lines() {
        let cells: Vec<&str> = line.split(',').map(|c| c.trim().trim_matches('"')).collect();
        if cells.len() < 7 || cells[0] == "test" {
            continue;
        }
        let (Ok(rps), Ok(p99)) = (cells[1].parse::<f64>(), cells[6].parse::<f64>()) else { continue };
        points.push(Point { name: format!("redis {}", cells[0]), rps, p99_ms: p99, errors: 0 });
    }
    if points.is_empty() {
        return Err(anyhow!("redis-benchmark printed no result line: {}", stdout.trim()));
    }
    Ok(points)
}

/// wrk --latency: `Requests/sec: N`, the `99%` line of the latency distribution, and
/// `Socket errors: connect A, read B, write C, timeout D` / `Non-2xx or 3xx responses: N`.
fn parse_wrk(stdout: &str, name: &str) -> Result<Point> {
    let mut rps = None;
    let mut p99 = None;
    let mut errors = 0;
    for line in stdout.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse::<f64>().ok();
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = duration_ms(v.trim());
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            errors += v.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().unwrap_or(0);
        }
    }
    match (rps, p99) {
        (Some(rps), Some(p99_ms)) => Ok(Point { name: name.to_owned(), rps, p99_ms, errors }),
        _ => Err(anyhow!("wrk printed no Requests/sec or 99% line: {}", stdout.trim())),
    }
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.01s`, `1.5m`.
fn duration_ms(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1e3,
        "ms" => n,
        "s" => n * 1e3,
        "m" => n * 60e3,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_csv() {
        let out = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                   \"SET\",\"14190.44\",\"3.360\",\"0.272\",\"2.783\",\"6.519\",\"13.407\",\"42.303\"\n\
                   \"GET\",\"10520.78\",\"4.633\",\"0.264\",\"2.775\",\"14.767\",\"23.919\",\"55.231\"\n";
        let points = parse_redis(out).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].name, "redis SET");
        assert_eq!(points[1].rps, 10520.78);
        assert_eq!(points[1].p99_ms, 23.919);
    }

    #[test]
    fn wrk_latency() {
        let out = "Running 3s test @ http://127.0.0.1:18080/index.html\n  1 threads and 50 connections\n  Latency Distribution\n     50%   30.32ms\n     75%   36.71ms\n     90%   39.58ms\n     99%  812.00us\n  6031 requests in 3.00s, 7.26MB read\n  Socket errors: connect 0, read 3, write 0, timeout 2\nRequests/sec:   2008.70\nTransfer/sec:      2.42MB\n";
        let p = parse_wrk(out, "x").unwrap();
        assert_eq!(p.rps, 2008.70);
        assert!((p.p99_ms - 0.812).abs() < 1e-9);
        assert_eq!(p.errors, 5);
        assert!(duration_ms("2.01s").is_some_and(|ms| (ms - 2010.0).abs() < 1e-9));
    }
}
