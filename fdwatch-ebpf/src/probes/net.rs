//! connect(2), sendto(2), sendmsg(2), sendmmsg(2): with the destination address.
use fdwatch_common::{AddrPayload, Kind};

use crate::{
    emit::{self, Call},
    user,
};

/// Where each call keeps its destination address.
#[inline(always)]
fn address(call: &Call) -> (u64, u64) {
    let a = &call.args;
    match call.kind {
        // connect(sockfd, addr, addrlen)
        Kind::Connect => (a[1], a[2]),
        // sendto(sockfd, buf, len, flags, dest_addr, addrlen)
        Kind::Sendto => (a[4], a[5]),
        // sendmsg(sockfd, msg, flags); sendmmsg(sockfd, msgvec, vlen, flags): struct
        // mmsghdr starts with its struct user_msghdr, so both read msg_name there.
        _ => msg_name(a[1], call.succeeded()),
    }
}

/// struct user_msghdr (include/linux/socket.h): msg_name at 0, msg_namelen at 8.
#[inline(always)]
fn msg_name(msg: u64, succeeded: bool) -> (u64, u64) {
    let name = user::read::<u64>(msg, succeeded).unwrap_or(0);
    let len = user::read::<u32>(msg.wrapping_add(8), succeeded).unwrap_or(0);
    (name, len as u64)
}

#[inline(always)]
pub fn with_addr(call: &Call) {
    let Some(mut entry) = emit::syscall_record::<AddrPayload>(call) else { return };
    let (addr, len) = address(call);
    let out = &mut emit::payload(&mut entry).addr;
    user::sockaddr(addr, len, out, call.succeeded());
    emit::submit(entry);
}
