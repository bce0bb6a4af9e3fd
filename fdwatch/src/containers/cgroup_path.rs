//! Which container a cgroup path names, from the path alone: pure parsing, no I/O.
//!
//! Every runtime puts a container's processes in a cgroup whose name carries the
//! container's id (or name), under a parent that says who made it. The same layouts
//! appear on cgroup v1 (in each hierarchy, e.g. `name=systemd` or `memory`) and on v2
//! (the unified hierarchy); what differs is the cgroup *driver*: `cgroupfs` writes plain
//! directories, `systemd` makes units (`.slice`, `.scope`). The layouts, as each
//! runtime writes them:
//!
//! | runtime | cgroupfs driver | systemd driver |
//! | --- | --- | --- |
//! | Docker (moby daemon/daemon_unix.go, `cgroup-parent`) | `/docker/<id>` | `/system.slice/docker-<id>.scope` |
//! | containerd CRI (cri/pkg/server, `cri-containerd` scope prefix) | `/kubepods/<qos>/pod<uid>/<id>` | `/kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid>.slice/cri-containerd-<id>.scope` |
//! | CRI-O (internal/config/cgmgr) | `/kubepods/<qos>/pod<uid>/crio-<id>` | `.../kubepods-<qos>-pod<uid>.slice/crio-<id>.scope` |
//! | nerdctl (containerd) | `/<namespace>/<id>` (needs its state: runtime_state.rs) | `/system.slice/nerdctl-<id>.scope` |
//! | Podman (libpod/runtime_ctr.go) | `/libpod_parent/libpod-<id>` | `/machine.slice/libpod-<id>.scope` (rootless under `user@UID.service`) |
//! | runc alone (libcontainer/specconv) | `/<id>` or `cgroupsPath` (needs its state) | `/system.slice/runc-<id>.scope` |
//! | systemd-nspawn (src/nspawn) | - | `/machine.slice/systemd-nspawn@<name>.service` (payload below it) |
//! | LXC 4+ / LXD (src/lxc/cgroups) | `/lxc.payload.<name>` (3.x: `/lxc.payload/<name>`, older `/lxc/<name>`) | same |
//!
//! Kubernetes pods (kubelet's pkg/kubelet/cm, `cgroup_manager_linux.go`): the QoS class
//! is the pod's parent (`besteffort`, `burstable`; a Guaranteed pod sits directly under
//! `kubepods`), the pod UID is in `pod<uid>` (the systemd driver writes its dashes as
//! underscores: `kubepods-burstable-pod1a2b_3c4d.slice`). Under the systemd driver with
//! the docker runtime (cri-dockerd) the container is `docker-<id>.scope` there.
//!
//! Monitors that run beside a container (`crio-conmon-<id>.scope`, `libpod-conmon-<id>`,
//! `lxc.monitor.<name>`) are not the container: they hold its stdio and are named so.
//! Processes in a cgroup *below* a container's (systemd inside it, nspawn's `payload`)
//! belong to it; a container nested in another (docker in docker) is the innermost one.
use super::{ContainerRef, Qos, Runtime};

/// The container named by a cgroup path (as /proc/PID/cgroup shows it), if the path
/// alone says so. Paths that need the runtime's state to tell (a bare `/<id>`) are
/// left to runtime_state.rs.
pub fn parse(path: &str) -> Option<ContainerRef> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let (pod_uid, qos) = pod_of(&parts);
    // The innermost component that names a container, searched from the leaf up.
    for i in (0..parts.len()).rev() {
        let part = parts[i];
        let parent = i.checked_sub(1).map(|p| parts[p]);
        match component(part, parent) {
            Found::Container(runtime, id) => {
                // A runtime's id is what its own tools accept; nspawn and LXC names are
                // unit-escaped by systemd (`\x2d` for `-`).
                let id = if matches!(runtime, Runtime::SystemdNspawn) { unescape_unit(id) } else { id.to_owned() };
                return Some(ContainerRef { id, runtime, pod_uid, qos });
            }
            Found::Monitor => return None,
            Found::Nothing => {}
        }
    }
    None
}

enum Found<'a> {
    Container(Runtime, &'a str),
    /// A runtime's monitor process beside the container (conmon, lxc.monitor).
    Monitor,
    Nothing,
}

