"""``analyse`` with rounds and ``tables.csv``: each round on its own rows, files from before rounds
still valid, and what changed computed independently (brute-force Kemeny, direct pair counts)."""

import csv
import io
import itertools
import random
import statistics

import numpy as np
import pytest
from test_analyse import brute_force_kemeny, expected_results, generate_rows

from facilitator.analyse import main
from facilitator.decks import DEFAULT_DECK_ID, load_decks
from facilitator.export import (
    CsvError,
    ResponseRow,
    TableRow,
    read_responses_bytes,
    read_tables_bytes,
    responses_csv,
    responses_header,
    tables_csv,
    tables_header,
)

DECK = load_decks()[DEFAULT_DECK_ID]


def pair_count(a, b):
    where = {s: i for i, s in enumerate(b)}
    return sum(1 for x, y in itertools.combinations(a, 2) if where[x] > where[y])


def nudged(ranking, rng, swaps):
    ranking = list(ranking)
    for _ in range(swaps):
        k = rng.randrange(len(ranking) - 1)
        ranking[k], ranking[k + 1] = ranking[k + 1], ranking[k]
    return tuple(ranking)


def generate_round_rows(seed=11):
    """Round 1 of ``generate_rows``; a second individual round for most groups (some people
    skip it), and a third round in one session. The discard vote is repeated on later rows."""
    rng = random.Random(seed)
    first = generate_rows(seed)
    rows = list(first)
    for number in (2, 3):
        for row in first:
            if number == 3 and row.session != "Monday AM":
                continue
            if (row.session, row.group) == ("Monday PM", "Table 2") or rng.random() < 0.15:
                continue  # a group that played one round; people who skipped a round
            start = row.ranking or tuple(
                s for s in DECK.numbers if s != row.group_discard
            )
            ranking = nudged(start, rng, rng.randint(0, 3)) if rng.random() < 0.9 else None
            rows.append(
                ResponseRow(
                    row.session,
                    row.group,
                    row.participant,
                    row.discard_vote,
                    row.group_discard,
                    ranking,
                    ranking[:5] if ranking else None,
                    row.extra,
                    number,
                )
            )
    rng.shuffle(rows)  # the reader must not depend on the order of the rows
    return rows


def generate_tables(rows, seed=3):
    """Table answers for some groups: locked and unlocked, with and without a ranking."""
    rng = random.Random(seed)
    groups = sorted({(r.session, r.group, r.group_discard) for r in rows})
    tables = []
    for i, (session, group, discard) in enumerate(groups):
        if i % 3 == 2:
            continue
        remaining = [s for s in DECK.numbers if s != discard]
        ranking = tuple(rng.sample(remaining, len(remaining)))
        tables.append(
            TableRow(session, group, 2, discard, ranking, ranking[:5], 4, 4 + i % 2, i % 4 != 1)
        )
        if i % 5 == 0:  # a later table round for the discard only
            tables.append(TableRow(session, group, 4, discard, None, None, 3, 3, True))
    return tables


