//! socketpair(2), pipe(2), pipe2(2), accept(2), accept4(2): new fds, with the object
//! the kernel installed (inode: the N of `socket:[N]` / `pipe:[N]`) and, for accept,
//! the peer address. socket(2) needs nothing beyond `new_fd`.
use fdwatch_common::{AcceptPayload, FdPair};

use crate::{
    emit::{self, Call},
    task, user,
};

/// pipe(int fds[2]), pipe2(fds, flags), socketpair(domain, type, protocol, int sv[2]):
/// on success the kernel wrote the two fds to the array in `args[fds_arg]`.
#[inline(always)]
pub fn fd_pair(call: &Call, fds_arg: usize) {
    let Some(mut entry) = emit::syscall_record::<FdPair>(call) else { return };
    let fds = if call.ret == 0 {
        user::read::<[i32; 2]>(call.args[fds_arg & 7], call.succeeded()).unwrap_or([-1, -1])
    } else {
        [-1, -1]
    };
    let payload = emit::payload(&mut entry);
    payload.fds = fds;
    payload.objects[0] = task::fd_object(call.task, fds[0] as i64);
    payload.objects[1] = task::fd_object(call.task, fds[1] as i64);
    emit::submit(entry);
}

/// accept(sockfd, addr, addrlen*, [flags]): on success the kernel wrote the peer's
/// address and its real length to the caller's buffers (net/socket.c, __sys_accept4).
#[inline(always)]
pub fn accept(call: &Call) {
    let Some(mut entry) = emit::syscall_record::<AcceptPayload>(call) else { return };
    let payload = emit::payload(&mut entry);
    payload.object = task::fd_object(call.task, call.ret);
    let len = if call.ret >= 0 { user::read::<u32>(call.args[2], call.succeeded()).unwrap_or(0) } else { 0 };
    user::sockaddr(call.args[1], len as u64, &mut payload.addr, call.succeeded());
    emit::submit(entry);
}
