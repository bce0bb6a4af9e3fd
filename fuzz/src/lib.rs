//! The fuzz target's driver: an input is a script that feeds fdwatch's collector the way
//! the ring buffer and the clock do, and every byte of every record is the fuzzer's.
//!
//! Everything goes through fdwatch's own `Collector` (collect.rs), over a [`Host`] that
//! answers from the input instead of /proc, so the target runs exactly the code the
//! binary runs after the ring buffer: raw bytes -> `decode` -> detectors before ->
//! `Model::apply` -> detectors after -> sinks, the resyncs a contradiction asks for,
//! the timers (`after_batch`), `fd` dumps, `loss` and `stats` records, and the end of a
//! run. Two collectors run side by side on the same script, one writing JSON and one
//! text; the JSON must be complete lines of valid JSON, and both must end with the same
//! model.
//!
//! # Input format
//! The first byte sets the collector's options (see [`Options`]); the rest is a
//! sequence of steps, each led by one byte whose low 4 bits say what it is:
//!
//! | op | step | bytes after the op byte |
//! | --- | --- | --- |
//! | 0-7 | a syscall record built from small values ([`compact`]) | kind, who, when, ret, 6 args, payload |
//! | 8 | a fork, exec or exit record ([`compact`]) | which, who, when, ret, 6 args, payload |
//! | 9 | a raw record of one kind: `record_size(kind)` bytes as they are | kind, bytes |
//! | 10 | raw bytes of any length (short, unknown kinds) | length (u16 LE), bytes |
//! | 11 | time passes, then the collector's after-batch step (timers) | how long |
//! | 12 | SIGUSR1: dump every fd of the model (the first two per input) | - |
//! | 13 | `loss` and `resync` records with arbitrary counts | site, kind, count (u64), total (u64) |
//! | 14 | the periodic memory trim (`Model::shrink_to_fit`) | - |
//! | 15 | the host's next answers (/proc readings, fd links), then a flush | seed |
//!
//! Compact records carry one of a few cgroup ids (`CGROUPS`: the host, a Docker, a
//! Kubernetes and a hostile-named runc container), which the host resolves or not by
//! the seed: attribution (containers/) runs on every record.
//!
//! A step cut short by the end of the input reads zeros. The high 4 bits of an op byte
//! are ignored, so mutations of them are harmless.
use std::{
    cell::{Cell, RefCell},
    io::{self, Write},
    rc::Rc,
    sync::{
        Once,
        atomic::{AtomicU64, Ordering},
    },
};

use serde::de::IgnoredAny;

use fdwatch::{
    clock::Clock,
    collect::{Collector, Host, Options as CollectOptions},
    containers::layout::{Layout, V1},
    decode::{Body, Event, Payload, Timebase, event::encode},
    detect::{self, Detectors},
    model::{
        Access, Limits, Model, Pid, Step,
        snapshot::{FdSnapshot, ProcSnapshot},
    },
    outputs::Format,
    scope::{Scope, Watch},
    sinks::{LossSite, PerKind, Ready, Sink},
};
use fdwatch_common::{
    ADDR_LEN, AcceptPayload, AddrPayload, ExecEvent, ExitEvent, FdObject, FdPair, ForkEvent, Header, Kind, NewFd,
    OpenPayload, PATH_LEN, POLL_ENTRIES, Path, PollFd, RECV_FDS, Received, RestartPayload, SignalEvent, SleepPayload,
    SockAddr, WaitPayload,
    clock::{ClockMark, TS_JIFFIES},
    kind::PayloadShape,
    record_size,
};

/// Records fed to the pipeline (each to both collectors) since the process started, and
/// inputs run: printed at exit, so a run says how much it covered.
static RECORDS: AtomicU64 = AtomicU64::new(0);
static INPUTS: AtomicU64 = AtomicU64::new(0);

extern "C" fn report_counts() {
    eprintln!(
        "fdwatch-fuzz: {} records through the pipeline in {} inputs",
        RECORDS.load(Ordering::Relaxed),
        INPUTS.load(Ordering::Relaxed)
    );
}

