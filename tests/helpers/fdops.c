/*
 * fdops: an interpreter of fd/socket/process operations given on argv, for fdwatch's
 * integration tests. Every op makes exactly the syscall it is named after (through
 * syscall(2) where glibc would substitute another one: open -> openat, pipe -> pipe2,
 * select -> pselect6, poll -> ppoll, accept -> accept4, ...) and prints one line
 *
 *     op=<name> ret=<n> errno=<NAME|0> [key=value ...]
 *
 * flushed at once, so the test knows the fds, ports and inodes it got. Each printed
 * key is also stored as a variable: `%key` (latest value) and `%op.key` (latest value
 * printed by that op) inside any later argument are replaced by it, e.g.
 *
 *     fdops listen_tcp 127.0.0.1:0 socket AF_INET SOCK_STREAM 0 \
 *           connect %socket.ret 127.0.0.1:%listen_tcp.port accept %listen_tcp.fd
 *
 * Flags are written with their man-page names joined by '|' (O_WRONLY|O_CREAT,
 * SOCK_STREAM|SOCK_CLOEXEC, RESOLVE_BENEATH, ...) or as numbers. Addresses:
 * "1.2.3.4:port", "[::1]:port", "/path" (unix), "@name" (abstract unix).
 *
 * Ops (FD, N: numbers; FLAGS: names or numbers; ADDR: see above; "-": none):
 *   wait                      print pid=, then block until a line arrives on stdin
 *   dup FD | dup2 OLD NEW | dup3 OLD NEW FLAGS | close FD | close_range FIRST LAST FLAGS
 *   fcntl FD CMD ARG          CMD F_DUPFD|F_DUPFD_CLOEXEC|F_SETFD|F_GETFD|F_GETFL|F_SETFL
 *   ioctl FD REQ              REQ FIOCLEX|FIONCLEX|FIONREAD|TCGETS
 *   socket DOMAIN TYPE PROTO | socketpair DOMAIN TYPE PROTO (fd0= fd1=)
 *   pipe | pipe2 FLAGS        (fd0= fd1=, ino0=/ino1= ...)
 *   open PATH FLAGS MODE | openat DIRFD PATH FLAGS MODE | openat2 DIRFD PATH FLAGS MODE RESOLVE
 *   creat PATH MODE | newfd SYSCALL ARGS... (epoll_create[1], eventfd[2], timerfd_create,
 *                             signalfd[4], inotify_init[1], memfd_create, pidfd_open, pidfd_getfd)
 *   listen_tcp ADDR | bound_tcp ADDR (bound, not listening) | listen_unix ADDR | udp ADDR
 *                             (socket + bind [+ listen]; fd= port= addr=)
 *   connect FD ADDR (local=) | accept FD | accept4 FD FLAGS (peer=)
 *   sendto FD ADDR|- LEN FLAGS | sendmsg FD ADDR FLAGS | sendmmsg FD ADDR VLEN FLAGS
 *   select NFDS TIMEOUT_US|- WFDS|- | pselect6 NFDS TIMEOUT_NS|- WFDS|-   (8192-bit sets)
 *   poll FDS EVENTS TIMEOUT_MS | ppoll FDS EVENTS TIMEOUT_NS|-           (FDS: 3,4,-1)
 *   fork (child exits 0) | clone_files | forkrun OPS... endchild | thread OPS... endthread
 *   exec PATH ARGS... | exit CODE | raise SIG | nofile N | fstat FD | tid | getpid
 *   flood N                   N x (dup2(1, 100); close(100)), as fast as it goes
 *   sleep_ms N
 * Every new fd is printed with ino= dev= ifmt= rdev= acc= from fstat(2)/F_GETFL.
 *
 * Only the ops' own syscalls are traced by fdwatch: printing is write(2) and `wait`
 * is read(2), neither of which fdwatch probes (nor fstat, getsockname, bind, listen,
 * setrlimit, waitpid, kill, F_GETFL). Exit status: 0 after the last op, 100 on a
 * malformed op list (with a message on stderr), 101 after a failed exec.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ utilities */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fdops: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stdout);
    _exit(100);
}

#define MAX_VARS 512
static struct { char key[64]; char value[256]; } vars[MAX_VARS];
static int nvars;

