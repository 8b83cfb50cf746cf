"""The responses.csv contract: writing, reading back, refusing malformed files, summaries."""

import csv
import io

import pytest

from facilitator.decks import DEFAULT_DECK_ID, load_decks
from facilitator.export import (
    CsvError,
    ResponseRow,
    groups_csv,
    neutralise,
    read_responses,
    read_responses_bytes,
    responses_csv,
    responses_header,
    summarise,
    summary_csv,
    write_responses,
)

DECK = load_decks()[DEFAULT_DECK_ID]
NO_DISCARD = load_decks()["partnership-barriers"]


def legacy_header(deck):
    """The header of files written before rounds: no ``round`` column (still valid)."""
    return [name for name in responses_header(deck) if name != "round"]


HEADER = ",".join(legacy_header(DECK))
RANKING = "2,8,1,10,4,9,7,6,5"
TOP = "2,8,1,10,4"


def read(text, deck=DECK):
    return read_responses(io.StringIO(text), deck)


def problem(text, deck=DECK):
    with pytest.raises(CsvError) as caught:
        read(text, deck)
    return caught.value


def row(
    session="S1",
    group="Table 1",
    participant="p1",
    vote="3",
    discard="3",
    ranking=RANKING,
    top=TOP,
    extra="",
):
    cells = [session, group, participant, vote, discard, ranking or ",,,,,,,,", top or ",,,,"]
    return ",".join(cells) + extra


def test_the_header_lists_the_contract_columns_in_order():
    assert responses_header(DECK) == [
        "session",
        "group",
        "participant",
        "round",
        "discard_vote",
        "group_discard",
        *(f"rank_{k}" for k in range(1, 10)),
        *(f"top_{k}" for k in range(1, 6)),
    ]
    assert responses_header(NO_DISCARD)[6:] == [
        *(f"rank_{k}" for k in range(1, 7)),
        "top_1",
        "top_2",
        "top_3",
    ]


def sample_rows():
    return [
        ResponseRow(
            "S1",
            "Table 1",
            "p1",
            3,
            3,
            (2, 8, 1, 10, 4, 9, 7, 6, 5),
            (2, 8, 1, 10, 4),
            {"name": "Ana"},
        ),
        ResponseRow("S1", "Table 1", "p2", None, 3, None, None, {"name": '=HYPERLINK("x")'}),
        ResponseRow("S1", "=cmd|' /C calc'!A0", "-p3", 5, None, None, None, {"name": ""}),
    ]


def test_written_responses_read_back_unchanged_including_neutralised_cells():
    data = responses_csv(sample_rows(), DECK, extra_columns=["name"])
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    text = data.decode("utf-8")
    assert "'=HYPERLINK" in text and "'=cmd" in text and "'-p3" in text
    assert read_responses(io.StringIO(data.decode("utf-8-sig"), newline=""), DECK) == sample_rows()


def test_a_byte_order_mark_left_in_the_text_is_accepted():
    rows = read("\ufeff" + HEADER + "\n" + row() + "\n")
    assert rows[0].ranking == (2, 8, 1, 10, 4, 9, 7, 6, 5)


def test_write_responses_writes_text_to_any_file():
    out = io.StringIO()
    write_responses(sample_rows()[:1], DECK, out)
    assert out.getvalue().splitlines()[0] == ",".join(responses_header(DECK))
    assert out.getvalue().splitlines()[1].startswith("S1,Table 1,p1,1,3,3,2,8,")


def test_blank_cells_mean_did_not_vote_rank_or_pick():
    rows = read(HEADER + "\n" + row(vote="", ranking=None, top=None) + "\n")
    assert (rows[0].discard_vote, rows[0].ranking, rows[0].top) == (None, None, None)
    assert rows[0].group_discard == 3