/// Milliseconds in ns.
const MS: u64 = 1_000_000;
/// Where the virtual clock starts: far from both ends.
const START_NS: u64 = 1_000 * 1_000_000_000;
/// The clock calibration the collectors read tick-count timestamps with: CONFIG_HZ=250,
/// at START_NS, the tick started 0.26 s after the clock at boot (decode/ticks.rs).
const TICK_MARK: ClockMark = ClockMark { jiffies: (1 << 32) - 300 * 250 + 1_000 * 250 - 65, ns: START_NS };
/// CLOCK_REALTIME - CLOCK_MONOTONIC of the fixed clock: 2026 at START_NS.
const REALTIME_OFFSET: i128 = 1_790_000_000_000_000_000;
/// The processes compact records come from: few, so records meet each other's fds.
const PIDS: [u32; 6] = [100, 101, 102, 103, 200, 300];
const O_CLOEXEC: u64 = 0o2000000;
/// SIGUSR1 dumps honoured per input (op 12).
const MAX_DUMPS: u32 = 2;

/// Reads an input front to back; past its end, zeros.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn done(&self) -> bool {
        self.data.is_empty()
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Up to `n` bytes (fewer at the end of the input).
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        b.iter_mut().for_each(|x| *x = self.byte());
        u64::from_le_bytes(b)
    }
}

/// The host the collectors ask when they re-read a process or a link: its answers
/// depend on the seed the input set last, and time is the input's.
#[derive(Clone)]
struct FuzzHost {
    now: Rc<Cell<u64>>,
    seed: Rc<Cell<u8>>,
}

/// Links /proc could show, odd ones included; pipes and sockets with small inodes, so
/// they meet the objects records create.
const LINKS: &[&[u8]] = &[
    b"/dev/pts/0",
    b"/dev/ptmx",
    b"pipe:[1]",
    b"pipe:[2]",
    b"socket:[3]",
    b"socket:[1]",
    b"anon_inode:[eventfd]",
    b"anon_inode:inotify",
    b"/dev/null",
    b"/etc/passwd",
    b"/var/lib/db (deleted)",
    b"net:[4026531840]",
    b"",
    b"pipe:[x]",
    b"socket:[18446744073709551615]",
    b"/tmp/\x7f\x1b[31mred\n\"quoted\"\\\xff\xfe",
    b"/dev/tty1",
];

/// fd numbers a reading may list.
const SNAPSHOT_FDS: [i32; 8] = [3, 4, 5, 7, 1023, 1024, 1 << 20, i32::MAX];

impl FuzzHost {
    fn reading(&self, pid: Pid) -> Option<ProcSnapshot> {
        let seed = self.seed.get();
        if seed.is_multiple_of(5) {
            return None; // gone
        }
        let mut fds = Vec::new();
        if seed & 0x8 == 0 {
            for fd in 0..3 {
                fds.push(FdSnapshot {
                    fd,
                    link: b"/dev/pts/0".to_vec(),
                    cloexec: false,
                    access: Access::ReadWrite,
                    ino: 3,
                    tty_index: None,
                });
            }
        }
        for i in 0..(seed as usize >> 5) {
            let k = seed as usize + 3 * i;
            fds.push(FdSnapshot {
                fd: SNAPSHOT_FDS[k % SNAPSHOT_FDS.len()],
                link: LINKS[k % LINKS.len()].to_vec(),
                cloexec: k & 1 != 0,
                access: [Access::Read, Access::Write, Access::ReadWrite][k % 3],
                ino: (k % 4) as u64,
                tty_index: (k % 7 == 0).then_some((k % 3) as u32),
            });
        }
        Some(ProcSnapshot {
            pid,
            ppid: 1,
            comm: [&b"sh"[..], b"inetd", b"ke\xffrn\n", b""][seed as usize % 4].to_vec(),
            exe: (seed & 0x10 != 0).then(|| b"/usr/bin/x\x1b".to_vec()),
            args: (seed & 0x20 != 0).then(|| b"sh\0-i\0".to_vec()),
            read_at_ns: self.now.get(),
            fds,
        })
    }
}

