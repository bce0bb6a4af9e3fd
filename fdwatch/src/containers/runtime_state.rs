//! What the runtimes' own state on disk says of a container: its name, image and pod.
//! Read once per container (when its cgroup is first seen), never per event; a file is
//! read only up to `MAX_STATE_BYTES`; a file that is missing or unreadable just leaves
//! the fields out.
//!
//! - Docker: `/var/lib/docker/containers/<id>/config.v2.json` (moby's
//!   container/container.go `configFileName`): `Name` ("/web"), `Config.Image`, and
//!   kubelet's labels when Kubernetes started it (`io.kubernetes.pod.name`, ...).
//! - runc (and so containerd's runc shim, CRI-O, Docker's runc): `state.json` under the
//!   runtime's root (runc/libcontainer/container_linux.go `stateFilename`):
//!   `config.labels` holds the OCI bundle's annotations as `key=value`
//!   (runc/libcontainer/specconv: `labels = append(labels, k+"="+v)`), where the CRI
//!   runtimes record the image and the names (`io.kubernetes.cri.image-name`,
//!   `io.kubernetes.cri.container-name`, `io.kubernetes.cri.sandbox-name`/`-namespace`;
//!   CRI-O's `io.kubernetes.cri-o.ImageName`, `io.kubernetes.container.name`,
//!   `io.kubernetes.pod.name`/`.namespace`), and anyone the OCI image annotation
//!   `org.opencontainers.image.ref.name`; and `cgroup_paths`, which ties a state to a
//!   cgroup whose path alone names no runtime (runc run by hand: `/<id>` or its
//!   `cgroupsPath`).
use std::{io::Read as _, path::Path};

use serde::Deserialize;

use super::{ContainerRef, Details, Runtime};

/// State files larger than this are not read (a config.v2.json is a few KiB).
pub const MAX_STATE_BYTES: u64 = 1 << 20;

/// Docker's container directories (moby: `<data-root>/containers`).
pub const DOCKER_CONTAINERS: &str = "/var/lib/docker/containers";

/// Where runc keeps containers' state: runc's default root for root (`/run/runc`, which
/// CRI-O uses too), Docker's (`/run/docker/runtime-runc/moby`), and containerd's runc
/// shim's per namespace (`/run/containerd/runc/<namespace>`).
pub const RUNC_ROOTS: &[&str] = &[
    "/run/runc",
    "/run/docker/runtime-runc/moby",
    "/run/containerd/runc/k8s.io",
    "/run/containerd/runc/moby",
    "/run/containerd/runc/default",
];

/// containerd's task directories (`io.containerd.runtime.v2.task/<namespace>/<id>`).
pub const CONTAINERD_TASKS: &str = "/run/containerd/io.containerd.runtime.v2.task";

/// A file's bytes, at most MAX_STATE_BYTES; None if missing, unreadable or larger.
fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= MAX_STATE_BYTES).then_some(bytes)
}

/// A name usable as one path component (a cgroup directory's name can be anything but
/// `/` and NUL; `.` and `..` are not directories a runtime makes).
fn component(name: &str) -> Option<&str> {
    (!name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])).then_some(name)
}

#[derive(Deserialize, Default)]
struct DockerConfig {
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Config", default)]
    config: Option<DockerInner>,
}

#[derive(Deserialize, Default)]
struct DockerInner {
    #[serde(rename = "Image", default)]
    image: Option<String>,
    #[serde(rename = "Labels", default)]
    labels: Option<std::collections::HashMap<String, String>>,
}

/// Docker's config.v2.json -> details. Kubernetes-started containers are named by
/// kubelet (`k8s_<container>_<pod>_...`); its labels name them better.
pub fn docker_details(json: &[u8]) -> Option<Details> {
    let c: DockerConfig = serde_json::from_slice(json).ok()?;
    let inner = c.config.unwrap_or_default();
    let labels = inner.labels.unwrap_or_default();
    let label = |k: &str| labels.get(k).cloned();
    Some(Details {
        name: label("io.kubernetes.container.name").or_else(|| c.name.map(|n| n.trim_start_matches('/').to_owned())),
        image: inner.image.filter(|i| !i.is_empty()),
        pod_name: label("io.kubernetes.pod.name"),
        pod_namespace: label("io.kubernetes.pod.namespace"),
    })
}

