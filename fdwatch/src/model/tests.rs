//! The model against synthetic event sequences (no root, no kernel).
use fdwatch_common::Kind;

use super::{
    Access, Applied, Model, Step,
    snapshot::{FdSnapshot, ProcSnapshot},
    synthetic::*,
};
use crate::decode::Payload;

fn fds_of(m: &Model, pid: u32) -> Vec<i32> {
    let mut v: Vec<i32> = m.table_of(pid).map(|t| t.fds.keys().collect()).unwrap_or_default();
    v.sort();
    v
}

#[test]
fn fork_then_exec_keeps_only_fds_without_cloexec() {
    let mut m = model_with(100);
    assert_eq!(m.apply(&pipe(100, 1, [3, 4], 777, 0)), Applied::Changed);
    assert_eq!(m.apply(&socket(100, 2, 5, 888, true)), Applied::Changed);
    assert_eq!(m.apply(&fork(100, 200, 3, false, false)), Applied::Changed);
    assert_eq!(fds_of(&m, 200), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(m.apply(&exec(200, 4, "/usr/bin/daemon")), Applied::Changed);
    assert_eq!(fds_of(&m, 200), vec![0, 1, 2, 3, 4], "the CLOEXEC socket is gone");
    assert_eq!(fds_of(&m, 100), vec![0, 1, 2, 3, 4, 5], "the parent keeps everything");
    let (entry, object) = m.fd(200, 4).unwrap();
    assert_eq!(object.kind.type_name(), "pipe");
    assert_eq!(entry.access, Access::Write);
    let steps: Vec<Step> = entry.origin.chain().iter().map(|o| o.step).collect();
    assert_eq!(steps, vec![Step::Created(Kind::Pipe2), Step::Inherited { from_pid: 100 }, Step::SurvivedExec]);
    assert_eq!((entry.origin.last().pid, entry.origin.last().ts_ns), (200, 4), "the last step: exec in the child");
    assert_eq!(m.process(200).unwrap().exe.as_deref(), Some("/usr/bin/daemon"));
    // One pipe object, held by both processes at both ends: a lookup, not a scan.
    let (id, _) = m.object_by_inode(super::InodeKey::Pipe(777)).unwrap();
    let holders: Vec<(u32, i32)> = m.holders(id).iter().map(|(p, fd, _)| (*p, *fd)).collect();
    assert_eq!(holders, vec![(100, 3), (100, 4), (200, 3), (200, 4)]);
    // The socket object is only in the parent now.
    let (sock, _) = m.object_by_inode(super::InodeKey::Socket(888)).unwrap();
    assert_eq!(m.holders(sock).len(), 1);
}

#[test]
fn dup2_over_an_open_fd_closes_it_and_clears_cloexec() {
    let mut m = model_with(100);
    m.apply(&socket(100, 1, 3, 50, true));
    assert_eq!(m.apply(&call(Kind::Dup2, 100, 2, 0, &[3, 0], Payload::None)), Applied::Changed);
    let (entry, object) = m.fd(100, 0).unwrap();
    assert_eq!(object.kind.type_name(), "socket");
    assert!(!entry.cloexec, "dup2 clears FD_CLOEXEC on the new fd (dup(2))");
    assert_eq!(entry.origin.last().step, Step::Dup { kind: Kind::Dup2, from_fd: 3 });
    // The tty that was on 0 is still held by 1 and 2.
    assert_eq!(m.fd(100, 1).unwrap().1.kind.type_name(), "tty");
    // dup3 with O_CLOEXEC sets it; a failed dup2 changes nothing.
    m.apply(&call(Kind::Dup3, 100, 3, 7, &[3, 7, O_CLOEXEC], Payload::None));
    assert!(m.fd(100, 7).unwrap().0.cloexec);
    assert_eq!(m.apply(&call(Kind::Dup2, 100, 4, -9, &[42, 8], Payload::None)), Applied::Unchanged);
    assert!(m.fd(100, 8).is_none());
}

#[test]
fn close_range_with_cloexec_marks_and_without_closes() {
    let mut m = model_with(100);
    for (fd, ino) in [(3, 1), (4, 2), (5, 3)] {
        m.apply(&socket(100, 1, fd, ino, false));
    }
    m.apply(&call(Kind::CloseRange, 100, 2, 0, &[4, u32::MAX as u64, 1 << 2], Payload::None));
    assert!(!m.fd(100, 3).unwrap().0.cloexec);
    assert!(m.fd(100, 4).unwrap().0.cloexec && m.fd(100, 5).unwrap().0.cloexec);
    m.apply(&call(Kind::CloseRange, 100, 3, 0, &[3, 4, 0], Payload::None));
    assert_eq!(fds_of(&m, 100), vec![0, 1, 2, 5]);
}

#[test]
fn threads_and_clone_files_share_one_table() {
    let mut m = model_with(100);
    assert_eq!(m.apply(&fork(100, 101, 1, true, true)), Applied::Unchanged, "a thread is not a process");
    assert_eq!(m.apply(&fork(100, 300, 2, false, true)), Applied::Changed);
    m.apply(&socket(300, 3, 3, 9, false));
    assert_eq!(fds_of(&m, 100), vec![0, 1, 2, 3], "CLONE_FILES: the parent sees the child's socket");
    // exec unshares the table (begin_new_exec -> unshare_files) before closing CLOEXEC.
    m.apply(&socket(100, 4, 4, 10, true));
    m.apply(&exec(300, 5, "/bin/x"));
    assert_eq!(fds_of(&m, 300), vec![0, 1, 2, 3]);
    assert_eq!(fds_of(&m, 100), vec![0, 1, 2, 3, 4]);
    m.apply(&call(Kind::Close, 300, 6, 0, &[3], Payload::None));
    assert_eq!(fds_of(&m, 100), vec![0, 1, 2, 3, 4], "no longer shared");
}

#[test]
fn pid_reuse_replaces_the_old_process() {
    let mut m = model_with(100);
    m.apply(&fork(100, 200, 1, false, false));
    m.apply(&socket(200, 2, 3, 11, false));
    // The exit of 200 was lost; the pid comes back as a new child of 100.
    m.apply(&fork(100, 200, 3, false, false));
    assert_eq!(fds_of(&m, 200), vec![0, 1, 2]);
    assert!(m.object_by_inode(super::InodeKey::Socket(11)).is_none(), "the old socket was released");
    m.apply(&exit(200, 4));
    assert!(m.process(200).is_none());
}

#[test]
fn contradictions_ask_for_a_resync_which_heals() {
    let mut m = model_with(100);
    m.apply(&socket(100, 1, 3, 5, false));
    // A close was lost (ring buffer full): fd 3 is reused by a pipe.
    let r = m.apply(&pipe(100, 2, [3, 4], 6, 0));
    assert!(matches!(r, Applied::Resync { pid: 100, .. }), "{r:?}");
    assert!(matches!(m.apply(&call(Kind::Close, 100, 3, 0, &[9], Payload::None)), Applied::Resync { pid: 100, .. }));
    // What /proc says now wins; unchanged fds keep their provenance.
    let fds = vec![
        FdSnapshot {
            fd: 0,
            link: "/dev/pts/0".into(),
            cloexec: false,
            access: Access::ReadWrite,
            ino: 3,
            tty_index: None,
        },
        FdSnapshot { fd: 3, link: "pipe:[6]".into(), cloexec: false, access: Access::Read, ino: 6, tty_index: None },
        FdSnapshot {
            fd: 10,
            link: "socket:[12]".into(),
            cloexec: true,
            access: Access::ReadWrite,
            ino: 12,
            tty_index: None,
        },
    ];
    let snap = ProcSnapshot { pid: 100, ppid: 1, comm: "sh".into(), read_at_ns: 10, fds, ..Default::default() };
    let differed = m.load_snapshot(&snap, Step::Resynced);
    assert_eq!(differed, 4, "fds 1, 2 and 4 gone, 10 new");
    assert_eq!(fds_of(&m, 100), vec![0, 3, 10]);
    assert_eq!(m.fd(100, 3).unwrap().0.origin.last().step, Step::Created(Kind::Pipe2), "kept");
    assert_eq!(m.fd(100, 10).unwrap().0.origin.last().step, Step::Resynced);
    // Events older than the reading are already in it.
    assert_eq!(m.apply(&call(Kind::Close, 100, 9, 0, &[3], Payload::None)), Applied::Unchanged);
    assert!(m.fd(100, 3).is_some());
}

#[test]
fn events_of_unknown_processes_ask_for_a_reading() {
    let mut m = Model::default();
    assert!(matches!(m.apply(&socket(5, 1, 3, 1, false)), Applied::Resync { pid: 5, .. }));
    assert!(matches!(m.apply(&fork(5, 6, 1, false, false)), Applied::Resync { pid: 6, .. }));
    assert_eq!(m.apply(&exit(5, 2)), Applied::Unchanged);
}

#[test]
fn the_fd_limit_drops_and_counts() {
    let mut m = Model::new(super::Limits { max_fds: 4 });
    let snap = ProcSnapshot { pid: 1, ppid: 0, comm: "x".into(), ..Default::default() };
    m.load_snapshot(&snap, Step::PresentAtStart);
    for fd in 0..6 {
        m.apply(&socket(1, 1, fd, 100 + fd as u64, false));
    }
    assert_eq!(m.tracked_fds(), 4);
    assert_eq!(m.take_dropped(), 2);
    assert_eq!(m.take_dropped(), 0);
}
/// The per-fd memory budget (100 bytes, issue 5) is these sizes: a table slot is an
/// `Option<FdEntry>`, an object slot an `Object` plus its generation. A field added
/// here costs every tracked fd on the host.
#[test]
fn per_fd_structures_stay_small() {
    use std::mem::size_of;
    assert_eq!(size_of::<Option<super::FdEntry>>(), 32);
    assert_eq!(size_of::<super::Object>(), 48);
}

#[test]
fn a_dup_loop_of_any_length_keeps_a_bounded_history_and_closes_cleanly() {
    // `for (;;) { dup2(3, 4); dup2(4, 3); }`: each dup made its fd's history one step
    // longer, and closing the fds dropped a chain of 400k nodes by recursion: the
    // collector's stack overflowed.
    let mut m = model_with(100);
    m.apply(&socket(100, 1, 3, 9, false));
    for i in 0..200_000u64 {
        m.apply(&call(Kind::Dup2, 100, 2 + 2 * i, 4, &[3, 4], Payload::None));
        m.apply(&call(Kind::Dup2, 100, 3 + 2 * i, 3, &[4, 3], Payload::None));
    }
    for fd in [3, 4] {
        let (entry, _) = m.fd(100, fd).unwrap();
        assert!(entry.origin.chain().len() <= super::origin::MAX_STEPS, "fd {fd}: {}", entry.origin.chain().len());
    }
    assert_eq!(m.apply(&call(Kind::Close, 100, 1 << 40, 0, &[3], Payload::None)), Applied::Changed);
    assert_eq!(m.apply(&call(Kind::Close, 100, 1 << 40, 0, &[4], Payload::None)), Applied::Changed);
    assert_eq!(fds_of(&m, 100), vec![0, 1, 2]);
}

#[test]
fn negative_new_fds_are_not_installed_but_read_from_proc() {
    // pipe(2) writes its fds to the caller's memory, which the probe reads back at exit:
    // a thread of the caller can overwrite them in between.
    let mut m = model_with(100);
    let resync = |a: Applied| matches!(a, Applied::Resync { pid: 100, .. });
    assert!(resync(m.apply(&pipe(100, 1, [-1, 5], 70, 0))));
    assert_eq!(fds_of(&m, 100), vec![0, 1, 2, 5]);
    assert!(resync(m.apply(&pipe(100, 2, [-3, i32::MIN], 71, 0))));
    assert_eq!(fds_of(&m, 100), vec![0, 1, 2, 5]);
    assert!(m.object_by_inode(super::InodeKey::Pipe(71)).is_none(), "an object nobody holds is not kept");
    assert!(resync(m.apply(&call(Kind::Dup2, 100, 3, 0, &[5, u32::MAX as u64], Payload::None))));
    assert_eq!(fds_of(&m, 100), vec![0, 1, 2, 5]);
}
