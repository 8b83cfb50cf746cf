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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from facilitator.board import Board, BoardError, is_client_id, new_board
from facilitator.consensus import (
    AnswerError,
    aggregate_group,
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
# matrix (statements x tables), each table's top picks ("top"), one table, one statement across
# the tables, or what the discussion changed ("changes"). ``page`` picks the tables shown (by the
# step's view, the matrix, the top picks or what changed) when there are more than MATRIX_TABLES.
PROJECTOR_VIEWS: tuple[str, ...] = ("step", "matrix", "top", "table", "statement", "changes")
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
    # earlier rounds' rank and top answers, read-only: round -> {step: answer}
    history: dict[int, dict[str, Any]] = field(default_factory=dict)
    # the id the phone sent with its join: a resent join (its ack was lost) finds them again
    join_id: str | None = None

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
    # While a re-vote is tied: the discard its members' kept rankings and top picks were made
    # for (they are cleared only if the decided or settled discard differs from it).
    kept_for: int | None = None


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
    archived: list[Participant] = field(default_factory=list)  # answers moved to a past round
    boards: set[BoardKey] = field(default_factory=set)  # table boards changed
    moves: list[tuple[BoardKey, str]] = field(default_factory=list)  # move ids applied

    def stale_groups(self) -> set[int]:
        """Groups whose results (consensus) may differ after this change."""
        stale = set(self.groups)
        stale.update(p.group for p in self.cleared)
        stale.update(p.group for p in self.removed)
        if self.joined is not None:
            stale.add(self.joined.group)
        stale.update(p.group for p in self.archived)
        return stale


BoardKey = tuple[int, str, int]  # (round, step, group)
JOIN_ID_MIN = 16  # characters of a phone's join id (random, from the phone)
MODES = ("individual", "table")


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
    round: int = 1  # the individual round (2, 3 … after the discussion)
    mode: str = "individual"  # the open input step is answered alone or as a table ("table")
    boards: dict[BoardKey, Board] = field(default_factory=dict)
    joins_locked: bool = False  # the trainer stopped new participants (those in can resume)
    groups: dict[int, Group] = field(default_factory=dict)
    participants: dict[int, Participant] = field(default_factory=dict)
    # What the trainer chose for the projector (``show_on_projector``) while this step is
    # current (saved with the session); once the step changes (even back to the same step),
    # the projector shows the step's own view.
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
    def joined_as(self, join_id: object) -> Participant | None:
        """The participant still in the session who joined with ``join_id`` (a join resent
        because its answer never reached the phone), or None."""
        if join_id is None:
            return None
        return next((p for p in self.participants.values()
                     if p.join_id == join_id and not p.removed), None)

    def join(self, name: str, group: object, token: str, limit: int | None = None,
             join_id: object = None) -> Change:
        """A new participant (numbered after everyone who ever joined) in ``group``, or in the
        least filled group when None; refused while joins are locked, or when ``limit``
        participants are already in. ``join_id`` (optional, from the phone) lets a resent join
        find them again (``joined_as``)."""
        self.check_open()
        if join_id is not None and not (is_client_id(join_id) and len(join_id) >= JOIN_ID_MIN):
            # it finds a participant again, so it must be as hard to guess as a token
            raise WorkshopError("bad_request", f"join_id must be a string of {JOIN_ID_MIN} to 64 "
                                "printable characters.")
        if self.joins_locked:
            raise WorkshopError("joins_locked",
                                "The trainer has closed this session to new participants.")
        if limit is not None and len(self.active()) >= limit:
            raise WorkshopError("session_full",
                                f"This session is full ({limit} participants).")
        number_group = self.group_for_new_participant(group)
        number = max(self.participants, default=0) + 1
        participant = Participant(number, number_group, name, token, join_id=join_id)
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
        change = Change(self, removed=[participant])
        # their agreement leaves their table's board with them (it counted as one of the
        # table's; the others may now all agree: the handler checks the lock)
        board = self.table_board(participant.group)
        if board is not None and not board.locked and number in board.agreed:
            board.agreed.discard(number)
            board.version += 1
            change.boards.add((self.round, self.step, participant.group))
        return self._changed(change)

    def open_step(self, step: object, mode: object = "individual") -> Change:
        """Make ``step`` current and open. Input steps hide results; the others reveal them.
        Leaving an open discard step decides the discards, as closing it would.

        ``mode`` "table" opens an input step as a shared board per table (``Board``), started
        from the table's consensus of the last individual answers, else shuffled; reopening
        keeps a board that this round already has."""
        self.check_open()
        step = check_step_name(step)
        if step == "discard" and self.deck.discard == 0:
            raise WorkshopError("wrong_step", "This deck has no discard step.")
        if step == "discard" and self.round > 1:
            # every round ranks what the first round's discard left: a new discard would not
            # fit the earlier rounds' rankings (kept read-only, exported and compared)
            raise WorkshopError("wrong_step", "The discard cannot be voted again once a second "
                                "round has started: every round ranks the same statements.")
        if mode not in MODES:
            raise WorkshopError("bad_request", "mode must be individual or table.")
        if mode == "table" and step not in INPUT_STEPS:
            raise WorkshopError("bad_request",
                                "Only the discard, rank and top steps can be played as a table.")
        change = Change(self)
        if self.step == "discard" and self.open and step != "discard":
            self._decide_discards(change)
        is_input = step in INPUT_STEPS
        self.step, self.open, self.revealed = step, is_input, not is_input
        self.projector_view = {}
        self.mode = str(mode) if is_input else "individual"
        if self.mode == "table":
            for number in self.groups:
                self._start_board(change, number)
        return self._changed(change)

    def new_round(self) -> Change:
        """Start the next individual round (2, 3 …): each participant's rank and top answers
        become the finished round's, read-only from now on; the rank step opens for everyone
        alone, each phone starting from its own previous answer."""
        self.check_open()
        change = Change(self)
        if self.step == "discard" and self.open:
            self._decide_discards(change)
        for p in self.active():
            done = {step: p.answers.pop(step) for step in ("rank", "top") if step in p.answers}
            if done:
                p.history[self.round] = done
                change.archived.append(p)
        self.round += 1
        self.step, self.open, self.revealed, self.mode = "rank", True, False, "individual"
        return self._changed(change)

    def previous_answer(self, participant: Participant, step: str) -> Any:
        """The participant's answer to ``step`` in their latest earlier round, or None."""
        for number in sorted(participant.history, reverse=True):
            if step in participant.history[number]:
                return participant.history[number][step]
        return None

    # -- the table board ----------------------------------------------------------------------
    def table_board(self, group: int) -> Board | None:
        """The shared board ``group`` is building now (None unless a step is open as a table)."""
        if self.mode != "table" or self.step not in INPUT_STEPS:
            return None
        return self.boards.get((self.round, self.step, group))

    def board_move(self, participant: Participant, statement: object, to: object,
                   version: object, move_id: object) -> Change:
        """A member moves a statement on their table's board (``Board.move``); a resent move
        changes nothing."""
        key, board = self._board_of(participant)
        with _board_rules():
            fresh = board.move(statement, to, version, move_id)
        if not fresh:
            return Change(self)
        change = Change(self, boards={key}, moves=[(key, str(move_id))])
        return self._changed(change)

    def board_agree(self, participant: Participant, version: object,
                    connected: set[int]) -> Change:
        """A member agrees with their table's board as it is at ``version``; it locks when
        every connected member (``connected``: participant numbers) agrees."""
        key, board = self._board_of(participant)
        with _board_rules():
            board.agree(participant.number, version, connected)
        return self._changed(Change(self, boards={key}))

    def board_withdraw(self, participant: Participant) -> Change:
        """A member takes their agreement back."""
        key, board = self._board_of(participant)
        with _board_rules():
            board.withdraw(participant.number)
        return self._changed(Change(self, boards={key}))

    def lock_table(self, group: object, locked: object, connected: set[int]) -> Change:
        """The trainer locks a table's board as it stands, or unlocks it."""
        self.check_open()
        if type(group) is not int or group not in self.groups:
            raise WorkshopError("not_found", "There is no such group in this session.")
        if not isinstance(locked, bool):
            raise WorkshopError("bad_request", "locked must be true or false.")
        board = self.table_board(group)
        if board is None:
            raise WorkshopError("not_table_mode", "That table is not building a shared answer.")
        if locked:
            board.lock(connected)
        else:
            board.unlock()
        return self._changed(Change(self, boards={(self.round, self.step, group)}))

    def check_lock(self, group: int, connected: set[int]) -> Change | None:
        """Lock ``group``'s board if every member still connected has agreed (after one who
        had not left); None when nothing changed (or the session is closed)."""
        board = self.table_board(group)
        if self.closed or board is None or board.locked or not board.check_lock(connected):
            return None
        return self._changed(Change(self, boards={(self.round, self.step, group)}))

    def _board_of(self, participant: Participant) -> tuple[BoardKey, Board]:
        self.check_open()
        if participant.removed:
            raise WorkshopError("bad_token", "You have been removed from this session.")
        if self.mode != "table" or not self.open or self.step not in INPUT_STEPS:
            raise WorkshopError("not_table_mode",
                                "Your table is not building a shared answer right now.")
        key = (self.round, self.step, participant.group)
        board = self.boards.get(key)
        if board is None:
            raise WorkshopError("awaiting_discard",
                                "Your group's discard is tied; the trainer will settle it in a "
                                "moment.")
        return key, board

    def _start_board(self, change: Change, number: int) -> None:
        """Start ``number``'s board for the open step unless it has one (or cannot have one
        yet: rank and top need the table's discard)."""
        key = (self.round, self.step, number)
        if key in self.boards:
            return
        statements = self.deck.numbers if self.step == "discard" else self.remaining(number)
        if statements is None:
            return
        self.boards[key] = new_board(self.step, statements, self.deck.top,
                                     start=self._board_start(number, statements))
        change.boards.add(key)

    def _board_start(self, number: int, statements: tuple[int, ...]) -> list[int] | None:
        """The table's consensus of its last individual answers, in the board's terms: for
        discard the most voted statements last; for rank the consensus order; for top the top
        picks first, then the consensus order. None when nobody answered alone (shuffled)."""
        members = self.members(number)
        if self.step == "discard":
            votes = [p.answers["discard"] for p in members if "discard" in p.answers]
            if not votes:
                return None
            tally = {s: votes.count(s) for s in statements}
            return sorted(statements, key=lambda s: (tally[s], s))
        rankings, tops = [], []
        for p in members:
            rank = p.answers.get("rank") or self.previous_answer(p, "rank")
            top = p.answers.get("top") or self.previous_answer(p, "top")
            if rank and sorted(rank) == sorted(statements):
                rankings.append(rank)
            if top and set(top) <= set(statements):
                tops.append(top)
        if not rankings and not (self.step == "top" and tops):
            return None
        result = aggregate_group(
            statements, discard_votes=[], group_discard=None, rankings=rankings, tops=tops,
            top_size=self.deck.top, participants=len(members), has_discard=False)
        order = list(result.consensus_order or statements)
        if self.step == "top" and result.top_order:
            first = list(result.top_order)
            order = first + [s for s in order if s not in first]
        return order

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
        else:  # the step's view, the matrix, the top picks and what changed: MATRIX_TABLES a page
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
        if self.mode == "table":
            raise WorkshopError("table_mode", "Your table answers this step together on the "
                                "shared board.")
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
            p.history.clear()
        for g in self.groups.values():
            g.discard, g.discard_tied, g.kept_for = None, None, None
        self.boards.clear()
        self.step, self.open, self.revealed, self.closed = "lobby", False, False, False
        self.projector_view = {}
        self.round, self.mode = 1, "individual"
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
            board = self.boards.get((self.round, "discard", number))
            if self.mode == "table" and board is not None:
                # the table's shared answer decides, locked or not: the trainer moved on
                self._set_discard(change, number, board.order[-1], None)
                continue
            votes = [p.answers["discard"] for p in self.members(number) if "discard" in p.answers]
            tally = tally_discard(self.deck.numbers, votes)
            self._set_discard(change, number, tally.decided,
                              None if tally.decided else tally.leaders)

    def _set_discard(self, change: Change, number: int, discard: int | None,
                     tied: tuple[int, ...] | None) -> None:
        """Set a group's discard (None while ``tied``). Rankings and top picks made for
        another discard no longer fit and are cleared, but only once the discard is decided or
        settled: while a re-vote is tied they are kept, remembering the discard they were made
        for, so settling on that same statement keeps them."""
        group = self.groups[number]
        made_for = group.discard if group.discard is not None else group.kept_for
        if discard is None:
            group.kept_for = made_for
        else:
            if made_for != discard:
                for p in self.members(number):
                    p.answers.pop("rank", None)
                    p.answers.pop("top", None)
                    change.cleared.append(p)
                for step in ("rank", "top"):  # nor do this round's boards of the table
                    if self.boards.pop((self.round, step, number), None) is not None:
                        change.boards.add((self.round, step, number))
            group.kept_for = None
        group.discard, group.discard_tied = discard, tied
        change.groups.add(number)
        if self.mode == "table" and self.open and self.step in ("rank", "top"):
            self._start_board(change, number)


# -- rules ----------------------------------------------------------------------------------
@contextmanager
def _board_rules() -> Iterator[None]:
    """A board's refusal crosses into the workshop's error shape."""
    try:
        yield
    except BoardError as exc:
        raise WorkshopError(exc.code, exc.message) from exc


def check_submission_id(value: object) -> str:
    """A client-generated submission id: 1–64 printable ASCII characters."""
    if not is_client_id(value, SUBMISSION_ID_MAX):
        raise WorkshopError("bad_request", "id must be a string of 1 to 64 printable characters.")
    return value  # type: ignore[return-value]


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