static void setvar1(const char *key, const char *value) {
    for (int i = 0; i < nvars; i++) {
        if (strcmp(vars[i].key, key) == 0) {
            snprintf(vars[i].value, sizeof vars[i].value, "%s", value);
            return;
        }
    }
    if (nvars == MAX_VARS) die("too many variables");
    snprintf(vars[nvars].key, sizeof vars[nvars].key, "%s", key);
    snprintf(vars[nvars].value, sizeof vars[nvars].value, "%s", value);
    nvars++;
}

static const char *getvar(const char *key) {
    for (int i = 0; i < nvars; i++)
        if (strcmp(vars[i].key, key) == 0) return vars[i].value;
    return NULL;
}

/* The line being built for the current op. */
static char line[4096];
static size_t line_len;
static const char *cur_op;

static void kv(const char *key, const char *fmt, ...) {
    char value[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    line_len += snprintf(line + line_len, sizeof line - line_len, " %s=%s", key, value);
    if (line_len >= sizeof line) die("output line too long");
    char qualified[128];
    snprintf(qualified, sizeof qualified, "%s.%s", cur_op, key);
    setvar1(key, value);
    setvar1(qualified, value);
}

static const char *errname(int e) {
    if (e == 0) return "0";
    const char *name = strerrorname_np(e);
    return name ? name : "E?";
}

/* Start the line of `op`: ret and errno (errno only meaningful when ret < 0). */
static void begin(const char *op, long ret, int err) {
    cur_op = op;
    line_len = 0;
    line_len += snprintf(line, sizeof line, "op=%s", op);
    kv("ret", "%ld", ret);
    kv("errno", "%s", ret < 0 ? errname(err) : "0");
}

static void end(void) {
    printf("%s\n", line);
    fflush(stdout);
}

/* Print the inode and device of `fd` (what /proc/PID/fd/FD points to right now). */
static void kv_stat(const char *ino_key, const char *dev_key, int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) die("fstat(%d): %s", fd, strerror(errno));
    kv(ino_key, "%llu", (unsigned long long)st.st_ino);
    kv(dev_key, "%u:%u", major(st.st_dev), minor(st.st_dev));
    /* The file type (S_IFMT bits, inode(7)) and, for devices, the device it is. */
    char key[64];
    snprintf(key, sizeof key, "ifmt%s", ino_key + 3);
    kv(key, "%o", (unsigned)(st.st_mode & S_IFMT));
    snprintf(key, sizeof key, "rdev%s", ino_key + 3);
    kv(key, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
    /* The access mode (fcntl F_GETFL, which fdwatch does not report). */
    int fl = fcntl(fd, F_GETFL);
    snprintf(key, sizeof key, "acc%s", ino_key + 3);
    kv(key, "%s", (fl & O_ACCMODE) == O_RDONLY ? "read" : (fl & O_ACCMODE) == O_WRONLY ? "write" : "both");
}

/* Replace every %name (name: [A-Za-z0-9_.]+) by its variable. */
static char *subst(const char *arg) {
    static char out[8][1024];
    static int slot;
    char *o = out[slot++ & 7];
    size_t n = 0;
    for (const char *p = arg; *p;) {
        if (*p == '%' && p[1] && (p[1] == '_' || p[1] == '.' || (p[1] >= '0' && p[1] <= '9') ||
                                  (p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z'))) {
            char name[128];
            size_t k = 0;
            p++;
            while (*p && k < sizeof name - 1 &&
                   (*p == '_' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= 'A' && *p <= 'Z')))
                name[k++] = *p++;
            name[k] = 0;
            const char *v = getvar(name);
            if (!v) die("unknown variable %%%s in '%s'", name, arg);
            size_t vl = strlen(v);
            if (n + vl >= sizeof out[0]) die("argument too long: %s", arg);
            memcpy(o + n, v, vl);
            n += vl;
        } else {
            if (n + 1 >= sizeof out[0]) die("argument too long: %s", arg);
            o[n++] = *p++;
        }
    }
    o[n] = 0;
    return o;
}

static long long num(const char *s) {
    char *endp;
    errno = 0;
    long long v = strtoll(s, &endp, 0);
    if (errno || endp == s || *endp) die("not a number: '%s'", s);
    return v;
}

struct name { const char *name; long long value; };

/* "A|B|0x10" with names from `table`, or a number. */
static long long flags(const char *s, const struct name *table) {
    long long v = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
        const struct name *t = table;
        for (; t->name; t++)
            if (strcmp(t->name, tok) == 0) break;
        v |= t->name ? t->value : num(tok);
    }
    return v;
}

#define N(x) {#x, x}
static const struct name OPEN_FLAGS[] = {
    N(O_RDONLY), N(O_WRONLY), N(O_RDWR), N(O_CREAT), N(O_EXCL), N(O_NOCTTY), N(O_TRUNC),
    N(O_APPEND), N(O_NONBLOCK), N(O_DSYNC), N(O_SYNC), N(O_DIRECTORY), N(O_NOFOLLOW),
    N(O_CLOEXEC), N(O_PATH), N(O_TMPFILE), N(O_DIRECT), N(O_NOATIME), {0, 0}};
static const struct name SOCK_TYPES[] = {
    N(SOCK_STREAM), N(SOCK_DGRAM), N(SOCK_SEQPACKET), N(SOCK_RAW), N(SOCK_NONBLOCK),
    N(SOCK_CLOEXEC), {0, 0}};
static const struct name DOMAINS[] = {N(AF_UNIX), N(AF_INET), N(AF_INET6), N(AF_NETLINK), {0, 0}};
static const struct name RESOLVE[] = {
    N(RESOLVE_NO_XDEV), N(RESOLVE_NO_MAGICLINKS), N(RESOLVE_NO_SYMLINKS), N(RESOLVE_BENEATH),
    N(RESOLVE_IN_ROOT), N(RESOLVE_CACHED), {0, 0}};
static const struct name CLOSE_RANGE[] = {N(CLOSE_RANGE_UNSHARE), N(CLOSE_RANGE_CLOEXEC), {0, 0}};
static const struct name FCNTL_CMDS[] = {
    N(F_DUPFD), N(F_DUPFD_CLOEXEC), N(F_GETFD), N(F_SETFD), N(F_GETFL), N(F_SETFL), {0, 0}};
static const struct name FCNTL_ARGS[] = {N(FD_CLOEXEC), N(O_NONBLOCK), N(O_APPEND), {0, 0}};
static const struct name MSG_FLAGS[] = {
    N(MSG_DONTWAIT), N(MSG_NOSIGNAL), N(MSG_MORE), N(MSG_CONFIRM), N(MSG_EOR), {0, 0}};
static const struct name POLL_EVENTS[] = {
    N(POLLIN), N(POLLPRI), N(POLLOUT), N(POLLERR), N(POLLHUP), N(POLLNVAL), N(POLLRDHUP), {0, 0}};
static const struct name DIRFDS[] = {N(AT_FDCWD), {0, 0}};
static const struct name SIGNALS[] = {N(SIGKILL), N(SIGTERM), N(SIGINT), N(SIGABRT), N(SIGUSR1), {0, 0}};

/* "1.2.3.4:port", "[v6]:port", "/path", "@abstract". */
static socklen_t parse_addr(const char *s, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (s[0] == '/' || s[0] == '@') {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        un->sun_family = AF_UNIX;
        size_t len = strlen(s);
        if (len >= sizeof un->sun_path) die("unix address too long: %s", s);
        if (s[0] == '/') {
            memcpy(un->sun_path, s, len + 1);
            return offsetof(struct sockaddr_un, sun_path) + len + 1;
        }
        /* Abstract: sun_path[0] = 0, then the name, exactly addrlen long. */
        memcpy(un->sun_path + 1, s + 1, len - 1);
        return offsetof(struct sockaddr_un, sun_path) + len;
    }
    if (s[0] == '[') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') die("bad address %s", s);
        char host[64];
        snprintf(host, sizeof host, "%.*s", (int)(close - s - 1), s + 1);
        in6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) die("bad address %s", s);
        in6->sin6_port = htons((uint16_t)num(close + 2));
        return sizeof *in6;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    const char *colon = strrchr(s, ':');
    if (!colon) die("bad address %s", s);
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
    in->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &in->sin_addr) != 1) die("bad address %s", s);
    in->sin_port = htons((uint16_t)num(colon + 1));
    return sizeof *in;
}

