//! The pipes of a test helper process: its stdout as a channel of lines (None at EOF),
//! its stderr collected in the background, its stdin kept for the test to write.
use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, ChildStdin},
    sync::{
        Arc, Mutex,
        mpsc::{self, Receiver},
    },
    thread,
};

pub struct ChildIo {
    pub stdin: Option<ChildStdin>,
    pub lines: Receiver<Option<String>>,
    pub stderr: Arc<Mutex<Vec<u8>>>,
}

/// Take `child`'s piped stdin, stdout and stderr.
pub fn capture(child: &mut Child) -> ChildIo {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let sink = Arc::clone(&stderr);
    thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = err_pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    ChildIo { stdin: child.stdin.take(), lines, stderr }
}
