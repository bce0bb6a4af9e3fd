/*
 * slowlog: seed 002 (incident 4 of the README's Alerts) in one program, for fdwatch's
 * interrupted_wait tests.
 *
 *     slowlog WAIT SECCOMP STOP
 *
 * WAIT     nanosleep | poll | select | epoll: the worker's blocking call, 5 s
 * SECCOMP  1: the worker first installs a seccomp filter that refuses restart_syscall
 *          with EPERM and allows everything else (the shape of Docker 1.10.3's default
 *          profile, which lacked restart_syscall); 0: none
 * STOP     ptrace: the parent PTRACE_ATTACHes (which sends SIGSTOP), waits 1 s, and
 *          PTRACE_DETACHes, as php-fpm's slowlog does to read a slow worker's stack;
 *          seize: PTRACE_SEIZE + PTRACE_INTERRUPT, then PTRACE_DETACH;
 *          sigstop: kill(SIGSTOP), 1 s, kill(SIGCONT)
 *
 * Prints `wait pid=P` and blocks until a line arrives on stdin (so the test can start
 * fdwatch on it), forks the worker (`worker pid=W`), lets it block for 1 s, stops and
 * resumes it as above, and prints what the worker's call returned:
 *
 *     returned call=nanosleep ret=-1 errno=EPERM waited_ms=2001 seccomp=1
 *
 * Exits 0 when the worker did; every failed step is a message on stderr and exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "slowlog: %s: %s\n", what, strerror(errno));
    exit(1);
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* seccomp(2): a filter that returns EPERM for restart_syscall and allows the rest. A
 * real profile would check the architecture first; this helper only runs on x86-64. */
static void refuse_restart_syscall(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_restart_syscall, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("PR_SET_NO_NEW_PRIVS");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) die("PR_SET_SECCOMP");
}

static int worker(const char *call, int seccomp) {
    if (seccomp) refuse_restart_syscall();
    long t0 = now_ms();
    int r, e;
    if (strcmp(call, "nanosleep") == 0) {
        /* glibc's nanosleep is clock_nanosleep(CLOCK_REALTIME, 0, ...). */
        struct timespec ts = {5, 0}, rem = {0, 0};
        r = nanosleep(&ts, &rem);
    } else if (strcmp(call, "poll") == 0) {
        r = poll(NULL, 0, 5000);
    } else if (strcmp(call, "select") == 0) {
        struct timeval tv = {5, 0};
        r = select(0, NULL, NULL, NULL, &tv);
    } else if (strcmp(call, "epoll") == 0) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev;
        r = epoll_wait(ep, &ev, 1, 5000);
    } else {
        fprintf(stderr, "slowlog: unknown call %s\n", call);
        return 1;
    }
    e = errno;
    printf("returned call=%s ret=%d errno=%s waited_ms=%ld seccomp=%d\n", call, r,
           r < 0 ? strerrorname_np(e) : "0", now_ms() - t0, seccomp);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: slowlog nanosleep|poll|select|epoll 0|1 ptrace|seize|sigstop\n");
        return 2;
    }
    const char *call = argv[1], *stop = argv[3];
    int seccomp = atoi(argv[2]);
    printf("wait pid=%d\n", getpid());
    fflush(stdout);
    char c;
    while (read(0, &c, 1) == 1 && c != '\n') {
    }
    pid_t w = fork();
    if (w < 0) die("fork");
    if (w == 0) return worker(call, seccomp);
    printf("worker pid=%d\n", w);
    fflush(stdout);
    usleep(1000000);
    int st;
    if (strcmp(stop, "ptrace") == 0) {
        if (ptrace(PTRACE_ATTACH, w, 0, 0)) die("PTRACE_ATTACH");
        if (waitpid(w, &st, 0) != w) die("waitpid");
        usleep(1000000);
        if (ptrace(PTRACE_DETACH, w, 0, 0)) die("PTRACE_DETACH");
    } else if (strcmp(stop, "seize") == 0) {
        if (ptrace(PTRACE_SEIZE, w, 0, 0)) die("PTRACE_SEIZE");
        if (ptrace(PTRACE_INTERRUPT, w, 0, 0)) die("PTRACE_INTERRUPT");
        if (waitpid(w, &st, 0) != w) die("waitpid");
        usleep(1000000);
        if (ptrace(PTRACE_DETACH, w, 0, 0)) die("PTRACE_DETACH");
    } else if (strcmp(stop, "sigstop") == 0) {
        if (kill(w, SIGSTOP)) die("SIGSTOP");
        if (waitpid(w, &st, WUNTRACED) != w) die("waitpid");
        usleep(1000000);
        if (kill(w, SIGCONT)) die("SIGCONT");
    } else {
        fprintf(stderr, "slowlog: unknown stop %s\n", stop);
        return 2;
    }
    if (waitpid(w, &st, 0) != w) die("waitpid");
    printf("tracer pid=%d worker_exit=%d\n", getpid(), WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fflush(stdout);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
