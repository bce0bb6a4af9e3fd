/*
 * model_procs: the process trees of fdwatch's fd-model tests (tests/tests/model_*.rs).
 *
 *     model_procs MODE [ARGS...]
 *
 * Every mode first prints {"ev":"started","pid":P} and, except `prestart`, blocks until
 * a line arrives on stdin (the test starts fdwatch on P meanwhile). Then it builds its
 * tree with raw syscalls (syscall(2), so the test knows exactly which call made each
 * fd), prints one JSON line per fact the test needs (fds, pids), prints
 * {"ev":"paused",...} and blocks reading stdin. Its children never read stdin: they
 * block in pause(2), or exec `sleep`. Each line is one write(2), so lines of
 * different processes never mix.
 *
 * On stdin, the root understands "poke": close(99999), which fails with EBADF (so it
 * changes no fd) but is an event fdwatch reports, then {"ev":"poked"}. At EOF it exits.
 *
 * Only syscalls of the model's families are made between "go" and "paused", apart
 * from write(2) for the output and read(2) of stdin, which fdwatch does not trace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SLEEP
#define SLEEP "/bin/sleep"
#endif

static const char *self_path;

static void die(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    (void)!write(2, "model_procs: ", 13);
    (void)!write(2, buf, (size_t)n);
    _exit(100);
}

/* One output line, one write(2). */
static char out[1 << 20];
static size_t out_len;

static void put(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + out_len, sizeof out - out_len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof out - out_len) die("output line too long");
    out_len += (size_t)n;
}

static void emit(void) {
    put("\n");
    size_t off = 0;
    while (off < out_len) {
        ssize_t n = write(1, out + off, out_len - off);
        if (n <= 0) _exit(0); /* nobody listens any more */
        off += (size_t)n;
    }
    out_len = 0;
}

static long check(long r, const char *what) {
    if (r < 0) die("%s: %s", what, strerror(errno));
    return r;
}

#define SYS(name, ...) check(syscall(SYS_##name, __VA_ARGS__), #name)

static void wait_line(void) {
    char c;
    for (;;) {
        ssize_t n = read(0, &c, 1);
        if (n <= 0) _exit(0);
        if (c == '\n') return;
    }
}

/* The root's paused state: serve "poke" until stdin ends. */
static void serve(void) {
    char line[64];
    size_t len = 0;
    char c;
    for (;;) {
        ssize_t n = read(0, &c, 1);
        if (n <= 0) _exit(0);
        if (c != '\n') {
            if (len < sizeof line - 1) line[len++] = c;
            continue;
        }
        line[len] = 0;
        len = 0;
        if (strcmp(line, "poke") == 0) {
            long r = syscall(SYS_close, 99999);
            put("{\"ev\":\"poked\",\"ret\":%ld}", r);
            emit();
        }
    }
}

/* A child's paused state. */
static void forever(void) {
    for (;;) pause();
}

static void exec_sleep(void) {
    char *av[] = {"sleep", "600", NULL};
    syscall(SYS_execve, SLEEP, av, environ);
    die("execve %s: %s", SLEEP, strerror(errno));
}

static void raise_nofile(void) {
    struct rlimit rl;
    check(getrlimit(RLIMIT_NOFILE, &rl), "getrlimit");
    rl.rlim_cur = rl.rlim_max;
    check(setrlimit(RLIMIT_NOFILE, &rl), "setrlimit");
}

static pid_t do_fork(void) {
    pid_t pid = (pid_t)check(fork(), "fork");
    return pid;
}

/* ---------------------------------------------------------------- scenarios */

/* 1. P: a CLOEXEC pipe, a plain socket, its dup (plain) and F_DUPFD_CLOEXEC dup, a plain
 * eventfd, a CLOEXEC /dev/null; fork; the child execs `model_procs chain_mid FD`, which
 * sets FIOCLEX on FD (the dup), forks, and its child execs sleep. */