/// Cgroup ids compact records carry, and the paths the host answers for them: the
/// host's root, a Docker container, a Kubernetes pod's containerd container, and a
/// `runc-<name>.scope` whose name a user chose (control characters and all).
const CGROUPS: [(u64, &str); 4] = [
    (1, "/"),
    (7, "/docker/3f2a9c1e0b7d4c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"),
    (
        8,
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_4a8b_9c0d_1e2f3a4b5c6d.slice/\
         cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
    ),
    (1 << 40 | 9, "/system.slice/runc-x\x1b[2J\n\u{202e}\"y.scope"),
];

/// The cgroups side of the host: ids resolve to paths (or not, by the seed), /proc/PID/cgroup
/// puts a process in the unified root and a v1 container (or the v1 root), and the
/// runtime's state names images with odd bytes.
impl fdwatch::containers::Source for FuzzHost {
    fn proc_cgroup(&mut self, pid: Pid) -> Option<String> {
        let seed = self.seed.get();
        if seed.is_multiple_of(7) {
            return None;
        }
        let v1 = CGROUPS[(seed as usize ^ pid as usize) % CGROUPS.len()].1;
        Some(format!("9:name=systemd:{v1}\n4:memory:/x\n0::/\n"))
    }

    fn unified_path(&mut self, id: u64) -> Option<String> {
        if self.seed.get() & 0x40 != 0 {
            return None;
        }
        CGROUPS.iter().find(|(i, _)| *i == id).map(|(_, p)| (*p).to_owned())
    }

    fn unified_id(&mut self, path: &str) -> Option<u64> {
        CGROUPS.iter().find(|(_, p)| *p == path).map(|(i, _)| *i)
    }

    fn details(&mut self, _c: &mut fdwatch::containers::ContainerRef) -> fdwatch::containers::Details {
        let seed = self.seed.get();
        fdwatch::containers::Details {
            name: (seed & 1 != 0).then(|| "web\n\x1b[31m".to_owned()),
            image: (seed & 2 != 0).then(|| "app:1.4\u{202e}\"".to_owned()),
            pod_name: (seed & 4 != 0).then(|| "payments-7d9f".to_owned()),
            pod_namespace: (seed & 4 != 0).then(|| "shop".to_owned()),
        }
    }
}

impl Host for FuzzHost {
    fn now_ns(&self) -> u64 {
        self.now.get()
    }

    fn snapshot(&mut self, pid: Pid) -> Option<ProcSnapshot> {
        self.reading(pid)
    }

    fn fd_link(&mut self, _pid: Pid, fd: i32) -> Option<Vec<u8>> {
        let k = self.seed.get() as usize ^ fd as usize;
        (!k.is_multiple_of(3)).then(|| LINKS[k % LINKS.len()].to_vec())
    }
}

/// A writer into a buffer the driver checks.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The options byte: bit 0 clear shows events (`--events`), bit 1 `--dump-on-exit`,
/// bits 2-3 `--pid 100` (1) and `--follow` (2, 3), bit 4 a tiny `--max-fds`, bit 5 allows
/// `sh` to put sockets on stdio.
struct Options(u8);

impl Options {
    fn scope(&self) -> Scope {
        if self.0 & 0xc == 0 { Scope::Host } else { Scope::Processes { pids: [100].into(), follow: self.0 & 0x8 != 0 } }
    }

    fn collect(&self) -> CollectOptions {
        CollectOptions {
            show_events: self.0 & 1 == 0,
            duration: None,
            dump_on_exit: self.0 & 2 != 0,
            watch: Watch::new(&self.scope()),
            stdout: None,
            timebase: Timebase::calibrated(TICK_MARK).expect("a mark of a 250 Hz kernel"),
            // A hybrid host: the unified ids, and name=systemd for processes in its root.
            layout: Layout {
                unified: Some("/sys/fs/cgroup/unified".into()),
                v1: Some(V1 { name: "name=systemd".into(), id: 9, mount: "/sys/fs/cgroup/systemd".into() }),
            },
        }
    }

    fn limits(&self) -> Limits {
        if self.0 & 0x10 != 0 { Limits { max_fds: 8 } } else { Limits::default() }
    }

