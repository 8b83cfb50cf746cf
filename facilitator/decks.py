"""Statement decks: the statements a workshop ranks, read from TOML files in ``statements/``.

A deck file holds an id, a title, a source, the instructions participants see, the statements
numbered as printed on the handout (each may have a ``short`` title of at most 40 characters, which
the projector shows where the full text does not fit), how many a group discards (0 or 1) and how
many each participant picks for the top. Loading validates all of it and names the file and the
problem on failure.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DECK_ID = "task-5-1"
DECK_DIR: Path = Path(__file__).resolve().parent.parent / "statements"

MIN_STATEMENTS = 2
MAX_STATEMENTS = 12
STATEMENT_MAX = 500
SHORT_MAX = 40
TITLE_MAX = 200
INSTRUCTIONS_MAX = 4000

_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_KEYS = {"id", "title", "source", "instructions", "discard", "top", "statements"}
# A pasted line may start with "3." / "3)" (as printed) or a bullet; both are dropped.
_LEADING_NUMBER = re.compile(r"^\s*(?:\d{1,3}\s*[.)]|[•*\-–])\s*")


class DeckError(ValueError):
    """A deck that cannot be used; the message names the file (if any) and the problem."""

    code = "invalid_deck"  # the protocol's error code (docs/protocol.md)


@dataclass(frozen=True)
class Statement:
    """One statement of a deck, with the number participants see on the handout."""

    number: int
    text: str
    short: str | None = None

    @property
    def title(self) -> str:
        """The short title when the deck gives one, else the full text."""
        return self.short or self.text


@dataclass(frozen=True)
class Deck:
    """A validated deck: statements in number order, a discard count (0 or 1) and a top size."""

    id: str
    title: str
    source: str
    instructions: str
    statements: tuple[Statement, ...]
    discard: int
    top: int

    @property
    def numbers(self) -> tuple[int, ...]:
        """The statement numbers, ascending."""
        return tuple(statement.number for statement in self.statements)

    @property
    def ranked(self) -> int:
        """How many statements each participant ranks (the deck's size minus the discard)."""
        return len(self.statements) - self.discard

    def text(self, number: int) -> str:
        """The text of statement ``number``; ``KeyError`` if the deck has no such statement."""
        for statement in self.statements:
            if statement.number == number:
                return statement.text
        raise KeyError(number)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description of the deck, as the server sends it to pages."""
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "instructions": self.instructions,
            "discard": self.discard,
            "top": self.top,
            "statements": [
                {"number": s.number, "text": s.text, "short": s.short} for s in self.statements
            ],
        }


def _check_counts(n: int, discard: object, top: object) -> tuple[int, int]:
    """Validate the discard and top counts against ``n`` statements; returns them as ints."""
    if not MIN_STATEMENTS <= n <= MAX_STATEMENTS:
        raise DeckError(
            f"a deck needs {MIN_STATEMENTS} to {MAX_STATEMENTS} statements, this one has {n}"
        )
    if type(discard) is not int or discard not in (0, 1):
        raise DeckError(f"discard must be 0 or 1, not {discard!r}")
    if type(top) is not int or not 1 <= top <= n - discard:
        raise DeckError(
            f"top must be a whole number from 1 to {n - discard} (the statements left after "
            f"the discard), not {top!r}"
        )
    return discard, top


def _check_text(value: object, what: str, limit: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise DeckError(f"{what} must be text, not {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise DeckError(f"{what} is empty")
    if len(value) > limit:
        raise DeckError(f"{what} is longer than {limit} characters")
    return value


def _deck_from_data(data: dict[str, Any]) -> Deck:
    """Build and validate a deck from parsed TOML; raises ``DeckError`` without a file name."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        allowed = ", ".join(sorted(_KEYS))
        raise DeckError(f"unknown key(s) {', '.join(unknown)} (allowed: {allowed})")
    missing = sorted(_KEYS - set(data) - {"source"})
    if missing:
        raise DeckError(f"missing key(s) {', '.join(missing)}")
    deck_id = data["id"]
    if not isinstance(deck_id, str) or not _ID_PATTERN.fullmatch(deck_id):
        raise DeckError(
            f"id must be lower-case letters, digits and hyphens (at most 64), not {deck_id!r}"
        )
    title = _check_text(data["title"], "title", TITLE_MAX)
    source = _check_text(data.get("source", ""), "source", TITLE_MAX, required=False)
    instructions = _check_text(data["instructions"], "instructions", INSTRUCTIONS_MAX)
    raw = data["statements"]
    if not isinstance(raw, list):
        raise DeckError("statements must be a list of [[statements]] tables")
    statements: list[Statement] = []
    seen: set[int] = set()
    for position, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not {"number", "text"} <= set(item) <= {
            "number", "text", "short"
        }:
            raise DeckError(
                f"statement {position} must have a number and a text (and optionally a short)"
            )
        number = item["number"]
        if type(number) is not int or number < 1:
            raise DeckError(f"statement {position}: number must be a positive whole number")
        if number in seen:
            raise DeckError(f"statement number {number} is used twice")
        seen.add(number)
        text = _check_text(item["text"], f"statement {number}: text", STATEMENT_MAX)
        short = item.get("short")
        if short is not None:
            short = " ".join(_check_text(short, f"statement {number}: short", SHORT_MAX).split())
        statements.append(Statement(number, " ".join(text.split()), short))
    discard, top = _check_counts(len(statements), data["discard"], data["top"])
    statements.sort(key=lambda s: s.number)
    return Deck(deck_id, title, source, instructions, tuple(statements), discard, top)


def load_deck(path: str | Path) -> Deck:
    """Read and validate one deck file; ``DeckError`` names the file and the problem."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        return _deck_from_data(data)
    except DeckError as exc:
        raise DeckError(f"{path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeckError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise DeckError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DeckError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def load_decks(directory: str | Path = DECK_DIR) -> dict[str, Deck]:
    """Load every ``*.toml`` deck in ``directory``, keyed by id: Task 5.1 first, then by id."""
    decks: dict[str, Deck] = {}
    origin: dict[str, Path] = {}
    for path in sorted(Path(directory).glob("*.toml")):
        deck = load_deck(path)
        if deck.id in decks:
            raise DeckError(f"{path}: deck id {deck.id!r} is already used by {origin[deck.id]}")
        decks[deck.id] = deck
        origin[deck.id] = path
    ordered = sorted(decks, key=lambda deck_id: (deck_id != DEFAULT_DECK_ID, deck_id))
    return {deck_id: decks[deck_id] for deck_id in ordered}


def find_deck(name: str, directory: str | Path = DECK_DIR) -> Deck:
    """A deck by id (from ``directory``) or by the path of a ``.toml`` file."""
    if name.endswith(".toml") or "/" in name or "\\" in name:
        return load_deck(name)
    decks = load_decks(directory)
    if name not in decks:
        raise DeckError(f"no deck with id {name!r} (known: {', '.join(decks) or 'none'})")
    return decks[name]


def deck_from_text(title: str, text: str, discard: int = 1, top: int | None = None) -> Deck:
    """A one-off deck pasted by a trainer: one statement per non-blank line.

    A leading "1." / "1)" or bullet on a line is dropped; statements are numbered 1..n in the order
    given. A line ``short | full text`` gives the statement a short title (at most 40 characters)
    for the projector. The id is "custom"; ``top`` defaults to ``min(5, n - discard)``.
    """
    if not isinstance(text, str):
        raise DeckError("the statements must be text, one per line")
    lines = [_LEADING_NUMBER.sub("", line).strip() for line in text.splitlines()]
    lines = [" ".join(line.split()) for line in lines if line.strip()]
    if len(lines) > MAX_STATEMENTS:
        raise DeckError(
            f"a deck needs {MIN_STATEMENTS} to {MAX_STATEMENTS} statements, "
            f"this one has {len(lines)}"
        )
    if top is None and type(discard) is int:
        top = max(1, min(5, len(lines) - discard))
    data = {
        "id": "custom",
        "title": title,
        "source": "",
        "instructions": (
            "Discuss the statements, agree which one to discard, rank the rest, "
            "then pick the most important."
            if discard
            else "Discuss the statements, rank them, then pick the most important."
        ),
        "discard": discard,
        "top": top,
        "statements": [_pasted(i, line) for i, line in enumerate(lines, start=1)],
    }
    return _deck_from_data(data)


def _pasted(number: int, line: str) -> dict[str, Any]:
    """One pasted line as a statement: ``short | full text`` or just the text."""
    short, bar, text = line.partition("|")
    if not bar or not short.strip():
        return {"number": number, "text": text.strip() if bar else line}
    return {"number": number, "short": short.strip(), "text": text.strip()}
