"""An fd passed over a unix socket onto stdio, for fdwatch's stdio_hijack tests:

    python3 scm_shell.py PORT

Connects to 127.0.0.1:PORT, makes a socketpair and forks. The child closes fds 0 and
1 and receives the TCP socket twice with SCM_RIGHTS (unix(7)): the kernel installs the
copies on the lowest free numbers, 0 and 1. It makes them inheritable (Python marks
received fds close-on-exec) and execs /bin/sh, which reads its commands from the
connection. The parent sends the fds and waits (holding its copy, so fdwatch can tell
who sent it); exits 0 when the child did.
"""
import array
import os
import socket
import sys

port = int(sys.argv[1])
conn = socket.create_connection(("127.0.0.1", port))
a, b = socket.socketpair()
child = os.fork()
if child == 0:
    a.close()
    os.close(0)
    os.close(1)
    msg, ancdata, flags, addr = b.recvmsg(1, socket.CMSG_SPACE(2 * 4))
    fds = array.array("i")
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % 4])
    if list(fds) != [0, 1]:
        os.write(2, f"received {list(fds)}, expected [0, 1]\n".encode())
        os._exit(1)
    for fd in fds:
        os.set_inheritable(fd, True)
    os.execv("/bin/sh", ["sh"])
b.close()
a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [conn.fileno(), conn.fileno()]))])
_, status = os.waitpid(child, 0)
conn.close()
sys.exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1)
