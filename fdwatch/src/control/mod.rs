//! Live queries to the running agent (issue 16): a local unix control socket, root
//! only, that answers "which fds does pid N hold, and how did it get them" and "who
//! holds this object" from the collector's fd model.
//!
//! - [`protocol`]: the request line and what it asks (pure);
//! - [`answer`]: the reply, rendered from the model in the collector loop (pure);
//! - [`listen`]: the socket on disk (directory 0700, socket 0600, a stale one replaced);
//! - [`server`]: accepting clients on the tokio side, each with a deadline, handing
//!   requests to the collector through a bounded channel;
//! - [`client`]: `fdwatch fds` and `fdwatch holders` asking it.
//!
//! - [`turns`]: the collector's queue of them, answered a slice per turn.
//!
//! The collector never waits on a client: it renders one reply at a time, a thousand
//! records per turn of its loop after the ring is drained (collect.rs, turns.rs), and
//! hands the bytes back over a oneshot; writing them out is the client task's business.
pub mod answer;
pub mod client;
pub mod listen;
pub mod protocol;
pub mod server;
pub mod turns;
pub mod view;

use std::path::PathBuf;

/// Where a host-wide agent listens unless told otherwise (`--control-socket`,
/// `control_socket`).
pub const DEFAULT_PATH: &str = "/run/fdwatch/control.sock";

/// `--control-socket off`: do not listen (and, for the query commands, do not ask).
pub const OFF: &str = "off";

/// The socket path a query command asks: the flag, else the default.
pub fn path_or_default(flag: Option<&std::path::Path>) -> PathBuf {
    flag.map_or_else(|| PathBuf::from(DEFAULT_PATH), std::path::Path::to_path_buf)
}
