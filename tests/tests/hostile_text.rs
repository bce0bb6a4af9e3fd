//! Text output against hostile names (issue 12): a real process names itself with ESC,
//! CR, BEL, a newline, U+202E and a byte that is not UTF-8 (prctl(PR_SET_NAME), as any
//! user may), runs from a directory whose name holds the same, opens a file and
//! connects a unix socket whose paths forge an alert line, and dup2s the socket onto its
//! stdout (a stdio_hijack alert). fdwatch runs in text mode (`--events --pid`), and
//! `fdwatch fds --pid` lists the process. Their raw bytes must hold no control
//! character but the line end, no C1 control and no bidi, zero-width or line-separator
//! code point; each name must appear in its escaped form; and there must be exactly one
//! line per record (an alert: its header, message, `evidence:`, one line per item and a
//! blank line).
use std::{
    ffi::OsStr,
    fs,
    os::unix::{ffi::OsStrExt, net::UnixListener},
    path::PathBuf,
    process::Command,
};

use fdwatch_tests::{
    DEADLINE,
    alerts::Proc,
    helpers::hostile_bin,
    text_output::{TextFdwatch, dump, run_to_end},
};

/// 14 bytes (a comm holds 15): SGR red, CR, BEL, a newline, U+202E (RLO), 0xff.
const COMM: &[u8] = b"\x1b[31m\r\x07\n\xe2\x80\xae\xffok";
/// As events show it: the kernel's bytes, escaped.
const COMM_ESC: &str = r"\x1b[31m\r\x07\n\u{202e}\xffok";
/// As alerts show it: the fd model keeps names as text, so the 0xff is U+FFFD there
/// (as in JSON), a printable character.
const COMM_MODEL_ESC: &str = "\\x1b[31m\\r\\x07\\n\\u{202e}\u{fffd}ok";
/// The executable's directory: SGR magenta, a newline, U+202E, 0xfe.
const EXE_DIR: &[u8] = b"bin\x1b[35m\n\xe2\x80\xae\xfe";
const EXE_DIR_ESC: &str = r"bin\x1b[35m\n\u{202e}\xfe";
/// A forged alert line, an OSC that sets the terminal's title, 0xff, U+202E.
const FILE: &[u8] = b"f\n00:00:00.000000 CRITICAL stdio_hijack #9 pid 1 (init)\x1b]0;pwned\x07\xff\xe2\x80\xae";
const FILE_ESC: &str = r"f\n00:00:00.000000 CRITICAL stdio_hijack #9 pid 1 (init)\x1b]0;pwned\x07\xff\u{202e}";
/// A forged alert line, a screen clear, U+202E, a backslash.
const SOCK: &[u8] = b"s\n00:00:00.000000 CRITICAL x\x1b[2J\xe2\x80\xae\\";
const SOCK_ESC: &str = r"s\n00:00:00.000000 CRITICAL x\x1b[2J\u{202e}\\";

