"""``python -m facilitator analyse`` end to end, against an independent brute-force computation."""

import csv
import io
import itertools
import random
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2

from facilitator.analyse import main
from facilitator.decks import DECK_DIR, DEFAULT_DECK_ID, load_decks
from facilitator.export import ResponseRow, responses_csv, responses_header

ROOT = Path(__file__).resolve().parent.parent
DECK = load_decks()[DEFAULT_DECK_ID]
SESSIONS = ["Monday AM", "Monday PM", "=Tuesday"]
GROUPS = [f"Table {g}" for g in range(1, 6)]
NAMES = ["Ana", "Ben", '=HYPERLINK("http://x")', "Dee", "-Eve", "Fay", "Gus", "@Hal"]


def generate_rows(seed=5):
    """3 sessions x 5 groups x 8 participants; some did not vote, rank or pick."""
    rng = random.Random(seed)
    rows = []
    for s, session in enumerate(SESSIONS):
        for g, group in enumerate(GROUPS):
            group_discard = rng.choice(DECK.numbers)
            remaining = [n for n in DECK.numbers if n != group_discard]
            base = rng.sample(remaining, len(remaining))
            for p in range(8):
                vote = rng.choice([group_discard] * 3 + list(DECK.numbers) + [None])
                ranking = base[:]
                for _ in range(rng.randint(0, 6)):
                    k = rng.randrange(len(ranking) - 1)
                    ranking[k], ranking[k + 1] = ranking[k + 1], ranking[k]
                if rng.random() < 0.2:
                    ranking = None
                if (s, g) == (1, 4) and p:
                    ranking = None  # a group with a single ranking: no W
                if (s, g) == (2, 3):
                    ranking = None  # a group that never ranked
                top = rng.sample(remaining, 5) if rng.random() < 0.5 else base[:5]
                if rng.random() < 0.2:
                    top = None
                rows.append(
                    ResponseRow(
                        session,
                        group,
                        f"p{p + 1}",
                        vote,
                        group_discard,
                        None if ranking is None else tuple(ranking),
                        None if top is None else tuple(top),
                        {"name": NAMES[p]},
                    )
                )
    return rows


@pytest.fixture(scope="module")
def permutations_of_nine():
    return np.array(list(itertools.permutations(range(9))), dtype=np.int8)


def brute_force_kemeny(items, rankings, permutations):
    """Every order of ``items`` scored by total pairwise disagreement; documented tie-break."""
    index = {s: i for i, s in enumerate(items)}
    n = len(items)
    pair = np.zeros((n, n), dtype=np.int64)  # pair[a, b]: rankings with a above b
    for ranking in rankings:
        for x, y in itertools.combinations(ranking, 2):
            pair[index[x], index[y]] += 1
    cost = np.zeros(len(permutations), dtype=np.int64)
    for i, j in itertools.combinations(range(n), 2):
        cost += pair[permutations[:, j], permutations[:, i]]
    optimal = permutations[cost == cost.min()]
    sums = {s: sum(r.index(s) + 1 for r in rankings) for s in items}
    orders = [tuple(items[i] for i in row) for row in optimal]
    return min(orders, key=lambda order: [(sums[s], s) for s in order])


def expected_results(rows, permutations):
    """The summary and group figures, computed directly from the rows."""
    by_group = {}
    for row in rows:
        by_group.setdefault((row.session, row.group), []).append(row)
    summary, groups = {}, {}
    for key, members in by_group.items():
        discard = members[0].group_discard
        remaining = [s for s in DECK.numbers if s != discard]
        rankings = [r.ranking for r in members if r.ranking]
        tops = [r.top for r in members if r.top]
        m, n = len(rankings), len(remaining)
        order = brute_force_kemeny(remaining, rankings, permutations) if rankings else ()
        points = {s: sum(5 - t.index(s) for t in tops if s in t) for s in DECK.numbers}
        picks = {s: sum(s in t for t in tops) for s in DECK.numbers}
        place = {s: i + 1 for i, s in enumerate(order)}
        for s in DECK.numbers:
            positions = [r.index(s) + 1 for r in rankings if s in r]
            figures = {
                "discard_votes": sum(r.discard_vote == s for r in members),
                "top_five_count": picks[s],
                "top_five_points": points[s],
                "consensus_position": place.get(s),
                "mean_rank": statistics.mean(positions) if positions else None,
                "rank_sd": statistics.pstdev(positions) if positions else None,
                "first_places": positions.count(1),
            }
            if len(positions) > 1:
                q1, _, q3 = statistics.quantiles(positions, n=4, method="inclusive")
                figures["rank_iqr"] = q3 - q1
            summary[(*key, s)] = figures
        group = {
            "participants": len(members),
            "rankings": m,
            "group_discard": discard,
            "consensus_order": " ".join(map(str, order)),
        }
        if m >= 2:
            sums = [sum(r.index(s) + 1 for r in rankings) for s in remaining]
            mean = sum(sums) / n
            w = 12 * sum((x - mean) ** 2 for x in sums) / (m**2 * (n**3 - n))
            group.update(
                kendall_w=w, chi_square=m * (n - 1) * w, p_value=chi2.sf(m * (n - 1) * w, n - 1)
            )
        ranked = sorted(
            (s for s in DECK.numbers if picks[s]),
            key=lambda s: (-points[s], -picks[s], place.get(s, 99), s),
        )
        group["top_five_order"] = " ".join(map(str, ranked[:5]))
        groups[key] = group
    return summary, groups


