"""CSV at the edge: the ``responses.csv`` and ``tables.csv`` contracts, reading them back, and
the summary files.

One module for every CSV the project writes or reads: the server's download routes and
``python -m facilitator analyse`` both use it, and both aggregate through
``consensus.aggregate_group`` (and ``rounds.table_change`` for what changed between rounds). The
format is a public contract, described in ``docs/csv.md``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from facilitator.consensus import (
    AnswerError,
    GroupResult,
    aggregate_group,
    check_ranking,
    check_top,
)
from facilitator.decks import Deck
from facilitator.rounds import Movement, max_tau_distance, table_change

if TYPE_CHECKING:
    from facilitator.workshop import Session

BOM = "\ufeff"
CONTRACT_START = ("session", "group", "participant", "round", "discard_vote", "group_discard")
# Files written before rounds existed have no ``round`` column; every row is round 1.
LEGACY_START = ("session", "group", "participant", "discard_vote", "group_discard")
TABLE_START = ("session", "group", "round", "discard")
TABLE_END = ("agreed_by", "members", "locked")
SUMMARY_COLUMNS = (
    "session",
    "group",
    "round",
    "statement",
    "text",
    "discard_votes",
    "mean_rank",
    "rank_sd",
    "consensus_position",
    "top_five_count",
    "top_five_points",
    "rank_iqr",
    "first_places",
    "agreement",
)
GROUP_COLUMNS = (
    "session",
    "group",
    "round",
    "participants",
    "rankings",
    "group_discard",
    "kendall_w",
    "chi_square",
    "p_value",
    "consensus_order",
    "top_five_order",
    "df",
    "discard_voters",
    "discard_leaders",
    "top_picks",
    "agreed",
    "contested",
)
CHANGE_COLUMNS = (
    "session",
    "group",
    "first_round",
    "last_round",
    "answer_round",
    "before_order",
    "after_order",
    "distance",
    "most",
    "moved_people",
    "moved_median",
    "moved_distances",
    "to_answer_people",
    "to_answer_median",
    "to_answer_distances",
)
_ROUND_CELL = re.compile(r"[0-9]{1,6}")

# A spreadsheet treats a cell starting with one of these as a formula (or strips it into one).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_STATEMENT_CELL = re.compile(r"[0-9]{1,6}")


class CsvError(ValueError):
    """A problem in a CSV file at a given line (the header is line 1)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class ResponseRow:
    """One participant's answers as they appear in ``responses.csv``.

    ``ranking``/``top`` are ``None`` when not given; ``extra`` holds further columns (e.g. "name"),
    written after the contract columns. ``round`` counts the individual rounds from 1.
    """

    session: str
    group: str
    participant: str
    discard_vote: int | None
    group_discard: int | None
    ranking: tuple[int, ...] | None
    top: tuple[int, ...] | None
    extra: dict[str, str] = field(default_factory=dict)
    round: int = 1


@dataclass(frozen=True)
class TableRow:
    """One table's shared answer in one round played in table mode, as in ``tables.csv``.

    ``discard`` is the table's discard; ``ranking``/``top`` are ``None`` for a step that round did
    not play in table mode. ``agreed_by`` members agreed of ``members`` connected ones.
    """

    session: str
    group: str
    round: int
    discard: int | None
    ranking: tuple[int, ...] | None
    top: tuple[int, ...] | None
    agreed_by: int
    members: int
    locked: bool


def session_rows(session: Session) -> list[ResponseRow]:
    """Rows of a live session in the CSV contract's terms: per active participant, one row per
    earlier round they answered in, and one for the current round."""
    rows = []
    for p in session.active():
        group = session.groups[p.group]
        # rankings kept through a tied re-vote fit no discard until it is settled: left out
        decided = session.remaining(p.group) is not None
        rounds = {**p.history, session.round: p.answers}
        for number in sorted(rounds):
            answers = rounds[number]
            rows.append(ResponseRow(
                session=session.code,
                group=group.name,
                participant=str(p.number),
                discard_vote=p.answers.get("discard"),
                group_discard=group.discard,
                ranking=tuple(answers["rank"]) if decided and "rank" in answers else None,
                top=tuple(answers["top"]) if decided and "top" in answers else None,
                extra={"name": p.name},
                round=number,
            ))
    return rows


