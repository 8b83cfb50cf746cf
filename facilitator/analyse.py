"""``python -m facilitator analyse RESPONSES.csv [--tables TABLES.csv] [--deck DECK] --out DIR``.

Re-analyses an exported (or merged) ``responses.csv`` offline and writes ``DIR/summary.csv``,
``DIR/groups.csv`` and ``DIR/changes.csv`` (and ``DIR/tables.csv`` when given one), through the
same aggregation the live projector and the console use. A malformed file stops with the line and
the problem on stderr and writes nothing.
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
    TableRow,
    changes,
    changes_csv,
    group_discards,
    groups_csv,
    read_responses_bytes,
    read_tables_bytes,
    summarise,
    summary_csv,
    tables_csv,
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
    parser.add_argument(
        "--tables",
        metavar="TABLES.csv",
        help="the tables' agreed answers (tables.csv), compared with the individual rounds",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the CSV files")
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
    tables: list[TableRow] = []
    try:
        rows = read_responses_bytes(path.read_bytes(), deck)
        if args.tables is not None:
            path = Path(args.tables)
            tables = read_tables_bytes(path.read_bytes(), deck, group_discards(rows))
        summary_rows, group_rows = summarise(rows, deck)
    except CsvError as exc:
        print(f"analyse: {path}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"analyse: {path}: cannot be read: {exc.strerror or exc}", file=sys.stderr)
        return 1
    files = {
        "summary.csv": summary_csv(summary_rows),
        "groups.csv": groups_csv(group_rows),
        "changes.csv": changes_csv(changes(rows, deck, tables)),
    }
    if args.tables is not None:
        files["tables.csv"] = tables_csv(tables, deck)
    out = Path(args.out)
    try:
        _write_all(out, files)
    except OSError as exc:
        print(f"analyse: cannot write to {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    groups = len({(r.session, r.group) for r in rows})
    rounds = len({r.round for r in rows})
    print(
        f"{len({(r.session, r.group, r.participant) for r in rows})} participants in {groups} "
        f"groups, {rounds} round(s), {len(tables)} table answer(s) (deck {deck.id}) -> "
        + ", ".join(str(out / name) for name in files)
    )
    return 0
