//! open(2), openat(2), openat2(2): the path as given, and the object opened.
use fdwatch_common::{Kind, OpenPayload};

use crate::{
    emit::{self, Call},
    task, user,
};

#[inline(always)]
pub fn open(call: &Call, path_arg: usize) {
    let Some(mut entry) = emit::syscall_record::<OpenPayload>(call) else { return };
    let payload = emit::payload(&mut entry);
    let file = task::fd_file(call.task, call.ret);
    payload.object = task::fd_object_of(file);
    // posix_openpt(3) opens /dev/ptmx: which /dev/pts/N is its other side.
    payload.tty_index = task::pty_master_index(file, &payload.object);
    payload._pad = 0;
    // openat2(dirfd, pathname, struct open_how *how, size): flags, mode, resolve
    // (include/uapi/linux/openat2.h).
    payload.how = if call.kind == Kind::Openat2 {
        user::read::<[u64; 3]>(call.args[2], call.succeeded()).unwrap_or([0; 3])
    } else {
        [0; 3]
    };
    user::path(call.args[path_arg & 7], &mut payload.path, call.succeeded());
    emit::submit(entry);
}