def test_extra_columns_after_the_contract_are_kept_aside_and_blank_lines_skipped():
    rows = read(HEADER + ",name,notes\n\n" + row(extra=",Ana,late") + "\n,,,\n")
    assert len(rows) == 1
    assert rows[0].extra == {"name": "Ana", "notes": "late"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-3", "-3"),
        ("-3.25", "-3.25"),
        ("+4", "+4"),
        ("Table 1", "Table 1"),
        ("", ""),
    ],
)
def test_cells_a_spreadsheet_would_run_are_neutralised_but_numbers_stay_numbers(value, expected):
    assert neutralise(value) == expected


# --------------------------------------------------------------------------- malformed files


def test_an_unknown_statement_names_its_line():
    error = problem(HEADER + "\n" + row() + "\n" + row(ranking="2,8,1,10,4,9,7,6,11") + "\n")
    assert error.line == 3
    assert str(error) == "line 3: statement 11 is not in this deck (rank_9)"


def test_a_duplicate_in_a_ranking_names_its_line():
    error = problem(HEADER + "\n" + row(ranking="2,2,1,10,4,9,7,6,5") + "\n")
    assert (error.line, error.message) == (2, "statement 2 appears twice in the ranking")


def test_cannot_rank_the_discarded_statement_in_a_file():
    error = problem(HEADER + "\n" + row(ranking="3,8,1,10,4,9,7,6,5") + "\n")
    assert error.line == 2
    assert "statement 3 is the group's discard" in error.message


def test_a_partly_filled_ranking_is_refused():
    error = problem(HEADER + "\n" + row(ranking="2,8,1,10,,9,7,6,5") + "\n")
    assert error.line == 2
    assert "partly filled (rank_5 blank)" in error.message


def test_a_partly_filled_top_is_refused():
    error = problem(HEADER + "\n" + row(top="2,8,,,") + "\n")
    assert "top is partly filled" in error.message


def test_a_top_with_the_discard_is_refused():
    assert "group's discard" in problem(HEADER + "\n" + row(top="3,8,1,10,4") + "\n").message


def test_missing_columns_are_named_on_line_one():
    short = ",".join(legacy_header(DECK)[:-2])
    error = problem(short + "\n")
    assert error.line == 1
    assert "missing column(s) top_4, top_5" in error.message


def test_a_header_for_another_deck_suggests_choosing_the_deck():
    error = problem(",".join(legacy_header(NO_DISCARD)) + "\n")
    assert error.line == 1
    assert "--deck" in error.message


def test_columns_out_of_order_are_refused():
    names = legacy_header(DECK)
    names[3], names[4] = names[4], names[3]
    assert (
        "column 4 is 'group_discard', expected 'discard_vote'" in problem(",".join(names)).message
    )


def test_header_names_are_matched_without_case_or_spaces():
    header = ",".join(f" {name.upper()} " for name in legacy_header(DECK))
    assert len(read(header + "\n" + row() + "\n")) == 1


def test_a_file_that_is_not_csv_at_all_is_refused():
    assert problem("").line == 1
    assert problem('{"session": 1}\n').line == 1
    error = problem(HEADER + "\n" + row() + '\n"S1","unterminated\n')
    assert "not valid CSV" in error.message or "cells" in error.message


def test_binary_data_is_refused_with_its_line():
    data = HEADER.encode() + b"\r\n" + row().encode() + b"\r\n\xff\xfe\x00garbage\n"
    with pytest.raises(CsvError) as caught:
        read_responses_bytes(data, DECK)
    assert caught.value.line == 3
    assert "not UTF-8" in caught.value.message


def test_a_nul_byte_in_a_cell_is_refused_on_its_line():
    assert problem(HEADER + "\n" + row() + "\x00\n").line == 2


def test_bytes_with_a_byte_order_mark_read_like_text():
    data = ("\ufeff" + HEADER + "\r\n" + row() + "\r\n").encode()
    assert read_responses_bytes(data, DECK)[0].group == "Table 1"


def test_an_inconsistent_group_discard_within_a_group_is_refused():
    text = (
        HEADER
        + "\n"
        + row(participant="a")
        + "\n"
        + row(participant="b", discard="5", ranking="2,8,1,10,4,9,7,6,3", top=None)
        + "\n"
    )
    error = problem(text)
    assert error.line == 3
    assert "group_discard is 5 but line 2 has 3" in error.message


