"""facilitator/limits.py on its own: budgets, the per-address cap, the handler bound, binary
refusal. (tests/test_attacks.py runs the same limits in the real server under attack.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from driver import call

from facilitator import create_app, limits
from facilitator.limits import LimitConfig, TokenBucket, TrafficLimits
from facilitator.services import services


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_token_bucket_spends_its_burst_then_refills_at_its_rate():
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert [bucket.take(1, 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(1, 0.1) and not bucket.take(1, 0.1)
    assert not bucket.full(0.2) and bucket.full(1.0)
    assert not bucket.take(6, 100.0)  # never more than the burst


def test_connections_per_address_are_capped_and_exempt_proxies_are_not():
    clock = Clock()
    traffic = TrafficLimits(LimitConfig(connections_per_address=3, exempt=frozenset({"10.0.0.1"})),
                            clock)
    assert [traffic.open("192.0.2.7") for _ in range(4)] == [True, True, True, False]
    assert traffic.open("192.0.2.8")  # another address has its own cap
    traffic.close("192.0.2.7")
    assert traffic.open("192.0.2.7")
    assert all(traffic.open("10.0.0.1") for _ in range(100))
    assert "10.0.0.1" not in traffic.addresses


def test_a_reconnect_storm_runs_out_of_the_addresss_frame_budget():
    clock = Clock()
    config = LimitConfig(connections_per_address=1000, frame_rate=1, frame_burst=10,
                         address_share=10)  # the address: 100 frames, 10 a second
    traffic = TrafficLimits(config, clock)
    opened = 0
    while traffic.open("192.0.2.7"):
        traffic.close("192.0.2.7")
        opened += 1
    assert opened == 100 // limits.CONNECTION_COST
    clock.now += 1.0
    assert traffic.open("192.0.2.7")


def test_a_connection_over_its_own_budget_or_its_addresss_is_refused():
    clock = Clock()
    config = LimitConfig(frame_rate=10, frame_burst=10, byte_rate=1000, byte_burst=1000,
                         address_share=2)
    traffic = TrafficLimits(config, clock)
    first = traffic.budget("192.0.2.7")
    assert all(first.take(1, 10) for _ in range(10))
    assert not first.take(1, 10)  # its own ten frames are spent
    second = traffic.budget("192.0.2.7")
    assert all(second.take(1, 10) for _ in range(10))
    third = traffic.budget("192.0.2.7")
    assert not third.take(1, 10)  # the address's twenty are spent, whatever the connection
    assert not traffic.budget("192.0.2.8").take(0, 1001)  # bytes count too
    clock.now += 1.0
    assert third.take(1, 10)


def test_idle_addresses_are_forgotten():
    clock = Clock()
    traffic = TrafficLimits(LimitConfig(), clock)
    for k in range(1000):
        address = f"198.51.{k // 250}.{k % 250}"
        assert traffic.open(address)
        budget = traffic.budget(address)
        budget.take(1, 100)
        traffic.end(address, budget)
        traffic.close(address)
    clock.now += 60
    traffic.prune()
    assert traffic.addresses == {}


def test_clients_behind_a_trusted_proxy_are_forgotten_too_and_kept_while_connected():
    """Behind a proxy a websocket's address is the client's, which has no connection here:
    the table still shrinks back as clients leave (it grew without bound), and a client's
    entry lives as long as its websocket, so its next socket shares the same budget."""
    clock = Clock()
    traffic = TrafficLimits(LimitConfig(frame_rate=10, frame_burst=10, address_share=2,
                                        exempt=frozenset({"10.0.0.1"})), clock)
    assert traffic.open("10.0.0.1")  # the proxy's connection
    first = traffic.budget("198.51.100.7")
    assert all(first.take(1, 10) for _ in range(10))
    for k in range(5000):  # a day of other clients coming and going through the proxy
        address = f"203.0.{k // 250}.{k % 250}"
        budget = traffic.budget(address)
        budget.take(1, 100)
        traffic.end(address, budget)
        clock.now += 0.01
    assert len(traffic.addresses) < 2 * TrafficLimits.SWEEP_EVERY
    # the connected client is remembered: a second socket spends from the same address budget
    assert "198.51.100.7" in traffic.addresses
    clock.now = 1000.0
    traffic.prune()
    assert list(traffic.addresses) == ["198.51.100.7"]
    second = traffic.budget("198.51.100.7")
    assert second.address is first.address
    traffic.end("198.51.100.7", first)
    traffic.end("198.51.100.7", second)
    assert traffic.addresses == {}  # both gone and the budget full: forgotten at once


def test_an_ending_checks_its_own_address_not_the_whole_table():
    """Endings must not scan every address (a room of 2,000 phones closes thousands of
    polling connections): the sweep runs once every SWEEP_EVERY entries or endings."""
    clock = Clock()
    traffic = TrafficLimits(LimitConfig(), clock)
    scans = []
    prune = traffic.prune
    traffic.prune = lambda: (scans.append(len(traffic.addresses)), prune())
    for k in range(2000):
        assert traffic.open(f"198.51.{k // 250}.{k % 250}")
    for _ in range(10):
        for k in range(2000):
            address = f"198.51.{k // 250}.{k % 250}"
            traffic.close(address)
            assert traffic.open(address)
    assert len(scans) <= (2000 + 20 * 2000) // TrafficLimits.SWEEP_EVERY + 1


class FakeServer:
    """Enough of a python-socketio Server for bound_handlers and refuse_binary."""

    def __init__(self) -> None:
        self.sent, self.spawned, self.disconnected, self.dispatched = [], [], [], []
        self.manager = SimpleNamespace(sid_from_eio_sid=lambda eio, ns: "s-" + eio,
                                       is_connected=lambda sid, ns: True)
        self.packet_class = lambda kind, namespace, id, data: (kind, namespace, id, data)
        self.eio = SimpleNamespace(handlers={"message": self.dispatch},
                                   disconnect=self.disconnected.append)

    def dispatch(self, eio_sid, data):
        self.dispatched.append((eio_sid, data))

    def _send_packet(self, eio_sid, pkt):
        self.sent.append((eio_sid, pkt))

    def _handle_event(self, eio_sid, namespace, ack_id, data):
        self.spawned.append((self, "s-" + eio_sid, eio_sid, data, namespace, ack_id))

    def _handle_event_internal(self, server, sid, eio_sid, data, namespace, ack_id):
        pass


def test_handlers_in_flight_are_bounded_per_socket_and_in_all():
    server = FakeServer()
    counters = limits.bound_handlers(server, per_socket=3, total=5)
    for k in range(4):
        server._handle_event("a", "/", k, ["submit", {}])
    assert len(server.spawned) == 3 and counters["refused"] == 1
    assert server.sent == [("a", (3, "/", 3, [limits.BUSY_ACK]))]
    for k in range(4):
        server._handle_event(f"b{k}", "/", None, ["resume", {}])
    assert len(server.spawned) == 5 and counters["refused"] == 3  # no answer asked: none sent
    # a handler finishing frees its place
    first = server.spawned.pop(0)
    server._handle_event_internal(*first)
    assert counters["in_flight"] == 4
    server._handle_event("a", "/", 9, ["submit", {}])
    assert len(server.spawned) == 5 and counters["in_flight"] == 5


@pytest.mark.parametrize("data", [[], {}, 1, None, "submit", [7, {}]])
def test_a_packet_that_is_not_an_event_is_answered_and_holds_no_place(data):
    """python-socketio raises on these before any handler runs: counted, the place would
    never be given back."""
    server = FakeServer()
    counters = limits.bound_handlers(server, per_socket=3, total=5)
    server._handle_event("a", "/", 4, data)
    server._handle_event("a", "/", None, data)
    assert server.spawned == [] and counters["in_flight"] == 0 and counters["malformed"] == 2
    assert server.sent == [("a", (3, "/", 4, [limits.MALFORMED_ACK]))]


def test_malformed_event_frames_cannot_fill_the_servers_handler_places(tmp_path):
    """Through the real app: far more malformed frames than the server has handler places,
    then another phone's event still gets its real answer, not ``busy``."""
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "db.sqlite3"),
                      "HANDLERS_TOTAL": 5, "SNAPSHOT_INTERVAL": 0})
    socketio = services(app).socketio
    counters = app.extensions["facilitator.handlers"]
    attackers = [socketio.test_client(app) for _ in range(3)]
    for client in attackers:
        for frame in ("2[]", "2{}", "21", "21[]", '2"watch"'):
            for _ in range(4):
                socketio.server.eio._trigger_event("message", client.eio_sid, frame,
                                                   run_async=False)
    assert counters["in_flight"] == 0 and counters["malformed"] == 60
    phone = socketio.test_client(app)
    ack = call(phone, "watch", projector="no-such-key")
    assert ack["error"]["code"] == "bad_token", ack
    services(app).store.close()