static void chain(void) {
    int p[2];
    SYS(pipe2, p, O_CLOEXEC);
    int s = (int)SYS(socket, AF_INET, SOCK_STREAM, 0);
    int d = (int)SYS(dup, s);
    int dc = (int)SYS(fcntl, s, F_DUPFD_CLOEXEC, 0);
    int e = (int)SYS(eventfd2, 0, 0);
    int nul = (int)SYS(openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
    put("{\"ev\":\"fds\",\"pipe_r\":%d,\"pipe_w\":%d,\"socket\":%d,\"dup\":%d,\"dup_cloexec\":%d,\"eventfd\":%d,"
        "\"devnull\":%d}",
        p[0], p[1], s, d, dc, e, nul);
    emit();
    pid_t c1 = do_fork();
    if (c1 == 0) {
        char fd[16];
        snprintf(fd, sizeof fd, "%d", d);
        char *av[] = {"model_procs", "chain_mid", fd, NULL};
        syscall(SYS_execve, self_path, av, environ);
        die("execve %s: %s", self_path, strerror(errno));
    }
    put("{\"ev\":\"paused\",\"child\":%d}", c1);
    emit();
    serve();
}

static void chain_mid(int fd) {
    SYS(ioctl, fd, FIOCLEX);
    pid_t c2 = do_fork();
    if (c2 == 0) exec_sleep();
    put("{\"ev\":\"mid\",\"pid\":%d,\"child\":%d}", getpid(), c2);
    emit();
    forever();
}

/* 1b. posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) or clone3) of sleep with file
 * actions: a CLOEXEC pipe's write end dup2'd onto 1, a plain socket closed. */
static void spawn(void) {
    int p[2];
    SYS(pipe2, p, O_CLOEXEC);
    int s = (int)SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addclose(&fa, s);
    char *av[] = {"sleep", "600", NULL};
    pid_t c;
    int err = posix_spawn(&c, SLEEP, &fa, NULL, av, environ);
    if (err) die("posix_spawn: %s", strerror(err));
    put("{\"ev\":\"paused\",\"child\":%d,\"pipe_r\":%d,\"pipe_w\":%d,\"socket\":%d}", c, p[0], p[1], s);
    emit();
    serve();
}

/* 2. sh -c 'sleep 600 | cat', forked and exec'd by us. */
static void pipeline(void) {
    pid_t sh = do_fork();
    if (sh == 0) {
        char *av[] = {"sh", "-c", SLEEP " 600 | cat", NULL};
        syscall(SYS_execve, "/bin/sh", av, environ);
        die("execve /bin/sh: %s", strerror(errno));
    }
    put("{\"ev\":\"paused\",\"sh\":%d}", sh);
    emit();
    serve();
}

/* 3. Two children drop their stdio for /dev/null like daemons: A by close(0..2), then
 * waits; B by close_range(0, ~0U, 0), then execs sleep. Both: openat (gets 0), dup2 0->1,
 * dup2 0->2. */
static void devnull_child(int with_close_range) {
    if (with_close_range) {
        syscall(SYS_close_range, 0, ~0U, 0);
    } else {
        syscall(SYS_close, 0);
        syscall(SYS_close, 1);
        syscall(SYS_close, 2);
    }
    long fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR, 0);
    if (fd != 0) _exit(101);
    if (syscall(SYS_dup2, 0, 1) != 1) _exit(102);
    if (syscall(SYS_dup2, 0, 2) != 2) _exit(103);
    if (with_close_range) exec_sleep();
    forever();
}

static void devnull(void) {
    pid_t a = do_fork();
    if (a == 0) devnull_child(0);
    pid_t b = do_fork();
    if (b == 0) devnull_child(1);
    put("{\"ev\":\"paused\",\"a\":%d,\"b\":%d}", a, b);
    emit();
    serve();
}

/* 4. N plain sockets, then fork; the child execs sleep with all of them. */
static void inherit(int n) {
    raise_nofile();
    put("{\"ev\":\"fds\",\"sockets\":[");
    for (int i = 0; i < n; i++) {
        int domain = i % 2 ? AF_UNIX : AF_INET;
        int s = (int)SYS(socket, domain, i % 3 ? SOCK_STREAM : SOCK_DGRAM, 0);
        put("%s%d", i ? "," : "", s);
    }
    put("]}");
    emit();
    pid_t c = do_fork();
    if (c == 0) exec_sleep();
    put("{\"ev\":\"paused\",\"child\":%d}", c);
    emit();
    serve();
}

/* 5. One process with N fds of several kinds, some CLOEXEC, some closed and dup'd
 * around. */