def test_a_ranking_needs_the_groups_discard():
    error = problem(HEADER + "\n" + row(discard="") + "\n")
    assert "needs the group's discard" in error.message


def test_a_short_row_is_refused():
    assert "only 3 cells" in problem(HEADER + "\nS1,Table 1,p1\n").message


def test_a_row_needs_a_group():
    assert "group is blank" in problem(HEADER + "\n" + row(group=" ") + "\n").message


def test_a_statement_cell_must_be_a_number():
    assert "not a statement number" in problem(HEADER + "\n" + row(vote="three") + "\n").message


def test_a_deck_without_a_discard_step_refuses_discard_cells():
    header = ",".join(legacy_header(NO_DISCARD))
    error = problem(header + "\nS1,T1,p1,3,,1,2,3,4,5,6,1,2,3\n", NO_DISCARD)
    assert "no discard step" in error.message
    rows = read(header + "\nS1,T1,p1,,,1,2,3,4,5,6,1,2,3\n", NO_DISCARD)
    assert rows[0].ranking == (1, 2, 3, 4, 5, 6)


def test_a_line_number_counts_physical_lines_after_a_multi_line_cell():
    text = HEADER + ",notes\n" + row(extra=',"two\nlines"') + "\n" + row(vote="11") + "\n"
    assert problem(text).line == 4


# --------------------------------------------------------------------------- summaries


def summary_of(text, deck=DECK):
    return summarise(read(text, deck), deck)


def test_the_same_group_name_in_two_sessions_is_two_groups():
    text = (
        HEADER + "\n" + row(session="A") + "\n" + row(session="B") + "\n" + row(session="A") + "\n"
    )
    summary, groups = summary_of(text)
    assert [(g["session"], g["group"], g["participants"]) for g in groups] == [
        ("A", "Table 1", 2),
        ("B", "Table 1", 1),
    ]
    assert len(summary) == 2 * 10


def test_the_summary_has_a_row_per_statement_with_the_discard_left_blank():
    summary, groups = summary_of(
        HEADER + "\n" + row() + "\n" + row(ranking="8,2,1,10,4,9,7,6,5") + "\n"
    )
    discarded = next(r for r in summary if r["statement"] == 3)
    assert discarded["mean_rank"] is None and discarded["consensus_position"] is None
    assert discarded["discard_votes"] == 2
    first = next(r for r in summary if r["statement"] == 2)
    assert first["mean_rank"] == 1.5 and first["top_five_points"] == 10
    assert groups[0]["consensus_order"] == "2 8 1 10 4 9 7 6 5"
    assert groups[0]["top_five_order"] == "2 8 1 10 4"
    # Rank sums are 2k except statements 2 and 8 (3 each): S = 240 - 2, W = 12 S / (m^2 (n^3 - n)).
    assert groups[0]["kendall_w"] == pytest.approx(12 * 238 / (4 * (729 - 9)))


def parse(data):
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_summary_and_group_files_have_the_contract_columns_and_neutralised_text():
    text = HEADER + "\n" + row(group="=Table") + "\n" + row(group="=Table", top=None) + "\n"
    summary, groups = summary_of(text)
    rows = parse(summary_csv(summary))
    assert list(rows[0])[:10] == [
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
    ]
    assert rows[0]["group"] == "'=Table"
    assert rows[0]["mean_rank"] == "3.0000"
    assert rows[2]["mean_rank"] == ""
    group_rows = parse(groups_csv(groups))
    assert list(group_rows[0])[:10] == [
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
    ]
    assert group_rows[0]["kendall_w"] == "1.0000"
    assert float(group_rows[0]["p_value"]) == pytest.approx(groups[0]["p_value"], rel=1e-3)


def test_tiny_p_values_are_written_in_scientific_notation():
    data = groups_csv([{"session": "S", "group": "G", "p_value": 1.234567e-9, "kendall_w": -0.5}])
    cells = parse(data)[0]
    assert cells["p_value"] == "1.2346e-09"
    assert cells["kendall_w"] == "-0.5000"