def read_csv(path):
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "spreadsheet BOM"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def unquote(text):
    return text[1:] if text[:1] == "'" and text[1:2] in "=+-@" else text


def number(text):
    return None if text == "" else float(text)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, permutations_of_nine):
    folder = tmp_path_factory.mktemp("analyse")
    rows = generate_rows()
    responses = folder / "responses.csv"
    responses.write_bytes(responses_csv(rows, DECK, extra_columns=["name"]))
    assert main([str(responses), "--out", str(folder / "out")]) == 0
    return folder, rows, expected_results(rows, permutations_of_nine)


def test_the_generated_file_has_incomplete_rows_and_a_group_without_w(analysed):
    _, rows, _ = analysed
    assert len(rows) == 3 * 5 * 8
    assert any(r.ranking is None for r in rows) and any(r.top is None for r in rows)
    assert any(r.discard_vote is None for r in rows)


def test_the_summary_matches_an_independent_computation(analysed):
    folder, _, (expected, _) = analysed
    lines = read_csv(folder / "out" / "summary.csv")
    assert len(lines) == 3 * 5 * 10
    for line in lines:
        key = (unquote(line["session"]), line["group"], int(line["statement"]))
        want = expected[key]
        assert line["text"] == DECK.text(key[2])
        for column in ("discard_votes", "top_five_count", "top_five_points", "first_places"):
            assert int(line[column]) == want[column], (key, column)
        position = want["consensus_position"]
        assert line["consensus_position"] == ("" if position is None else str(position)), key
        for column in ("mean_rank", "rank_sd", "rank_iqr"):
            if column in want and want[column] is not None:
                assert number(line[column]) == pytest.approx(want[column], abs=6e-5), (key, column)
        if want["mean_rank"] is None:
            assert line["mean_rank"] == line["rank_sd"] == line["agreement"] == ""


def test_the_groups_match_brute_force_kemeny_and_direct_kendall_w(analysed):
    folder, _, (_, expected) = analysed
    lines = read_csv(folder / "out" / "groups.csv")
    assert len(lines) == 15
    without_w = 0
    for line in lines:
        want = expected[(unquote(line["session"]), line["group"])]
        assert int(line["participants"]) == want["participants"] == 8
        assert int(line["rankings"]) == want["rankings"]
        assert int(line["group_discard"]) == want["group_discard"]
        assert line["consensus_order"] == want["consensus_order"]
        assert line["top_five_order"] == want["top_five_order"]
        if "kendall_w" in want:
            assert number(line["kendall_w"]) == pytest.approx(want["kendall_w"], abs=6e-5)
            assert number(line["chi_square"]) == pytest.approx(want["chi_square"], abs=6e-5)
            assert number(line["p_value"]) == pytest.approx(want["p_value"], rel=1e-3, abs=1e-6)
        else:
            without_w += 1
            assert line["kendall_w"] == line["chi_square"] == line["p_value"] == ""
    assert without_w == 2


def test_text_cells_are_neutralised_in_the_outputs(analysed):
    folder, _, _ = analysed
    sessions = {line["session"] for line in read_csv(folder / "out" / "groups.csv")}
    assert "'=Tuesday" in sessions


def test_the_cli_runs_as_a_subprocess_and_writes_the_same_files(analysed, tmp_path):
    folder, _, _ = analysed
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "facilitator",
            "analyse",
            str(folder / "responses.csv"),
            "--deck",
            DEFAULT_DECK_ID,
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "120 participants in 15 groups" in result.stdout
    for name in ("summary.csv", "groups.csv"):
        assert (tmp_path / name).read_bytes() == (folder / "out" / name).read_bytes()


