//! Shell scenarios for the stdio_hijack tests of issue 15: a script run by
//! `fdops wait exec /bin/sh SCRIPT` under `fdwatch --pid <it> --follow`, and the
//! other end of its connection ([`Peer`]): a TCP listener of the test that types
//! commands into whatever connects and reads what comes back.
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::Command,
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{DEADLINE, Fdwatch, POLL, TempPath, alerts::Proc, check, fdops_bin};

/// The test's end of a reverse shell: listens on 127.0.0.1, accepts one connection,
/// sends `input`, and collects what comes back until EOF (or DEADLINE).
pub struct Peer {
    pub port: u16,
    rx: mpsc::Receiver<Result<String, String>>,
}

impl Peer {
    pub fn listen(input: &str) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let input = input.to_owned();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let result = (|| {
                listener.set_nonblocking(true).map_err(|e| e.to_string())?;
                let until = Instant::now() + DEADLINE;
                let conn = loop {
                    match listener.accept() {
                        Ok((s, _)) => break s,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < until => {
                            thread::sleep(POLL)
                        }
                        Err(e) => return Err(format!("no connection within {DEADLINE:?}: {e}")),
                    }
                };
                talk(conn, &input)
            })();
            let _ = tx.send(result);
        });
        Peer { port, rx }
    }

    /// Connects to a bind shell listening on `port` (retrying until it listens).
    pub fn connect(port: u16, input: &str) -> Peer {
        let input = input.to_owned();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let result = (|| {
                let until = Instant::now() + DEADLINE;
                let conn = loop {
                    match TcpStream::connect(("127.0.0.1", port)) {
                        Ok(s) => break s,
                        Err(_) if Instant::now() < until => thread::sleep(POLL),
                        Err(e) => return Err(format!("cannot connect to the bind shell on {port}: {e}")),
                    }
                };
                talk(conn, &input)
            })();
            let _ = tx.send(result);
        });
        Peer { port, rx }
    }

    /// What the shell sent back; panics (with `what`) if the exchange failed.
    #[track_caller]
    pub fn output(&self, what: &str) -> String {
        match self.rx.recv_timeout(DEADLINE + Duration::from_secs(5)) {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => panic!("{what}: {e}"),
            Err(e) => panic!("{what}: the peer gave no result: {e}"),
        }
    }
}

fn talk(mut conn: TcpStream, input: &str) -> Result<String, String> {
    conn.set_read_timeout(Some(DEADLINE)).map_err(|e| e.to_string())?;
    // Give the shell a moment to start before typing (like a person would).
    thread::sleep(Duration::from_millis(300));
    conn.write_all(input.as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut out = Vec::new();
    let _ = conn.read_to_end(&mut out);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `script` run by /bin/sh as the child of an fdops that waits until fdwatch
/// watches it (with --follow and `extra`); returns the root's pid and every record once
/// the script exited 0 and its exit was seen.
pub fn run_script(script: &str, extra: &[&str], what: &str) -> (i64, Vec<Value>) {
    let scenario = start_script(script, extra, what);
    let pid = scenario.0;
    (pid, scenario.finish(what))
}

/// A running scenario: the root's pid, the root, fdwatch, and the script's file.
pub struct Scenario(pub i64, pub Proc, pub Fdwatch, TempPath);

/// Starts `script` as [`run_script`] does, and returns once it is let go. The script is
/// a file /bin/sh runs (fdops would substitute the `%vars` of a -c argument itself).
pub fn start_script(script: &str, extra: &[&str], what: &str) -> Scenario {
    let file = TempPath::new("script.sh");
    std::fs::write(&file.0, script).expect("write the scenario's script");
    let mut cmd = Command::new(fdops_bin());
    cmd.args(["wait", "exec", "/bin/sh", file.as_str()]);
    let mut root = Proc::spawn(cmd, what);
    root.line("op=wait");
    let mut args = vec!["--follow"];
    args.extend_from_slice(extra);
    let fw = Fdwatch::watch(root.pid(), &args);
    root.send("go");
    Scenario(root.pid(), root, fw, file)
}

impl Scenario {
    /// Waits for the script to exit 0 and fdwatch to see it; stops fdwatch.
    pub fn finish(self, what: &str) -> Vec<Value> {
        let Scenario(pid, mut root, fw, _file) = self;
        root.finish_ok();
        fw.expect(&format!("the exit of {what}"), DEADLINE, |r| check::event_of(r, pid, "exit"));
        crate::alerts::stop(fw)
    }
}
