"""molecule/nginx_front: nginx passes requests to the app over its unix socket."""

from hostcheck import http_get

UNIT = "uwsgi-hello-behind-nginx.service"
UNITS = [UNIT, "nginx.service"]
SOCKET = "/run/uwsgi-hello-behind-nginx/uwsgi.sock"


def test_socket_belongs_to_nginx_group_and_no_one_else(host):
    sock = host.file(SOCKET)
    assert sock.is_socket
    assert sock.user == "uwsgi" and sock.group == "www-data" and sock.mode == 0o660


def test_page_through_nginx(host):
    status, body = http_get(host, "http://127.0.0.1:8081/")
    assert status == 200
    assert body == "hello from uWSGI\n"


def test_errors_pass_through_nginx(host):
    assert http_get(host, "http://127.0.0.1:8081/error")[0] == 500
    assert http_get(host, "http://127.0.0.1:8081/nope")[0] == 404
