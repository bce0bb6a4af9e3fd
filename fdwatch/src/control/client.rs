//! Asking the agent, for `fdwatch fds` and `fdwatch holders`: one request line, the
//! reply read whole (bounded, with a deadline), checked to end with its `end` record.
use std::{
    io::{Read as _, Write as _},
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

use serde_json::Value;

use super::{answer::MAX_REPLY_BYTES, protocol::Request};

/// How long the agent may take, from connecting to the end of its reply.
const DEADLINE: Duration = Duration::from_secs(10);

/// The agent's reply: its records (`fd` ones), and the `end` record.
#[derive(Debug)]
pub struct Reply {
    pub records: Vec<Value>,
    pub end: Value,
}

/// Ask the agent on `path`. The error says why there is no answer (no agent, refused,
/// a broken reply), in words for the one stderr line of the fallback.
pub fn ask(path: &Path, request: &Request) -> Result<Reply, String> {
    let shown = path.display();
    let mut stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            format!("no fdwatch agent answers on {shown} ({e})")
        }
        _ => format!("cannot connect to the fdwatch agent on {shown}: {e}"),
    })?;
    let broken = |e: std::io::Error| format!("the fdwatch agent on {shown} did not answer: {e}");
    stream.set_read_timeout(Some(DEADLINE)).map_err(broken)?;
    stream.set_write_timeout(Some(DEADLINE)).map_err(broken)?;
    stream.write_all(request.to_line().as_bytes()).map_err(broken)?;
    let mut bytes = Vec::new();
    // The agent's records, then its end record: a little over its limit at most.
    let limit = (MAX_REPLY_BYTES + (1 << 20)) as u64;
    (&mut stream).take(limit).read_to_end(&mut bytes).map_err(broken)?;
    parse(&bytes).map_err(|why| format!("the fdwatch agent on {shown} answered {why}"))
}

/// A reply's bytes: JSON lines, the last one its `end` record, no error in it.
pub fn parse(bytes: &[u8]) -> Result<Reply, String> {
    if !bytes.ends_with(b"\n") {
        return Err("a cut reply (no end record)".into());
    }
    let mut records = Vec::new();
    for line in bytes[..bytes.len() - 1].split(|&b| b == b'\n') {
        let v: Value = serde_json::from_slice(line).map_err(|e| format!("a line that is not JSON ({e})"))?;
        records.push(v);
    }
    let end = records.pop().filter(|e| e["type"] == "end").ok_or("no end record")?;
    if let Some(why) = end["error"].as_str() {
        return Err(format!("an error: {why}"));
    }
    if end["v"] != super::protocol::VERSION {
        return Err(format!("in protocol version {} (this fdwatch speaks {})", end["v"], super::protocol::VERSION));
    }
    if records.iter().any(|r| r["type"] != "fd") || end["records"].as_u64() != Some(records.len() as u64) {
        return Err(format!("{} records where its end record says {}", records.len(), end["records"]));
    }
    Ok(Reply { records, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_must_end_with_its_end_record_and_count_right() {
        let fd = r#"{"type":"fd","pid":1,"fd":0}"#;
        let end = |n: usize| format!(r#"{{"type":"end","v":1,"records":{n}}}"#);
        assert_eq!(parse(format!("{fd}\n{}\n", end(1)).as_bytes()).unwrap().records.len(), 1);
        for (bytes, says) in [
            (format!("{fd}\n"), "no end record"),
            (format!("{fd}\n{}", end(1)), "cut"),
            (format!("{fd}\n{}\n", end(2)), "says 2"),
            ("{\"type\":\"end\",\"v\":1,\"records\":0,\"error\":\"refused: uid 65534\"}\n".to_owned(), "refused"),
            (format!("nope\n{}\n", end(0)), "not JSON"),
        ] {
            let err = parse(bytes.as_bytes()).unwrap_err();
            assert!(err.contains(says), "{bytes:?}: {err}");
        }
    }
}
