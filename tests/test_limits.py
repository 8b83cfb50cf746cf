"""facilitator/limits.py on its own: budgets, the per-address cap, the handler bound, binary
refusal. (tests/test_attacks.py runs the same limits in the real server under attack.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from facilitator import limits
from facilitator.limits import LimitConfig, TokenBucket, TrafficLimits


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
        traffic.budget(address).take(1, 100)
        traffic.close(address)
    clock.now += 60
    traffic.prune()
    assert traffic.addresses == {}


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
