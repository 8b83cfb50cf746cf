"""The floor: a bare Flask-SocketIO server under eventlet with no application logic.

It only acknowledges a ``submit`` and forwards it to the projector room; ``watch`` joins that
room. ``bench/load.py`` drives it with the identical harness it uses for the real server, so the
ratio app / floor isolates what the application adds on top of the stack.

    python bench/floor.py --host 127.0.0.1 --port 5099
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import resource  # noqa: E402

import eventlet.wsgi  # noqa: E402
from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

PROJECTOR_ROOM = "projector"

app = Flask(__name__)
socketio = SocketIO(app, async_mode="eventlet", cors_allowed_origins=None)


@socketio.on("watch")
def watch(_data=None):
    """The projector: subscribe to every forwarded submit."""
    join_room(PROJECTOR_ROOM)
    return {"ok": True}


@socketio.on("submit")
def submit(data):
    """Acknowledge and forward to the projector, nothing else."""
    socketio.emit("submitted", data, to=PROJECTOR_ROOM)
    return {"ok": True}


def raise_nofile() -> None:
    """Allow as many sockets as the hard limit permits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5099)
    args = parser.parse_args()
    raise_nofile()
    # the same listener the app's launcher uses: a 1024 backlog, and max_size raised because
    # eventlet.wsgi stops accepting past 1024 connections otherwise
    listener = eventlet.listen((args.host, args.port), backlog=1024)
    eventlet.wsgi.server(listener, app, log_output=False, max_size=10000)


if __name__ == "__main__":
    main()
