//! Every text record a hostile value reaches, through the real detectors and sinks: a
//! process named with ESC, CR, BEL, a newline, U+202E and a byte that is not UTF-8,
//! connecting to a unix socket and opening a file whose paths hold the same. Text
//! output must show each value escaped, one line per record; JSON must carry the same
//! values as before (JSON escaping is its own).
use std::{cell::RefCell, io, rc::Rc};

use fdwatch_common::{AddrPayload, ExecEvent, FdObject, Kind, NewFd, OpenPayload, PATH_LEN, Path, SockAddr};

use super::{Format, LossSite, Sink};
use crate::escape;
use crate::{
    clock::Clock,
    decode::{Body, Event, Payload},
    detect::{Config, Detectors, Output, alert::AlertKind},
    model::{
        Access, Model, Step, describe,
        snapshot::{FdSnapshot, ProcSnapshot},
        synthetic::{SOCK, call, header},
    },
};

/// 14 bytes (a comm holds 15): SGR red, CR, BEL, a newline, U+202E (RLO), a lone 0xff.
const COMM: &[u8] = b"\x1b[31m\r\x07\n!!\xe2\x80\xae\xff";
const COMM_TEXT: &str = r"\x1b[31m\r\x07\n!!\u{202e}\xff";
/// The model keeps names as text: the 0xff is U+FFFD there (and in JSON).
const COMM_MODEL_TEXT: &str = "\\x1b[31m\\r\\x07\\n!!\\u{202e}\u{fffd}";
/// A newline that would start a forged alert line, a screen clear, U+202E, a backslash.
const SOCK_PATH: &[u8] = b"/tmp/s\n19:00:00.000000 CRITICAL x\x1b[2J\xe2\x80\xae\\";
const SOCK_PATH_TEXT: &str = r"/tmp/s\n19:00:00.000000 CRITICAL x\x1b[2J\u{202e}\\";
const FILE_PATH: &[u8] = b"/tmp/f\n\x1b]0;title\x07\xfe\xc2\x9b";
const FILE_PATH_TEXT: &str = r"/tmp/f\n\x1b]0;title\x07\xfe\u{9b}";
const FILE_PATH_MODEL_TEXT: &str = "/tmp/f\\n\\x1b]0;title\\x07\u{fffd}\\u{9b}";
const PID: u32 = 100;
const MS: u64 = 1_000_000;

