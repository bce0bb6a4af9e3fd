//! The control socket on disk. Its directory is the agent's alone (0700, owned by the
//! agent's user: /run/fdwatch for the default path), the socket is 0600, and the
//! server checks every client's SO_PEERCRED on top (server.rs): three locks on one
//! door, because the socket tells anyone who gets in where every fd on the host came
//! from.
//!
//! A socket left by an agent that died is replaced (connect(2) is refused: nobody
//! listens on it). One that answers belongs to an agent that is running: this one does
//! not steal it (unlinking a live socket would leave that agent deaf and nobody told),
//! and runs without a socket, saying so.
use std::{
    io,
    os::unix::{
        fs::{DirBuilderExt, MetadataExt, PermissionsExt},
        net::{UnixListener, UnixStream},
    },
    path::{Path, PathBuf},
};

/// A bound control socket; dropping it removes the file if it is still ours.
pub struct Socket {
    pub listener: UnixListener,
    pub path: PathBuf,
    /// (dev, ino) of the socket we bound: a path another agent took over is not removed.
    id: (u64, u64),
}

impl Drop for Socket {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Listen on `path`; the error is one line saying why not (the agent runs on without).
pub fn bind(path: &Path) -> Result<Socket, String> {
    let shown = path.display();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("control socket {shown}: cannot create {}: {e}", dir.display()))?;
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("control socket {shown}: cannot read {}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "control socket {shown}: its directory {} must be a directory of uid {euid} with mode 0700 (it is {} of \
             uid {}, mode {:04o}): another user could replace the socket",
            dir.display(),
            if meta.is_dir() { "a directory" } else { "not a directory" },
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_socket_like() => {
            return Err(format!("control socket {shown}: exists and is not a socket; left alone"));
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(format!("control socket {shown}: another fdwatch answers on it; this one does not listen"));
            }
            // Nobody listens: an agent that died left it.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)
                    .map_err(|e| format!("control socket {shown}: cannot remove the stale socket: {e}"))?;
            }
            Err(e) => return Err(format!("control socket {shown}: cannot tell whether an agent answers on it: {e}")),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("control socket {shown}: {e}")),
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("control socket {shown}: cannot listen: {e}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("control socket {shown}: cannot make it 0600: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| format!("control socket {shown}: {e}"))?;
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("control socket {shown}: {e}"))?;
    Ok(Socket { listener, path: path.to_path_buf(), id: (meta.dev(), meta.ino()) })
}

trait SocketLike {
    fn is_socket_like(&self) -> bool;
}

impl SocketLike for std::fs::FileType {
    fn is_socket_like(&self) -> bool {
        std::os::unix::fs::FileTypeExt::is_socket(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fdwatch-listen-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_new_socket_is_0600_in_a_0700_directory_and_removed_on_drop() {
        let d = dir("new");
        let path = d.join("sub/control.sock");
        let s = bind(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777, 0o700);
        drop(s);
        assert!(!path.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_left_alone() {
        let d = dir("stale");
        let path = d.join("control.sock");
        let first = bind(&path).unwrap();
        let err = bind(&path).err().unwrap();
        assert!(err.contains("another fdwatch answers"), "{err}");
        assert!(path.exists(), "the live socket stays");
        // A dead agent: the file stays, nobody listens.
        let stale = std::os::unix::net::UnixListener::bind(d.join("x.sock")).unwrap();
        drop(stale);
        std::fs::rename(d.join("x.sock"), &path).unwrap();
        let second = bind(&path).expect("a stale socket is replaced");
        drop(first); // not ours any more: its drop leaves the new one
        assert!(path.exists());
        drop(second);
        assert!(!path.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_open_directory_or_a_file_in_the_way_is_refused() {
        let d = dir("open");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = bind(&d.join("c.sock")).err().unwrap();
        assert!(err.contains("mode 0755"), "{err}");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(d.join("c.sock"), "x").unwrap();
        let err = bind(&d.join("c.sock")).err().unwrap();
        assert!(err.contains("not a socket"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
