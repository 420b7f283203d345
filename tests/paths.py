"""Where the repository's files are, for every test."""

import pathlib

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
ROLE = REPO / "roles" / "uwsgi_production"


def load_yaml(path):
    with open(path, encoding="utf-8") as stream:
        return yaml.safe_load(stream)
