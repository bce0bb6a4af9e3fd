"""Incident 3 of README.md's *Alerts* for fdwatch's pipe_leak tests:

    python3 pipe_leak.py SCRIPT CLOSE_FDS LINGER_S

Waits for a line on stdin (so that the test can start fdwatch on its pid), then runs
subprocess.Popen(["sh", "-c", SCRIPT], stdout=PIPE, close_fds=CLOSE_FDS == "1") and
prints

    popen pid=SH fd=F ino=I      (the read end of the pipe: its fd here and inode)
    first line=L                 (the first line SCRIPT wrote, e.g. `echo $!`)
    eof bytes=N                  (once read() returns EOF: every writer let go)
    reaped status=S              (sh's exit status)

then sleeps LINGER_S seconds (still holding nothing of the pipe) and exits 0.
"""
import os
import subprocess
import sys
import time

script, close_fds, linger = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3])
sys.stdin.readline()
p = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, close_fds=close_fds)
fd = p.stdout.fileno()
print(f"popen pid={p.pid} fd={fd} ino={os.fstat(fd).st_ino}", flush=True)
first = p.stdout.readline().decode().strip()
print(f"first line={first}", flush=True)
rest = p.stdout.read()
print(f"eof bytes={len(rest)}", flush=True)
p.stdout.close()
status = p.wait()
print(f"reaped status={status}", flush=True)
time.sleep(linger)