static void fmt_addr(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t n) {
    char host[64];
    if (len == 0) {
        snprintf(out, n, "none");
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, n, "%s:%u", host, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, n, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
        size_t plen = len - offsetof(struct sockaddr_un, sun_path);
        if (plen == 0)
            snprintf(out, n, "(unnamed)");
        else if (un->sun_path[0] == 0)
            snprintf(out, n, "@%.*s", (int)plen - 1, un->sun_path + 1);
        else
            snprintf(out, n, "%s", un->sun_path);
    } else {
        snprintf(out, n, "family=%d", ss->ss_family);
    }
}

static void kv_sockname(const char *key, int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char text[256];
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) die("getsockname: %s", strerror(errno));
    fmt_addr(&ss, len, text, sizeof text);
    kv(key, "%s", text);
    if (ss.ss_family == AF_INET) kv("port", "%u", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    if (ss.ss_family == AF_INET6) kv("port", "%u", ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
}

/* "3,4,5" -> fds; "-" -> none. */
static int fd_list(const char *s, int *fds, int max) {
    if (strcmp(s, "-") == 0) return 0;
    char buf[512];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max) die("too many fds in %s", s);
        fds[n++] = (int)num(tok);
    }
    return n;
}

/* A socket bound to addr (and listening when `listen_too`), for the tests to talk to. */
static void make_bound(const char *op, const char *addr, int type, int listen_too) {
    struct sockaddr_storage ss;
    socklen_t len = parse_addr(addr, &ss);
    int fd = socket(ss.ss_family, type, 0);
    if (fd < 0) die("%s: socket: %s", op, strerror(errno));
    int one = 1;
    if (ss.ss_family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_UNIX && addr[0] == '/') unlink(addr);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) die("%s: bind %s: %s", op, addr, strerror(errno));
    if (listen_too && listen(fd, 16) != 0) die("%s: listen: %s", op, strerror(errno));
    begin(op, fd, 0);
    kv("fd", "%d", fd);
    kv_stat("ino", "dev", fd);
    kv_sockname("addr", fd);
    end();
}

