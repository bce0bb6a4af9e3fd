//! `--metrics IP:PORT`: Prometheus metrics on `/metrics` (OpenMetrics text, encoded by
//! the Prometheus project's Rust client, prometheus-client) and `/healthz`, served by
//! one small thread. The collector keeps its counters as plain integers on the hot path
//! and publishes them here with each `stats` record and every second (`publish`), so a
//! scrape reads the same totals a `stats` record carries, never costing an atomic per
//! event.
//!
//! Names follow Prometheus conventions (counters end in `_total`, units in the name):
//! `fdwatch_events_total{kind}`, `fdwatch_events_lost_total{where}`,
//! `fdwatch_alerts_total{kind,severity}`, `fdwatch_output_dropped_total{output}`,
//! `fdwatch_queries_total{outcome}` (while the control socket listens),
//! `fdwatch_tracked_fds`, `fdwatch_tracked_processes`, `fdwatch_resident_memory_bytes`,
//! `fdwatch_cpu_seconds_total`.
use std::{
    collections::HashMap,
    io::{self, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use fdwatch_common::Kind;
use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use crate::{clock::Clock, error::Failure, sinks::Stats};

type Labels = Vec<(&'static str, String)>;

/// `/healthz` fails once the collector loop has not run for this long (it runs at
/// least every 10 ms).
const STALLED_AFTER_NS: u64 = 5_000_000_000;

struct Shared {
    registry: Registry,
    events: Family<Labels, Counter>,
    lost: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    queries: Family<Labels, Counter>,
    fds: Gauge,
    processes: Gauge,
    rss: Gauge,
    cpu: Counter<f64, AtomicU64>,
    /// CLOCK_MONOTONIC of the collector loop's last turn.
    heartbeat: AtomicU64,
}

/// The collector's side: what it published last, to add only the difference.
pub struct Metrics {
    shared: Arc<Shared>,
    published: HashMap<(u8, Labels), u64>,
    cpu_ns: u64,
}

fn label(k: &'static str, v: impl Into<String>) -> Labels {
    vec![(k, v.into())]
}

impl Metrics {
    /// Bind `addr` and serve it; Err if it cannot be bound (exit 1: the address is taken
    /// or not local).
    pub fn serve(addr: SocketAddr) -> Result<Metrics, Failure> {
        let mut registry = Registry::default();
        let events = Family::<Labels, Counter>::default();
        let lost = Family::<Labels, Counter>::default();
        let alerts = Family::<Labels, Counter>::default();
        let dropped = Family::<Labels, Counter>::default();
        let queries = Family::<Labels, Counter>::default();
        let (fds, processes, rss) = (Gauge::default(), Gauge::default(), Gauge::default());
        let cpu = Counter::<f64, AtomicU64>::default();
        registry.register("fdwatch_events", "Events handled, by syscall or process event", events.clone());
        registry.register(
            "fdwatch_events_lost",
            "Events lost: kernel_ring_buffer (the ring was full), userspace (undecodable), fd_model (over --max-fds)",
            lost.clone(),
        );
        registry.register("fdwatch_alerts", "Alerts written, by kind and severity", alerts.clone());
        registry.register(
            "fdwatch_output_dropped",
            "Records an output dropped (its queue was full) or could not deliver",
            dropped.clone(),
        );
        registry.register(
            "fdwatch_queries",
            "Control socket clients: answered, refused (not root), dropped (too slow, or gone), busy",
            queries.clone(),
        );
        registry.register("fdwatch_tracked_fds", "Fds in the fd model", fds.clone());
        registry.register("fdwatch_tracked_processes", "Processes in the fd model", processes.clone());
        registry.register("fdwatch_resident_memory_bytes", "The collector's resident memory", rss.clone());
        registry.register("fdwatch_cpu_seconds", "The collector's CPU time, user and system", cpu.clone());
        let shared = Arc::new(Shared {
            registry,
            events,
            lost,
            alerts,
            dropped,
            queries,
            fds,
            processes,
            rss,
            cpu,
            heartbeat: AtomicU64::new(Clock::monotonic_now_ns()),
        });
        let listener =
            TcpListener::bind(addr).map_err(|e| Failure::env(format!("--metrics {addr}: cannot listen there: {e}")))?;
        let serving = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("metrics".into())
            .stack_size(256 << 10)
            .spawn(move || {
                // One request at a time: a scraper every few seconds; each
                // connection is bounded by its timeouts.
                for conn in listener.incoming().flatten() {
                    let _ = answer(conn, &serving);
                }
            })
            .map_err(|e| Failure::env(format!("--metrics {addr}: cannot start its thread: {e}")))?;
        Ok(Metrics { shared, published: HashMap::new(), cpu_ns: 0 })
    }

    /// The collector loop turned (for /healthz).
    #[inline]
    pub fn beat(&self, now_ns: u64) {
        self.shared.heartbeat.store(now_ns, Ordering::Relaxed);
    }

    fn add(&mut self, which: u8, family: &Family<Labels, Counter>, labels: Labels, total: u64) {
        let last = self.published.entry((which, labels.clone())).or_insert(0);
        let delta = total.saturating_sub(*last);
        *last = total;
        family.get_or_create(&labels).inc_by(delta);
    }

    /// Publish the totals of `stats` (the same numbers a `stats` record carries).
    pub fn publish(&mut self, stats: &Stats) {
        let shared = Arc::clone(&self.shared);
        for kind in Kind::ALL {
            self.add(0, &shared.events, label("kind", kind.name()), stats.events[kind as usize]);
        }
        self.add(1, &shared.lost, label("where", "kernel_ring_buffer"), stats.kernel_lost);
        self.add(1, &shared.lost, label("where", "userspace"), stats.userspace_lost);
        self.add(1, &shared.lost, label("where", "fd_model"), stats.fd_model_lost);
        for ((kind, severity), n) in &stats.alerts {
            self.add(2, &shared.alerts, vec![("kind", (*kind).into()), ("severity", (*severity).into())], *n);
        }
        for (output, n) in &stats.output_dropped {
            self.add(3, &shared.dropped, label("output", output.clone()), *n);
        }
        if let Some(q) = &stats.queries {
            for (outcome, n) in
                [("answered", q.answered), ("refused", q.refused), ("dropped", q.dropped), ("busy", q.busy)]
            {
                self.add(4, &shared.queries, label("outcome", outcome), n);
            }
        }
        shared.fds.set(stats.tracked_fds as i64);
        shared.processes.set(stats.processes as i64);
        shared.rss.set(stats.rss_bytes as i64);
        let cpu_delta = stats.cpu_ns.saturating_sub(self.cpu_ns);
        self.cpu_ns = stats.cpu_ns.max(self.cpu_ns);
        shared.cpu.inc_by(cpu_delta as f64 / 1e9);
    }
}

/// One HTTP/1.x request: GET /metrics or /healthz; the connection closes after.
fn answer(mut conn: TcpStream, shared: &Shared) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut head = [0u8; 8192];
    let mut len = 0;
    while !head[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < head.len() {
        let n = conn.read(&mut head[len..])?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let request = String::from_utf8_lossy(&head[..len]);
    let mut words = request.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, kind, body) = match (method, path) {
        ("GET", "/metrics") => {
            let mut body = String::new();
            match encode(&mut body, &shared.registry) {
                Ok(()) => ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", body),
                Err(_) => ("500 Internal Server Error", "text/plain", "cannot encode the metrics\n".into()),
            }
        }
        ("GET", "/healthz") => {
            let idle = Clock::monotonic_now_ns().saturating_sub(shared.heartbeat.load(Ordering::Relaxed));
            if idle < STALLED_AFTER_NS {
                ("200 OK", "text/plain", "ok\n".into())
            } else {
                (
                    "503 Service Unavailable",
                    "text/plain",
                    format!("the collector loop has not run for {} s\n", idle / 1_000_000_000),
                )
            }
        }
        (_, "/metrics" | "/healthz") => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
        _ => ("404 Not Found", "text/plain", "/metrics or /healthz\n".into()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(response.as_bytes())
}

/// The collector's CPU time (user + system, all threads: getrusage(2)) and resident
/// memory (/proc/self/statm, proc_pid_statm(5)).
pub fn usage() -> (u64, u64) {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF covers every thread of the process.
    let cpu_ns = if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } == 0 {
        let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        (us(ru.ru_utime) + us(ru.ru_stime)) * 1000
    } else {
        0
    };
    let rss_pages: u64 = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse().ok()))
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    (cpu_ns, rss_pages * page)
}