    fn detect(&self) -> detect::Config {
        let mut config = detect::Config::default();
        if self.0 & 0x20 != 0 {
            config.allow.push("sh".into());
        }
        config
    }
}

struct Side {
    collector: Collector<FuzzHost>,
    out: Shared,
    format: Format,
}

impl Side {
    fn new(format: Format, options: &Options, host: &FuzzHost) -> Self {
        let clock = Clock::fixed(REALTIME_OFFSET);
        let out = Shared::default();
        let sink = Sink::named(format, clock, "fuzz\"host\n".into(), Box::new(out.clone()));
        let mut model = Model::new(options.limits());
        // The startup reading: two processes with stdio on a tty, and what the seed adds.
        for pid in [100, 101] {
            if let Some(snap) = host.reading(pid) {
                model.load_snapshot(&snap, Step::PresentAtStart);
            }
        }
        let detectors = Detectors::new(options.detect(), clock);
        let collector = Collector::with_host(model, detectors, sink, clock, options.collect(), host.clone());
        Side { collector, out, format }
    }

    /// Flush, and check what was written: complete lines, each a JSON object that starts
    /// with its `type` (the output contract: one object per line, complete lines only).
    fn flush(&mut self) {
        // A Vec cannot fail to take a write.
        let _ = self.collector.sink().flush();
        let written = std::mem::take(&mut *self.out.0.borrow_mut());
        if self.format != Format::Json || written.is_empty() {
            return;
        }
        assert_eq!(written.last(), Some(&b'\n'), "JSON output ends mid-line");
        for line in written.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            // Checked, not built: a tree per line cost a third of the target's time.
            assert!(line.starts_with(b"{\"type\":\""), "a record that does not start with its type: {line:?}");
            if let Err(e) = serde_json::from_slice::<IgnoredAny>(line) {
                panic!("not JSON ({e}): {}", String::from_utf8_lossy(line));
            }
        }
    }
}

/// Run one input. Panics (a finding) if the pipeline panics or the output breaks the
/// contract.
pub fn run(data: &[u8]) {
    static AT_EXIT: Once = Once::new();
    // SAFETY: atexit takes a plain extern "C" function with no arguments.
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(report_counts);
    });
    INPUTS.fetch_add(1, Ordering::Relaxed);
    let mut input = Input { data };
    let options = Options(input.byte());
    let host = FuzzHost { now: Rc::new(Cell::new(START_NS)), seed: Rc::new(Cell::new(1)) };
    let mut sides = [Side::new(Format::Json, &options, &host), Side::new(Format::Text, &options, &host)];
    // Text mode says `ready` on stderr; only JSON's is a record.
    let scope = options.scope();
    let ready = Ready {
        probes: 7,
        watched: scope.pids(),
        follow: scope.follow(),
        container: None,
        processes: 2,
        fds: 6,
        scan_ns: 1,
    };
    let _ = sides[0].collector.sink().ready(&ready);
    let (mut records, mut dumps) = (0u64, 0);
    while !input.done() {
        let op = input.byte() & 0xf;
        match op {
            0..=8 => {
                let bytes = compact(&mut input, op == 8, &host.now);
                records += 1;
                sides.iter_mut().for_each(|s| s.collector.record(&bytes));
            }
            9 => {
                let kind = Kind::ALL[input.byte() as usize % Kind::ALL.len()];
                let mut bytes = input.take(record_size(kind)).to_vec();
                if let Some(id) = bytes.get_mut(..4) {
                    id.copy_from_slice(&(kind as u32).to_ne_bytes());
                }
                records += 1;
                sides.iter_mut().for_each(|s| s.collector.record(&bytes));
            }
            10 => {
                let len = input.u16() as usize % 1024;
                let bytes = input.take(len).to_vec();
                records += 1;
                sides.iter_mut().for_each(|s| s.collector.record(&bytes));
            }
            11 => {
                const STEPS: [u64; 8] = [0, MS, 50 * MS, 260 * MS, 1_100 * MS, 2_000 * MS, 11_000 * MS, u64::MAX / 2];
                let step = STEPS[input.byte() as usize % STEPS.len()];
                host.now.set(host.now.get().saturating_add(step));
                sides.iter_mut().for_each(|s| s.collector.after_batch());
            }
            // A dump renders every fd of every process: a few per input find what
            // there is to find, more only slow the target down.
            12 if dumps < MAX_DUMPS => {
                dumps += 1;
                sides.iter_mut().for_each(|s| s.collector.dump());
            }
            12 => {}
            13 => {
                let site =
                    [LossSite::KernelRingBuffer, LossSite::Userspace, LossSite::FdModel][input.byte() as usize % 3];
                let mut lost: PerKind = [0; fdwatch_common::MAX_KIND as usize];
                let slot = input.byte() as usize % lost.len();
                lost[slot] = input.u64();
                let total = input.u64();
                for s in &mut sides {
                    s.collector.sink().loss(site, &lost, total);
                    s.collector.sink().resync(None, "events were lost in the kernel ring buffer", slot, total as usize);
                    s.collector.report_userspace_losses();
                }
            }
            14 => sides.iter_mut().for_each(|s| s.collector.model.shrink_to_fit()),
            _ => {
                host.seed.set(input.byte());
                sides.iter_mut().for_each(Side::flush);
            }
        }
    }
    for s in &mut sides {
        s.collector.after_batch();
        s.collector.end();
        s.collector.report_userspace_losses();
        // Text mode writes its stats line to stderr: only JSON's goes to the sink.
        if s.format == Format::Json {
            let stats = s.collector.stats(host.now.get() - START_NS.min(host.now.get()));
            s.collector.sink().stats(&stats);
        }
        s.flush();
    }
    let [json, text] = &sides;
    assert_eq!(json.collector.model.tracked_fds(), text.collector.model.tracked_fds(), "the two runs diverged");
    assert_eq!(json.collector.model.processes.len(), text.collector.model.processes.len(), "the two runs diverged");
    // A progress line every million records: a long run stopped from outside (which
    // skips atexit) still says how far it got.
    let before = RECORDS.fetch_add(records, Ordering::Relaxed);
    if before / 1_000_000 != (before + records) / 1_000_000 {
        report_counts();
    }
}