/// The test's directory under /tmp (an ASCII name), removed with all in it on drop.
struct Scene {
    dir: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let dir = PathBuf::from(format!("/tmp/fdwatch-test-{}-hostile", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        Scene { dir }
    }

    fn path(&self, name: &[u8]) -> PathBuf {
        self.dir.join(OsStr::from_bytes(name))
    }

    fn text(&self) -> &str {
        self.dir.to_str().expect("an ASCII path")
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Panics unless `bytes` are what text output may hold: UTF-8 (a byte that is not
/// UTF-8 must be shown escaped), complete lines, and no control character (C0, DEL, C1)
/// but the line end, no bidi control, zero-width character, or line or paragraph
/// separator.
#[track_caller]
fn assert_clean(what: &str, bytes: &[u8], context: &str) {
    let text = std::str::from_utf8(bytes)
        .unwrap_or_else(|e| panic!("{what}: a raw byte that is not UTF-8 at {}\n{context}", e.valid_up_to()));
    for (i, c) in text.char_indices() {
        // char::is_control is general category Cc: C0, DEL and C1.
        let forbidden = (c.is_control() && c != '\n')
            || matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
        assert!(!forbidden, "{what}: {c:?} at byte {i}\n{context}");
    }
    assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "{what}: the last line is incomplete\n{context}");
}

/// `HH:MM:SS.uuuuuu`.
fn is_time(s: &str) -> bool {
    s.len() == 15
        && s.bytes().enumerate().all(|(i, b)| match i {
            2 | 5 => b == b':',
            8 => b == b'.',
            _ => b.is_ascii_digit(),
        })
}

/// The records of fdwatch's text stdout: events (the line after its time) and alerts
/// (all lines of the block). Panics on a line that is neither, so the lines add up to
/// the records exactly.
fn records<'a>(lines: &[&'a str], pid: i64, context: &str) -> (Vec<&'a str>, Vec<Vec<&'a str>>) {
    let event = format!(" {COMM_ESC}[{pid}/{pid}] ");
    let alert = format!(" WARNING stdio_hijack #1 pid {pid} ({COMM_MODEL_ESC})");
    let (mut events, mut alerts) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < lines.len() {
        let (time, rest) = lines[i].split_at_checked(15).unwrap_or(("", lines[i]));
        assert!(is_time(time), "line {i} does not start with a time: {:?}\n{context}", lines[i]);
        if let Some(call) = rest.strip_prefix(&event) {
            events.push(call);
            i += 1;
        } else if rest == alert {
            // Header, message, "  evidence:", items, blank line.
            let start = i;
            let message = lines.get(i + 1).copied().unwrap_or_default();
            assert!(message.starts_with("  ") && !message.starts_with("   "), "alert message: {message:?}\n{context}");
            assert_eq!(lines.get(i + 2).copied(), Some("  evidence:"), "{context}");
            i += 3;
            while let Some(item) = lines.get(i).and_then(|l| l.strip_prefix("    ")) {
                let (time, kind) = item.split_at_checked(15).unwrap_or(("", item));
                assert!(
                    is_time(time) && [" fact    ", " event   ", " symptom "].iter().any(|k| kind.starts_with(k)),
                    "evidence line {i}: {item:?}\n{context}"
                );
                i += 1;
            }
            assert!(i > start + 3, "an alert without evidence\n{context}");
            assert_eq!(lines.get(i).copied(), Some(""), "the alert block ends with a blank line\n{context}");
            i += 1;
            alerts.push(lines[start..i].to_vec());
        } else {
            panic!("line {i} is no record of this scenario: {:?}\n{context}", lines[i]);
        }
    }
    (events, alerts)
}

#[test]
fn hostile_names_are_escaped_in_text_output_byte_by_byte() {
    let scene = Scene::new();
    let base = scene.text().to_owned();
    let exe_dir = scene.path(EXE_DIR);
    fs::create_dir(&exe_dir).unwrap();
    let exe = exe_dir.join("hostile");
    fs::copy(hostile_bin(), &exe).unwrap_or_else(|e| panic!("copy the helper to {}: {e}", exe.display()));
    let file = scene.path(FILE);
    fs::write(&file, b"x").unwrap();
    let sock = scene.path(SOCK);
    // Connections wait in the backlog: nobody needs to accept them.
    let _listener = UnixListener::bind(&sock).unwrap_or_else(|e| panic!("bind {}: {e}", sock.display()));

    let mut cmd = Command::new(&exe);
    cmd.arg(OsStr::from_bytes(COMM)).arg(&file).arg(&sock);
    let mut helper = Proc::spawn(cmd, "the hostile helper");
    let pid = Proc::field(&helper.line("ready"), "pid");
    let fw = TextFdwatch::start(&["--events", "--pid", &pid.to_string()]);
    helper.send("go");
    helper.line("done file=3 sock=4");
    let dup2 = format!("[{pid}/{pid}] dup2(oldfd=4, newfd=1) = 1\n");
    fw.wait_for("the dup2 event", DEADLINE, |out, _| contains(out, dup2.as_bytes()));

    // `fdwatch fds` while the process holds the file and the socket (on fds 1 and 4).
    let pid_arg = pid.to_string();
    let (status, fds_out, fds_err) =
        // Read from /proc (no agent asked): the names as the process made them.
        run_to_end(&["fds", "--pid", pid_arg.as_str(), "--control-socket", "off"].map(OsStr::new), DEADLINE);
    let context = dump(&fds_out, &fds_err);
    assert!(status.success() && fds_err.is_empty(), "fdwatch fds --pid {pid}: {status}\n{context}");
    assert_clean("fdwatch fds", &fds_out, &context);
    let text = String::from_utf8_lossy(&fds_out);
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    assert_eq!(fds, 5, "the helper holds fds 0-4");
    assert_eq!(lines.len(), 2 + fds, "a header, the column names, one line per fd\n{context}");
    assert_eq!(lines[0], format!("pid {pid} ({COMM_ESC}) {base}/{EXE_DIR_ESC}/hostile"), "{context}");
    assert_eq!(lines[1], format!("    FD  CLOEXEC  ACCESS      TYPE    {:<24}  ORIGIN", "OBJECT"), "{context}");
    assert!(lines[2 + 1].starts_with("     1  ") && lines[2 + 1].contains("  socket  socket:["), "{context}");
    assert!(lines[2 + 3].starts_with("     3  "), "{context}");
    assert!(lines[2 + 3].contains(&format!("  file    {base}/{FILE_ESC}")), "{context}");
    assert!(lines[2 + 3].ends_with(&format!("re-read from /proc in {pid}")), "{context}");

    // The alert (a socket on the stdout of a program that is no shell: a warning) is
    // written after its 250 ms window, while the helper lives; its block ends with a
    // blank line. (One that exits within the window is dropped: alert_shells.rs.)
    fw.wait_for("the alert", DEADLINE, |out, _| contains(out, b"\n\n"));
    helper.send("exit");
    helper.finish_ok();
    let exit = format!("[{pid}/{pid}] exit(");
    fw.wait_for("the exit event", DEADLINE, |out, _| contains(out, exit.as_bytes()));
    let (status, out, err) = fw.stop();
    let context = dump(&out, &err);
    assert!(status.success(), "fdwatch exited {status}\n{context}");
    assert_clean("stdout", &out, &context);
    assert_clean("stderr", &err, &context);

    let err = String::from_utf8_lossy(&err);
    let err_lines: Vec<&str> = err.split_terminator('\n').collect();
    assert_eq!(err_lines.len(), 2, "stderr: the ready line and the totals\n{context}");
    assert!(err_lines[0].starts_with("fdwatch: ready: ") && err_lines[1].contains(" events in "), "{context}");

    let text = String::from_utf8_lossy(&out);
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let (events, alerts) = records(&lines, pid, &context);
    // Exactly the helper's calls after fdwatch was ready, each one line.
    assert_eq!(events.len(), 5, "{context}");
    assert!(events[0].starts_with(&format!("openat(dirfd=AT_FDCWD, pathname={base}/{FILE_ESC}, flags=O_RDONLY, ")));
    assert!(events[0].ends_with(") = 3"), "{context}");
    assert!(events[1].starts_with("socket(domain=AF_UNIX, socket_type=SOCK_STREAM, ") && events[1].ends_with(") = 4"));
    assert_eq!(events[2], format!("connect(sockfd=4, addr={base}/{SOCK_ESC}, addrlen=110) = 0"), "{context}");
    assert_eq!(events[3], "dup2(oldfd=4, newfd=1) = 1", "{context}");
    assert_eq!(events[4], "exit(group_dead=true, exit_code=0)", "{context}");
    // One alert; its message and evidence quote the comm and the socket's path escaped.
    assert_eq!(alerts.len(), 1, "{context}");
    let alert = &alerts[0];
    assert_eq!(lines.len(), events.len() + alert.len(), "{context}");
    let onto =
        format!("  pid {pid} ({COMM_MODEL_ESC}) has an AF_UNIX SOCK_STREAM socket connected to {base}/{SOCK_ESC} (");
    assert!(alert[1].starts_with(&onto), "message: {:?}\n{context}", alert[1]);
    assert!(alert.iter().any(|l| l.contains(&format!(" fact    fd 4 of pid {pid} ({COMM_MODEL_ESC}) is an AF_UNIX"))));
    assert!(alert.iter().any(|l| l.ends_with(&format!(" event   {COMM_ESC}[{pid}/{pid}] dup2(oldfd=4, newfd=1) = 1"))));
    // The forged lines stay inside the lines that quote them.
    assert!(!text.contains("\n00:00:00.000000 CRITICAL"), "{context}");
    assert_eq!(lines.iter().filter(|l| l.get(15..).is_some_and(|r| r.starts_with(" CRITICAL "))).count(), 0);
    assert_eq!(lines.iter().filter(|l| l.get(15..).is_some_and(|r| r.starts_with(" WARNING "))).count(), 1);
}
