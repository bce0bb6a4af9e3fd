//! Which cgroup, and which container, a process belongs to (issue 16).
//!
//! Every record names a process by pid; on a host that runs containers the pid alone
//! sends the reader hunting. The kernel gives each event the process's cgroup id
//! (`bpf_get_current_cgroup_id()`, the unified hierarchy's: kernel/bpf/helpers.c),
//! and this module turns it into what a person looks for: the cgroup's path, and where
//! the path is a container's, the container (id, runtime, Kubernetes pod and QoS class,
//! and its name and image when the runtime's own state on disk says so).
//!
//! - `cgroup_path.rs`: the path -> container, pure (every runtime's layout, unit-tested);
//! - `layout.rs`: which cgroup hierarchies the host mounts (v2, v1, or both: "hybrid");
//! - `runtime_state.rs`: name, image and pod from the runtimes' state files;
//! - `find.rs`: which container `--container` names, and its cgroup;
//! - `cache.rs`: what the collector keeps: cgroup id -> path -> container, resolved once
//!   per cgroup (and on v1 per process), with the reads at the edge (`Source`).
//!
//! A layer of its own below the model (the model keeps each process's `Cgroup`): it
//! imports only the base (value.rs, heap.rs). Plain data here; the reading of /proc,
//! /sys/fs/cgroup and state files is the `Source`'s, which the fuzz target replaces.
pub mod cache;
pub mod cgroup_path;
pub mod find;
pub mod layout;
pub mod runtime_state;

use std::{borrow::Cow, fmt};

pub use cache::{Cache, Source, SystemSource};

use crate::value::Value;

/// The container runtimes fdwatch recognises, by the cgroups they make (cgroup_path.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    Docker,
    /// containerd: Kubernetes' CRI plugin, nerdctl, ctr.
    Containerd,
    CriO,
    Podman,
    /// runc run by hand (or by a tool that left only runc's state).
    Runc,
    SystemdNspawn,
    Lxc,
    /// A Kubernetes container under kubelet's cgroupfs driver whose runtime (containerd
    /// or Docker through cri-dockerd) neither the path nor a state file told.
    Cri,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Runc => "runc",
            Runtime::SystemdNspawn => "systemd-nspawn",
            Runtime::Lxc => "lxc",
            Runtime::Cri => "cri",
        }
    }
}

/// A Kubernetes pod's QoS class (kubelet: besteffort, burstable, guaranteed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl Qos {
    pub fn name(self) -> &'static str {
        match self {
            Qos::Guaranteed => "guaranteed",
            Qos::Burstable => "burstable",
            Qos::BestEffort => "besteffort",
        }
    }
}

/// What a cgroup path says about a container (cgroup_path.rs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRef {
    pub id: String,
    pub runtime: Runtime,
    pub pod_uid: Option<String>,
    pub qos: Option<Qos>,
}

/// What the runtime's state on disk adds (runtime_state.rs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    pub name: Option<String>,
    pub image: Option<String>,
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
}

/// A container, as records show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    pub id: Box<str>,
    pub runtime: Runtime,
    pub name: Option<Box<str>>,
    pub image: Option<Box<str>>,
    pub pod_uid: Option<Box<str>>,
    pub qos: Option<Qos>,
    pub pod_name: Option<Box<str>>,
    pub pod_namespace: Option<Box<str>>,
}

impl Container {
    pub fn new(r: ContainerRef, d: Details) -> Self {
        Container {
            id: r.id.into(),
            runtime: r.runtime,
            name: d.name.map(Into::into),
            image: d.image.map(Into::into),
            pod_uid: r.pod_uid.map(Into::into),
            qos: r.qos,
            pod_name: d.pod_name.map(Into::into),
            pod_namespace: d.pod_namespace.map(Into::into),
        }
    }

    /// The id as `docker ps` shows it: the first 12 digits of a 64-hex id; a name
    /// (runc, nspawn, LXC) as it is.
    pub fn short_id(&self) -> &str {
        if cgroup_path::is_id(&self.id) { &self.id[..12] } else { &self.id }
    }