/// An argument register: small fds and counts, fds around FD_SETSIZE, common flag
/// values, and registers wider than the 32 bits the kernel reads.
fn arg(b: u8) -> u64 {
    const FLAGS: [u64; 16] = [
        O_CLOEXEC,
        1 | O_CLOEXEC,   // SOCK_STREAM|SOCK_CLOEXEC
        2 | 0o4000,      // SOCK_DGRAM|SOCK_NONBLOCK
        1030,            // F_DUPFD_CLOEXEC
        0x5451,          // FIOCLEX
        0x5450,          // FIONCLEX
        1 << 2,          // CLOSE_RANGE_CLOEXEC
        1 << 1,          // CLOSE_RANGE_UNSHARE
        10,              // AF_INET6
        0o100 | 0o1000,  // O_CREAT|O_TRUNC
        0o2,             // O_RDWR
        0o20000000,      // O_PATH
        8,               // PERF_FLAG_FD_CLOEXEC
        1 | (1 << 2),    // F_GETFD-ish | CLOSE_RANGE_CLOEXEC
        0xfff,           // many flag bits
        0o2000000 | 0o4, // O_CLOEXEC|O_RDONLY-ish
    ];
    const WIDE: [u64; 16] = [
        0x1_0000_0001,
        0x1_0000_0000,
        0xffff_ffff,
        0x7fff_ffff,
        0x8000_0000,
        u64::MAX,
        -100i64 as u64, // AT_FDCWD
        1100,
        5000,
        1 << 20,
        0xffff_ffff_0000_0002,
        u64::MAX - 1,
        0x1_0000_0002,
        0xdead_beef_0000_0000,
        0x1_0000_0400, // 1024 in the low half
        i64::MIN as u64,
    ];
    match b {
        0..=63 => b as u64,
        64..=95 => 1010 + (b - 64) as u64,
        96..=127 => FLAGS[(b - 96) as usize % FLAGS.len()],
        _ => WIDE[(b - 128) as usize % WIDE.len()],
    }
}

