#!/usr/bin/env python3
"""RSS of a running ballast under the two memory loads of issue 16, measured by hand.

  idle-tls  PORT N        N TCP connections to the webhook port that never send a byte
  sessions  PORT TOKEN C S  C publishers with one token, S series each, every frame near the
                          4 KiB limit (32 labels), as an authenticated attacker would send

Prints the process's RSS before, while the connections are open, and after they closed
(--pid). Plain sockets and hand-made WebSocket frames: no third-party module needed.
"""
import base64
import json
import os
import resource
import socket
import struct
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def ws_frame(text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def upgrade(port, token, publisher):
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Authorization: Bearer {token}\r\nX-Ballast-Publisher: {publisher}\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return sock, answer.split(b"\r\n", 1)[0].decode(errors="replace")


def big_frame(series):
    # 32 labels of ~110 bytes: the frame stays just under 4096 bytes.
    labels = {f"l{i:02d}": f"{series}-" + "v" * 100 for i in range(32)}
    return json.dumps({"counter": "attack", "labels": labels, "value": 1})


def main():
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    pid = int(sys.argv[sys.argv.index("--pid") + 1])
    mode = sys.argv[1]
    before = rss_kb(pid)
    sockets = []
    statuses = {}
    if mode == "idle-tls":
        port, count = int(sys.argv[2]), int(sys.argv[3])
        for _ in range(count):
            sockets.append(socket.create_connection(("127.0.0.1", port)))
    else:
        port, token, conns, series = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        refused_frames = 0
        for c in range(conns):
            sock, status = upgrade(port, token, f"attacker-{c}")
            statuses[status] = statuses.get(status, 0) + 1
            if "101" not in status:
                sock.close()
                continue
            sockets.append(sock)
            sock.sendall(b"".join(ws_frame(big_frame(c * series + s)) for s in range(series)))
        time.sleep(2)
        for sock in sockets:
            sock.setblocking(False)
            try:
                refused_frames += sock.recv(1 << 20).count(b"error")
            except BlockingIOError:
                pass
        statuses["error frames seen"] = refused_frames
    time.sleep(2)
    during = rss_kb(pid)
    for sock in sockets:
        sock.close()
    time.sleep(3)
    after = rss_kb(pid)
    print(json.dumps({"mode": mode, "open": len(sockets), "upgrades": statuses, "rss_kb_before": before,
                      "rss_kb_during": during, "rss_kb_after": after,
                      "per_connection_kb": round((during - before) / max(1, len(sockets)), 1)}))


if __name__ == "__main__":
    main()
