"""The workshop's domain model: sessions, table groups, participants, steps and their rules.

Plain dataclasses and functions, no Flask, no sockets, no SQL. The store keeps these objects in
memory (loaded from SQLite at start) and persists every change before it is applied here; the
socket handlers translate ``WorkshopError`` into the protocol's error shape.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from facilitator.consensus import AnswerError, check_discard_vote, check_ranking, check_top
from facilitator.decks import Deck

STEPS: tuple[str, ...] = ("lobby", "discard", "rank", "similarities", "top", "results")
INPUT_STEPS: tuple[str, ...] = ("discard", "rank", "top")
NAME_MAX = 40
GROUP_NAME_MAX = 40
TITLE_MAX = 120
MAX_GROUPS = 40
SUBMISSION_ID_MAX = 64

# Join codes: 8 characters from 30 unambiguous symbols (no 0/O, 1/I/L, U): 30^8, 39.2 bits.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8


class WorkshopError(Exception):
    """A request the workshop refuses; ``code`` is stable, ``str()`` is for a person."""

    def __init__(self, code: str, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.rule = rule

    def to_dict(self) -> dict[str, Any]:
        """The protocol's error object."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.rule:
            error["rule"] = self.rule
        return error


def new_token() -> str:
    """A 192-bit URL-safe secret (participant and facilitator tokens)."""
    return secrets.token_urlsafe(24)


def new_join_code() -> str:
    """A short join code from an unambiguous alphabet (about 39.2 bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(value: object) -> str | None:
    """Uppercase a typed join code and drop spaces and dashes; None if it cannot be a code."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    code = "".join(ch for ch in value.upper() if ch not in " -\t")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean_text(value: object, limit: int) -> str:
    """Plain display text: control, format (bidi overrides, zero-width) and unassigned
    characters removed, whitespace folded, trimmed, capped at ``limit`` characters."""
    if not isinstance(value, str):
        return ""
    value = value[: limit * 4]
    kept = []
    for ch in value:
        cat = unicodedata.category(ch)
        if ch.isspace():
            kept.append(" ")
        elif cat not in _DROP_CATEGORIES or ch == "\u200d":  # keep ZWJ inside emoji sequences
            kept.append(ch)
    text = " ".join("".join(kept).split())
    # a lone ZWJ at the edges or between spaces carries nothing
    text = text.strip("\u200d ")
    return text[:limit].strip()


@dataclass
class Participant:
    """One phone in a session."""

    number: int
    group: int
    name: str
    token: str
    removed: bool = False
    answers: dict[str, Any] = field(default_factory=dict)
    submission_ids: set[str] = field(default_factory=set)

    def label(self) -> str:
        """Name to show: their display name, or 'Participant N'."""
        return self.name or f"Participant {self.number}"


@dataclass
class Group:
    """A table group."""

    number: int
    name: str
    discard: int | None = None
    discard_tied: tuple[int, ...] | None = None


@dataclass
class Session:
    """A live (or past) workshop session."""

    id: int
    code: str
    title: str
    deck: Deck
    facilitator_token: str
    projector_key: str
    created_at: str
    step: str = "lobby"
    open: bool = False
    revealed: bool = False
    closed: bool = False
    version: int = 0
    shuffle: bool = True  # each participant's ranking starts in an order of their own
    groups: dict[int, Group] = field(default_factory=dict)
    participants: dict[int, Participant] = field(default_factory=dict)
    # What the trainer chose for the projector (live.choose_projector_view). Not persisted: after
    # a restart, or once the step changes, the projector shows the step's own view.
    projector_view: dict[str, Any] = field(default_factory=dict)

    # -- derived views --------------------------------------------------------------------
    def active(self) -> list[Participant]:
        """Participants not removed, in joining order."""
        return [p for p in self.participants.values() if not p.removed]

    def members(self, group: int) -> list[Participant]:
        """Active participants of one group."""
        return [p for p in self.participants.values() if p.group == group and not p.removed]

    def remaining(self, group: int) -> tuple[int, ...] | None:
        """The group's statements left to rank, or None while its discard is undecided."""
        numbers = self.deck.numbers
        if self.deck.discard == 0:
            return numbers
        discard = self.groups[group].discard
        if discard is None:
            return None
        return tuple(n for n in numbers if n != discard)

    def group_for_new_participant(self, requested: object) -> int:
        """The group a joining phone goes to: the requested one, or the least filled."""
        if requested is None:
            counts = {g: 0 for g in self.groups}
            for p in self.active():
                counts[p.group] += 1
            return min(counts, key=lambda g: (counts[g], g))
        if isinstance(requested, bool) or not isinstance(requested, int):
            raise WorkshopError("bad_request", "The group must be a group number or null.")
        if requested not in self.groups:
            raise WorkshopError("not_found", "There is no such group in this session.")
        return requested


