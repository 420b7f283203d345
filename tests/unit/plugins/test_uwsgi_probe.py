"""uwsgi_probe.check against real processes on this machine's loopback: an HTTP server in a child process
writes its pid to a pidfile as uWSGI's master does (pidfile2), answers, and then keeps running or exits."""

import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_probe as probe

# Serves GET with 200 (or argv[3]) on 127.0.0.1:<free port> (printed first), writes its pid to argv[1], and exits
# argv[2] seconds after its first answer (never when it is 0).
SERVER = textwrap.dedent("""
    import http.server, os, sys, threading
    pidfile, exit_after = sys.argv[1], float(sys.argv[2])
    answer = int(sys.argv[3]) if len(sys.argv) > 3 else 200

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(answer)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            if exit_after:
                threading.Timer(exit_after, lambda: (os.unlink(pidfile), os._exit(0))).start()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    with open(pidfile, "w") as out:
        out.write("%d\\n" % os.getpid())
    print(server.server_address[1], flush=True)
    server.serve_forever()
""")


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(exit_after, answer=200):
        pidfile = tmp_path / "uwsgi.pid"
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(pidfile), str(exit_after), str(answer)],
                                stdout=subprocess.PIPE, text=True)
        started.append(proc)
        return "127.0.0.1:%s" % proc.stdout.readline().strip(), str(pidfile), proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_master_that_keeps_running_is_healthy(serve):
    address, pidfile, proc = serve(0)
    result = probe.check(address, "http", timeout=5, pidfile=pidfile, settle=0.5)
    assert (result["status"], result["body"], result["master"]) == (200, "ok", proc.pid)


def test_a_master_that_exits_right_after_its_answer_is_not_healthy(serve):
    address, pidfile, _proc = serve(0.1)
    with pytest.raises(probe.Unhealthy) as caught:
        probe.check(address, "http", timeout=5, pidfile=pidfile, settle=0.5)
    assert "it answered 200, but its uWSGI master was gone (pidfile %s: gone) within 0.5 s of its start" % pidfile \
        in caught.value.msg
    assert caught.value.result["status"] == 200 and caught.value.result["master"] is None


def test_a_master_replaced_after_its_answer_is_not_healthy(serve, tmp_path):
    address, pidfile, _proc = serve(0)
    # Another process takes the pidfile while the check settles, as the next master of a crash loop would.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        replace = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0.2); "
                                    "open(sys.argv[1], 'w').write(sys.argv[2])", pidfile, str(other.pid)])
        with pytest.raises(probe.Unhealthy) as caught:
            probe.check(address, "http", timeout=5, pidfile=pidfile, settle=0.6)
        replace.wait()
    finally:
        other.kill()
        other.wait()
    assert "its uWSGI master had been replaced (pid" in caught.value.msg and caught.value.result["master"] == other.pid


def test_a_master_that_started_long_enough_ago_is_not_waited_for(serve):
    address, pidfile, proc = serve(0)
    time.sleep(0.6)
    began = time.monotonic()
    result = probe.check(address, "http", timeout=5, pidfile=pidfile, settle=0.5)
    assert result["master"] == proc.pid and time.monotonic() - began < 0.4


def test_after_a_reload_the_master_must_last_from_the_file_the_reload_made(serve, tmp_path):
    """uWSGI does not write its pidfile again when a graceful reload re-executes the master: the file the reload
    made anew (the master fifo) says when it restarted."""
    address, pidfile, _proc = serve(0.1)
    time.sleep(0.6)  # the pidfile is older than settle
    marker = tmp_path / "master.fifo"
    marker.write_text("")
    with pytest.raises(probe.Unhealthy) as caught:
        probe.check(address, "http", timeout=5, pidfile=pidfile, settle=0.5, recreated_file=str(marker),
                    recreated_file_inode=-1)
    assert "its uWSGI master was gone" in caught.value.msg


def test_without_settle_the_answer_alone_counts(serve):
    address, pidfile, _proc = serve(0.1)
    result = probe.check(address, "http", timeout=5, pidfile=pidfile)
    assert result["status"] == 200 and "master" not in result


def test_an_app_answering_wrong_to_every_request_is_not_waited_for_to_the_end(serve):
    address, _pidfile, _proc = serve(0, answer=500)
    started = time.monotonic()
    with pytest.raises(probe.Unhealthy) as caught:
        probe.check(address, "http", timeout=30, wrong_for=1.0, interval=0.2)
    took = time.monotonic() - started
    assert 1.0 <= took < 5, took
    assert "answered 500" in caught.value.msg and "a wrong answer to every request for 1.0 s" in caught.value.msg
    assert caught.value.result["attempts"] >= 5


def test_without_wrong_for_a_wrong_answer_is_waited_for_to_the_timeout(serve):
    address, _pidfile, _proc = serve(0, answer=500)
    started = time.monotonic()
    with pytest.raises(probe.Unhealthy) as caught:
        probe.check(address, "http", timeout=2, wrong_for=0, interval=0.2)
    assert time.monotonic() - started >= 1.8
    assert "answered 500" in caught.value.msg and "wrong answer to every request" not in caught.value.msg


def test_no_answer_at_all_is_waited_for_to_the_timeout_whatever_wrong_for():
    started = time.monotonic()
    with pytest.raises(probe.Unhealthy) as caught:
        probe.check("127.0.0.1:9", "http", timeout=2, wrong_for=0.5, interval=0.2)
    assert time.monotonic() - started >= 1.8 and caught.value.result["status"] == 0