def read_csv(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def unquote(text):
    return text[1:] if text[:1] == "'" and text[1:2] in "=+-@" else text


@pytest.fixture(scope="module")
def permutations():
    return np.array(list(itertools.permutations(range(9))), dtype=np.int8)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rounds")
    rows = generate_round_rows()
    tables = generate_tables(rows)
    (folder / "responses.csv").write_bytes(responses_csv(rows, DECK, extra_columns=["name"]))
    (folder / "tables.csv").write_bytes(tables_csv(tables, DECK))
    args = [str(folder / "responses.csv"), "--tables", str(folder / "tables.csv")]
    assert main([*args, "--out", str(folder / "out")]) == 0
    return folder, rows, tables


def test_each_rounds_rows_are_exactly_todays_rules_on_that_round_alone(analysed, permutations):
    folder, rows, _ = analysed
    summary = read_csv(folder / "out" / "summary.csv")
    groups = read_csv(folder / "out" / "groups.csv")
    rounds = sorted({r.round for r in rows})
    assert rounds == [1, 2, 3]
    assert {int(line["round"]) for line in groups} == set(rounds)
    checked = 0
    for number in rounds:
        alone = [r for r in rows if r.round == number]
        want_summary, want_groups = expected_results(alone, permutations)
        lines = [line for line in groups if int(line["round"]) == number]
        assert len(lines) == len(want_groups)
        for line in lines:
            want = want_groups[(unquote(line["session"]), line["group"])]
            assert int(line["participants"]) == want["participants"]
            assert int(line["rankings"]) == want["rankings"]
            assert line["consensus_order"] == want["consensus_order"]
            assert line["top_five_order"] == want["top_five_order"]
            if "kendall_w" in want:
                assert float(line["kendall_w"]) == pytest.approx(want["kendall_w"], abs=6e-5)
            checked += 1
        for line in (s for s in summary if int(s["round"]) == number):
            key = (unquote(line["session"]), line["group"], int(line["statement"]))
            want = want_summary[key]
            assert int(line["discard_votes"]) == want["discard_votes"]
            assert int(line["top_five_points"]) == want["top_five_points"]
            position = want["consensus_position"]
            assert line["consensus_position"] == ("" if position is None else str(position))
    assert checked == len(groups)


def test_a_groups_rounds_follow_each_other(analysed):
    folder, _, _ = analysed
    keys = [(line["session"], line["group"], int(line["round"])) for line in
            read_csv(folder / "out" / "groups.csv")]
    assert keys == sorted(keys, key=lambda k: ([k[:2] for k in keys].index(k[:2]), k[2]))


def test_a_file_without_round_reads_as_round_one_and_analyses_the_same(tmp_path):
    rows = generate_rows(seed=8)
    new = responses_csv(rows, DECK, extra_columns=["name"]).decode("utf-8-sig")
    lines = [next(csv.reader([line])) for line in new.splitlines()]
    assert lines[0][3] == "round" and {line[3] for line in lines[1:]} == {"1"}
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(line[:3] + line[4:] for line in lines)
    old = out.getvalue()
    old_rows = read_responses_bytes(old.encode(), DECK)
    assert old_rows == read_responses_bytes(new.encode(), DECK)
    assert {r.round for r in old_rows} == {1}
    (tmp_path / "old.csv").write_text(old, encoding="utf-8")
    (tmp_path / "new.csv").write_text(new, encoding="utf-8")
    assert main([str(tmp_path / "old.csv"), "--out", str(tmp_path / "a")]) == 0
    assert main([str(tmp_path / "new.csv"), "--out", str(tmp_path / "b")]) == 0
    for name in ("summary.csv", "groups.csv", "changes.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert read_csv(tmp_path / "a" / "changes.csv") == []  # one round, no table: nothing changed


def test_tables_csv_is_read_back_and_rewritten_unchanged(analysed):
    folder, _, tables = analysed
    data = (folder / "tables.csv").read_bytes()
    assert read_tables_bytes(data, DECK) == tables
    assert (folder / "out" / "tables.csv").read_bytes() == data
    header = read_csv(folder / "tables.csv")[0]
    assert list(header)[:4] == ["session", "group", "round", "discard"]
    assert list(header)[-3:] == ["agreed_by", "members", "locked"]


def test_what_changed_matches_an_independent_computation(analysed, permutations):
    folder, rows, tables = analysed
    lines = {
        (unquote(line["session"]), line["group"]): line
        for line in read_csv(folder / "out" / "changes.csv")
    }
    agreed = {}
    for t in tables:
        if t.locked and t.ranking and t.round >= agreed.get((t.session, t.group), (0,))[0]:
            agreed[(t.session, t.group)] = (t.round, t.ranking)
    groups = {}
    for r in rows:
        groups.setdefault((r.session, r.group), []).append(r)
    seen_answer = seen_rounds = 0
    visited = set()
    for key, members in groups.items():
        remaining = [s for s in DECK.numbers if s != members[0].group_discard]
        ranked = sorted({r.round for r in members if r.ranking})
        if not ranked or (len(ranked) == 1 and key not in agreed):
            assert key not in lines
            continue
        line = lines[key]
        visited.add(key)
        first, last = ranked[0], ranked[-1]
        by_round = {n: {r.participant: r.ranking for r in members if r.round == n and r.ranking}
                    for n in ranked}
        before = brute_force_kemeny(remaining, list(by_round[first].values()), permutations)
        assert line["before_order"] == " ".join(map(str, before))
        if key in agreed:
            seen_answer += 1
            target = agreed[key][1]
            assert int(line["answer_round"]) == agreed[key][0]
            to_answer = sorted(pair_count(r, target) for r in by_round[first].values())
            assert line["to_answer_distances"] == " ".join(map(str, to_answer))
            assert float(line["to_answer_median"]) == pytest.approx(statistics.median(to_answer))
        else:
            target = brute_force_kemeny(remaining, list(by_round[last].values()), permutations)
            assert line["answer_round"] == line["to_answer_distances"] == ""
        assert line["after_order"] == " ".join(map(str, target))
        assert int(line["distance"]) == pair_count(before, target)
        assert int(line["most"]) == 36
        if last != first:
            seen_rounds += 1
            assert int(line["last_round"]) == last
            moved = sorted(
                pair_count(by_round[first][p], by_round[last][p])
                for p in by_round[first]
                if p in by_round[last]
            )
            assert line["moved_distances"] == " ".join(map(str, moved))
            assert int(line["moved_people"]) == len(moved)
    assert seen_answer >= 5 and seen_rounds >= 10
    assert visited == set(lines)


TABLE_HEADER = ",".join(tables_header(DECK))
RESPONSES = ",".join(responses_header(DECK)) + "\nS,T1,p1,1,3,3,2,8,1,10,4,9,7,6,5,2,8,1,10,4\n"
GOOD_TABLE = "S,T1,2,3,2,8,1,10,4,9,7,6,5,2,8,1,10,4,4,4,1"


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        (f"{TABLE_HEADER}\n{GOOD_TABLE}\n{GOOD_TABLE}\n", 3, "already has round 2 on line 2"),
        (f"{TABLE_HEADER}\n{GOOD_TABLE[:-1]}2\n", 2, "locked is '2', expected 1 or 0"),
        (f"{TABLE_HEADER}\n{GOOD_TABLE.replace('S,T1,2,3,', 'S,T1,2,5,')}\n", 2,
         "responses.csv has group_discard 3"),
        (f"{TABLE_HEADER}\n{GOOD_TABLE.replace('S,T1,2,', 'S,T1,0,')}\n", 2,
         "round is '0', not a whole number from 1"),
        (f"{TABLE_HEADER}\n{GOOD_TABLE.replace(',4,4,1', ',-1,4,1')}\n", 2,
         "agreed_by is '-1'"),
        (f"{TABLE_HEADER}\n{GOOD_TABLE.replace(',2,8,1,10,4,9', ',2,2,1,10,4,9')}\n", 2,
         "statement 2 appears twice in the ranking"),
        (f"{TABLE_HEADER}\n{GOOD_TABLE.replace('S,T1,2,3,2,', 'S,T1,2,3,3,')}\n", 2,
         "is the group's discard (discard)"),
        ("session,group,round\n", 1, "missing column(s) discard"),
    ],
)
def test_a_malformed_tables_file_names_its_line_and_writes_nothing(
    tmp_path, capsys, content, line, problem
):
    (tmp_path / "responses.csv").write_text(RESPONSES, encoding="utf-8")
    (tmp_path / "tables.csv").write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    args = [str(tmp_path / "responses.csv"), "--tables", str(tmp_path / "tables.csv")]
    assert main([*args, "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "tables.csv" in error and f"line {line}: " in error and problem in error, error
    assert not out.exists()


def test_a_good_tables_file_with_the_small_example_gives_the_agreed_answer(tmp_path):
    (tmp_path / "responses.csv").write_text(RESPONSES, encoding="utf-8")
    (tmp_path / "tables.csv").write_text(f"{TABLE_HEADER}\n{GOOD_TABLE}\n", encoding="utf-8")
    args = [str(tmp_path / "responses.csv"), "--tables", str(tmp_path / "tables.csv")]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    (change,) = read_csv(tmp_path / "out" / "changes.csv")
    assert change["before_order"] == change["after_order"] == "2 8 1 10 4 9 7 6 5"
    assert (change["distance"], change["to_answer_distances"], change["answer_round"]) == (
        "0", "0", "2"
    )


@pytest.mark.parametrize(
    ("cell", "problem"),
    [("", "round is blank"), ("0", "round is '0'"), ("two", "round is 'two'")],
)
def test_a_round_must_be_a_whole_number_from_one(cell, problem):
    text = RESPONSES.replace("S,T1,p1,1,", f"S,T1,p1,{cell},")
    with pytest.raises(CsvError) as caught:
        read_responses_bytes(text.encode(), DECK)
    assert caught.value.line == 2 and problem in caught.value.message


def test_the_discard_is_the_same_in_every_round():
    text = RESPONSES + "S,T1,p1,2,3,4,,,,,,,,,,,,,,\n"
    with pytest.raises(CsvError) as caught:
        read_responses_bytes(text.encode(), DECK)
    assert "group_discard is 4 but line 2 has 3" in caught.value.message


def test_the_examples_in_the_csv_docs_are_what_analyse_writes(tmp_path):
    from test_analyse import ROOT

    text = (ROOT / "docs" / "csv.md").read_text(encoding="utf-8")
    blocks = [block.split("```")[0] for block in text.split("```csv\n")[1:]]

    def example(header_start):
        return next(b for b in blocks if b.startswith(header_start))

    responses = example("session,group,participant,round,")
    tables = example("session,group,round,discard,")
    (tmp_path / "responses.csv").write_text(responses, encoding="utf-8")
    (tmp_path / "tables.csv").write_text(tables, encoding="utf-8")
    args = [str(tmp_path / "responses.csv"), "--tables", str(tmp_path / "tables.csv")]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0

    def written(name):
        return (tmp_path / "out" / name).read_text(encoding="utf-8-sig").replace("\r\n", "\n")

    assert written("groups.csv") == example("session,group,round,participants,")
    assert written("changes.csv") == example("session,group,first_round,")
    assert written("summary.csv").startswith(example("session,group,round,statement,"))
    assert written("tables.csv") == tables