/// What one path component says, given its parent.
fn component<'a>(part: &'a str, parent: Option<&str>) -> Found<'a> {
    // systemd scopes: <prefix>-<id>.scope
    if let Some(unit) = part.strip_suffix(".scope") {
        for (prefix, runtime) in [
            ("docker-", Runtime::Docker),
            ("cri-containerd-", Runtime::Containerd),
            ("nerdctl-", Runtime::Containerd),
            ("crio-", Runtime::CriO),
            ("libpod-", Runtime::Podman),
            ("runc-", Runtime::Runc),
        ] {
            if let Some(id) = unit.strip_prefix(prefix) {
                if id.starts_with("conmon-") {
                    return Found::Monitor;
                }
                // runc's systemd driver names the scope after the container id, which
                // is any name the user chose; the others use their 64-hex ids.
                if runtime == Runtime::Runc && !id.is_empty() || is_id(id) {
                    return Found::Container(runtime, id);
                }
            }
        }
        return Found::Nothing;
    }
    if let Some(name) = part.strip_prefix("systemd-nspawn@").and_then(|u| u.strip_suffix(".service")) {
        if !name.is_empty() {
            return Found::Container(Runtime::SystemdNspawn, name);
        }
    }
    if let Some(name) = part.strip_prefix("lxc.payload.") {
        if !name.is_empty() {
            return Found::Container(Runtime::Lxc, name);
        }
    }
    if part.starts_with("lxc.monitor") {
        return Found::Monitor;
    }
    match parent {
        // LXC 3.x `/lxc.payload/<name>`, before that `/lxc/<name>`.
        Some("lxc.payload" | "lxc") if !part.is_empty() => return Found::Container(Runtime::Lxc, part),
        Some("docker") if is_id(part) => return Found::Container(Runtime::Docker, part),
        Some("libpod_parent") => {
            if let Some(id) = part.strip_prefix("libpod-") {
                if is_id(id) {
                    return Found::Container(Runtime::Podman, id);
                }
            }
            return Found::Nothing;
        }
        _ => {}
    }
    // kubelet's cgroupfs driver: the container right under its pod.
    if parent.is_some_and(|p| p.starts_with("pod") && !p.ends_with(".slice")) {
        if let Some(id) = part.strip_prefix("crio-") {
            if id.starts_with("conmon-") {
                return Found::Monitor;
            }
            if is_id(id) {
                return Found::Container(Runtime::CriO, id);
            }
        }
        // containerd (CRI), or docker through dockershim/cri-dockerd: the path does
        // not say which (runtime_state.rs may).
        if is_id(part) {
            return Found::Container(Runtime::Cri, part);
        }
    }
    Found::Nothing
}

/// The pod UID and QoS class of a path under kubelet's `kubepods` cgroup.
fn pod_of(parts: &[&str]) -> (Option<String>, Option<Qos>) {
    let Some(root) = parts.iter().position(|p| *p == "kubepods" || *p == "kubepods.slice") else {
        return (None, None);
    };
    let mut qos = None;
    for part in &parts[root + 1..] {
        // systemd driver: kubepods-burstable.slice, kubepods-burstable-pod<uid>.slice,
        // kubepods-pod<uid>.slice (Guaranteed).
        if let Some(unit) = part.strip_prefix("kubepods-").and_then(|p| p.strip_suffix(".slice")) {
            let (class, pod) = match unit.split_once("pod") {
                Some((class, uid)) => (class.trim_end_matches('-'), Some(uid)),
                None => (unit, None),
            };
            match class {
                "burstable" => qos = Some(Qos::Burstable),
                "besteffort" => qos = Some(Qos::BestEffort),
                "" => {}
                _ => return (None, None),
            }
            if let Some(uid) = pod.filter(|u| is_uid(u, '_')) {
                return (Some(uid.replace('_', "-")), Some(qos.unwrap_or(Qos::Guaranteed)));
            }
            continue;
        }
        // cgroupfs driver: burstable/, besteffort/, pod<uid>/.
        match *part {
            "burstable" => qos = Some(Qos::Burstable),
            "besteffort" => qos = Some(Qos::BestEffort),
            _ => {
                if let Some(uid) = part.strip_prefix("pod").filter(|u| is_uid(u, '-')) {
                    return (Some(uid.to_owned()), Some(qos.unwrap_or(Qos::Guaranteed)));
                }
                return (None, None);
            }
        }
    }
    (None, None)
}