def test_a_malformed_file_fails_in_a_subprocess_without_a_traceback_or_output(tmp_path):
    responses = tmp_path / "responses.csv"
    rows = generate_rows()[:3]
    text = responses_csv(rows, DECK).decode("utf-8-sig").replace("\r\n", "\n")
    lines = text.splitlines()
    cells = lines[2].split(",")
    cells[6] = "11"  # rank_1 (after session, group, participant, round, the two discards)
    lines[2] = ",".join(cells)
    responses.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "facilitator", "analyse", str(responses), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "line 3: statement 11 is not in this deck (rank_1)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- malformed files

# files from before rounds (no round column) stay valid: these lines are in that format
HEADER = ",".join(n for n in responses_header(DECK) if n != "round")
GOOD = "S,T1,p1,3,3,2,8,1,10,4,9,7,6,5,2,8,1,10,4"


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        (f"{HEADER}\n{GOOD}\nS,T1,p2,12,3,,,,,,,,,,,,,,\n", 3, "statement 12 is not in this deck"),
        (f"{HEADER}\n{GOOD}\nS,T1,p2,,3,2,2,1,10,4,9,7,6,5,,,,,\n", 3, "appears twice"),
        (f"{HEADER}\nS,T1,p2,,3,3,8,1,10,4,9,7,6,5,,,,,\n", 2, "is the group's discard"),
        (f"{HEADER}\nS,T1,p2,,3,2,8,1,10,,,,,,,,,,\n", 2, "partly filled"),
        ("session,group,participant\nS,T1,p1\n", 1, "missing column(s) discard_vote"),
        ("\x89PNG\r\n\x1a\n", 1, "column 1 is"),
        (
            f"{HEADER}\n{GOOD}\n{GOOD.replace(',3,3,', ',3,4,').replace(',4,9,7', ',3,9,7')}\n",
            3,
            "group_discard is 4 but line 2 has 3",
        ),
    ],
)
def test_a_malformed_file_exits_non_zero_naming_the_line_and_writes_nothing(
    tmp_path, capsys, content, line, problem
):
    responses = tmp_path / "responses.csv"
    responses.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    assert main([str(responses), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert f"line {line}: " in error and problem in error
    assert not out.exists()


def test_binary_garbage_is_refused_with_its_line(tmp_path, capsys):
    responses = tmp_path / "responses.csv"
    responses.write_bytes(HEADER.encode() + b"\n\xff\xd8\xff\xe0 JFIF\n")
    assert main([str(responses), "--out", str(tmp_path / "out")]) == 1
    assert "line 2: not UTF-8 text" in capsys.readouterr().err


def test_a_failed_run_leaves_earlier_output_untouched(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("earlier", encoding="utf-8")
    responses = tmp_path / "responses.csv"
    responses.write_text(f"{HEADER}\nS,T1,p2,,3,3,8,1,10,4,9,7,6,5,,,,,\n", encoding="utf-8")
    assert main([str(responses), "--out", str(out)]) == 1
    assert (out / "summary.csv").read_text(encoding="utf-8") == "earlier"
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]


def test_another_deck_can_be_chosen_by_id_or_by_path(tmp_path):
    deck = load_decks()["partnership-barriers"]
    rows = [
        ResponseRow("S", "T1", "a", None, None, (1, 2, 3, 4, 5, 6), (1, 2, 3)),
        ResponseRow("S", "T1", "b", None, None, (2, 1, 3, 4, 6, 5), (2, 1, 4)),
    ]
    responses = tmp_path / "responses.csv"
    responses.write_bytes(responses_csv(rows, deck))
    for choice in ("partnership-barriers", str(DECK_DIR / "partnership-barriers.toml")):
        out = tmp_path / choice.replace("/", "_")
        assert main([str(responses), "--deck", choice, "--out", str(out)]) == 0
        groups = read_csv(out / "groups.csv")
        assert groups[0]["consensus_order"] == "1 2 3 4 5 6"
        assert groups[0]["top_five_order"] == "1 2 3"
        assert groups[0]["group_discard"] == ""
        assert len(read_csv(out / "summary.csv")) == 6


def test_an_unknown_deck_or_missing_file_is_an_error_not_a_traceback(tmp_path, capsys):
    assert main(["absent.csv", "--deck", "nope", "--out", str(tmp_path)]) == 2
    assert "no deck with id 'nope'" in capsys.readouterr().err
    assert main([str(tmp_path / "absent.csv"), "--out", str(tmp_path / "o")]) == 1
    assert "cannot be read" in capsys.readouterr().err


def test_usage_errors_return_two(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
