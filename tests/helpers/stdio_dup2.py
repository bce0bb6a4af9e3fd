"""The Python shape of a reverse shell, for fdwatch's stdio_hijack tests:

    python3 stdio_dup2.py PORT

Waits for a line on stdin (so that the test can start fdwatch on its pid), connects to
127.0.0.1:PORT, os.dup2()s the socket onto fd 0 and prints

    dup2 pid=P ino=I

(I: the socket's inode), then reads fd 0 (now the socket) until EOF and exits 0.
"""
import os
import socket
import sys

port = int(sys.argv[1])
sys.stdin.readline()
s = socket.create_connection(("127.0.0.1", port))
os.dup2(s.fileno(), 0)
print(f"dup2 pid={os.getpid()} ino={os.fstat(0).st_ino}", flush=True)
while os.read(0, 4096):
    pass
print("eof", flush=True)
