/*
 * hostile: a process with attacker-chosen names, for fdwatch's text-output test
 * (tests/tests/hostile_text.rs).
 *
 *     hostile COMM FILE SOCKET
 *
 * Closes every inherited fd above 2, names itself COMM with prctl(PR_SET_NAME) (any
 * bytes but NUL, as any user may), prints "ready pid=P" and waits for a line on stdin
 * (so that the test can start fdwatch on it). Then, each exactly once: openat(AT_FDCWD, FILE, O_RDONLY) = 3,
 * socket(AF_UNIX, SOCK_STREAM, 0) = 4, connect(4, SOCKET), prints "done file=3 sock=4",
 * dup2(4, 1) (a socket onto stdout: a stdio_hijack alert), waits for another line on
 * stdin and exits 0. Printing is write(2) and waiting read(2), which fdwatch does not
 * trace, so fdwatch sees exactly: openat, socket, connect, dup2, exit.
 * Exit status 1 (and a message on stderr) if a call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "hostile: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void wait_line(void) {
    char c;
    while (read(0, &c, 1) == 1 && c != '\n') {
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: hostile COMM FILE SOCKET\n");
        return 2;
    }
    /* Whatever the test runner let us inherit (cargo's jobserver pipes, ...) would take
     * fds 3 and 4; before fdwatch watches, so untraced. */
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0) die("close_range");
    if (prctl(PR_SET_NAME, argv[1], 0, 0, 0) != 0) die("prctl(PR_SET_NAME)");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(argv[3]) >= sizeof sun.sun_path) {
        fprintf(stderr, "hostile: socket path too long\n");
        return 2;
    }
    strcpy(sun.sun_path, argv[3]);
    printf("ready pid=%d\n", getpid());
    fflush(stdout);
    wait_line();

    /* The raw syscalls, so that glibc substitutes nothing (open -> openat, ...). */
    long file = syscall(SYS_openat, AT_FDCWD, argv[2], O_RDONLY);
    if (file < 0) die("openat");
    long sock = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (sock < 0) die("socket");
    if (syscall(SYS_connect, sock, &sun, sizeof sun) != 0) die("connect");
    printf("done file=%ld sock=%ld\n", file, sock);
    fflush(stdout);
    if (syscall(SYS_dup2, sock, 1) != 1) die("dup2");
    wait_line();
    return 0;
}
