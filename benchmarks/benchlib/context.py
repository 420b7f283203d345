"""What every benchmark needs: settings, where to write, the main test host and its apps."""

import os

from . import apps, hosts

# BENCH_MAIN_HOST (pyops-bench*) lets a second run share the machine without sharing a host: the
# fleet benchmark uses hosts of its own, the runtime benchmark's are named after this one, every
# other benchmark uses only this one.
MAIN_HOST = os.environ.get("BENCH_MAIN_HOST", "pyops-bench-main")


class Context:
    """One benchmark session."""

    def __init__(self, settings, out_dir):
        self.settings = settings
        self.out = out_dir
        self.work = out_dir / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.log = self.work / "commands.log"
        self.main = hosts.check_name(MAIN_HOST)
        # The runtime benchmark's other hosts are named after the main one (pyops-bench-main ->
        # pyops-bench-scale1, pyops-bench-x-main -> pyops-bench-x-scale1), so two runs never share one.
        self.host_prefix = MAIN_HOST[:-len("-main")] if MAIN_HOST.endswith("-main") else MAIN_HOST
        self.defaults = apps.role_defaults()
        self.options = self.defaults["uwsgi_production_options"]
        self.variants = apps.ablations(self.defaults)
        self.busy = apps.busy_apps(settings.busy_replicas)
        self.main_apps = main_app_list(self)
        self.started_hosts = []

    def say(self, text):
        """Progress on the terminal and in the command log."""
        print(f"[bench] {text}", flush=True)
        with open(self.log, "a", encoding="utf-8") as stream:
            stream.write(f"# {text}\n")

    def apps_file(self, label, app_list):
        """An extra-vars file for role.yml that deploys app_list."""
        return hosts.write_json(self.work / f"apps-{label}.json", {"uwsgi_production_apps": app_list})

    def start_host(self, name):
        """A fresh test host with the benchmark apps' code on it (nothing else installed)."""
        hosts.start(name, log=self.log)
        self.started_hosts.append(name)
        hosts.playbook(name, "prepare.yml", log=self.log)

    def remove_hosts(self, names):
        """Remove test hosts we started, unless BENCH_KEEP_HOSTS is set."""
        for name in names:
            if not self.settings.keep_hosts and name in self.started_hosts:
                hosts.remove(name, log=self.log)
                self.started_hosts.remove(name)


def main_app_list(ctx):
    """The main host's apps: every benchmark app, then identical filler apps up to the largest app
    count of the run-time benchmark (so the main host is also its largest host)."""
    bench = apps.main_host_apps(ctx.variants, ctx.busy, ctx.settings.leak_reload_on_rss or None)
    largest = max(ctx.settings.rt_sizes) if "runtime" in ctx.settings.only else 0
    fillers = [{"name": f"fill{i + 1:02d}", "module": apps.HELLO, "chdir": apps.APP_DIR}
               for i in range(len(bench), largest)]
    return bench + fillers


def finish_main_host(ctx):
    """Install the load generator, the probe and the comparison units on the main host (after the
    role, so the role's first run there found a fresh host)."""
    hosts.playbook(ctx.main, "prepare.yml", ["bench_tools=true"], log=ctx.log)
    role = ctx.defaults
    extra = [f"bench_uwsgi={role['uwsgi_production_venv']}/bin/uwsgi", f"bench_user={role['uwsgi_production_user']}",
             f"bench_config_dir={role['uwsgi_production_config_dir']}",
             f"bench_bare_port={apps.BARE_PORT}",
             f"bench_stop_app={apps.STOP_APP}", f"bench_stop_port={apps.STOP_PORT}",
             f"bench_docs_port={apps.DOCS_PORT}", f"bench_docs_stop_timeout={ctx.settings.docs_stop_timeout}"]
    # The bare comparison unit runs the role's processes when the defaults name them; since the workers are
    # sized from the host (issue 22) they do not, and extras.yml's 8 (the guide's figure) stands.
    if "processes" in ctx.options:
        extra.append(f"bench_processes={ctx.options['processes']}")
    hosts.playbook(ctx.main, "extras.yml", extra, log=ctx.log)