#[derive(Deserialize, Default)]
struct RuncState {
    #[serde(default)]
    config: Option<RuncConfig>,
    #[serde(default)]
    cgroup_paths: Option<std::collections::HashMap<String, String>>,
}

#[derive(Deserialize, Default)]
struct RuncConfig {
    #[serde(default)]
    labels: Option<Vec<String>>,
}

/// runc's state.json -> (details, cgroup directories).
pub fn runc_details(json: &[u8]) -> Option<(Details, Vec<String>)> {
    let s: RuncState = serde_json::from_slice(json).ok()?;
    let labels = s.config.and_then(|c| c.labels).unwrap_or_default();
    let label = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            labels.iter().find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix('='))).map(str::to_owned)
        })
    };
    let details = Details {
        name: label(&["io.kubernetes.cri.container-name", "io.kubernetes.container.name", "nerdctl/name"]),
        image: label(&[
            "io.kubernetes.cri.image-name",
            "io.kubernetes.cri-o.ImageName",
            "org.opencontainers.image.ref.name",
        ]),
        pod_name: label(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"]),
        pod_namespace: label(&["io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"]),
    };
    Some((details, s.cgroup_paths.unwrap_or_default().into_values().collect()))
}

/// The details of a container the path named, from the first state that knows it.
/// For `Runtime::Cri` (a kubepods path that names no runtime) the state found says
/// which runtime it is.
pub fn details(c: &mut ContainerRef) -> Details {
    let Some(id) = component(&c.id) else { return Details::default() };
    if matches!(c.runtime, Runtime::Docker | Runtime::Cri) {
        if let Some(d) =
            read_bounded(&Path::new(DOCKER_CONTAINERS).join(id).join("config.v2.json")).and_then(|b| docker_details(&b))
        {
            c.runtime = Runtime::Docker;
            return d;
        }
    }
    if matches!(c.runtime, Runtime::Docker | Runtime::Containerd | Runtime::CriO | Runtime::Cri | Runtime::Runc) {
        for root in RUNC_ROOTS {
            if let Some((d, _)) =
                read_bounded(&Path::new(root).join(id).join("state.json")).and_then(|b| runc_details(&b))
            {
                if c.runtime == Runtime::Cri && root.starts_with("/run/containerd") {
                    c.runtime = Runtime::Containerd;
                }
                return d;
            }
        }
    }
    if c.runtime == Runtime::Cri && Path::new(CONTAINERD_TASKS).join("k8s.io").join(id).is_dir() {
        c.runtime = Runtime::Containerd;
    }
    Details::default()
}

/// runc containers run by hand whose `cgroupsPath` does not end in their id are found
/// by reading the states in runc's default root, at most this many.
pub const MAX_SCANNED_STATES: usize = 256;

