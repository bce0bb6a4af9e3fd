//! recvmsg(2), recvmmsg(2): the fds another process passed over a unix socket with
//! SCM_RIGHTS (unix(7)), which the kernel installed in the caller's fd table
//! (scm_detach_fds, net/core/scm.c) and listed in the caller's control buffer.
//!
//! recvmsg is hot on many servers and almost never carries fds, so everything that
//! does not is dropped before anything is reserved: a failed call, and a call whose
//! `msg_controllen` (which the kernel sets at return to the control bytes it wrote,
//! ___sys_recvmsg in net/socket.c) is too short for one SCM_RIGHTS message. That costs
//! one 8-byte user read per successful call.
use aya_ebpf::helpers::generated::bpf_probe_read_user;
use fdwatch_common::{Kind, RECV_FDS, Received};

use crate::{
    emit::{self, Call},
    task, user,
};

/// struct user_msghdr (include/linux/socket.h): msg_control at 32, msg_controllen
/// (size_t) at 40; 56 bytes. struct mmsghdr adds `unsigned msg_len`: 64 bytes.
const MSG_CONTROL: u64 = 32;
const MSG_CONTROLLEN: u64 = 40;
const MMSGHDR_SIZE: u64 = 64;
/// struct cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type, then the data,
/// each header CMSG_ALIGN'ed to sizeof(long).
const CMSG_HDR: u64 = 16;
/// CMSG_LEN(sizeof(int)): the shortest SCM_RIGHTS message.
const CMSG_LEN_ONE_FD: u64 = CMSG_HDR + 4;
/// SOL_SOCKET and SCM_RIGHTS (include/linux/socket.h, include/uapi/asm-generic/socket.h).
const SOL_SOCKET: u64 = 1;
const SCM_RIGHTS: u64 = 1;
/// Control messages looked at per msghdr: SCM_CREDENTIALS (SO_PASSCRED) and SCM_PIDFD
/// (SO_PASSPIDFD) come before SCM_RIGHTS, which comes last (scm_recv, include/net/scm.h).
const MAX_CMSGS: usize = 3;
/// recvmmsg: messages looked at. Fds in later messages of the same call are not
/// reported; the fd model meets them as unknown fds and re-reads the process.
const MAX_MSGS: u64 = 2;

#[inline(always)]
pub fn exit(call: &Call) {
    // Both return -errno on failure; recvmmsg returns the number of messages.
    if call.ret < 0 {
        return;
    }
    let mut found = None;
    if call.kind == Kind::Recvmsg {
        found = rights(call.args[1]);
    } else {
        // recvmmsg(sockfd, struct mmsghdr *msgvec, vlen, flags, timeout)
        for i in 0..MAX_MSGS {
            if found.is_none() && (i as i64) < call.ret {
                found = rights(call.args[1].wrapping_add(i * MMSGHDR_SIZE));
            }
        }
    }
    let Some((data, count)) = found else { return };
    let Some(mut entry) = emit::syscall_record::<Received>(call) else { return };
    let payload = emit::payload(&mut entry);
    let mut n = count;
    if n > RECV_FDS as u64 {
        n = RECV_FDS as u64;
    }
    payload.nfds = n as u32;
    payload.more = (count - n) as u32;
    payload.fds = [-1; RECV_FDS];
    let size = (n as u32) * 4;
    if size > 0 {
        // SAFETY: the helper writes `size` <= 4 * RECV_FDS bytes, the size of
        // `payload.fds`, a borrow of the reserved record; the source may be any address
        // (copy_from_user_nofault returns an error instead of faulting).
        let ret = unsafe { bpf_probe_read_user(payload.fds.as_mut_ptr().cast(), size, data as *const _) };
        if ret != 0 {
            payload.nfds = 0;
        }
    }
    for i in 0..RECV_FDS {
        payload.objects[i] = if (i as u32) < payload.nfds {
            task::fd_object(call.task, payload.fds[i] as i64)
        } else {
            Default::default()
        };
    }
    emit::submit(entry);
}

/// Where the SCM_RIGHTS fds of one msghdr are, and how many: (address, count).
#[inline(always)]
fn rights(msg: u64) -> Option<(u64, u64)> {
    // The kernel has just written msg_controllen back: the page is resident.
    let len = user::read::<u64>(msg.wrapping_add(MSG_CONTROLLEN), true)?;
    if len < CMSG_LEN_ONE_FD {
        return None;
    }
    let control = user::read::<u64>(msg.wrapping_add(MSG_CONTROL), true)?;
    let mut at = 0u64;
    for _ in 0..MAX_CMSGS {
        if at + CMSG_LEN_ONE_FD > len {
            return None;
        }
        let [cmsg_len, level_type] = user::read::<[u64; 2]>(control.wrapping_add(at), true)?;
        if cmsg_len < CMSG_HDR || cmsg_len > len - at {
            return None;
        }
        // cmsg_level, then cmsg_type, each an int.
        if level_type & 0xffff_ffff == SOL_SOCKET && level_type >> 32 == SCM_RIGHTS {
            return Some((control.wrapping_add(at + CMSG_HDR), (cmsg_len - CMSG_HDR) / 4));
        }
        // CMSG_NXTHDR: the next header starts CMSG_ALIGN(cmsg_len) further.
        at += (cmsg_len + 7) & !7;
    }
    None
}
