"""The stop benchmark's real app: Flask with Flask-SQLAlchemy (a model, a table, a query) and pandas
(from PyPI, into its own virtualenv), so each worker holds a large interpreter to tear down, and an
atexit handler that writes ATEXIT_DIR/<pid>, so each stop shows whether the handlers ran."""

import atexit
import os

import pandas
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ATEXIT_DIR = os.environ["ATEXIT_DIR"]


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Item(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


application = Flask(__name__)
application.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
db.init_app(application)
with application.app_context():
    db.create_all()
    db.session.add(Item(name="first"))
    db.session.commit()


@application.route("/")
def index():
    return "hello from Flask\n"


@application.route("/items")
def items():
    names = [item.name for item in db.session.scalars(db.select(Item))]
    return jsonify(pandas.Series(names).tolist())


def _write_marker():
    with open(os.path.join(ATEXIT_DIR, str(os.getpid())), "w", encoding="utf-8") as marker:
        marker.write("atexit handler ran\n")


atexit.register(_write_marker)