@pytest.mark.parametrize("data", [b"\x00binary", "51-[\"x\",{\"_placeholder\":true,\"num\":0}]",
                                  "61-[{\"_placeholder\":true,\"num\":0}]"])
def test_binary_frames_and_binary_packets_close_the_socket(data):
    server = FakeServer()
    limits.refuse_binary(server)
    server.eio.handlers["message"]("a", data)
    assert server.disconnected == ["a"] and server.dispatched == []


def test_text_packets_pass_through_the_binary_refusal():
    server = FakeServer()
    limits.refuse_binary(server)
    server.eio.handlers["message"]("a", '2["submit",{}]')
    assert server.disconnected == [] and server.dispatched == [("a", '2["submit",{}]')]


def test_http_requests_spend_the_addresss_frames_and_refusals_are_held_up_to_the_cap():
    clock = Clock()
    traffic = TrafficLimits(LimitConfig(connections_per_address=2, frame_rate=1, frame_burst=1,
                                        address_share=10), clock)
    assert traffic.open("192.0.2.7")  # 5 of the address's 10 frames
    assert [traffic.request("192.0.2.7") for _ in range(6)] == [True] * 5 + [False]
    assert traffic.request("192.0.2.99")  # an address with no connection yet is not charged
    assert [traffic.hold("192.0.2.7") for _ in range(3)] == [True, True, False]
    traffic.release("192.0.2.7")
    assert traffic.hold("192.0.2.7")
    traffic.release("192.0.2.7")
    traffic.release("192.0.2.7")
    assert traffic.held == {}


def test_an_address_that_spent_its_bytes_gets_no_new_connection_until_they_refill():
    clock = Clock()
    traffic = TrafficLimits(LimitConfig(byte_rate=1000, byte_burst=2000, address_share=1), clock)
    assert traffic.open("192.0.2.7")
    traffic.budget("192.0.2.7").take(0, 2000 - limits.CONNECTION_BYTES)
    assert not traffic.open("192.0.2.7")
    clock.now += 2.0
    assert traffic.open("192.0.2.7")