static void many(int n) {
    raise_nofile();
    int have = 3;
    int k = 0;
    while (have < n) {
        switch (k++ % 6) {
        case 0:
            SYS(openat, AT_FDCWD, "/dev/null", (k % 4 ? O_RDONLY : O_WRONLY | O_CLOEXEC), 0);
            have++;
            break;
        case 1:
            SYS(socket, AF_UNIX, SOCK_DGRAM | (k % 5 ? 0 : SOCK_CLOEXEC), 0);
            have++;
            break;
        case 2:
            if (have + 2 > n) {
                SYS(openat, AT_FDCWD, "/dev/null", O_RDWR, 0);
                have++;
            } else {
                int p[2];
                SYS(pipe2, p, k % 7 ? 0 : O_CLOEXEC);
                have += 2;
            }
            break;
        case 3:
            SYS(eventfd2, 0, k % 3 ? 0 : EFD_CLOEXEC);
            have++;
            break;
        case 4:
            SYS(dup, 3);
            have++;
            break;
        case 5:
            SYS(fcntl, 4, F_DUPFD_CLOEXEC, 0);
            have++;
            break;
        }
    }
    /* Close every 10th fd from 10, put some back with dup2/dup3, and move a few to the
     * top of the table; flip CLOEXEC on others. */
    int closed = 0;
    for (int fd = 10; fd < n; fd += 10) {
        SYS(close, fd);
        closed++;
    }
    for (int fd = 20; fd < n && fd < 2000; fd += 20) {
        SYS(dup3, 5, fd, fd % 40 ? 0 : O_CLOEXEC);
        closed--;
    }
    for (int fd = 11; fd < 400; fd += 10) SYS(fcntl, fd, F_SETFD, FD_CLOEXEC);
    for (int fd = 13; fd < 400; fd += 10) SYS(ioctl, fd, FIONCLEX);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int top = (int)rl.rlim_cur - 1;
    SYS(dup2, 6, top);
    SYS(close_range, 15000, 15100, CLOSE_RANGE_CLOEXEC);
    put("{\"ev\":\"paused\",\"top\":%d}", top);
    emit();
    serve();
}

/* 6. Thousands of dup2/close and open/close in us and in a child, then a few lasting
 * changes; meant to overflow a tiny ring buffer. */
static void churn(int rounds) {
    for (int i = 0; i < rounds; i++) {
        syscall(SYS_dup2, 1, 100);
        syscall(SYS_close, 100);
        long fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY, 0);
        if (fd >= 0) syscall(SYS_close, fd);
        if (i % 64 == 0) {
            int p[2];
            if (syscall(SYS_pipe2, p, 0) == 0) {
                syscall(SYS_close, p[0]);
                syscall(SYS_close, p[1]);
            }
        }
    }
}

