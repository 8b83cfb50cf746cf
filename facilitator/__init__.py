"""facilitator: run a group ranking workshop live — phones, a projector, consensus, CSV.

Importing the package loads nothing heavy and patches nothing: the launcher
(``python -m facilitator serve``) alone patches for eventlet before it builds the app.
"""

from typing import Any

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None):  # -> flask.Flask
    """Build the Flask app (see ``facilitator.app.create_app``)."""
    from facilitator.app import create_app as _create_app

    return _create_app(test_config)
