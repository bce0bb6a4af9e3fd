/* Workloads for `cargo xtask bench`. Each mode prints one result line on stdout:
 *   iters=<count> ns=<elapsed nanoseconds of the measured loop only>
 * so the cost of starting the program (and of a tracer attaching) is not measured.
 *
 *   loops dup2close N          N x { dup2(1, 100); close(100); }    2 traced syscalls each
 *   loops getppid N            N x getppid()                       never traced by fdwatch
 *   loops recvmsg N            N x { write(a, 1 byte); recvmsg(b) } on a unix datagram
 *                              socketpair, with a control buffer but no fds: recvmsg is
 *                              traced, and must cost ~nothing when it carries no fds
 *   loops churn fork MSECS TINY fork + execve(TINY) + waitpid, for MSECS ms
 *   loops churn pipe MSECS     pipe2 + close + close
 *   loops churn tcp MSECS      loopback TCP socket + connect + accept + close + close
 *   loops rate EV_PER_S MSECS  dup2/close pairs paced at EV_PER_S events/s (0: unpaced)
 *   loops hold N               open N fds on /dev/null, print "holding N", wait for a signal
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "loops: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long arg_num(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "loops: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static void result(long long iters, long long ns)
{
	printf("iters=%lld ns=%lld\n", iters, ns);
	fflush(stdout);
}

static void dup2close(long long n)
{
	long long t0 = now_ns();
	for (long long i = 0; i < n; i++) {
		if (dup2(1, 100) != 100)
			die("dup2");
		close(100);
	}
	result(n, now_ns() - t0);
}

static void recvmsg_loop(long long n)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		die("socketpair");
	char data[1], control[64];
	struct iovec iov = {data, sizeof data};
	struct msghdr msg;
	long long t0 = now_ns();
	for (long long i = 0; i < n; i++) {
		if (write(sv[0], "x", 1) != 1)
			die("write");
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof control;
		if (recvmsg(sv[1], &msg, 0) != 1)
			die("recvmsg");
	}
	result(n, now_ns() - t0);
}

static void getppid_loop(long long n)
{
	long long t0 = now_ns();
	for (long long i = 0; i < n; i++)
		getppid();
	result(n, now_ns() - t0);
}

static void churn_fork(long long msecs, const char *tiny)
{
	char *argv[] = {(char *)tiny, NULL};
	char *envp[] = {NULL};
	long long t0 = now_ns(), end = t0 + msecs * 1000000LL, ops = 0;
	while (now_ns() < end) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execve(tiny, argv, envp);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "loops: %s did not exit 0\n", tiny);
			exit(1);
		}
		ops++;
	}
	result(ops, now_ns() - t0);
}

static void churn_pipe(long long msecs)
{
	long long t0 = now_ns(), end = t0 + msecs * 1000000LL, ops = 0;
	while (now_ns() < end) {
		for (int i = 0; i < 64; i++) {
			int p[2];
			if (pipe2(p, 0) < 0)
				die("pipe2");
			close(p[0]);
			close(p[1]);
		}
		ops += 64;
	}
	result(ops, now_ns() - t0);
}

static void churn_tcp(long long msecs)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 64) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listen on 127.0.0.1");
	/* linger 0: the client's close sends RST, so no TIME_WAIT piles up and the
	 * ephemeral ports never run out however fast we go. */
	struct linger lin = {.l_onoff = 1, .l_linger = 0};
	long long t0 = now_ns(), end = t0 + msecs * 1000000LL, ops = 0;
	while (now_ns() < end) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0)
			die("socket");
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
		if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("connect");
		int s = accept(l, NULL, NULL);
		if (s < 0)
			die("accept");
		close(c);
		close(s);
		ops++;
	}
	result(ops, now_ns() - t0);
}

/* Paced: runs 1 ms worth of pairs, then sleeps until the next millisecond is due. */
static void rate(long long events_per_s, long long msecs)
{
	long long t0 = now_ns(), end = t0 + msecs * 1000000LL, iters = 0;
	long long per_ms = events_per_s / 2 / 1000;
	if (events_per_s > 0 && per_ms < 1)
		per_ms = 1;
	long long batch = events_per_s == 0 ? 256 : per_ms;
	for (long long tick = 1;; tick++) {
		long long now = now_ns();
		if (now >= end)
			break;
		for (long long i = 0; i < batch; i++) {
			if (dup2(1, 100) != 100)
				die("dup2");
			close(100);
		}
		iters += batch;
		if (events_per_s > 0) {
			long long due = t0 + tick * 1000000LL;
			struct timespec ts = {.tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL};
			if (due > now_ns())
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}
	result(iters, now_ns() - t0);
}

static void hold(long long n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (long long i = 0; i < n; i++)
		if (open("/dev/null", O_RDONLY) < 0)
			die("open /dev/null (raise the nofile limit or hold fewer)");
	printf("holding %lld\n", n);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "dup2close") && argc == 3)
		dup2close(arg_num(argv[2]));
	else if (!strcmp(mode, "getppid") && argc == 3)
		getppid_loop(arg_num(argv[2]));
	else if (!strcmp(mode, "recvmsg") && argc == 3)
		recvmsg_loop(arg_num(argv[2]));
	else if (!strcmp(mode, "churn") && argc == 5 && !strcmp(argv[2], "fork"))
		churn_fork(arg_num(argv[3]), argv[4]);
	else if (!strcmp(mode, "churn") && argc == 4 && !strcmp(argv[2], "pipe"))
		churn_pipe(arg_num(argv[3]));
	else if (!strcmp(mode, "churn") && argc == 4 && !strcmp(argv[2], "tcp"))
		churn_tcp(arg_num(argv[3]));
	else if (!strcmp(mode, "rate") && argc == 4)
		rate(arg_num(argv[2]), arg_num(argv[3]));
	else if (!strcmp(mode, "hold") && argc == 3)
		hold(arg_num(argv[2]));
	else {
		fprintf(stderr, "usage: loops dup2close N | getppid N | recvmsg N | churn fork MSECS TINY | "
				"churn pipe MSECS | churn tcp MSECS | rate EV_PER_S MSECS | hold N\n");
		return 2;
	}
	return 0;
}