    /// Whether `prefix` names this container (`--container`, allow rules): a prefix of
    /// its id, or its name.
    pub fn matches(&self, prefix: &str) -> bool {
        !prefix.is_empty() && (self.id.starts_with(prefix) || self.name.as_deref() == Some(prefix))
    }

    /// The `container` object of records.
    pub fn value(&self) -> Value {
        let s = |v: &str| Value::Str(Cow::Owned(v.to_owned()));
        let mut f = vec![("id", s(&self.id)), ("runtime", Value::Str(Cow::Borrowed(self.runtime.name())))];
        if let Some(v) = &self.name {
            f.push(("name", s(v)));
        }
        if let Some(v) = &self.image {
            f.push(("image", s(v)));
        }
        if let Some(v) = &self.pod_uid {
            f.push(("pod_uid", s(v)));
        }
        if let Some(q) = self.qos {
            f.push(("qos", Value::Str(Cow::Borrowed(q.name()))));
        }
        if let Some(v) = &self.pod_name {
            f.push(("pod_name", s(v)));
        }
        if let Some(v) = &self.pod_namespace {
            f.push(("pod_namespace", s(v)));
        }
        Value::Object(f)
    }
}

/// `container 3f2a9c1e0b7d (docker, name web, image app:1.4) in pod payments/payments-7d9f`:
/// what text output writes next to a pid.
impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "container {} ({}", self.short_id(), self.runtime.name())?;
        if let Some(v) = &self.name {
            write!(f, ", name {v}")?;
        }
        if let Some(v) = &self.image {
            write!(f, ", image {v}")?;
        }
        f.write_str(")")?;
        match (&self.pod_namespace, &self.pod_name, &self.pod_uid) {
            (Some(ns), Some(name), _) => write!(f, " in pod {ns}/{name}")?,
            (None, Some(name), _) => write!(f, " in pod {name}")?,
            (_, None, Some(uid)) => write!(f, " in pod {uid}")?,
            _ => {}
        }
        if let Some(q) = self.qos {
            write!(f, " ({})", q.name())?;
        }
        Ok(())
    }
}

/// Which hierarchy a cgroup path is of.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Hierarchy {
    /// cgroup v2, whose id every event carries.
    Unified,
    /// A v1 hierarchy (`name=systemd`, `memory`, ...), used where the process's unified
    /// cgroup is the root and so says nothing (v1-only hosts, and runtimes that do not
    /// join the unified hierarchy of a hybrid host).
    V1(Box<str>),
}

/// A process's cgroup as records show it: the kernel's id, the path (None when it
/// could not be read: counted, and said once on stderr), and the container it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    /// The unified hierarchy's cgroup id, as the kernel gave it (`cgroup_id()`,
    /// include/linux/cgroup.h: the kernfs node id, which is also the directory's
    /// inode number under /sys/fs/cgroup on 64-bit kernels).
    pub id: u64,
    pub path: Option<Box<str>>,
    pub hierarchy: Hierarchy,
    pub container: Option<Container>,
    /// `"cgroup":{...}` and `,"container":{...}` as JSON, rendered once by the sinks
    /// (every event record of the process carries them).
    pub json: std::cell::OnceCell<Box<[u8]>>,
}

impl Cgroup {
    pub fn new(id: u64, path: Option<String>, hierarchy: Hierarchy, container: Option<Container>) -> Self {
        Cgroup { id, path: path.map(Into::into), hierarchy, container, json: Default::default() }
    }

    /// The `cgroup` object of records: `id`, and `path` when known, with `hierarchy`
    /// when the path is a v1 hierarchy's.
    pub fn value(&self) -> Value {
        let mut f = vec![("id", Value::Int(self.id as i64))];
        if let Some(p) = &self.path {
            f.push(("path", Value::Str(Cow::Owned(p.to_string()))));
        }
        if let Hierarchy::V1(name) = &self.hierarchy {
            f.push(("hierarchy", Value::Str(Cow::Owned(name.to_string()))));
        }
        Value::Object(f)
    }

    /// The fields records add for a process in this cgroup: `cgroup`, and `container`
    /// if it is one's.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let mut f = vec![("cgroup", self.value())];
        if let Some(c) = &self.container {
            f.push(("container", c.value()));
        }
        f
    }
}