/// A return value: fds, -errno, counts around FD_SETSIZE, and values no syscall returns.
fn ret(b: u8) -> i64 {
    const ERRNOS: [i64; 16] = [9, 106, 114, 115, 11, 4, 88, 22, 32, 111, 107, 24, 512, 4095, 4096, 5000];
    const WIDE: [i64; 8] =
        [i64::MAX, i64::MIN, i32::MAX as i64, i32::MIN as i64, 0x1_0000_0001, -1, 1 << 31, -(1 << 31) - 1];
    match b {
        0..=47 => b as i64,
        48..=63 => -ERRNOS[(b - 48) as usize],
        64..=95 => 1010 + (b - 64) as i64,
        96..=127 => WIDE[(b - 96) as usize % WIDE.len()],
        _ => (b % 8) as i64,
    }
}

/// An fd written to user memory (pipe, socketpair): usually small, sometimes not.
fn user_fd(b: u8) -> i32 {
    match b {
        0..=199 => (b % 40) as i32,
        200..=219 => 1020 + (b - 200) as i32,
        220..=229 => -((b - 219) as i32),
        230..=239 => i32::MAX - (b - 230) as i32,
        _ => i32::MIN + (b - 240) as i32,
    }
}

/// An inode as the kernel reports it: by type from the mode, numbered from a few so
/// objects meet.
fn object(input: &mut Input) -> FdObject {
    const S_IFIFO: u16 = 0o010000;
    const S_IFCHR: u16 = 0o020000;
    const S_IFDIR: u16 = 0o040000;
    const S_IFREG: u16 = 0o100000;
    const S_IFSOCK: u16 = 0o140000;
    let (a, b) = (input.byte(), input.byte());
    let (mode, rdev) = match a % 9 {
        0 => (S_IFIFO | 0o600, 0),
        1 => (S_IFSOCK | 0o777, 0),
        2 => (S_IFCHR | 0o666, 1 << 20 | 3),   // /dev/null
        3 => (S_IFCHR | 0o620, 136 << 20 | 1), // /dev/pts/1
        4 => (S_IFREG | 0o644, 0),
        5 => (S_IFDIR | 0o755, 0),
        6 => (0, 0), // anonymous inode
        7 => (S_IFCHR | 0o600, 4 << 20 | 1),
        _ => (u16::from_le_bytes([a, b]), u32::from(b) << 20),
    };
    FdObject {
        ino: u64::from(b % 16) + 1,
        dev: u32::from(a) << 12,
        rdev,
        file_flags: u32::from(a >> 4) & 3 | if a & 0x40 != 0 { O_CLOEXEC as u32 } else { 0 },
        mode,
        valid: u16::from(a >> 7 == 0),
    }
}

fn sockaddr(input: &mut Input) -> SockAddr {
    let mut addr = SockAddr::default();
    let mut put = |bytes: &[u8]| {
        addr.bytes[..bytes.len()].copy_from_slice(bytes);
        addr.len = bytes.len() as u32;
    };
    let family = |f: u16| f.to_ne_bytes();
    let choice = input.byte();
    let port = input.byte();
    match choice % 9 {
        0 => {}
        1 => put(&[&family(2)[..], &[0, port, 127, 0, 0, 1], &[0; 8]].concat()),
        2 => put(&[&family(10)[..], &[0, port, 0, 0, 0, 0], &[0; 15], &[1], &[0, 0, 0, port]].concat()),
        3 => put(&[&family(1)[..], b"/run/x.sock\0"].concat()),
        4 => put(&[&family(1)[..], b"\0abs\0tract\xff"].concat()),
        5 => put(&family(0)),
        6 => put(&family(1)),
        7 => {
            let n = port as usize % ADDR_LEN;
            let bytes = input.take(n).to_vec();
            put(&bytes);
        }
        _ => {
            addr.bytes = [port; ADDR_LEN];
            addr.len = u32::MAX - u32::from(port);
        }
    }
    addr
}

