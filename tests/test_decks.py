"""Deck files: the shipped decks, validation of broken ones, and decks pasted as text."""

import json
from pathlib import Path

import pytest

from facilitator.decks import (
    DECK_DIR,
    DEFAULT_DECK_ID,
    DeckError,
    deck_from_text,
    find_deck,
    load_deck,
    load_decks,
)

TASK_5_1 = [
    "Every Child Matters outcomes improve for children/young people.",
    "More effective ways of working occur.",
    "The educational setting/children’s centre gets a good reputation locally for its "
    "multi-agency working.",
    "Practitioners from different services can think creatively and be innovative.",
    "Positive change is acknowledged, celebrated and publicized.",
    "Multi-agency team working leads to greater job satisfaction.",
    "A way of doing something is improved.",
    "Clients experience greater satisfaction as a result of receiving the multi-agency "
    "integrated services support and intervention.",
    "Cross-agency tensions and conflicts are reduced.",
    "Joint ownership and responsibility for decision-making occurs.",
]

VALID = """
id = "tiny"
title = "Tiny deck"
source = "tests"
instructions = "Rank them."
discard = 1
top = 2

[[statements]]
number = 1
text = "One."

[[statements]]
number = 2
text = "Two."

[[statements]]
number = 3
text = "Three."
"""


