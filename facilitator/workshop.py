"""The workshop's domain model: sessions, table groups, participants, steps and their rules.

Plain dataclasses and functions, no Flask, no sockets, no SQL. Each rule is a method of
``Session``: it checks the request (raising ``WorkshopError`` and changing nothing), applies the
rule to the session, its groups and participants, bumps ``version`` once, and returns a
``Change`` saying what changed. The store persists that change (and rebuilds the objects from
the database if the write fails); the socket handlers translate ``WorkshopError`` into the
protocol's error shape.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from facilitator.consensus import (
    AnswerError,
    check_discard_vote,
    check_ranking,
    check_top,
    tally_discard,
)
from facilitator.decks import Deck

STEPS: tuple[str, ...] = ("lobby", "discard", "rank", "similarities", "top", "results")
INPUT_STEPS: tuple[str, ...] = ("discard", "rank", "top")
NAME_MAX = 40
# What the projector can show while results are revealed: the step's own view ("step"), the room
# matrix (statements x tables), each table's top picks ("top"), one table, or one statement
# across the tables. ``page`` picks the tables shown (by the step's view, the matrix or the top
# picks) when there are more than MATRIX_TABLES.
PROJECTOR_VIEWS: tuple[str, ...] = ("step", "matrix", "top", "table", "statement")
MATRIX_TABLES = 8
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
    """A 192-bit URL-safe secret (participant and console tokens)."""
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


@dataclass(eq=False)
class Change:
    """What one rule changed in a session, for the store to persist and the handlers to tell.

    The session's own fields (step, open, revealed, closed, version) are always saved with it.
    """

    session: Session
    groups: set[int] = field(default_factory=set)  # groups whose discard (or tie) was set
    cleared: list[Participant] = field(default_factory=list)  # lost their rank and top answers
    joined: Participant | None = None
    removed: list[Participant] = field(default_factory=list)
    reset: bool = False  # every answer and submission of the session is gone

    def stale_groups(self) -> set[int]:
        """Groups whose results (consensus) may differ after this change."""
        stale = set(self.groups)
        stale.update(p.group for p in self.cleared)
        stale.update(p.group for p in self.removed)
        if self.joined is not None:
            stale.add(self.joined.group)
        return stale


@dataclass
class Session:
    """A live (or past) workshop session, and the rules that change it."""

    id: int
    code: str
    title: str
    deck: Deck
    console_token: str
    projector_key: str
    created_at: str
    step: str = "lobby"
    open: bool = False
    revealed: bool = False
    closed: bool = False
    version: int = 0
    shuffle: bool = True  # each participant's ranking starts in an order of their own
    joins_locked: bool = False  # the trainer stopped new participants (those in can resume)
    groups: dict[int, Group] = field(default_factory=dict)
    participants: dict[int, Participant] = field(default_factory=dict)
    # What the trainer chose for the projector (``show_on_projector``) while this step is
    # current. Not persisted: after a restart, or once the step changes (even back to the same
    # step), the projector shows the step's own view.
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

    def check_open(self) -> None:
        """Refuse anything but reading on a closed session."""
        if self.closed:
            raise WorkshopError("session_closed", "This session has been closed by the trainer.")

    # -- rules ------------------------------------------------------------------------------
    def join(self, name: str, group: object, token: str, limit: int | None = None) -> Change:
        """A new participant (numbered after everyone who ever joined) in ``group``, or in the
        least filled group when None; refused while joins are locked, or when ``limit``
        participants are already in."""
        self.check_open()
        if self.joins_locked:
            raise WorkshopError("joins_locked",
                                "The trainer has closed this session to new participants.")
        if limit is not None and len(self.active()) >= limit:
            raise WorkshopError("session_full",
                                f"This session is full ({limit} participants).")
        number_group = self.group_for_new_participant(group)
        number = max(self.participants, default=0) + 1
        participant = Participant(number, number_group, name, token)
        self.participants[number] = participant
        return self._changed(Change(self, joined=participant))

    def remove(self, number: object) -> Change:
        """Remove a participant: their token stops working, their answers leave the results."""
        if isinstance(number, bool) or not isinstance(number, int) or (
            number not in self.participants or self.participants[number].removed
        ):
            raise WorkshopError("not_found", "There is no such participant in this session.")
        participant = self.participants[number]
        participant.removed = True
        return self._changed(Change(self, removed=[participant]))

    def open_step(self, step: object) -> Change:
        """Make ``step`` current and open. Input steps hide results; the others reveal them.
        Leaving an open discard step decides the discards, as closing it would."""
        self.check_open()
        step = check_step_name(step)
        if step == "discard" and self.deck.discard == 0:
            raise WorkshopError("wrong_step", "This deck has no discard step.")
        change = Change(self)
        if self.step == "discard" and self.open and step != "discard":
            self._decide_discards(change)
        is_input = step in INPUT_STEPS
        self.step, self.open, self.revealed = step, is_input, not is_input
        self.projector_view = {}
        return self._changed(change)

    def close_step(self) -> Change:
        """Close the current step; closing the discard step decides each group's discard
        (closing it twice keeps a settled discard)."""
        self.check_open()
        change = Change(self)
        if self.step == "discard" and self.open:
            self._decide_discards(change)
        self.open = False
        return self._changed(change)

    def lock_joins(self, locked: bool) -> Change:
        """Stop (or allow again) new participants; those already in carry on."""
        self.check_open()
        self.joins_locked = locked
        return self._changed(Change(self))

    def reveal(self, revealed: bool) -> Change:
        """Show or hide results on the projector."""
        self.revealed = revealed
        return self._changed(Change(self))

    def show_on_projector(self, view: object, table: object = None, statement: object = None,
                          page: object = None) -> Change:
        """The trainer's choice of what the projector shows while this step is current (see
        ``PROJECTOR_VIEWS``); the next step change brings back the step's own view."""
        if view not in PROJECTOR_VIEWS:
            raise WorkshopError("bad_request",
                                f"view must be one of {', '.join(PROJECTOR_VIEWS)}.")
        choice: dict[str, Any] = {"view": view}
        if view == "table":
            if type(table) is not int or table not in self.groups:
                raise WorkshopError("not_found", "There is no such table in this session.")
            choice["table"] = table
        elif view == "statement":
            if type(statement) is not int or statement not in self.deck.numbers:
                raise WorkshopError("not_found", "There is no such statement in this deck.")
            choice["statement"] = statement
        else:  # the step's view, the matrix and the top picks show MATRIX_TABLES tables a page
            page = 0 if page is None else page
            pages = max(1, -(-len(self.groups) // MATRIX_TABLES))
            if type(page) is not int or not 0 <= page < pages:
                raise WorkshopError("bad_request",
                                    f"page must be a whole number from 0 to {pages - 1}.")
            choice["page"] = page
        self.projector_view = choice
        return self._changed(Change(self))

    def settle(self, group: object, statement: object) -> Change:
        """The trainer settles a tied group's discard with one of the tied statements."""
        self.check_open()
        if isinstance(group, bool) or not isinstance(group, int) or group not in self.groups:
            raise WorkshopError("not_found", "There is no such group in this session.")
        g = self.groups[group]
        if not g.discard_tied:
            raise WorkshopError("bad_request", f"{g.name}'s discard is not tied.")
        if type(statement) is not int or statement not in g.discard_tied:
            raise WorkshopError(
                "not_found", "Choose one of the tied statements: "
                + ", ".join(str(s) for s in g.discard_tied) + "."
            )
        change = Change(self)
        self._set_discard(change, group, statement, None)
        return self._changed(change)

    def accept_answer(self, participant: Participant, step: object, answer: object) -> Any:
        """Validate one answer from this participant now; returns it normalised, changing
        nothing (``record_answer`` applies it once it is saved)."""
        self.check_open()
        if participant.removed:
            raise WorkshopError("bad_token", "You have been removed from this session.")
        if step not in INPUT_STEPS:
            raise WorkshopError("bad_request", "step must be one of discard, rank, top.")
        if step == "discard" and self.deck.discard == 0:
            raise WorkshopError("wrong_step", "This deck has no discard step.")
        if step != self.step:
            raise WorkshopError("wrong_step", f"The {step} step is not the current step.")
        if not self.open:
            raise WorkshopError("step_closed", f"The {step} step is closed.")
        try:
            if step == "discard":
                return check_discard_vote(self.deck.numbers, answer)
            remaining = self.remaining(participant.group)
            if remaining is None:
                raise WorkshopError(
                    "awaiting_discard",
                    "Your group's discard is tied; the trainer will settle it in a moment.",
                )
            discarded = self.groups[participant.group].discard
            if step == "rank":
                return list(check_ranking(remaining, answer, discarded))
            return list(check_top(remaining, answer, self.deck.top, discarded))
        except AnswerError as exc:
            raise WorkshopError("invalid_answer", str(exc), rule=exc.rule) from exc

    def record_answer(self, participant: Participant, step: str, value: Any,
                      submission_id: str) -> None:
        """Apply an accepted (and saved) answer: it replaces the participant's answer for
        ``step`` and its submission id is remembered, so a resend is a duplicate."""
        participant.answers[step] = value
        participant.submission_ids.add(submission_id)
        self.version += 1

    def close(self) -> Change:
        """Stop joins and answers; the join code stops working. Results stay."""
        self.closed, self.open = True, False
        return self._changed(Change(self))

    def reset(self) -> Change:
        """Remove every participant and answer; back to the lobby with fresh discards.

        Participants are marked removed, not deleted, so their numbers (and socket rooms) are
        never given to someone who joins afterwards.
        """
        change = Change(self, groups=set(self.groups), reset=True, removed=self.active())
        for p in self.participants.values():
            p.removed = True
            p.answers.clear()
            p.submission_ids.clear()
        for g in self.groups.values():
            g.discard, g.discard_tied = None, None
        self.step, self.open, self.revealed, self.closed = "lobby", False, False, False
        self.projector_view = {}
        return self._changed(change)

    # -- helpers of the rules -----------------------------------------------------------------
    def _changed(self, change: Change) -> Change:
        self.version += 1
        return change

    def _decide_discards(self, change: Change) -> None:
        """Each group's plurality discard, or its tied leaders (the trainer settles those)."""
        if self.deck.discard == 0:
            return
        for number in self.groups:
            votes = [p.answers["discard"] for p in self.members(number) if "discard" in p.answers]
            tally = tally_discard(self.deck.numbers, votes)
            self._set_discard(change, number, tally.decided,
                              None if tally.decided else tally.leaders)

    def _set_discard(self, change: Change, number: int, discard: int | None,
                     tied: tuple[int, ...] | None) -> None:
        group = self.groups[number]
        if group.discard != discard:
            # rankings and top picks made against another discard no longer fit
            for p in self.members(number):
                p.answers.pop("rank", None)
                p.answers.pop("top", None)
                change.cleared.append(p)
        group.discard, group.discard_tied = discard, tied
        change.groups.add(number)


# -- rules ----------------------------------------------------------------------------------
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
