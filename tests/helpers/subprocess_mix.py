"""Everyday Python subprocess and socket use, for fdwatch's negative alert tests:

    python3 subprocess_mix.py CLOSE_FDS(0|1)

Waits for a line on stdin, then runs commands with pipes on stdin/stdout/stderr
(run, check_output, Popen + communicate, stderr=STDOUT, DEVNULL, a shell pipeline),
select.select and poll on its pipes and a loopback socket pair, and prints "done".
"""
import os
import select
import socket
import subprocess
import sys

close_fds = sys.argv[1] == "1"
sys.stdin.readline()
kw = {"close_fds": close_fds}
out = subprocess.run(["cat"], input=b"hello\n", stdout=subprocess.PIPE, check=True, **kw).stdout
assert out == b"hello\n", out
subprocess.check_output(["sh", "-c", "echo out; echo err >&2"], stderr=subprocess.STDOUT, **kw)
subprocess.run(["ls", "/nonexistent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
p = subprocess.Popen(["sort"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
o, e = p.communicate(b"b\na\n")
assert o == b"a\nb\n", o
subprocess.run("ls / | grep -c . > /dev/null; true", shell=True, check=True, **kw)
p = subprocess.Popen(["sh", "-c", "sleep 0.1; echo late"], stdout=subprocess.PIPE, **kw)
r, _, _ = select.select([p.stdout], [], [], 5)
assert r, "select on the pipe"
p.communicate()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
c = socket.create_connection(srv.getsockname())
s, _ = srv.accept()
c.sendall(b"x")
assert select.select([s], [], [], 5)[0]
po = select.poll()
po.register(s, select.POLLIN)
assert po.poll(1000)
s.recv(1)
for x in (c, s, srv):
    x.close()
print("done", flush=True)
