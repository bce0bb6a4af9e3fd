//! Reading /proc: the only source of truth for what existed before the probes.
use std::fs;

/// Parent pid from /proc/PID/stat. The comm field may contain spaces and ')', so
/// parse after the last ')' (proc_pid_stat(5)).
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every pid in /proc.
pub fn pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// Extend `pids` with all their living descendants.
pub fn add_descendants(pids: &mut Vec<u32>) {
    let parents: Vec<(u32, u32)> =
        self::pids().into_iter().filter_map(|p| Some((p, parent_of(p)?))).collect();
    let mut i = 0;
    while i < pids.len() {
        let parent = pids[i];
        for &(child, ppid) in &parents {
            if ppid == parent && !pids.contains(&child) {
                pids.push(child);
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_parent_is_known() {
        let me = std::process::id();
        assert_eq!(parent_of(me), Some(std::os::unix::process::parent_id()));
    }

    #[test]
    fn descendants_include_a_child() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let mut pids = vec![std::process::id()];
        add_descendants(&mut pids);
        let _ = child.kill();
        let _ = child.wait();
        assert!(pids.contains(&child.id()), "{pids:?}");
    }
}