/// A cgroup path that names no runtime by itself (`/<id>`, runc's `cgroupsPath`,
/// containerd's `/<namespace>/<id>`): a container if a runtime keeps state whose
/// cgroups include this path: under the path's last component first, then (runc's own
/// root) any.
pub fn probe(path: &str) -> Option<(ContainerRef, Details)> {
    let mut parts = path.rsplit('/').filter(|p| !p.is_empty());
    let last = component(parts.next()?)?;
    let namespace = parts.next().and_then(component);
    // cgroup_paths maps each hierarchy to its directory, e.g.
    // "/sys/fs/cgroup/unified/fdwatch/c1": this path must be one of them.
    let state_of = |root: &str, id: &str| {
        let (details, cgroups) =
            read_bounded(&Path::new(root).join(id).join("state.json")).and_then(|b| runc_details(&b))?;
        cgroups.iter().any(|dir| dir.ends_with(path)).then(|| {
            let runtime = if root.starts_with("/run/containerd") { Runtime::Containerd } else { Runtime::Runc };
            (ContainerRef { id: id.to_owned(), runtime, pod_uid: None, qos: None }, details)
        })
    };
    if let Some(found) = RUNC_ROOTS.iter().find_map(|root| state_of(root, last)) {
        return Some(found);
    }
    if let Ok(dir) = std::fs::read_dir(RUNC_ROOTS[0]) {
        let ids = dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).take(MAX_SCANNED_STATES);
        for id in ids.filter(|id| component(id).is_some()) {
            if let Some(found) = state_of(RUNC_ROOTS[0], &id) {
                return Some(found);
            }
        }
    }
    // containerd without runc state at the usual roots (another shim): its task dir.
    let ns = namespace?;
    Path::new(CONTAINERD_TASKS).join(ns).join(last).is_dir().then(|| {
        (
            ContainerRef { id: last.to_owned(), runtime: Runtime::Containerd, pod_uid: None, qos: None },
            Details::default(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_names_the_container_and_its_image() {
        // The fields as moby writes them (trimmed).
        let json =
            br#"{"StreamConfig":{},"State":{"Running":true,"Pid":4242},"ID":"3f2a","Created":"2026-11-01T10:00:00Z",
            "Path":"python3","Args":["app.py"],"Config":{"Hostname":"3f2a9c1e0b7d","Image":"app:1.4","Labels":{}},
            "Image":"sha256:0123","Name":"/payments-api","Driver":"overlay2"}"#;
        assert_eq!(
            docker_details(json),
            Some(Details { name: Some("payments-api".into()), image: Some("app:1.4".into()), ..Details::default() })
        );
        let k8s = br#"{"Name":"/k8s_app_payments-7d9f_shop_1a2b_0","Config":{"Image":"registry/app@sha256:ab",
            "Labels":{"io.kubernetes.container.name":"app","io.kubernetes.pod.name":"payments-7d9f",
            "io.kubernetes.pod.namespace":"shop"}}}"#;
        let d = docker_details(k8s).unwrap();
        assert_eq!(d.name.as_deref(), Some("app"));
        assert_eq!((d.pod_name.as_deref(), d.pod_namespace.as_deref()), (Some("payments-7d9f"), Some("shop")));
        assert_eq!(docker_details(b"not json"), None);
    }

    #[test]
    fn runc_state_gives_cri_annotations_and_cgroups() {
        // runc 1.1's state.json (trimmed): annotations are labels, and the bundle.
        let json = br#"{"id":"3f2a","init_process_pid":4242,"config":{"rootfs":"/x","labels":[
            "io.kubernetes.cri.container-type=container","io.kubernetes.cri.image-name=docker.io/library/app:1.4",
            "io.kubernetes.cri.container-name=app","io.kubernetes.cri.sandbox-name=payments-7d9f",
            "io.kubernetes.cri.sandbox-namespace=shop","bundle=/run/containerd/io.containerd.runtime.v2.task/k8s.io/3f2a"]},
            "cgroup_paths":{"":"/sys/fs/cgroup/unified/kubepods/pod1/3f2a","memory":"/sys/fs/cgroup/memory/kubepods/pod1/3f2a"}}"#;
        let (d, mut cgroups) = runc_details(json).unwrap();
        assert_eq!(d.image.as_deref(), Some("docker.io/library/app:1.4"));
        assert_eq!(d.name.as_deref(), Some("app"));
        assert_eq!((d.pod_name.as_deref(), d.pod_namespace.as_deref()), (Some("payments-7d9f"), Some("shop")));
        cgroups.sort();
        assert_eq!(cgroups, ["/sys/fs/cgroup/memory/kubepods/pod1/3f2a", "/sys/fs/cgroup/unified/kubepods/pod1/3f2a"]);
        let plain = br#"{"config":{"labels":["bundle=/tmp/b"]},"cgroup_paths":{}}"#;
        assert_eq!(runc_details(plain).map(|(d, _)| d), Some(Details::default()));
    }

    #[test]
    fn only_real_names_become_paths() {
        assert_eq!(component(".."), None);
        assert_eq!(component("a/b"), None);
        assert_eq!(component("web-1"), Some("web-1"));
        assert!(probe("/").is_none());
    }
}
