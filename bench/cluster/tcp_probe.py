#!/usr/bin/python3
# What one TCP connection carries between two emulated hosts, without MPI: BYTES one way (the
# client sends) or both ways at once, timed from a start signal to the last byte received (each
# receiving side prints its rate); or, with `rtt`, N round trips of one byte (the client prints
# their minimum and median). Used by bench/cluster/link_check.sh, which starts the server in one
# host and the client in the other.
#   tcp_probe.py server PORT BYTES|N one|both|rtt
#   tcp_probe.py client HOST:PORT BYTES|N one|both|rtt
import os
import socket
import sys
import threading
import time

CHUNK = b"x" * 65536


def send_all(sock, n):
    while n > 0:
        n -= sock.send(CHUNK[:min(n, len(CHUNK))])


def receive_all(sock, n):
    while n > 0:
        data = sock.recv(min(n, 1 << 20))
        if not data:
            raise SystemExit("tcp_probe: the peer closed the connection early")
        n -= len(data)


def connect(address):
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + 10
    while True:
        try:
            return socket.create_connection((host, int(port)))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def round_trips(sock, role, n):
    """n round trips of one byte, the client's timed; nothing waits to fill a segment."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for _ in range(n):
        start = time.monotonic()
        if role == "client":
            sock.send(b"r")
        receive_all(sock, 1)
        if role == "server":
            sock.send(b"r")
        times.append((time.monotonic() - start) * 1e3)
    if role == "client":
        times.sort()
        os.write(1, f"client (rtt): {n} round trips, min {times[0]:.2f} ms, "
                    f"median {times[n // 2]:.2f} ms\n".encode())


def main(role, where, n, mode):
    if role == "server":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", int(where)))
        listener.listen(1)
        sock, _ = listener.accept()
    else:
        sock = connect(where)
    if mode == "rtt":
        return round_trips(sock, role, n)
    # A one-byte handshake each way, so that both sides start the clock together.
    if role == "server":
        receive_all(sock, 1)
        sock.send(b"g")
    else:
        sock.send(b"g")
        receive_all(sock, 1)
    start = time.monotonic()
    jobs = []
    if mode == "both" or role == "client":
        jobs.append(threading.Thread(target=send_all, args=(sock, n)))
    if mode == "both" or role == "server":
        jobs.append(threading.Thread(target=receive_all, args=(sock, n)))
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    seconds = time.monotonic() - start
    if mode == "one" and role == "client":
        return  # its send ends when the kernel holds the data; the receiver's clock counts
    line = (f"{role} ({mode} way{'s' if mode == 'both' else ''}): {n / 1e6:.1f} MB in "
            f"{seconds:.2f} s, {n * 8 / seconds / 1e6:.1f} Mbit/s\n")
    # One write: both sides print at once into the same pipe, and a line must not interleave.
    os.write(1, line.encode())


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("server", "client") or \
            sys.argv[4] not in ("one", "both", "rtt") or not sys.argv[3].isdigit() or \
            int(sys.argv[3]) < 1:
        raise SystemExit("usage: tcp_probe.py server PORT BYTES|N one|both|rtt | "
                         "client HOST:PORT BYTES|N one|both|rtt")
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
