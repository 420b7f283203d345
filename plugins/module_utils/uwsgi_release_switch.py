# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""An app moved to another release on the host: `current` switched in one rename, the running workers moved one
at a time (a chain reload through the master fifo, watched on the stats socket), the app's health-check page asked,
the old releases pruned. uwsgi_config switches each app with a new release once its files are written;
uwsgi_release (step revert, the role's rescue) moves an app back the same way. The decisions are uwsgi_release's.
"""

from __future__ import annotations

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_probe as probe
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as release
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release_host as release_host


def health(info: dict) -> tuple:
    """(result, error) of the app's health check; error None when it answered as expected or the check is off."""
    params = info["health"]
    if not params.get("enabled", True):
        return None, None
    try:
        return probe.check(params["socket"], params["protocol"], params["path"], params["host"], params["status"],
                           float(params["timeout"])), None
    except probe.Unhealthy as exc:
        return exc.result, exc.msg


def chain(name: str, info: dict, wanted: str, import_seconds: float) -> dict:
    """Chain-reload a running app onto the release `current` names, then ask for its health-check page."""
    stats_socket = model.runtime_dir(name) + "/stats.sock"
    workers = len(release.serving_workers(release_host.read_stats(stats_socket)))
    # One worker more than serve now: a single worker first gets a spare (uwsgi_release_host.wake_spare).
    deadline = release.chain_deadline(workers + 1, import_seconds)
    done, waiting, seconds = release_host.chain_reload(model.runtime_dir(name) + "/master.fifo", stats_socket, deadline)
    entry = {"loaded": "chain", "seconds": seconds, "workers": workers, "health": None}
    if not done:
        entry["error"] = ("the chain reload onto release %s did not finish within %.0f s (%d workers, an import of "
                          "%.1f s): workers %s never accepted with the new release"
                          % (wanted, deadline, workers, import_seconds, ", ".join(map(str, waiting)) or "(none answered)"))
        return entry
    entry["health"], error = health(info)
    if error:
        entry["error"] = "release %s failed its health check after the chain reload: %s" % (wanted, error)
    return entry


def switch_one(name: str, info: dict, keep: int) -> tuple:
    """Switch one app (its uwsgi_config record `info`) to the release planned for it and, when it runs and nothing
    else of it changed, move its workers there by a chain reload (else the service step loads it); then prune its
    old releases. (entry: from, to, how it loaded, the chain's seconds and health, an error; the releases removed.)"""
    planned = info["release"]
    layout = release.Layout(planned["root"])
    marker = release_host.read_json(layout.marker(planned["id"])) or {}
    running = bool(release_host.read_stats(model.runtime_dir(name) + "/stats.sock"))
    before = release_host.switch(layout, planned["id"]) if planned.get("switch") else planned.get("previous", "")
    entry = {"from": before, "to": planned["id"], "loaded": "service"}
    if release.load_by_chain(running, info.get("changed") or []):
        entry.update(chain(name, info, planned["id"], float(marker.get("import_seconds") or 1.0)))
        if entry.get("error"):
            return entry, []
    host = release_host.read(layout, "")
    return entry, release_host.remove(layout, release.prune(host, keep, planned["id"]))