#[derive(Clone, Default)]
struct Capture(Rc<RefCell<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn hostile(mut event: Event) -> Event {
    let mut comm = [0u8; 16];
    comm[..COMM.len()].copy_from_slice(COMM);
    event.header.comm = comm;
    if let Body::Exec(e) = &mut event.body {
        e.header.comm = comm;
    }
    event
}

fn path(bytes: &[u8]) -> Path {
    let mut p = Path { len: bytes.len() as u32, truncated: 0, bytes: [0; PATH_LEN] };
    p.bytes[..bytes.len()].copy_from_slice(bytes);
    p
}

/// socket(AF_UNIX) = 3, connect(3, SOCK_PATH), dup2(3, 1): socket_onto_stdio. Then
/// close(2) and open(FILE_PATH, O_RDONLY) = 2: landed_on_stdio. Then an exec of
/// FILE_PATH.
fn events() -> Vec<Event> {
    let object = FdObject { ino: 9, mode: SOCK, file_flags: 2, valid: 1, ..Default::default() };
    let mut addr = SockAddr { len: (2 + SOCK_PATH.len() + 1) as u32, ..Default::default() };
    addr.bytes[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
    addr.bytes[2..2 + SOCK_PATH.len()].copy_from_slice(SOCK_PATH);
    let file = FdObject { ino: 77, mode: 0o100644, file_flags: 0, valid: 1, ..Default::default() };
    let exec = {
        let h = header(Kind::Exec, PID, 40 * MS);
        Event {
            kind: Kind::Exec,
            header: h,
            body: Body::Exec(ExecEvent { header: h, old_tid: PID, filename: path(FILE_PATH), ..Default::default() }),
        }
    };
    [
        call(Kind::Socket, PID, MS, 3, &[1, 1, 0], Payload::NewFd(NewFd { object })),
        call(Kind::Connect, PID, 2 * MS, 0, &[3, 0, addr.len as u64], Payload::Addr(AddrPayload { addr })),
        call(Kind::Dup2, PID, 3 * MS, 1, &[3, 1], Payload::None),
        call(Kind::Close, PID, 4 * MS, 0, &[2], Payload::None),
        call(
            Kind::Openat,
            PID,
            5 * MS,
            2,
            &[-100i64 as u64, 0, 0],
            Payload::Open(OpenPayload { object: file, how: [0; 3], tty_index: -1, _pad: 0, path: path(FILE_PATH) }),
        ),
        exec,
    ]
    .into_iter()
    .map(hostile)
    .collect()
}

/// Everything the sink writes for the scenario, in `format`, and how many lines text
/// output must have for it (one per record; an alert is its header, message,
/// `evidence:`, one line per item and a blank line).
fn run(format: Format) -> (Vec<u8>, usize) {
    let mut model = Model::default();
    let fds = (0..3)
        .map(|fd| FdSnapshot {
            fd,
            link: b"/dev/pts/0".to_vec(),
            cloexec: false,
            access: Access::ReadWrite,
            ino: 3,
            tty_index: None,
        })
        .collect();
    let snap = ProcSnapshot {
        pid: PID,
        ppid: 1,
        comm: COMM.to_vec(),
        exe: Some(FILE_PATH.to_vec()),
        args: None,
        read_at_ns: 0,
        fds,
    };
    model.load_snapshot(&snap, Step::PresentAtStart);
    let clock = Clock::fixed(0);
    let mut detectors = Detectors::new(Config::default(), clock);
    let capture = Capture::default();
    let mut sink = Sink::new(format, clock, Box::new(capture.clone()));
    let mut lines = 0;
    let events = events();
    for event in &events {
        sink.event(event);
        lines += 1;
        detectors.before(&model, event);
        model.apply(event);
        detectors.after(&model, event);
    }
    detectors.finish(10 * MS);
    let mut outputs = detectors.take();
    let kinds: Vec<(AlertKind, &str)> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Alert(a) => Some((a.kind, a.message.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(kinds.len(), 2, "two alerts: {kinds:?}");
    outputs.push(Output::Repeat {
        id: 1,
        kind: AlertKind::StdioHijack,
        pid: PID,
        comm: lossy(COMM),
        count: 2,
        ts_ns: 0,
    });
    outputs.push(Output::Resolved {
        id: 2,
        kind: AlertKind::PipeLeak,
        pid: PID,
        comm: lossy(COMM),
        message: format!("pid {PID} ({}) can see EOF now", lossy(COMM)),
        waited_ns: 1,
        ts_ns: 0,
    });
    // A symptom after the window: the event of a hostile process, one line.
    outputs.push(Output::Symptom {
        id: 1,
        kind: AlertKind::StdioHijack,
        pid: PID,
        comm: lossy(COMM),
        event: Box::new(events.iter().find(|e| e.kind == Kind::Close).copied().expect("a close event")),
    });
    for output in &outputs {
        sink.output(output);
        lines += match output {
            Output::Alert(a) => 3 + a.evidence.len() + 1,
            Output::Repeat { .. } => 1,
            Output::Resolved { .. } => 2,
            Output::Symptom { .. } => 1,
        };
    }
    sink.resync(Some((PID, COMM)), "a close of an fd the model did not know", 1, 0);
    sink.resync(None, "events were lost in the kernel ring buffer", 3, 1);
    lines += 2;
    for fd in 0..3 {
        let name = (fd == 2).then(|| FILE_PATH.to_vec());
        let fields = describe::fd_fields(&model, PID, fd, &clock, name).expect("fd known");
        sink.fd(&fields);
        lines += 1;
    }
    let mut lost = [0; fdwatch_common::MAX_KIND as usize];
    lost[Kind::Openat as usize] = 3;
    sink.loss(LossSite::KernelRingBuffer, &lost, 3);
    lines += 1;
    sink.flush().expect("captured");
    let out = capture.0.borrow().clone();
    (out, lines)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_text_record_is_escaped_one_line_each() {
    let (out, lines) = run(Format::Text);
    let text = String::from_utf8(out.clone()).expect("escaped text is UTF-8");
    assert!(escape::is_clean(&out), "control bytes in text output:\n{text}");
    assert_eq!(text.lines().count(), lines, "one line per record:\n{text}");
    let has = |needle: &str, times: usize| {
        assert_eq!(text.matches(needle).count(), times, "{needle:?} {times} times in:\n{text}");
    };
    // Events (and the alerts' evidence events) carry the kernel's comm bytes.
    has(&format!("{COMM_TEXT}[100/100] socket("), 1);
    has(&format!("{COMM_TEXT}[100/100] connect(sockfd=3, addr={SOCK_PATH_TEXT}, addrlen="), 1);
    has(&format!("{COMM_TEXT}[100/100] openat(dirfd=AT_FDCWD, pathname={FILE_PATH_TEXT}, "), 2);
    // The exec: its event line, and the evidence of the socket alert it shaped.
    has(&format!("{COMM_TEXT}[100/100] exec(filename={FILE_PATH_TEXT}, "), 2);
    // dup2 and openat: their event lines, and the evidence of the alerts.
    has(&format!("{COMM_TEXT}[100/100] dup2(oldfd=3, newfd=1) = 1"), 2);
    // Alerts, repeat, resolved, resync and fd records name the process as the model
    // knows it (from /proc): text, its 0xff already U+FFFD.
    has(&format!("WARNING stdio_hijack #1 pid 100 ({COMM_MODEL_TEXT})"), 1);
    has(&format!("WARNING stdio_hijack #2 pid 100 ({COMM_MODEL_TEXT})"), 1);
    has(&format!("socket connected to {SOCK_PATH_TEXT}"), 2);
    has(&format!("the file {FILE_PATH_MODEL_TEXT}"), 2);
    has(&format!("alert #1 on pid 100 ({COMM_MODEL_TEXT}) happened 2 more times"), 1);
    has(&format!("RESOLVED pipe_leak alert #2: pid 100 ({COMM_MODEL_TEXT}) can see EOF now"), 1);
    has(&format!("~ fdwatch re-read pid 100 ({COMM_TEXT}) from /proc"), 1);
    has(&format!("pid=100, comm={COMM_MODEL_TEXT}, fd=2, object={{type=file, name={FILE_PATH_TEXT}, "), 1);
    has(&format!("SYMPTOM stdio_hijack alert #1: {COMM_TEXT}[100/100] close(fd=2) = 0"), 1);
    // The forged alert line in the socket's path stays inside the lines that quote it:
    // no line starts like a critical alert (there is none), two like the warnings.
    let starts_with = |word: &'static str| move |l: &&str| l.get(15..).is_some_and(|rest| rest.starts_with(word));
    assert_eq!(text.lines().filter(starts_with(" CRITICAL ")).count(), 0, "{text}");
    assert_eq!(text.lines().filter(starts_with(" WARNING ")).count(), 2, "{text}");
    assert!(!text.lines().any(|l| l.starts_with("19:00:00.000000")), "{text}");
}

/// The same records as NDJSON: every line a JSON object whose strings are the values
/// themselves (comm and paths with their control characters; invalid UTF-8 as U+FFFD,
/// as before), never the text escapes.
#[test]
fn json_records_carry_the_values_unchanged() {
    let (out, _) = run(Format::Json);
    let records: Vec<serde_json::Value> = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l))))
        .collect();
    let events: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "event").collect();
    assert_eq!(events.len(), 6);
    for e in &events {
        assert_eq!(e["comm"], lossy(COMM));
    }
    assert_eq!(events[1]["addr"], lossy(SOCK_PATH));
    assert_eq!(events[4]["pathname"], lossy(FILE_PATH));
    assert_eq!(events[5]["filename"], lossy(FILE_PATH));
    let alert = records.iter().find(|r| r["type"] == "alert").expect("an alert");
    assert_eq!(alert["comm"], lossy(COMM));
    assert!(alert["message"].as_str().unwrap().contains(&lossy(SOCK_PATH)), "{alert}");
    let resync = records.iter().find(|r| r["type"] == "resync").expect("a resync");
    assert_eq!(resync["comm"], lossy(COMM));
    let fd2 = records.iter().find(|r| r["type"] == "fd" && r["fd"] == 2).expect("fd 2");
    assert_eq!(fd2["object"]["name"], lossy(FILE_PATH));
    assert!(!String::from_utf8_lossy(&out).contains(r"\\x1b"), "no text escapes in JSON");
}

/// An abstract socket name is escaped where it is decoded (decode/names/sockaddr.rs,
/// for JSON too); text output escapes the line once more, so its backslashes double and
/// the line reads back to exactly the JSON value.
#[test]
fn abstract_socket_names_are_escaped_once_more_in_text() {
    let mut addr = SockAddr { len: 2 + 5, ..Default::default() };
    addr.bytes[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
    addr.bytes[2..7].copy_from_slice(b"\0x\n\\y");
    let connect = call(Kind::Connect, PID, MS, 0, &[3, 0, 7], Payload::Addr(AddrPayload { addr }));
    let write = |format| {
        let capture = Capture::default();
        let mut sink = Sink::new(format, Clock::fixed(0), Box::new(capture.clone()));
        sink.event(&connect);
        sink.flush().expect("captured");
        let out = capture.0.borrow().clone();
        String::from_utf8(out).expect("UTF-8")
    };
    let json: serde_json::Value = serde_json::from_str(write(Format::Json).trim_end()).unwrap();
    assert_eq!(json["addr"], r"@x\x0a\\y");
    let text = write(Format::Text);
    assert!(text.contains(r"addr=@x\\x0a\\\\y, "), "{text}");
    assert!(escape::is_clean(text.as_bytes()));
}