fn path(input: &mut Input) -> Path {
    const PATHS: [&[u8]; 8] = [
        b"/etc/passwd",
        b"/dev/null",
        b"/dev/pts/0",
        b"relative/path",
        b"",
        b"/tmp/\xff\xfe invalid utf-8",
        b"/tmp/\"quote\\back\nslash",
        b"/lib/x86_64-linux-gnu/libc.so.6",
    ];
    let b = input.byte();
    let mut p = Path::default();
    let name = PATHS[b as usize % PATHS.len()];
    p.bytes[..name.len()].copy_from_slice(name);
    p.len = name.len() as u32;
    match b >> 5 {
        0 => {
            p.bytes = [b'a'; PATH_LEN];
            p.len = PATH_LEN as u32 - 1;
            p.truncated = 1;
        }
        1 => p.len = u32::MAX,
        2 => p.truncated = u32::from(b),
        _ => {}
    }
    p
}

/// A record built from small choices: the structure is fixed, the values are picked
/// from those that make the model and the detectors do something (see the tables), so
/// short inputs are sequences of meaningful syscalls by a few processes.
fn compact(input: &mut Input, process_event: bool, now: &Cell<u64>) -> Vec<u8> {
    const PROCESS_KINDS: [Kind; 3] = [Kind::Fork, Kind::Exec, Kind::Exit];
    let k = input.byte() as usize;
    let kind = if process_event { PROCESS_KINDS[k % 3] } else { Kind::ALL[k % Kind::ALL.len()] };
    let who = input.byte();
    let pid = PIDS[who as usize % PIDS.len()];
    let tid = if who & 0x80 != 0 { pid + 1000 } else { pid };
    const COMMS: [&[u8]; 6] = [b"sh", b"python3", b"inetd", b"b\xffad\"\\\n", b"sixteen-bytes-xx", b""];
    let mut comm = [0u8; 16];
    let name = COMMS[(who as usize >> 3) % COMMS.len()];
    comm[..name.len()].copy_from_slice(name);
    // Time moves forward with the records (an event after the last one), in up to
    // 255 us steps; once in a while a record from the far end of the clock.
    let when = input.byte();
    // 0xfe: stamped with the tick count as agent mode's probes stamp (TICK_MARK).
    let ts = match when {
        0xff => TS_JIFFIES - 1,
        0xfe => TS_JIFFIES | (TICK_MARK.jiffies + (now.get().saturating_sub(TICK_MARK.ns)) / 4_000_000),
        _ => now.get().saturating_add(u64::from(when) * 1_000),
    };
    if when < 0xfe {
        now.set(ts);
    }
    // The cgroup from bytes already read, so inputs saved before it existed mean what
    // they meant.
    let cgroup_id = CGROUPS[(who ^ when) as usize % CGROUPS.len()].0;
    let header = Header { kind: kind as u32, ppid: 1, ts_ns: ts, pid, tid, cgroup_id, comm };
    let ret = ret(input.byte());
    let args: [u64; 6] = std::array::from_fn(|_| arg(input.byte()));
    let body = match kind.payload() {
        PayloadShape::Fork => {
            let b = input.byte();
            Body::Fork(ForkEvent {
                header,
                child_pid: PIDS[b as usize % PIDS.len()] + if b & 0x40 != 0 { 1 } else { 0 },
                child_tid: u32::from(b),
                shares_files: u32::from(b & 0x80 != 0),
                is_thread: u32::from(b & 0x20 != 0),
            })
        }
        PayloadShape::Exec => {
            let filename = path(input);
            // argv: a shell reading stdin, a shell given a command, or garbage.
            let mut e = ExecEvent { header, old_tid: tid, filename, ..Default::default() };
            let argv: &[u8] = match input.byte() % 4 {
                0 => b"sh\0",
                1 => b"sh\0-c\0printf x >&3\0",
                2 => b"python3\0-i\0",
                _ => b"\xff\0\0-",
            };
            e.args[..argv.len()].copy_from_slice(argv);
            e.args_len = if input.byte() & 0x80 != 0 { u32::MAX } else { argv.len() as u32 };
            Body::Exec(e)
        }
        PayloadShape::Signal => {
            let b = input.byte();
            Body::Signal(SignalEvent {
                header,
                sig: 17 + u32::from(b % 8),
                result: u32::from(b >> 4),
                target_pid: PIDS[b as usize % PIDS.len()],
                target_tid: PIDS[b as usize % PIDS.len()],
                group: u32::from(b & 1),
                _pad: 0,
            })
        }
        PayloadShape::Exit => {
            let b = input.byte();
            Body::Exit(ExitEvent { header, exit_code: u32::from(b) << (b & 8), group_dead: u32::from(b & 1 == 0) })
        }
        shape => {
            let payload = match shape {
                PayloadShape::NewFd => Payload::NewFd(NewFd { object: object(input) }),
                PayloadShape::FdPair => {
                    let fds = [user_fd(input.byte()), user_fd(input.byte())];
                    let mut read_end = object(input);
                    if input.byte() & 1 == 0 {
                        // A pipe as the kernel makes it: one inode, a read and a write end.
                        read_end.mode = 0o010600;
                        read_end.file_flags = 0;
                    }
                    let write_end = FdObject { file_flags: 1, ..read_end };
                    Payload::FdPair(FdPair { fds, objects: [read_end, write_end] })
                }
                PayloadShape::Addr => Payload::Addr(AddrPayload { addr: sockaddr(input) }),
                PayloadShape::Accept => Payload::Accept(AcceptPayload { object: object(input), addr: sockaddr(input) }),
                PayloadShape::Open => {
                    let object = object(input);
                    let how = [arg(input.byte()), arg(input.byte()), arg(input.byte())];
                    let tty_index = i32::from(input.byte() as i8);
                    Payload::Open(OpenPayload { object, how, tty_index, _pad: 0, path: path(input) })
                }
                PayloadShape::Wait => {
                    let n = input.byte();
                    let mut w = WaitPayload {
                        timeout_sec: i64::from(input.byte() as i8) << (n & 0x3f),
                        timeout_subsec: i64::from(input.byte() as i8) * 999_999,
                        has_timeout: u32::from(n & 0x80 != 0),
                        nentries: if n & 0x40 != 0 {
                            u32::from(n) << 8
                        } else {
                            u32::from(n) % (POLL_ENTRIES as u32 + 1)
                        },
                        fds: [PollFd::default(); POLL_ENTRIES],
                        deadline_ns: u64::from(input.byte()) << 28,
                    };
                    for p in &mut w.fds {
                        let b = input.byte();
                        *p = PollFd { fd: user_fd(b), events: 1 | i16::from(b & 4), revents: i16::from(b) << 7 };
                    }
                    Payload::Wait(w)
                }
                // fds passed over a unix socket: stdio numbers and any others.
                PayloadShape::Received => {
                    let n = input.byte();
                    let mut r = Received {
                        nfds: if n & 0x80 != 0 { u32::from(n) << 8 } else { u32::from(n) % (RECV_FDS as u32 + 1) },
                        more: u32::from(n & 0x40 != 0),
                        ..Default::default()
                    };
                    for i in 0..RECV_FDS {
                        r.fds[i] = user_fd(input.byte());
                        r.objects[i] = object(input);
                    }
                    Payload::Received(r)
                }
                PayloadShape::Sleep => {
                    let b = input.byte();
                    Payload::Sleep(SleepPayload {
                        timeout_sec: i64::from(b as i8),
                        timeout_nsec: i64::from(input.byte()) * 3_999_999,
                        rem_sec: i64::from(input.byte() as i8),
                        rem_nsec: i64::from(input.byte()) * 3_999_999,
                        expires_ns: u64::from(input.byte()) << 30,
                        clockid: i32::from(b & 7),
                        has_timeout: u16::from(b & 0x10 != 0),
                        has_rem: u16::from(b & 0x20),
                    })
                }
                PayloadShape::Restart => {
                    let b = input.byte();
                    Payload::Restart(RestartPayload {
                        seccomp_mode: u32::from(b % 4),
                        seccomp_filters: u32::from(b >> 2),
                    })
                }
                _ => Payload::None,
            };
            Body::Syscall { ret, args, payload }
        }
    };
    encode(&Event { kind, header, body })
}
