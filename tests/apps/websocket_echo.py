"""Test app for molecule/https: a page, and a WebSocket echo on /ws (uWSGI's own WebSocket support).

GET / answers "hello over TLS"; GET /ws with an Upgrade: websocket request completes the handshake and
sends back each message it receives, until the client closes.
"""

import uwsgi


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/ws":
        uwsgi.websocket_handshake(environ["HTTP_SEC_WEBSOCKET_KEY"], environ.get("HTTP_ORIGIN", ""))
        while True:
            message = uwsgi.websocket_recv()
            uwsgi.websocket_send(b"echo: " + message)
    body = b"hello over TLS\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
