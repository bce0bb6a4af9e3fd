"""A classic Unix daemon, for fdwatch's negative alert tests:

    python3 daemon.py SECONDS

Forks, setsid()s, forks again; the grandchild prints "daemon pid=P", then closes 0-2,
opens /dev/null (fd 0), dup2()s it onto 1 and 2, opens a log file in /tmp read-write
(fd 3), sleeps SECONDS and exits. The parent and the first child exit at once; the
parent first waits for the grandchild's line so the test sees it.
"""
import os
import sys
import tempfile
import time

seconds = float(sys.argv[1])
r, w = os.pipe()
if os.fork() > 0:
    os.close(w)
    with os.fdopen(r) as f:
        print(f.readline().strip(), flush=True)
    os._exit(0)
os.close(r)
os.setsid()
if os.fork() > 0:
    os._exit(0)
os.write(w, f"daemon pid={os.getpid()}\n".encode())
os.close(w)
os.chdir("/")
os.umask(0o022)
sys.stdout.flush()
sys.stderr.flush()
for fd in (0, 1, 2):
    os.close(fd)
null = os.open(os.devnull, os.O_RDWR)
assert null == 0, null
os.dup2(0, 1)
os.dup2(0, 2)
log = tempfile.TemporaryFile(dir="/tmp")
log.write(b"started\n")
time.sleep(seconds)