/// A pod UID (RFC 4122 text, kubelet's types.UID) with `sep` between its groups.
fn is_uid(s: &str, sep: char) -> bool {
    let groups: Vec<&str> = s.split(sep).collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The 64 lowercase hex digits of a Docker, containerd, CRI-O or Podman container id
/// (a SHA-256 in hex: moby's stringid, containerd's and CRI-O's generated ids).
pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A systemd unit name's `\xNN` escapes undone (systemd.unit(5), "String Escaping";
/// `systemd-escape` writes `-` in an instance name as `\x2d`).
fn unescape_unit(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            if let Some(v) = s.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of /proc/PID/cgroup: `hierarchy-ID:controller-list:cgroup-path` (cgroups(7));
/// the v2 line is `0::PATH`. A path may contain `:`, so only the first two split.
pub fn proc_line(line: &str) -> Option<(u32, &str, &str)> {
    let (id, rest) = line.split_once(':')?;
    let (controllers, path) = rest.split_once(':')?;
    Some((id.parse().ok()?, controllers, path))
}

/// The path of hierarchy `id` (0: the unified one) in /proc/PID/cgroup's text.
pub fn path_in(proc_cgroup: &str, id: u32) -> Option<&str> {
    proc_cgroup.lines().filter_map(proc_line).find(|(h, _, _)| *h == id).map(|(_, _, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a9c1e0b7d4c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";
    const UID: &str = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d";

    fn c(runtime: Runtime, id: &str, pod: Option<(&str, Qos)>) -> Option<ContainerRef> {
        Some(ContainerRef { id: id.into(), runtime, pod_uid: pod.map(|(u, _)| u.into()), qos: pod.map(|(_, q)| q) })
    }

    #[test]
    fn docker_with_either_driver_on_v1_and_v2() {
        // cgroupfs driver: the same path in every v1 hierarchy and in the unified one.
        for line in
            [format!("4:memory:/docker/{ID}"), format!("0::/docker/{ID}"), format!("1:name=systemd:/docker/{ID}")]
        {
            let (_, _, path) = proc_line(&line).unwrap();
            assert_eq!(parse(path), c(Runtime::Docker, ID, None), "{line}");
        }
        assert_eq!(parse(&format!("/system.slice/docker-{ID}.scope")), c(Runtime::Docker, ID, None));
        // Docker in Docker: the inner one.
        let inner = ID.replace('3', "4");
        assert_eq!(parse(&format!("/docker/{ID}/docker/{inner}")), c(Runtime::Docker, &inner, None));
        // A process in a cgroup below the container's (systemd inside it).
        assert_eq!(parse(&format!("/docker/{ID}/init.scope")), c(Runtime::Docker, ID, None));
        // Not an id: a directory that happens to be called docker.
        assert_eq!(parse("/docker/buildkit"), None);
        assert_eq!(parse("/system.slice/docker.service"), None);
    }

    #[test]
    fn kubernetes_pods_with_their_qos_class() {
        let us = UID.replace('-', "_");
        let systemd = [("besteffort", Qos::BestEffort), ("burstable", Qos::Burstable)];
        for (class, qos) in systemd {
            let path = format!(
                "/kubepods.slice/kubepods-{class}.slice/kubepods-{class}-pod{us}.slice/cri-containerd-{ID}.scope"
            );
            assert_eq!(parse(&path), c(Runtime::Containerd, ID, Some((UID, qos))), "{path}");
            let crio = format!("/kubepods.slice/kubepods-{class}.slice/kubepods-{class}-pod{us}.slice/crio-{ID}.scope");
            assert_eq!(parse(&crio), c(Runtime::CriO, ID, Some((UID, qos))), "{crio}");
            let cgroupfs = format!("/kubepods/{class}/pod{UID}/{ID}");
            assert_eq!(parse(&cgroupfs), c(Runtime::Cri, ID, Some((UID, qos))), "{cgroupfs}");
            let crio_fs = format!("/kubepods/{class}/pod{UID}/crio-{ID}");
            assert_eq!(parse(&crio_fs), c(Runtime::CriO, ID, Some((UID, qos))), "{crio_fs}");
        }
        // Guaranteed pods sit directly under kubepods.
        let guaranteed = format!("/kubepods.slice/kubepods-pod{us}.slice/cri-containerd-{ID}.scope");
        assert_eq!(parse(&guaranteed), c(Runtime::Containerd, ID, Some((UID, Qos::Guaranteed))));
        assert_eq!(parse(&format!("/kubepods/pod{UID}/{ID}")), c(Runtime::Cri, ID, Some((UID, Qos::Guaranteed))));
        // Docker as the pod's runtime under the systemd driver (cri-dockerd).
        let dockershim = format!("/kubepods.slice/kubepods-pod{us}.slice/docker-{ID}.scope");
        assert_eq!(parse(&dockershim), c(Runtime::Docker, ID, Some((UID, Qos::Guaranteed))));
        // The pod's own cgroup, and CRI-O's monitor beside the container: no container.
        assert_eq!(parse(&format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{us}.slice")), None);
        assert_eq!(
            parse(&format!("/kubepods.slice/kubepods-pod{us}.slice/crio-conmon-{ID}.scope")),
            None,
            "conmon is not the container"
        );
        assert_eq!(parse(&format!("/kubepods/burstable/pod{UID}/crio-conmon-{ID}")), None);
        // k3s's kubelet root under a slice of its own keeps the same names below it.
        let k3s = format!("/k3s.slice/kubepods/besteffort/pod{UID}/{ID}");
        assert_eq!(parse(&k3s), c(Runtime::Cri, ID, Some((UID, Qos::BestEffort))));
    }

    #[test]
    fn podman_nerdctl_runc_nspawn_lxc() {
        assert_eq!(parse(&format!("/machine.slice/libpod-{ID}.scope")), c(Runtime::Podman, ID, None));
        assert_eq!(parse(&format!("/machine.slice/libpod-{ID}.scope/container")), c(Runtime::Podman, ID, None));
        let rootless = format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope");
        assert_eq!(parse(&rootless), c(Runtime::Podman, ID, None));
        let pod = format!("/machine.slice/machine-libpod_pod_{}.slice/libpod-{ID}.scope", &ID[..32]);
        assert_eq!(parse(&pod), c(Runtime::Podman, ID, None));
        assert_eq!(parse(&format!("/libpod_parent/libpod-{ID}")), c(Runtime::Podman, ID, None));
        assert_eq!(parse(&format!("/machine.slice/libpod-conmon-{ID}.scope")), None);
        assert_eq!(parse(&format!("/system.slice/nerdctl-{ID}.scope")), c(Runtime::Containerd, ID, None));
        assert_eq!(parse("/system.slice/runc-web-1.scope"), c(Runtime::Runc, "web-1", None));
        assert_eq!(parse("/machine.slice/systemd-nspawn@debian.service"), c(Runtime::SystemdNspawn, "debian", None));
        assert_eq!(
            parse("/machine.slice/systemd-nspawn@my\\x2dbox.service/payload/system.slice/nginx.service"),
            c(Runtime::SystemdNspawn, "my-box", None)
        );
        assert_eq!(parse("/lxc.payload.web01"), c(Runtime::Lxc, "web01", None));
        assert_eq!(parse("/lxc.payload.web01/init.scope"), c(Runtime::Lxc, "web01", None));
        assert_eq!(parse("/lxc.payload/web01"), c(Runtime::Lxc, "web01", None));
        assert_eq!(parse("/lxc/web01"), c(Runtime::Lxc, "web01", None));
        assert_eq!(parse("/lxc.monitor.web01"), None);
        // The host: nothing.
        for path in ["/", "", "/init.scope", "/system.slice/ssh.service", "/user.slice/user-0.slice/session-1.scope"] {
            assert_eq!(parse(path), None, "{path}");
        }
        // A bare /<id> needs the runtime's own state to say whose (runtime_state.rs).
        assert_eq!(parse("/fdwatch-test-1"), None);
    }

    #[test]
    fn proc_cgroup_lines_split_on_the_first_two_colons() {
        let text = "12:pids:/a\n1:name=systemd:/b:c\n0::/d\n";
        assert_eq!(path_in(text, 1), Some("/b:c"));
        assert_eq!(path_in(text, 0), Some("/d"));
        assert_eq!(path_in(text, 5), None);
        assert_eq!(proc_line("2:cpuacct,cpu:/x"), Some((2, "cpuacct,cpu", "/x")));
        assert_eq!(proc_line("garbage"), None);
    }
}
