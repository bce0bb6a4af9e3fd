//! `--container PREFIX`: which running container the prefix names, and the cgroup of
//! the unified hierarchy its processes are in, whose kernel id the probes filter by
//! (fdwatch-ebpf emit.rs, `in_container`: the cgroup and everything below it).
//!
//! The containers are found where the kernel keeps them: each directory of the unified
//! hierarchy is a cgroup, named as a container's by its path (cgroup_path.rs) or by a
//! runtime's state (runtime_state.rs: runc run by hand). A container that has not been
//! created yet has no cgroup, so it cannot be named: the filter needs the cgroup's id.
//! `runc create` (or `docker create` and then start) makes the cgroup before the
//! container's program runs, so fdwatch started between the two sees it from its first
//! syscall.
use std::path::Path;

use super::{
    Container,
    cache::{Source, container_of},
};

/// What `--container` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub container: Container,
    /// The container's cgroup in the unified hierarchy, e.g. `/rt1` or
    /// `/system.slice/docker-<id>.scope`.
    pub path: String,
    /// Its kernel id (the directory's inode number: cgroup_id(), include/linux/cgroup.h).
    pub cgroup_id: u64,
    /// How deep it is below the root (0); `bpf_get_current_ancestor_cgroup_id` takes it.
    pub level: u32,
}

/// Directories of the unified hierarchy looked at, at most (a host with more cgroups
/// than this is not one fdwatch was tried on; the error says the walk stopped).
pub const MAX_CGROUPS: usize = 1 << 16;
/// Deeper than this no runtime nests a container (kubepods: 4 or 5 levels).
pub const MAX_DEPTH: u32 = 32;

/// The prefix as given on the command line or in the config file: a container id or
/// name, which runtimes spell with these characters only (runc: `^[\w+-\.]+$`).
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > 1024 {
        return Err("a container id (or a prefix of it, or its name) of 1 to 1024 characters".into());
    }
    if let Some(c) = prefix.chars().find(|c| !(c.is_ascii_alphanumeric() || "_+-.".contains(*c))) {
        return Err(format!("{prefix:?}: {c:?} is not in any container's id or name"));
    }
    Ok(())
}

/// The container `prefix` names among `candidates` (cgroup path, container): its id
/// starts with the prefix, or its name is the prefix. A container seen in several
/// cgroups (its own, and ones nested in it) is the shallowest. Errors: none, or more
/// than one container (listed, so the user can give more of the id).
pub fn choose(prefix: &str, candidates: Vec<(String, Container)>) -> Result<(String, Container), String> {
    let mut chosen: Vec<(String, Container)> = Vec::new();
    for (path, c) in candidates.into_iter().filter(|(_, c)| c.matches(prefix)) {
        match chosen.iter_mut().find(|(_, k)| k.id == c.id) {
            Some(known) if depth(&path) < depth(&known.0) => *known = (path, c),
            Some(_) => {}
            None => chosen.push((path, c)),
        }
    }
    // An exact id or name beats longer ids it is a prefix of.
    if let Some(i) = chosen.iter().position(|(_, c)| *c.id == *prefix || c.name.as_deref() == Some(prefix)) {
        return Ok(chosen.swap_remove(i));
    }
    match chosen.len() {
        0 => Err(format!(
            "no running container's id starts with {prefix:?} (a container is found by its cgroup, which it has \
             once created: start fdwatch after `runc create` or `docker create`)"
        )),
        1 => Ok(chosen.remove(0)),
        n => {
            chosen.sort_by(|a, b| a.1.id.cmp(&b.1.id));
            let names: Vec<String> =
                chosen.iter().take(5).map(|(_, c)| format!("{} ({})", c.id, c.runtime.name())).collect();
            let more = if n > 5 { format!(" and {} more", n - 5) } else { String::new() };
            Err(format!("{prefix:?} names {n} containers: {}{more}; give more of the id", names.join(", ")))
        }
    }
}

fn depth(path: &str) -> usize {
    path.split('/').filter(|p| !p.is_empty()).count()
}

/// Every cgroup of the unified hierarchy mounted at `mount` that is a container's,
/// as (path, container); and whether the walk stopped at MAX_CGROUPS.
pub fn containers(mount: &Path, src: &mut dyn Source) -> (Vec<(String, Container)>, bool) {
    let mut found = Vec::new();
    let mut stack = vec![(String::new(), 0u32)];
    let mut seen = 0;
    while let Some((rel, level)) = stack.pop() {
        let Ok(dir) = std::fs::read_dir(mount.join(rel.trim_start_matches('/'))) else { continue };
        for entry in dir.flatten() {
            // A cgroup is a directory; the files in it are its interface.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(name) = entry.file_name().into_string() else { continue };
            seen += 1;
            if seen > MAX_CGROUPS {
                return (found, true);
            }
            let path = format!("{rel}/{name}");
            if let Some(c) = container_of(src, &path) {
                found.push((path.clone(), c));
            }
            if level + 1 < MAX_DEPTH {
                stack.push((path, level + 1));
            }
        }
    }
    (found, false)
}