/* ------------------------------------------------------------------ the interpreter */

static int argc_g;
static char **argv_g;

static const char *arg(int *i, const char *op) {
    if (*i >= argc_g) die("op %s: missing argument", op);
    return subst(argv_g[(*i)++]);
}

/* Index just past the matching `end` marker (nested forkrun/thread blocks allowed). */
static int skip_block(int i, const char *open, const char *close) {
    int depth = 1;
    for (; i < argc_g; i++) {
        if (strcmp(argv_g[i], open) == 0) depth++;
        if (strcmp(argv_g[i], close) == 0 && --depth == 0) return i + 1;
    }
    die("%s without %s", open, close);
    return i;
}

static int run(int i, const char *stop_at);

struct thread_arg { int start; };

static void *thread_main(void *p) {
    struct thread_arg *t = p;
    run(t->start, "endthread");
    return NULL;
}

static int child_fn(void *p) {
    (void)p;
    _exit(0);
}

/* Run ops from argv[i] until the end or the marker `stop_at`; returns the index after. */
static int run(int i, const char *stop_at) {
    while (i < argc_g) {
        const char *op = argv_g[i++];
        long r;
        int e;
#define CALL(expr) do { r = (long)(expr); e = errno; } while (0)
        if (stop_at && strcmp(op, stop_at) == 0) {
            return i;
        } else if (strcmp(op, "wait") == 0) {
            /* Announce we are here (and who we are), then block until a line arrives. */
            begin("wait", 0, 0);
            kv("pid", "%d", getpid());
            end();
            char c;
            while (read(0, &c, 1) == 1 && c != '\n') {
            }
        } else if (strcmp(op, "dup") == 0) {
            int fd = (int)num(arg(&i, op));
            CALL(syscall(SYS_dup, fd));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "dup2") == 0) {
            int a = (int)num(arg(&i, op)), b = (int)num(arg(&i, op));
            CALL(syscall(SYS_dup2, a, b));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "dup3") == 0) {
            int a = (int)num(arg(&i, op)), b = (int)num(arg(&i, op));
            long long f = flags(arg(&i, op), OPEN_FLAGS);
            CALL(syscall(SYS_dup3, a, b, f));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "close") == 0) {
            int fd = (int)num(arg(&i, op));
            CALL(syscall(SYS_close, fd));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "close_range") == 0) {
            unsigned first = (unsigned)num(arg(&i, op)), last = (unsigned)num(arg(&i, op));
            long long f = flags(arg(&i, op), CLOSE_RANGE);
            CALL(syscall(SYS_close_range, first, last, f));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "fcntl") == 0) {
            int fd = (int)num(arg(&i, op));
            long long cmd = flags(arg(&i, op), FCNTL_CMDS);
            long long a = flags(arg(&i, op), FCNTL_ARGS);
            CALL(syscall(SYS_fcntl, fd, cmd, a));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "socket") == 0) {
            long long d = flags(arg(&i, op), DOMAINS);
            long long t = flags(arg(&i, op), SOCK_TYPES);
            long long p = num(arg(&i, op));
            CALL(syscall(SYS_socket, d, t, p));
            begin(op, r, e);
            if (r >= 0) kv_stat("ino", "dev", (int)r);
            end();
        } else if (strcmp(op, "socketpair") == 0 || strcmp(op, "pipe") == 0 || strcmp(op, "pipe2") == 0) {
            int fds[2] = {-1, -1};
            if (op[1] == 'o') {
                long long d = flags(arg(&i, op), DOMAINS);
                long long t = flags(arg(&i, op), SOCK_TYPES);
                long long p = num(arg(&i, op));
                CALL(syscall(SYS_socketpair, d, t, p, fds));
            } else if (strcmp(op, "pipe") == 0) {
                CALL(syscall(SYS_pipe, fds));
            } else {
                long long f = flags(arg(&i, op), OPEN_FLAGS);
                CALL(syscall(SYS_pipe2, fds, f));
            }
            begin(op, r, e);
            if (r == 0) {
                kv("fd0", "%d", fds[0]);
                kv("fd1", "%d", fds[1]);
                kv_stat("ino0", "dev0", fds[0]);
                kv_stat("ino1", "dev1", fds[1]);
            }
            end();
        } else if (strcmp(op, "open") == 0 || strcmp(op, "openat") == 0 || strcmp(op, "openat2") == 0) {
            long long dirfd = AT_FDCWD;
            if (strcmp(op, "open") != 0) dirfd = flags(arg(&i, op), DIRFDS);
            const char *path = arg(&i, op);
            long long f = flags(arg(&i, op), OPEN_FLAGS);
            long long mode = strtoll(arg(&i, op), NULL, 8);
            if (strcmp(op, "open") == 0) {
                CALL(syscall(SYS_open, path, f, mode));
            } else if (strcmp(op, "openat") == 0) {
                CALL(syscall(SYS_openat, (int)dirfd, path, f, mode));
            } else {
                struct open_how how = {0};
                how.flags = (unsigned long long)f;
                how.mode = (unsigned long long)mode;
                how.resolve = (unsigned long long)flags(arg(&i, op), RESOLVE);
                CALL(syscall(SYS_openat2, (int)dirfd, path, &how, sizeof how));
            }
            begin(op, r, e);
            if (r >= 0) kv_stat("ino", "dev", (int)r);
            end();
        } else if (strcmp(op, "creat") == 0) {
            const char *path = arg(&i, op);
            long long mode = strtoll(arg(&i, op), NULL, 8);
            CALL(syscall(SYS_creat, path, mode));
            begin(op, r, e);
            if (r >= 0) kv_stat("ino", "dev", (int)r);
            end();
        } else if (strcmp(op, "newfd") == 0) {
            /* newfd SYSCALL ARGS...: the other fd creators, numeric arguments only
             * (pointers they need are supplied here). */
            const char *name = arg(&i, op);
            if (strcmp(name, "epoll_create") == 0) {
                CALL(syscall(SYS_epoll_create, num(arg(&i, op))));
            } else if (strcmp(name, "epoll_create1") == 0) {
                CALL(syscall(SYS_epoll_create1, num(arg(&i, op))));
            } else if (strcmp(name, "eventfd") == 0) {
                CALL(syscall(SYS_eventfd, num(arg(&i, op))));
            } else if (strcmp(name, "eventfd2") == 0) {
                long long a = num(arg(&i, op));
                CALL(syscall(SYS_eventfd2, a, num(arg(&i, op))));
            } else if (strcmp(name, "timerfd_create") == 0) {
                long long a = num(arg(&i, op));
                CALL(syscall(SYS_timerfd_create, a, num(arg(&i, op))));
            } else if (strcmp(name, "signalfd") == 0 || strcmp(name, "signalfd4") == 0) {
                /* (fd, empty mask, sizemask 8 = the kernel's sigset_t), flags */
                static uint64_t mask;
                long long fd = num(arg(&i, op));
                if (strcmp(name, "signalfd") == 0)
                    CALL(syscall(SYS_signalfd, fd, &mask, 8));
                else
                    CALL(syscall(SYS_signalfd4, fd, &mask, 8, num(arg(&i, op))));
            } else if (strcmp(name, "inotify_init") == 0) {
                CALL(syscall(SYS_inotify_init));
            } else if (strcmp(name, "inotify_init1") == 0) {
                CALL(syscall(SYS_inotify_init1, num(arg(&i, op))));
            } else if (strcmp(name, "memfd_create") == 0) {
                const char *mname = arg(&i, op);
                CALL(syscall(SYS_memfd_create, mname, num(arg(&i, op))));
            } else if (strcmp(name, "pidfd_open") == 0) {
                long long pid = num(arg(&i, op));
                CALL(syscall(SYS_pidfd_open, pid, num(arg(&i, op))));
            } else if (strcmp(name, "pidfd_getfd") == 0) {
                long long pidfd = num(arg(&i, op));
                long long target = num(arg(&i, op));
                CALL(syscall(SYS_pidfd_getfd, pidfd, target, num(arg(&i, op))));
            } else {
                die("newfd: unknown syscall %s", name);
            }
            begin(name, r, e);
            if (r >= 0) kv_stat("ino", "dev", (int)r);
            end();
        } else if (strcmp(op, "ioctl") == 0) {
            int fd = (int)num(arg(&i, op));
            static const struct name IOCTLS[] = {N(FIOCLEX), N(FIONCLEX), N(TCGETS), N(FIONREAD), {0, 0}};
            long long req = flags(arg(&i, op), IOCTLS);
            int dummy[16] = {0};
            CALL(syscall(SYS_ioctl, fd, req, dummy));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "getpid") == 0) {
            begin(op, getpid(), 0);
            end();
        } else if (strcmp(op, "listen_tcp") == 0) {
            make_bound(op, arg(&i, op), SOCK_STREAM, 1);
        } else if (strcmp(op, "bound_tcp") == 0) {
            /* Bound, not listening: a connect to it is refused, and nobody else can
             * take the port meanwhile. */
            make_bound(op, arg(&i, op), SOCK_STREAM, 0);
        } else if (strcmp(op, "listen_unix") == 0) {
            make_bound(op, arg(&i, op), SOCK_STREAM, 1);
        } else if (strcmp(op, "udp") == 0) {
            make_bound(op, arg(&i, op), SOCK_DGRAM, 0);
        } else if (strcmp(op, "connect") == 0) {
            int fd = (int)num(arg(&i, op));
            struct sockaddr_storage ss;
            socklen_t len = parse_addr(arg(&i, op), &ss);
            CALL(syscall(SYS_connect, fd, &ss, len));
            begin(op, r, e);
            kv("addrlen", "%u", len);
            if (r == 0 && ss.ss_family != AF_UNIX) kv_sockname("local", fd);
            end();
        } else if (strcmp(op, "accept") == 0 || strcmp(op, "accept4") == 0) {
            int fd = (int)num(arg(&i, op));
            struct sockaddr_storage ss;
            socklen_t len = sizeof ss;
            memset(&ss, 0, sizeof ss);
            if (strcmp(op, "accept") == 0) {
                CALL(syscall(SYS_accept, fd, &ss, &len));
            } else {
                long long f = flags(arg(&i, op), SOCK_TYPES);
                CALL(syscall(SYS_accept4, fd, &ss, &len, f));
            }
            begin(op, r, e);
            if (r >= 0) {
                char text[256];
                fmt_addr(&ss, len, text, sizeof text);
                kv("peer", "%s", text);
                kv_stat("ino", "dev", (int)r);
            }
            end();
        } else if (strcmp(op, "sendto") == 0) {
            int fd = (int)num(arg(&i, op));
            const char *a = arg(&i, op);
            struct sockaddr_storage ss;
            socklen_t len = 0;
            if (strcmp(a, "-") != 0) len = parse_addr(a, &ss);
            size_t n = (size_t)num(arg(&i, op));
            long long f = flags(arg(&i, op), MSG_FLAGS);
            char buf[4096] = "hello";
            if (n > sizeof buf) die("sendto: len too large");
            CALL(syscall(SYS_sendto, fd, buf, n, f, len ? (void *)&ss : NULL, len));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "sendmsg") == 0 || strcmp(op, "sendmmsg") == 0) {
            int fd = (int)num(arg(&i, op));
            struct sockaddr_storage ss;
            socklen_t len = parse_addr(arg(&i, op), &ss);
            unsigned vlen = 1;
            if (strcmp(op, "sendmmsg") == 0) vlen = (unsigned)num(arg(&i, op));
            long long f = flags(arg(&i, op), MSG_FLAGS);
            char buf[8] = "hello";
            struct iovec iov = {.iov_base = buf, .iov_len = 5};
            struct mmsghdr msgs[16];
            if (vlen > 16) die("sendmmsg: vlen > 16");
            memset(msgs, 0, sizeof msgs);
            for (unsigned k = 0; k < 16; k++) {
                msgs[k].msg_hdr.msg_name = &ss;
                msgs[k].msg_hdr.msg_namelen = len;
                msgs[k].msg_hdr.msg_iov = &iov;
                msgs[k].msg_hdr.msg_iovlen = 1;
            }
            if (strcmp(op, "sendmsg") == 0)
                CALL(syscall(SYS_sendmsg, fd, &msgs[0].msg_hdr, f));
            else
                CALL(syscall(SYS_sendmmsg, fd, msgs, vlen, f));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "select") == 0 || strcmp(op, "pselect6") == 0) {
            /* select NFDS TIMEOUT WFDS: TIMEOUT in us (select) or ns (pselect6), "-" for
             * none (block); WFDS a comma list put in writefds, "-" for none. The sets are
             * 8192 bits long, so NFDS > FD_SETSIZE is safe here. */
            int nfds = (int)num(arg(&i, op));
            const char *t = arg(&i, op);
            int wl[64];
            int nw = fd_list(arg(&i, op), wl, 64);
            static unsigned long wset[8192 / (8 * sizeof(unsigned long))];
            memset(wset, 0, sizeof wset);
            for (int k = 0; k < nw; k++) {
                if (wl[k] < 0 || wl[k] >= 8192) die("select: fd %d out of range", wl[k]);
                wset[wl[k] / (8 * sizeof(unsigned long))] |= 1UL << (wl[k] % (8 * sizeof(unsigned long)));
            }
            void *w = nw ? (void *)wset : NULL;
            if (strcmp(op, "select") == 0) {
                struct timeval tv, *tvp = NULL;
                if (strcmp(t, "-") != 0) {
                    long long us = num(t);
                    tv.tv_sec = us / 1000000;
                    tv.tv_usec = us % 1000000;
                    tvp = &tv;
                }
                CALL(syscall(SYS_select, nfds, NULL, w, NULL, tvp));
            } else {
                struct timespec ts, *tsp = NULL;
                if (strcmp(t, "-") != 0) {
                    long long ns = num(t);
                    ts.tv_sec = ns / 1000000000;
                    ts.tv_nsec = ns % 1000000000;
                    tsp = &ts;
                }
                CALL(syscall(SYS_pselect6, nfds, NULL, w, NULL, tsp, NULL));
            }
            begin(op, r, e);
            end();
        } else if (strcmp(op, "poll") == 0 || strcmp(op, "ppoll") == 0) {
            /* poll FDS EVENTS TIMEOUT: ms for poll, ns ("-": none) for ppoll. */
            int fl[64];
            int n = fd_list(arg(&i, op), fl, 64);
            short ev = (short)flags(arg(&i, op), POLL_EVENTS);
            const char *t = arg(&i, op);
            struct pollfd pfds[64];
            for (int k = 0; k < n; k++) pfds[k] = (struct pollfd){.fd = fl[k], .events = ev, .revents = 0};
            if (strcmp(op, "poll") == 0) {
                CALL(syscall(SYS_poll, pfds, (unsigned long)n, (int)num(t)));
            } else {
                struct timespec ts, *tsp = NULL;
                if (strcmp(t, "-") != 0) {
                    long long ns = num(t);
                    ts.tv_sec = ns / 1000000000;
                    ts.tv_nsec = ns % 1000000000;
                    tsp = &ts;
                }
                CALL(syscall(SYS_ppoll, pfds, (unsigned long)n, tsp, NULL, 8));
            }
            begin(op, r, e);
            for (int k = 0; k < n && r >= 0; k++) {
                char key[32];
                snprintf(key, sizeof key, "revents%d", k);
                kv(key, "%d", pfds[k].revents);
            }
            end();
        } else if (strcmp(op, "nofile") == 0) {
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = (rlim_t)num(arg(&i, op));
            CALL(setrlimit(RLIMIT_NOFILE, &rl));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "fstat") == 0) {
            int fd = (int)num(arg(&i, op));
            begin(op, 0, 0);
            kv_stat("ino", "dev", fd);
            end();
        } else if (strcmp(op, "fork") == 0) {
            /* The child exits 0 at once; the parent reaps it. */
            fflush(stdout);
            CALL(fork());
            if (r == 0) _exit(0);
            int status = 0;
            if (r > 0) waitpid((pid_t)r, &status, 0);
            begin(op, r, e);
            kv("status", "%d", status);
            end();
        } else if (strcmp(op, "clone_files") == 0) {
            /* A process (not a thread) sharing our fd table: clone(CLONE_FILES). */
            static char stack[64 * 1024];
            fflush(stdout);
            CALL(clone(child_fn, stack + sizeof stack, CLONE_FILES | SIGCHLD, NULL));
            int status = 0;
            if (r > 0) waitpid((pid_t)r, &status, 0);
            begin(op, r, e);
            kv("status", "%d", status);
            end();
        } else if (strcmp(op, "forkrun") == 0) {
            /* forkrun OPS... endchild: the child runs OPS and exits 0; the parent skips
             * them, reaps the child, then goes on. */
            fflush(stdout);
            CALL(fork());
            if (r == 0) {
                begin("child", 0, 0);
                kv("pid", "%d", getpid());
                kv("ppid", "%d", getppid());
                end();
                run(i, "endchild");
                fflush(stdout);
                _exit(0);
            }
            int status = 0;
            if (r > 0) waitpid((pid_t)r, &status, 0);
            i = skip_block(i, "forkrun", "endchild");
            begin(op, r, e);
            kv("status", "%d", status);
            end();
        } else if (strcmp(op, "thread") == 0) {
            /* thread OPS... endthread: a second thread runs OPS; we join it. */
            struct thread_arg t = {.start = i};
            pthread_t th;
            int err = pthread_create(&th, NULL, thread_main, &t);
            if (err) die("pthread_create: %s", strerror(err));
            pthread_join(th, NULL);
            i = skip_block(i, "thread", "endthread");
            begin(op, 0, 0);
            end();
        } else if (strcmp(op, "tid") == 0) {
            begin(op, syscall(SYS_gettid), 0);
            end();
        } else if (strcmp(op, "exec") == 0) {
            /* exec PATH ARGS...: consumes the rest of argv. */
            const char *path = arg(&i, op);
            char **av = calloc((size_t)(argc_g - i + 2), sizeof *av);
            av[0] = (char *)path;
            int k = 1;
            while (i < argc_g) av[k++] = strdup(subst(argv_g[i++]));
            av[k] = NULL;
            fflush(stdout);
            CALL(execv(path, av));
            begin(op, r, e);
            end();
            _exit(101);
        } else if (strcmp(op, "exit") == 0) {
            int code = (int)num(arg(&i, op));
            fflush(stdout);
            syscall(SYS_exit_group, code);
        } else if (strcmp(op, "raise") == 0) {
            int sig = (int)flags(arg(&i, op), SIGNALS);
            fflush(stdout);
            CALL(kill(getpid(), sig));
            begin(op, r, e);
            end();
        } else if (strcmp(op, "flood") == 0) {
            long long n = num(arg(&i, op));
            for (long long k = 0; k < n; k++) {
                syscall(SYS_dup2, 1, 100);
                syscall(SYS_close, 100);
            }
            begin(op, 0, 0);
            kv("count", "%lld", n);
            end();
        } else if (strcmp(op, "sleep_ms") == 0) {
            long long ms = num(arg(&i, op));
            struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
            begin(op, 0, 0);
            end();
        } else {
            die("unknown op '%s'", op);
        }
#undef CALL
    }
    if (stop_at) die("missing %s", stop_at);
    return i;
}

int main(int argc, char **argv) {
    argc_g = argc;
    argv_g = argv;
    /* A send on a reset connection should report EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    run(1, NULL);
    fflush(stdout);
    return 0;
}