static void flood(int rounds) {
    pid_t c = do_fork();
    if (c == 0) {
        churn(rounds);
        SYS(socket, AF_UNIX, SOCK_STREAM, 0);
        SYS(dup2, 0, 300);
        SYS(openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
        put("{\"ev\":\"child_done\",\"pid\":%d}", getpid());
        emit();
        forever();
    }
    churn(rounds);
    SYS(dup2, 1, 200);
    for (int i = 0; i < 20; i++) SYS(openat, AT_FDCWD, "/dev/null", O_RDONLY, 0);
    int p[2];
    SYS(pipe2, p, O_CLOEXEC);
    SYS(eventfd2, 0, 0);
    put("{\"ev\":\"paused\",\"child\":%d}", c);
    emit();
    serve();
}

/* 6b. The same churn with KIDS forks spread through it; each child pauses at once,
 * making no syscall fdwatch traces, so only its fork event tells fdwatch about it. */
static void flood_fork(int rounds, int kids) {
    put("{\"ev\":\"kids\",\"pids\":[");
    for (int i = 0; i < kids; i++) {
        churn(rounds / kids);
        pid_t c = do_fork();
        if (c == 0) forever();
        put("%s%d", i ? "," : "", c);
    }
    put("]}");
    emit();
    churn(rounds / kids);
    put("{\"ev\":\"paused\"}");
    emit();
    serve();
}

/* 7. Built before fdwatch starts: fds of several kinds; a child that execs sleep with
 * the plain ones; a child that pauses after opening one more; N extra fds in us. */
static void prestart(int extra) {
    raise_nofile();
    int p[2];
    SYS(pipe2, p, 0);
    int s = (int)SYS(socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SYS(socketpair, AF_UNIX, SOCK_STREAM, 0, p);
    SYS(eventfd2, 0, EFD_CLOEXEC);
    SYS(openat, AT_FDCWD, "/dev/null", O_WRONLY, 0);
    SYS(dup2, s, 777);
    for (int i = 0; i < extra; i++) SYS(openat, AT_FDCWD, "/dev/null", i % 2 ? O_RDONLY : O_RDONLY | O_CLOEXEC, 0);
    pid_t c = do_fork();
    if (c == 0) exec_sleep();
    pid_t d = do_fork();
    if (d == 0) {
        SYS(epoll_create1, 0);
        forever();
    }
    put("{\"ev\":\"paused\",\"sleeper\":%d,\"waiter\":%d}", c, d);
    emit();
    serve();
}

/* Objects of many kinds, opened by several kinds of path, to compare their names with
 * /proc. DIR is a scratch directory the test made (it holds a symlink `link` to
 * `file`, and `file`). */
static void objects(const char *dir) {
    int dfd = (int)SYS(openat, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0);
    check(chdir(dir), "chdir");
    put("{\"ev\":\"fds\"");
    put(",\"dir\":%d", dfd);
    put(",\"relative\":%ld", SYS(openat, AT_FDCWD, "file", O_RDONLY, 0));
    put(",\"dirfd_relative\":%ld", SYS(openat, dfd, "file", O_RDWR, 0));
    put(",\"via_symlink\":%ld", SYS(openat, AT_FDCWD, "link", O_RDONLY, 0));
    put(",\"dotdot\":%ld", SYS(open, "../", O_RDONLY | O_DIRECTORY, 0));
    put(",\"absolute\":%ld", SYS(open, "/etc/passwd", O_RDONLY, 0));
    put(",\"devnull\":%ld", SYS(open, "/dev/null", O_WRONLY, 0));
    put(",\"eventfd\":%ld", SYS(eventfd2, 0, 0));
    put(",\"epoll\":%ld", SYS(epoll_create1, 0));
    put(",\"timerfd\":%ld", SYS(timerfd_create, 1 /* CLOCK_MONOTONIC */, 0));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    put(",\"signalfd\":%ld", SYS(signalfd4, -1, &set, 8, 0));
    put(",\"inotify\":%ld", SYS(inotify_init1, 0));
    put(",\"memfd\":%ld", SYS(memfd_create, "model-memfd", 0));
    put(",\"pidfd\":%ld", SYS(pidfd_open, getpid(), 0));
    int sv[2];
    SYS(socketpair, AF_UNIX, SOCK_STREAM, 0, sv);
    put(",\"socketpair\":[%d,%d]", sv[0], sv[1]);
    put(",\"udp\":%ld", SYS(socket, AF_INET6, SOCK_DGRAM, 0));
    put("}");
    emit();
    put("{\"ev\":\"paused\"}");
    emit();
    serve();
}

int main(int argc, char **argv) {
    if (argc < 2) die("usage: model_procs MODE [ARGS...]");
    self_path = "/proc/self/exe";
    static char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        self_path = exe;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "chain_mid") == 0) {
        if (argc != 3) die("chain_mid FD");
        chain_mid(atoi(argv[2]));
        return 0;
    }
    /* The root dies with the test (children are killed by process group). Whatever
     * fds the test's own environment leaked to us (anything above 2) go, so the tree
     * holds only what the scenario made; fdwatch is not watching yet. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    syscall(SYS_close_range, 3, ~0U, 0);
    put("{\"ev\":\"started\",\"pid\":%d}", getpid());
    emit();
    if (strcmp(mode, "prestart") == 0) {
        prestart(argc > 2 ? atoi(argv[2]) : 0);
        return 0;
    }
    wait_line();
    if (strcmp(mode, "chain") == 0) chain();
    else if (strcmp(mode, "spawn") == 0) spawn();
    else if (strcmp(mode, "pipeline") == 0) pipeline();
    else if (strcmp(mode, "devnull") == 0) devnull();
    else if (strcmp(mode, "inherit") == 0 && argc == 3) inherit(atoi(argv[2]));
    else if (strcmp(mode, "many") == 0 && argc == 3) many(atoi(argv[2]));
    else if (strcmp(mode, "flood") == 0 && argc == 3) flood(atoi(argv[2]));
    else if (strcmp(mode, "flood_fork") == 0 && argc == 4) flood_fork(atoi(argv[2]), atoi(argv[3]));
    else if (strcmp(mode, "objects") == 0 && argc == 3) objects(argv[2]);
    else die("unknown mode or arguments: %s", mode);
    return 0;
}