def write_deck(tmp_path, text, name="deck.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_task_5_1_ships_its_ten_statements_exactly_as_printed():
    deck = load_decks()[DEFAULT_DECK_ID]
    assert deck.numbers == tuple(range(1, 11))
    assert [s.text for s in deck.statements] == TASK_5_1
    assert deck.discard == 1 and deck.top == 5 and deck.ranked == 9


def test_task_5_1_shows_the_tasks_own_instructions():
    instructions = load_decks()[DEFAULT_DECK_ID].instructions
    assert instructions.count("•") == 6
    assert "Rank the remaining nine statements in order of priority." in instructions
    assert "looking for similarities and differences" in instructions


def test_task_5_1_comes_first_and_other_decks_have_other_sizes():
    decks = load_decks()
    assert next(iter(decks)) == DEFAULT_DECK_ID
    assert len(decks) >= 3
    sizes = {len(d.statements) for d in decks.values()}
    assert sizes - {10}
    assert any(d.discard == 0 for d in decks.values())


def test_every_shipped_deck_is_valid_and_its_dict_is_json():
    for path in sorted(DECK_DIR.glob("*.toml")):
        deck = load_deck(path)
        data = json.loads(json.dumps(deck.to_dict()))
        assert set(data) == {
            "id",
            "title",
            "source",
            "instructions",
            "discard",
            "top",
            "statements",
        }
        assert [s["number"] for s in data["statements"]] == list(deck.numbers)
        assert deck.text(deck.numbers[0]) == data["statements"][0]["text"]


def test_a_deck_can_be_found_by_id_or_by_path(tmp_path):
    assert find_deck(DEFAULT_DECK_ID).id == DEFAULT_DECK_ID
    assert find_deck(str(write_deck(tmp_path, VALID))).id == "tiny"
    with pytest.raises(DeckError, match="no deck with id 'nope'"):
        find_deck("nope")


def test_asking_for_a_missing_statement_text_is_a_key_error():
    with pytest.raises(KeyError):
        load_decks()[DEFAULT_DECK_ID].text(11)


BROKEN = [
    ('number = 2\ntext = "Two."', 'number = 1\ntext = "Two."', "statement number 1 is used twice"),
    ('text = "Two."', 'text = "   "', "statement 2: text is empty"),
    ("discard = 1", "discard = 2", "discard must be 0 or 1"),
    ("discard = 1", "discard = true", "discard must be 0 or 1"),
    ("top = 2", "top = 3", "top must be a whole number from 1 to 2"),
    ("top = 2", "top = 0", "top must be a whole number from 1 to 2"),
    ('id = "tiny"', 'id = "Tiny Deck!"', "id must be lower-case"),
    ('instructions = "Rank them."', "", "missing key(s) instructions"),
    ("top = 2", "top = 2\ntops = 3", "unknown key(s) tops"),
    ("top = 2", "top = 2 2", "not valid TOML"),
    ("number = 3", "number = -3", "number must be a positive whole number"),
]


@pytest.mark.parametrize(("old", "new", "problem"), BROKEN)
def test_a_broken_deck_names_the_file_and_the_problem(tmp_path, old, new, problem):
    assert old in VALID
    path = write_deck(tmp_path, VALID.replace(old, new, 1), "broken.toml")
    with pytest.raises(DeckError) as caught:
        load_deck(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_a_deck_needs_between_two_and_twelve_statements(tmp_path):
    one = VALID.split("[[statements]]")[0] + '[[statements]]\nnumber = 1\ntext = "Only."\n'
    with pytest.raises(DeckError, match="2 to 12 statements, this one has 1"):
        load_deck(write_deck(tmp_path, one))
    many = VALID.split("[[statements]]")[0] + "".join(
        f'[[statements]]\nnumber = {i}\ntext = "S{i}"\n' for i in range(1, 14)
    )
    with pytest.raises(DeckError, match="this one has 13"):
        load_deck(write_deck(tmp_path, many))


def test_a_missing_deck_file_is_a_deck_error(tmp_path):
    with pytest.raises(DeckError, match="cannot be read"):
        load_deck(tmp_path / "absent.toml")


def test_two_decks_with_one_id_are_refused(tmp_path):
    write_deck(tmp_path, VALID, "a.toml")
    write_deck(tmp_path, VALID, "b.toml")
    with pytest.raises(DeckError, match="already used"):
        load_decks(tmp_path)


def test_statements_are_kept_in_number_order_whatever_the_file_order(tmp_path):
    reordered = VALID.replace("number = 1", "number = 9")
    assert load_deck(write_deck(tmp_path, reordered)).numbers == (2, 3, 9)


def test_a_pasted_deck_drops_printed_numbers_and_numbers_its_lines():
    deck = deck_from_text("Pasted", "1. First idea\n\n2) Second idea\n  • Third idea  \n")
    assert deck.id == "custom"
    assert [(s.number, s.text) for s in deck.statements] == [
        (1, "First idea"),
        (2, "Second idea"),
        (3, "Third idea"),
    ]
    assert deck.discard == 1 and deck.top == 2


def test_a_pasted_deck_defaults_to_a_top_five_when_it_can():
    deck = deck_from_text("Pasted", "\n".join(f"Idea {i}" for i in range(8)), discard=0)
    assert deck.top == 5 and deck.discard == 0


@pytest.mark.parametrize(
    ("title", "text", "discard", "top", "problem"),
    [
        ("T", "only one", 1, None, "this one has 1"),
        ("T", "\n".join(f"S{i}" for i in range(13)), 1, None, "this one has 13"),
        ("", "a\nb\nc", 1, None, "title is empty"),
        ("T", "a\nb\nc", 2, None, "discard must be 0 or 1"),
        ("T", "a\nb\nc", 1, 3, "top must be a whole number from 1 to 2"),
    ],
)
def test_a_bad_pasted_deck_gives_a_clear_error_without_a_file_name(
    title, text, discard, top, problem
):
    with pytest.raises(DeckError) as caught:
        deck_from_text(title, text, discard=discard, top=top)
    assert problem in str(caught.value)
    assert ".toml" not in str(caught.value)


def test_the_deck_folder_is_the_repositorys_statements_folder():
    assert Path(__file__).resolve().parent.parent / "statements" == DECK_DIR


def test_every_shipped_statement_has_a_short_title_of_at_most_40_characters():
    for deck in load_decks().values():
        for statement in deck.statements:
            assert statement.short, (deck.id, statement.number)
            assert len(statement.short) <= 40
            assert statement.short != statement.text


def test_a_short_title_longer_than_40_characters_is_refused(tmp_path):
    text = (DECK_DIR / "task-5-1.toml").read_text(encoding="utf-8")
    broken = text.replace('short = "More effective ways of working"', f'short = "{"x" * 41}"')
    path = tmp_path / "long.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(DeckError, match="statement 2: short is longer than 40"):
        load_deck(path)


def test_a_pasted_line_may_give_a_short_title_before_a_bar():
    deck = deck_from_text("Mine", "Trust | Partners trust each other.\n2. Plain statement\n| Bare")
    assert [(s.short, s.text) for s in deck.statements] == [
        ("Trust", "Partners trust each other."), (None, "Plain statement"), (None, "Bare")]
    assert deck.to_dict()["statements"][0]["short"] == "Trust"


def test_a_stored_deck_keeps_its_short_titles():
    from facilitator.store import deck_from_json, deck_to_json

    deck = find_deck(DEFAULT_DECK_ID)
    assert deck_from_json(deck_to_json(deck)) == deck
