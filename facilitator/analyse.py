"""``python -m facilitator analyse RESPONSES.csv [--deck DECK] --out DIR``.

Re-analyses an exported (or merged) ``responses.csv`` offline and writes ``DIR/summary.csv`` and
``DIR/groups.csv``, through the same aggregation the live projector uses. A malformed file stops
with the line and the problem on stderr and writes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from facilitator.decks import DEFAULT_DECK_ID, DeckError, find_deck
from facilitator.export import (
    CsvError,
    groups_csv,
    read_responses_bytes,
    summarise,
    summary_csv,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m facilitator analyse",
        description="Summarise a responses.csv export per group (see docs/csv.md).",
    )
    parser.add_argument("responses", metavar="RESPONSES.csv", help="the responses file to read")
    parser.add_argument(
        "--deck",
        default=DEFAULT_DECK_ID,
        help=f"deck id from statements/ or a path to a .toml deck (default: {DEFAULT_DECK_ID})",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the two CSV files")
    return parser


def _write_all(directory: Path, files: dict[str, bytes]) -> None:
    """Write each file to a temporary name in ``directory``, then rename it into place."""
    directory.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name, data in files.items():
            handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
            staged.append((temporary, directory / name))
            with os.fdopen(handle, "wb") as fh:
                fh.write(data)
        for temporary, final in staged:
            os.replace(temporary, final)
    finally:
        for temporary, _ in staged:
            if os.path.exists(temporary):
                os.unlink(temporary)


def main(argv: list[str]) -> int:
    """Run the command; returns the exit status (0 ok, 1 bad input, 2 bad usage)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help already
        return int(exc.code or 0)
    try:
        deck = find_deck(args.deck)
    except DeckError as exc:
        print(f"analyse: {exc}", file=sys.stderr)
        return 2
    path = Path(args.responses)
    try:
        rows = read_responses_bytes(path.read_bytes(), deck)
        summary_rows, group_rows = summarise(rows, deck)
    except CsvError as exc:
        print(f"analyse: {path}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"analyse: {path}: cannot be read: {exc.strerror or exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    try:
        _write_all(
            out, {"summary.csv": summary_csv(summary_rows), "groups.csv": groups_csv(group_rows)}
        )
    except OSError as exc:
        print(f"analyse: cannot write to {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(
        f"{len(rows)} participants in {len(group_rows)} groups (deck {deck.id}) -> "
        f"{out / 'summary.csv'}, {out / 'groups.csv'}"
    )
    return 0
