//! Hostile records through the whole pipeline as the collector runs it (decode, the
//! detectors, the model, both sinks), without root or /proc: the cases the fuzz target
//! (fuzz/) guards, as plain tests.
use std::{cell::RefCell, io, rc::Rc};

use fdwatch_common::{FdObject, Kind, NewFd};

use crate::{
    clock::Clock,
    collect::{Collector, Host, Options},
    decode::{Body, Event, Payload, Timebase, decode, event::encode},
    detect::{Config, Detectors},
    model::{Pid, snapshot::ProcSnapshot, synthetic},
    outputs::Format,
    scope::{Scope, Watch},
    sinks::Sink,
};

const MS: u64 = 1_000_000;
const T0: u64 = 5_000 * MS;

/// A host whose /proc has nothing to say, at a fixed time.
struct NoProc(u64);

impl crate::containers::Source for NoProc {}

impl Host for NoProc {
    fn now_ns(&self) -> u64 {
        self.0
    }
    fn snapshot(&mut self, _: Pid) -> Option<ProcSnapshot> {
        None
    }
    fn fd_link(&mut self, _: Pid, _: i32) -> Option<Vec<u8>> {
        None
    }
}

#[derive(Clone, Default)]
struct Out(Rc<RefCell<Vec<u8>>>);

impl io::Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `fdwatch --events` over process 100 (fds 0-2 on a tty), writing `format` into `Out`.
fn collector(format: Format) -> (Collector<NoProc>, Out) {
    let out = Out::default();
    let clock = Clock::fixed(0);
    let sink = Sink::named(format, clock, "test".into(), Box::new(out.clone()));
    let watch = Watch::new(&Scope::Host);
    let options = Options {
        show_events: true,
        duration: None,
        dump_on_exit: true,
        watch,
        stdout: None,
        layout: Default::default(),
        timebase: Default::default(),
    };
    let detectors = Detectors::new(Config::default(), clock);
    let model = synthetic::model_with(100);
    (Collector::with_host(model, detectors, sink, clock, options, NoProc(T0 + 10_000 * MS)), out)
}

/// `syscall(SYS_close, 0x100000001)` by pid 100, as the probe sends it: the whole
/// register, and whatever the caller left in the registers close(2) does not take.
fn wide_close() -> Vec<u8> {
    let args = [0x1_0000_0001, 0xdead_beef, u64::MAX, 7, 7, 7];
    encode(&synthetic::call(Kind::Close, 100, T0, 0, &args, Payload::None))
}

/// A UDP socket that then gets fd 1, the number the close freed.
fn socket_on_1() -> Vec<u8> {
    let object = FdObject { ino: 4242, mode: synthetic::SOCK, file_flags: 2, valid: 1, ..Default::default() };
    encode(&synthetic::call(Kind::Socket, 100, T0 + MS, 1, &[2, 2, 0], Payload::NewFd(NewFd { object })))
}

#[test]
fn a_close_of_a_register_wider_than_an_fd_is_decoded_as_the_fd_the_kernel_closed() {
    let event = decode(&wide_close(), &Timebase::default()).unwrap();
    let Body::Syscall { args, ret, .. } = event.body else { panic!("{event:?}") };
    assert_eq!((args, ret), ([1, 0, 0, 0, 0, 0], 0), "sys_close(unsigned int fd) takes the low 32 bits");
}

#[test]
fn the_pipeline_reports_a_wide_close_as_closing_stdout_and_goes_on() {
    let (mut c, out) = collector(Format::Json);
    c.record(&wide_close());
    c.record(&socket_on_1());
    c.after_batch();
    c.end();
    c.sink().flush().unwrap();
    let text = String::from_utf8(out.0.take()).unwrap();
    let records: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let close = records.iter().find(|r| r["syscall"] == "close").unwrap_or_else(|| panic!("no close in {text}"));
    assert_eq!((&close["fd"], &close["ret"], &close["pid"]), (&1.into(), &0.into(), &100.into()), "{close}");
    // The model took the close: the socket got fd 1 of a process whose stdout was
    // closed, and the alert names that close as the first link.
    let alert = records.iter().find(|r| r["type"] == "alert").unwrap_or_else(|| panic!("no alert in {text}"));
    assert_eq!((&alert["kind"], &alert["shape"]), (&"stdio_hijack".into(), &"landed_on_stdio".into()), "{alert}");
    let first = &alert["evidence"][0];
    assert_eq!((&first["syscall"], &first["args"]["fd"]), (&"close".into(), &1.into()), "{alert}");
    // --dump-on-exit: fd 1 is the socket now.
    let dump = records.iter().find(|r| r["type"] == "fd" && r["fd"] == 1).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(dump["object"]["ino"], 4242, "{dump}");
}

#[test]
fn the_text_sink_shows_the_fd_the_kernel_closed() {
    let (mut c, out) = collector(Format::Text);
    c.record(&wide_close());
    c.record(&socket_on_1());
    c.after_batch();
    c.end();
    c.sink().flush().unwrap();
    let text = String::from_utf8_lossy(&out.0.take()).into_owned();
    assert!(text.contains("test[100/100] close(fd=1) = 0"), "{text}");
    assert!(text.contains("WARNING stdio_hijack"), "{text}");
}

#[test]
fn an_event_built_by_hand_goes_through_the_pipeline_unchanged() {
    // encode is decode's inverse for every kind the synthetic helpers build.
    let events: Vec<Event> = vec![
        synthetic::pipe(100, T0, [3, 4], 7, 0),
        synthetic::socket(100, T0, 5, 8, true),
        synthetic::fork(100, 200, T0, false, false),
        synthetic::exec(200, T0, "/bin/true"),
        synthetic::exit(200, T0),
    ];
    for e in events {
        let back = decode(&encode(&e), &Timebase::default()).unwrap();
        assert_eq!((back.kind, back.header), (e.kind, e.header));
    }
}
