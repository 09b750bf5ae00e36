#!/usr/bin/env python3
"""A link delay without netem, for bench/cluster/cluster.sh on kernels that lack it.

Run inside one emulated host's network namespace, as root:
    delay_forward.py DEVICE SECONDS

It makes the TUN device DEVICE. cluster.sh routes the host's packets to the other hosts into it,
and this program holds each packet for SECONDS. It then sends the packet unchanged through a
raw IP socket whose packets carry the mark 1. cluster.sh routes marked packets out through the
host's link as before, so they cross the switch and its rate limits normally.

Every packet waits the same time, so a FIFO keeps them in order. The program prints "ready" once
the device exists and runs until it is killed.

It is plain Python: one TCP connection through it reached 230 Mbit/s on this 2-core VM, with
the program's core busy. That is enough for the slow links (10 Mbit/s is about 830 full packets
a second each way), not for gigabit ones.
"""
import collections
import fcntl
import os
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MARK = 1


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: delay_forward.py DEVICE SECONDS")
    device, delay = sys.argv[1], float(sys.argv[2])
    if not 0 < delay < 10:
        sys.exit(f"delay_forward.py: the delay must be in (0, 10) seconds, got {sys.argv[2]}")
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", device.encode(), IFF_TUN | IFF_NO_PI))
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    out.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, MARK)
    print("ready", flush=True)
    waiting = collections.deque()  # (due time, packet), due times ascending
    while True:
        timeout = max(0.0, waiting[0][0] - time.monotonic()) if waiting else None
        readable, _, _ = select.select([tun], [], [], timeout)
        if readable:
            packet = os.read(tun, 65536)
            if packet and packet[0] >> 4 == 4:  # IPv4 only: the subnet is IPv4
                waiting.append((time.monotonic() + delay, packet))
        now = time.monotonic()
        while waiting and waiting[0][0] <= now:
            _, packet = waiting.popleft()
            try:
                out.sendto(packet, (socket.inet_ntoa(packet[16:20]), 0))
            except OSError:
                pass  # a full device queue drops the packet, as a congested link would


if __name__ == "__main__":
    main()
