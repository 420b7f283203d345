"""A tiny WSGI app for the examples and the tests: 200 on /, 500 on /error, 404 elsewhere."""


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        status, body = "200 OK", b"hello from uWSGI\n"
    elif path == "/error":
        status, body = "500 Internal Server Error", b"deliberate error\n"
    else:
        status, body = "404 Not Found", b"not found\n"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