# -- rules ----------------------------------------------------------------------------------
def check_open(session: Session) -> None:
    """Refuse anything but reading on a closed session."""
    if session.closed:
        raise WorkshopError("session_closed", "This session has been closed by the trainer.")


def check_answer(session: Session, participant: Participant, step: object, answer: object) -> Any:
    """Validate one submitted answer for this participant now; returns the normalised answer."""
    check_open(session)
    if participant.removed:
        raise WorkshopError("bad_token", "You have been removed from this session.")
    if step not in INPUT_STEPS:
        raise WorkshopError("bad_request", "step must be one of discard, rank, top.")
    if step == "discard" and session.deck.discard == 0:
        raise WorkshopError("wrong_step", "This deck has no discard step.")
    if step != session.step:
        raise WorkshopError("wrong_step", f"The {step} step is not the current step.")
    if not session.open:
        raise WorkshopError("step_closed", f"The {step} step is closed.")
    try:
        if step == "discard":
            return check_discard_vote(session.deck.numbers, answer)
        remaining = session.remaining(participant.group)
        if remaining is None:
            raise WorkshopError(
                "awaiting_discard",
                "Your group's discard is tied; the trainer will settle it in a moment.",
            )
        discarded = session.groups[participant.group].discard
        if step == "rank":
            return list(check_ranking(remaining, answer, discarded))
        return list(check_top(remaining, answer, session.deck.top, discarded))
    except AnswerError as exc:
        raise WorkshopError("invalid_answer", str(exc), rule=exc.rule) from exc


def check_submission_id(value: object) -> str:
    """A client-generated submission id: 1–64 printable ASCII characters."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= SUBMISSION_ID_MAX
        or not value.isascii()
        or not value.isprintable()
    ):
        raise WorkshopError("bad_request", "id must be a string of 1 to 64 printable characters.")
    return value


def check_step_name(step: object) -> str:
    """One of the six steps."""
    if step not in STEPS:
        raise WorkshopError("bad_request", "step must be one of " + ", ".join(STEPS) + ".")
    return step  # type: ignore[return-value]


def group_names(names: object, count: object) -> list[str]:
    """The table groups a trainer asked for: explicit names, or a count ('Table 1'…)."""
    if names:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise WorkshopError("bad_request", "groups must be a list of names.")
        cleaned = [clean_text(n, GROUP_NAME_MAX) for n in names]
        cleaned = [n for n in cleaned if n]
        if len(set(cleaned)) != len(cleaned):
            raise WorkshopError("bad_request", "Two groups have the same name.")
    else:
        if count is None:
            count = 2
        if isinstance(count, bool) or not isinstance(count, int):
            raise WorkshopError("bad_request", "group_count must be a whole number.")
        cleaned = [f"Table {i}" for i in range(1, count + 1)]
    if not 1 <= len(cleaned) <= MAX_GROUPS:
        raise WorkshopError("bad_request", f"A session has 1 to {MAX_GROUPS} groups.")
    return cleaned
