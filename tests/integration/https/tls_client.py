"""Run INSIDE the test host: a TLS client of the https app, verifying its certificate against the CA made
by molecule/https/tls.yml (never without verification). Prints one JSON object.

    python3 tls_client.py get CAFILE PORT       GET / : status, body, the served certificate's serial
    python3 tls_client.py ws CAFILE PORT TEXT   a WebSocket handshake on /ws, one text frame, its echo
    python3 tls_client.py untrusted PORT        GET / with the system's CAs only: the error it fails with
"""

import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys

HOST = "localhost"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def connect(context, port):
    raw = socket.create_connection((HOST, port), timeout=10)
    return context.wrap_socket(raw, server_hostname=HOST)


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _sep, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        key, _colon, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, rest


def recv_exactly(conn, size, buffer):
    while len(buffer) < size:
        chunk = conn.recv(4096)
        if not chunk:
            raise EOFError("connection closed")
        buffer += chunk
    return buffer[:size], buffer[size:]


def get(cafile, port):
    context = ssl.create_default_context(cafile=cafile)
    with connect(context, port) as conn:
        serial, version = conn.getpeercert()["serialNumber"], conn.version()
        conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        status, headers, rest = read_head(conn)
        body, _more = recv_exactly(conn, int(headers.get("content-length", "0")), rest)
    return {"status": status, "body": body.decode(), "serial": int(serial, 16), "version": version}


def websocket(cafile, port, text):
    context = ssl.create_default_context(cafile=cafile)
    key = base64.b64encode(os.urandom(16))
    with connect(context, port) as conn:
        conn.sendall(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        status, headers, rest = read_head(conn)
        expected = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        payload = text.encode()
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        # FIN + text frame, masked (a client always masks), a payload below 126 bytes.
        conn.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        # uWSGI may send a ping (opcode 9) before the echo: skip anything but a text frame.
        while True:
            first, rest = recv_exactly(conn, 2, rest)
            size = first[1] & 0x7F
            if size == 126:
                extended, rest = recv_exactly(conn, 2, rest)
                size = struct.unpack("!H", extended)[0]
            frame, rest = recv_exactly(conn, size, rest)
            if first[0] & 0x0F == 1:
                break
        conn.sendall(bytes([0x88, 0x80]) + os.urandom(4))
    return {"status": status, "accept_ok": headers.get("sec-websocket-accept") == expected,
            "upgrade": headers.get("upgrade", ""), "echo": frame.decode(), "fin": bool(first[0] & 0x80)}


def untrusted(port):
    try:
        with connect(ssl.create_default_context(), port):
            return {"error": None}
    except ssl.SSLCertVerificationError as exc:
        return {"error": "verify", "reason": exc.verify_message}


def main():
    mode = sys.argv[1]
    if mode == "get":
        result = get(sys.argv[2], int(sys.argv[3]))
    elif mode == "ws":
        result = websocket(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        result = untrusted(int(sys.argv[2]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
