//! Accepting control clients on the tokio side. Each client is a task with a deadline
//! for every step (its request, the collector's answer, writing the reply): a dead or
//! slow client is dropped and counted, and no client ever makes the collector wait.
//! The collector takes requests from a bounded channel (collect.rs, a few per turn of
//! its loop) and answers over a oneshot.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
    time::timeout,
};

use super::{
    answer,
    listen::Socket,
    protocol::{self, MAX_REQUEST_BYTES, Query},
};
use crate::{clock::Clock, error::report, sinks::Queries};

/// Clients served at once at most; more are told the agent is busy. Each holds at most
/// one reply (answer::MAX_REPLY_BYTES) in memory.
pub const MAX_CLIENTS: usize = 8;
/// How long a client may take to send its request, and to take its reply.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(5);
/// How long the collector may take to answer (it answers within a turn of its loop,
/// 10 ms, unless a flood keeps it draining).
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(5);

/// What became of the clients, for the `stats` record.
#[derive(Debug, Default)]
pub struct Counts {
    /// Replies written whole.
    pub answered: AtomicU64,
    /// Clients whose uid is not 0.
    pub refused: AtomicU64,
    /// Clients that sent no complete request, or did not take their reply, in time.
    pub dropped: AtomicU64,
    /// Clients told the agent was busy (too many clients, or the collector's queue full).
    pub busy: AtomicU64,
    active: AtomicUsize,
}

impl Counts {
    pub fn totals(&self) -> Queries {
        Queries {
            answered: self.answered.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
        }
    }
}

/// The collector's end: requests to answer, those it is answering, and the counts to
/// report.
pub struct Inbox {
    pub queries: mpsc::Receiver<Query>,
    pub turns: super::turns::Turns,
    pub counts: Arc<Counts>,
}

/// Serve `socket` from now on (needs a running tokio runtime). The socket's file is
/// removed when the accept task ends with the runtime.
pub fn start(socket: Socket, clock: Clock, host: String) -> Result<Inbox, String> {
    let std_listener = socket.listener.try_clone().map_err(|e| format!("control socket: {e}"))?;
    let listener = UnixListener::from_std(std_listener).map_err(|e| format!("control socket: {e}"))?;
    let (tx, rx) = mpsc::channel(MAX_CLIENTS);
    let counts = Arc::new(Counts::default());
    let shared = Arc::new(Shared { tx, counts: Arc::clone(&counts), clock, host });
    tokio::spawn(async move {
        let _socket = socket; // removed from disk when this task is dropped
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move { shared.client(stream).await });
                }
                Err(e) => {
                    // EMFILE and the like: say so, back off, go on.
                    report(format_args!("control socket: accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(Inbox { queries: rx, turns: Default::default(), counts })
}

struct Shared {
    tx: mpsc::Sender<Query>,
    counts: Arc<Counts>,
    clock: Clock,
    host: String,
}

/// Counts a client in and out of `Counts::active`.
struct Active<'a>(&'a AtomicUsize);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shared {
    fn refusal(&self, why: &str) -> Vec<u8> {
        answer::refusal(&self.clock.rfc3339(Clock::monotonic_now_ns()), &self.host, why)
    }

    async fn client(&self, mut stream: UnixStream) {
        let active = self.counts.active.fetch_add(1, Ordering::Relaxed) + 1;
        let _active = Active(&self.counts.active);
        // unix(7), SO_PEERCRED: the credentials of the process that connected.
        let uid = match stream.peer_cred() {
            Ok(cred) => cred.uid(),
            Err(e) => {
                report(format_args!("control socket: a client without credentials ({e}) is dropped"));
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        // The request is read first, whoever sent it (a line of at most 4 KiB, within
        // the deadline): closing on a client whose request is still unread would reset
        // the connection (tcp(7)'s RST applies to unix streams too: unread data makes
        // close(2) abort), and it would never see why it was refused.
        let (read, mut write) = stream.split();
        let mut line = Vec::with_capacity(256);
        let mut reader = BufReader::new(read).take(MAX_REQUEST_BYTES as u64 + 1);
        let request = match timeout(CLIENT_DEADLINE, reader.read_until(b'\n', &mut line)).await {
            Ok(Ok(_)) if line.last() == Some(&b'\n') => protocol::parse(&line[..line.len() - 1]),
            Ok(Ok(_)) if line.len() > MAX_REQUEST_BYTES => {
                Err(format!("a request is one line of at most {MAX_REQUEST_BYTES} bytes"))
            }
            // Closed before a whole line, or too slow: nobody to answer.
            _ => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let refused = if uid != 0 {
            self.counts.refused.fetch_add(1, Ordering::Relaxed);
            report(format_args!("control socket: refused a client of uid {uid} (only root may query)"));
            Some(format!("refused: uid {uid} is not root; only root may query fdwatch"))
        } else if active > MAX_CLIENTS {
            self.counts.busy.fetch_add(1, Ordering::Relaxed);
            Some(format!("busy: {MAX_CLIENTS} clients are being served; try again"))
        } else {
            None
        };
        if let Some(why) = refused {
            let _ = timeout(CLIENT_DEADLINE, async {
                write.write_all(&self.refusal(&why)).await?;
                write.shutdown().await
            })
            .await;
            return;
        }
        let reply = match request {
            Err(why) => self.refusal(&why),
            Ok(request) => {
                let (reply, answered) = oneshot::channel();
                match self.tx.try_send(Query { request, reply }) {
                    Ok(()) => match timeout(ANSWER_DEADLINE, answered).await {
                        Ok(Ok(bytes)) => bytes,
                        Ok(Err(_)) => self.refusal("the agent is stopping"),
                        Err(_) => self.refusal("the collector did not answer in time (it is busy draining events)"),
                    },
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        self.counts.busy.fetch_add(1, Ordering::Relaxed);
                        self.refusal("busy: too many queries are waiting; try again")
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => self.refusal("the agent is stopping"),
                }
            }
        };
        match timeout(CLIENT_DEADLINE, async {
            write.write_all(&reply).await?;
            write.shutdown().await
        })
        .await
        {
            Ok(Ok(())) => {
                self.counts.answered.fetch_add(1, Ordering::Relaxed);
            }
            // Gone, or not reading: its reply is dropped with it.
            _ => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