/// The container `prefix` names on this host, with its cgroup's id and level.
pub fn find(mount: &Path, src: &mut dyn Source, prefix: &str) -> Result<Found, String> {
    let (candidates, cut) = containers(mount, src);
    let (path, container) = choose(prefix, candidates)
        .map_err(|e| if cut { format!("{e} (only the first {MAX_CGROUPS} cgroups were looked at)") } else { e })?;
    let cgroup_id = src
        .unified_id(&path)
        .ok_or_else(|| format!("container {}: its cgroup {path} is gone", container.short_id()))?;
    Ok(Found { level: depth(&path) as u32, path, cgroup_id, container })
}

/// Whether a process whose unified cgroup is `path` is in `top` or below it.
pub fn in_subtree(path: &str, top: &str) -> bool {
    path == top || path.strip_prefix(top).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::{ContainerRef, Details, Runtime};

    fn c(id: &str, runtime: Runtime, name: Option<&str>) -> Container {
        Container::new(
            ContainerRef { id: id.into(), runtime, pod_uid: None, qos: None },
            Details { name: name.map(Into::into), ..Details::default() },
        )
    }

    const A: &str = "3f2a9c1e0b7d4c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";
    const B: &str = "3f2a77770b7d4c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";

    fn host() -> Vec<(String, Container)> {
        vec![
            (format!("/system.slice/docker-{A}.scope/init.scope"), c(A, Runtime::Docker, Some("web"))),
            (format!("/system.slice/docker-{A}.scope"), c(A, Runtime::Docker, Some("web"))),
            (format!("/docker/{B}"), c(B, Runtime::Docker, None)),
            ("/rt1".into(), c("rt1", Runtime::Runc, None)),
            ("/rt10".into(), c("rt10", Runtime::Runc, None)),
        ]
    }

    #[test]
    fn a_prefix_or_a_name_names_one_container_at_its_shallowest_cgroup() {
        let (path, found) = choose("3f2a9", host()).unwrap();
        assert_eq!((path.as_str(), &*found.id), (&*format!("/system.slice/docker-{A}.scope"), A));
        assert_eq!(choose("web", host()).unwrap().1.id.as_ref(), A);
        assert_eq!(choose(B, host()).unwrap().0, format!("/docker/{B}"));
        // "rt1" is a whole id and a prefix of "rt10": the whole id wins.
        assert_eq!(choose("rt1", host()).unwrap().0, "/rt1");
        assert_eq!(choose("rt10", host()).unwrap().0, "/rt10");
    }

    #[test]
    fn an_unknown_or_ambiguous_prefix_is_an_error_that_says_which() {
        let none = choose("ffff", host()).unwrap_err();
        assert!(none.contains("no running container's id starts with \"ffff\""), "{none}");
        let two = choose("3f2a", host()).unwrap_err();
        assert!(two.contains("names 2 containers") && two.contains(A) && two.contains(B), "{two}");
        assert!(two.contains("(docker)"), "{two}");
        assert!(choose("rt", host()).unwrap_err().contains("names 2 containers"));
        assert!(check_prefix("").is_err() && check_prefix("a/b").is_err() && check_prefix("a\nb").is_err());
        assert!(check_prefix("fdwatch-test.1_a").is_ok());
    }

    #[test]
    fn a_subtree_is_the_cgroup_and_what_is_below_it() {
        assert!(in_subtree("/rt1", "/rt1") && in_subtree("/rt1/sub", "/rt1"));
        assert!(!in_subtree("/rt10", "/rt1") && !in_subtree("/", "/rt1"));
    }

    #[test]
    fn this_hosts_containers_are_found_by_walking_its_unified_hierarchy() {
        let dir = std::env::temp_dir().join(format!("fdwatch-find-{}", std::process::id()));
        for d in [format!("docker/{A}"), format!("docker/{A}/sub"), "system.slice/ssh.service".into()] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("cgroup.procs"), "").unwrap();
        struct Src;
        impl Source for Src {}
        let (mut found, cut) = containers(&dir, &mut Src);
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, [format!("/docker/{A}"), format!("/docker/{A}/sub")]);
        assert!(!cut);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