BOARD_STEPS = ("discard", "rank", "top")


def session_tables(session: Session) -> list[TableRow]:
    """``tables.csv`` rows of a live session: one per table and round that played a step as a
    table. ``agreed_by`` and ``members`` are the last step's; ``locked`` needs every step's."""
    played: dict[tuple[int, int], dict[str, Any]] = {}
    for (number, step, group), board in session.boards.items():
        played.setdefault((number, group), {})[step] = board
    rows = []
    for (number, group), boards in sorted(played.items(), key=lambda item: (item[0][1],
                                                                           item[0][0])):
        last = boards[max(boards, key=BOARD_STEPS.index)]
        # a board kept through a tied re-vote fits no discard until it is settled: left out
        decided = session.remaining(group) is not None
        rank = boards.get("rank") if decided else None
        top = boards.get("top") if decided else None
        rows.append(TableRow(
            session=session.code,
            group=session.groups[group].name,
            round=number,
            discard=session.groups[group].discard,
            ranking=tuple(rank.order) if rank else None,
            top=tuple(top.order[: top.top_size]) if top else None,
            agreed_by=len(last.agreed),
            members=last.members,
            locked=all(b.locked for b in boards.values()),
        ))
    return rows


def neutralise(value: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula; numbers are left alone."""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _restore(value: str) -> str:
    """Undo ``neutralise`` on input, so a file read and written again is unchanged."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def _rank_columns(deck: Deck) -> list[str]:
    return [f"rank_{k}" for k in range(1, deck.ranked + 1)]


def _top_columns(deck: Deck) -> list[str]:
    return [f"top_{k}" for k in range(1, deck.top + 1)]


def responses_header(deck: Deck) -> list[str]:
    """The contract columns for ``deck``, in order: session … group_discard, rank_1…K, top_1…M."""
    return [*CONTRACT_START, *_rank_columns(deck), *_top_columns(deck)]


def tables_header(deck: Deck) -> list[str]:
    """The ``tables.csv`` columns: session, group, round, discard, rank_1…K, top_1…M, agreed_by,
    members, locked."""
    return [*TABLE_START, *_rank_columns(deck), *_top_columns(deck), *TABLE_END]


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _cells(values: Sequence[int] | None, size: int, what: str) -> list[str]:
    if values is None:
        return [""] * size
    if len(values) != size:
        raise ValueError(f"{what} {list(values)!r} should have {size} statements")
    return [str(v) for v in values]


def write_responses(
    rows: Iterable[ResponseRow], deck: Deck, fh: TextIO, extra_columns: Sequence[str] = ()
) -> None:
    """Write the header and one line per participant as CSV text (CRLF lines, cells neutralised).

    The caller chooses the encoding; ``responses_csv`` gives the spreadsheet-ready bytes.
    """
    writer = csv.writer(fh, lineterminator="\r\n")
    writer.writerow(responses_header(deck) + [neutralise(c) for c in extra_columns])
    for row in rows:
        writer.writerow(
            [
                neutralise(row.session),
                neutralise(row.group),
                neutralise(row.participant),
                str(row.round),
                _number(row.discard_vote),
                _number(row.group_discard),
                *_cells(row.ranking, deck.ranked, "ranking"),
                *_cells(row.top, deck.top, "top"),
                *(neutralise(row.extra.get(c, "")) for c in extra_columns),
            ]
        )


def responses_csv(
    rows: Iterable[ResponseRow], deck: Deck, extra_columns: Sequence[str] = ()
) -> bytes:
    """``responses.csv`` as UTF-8 bytes with a BOM (spreadsheets then read it as UTF-8)."""
    out = io.StringIO()
    write_responses(rows, deck, out, extra_columns)
    return (BOM + out.getvalue()).encode("utf-8")


def tables_csv(rows: Iterable[TableRow], deck: Deck) -> bytes:
    """``tables.csv`` as UTF-8 bytes with a BOM, CRLF lines, text cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(tables_header(deck))
    for row in rows:
        writer.writerow(
            [
                neutralise(row.session),
                neutralise(row.group),
                str(row.round),
                _number(row.discard),
                *_cells(row.ranking, deck.ranked, "ranking"),
                *_cells(row.top, deck.top, "top"),
                str(row.agreed_by),
                str(row.members),
                "1" if row.locked else "0",
            ]
        )
    return (BOM + out.getvalue()).encode("utf-8")


# --------------------------------------------------------------------------- reading


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _header_names(header: list[str]) -> list[str]:
    names = [cell.strip() for cell in header]
    if names:
        names[0] = names[0].removeprefix(BOM).strip()
    return names


def _match_header(names: list[str], wanted: list[str], deck: Deck, note: str = "") -> None:
    """Raise ``CsvError(1, …)`` unless ``names`` starts with ``wanted`` (ignoring case)."""
    found_ranks = sum(1 for n in names if re.fullmatch(r"rank_\d+", n.lower()))
    found_tops = sum(1 for n in names if re.fullmatch(r"top_\d+", n.lower()))
    hint = ""
    if (found_ranks, found_tops) != (deck.ranked, deck.top) and (found_ranks or found_tops):
        hint = (
            f" (the file has {found_ranks} rank and {found_tops} top columns; deck "
            f"{deck.id!r} has {deck.ranked} and {deck.top}: choose the deck with --deck)"
        )
    for position, want in enumerate(wanted):
        if position >= len(names):
            missing = ", ".join(wanted[position:])
            raise CsvError(1, f"missing column(s) {missing}{hint}")
        if names[position].lower() != want:
            raise CsvError(
                1,
                f"column {position + 1} is {_shown(names[position])}, expected {want!r}; the "
                f"header must start with {', '.join(wanted)}{note}{hint}",
            )


def _check_header(header: list[str], deck: Deck) -> tuple[list[str], bool]:
    """Compare the header with the contract: (names of the extra columns, has a round column).

    A header without ``round`` after ``participant`` is the contract from before rounds.
    """
    names = _header_names(header)
    has_round = len(names) > 3 and names[3].lower() == "round"
    start = CONTRACT_START if has_round else LEGACY_START
    wanted = [*start, *_rank_columns(deck), *_top_columns(deck)]
    _match_header(names, wanted, deck, "" if has_round else " (round may be left out)")
    return names[len(wanted) :], has_round


class _Reader:
    """Iterate the records of a CSV file with the line each starts on, as ``CsvError``s."""

    def __init__(self, fh: TextIO) -> None:
        self._reader = csv.reader(fh, strict=True)
        self._next_line = 1

    def __iter__(self) -> _Reader:
        return self

    def __next__(self) -> tuple[int, list[str]]:
        line = self._next_line
        try:
            cells = next(self._reader)
        except csv.Error as exc:
            raise CsvError(max(line, self._reader.line_num), f"not valid CSV: {exc}") from None
        except UnicodeDecodeError:
            raise CsvError(self._reader.line_num + 1, "not UTF-8 text") from None
        self._next_line = self._reader.line_num + 1
        return line, cells


def _parse_statement(cell: str, column: str, line: int, deck_numbers: frozenset[int]) -> int | None:
    text = cell.strip()
    if not text:
        return None
    if not _STATEMENT_CELL.fullmatch(text):
        raise CsvError(line, f"{column} is {_shown(text)}, not a statement number")
    value = int(text)
    if value not in deck_numbers:
        raise CsvError(line, f"statement {value} is not in this deck ({column})")
    return value


def _parse_answer(
    cells: list[str], columns: list[str], line: int, numbers: frozenset[int], what: str
) -> tuple[int, ...] | None:
    values = [
        _parse_statement(c, name, line, numbers) for c, name in zip(cells, columns, strict=True)
    ]
    blank = [name for name, v in zip(columns, values, strict=True) if v is None]
    if len(blank) == len(columns):
        return None
    if blank:
        raise CsvError(
            line,
            f"the {what} is partly filled ({', '.join(blank)} blank); fill all of "
            f"{columns[0]}…{columns[-1]} or leave them all blank",
        )
    return tuple(v for v in values if v is not None)


def _answer_problem(exc: AnswerError, what: str, discard_column: str = "group_discard") -> str:
    s = exc.statement
    if exc.rule == "duplicate_statement":
        return f"statement {s} appears twice in the {what}"
    if exc.rule == "discarded_statement":
        return (
            f"statement {s} is the group's discard ({discard_column}) and cannot be in the {what}"
        )
    return f"the {what} is not valid: {exc.message}"


def _parse_round(cell: str, line: int) -> int:
    text = cell.strip()
    if not text:
        raise CsvError(line, "round is blank; rounds are whole numbers from 1")
    if not _ROUND_CELL.fullmatch(text) or int(text) < 1:
        raise CsvError(line, f"round is {_shown(text)}, not a whole number from 1")
    return int(text)


def _check_answers(
    deck: Deck,
    line: int,
    discard: int | None,
    ranking: tuple[int, ...] | None,
    top: tuple[int, ...] | None,
    discard_column: str,
) -> None:
    """The ranking and top must be valid for the group's remaining statements."""
    remaining = [s for s in deck.numbers if s != discard]
    for answer, what in ((ranking, "ranking"), (top, "top")):
        if answer is not None and deck.discard and discard is None:
            raise CsvError(
                line, f"a {what} needs the group's discard, but {discard_column} is blank"
            )
    try:
        if ranking is not None:
            check_ranking(remaining, ranking, discard)
    except AnswerError as exc:
        raise CsvError(line, _answer_problem(exc, "ranking", discard_column)) from None
    try:
        if top is not None:
            check_top(remaining, top, deck.top, discard)
    except AnswerError as exc:
        raise CsvError(line, _answer_problem(exc, "top picks", discard_column)) from None


def _first_records(fh: TextIO) -> tuple[_Reader, list[str]]:
    records = _Reader(fh)
    try:
        _, header = next(records)
    except StopIteration:
        raise CsvError(1, "the file is empty; expected a header row") from None
    return records, header


def read_responses(fh: TextIO, deck: Deck) -> list[ResponseRow]:
    """Read and validate ``responses.csv`` (a BOM is accepted); raises ``CsvError(line, message)``.

    A file without the ``round`` column is read as round 1. Blank lines are skipped. See
    docs/csv.md for every rule.
    """
    records, header = _first_records(fh)
    extra_names, has_round = _check_header(header, deck)
    start = len(CONTRACT_START) if has_round else len(LEGACY_START)
    width = start + deck.ranked + deck.top
    rank_columns, top_columns = _rank_columns(deck), _top_columns(deck)
    numbers = frozenset(deck.numbers)
    discards_seen: dict[tuple[str, str], tuple[int | None, int]] = {}
    rows: list[ResponseRow] = []
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < width:
            raise CsvError(line, f"only {len(cells)} cells; the contract has {width} columns")
        session, group, participant = (_restore(c.strip()) for c in cells[:3])
        if not group:
            raise CsvError(line, "group is blank")
        round_number = _parse_round(cells[3], line) if has_round else 1
        discard_vote = _parse_statement(cells[start - 2], "discard_vote", line, numbers)
        group_discard = _parse_statement(cells[start - 1], "group_discard", line, numbers)
        if deck.discard == 0 and (discard_vote is not None or group_discard is not None):
            raise CsvError(
                line,
                f"deck {deck.id!r} has no discard step: discard_vote and group_discard "
                "must be blank",
            )
        key = (session, group)
        earlier = discards_seen.setdefault(key, (group_discard, line))
        if earlier[0] != group_discard:
            raise CsvError(
                line,
                f"group_discard is {_number(group_discard) or 'blank'} but line {earlier[1]} has "
                f"{_number(earlier[0]) or 'blank'} for group {_shown(group)} of session "
                f"{_shown(session)}; a group has one discard",
            )
        ranking = _parse_answer(
            cells[start : start + deck.ranked], rank_columns, line, numbers, "ranking"
        )
        offset = start + deck.ranked
        top = _parse_answer(cells[offset : offset + deck.top], top_columns, line, numbers, "top")
        _check_answers(deck, line, group_discard, ranking, top, "group_discard")
        extra = {
            name: _restore(cells[width + i]) if width + i < len(cells) else ""
            for i, name in enumerate(extra_names)
            if name
        }
        rows.append(
            ResponseRow(
                session,
                group,
                participant,
                discard_vote,
                group_discard,
                ranking,
                top,
                extra,
                round_number,
            )
        )
    return rows


def _parse_count(cell: str, column: str, line: int) -> int:
    text = cell.strip()
    if not _ROUND_CELL.fullmatch(text):
        raise CsvError(line, f"{column} is {_shown(text)}, not a whole number (0 or more)")
    return int(text)


def read_tables(
    fh: TextIO, deck: Deck, discards: dict[tuple[str, str], int | None] | None = None
) -> list[TableRow]:
    """Read and validate ``tables.csv``; raises ``CsvError(line, message)``.

    ``discards`` maps (session, group) to the ``group_discard`` of ``responses.csv``; a table's
    discard must agree with it where both are given.
    """
    records, header = _first_records(fh)
    wanted = tables_header(deck)
    _match_header(_header_names(header), wanted, deck)
    rank_columns, top_columns = _rank_columns(deck), _top_columns(deck)
    numbers = frozenset(deck.numbers)
    known = discards or {}
    seen: dict[tuple[str, str, int], int] = {}
    discards_seen: dict[tuple[str, str], tuple[int | None, int]] = {}
    rows: list[TableRow] = []
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < len(wanted):
            raise CsvError(line, f"only {len(cells)} cells; the contract has {len(wanted)} columns")
        session, group = (_restore(c.strip()) for c in cells[:2])
        if not group:
            raise CsvError(line, "group is blank")
        round_number = _parse_round(cells[2], line)
        if (session, group, round_number) in seen:
            raise CsvError(
                line,
                f"group {_shown(group)} of session {_shown(session)} already has round "
                f"{round_number} on line {seen[(session, group, round_number)]}",
            )
        seen[(session, group, round_number)] = line
        discard = _parse_statement(cells[3], "discard", line, numbers)
        if deck.discard == 0 and discard is not None:
            raise CsvError(line, f"deck {deck.id!r} has no discard step: discard must be blank")
        earlier = discards_seen.setdefault((session, group), (discard, line))
        if earlier[0] != discard:
            raise CsvError(
                line,
                f"discard is {_number(discard) or 'blank'} but line {earlier[1]} has "
                f"{_number(earlier[0]) or 'blank'} for the same group; a group has one discard",
            )
        if (session, group) in known and discard != known[(session, group)]:
            raise CsvError(
                line,
                f"discard is {_number(discard) or 'blank'} but responses.csv has group_discard "
                f"{_number(known[(session, group)]) or 'blank'} for group {_shown(group)}",
            )
        offset = len(TABLE_START)
        ranking = _parse_answer(
            cells[offset : offset + deck.ranked], rank_columns, line, numbers, "ranking"
        )
        offset += deck.ranked
        top = _parse_answer(cells[offset : offset + deck.top], top_columns, line, numbers, "top")
        _check_answers(deck, line, discard, ranking, top, "discard")
        offset += deck.top
        agreed_by = _parse_count(cells[offset], "agreed_by", line)
        members = _parse_count(cells[offset + 1], "members", line)
        locked = cells[offset + 2].strip()
        if locked not in ("0", "1"):
            raise CsvError(line, f"locked is {_shown(locked)}, expected 1 or 0")
        rows.append(
            TableRow(
                session,
                group,
                round_number,
                discard,
                ranking,
                top,
                agreed_by,
                members,
                locked == "1",
            )
        )
    return rows


def _decoded(data: bytes) -> io.StringIO:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvError(line, "not UTF-8 text (is this a CSV file?)") from None
    return io.StringIO(text, newline="")


def read_tables_bytes(
    data: bytes, deck: Deck, discards: dict[tuple[str, str], int | None] | None = None
) -> list[TableRow]:
    """``read_tables`` for raw bytes: UTF-8, with or without a BOM."""
    return read_tables(_decoded(data), deck, discards)


def group_discards(rows: Sequence[ResponseRow]) -> dict[tuple[str, str], int | None]:
    """Each (session, group)'s ``group_discard`` in ``rows``."""
    return {(r.session, r.group): r.group_discard for r in rows}


def read_responses_bytes(data: bytes, deck: Deck) -> list[ResponseRow]:
    """``read_responses`` for raw bytes (a file or an upload): UTF-8, with or without a BOM.

    Bytes that are not UTF-8 give a ``CsvError`` naming the exact line.
    """
    return read_responses(_decoded(data), deck)


# --------------------------------------------------------------------------- summaries


def _by_round(
    rows: Sequence[ResponseRow],
) -> dict[tuple[str, str, int], list[ResponseRow]]:
    """Rows per (session, group, round): groups in first-appearance order, rounds ascending."""
    members: dict[tuple[str, str], dict[int, list[ResponseRow]]] = {}
    for row in rows:
        members.setdefault((row.session, row.group), {}).setdefault(row.round, []).append(row)
    return {
        (*key, number): rounds[number]
        for key, rounds in members.items()
        for number in sorted(rounds)
    }


def group_results(
    rows: Sequence[ResponseRow], deck: Deck
) -> list[tuple[tuple[str, str, int], GroupResult, list[tuple[int, ...]]]]:
    """Aggregate each (session, group, round) on that round's rows alone: key, result, rankings.

    Groups come in first-appearance order, each group's rounds ascending.
    """
    discards: dict[tuple[str, str], set[int | None]] = {}
    for row in rows:
        discards.setdefault((row.session, row.group), set()).add(row.group_discard)
    for key, found in discards.items():
        if len(found) > 1:
            raise ValueError(f"group {key!r} has more than one group_discard: {sorted(found)}")
    results = []
    for key, group_rows in _by_round(rows).items():
        rankings = [r.ranking for r in group_rows if r.ranking is not None]
        result = aggregate_group(
            deck.numbers,
            discard_votes=[r.discard_vote for r in group_rows if r.discard_vote is not None],
            group_discard=group_rows[0].group_discard,
            rankings=rankings,
            tops=[r.top for r in group_rows if r.top is not None],
            top_size=deck.top,
            participants=len(group_rows),
            has_discard=bool(deck.discard),
        )
        results.append((key, result, rankings))
    return results


def _order(statements: Sequence[int]) -> str:
    return " ".join(str(s) for s in statements)


def summarise(rows: Sequence[ResponseRow], deck: Deck) -> tuple[list[dict], list[dict]]:
    """``(summary_rows, group_rows)``: one dict per (session, group, round, statement) and per
    (session, group, round), each round aggregated on its own rows.

    Keys are ``SUMMARY_COLUMNS`` and ``GROUP_COLUMNS``; blanks are ``None``.
    """
    summary_rows: list[dict[str, Any]] = []
    group_rows: list[dict[str, Any]] = []
    for (session, group, round_number), result, _ in group_results(rows, deck):
        for r in result.per_statement:
            summary_rows.append(
                {
                    "session": session,
                    "group": group,
                    "round": round_number,
                    "statement": r.statement,
                    "text": deck.text(r.statement),
                    "discard_votes": r.discard_votes if deck.discard else None,
                    "mean_rank": r.mean_rank,
                    "rank_sd": r.rank_sd,
                    "consensus_position": r.consensus_position,
                    "top_five_count": r.top_count,
                    "top_five_points": r.top_points,
                    "rank_iqr": r.rank_iqr,
                    "first_places": r.first_places,
                    "agreement": r.agreement,
                }
            )
        w = result.concordance
        group_rows.append(
            {
                "session": session,
                "group": group,
                "round": round_number,
                "participants": result.participants,
                "rankings": result.rankings,
                "group_discard": result.group_discard,
                "kendall_w": w.w if w else None,
                "chi_square": w.chi_square if w else None,
                "p_value": w.p_value if w else None,
                "consensus_order": _order(result.consensus_order),
                "top_five_order": _order(result.top_order),
                "df": w.df if w else None,
                "discard_voters": result.discard.voters if result.discard else None,
                "discard_leaders": _order(result.discard.leaders) if result.discard else None,
                "top_picks": result.tops,
                "agreed": _order(result.agreed),
                "contested": _order(result.contested),
            }
        )
    return summary_rows, group_rows


def agreed_answers(
    tables: Sequence[TableRow],
) -> dict[tuple[str, str], TableRow]:
    """Each (session, group)'s agreed ranking: its latest locked table round with a ranking."""
    answers: dict[tuple[str, str], TableRow] = {}
    for row in tables:
        if not row.locked or row.ranking is None:
            continue
        key = (row.session, row.group)
        if key not in answers or answers[key].round < row.round:
            answers[key] = row
    return answers


def _median(moved: Movement) -> float | None:
    return None if moved.median is None else float(moved.median)


def changes(
    rows: Sequence[ResponseRow], deck: Deck, tables: Sequence[TableRow] = ()
) -> list[dict[str, Any]]:
    """What the discussion changed: one dict per (session, group) with a first individual
    ranking and either a later individual round or an agreed table answer (``CHANGE_COLUMNS``).
    """
    answers = agreed_answers(tables)
    per_group: dict[tuple[str, str], dict[int, dict[str, tuple[int, ...]]]] = {}
    discard: dict[tuple[str, str], int | None] = {}
    for row in rows:
        key = (row.session, row.group)
        discard[key] = row.group_discard
        rounds = per_group.setdefault(key, {})
        if row.ranking is not None:
            rounds.setdefault(row.round, {})[row.participant] = row.ranking
    out: list[dict[str, Any]] = []
    for key, rounds in per_group.items():
        answer = answers.get(key)
        remaining = [s for s in deck.numbers if s != discard[key]]
        change = table_change(remaining, rounds, answer.ranking if answer else None)
        if change is None or (not change.after and change.answer is None):
            continue
        out.append(
            {
                "session": key[0],
                "group": key[1],
                "first_round": change.first_round,
                "last_round": change.last_round if change.after else None,
                "answer_round": answer.round if answer else None,
                "before_order": _order(change.before),
                "after_order": _order(change.answer if change.answer else change.after),
                "distance": change.distance,
                "most": max_tau_distance(len(remaining)),
                "moved_people": change.moved.people if change.after else None,
                "moved_median": _median(change.moved),
                "moved_distances": _order(change.moved.distances) if change.after else None,
                "to_answer_people": change.to_answer.people if answer else None,
                "to_answer_median": _median(change.to_answer),
                "to_answer_distances": _order(change.to_answer.distances) if answer else None,
            }
        )
    return out


def _decimal(column: str, value: float) -> str:
    if column == "p_value" and 0 < value < 1e-4:
        return f"{value:.4e}"
    return f"{value:.6f}" if column == "p_value" else f"{value:.4f}"


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _decimal(column, value)
    return neutralise(str(value))


def _table_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(c, row.get(c)) for c in columns])
    return (BOM + out.getvalue()).encode("utf-8")


def summary_csv(summary_rows: Iterable[dict[str, Any]]) -> bytes:
    """``summary.csv`` bytes (BOM, CRLF, neutralised text, 4-decimal numbers)."""
    return _table_csv(SUMMARY_COLUMNS, summary_rows)


def groups_csv(group_rows: Iterable[dict[str, Any]]) -> bytes:
    """``groups.csv`` bytes (BOM, CRLF, neutralised text; p_value 6 decimals or scientific)."""
    return _table_csv(GROUP_COLUMNS, group_rows)


def changes_csv(change_rows: Iterable[dict[str, Any]]) -> bytes:
    """``changes.csv`` bytes (BOM, CRLF, neutralised text, medians with 4 decimals)."""
    return _table_csv(CHANGE_COLUMNS, change_rows)
