"""A WSGI app that uses uWSGI's own services, for molecule/services (every answer but / is JSON).

/                        200 "ok" (the role's health check)
/cache/set?key=K&value=V&hold=S   store V under K in cache "shared", then hold this worker S seconds
/cache/get?key=K         K's value in cache "shared" (null when missing)
/counter/reset           set the counter in cache "counters" to 0
/counter/add?lock=1      read the counter, pause, write it + 1: under lock "counter" (lock=1) or not (lock=0)
/counter                 the counter
/timer                   how often the timer handler (signal 100) ran, and when last
/mulefunc?token=T        ask a mule (a @mulefunc) to write T to <runtime dir>/mulefunc.json
/procname?s=S            name this worker's process after the request for S seconds, then name it back

Each answer says which worker process served it (pid, worker id).
"""

import json
import os
import time
from urllib.parse import parse_qs

import uwsgi

# The role names the locks: lock "counter" is uWSGI lock uwsgi.opt["lock.counter"] (bytes, b"1").
COUNTER_LOCK = int(uwsgi.opt.get("lock.counter", b"0"))
RUNTIME_DIR = os.path.dirname(uwsgi.opt["pidfile2"].decode())
TIMER_SIGNAL = 100


def on_timer(signum):
    """Signal 100's handler, raised by the ini's `timer = 100 1` (the app's `timers`)."""
    uwsgi.lock()  # lock 0 (uWSGI's default lock): two workers may run the handler at once
    try:
        count = int(uwsgi.cache_get("ticks", "counters") or b"0")
        uwsgi.cache_update("ticks", str(count + 1).encode(), 0, "counters")
        uwsgi.cache_update("last-tick", repr(time.time()).encode(), 0, "counters")
    finally:
        uwsgi.unlock()


# Only where the ini sets the timer, so an app without `timers` logs no unhandled signal.
if uwsgi.opt.get("timer"):
    uwsgi.register_signal(TIMER_SIGNAL, "worker", on_timer)

if int(uwsgi.opt.get("mules", b"0") or 0):
    from uwsgidecorators import mulefunc

    @mulefunc
    def write_marker(token):
        """Runs in a mule: the worker that calls it only queues a message."""
        path = os.path.join(RUNTIME_DIR, "mulefunc.json")
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump({"token": token, "pid": os.getpid(), "mule_id": uwsgi.mule_id()}, out)
        os.replace(path + ".tmp", path)
else:
    write_marker = None


def served_by():
    return {"pid": os.getpid(), "worker": uwsgi.worker_id()}


def add_to_counter(locked):
    """A read-modify-write of a shared value: safe only under the lock."""
    if locked:
        uwsgi.lock(COUNTER_LOCK)
    try:
        value = int(uwsgi.cache_get("n", "counters") or b"0")
        time.sleep(0.002)  # as if some work happened between the read and the write
        uwsgi.cache_update("n", str(value + 1).encode(), 0, "counters")
    finally:
        if locked:
            uwsgi.unlock(COUNTER_LOCK)


def answer(start_response, data, status="200 OK"):
    body = (json.dumps(data) + "\n").encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    query = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/":
        body = b"ok\n"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/cache/set":
        stored = uwsgi.cache_update(query["key"], query["value"].encode(), 0, "shared")
        data = {**served_by(), "stored": bool(stored)}
        time.sleep(float(query.get("hold", "0")))
        return answer(start_response, data)
    if path == "/cache/get":
        value = uwsgi.cache_get(query["key"], "shared")
        return answer(start_response, {**served_by(), "value": None if value is None else value.decode()})
    if path == "/counter/reset":
        uwsgi.cache_update("n", b"0", 0, "counters")
        return answer(start_response, served_by())
    if path == "/counter/add":
        add_to_counter(query.get("lock") == "1")
        return answer(start_response, served_by())
    if path == "/counter":
        return answer(start_response, {"value": int(uwsgi.cache_get("n", "counters") or b"0")})
    if path == "/timer":
        last = uwsgi.cache_get("last-tick", "counters")
        return answer(start_response, {"ticks": int(uwsgi.cache_get("ticks", "counters") or b"0"),
                                       "last": float(last) if last else None, "now": time.time()})
    if path == "/mulefunc" and write_marker is not None:
        write_marker(query["token"])
        return answer(start_response, served_by())
    if path == "/procname":
        # Per-request process names: ps shows what each worker is doing right now. uWSGI puts the
        # procname prefix (the app's name) in front: "services uWSGI worker 3 busy: GET /procname".
        uwsgi.setprocname(f"uWSGI worker {uwsgi.worker_id()} busy: {environ['REQUEST_METHOD']} {path}")
        try:
            time.sleep(float(query.get("s", "1")))
        finally:
            uwsgi.setprocname(f"uWSGI worker {uwsgi.worker_id()}")
        return answer(start_response, served_by())
    return answer(start_response, {"error": "not found"}, "404 Not Found")
