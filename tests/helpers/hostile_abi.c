/*
 * hostile_abi: what any unprivileged user can do to an fd monitor, for fdwatch's
 * tests/tests/hostile_input.rs. It drops to the user `nobody` first (it is started
 * by root, after the fork), prints `pid=N uid=N` on stderr, waits for a line on stdin,
 * then runs one scenario and prints one `op=NAME ret=N errno=N` line on stderr per
 * syscall (stdout is one of the fds it closes), then `done`, and exits at the next line
 * or the end of stdin:
 *
 *   close-wide      syscall(SYS_close, 0x100000001): the kernel takes an unsigned int
 *                   and closes fd 1 (stdout); then socket(AF_INET, SOCK_DGRAM) (gets
 *                   fd 1), socket(AF_INET, SOCK_STREAM), dup2(that, 0), close(that).
 *   dup-loop N      a socket on fd A and a dup of it on fd B, then N times
 *                   dup2(A, B); dup2(B, A) (each fd's history one step longer per call),
 *                   close(A), close(B), close(9999) (EBADF: the end marker).
 *
 * Exit status: 0 when done, 2 on a usage or setup error (message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void report(const char *op, long ret) {
    dprintf(2, "op=%s ret=%ld errno=%d\n", op, ret, ret < 0 ? errno : 0);
}

static void drop_to_nobody(void) {
    struct passwd *pw = getpwnam("nobody");
    uid_t uid = pw ? pw->pw_uid : 65534;
    gid_t gid = pw ? pw->pw_gid : 65534;
    if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0 || getuid() != uid || geteuid() != uid) {
        dprintf(2, "hostile_abi: cannot become nobody (%u): %s\n", (unsigned)uid, strerror(errno));
        exit(2);
    }
}

static void close_wide(void) {
    report("close_wide", syscall(SYS_close, 0x100000001L));
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    report("socket_udp", udp);
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    report("socket_tcp", tcp);
    report("dup2", dup2(tcp, 0));
    report("close", close(tcp));
}

static void dup_loop(long n) {
    int a = socket(AF_UNIX, SOCK_DGRAM, 0);
    report("socket", a);
    int b = dup(a);
    report("dup", b);
    const struct timespec pause = {0, 2 * 1000 * 1000};
    for (long i = 0; i < n; i++) {
        if (dup2(a, b) != b || dup2(b, a) != a) {
            report("dup2_failed", -1);
            exit(2);
        }
        /* Bursts of 2000 events: far below what the ring buffer holds, so none is
           lost (a loss would re-read the process and reset its histories). */
        if (i % 1000 == 999)
            nanosleep(&pause, NULL);
    }
    report("loop_done", n);
    report("close_a", close(a));
    report("close_b", close(b));
    report("close_marker", close(9999));
}

int main(int argc, char **argv) {
    if (argc < 2) {
        dprintf(2, "usage: hostile_abi close-wide | hostile_abi dup-loop N\n");
        return 2;
    }
    drop_to_nobody();
    dprintf(2, "pid=%d uid=%d\n", (int)getpid(), (int)getuid());
    char line[16];
    if (read(0, line, sizeof line) <= 0) {
        dprintf(2, "hostile_abi: no go on stdin\n");
        return 2;
    }
    if (strcmp(argv[1], "close-wide") == 0) {
        close_wide();
    } else if (strcmp(argv[1], "dup-loop") == 0 && argc == 3) {
        dup_loop(strtol(argv[2], NULL, 10));
    } else {
        dprintf(2, "hostile_abi: unknown scenario %s\n", argv[1]);
        return 2;
    }
    /* Stay until stdin has another line or is closed, so the test can look at the
       model while this process still lives. */
    dprintf(2, "done\n");
    (void)read(0, line, sizeof line);
    return 0;
}
