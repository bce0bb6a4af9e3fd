/*
 * monitor: the fd-pool monitor of incident 2 (README.md, *Alerts*), for fdwatch's select_high_fd
 * tests.
 *
 *     monitor N PROBE [ARGS...]
 *
 * Closes every fd above 2 it inherited (test runners leak some), raises RLIMIT_NOFILE
 * so that N + 64 fds fit (for itself and, inherited, its probe), opens N UDP sockets
 * WITHOUT close-on-exec (fds 3 .. N+2), prints
 *
 *     op=monitor ret=0 errno=0 pid=P first=F last=L open=K
 *
 * (K: how many fds /proc/self/fd lists, not counting the directory's own fd), waits for
 * a line on stdin, then forks and execs PROBE ARGS... (argv[0] = PROBE) in the child, so
 * the probe inherits every socket across exec. It waits for the probe and prints
 *
 *     op=probe ret=0 errno=0 pid=C status=S
 *
 * and exits 0. Exit 100 on a setup failure (message on stderr).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "monitor: %s: %s\n", what, strerror(errno));
    fflush(stdout);
    _exit(100);
}

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) die("opendir /proc/self/fd");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: monitor N PROBE [ARGS...]\n");
        return 100;
    }
    int n = atoi(argv[1]);
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) die("close_range");
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) die("getrlimit");
    if (rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = (rlim_t)n + 64;
        if (rl.rlim_max < rl.rlim_cur) rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die("setrlimit");
    }
    int first = -1, last = -1;
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0); /* no SOCK_CLOEXEC: the bug */
        if (fd < 0) die("socket");
        if (first < 0) first = fd;
        last = fd;
    }
    printf("op=monitor ret=0 errno=0 pid=%d first=%d last=%d open=%d\n", getpid(), first, last, count_fds());
    fflush(stdout);
    char c;
    while (read(0, &c, 1) == 1 && c != '\n') {
    }
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        execv(argv[2], argv + 2);
        fprintf(stderr, "monitor: exec %s: %s\n", argv[2], strerror(errno));
        _exit(101);
    }
    int status = 0;
    if (waitpid(child, &status, 0) < 0) die("waitpid");
    printf("op=probe ret=0 errno=0 pid=%d status=%d\n", child, status);
    fflush(stdout);
    return 0;
}
