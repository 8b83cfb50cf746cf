"""Transport limits: what one connection, and one client address, may cost the server.

Nothing here knows about eventlet; the launcher (serve.py) plugs these into eventlet's HTTP
server and websocket reader. What lives here:

- ``TrafficLimits``: a cap on open connections per client address, and token buckets of frames
  and bytes per connection *and* per address (so opening more sockets buys no more traffic).
  A connection that spends its budget is closed: a phone sends a frame every few seconds,
  a flood sends thousands.
- ``refuse_binary``: Socket.IO binary packets (an attachment header followed by binary frames)
  close the sender's socket; nothing in the protocol is binary.
- ``bound_handlers``: at most a few event handlers in flight per socket, and a ceiling for the
  whole server; past it the event is answered ``busy`` at once instead of spawning a handler.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from socketio import packet

# Opening a connection costs as many frames from the address's budget (a phone opens one or two
# connections; a reconnect storm from one address runs out).
CONNECTION_COST = 5
# ...and needs this many bytes left in the address's byte budget (one that sent too much
# waits for it to refill before it gets a new connection).
CONNECTION_BYTES = 1024


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` a second."""

    __slots__ = ("rate", "burst", "tokens", "last")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.last = rate, burst, burst, now

    def take(self, amount: float, now: float) -> bool:
        """Spend ``amount`` if there is that much; False (and nothing spent) otherwise."""
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True

    def full(self, now: float) -> bool:
        """Would the bucket be full now (nothing spent lately)?"""
        return self.tokens + (now - self.last) * self.rate >= self.burst


@dataclass
class LimitConfig:
    """The numbers, from the app config (see app.DEFAULTS for what each means)."""

    connections_per_address: int = 64
    frame_rate: float = 20.0
    frame_burst: float = 100.0
    byte_rate: float = 16 * 1024
    byte_burst: float = 64 * 1024
    address_share: float = 10.0
    exempt: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_app_config(cls, config: dict[str, Any]) -> LimitConfig:
        """Read the LIMIT_* keys."""
        return cls(
            connections_per_address=int(config["MAX_CONNECTIONS_PER_ADDRESS"]),
            frame_rate=float(config["FRAME_RATE"]),
            frame_burst=float(config["FRAME_BURST"]),
            byte_rate=float(config["BYTE_RATE"]),
            byte_burst=float(config["BYTE_BURST"]),
            address_share=float(config["ADDRESS_TRAFFIC_SHARE"]),
            exempt=frozenset(config.get("TRUSTED_PROXIES") or ()),
        )


class Address:
    """One client address: its open connections, the websockets spending from its budget
    (behind a trusted proxy a websocket's address is the client's, with no connection of its
    own here), and its shared traffic budget."""

    __slots__ = ("open", "sockets", "frames", "bytes")

    def __init__(self, config: LimitConfig, now: float) -> None:
        share = config.address_share
        self.open = 0
        self.sockets = 0
        self.frames = TokenBucket(config.frame_rate * share, config.frame_burst * share, now)
        self.bytes = TokenBucket(config.byte_rate * share, config.byte_burst * share, now)

    def idle(self, now: float) -> bool:
        """Nothing to remember: no connection, no websocket, a full budget."""
        return (self.open <= 0 and self.sockets <= 0 and self.frames.full(now)
                and self.bytes.full(now))


class ConnectionBudget:
    """The traffic budget of one websocket: its own buckets and its address's."""

    __slots__ = ("address", "frames", "bytes", "clock")

    def __init__(self, address: Address | None, config: LimitConfig,
                 clock: Callable[[], float]) -> None:
        now = clock()
        self.address = address
        self.frames = TokenBucket(config.frame_rate, config.frame_burst, now)
        self.bytes = TokenBucket(config.byte_rate, config.byte_burst, now)
        self.clock = clock

    def take(self, frames: int, nbytes: int) -> bool:
        """Count ``frames`` frames and ``nbytes`` bytes; False when this connection or its
        address is over budget (the caller closes the connection)."""
        # A bucket not spent from is not touched: its refill is worked out from its last
        # update the next time, with the same result (it runs for every frame).
        now = self.clock()
        if frames and not self.frames.take(frames, now):
            return False
        if nbytes and not self.bytes.take(nbytes, now):
            return False
        address = self.address
        if address is None:
            return True
        return ((not frames or address.frames.take(frames, now))
                and (not nbytes or address.bytes.take(nbytes, now)))


class TrafficLimits:
    """Connections and traffic per client address. Addresses in ``config.exempt`` (trusted
    proxies, which enforce their own per-client limits) are not capped. An address is
    forgotten once it is idle (``Address.idle``): checked when its connection or websocket
    ends, and for every address once every ``SWEEP_EVERY`` new entries or endings, so that
    the table stays as small as the live room whatever the mix of direct and proxied
    clients, and no ending scans the whole table."""

    SWEEP_EVERY = 256

    def __init__(self, config: LimitConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.addresses: dict[str, Address] = {}
        self.refused = 0
        self.held: dict[str, int] = {}
        self._events = 0  # entries made and endings since the last sweep

    def _entry(self, address: str) -> Address:
        entry = self.addresses.get(address)
        if entry is None:
            entry = self.addresses[address] = Address(self.config, self.clock())
            self._tick()
        return entry

    def _tick(self) -> None:
        self._events += 1
        if self._events >= self.SWEEP_EVERY:
            self.prune()

    def _ended(self, address: str, entry: Address) -> None:
        if entry.idle(self.clock()) and self.addresses.get(address) is entry:
            del self.addresses[address]
        self._tick()

    def open(self, address: str) -> bool:
        """A new connection from ``address``: False when the address already has its cap."""
        if address in self.config.exempt:
            return True
        entry = self._entry(address)
        now = self.clock()
        if entry.open >= self.config.connections_per_address or \
                not entry.bytes.take(CONNECTION_BYTES, now) or \
                not entry.frames.take(CONNECTION_COST, now):
            self.refused += 1
            return False
        entry.open += 1
        return True

    def request(self, address: str) -> bool:
        """An HTTP request from ``address`` costs one frame of its budget; False when spent."""
        if address in self.config.exempt:
            return True
        entry = self.addresses.get(address)
        return entry is None or entry.frames.take(1, self.clock())

    def hold(self, address: str) -> bool:
        """May a refused connection from ``address`` be held a while before it is answered
        (so a client that waits for answers slows itself down)? At most as many as the
        address may have open; past that, refusals are immediate."""
        held = self.held.get(address, 0)
        if held >= self.config.connections_per_address:
            return False
        self.held[address] = held + 1
        return True

    def release(self, address: str) -> None:
        """A held refusal was answered."""
        held = self.held.get(address, 1) - 1
        if held <= 0:
            self.held.pop(address, None)
        else:
            self.held[address] = held

    def close(self, address: str) -> None:
        """A connection from ``address`` ended; forget the address if it is idle."""
        entry = self.addresses.get(address)
        if entry is None:
            return
        entry.open -= 1
        self._ended(address, entry)

    def prune(self) -> None:
        """Drop every idle address (nothing to remember)."""
        self._events = 0
        now = self.clock()
        idle = [a for a, e in self.addresses.items() if e.idle(now)]
        for address in idle:
            del self.addresses[address]

    def budget(self, address: str) -> ConnectionBudget:
        """The frame budget for a new websocket from ``address`` (behind a trusted proxy, the
        client's address: its budget, no connection). The address is remembered while the
        websocket lives: hand the budget back with ``end`` when it closes."""
        entry = None
        if address not in self.config.exempt:
            entry = self._entry(address)
            entry.sockets += 1
        return ConnectionBudget(entry, self.config, self.clock)

    def end(self, address: str, budget: ConnectionBudget) -> None:
        """The websocket spending ``budget`` closed."""
        entry = budget.address
        if entry is not None:
            entry.sockets -= 1
            self._ended(address, entry)

    def charge(self, address: str, frames: int, nbytes: int) -> bool:
        """Charge one HTTP request's ``frames`` and ``nbytes`` (an Engine.IO polling post) to
        ``address``'s budget, within what one connection may spend; False when spent."""
        entry = None if address in self.config.exempt else self._entry(address)
        allowed = ConnectionBudget(entry, self.config, self.clock).take(frames, nbytes)
        if entry is not None:
            self._ended(address, entry)
        return allowed


# -- Socket.IO layer ----------------------------------------------------------------------------
BUSY_ACK = {"ok": False, "error": {"code": "busy",
                                   "message": "The server is busy; wait a moment and retry."}}
MALFORMED_ACK = {"ok": False, "error": {
    "code": "bad_request", "message": 'An event is a list: ["event name", data].'}}


def well_formed(data: Any) -> bool:
    """Is ``data`` a Socket.IO event's payload python-socketio can dispatch (a list that
    starts with the event's name)? Anything else makes it raise before any handler runs."""
    return isinstance(data, list) and bool(data) and isinstance(data[0], str)


def refuse_binary(server: Any) -> None:
    """Close the Engine.IO socket of anyone who sends a binary frame or a Socket.IO binary
    packet (types 5 and 6: the header announces attachments the server would buffer)."""
    dispatch = server.eio.handlers["message"]

    def on_message(eio_sid: str, data: Any) -> Any:
        if not isinstance(data, str) or data[:1] in ("5", "6"):
            server.eio.disconnect(eio_sid)
            return None
        return dispatch(eio_sid, data)

    server.eio.handlers["message"] = on_message


def bound_handlers(server: Any, per_socket: int, total: int) -> dict[str, int]:
    """At most ``per_socket`` event handlers in flight per socket and ``total`` in all. Past
    either, the event is answered ``busy`` (if it asked for an answer) without running. A
    packet that is not an event (``42{}``, ``42[]``, ``421``) is answered ``bad_request`` and
    never counted: python-socketio would raise on it before a handler could free its place.
    Returns the live counters (for tests and the benchmark)."""
    handle_event = server._handle_event
    in_flight: dict[str, int] = {}
    counters = {"in_flight": 0, "refused": 0, "malformed": 0}

    def answer(eio_sid: str, namespace: str | None, ack_id: int | None, body: dict) -> None:
        if ack_id is not None:
            server._send_packet(eio_sid, server.packet_class(
                packet.ACK, namespace=namespace or "/", id=ack_id, data=[body]))

    def limited(eio_sid: str, namespace: str | None, ack_id: int | None, data: Any) -> None:
        if not well_formed(data):
            counters["malformed"] += 1
            return answer(eio_sid, namespace, ack_id, MALFORMED_ACK)
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        if not server.manager.is_connected(sid, namespace or "/"):
            return handle_event(eio_sid, namespace, ack_id, data)  # it refuses; nothing runs
        mine = in_flight.get(eio_sid, 0)
        if mine >= per_socket or counters["in_flight"] >= total:
            counters["refused"] += 1
            return answer(eio_sid, namespace, ack_id, BUSY_ACK)
        in_flight[eio_sid] = mine + 1
        counters["in_flight"] += 1
        return handle_event(eio_sid, namespace, ack_id, data)

    def done(eio_sid: str) -> None:
        counters["in_flight"] -= 1
        left = in_flight.get(eio_sid, 1) - 1
        if left <= 0:
            in_flight.pop(eio_sid, None)
        else:
            in_flight[eio_sid] = left

    internal = server._handle_event_internal

    def run(srv: Any, sid: str, eio_sid: str, data: Any, namespace: str, ack_id: Any) -> None:
        try:
            internal(srv, sid, eio_sid, data, namespace, ack_id)
        finally:
            done(eio_sid)

    server._handle_event = limited
    server._handle_event_internal = run
    return counters


RATE_LIMITED_ACK = {"ok": False, "error": {
    "code": "rate_limited", "message": "Too many answers from this phone; wait a moment."}}


def limit_submits(server: Any, rate: float, burst: float,
                  clock: Callable[[], float] = time.monotonic) -> dict[str, TokenBucket]:
    """At most ``burst`` submits at once per participant token, then ``rate`` a second, however
    many sockets send them (one token in many tabs or scripts shares one budget). Over it, the
    submit is answered ``rate_limited`` without running. Returns the buckets (pruned)."""
    handle_event = server._handle_event
    buckets: dict[str, TokenBucket] = {}
    calls = [0]

    def limited(eio_sid: str, namespace: str | None, ack_id: int | None, data: Any) -> Any:
        if isinstance(data, list) and len(data) >= 2 and data[0] == "submit" \
                and isinstance(data[1], dict) and isinstance(data[1].get("token"), str):
            now = clock()
            calls[0] += 1
            if calls[0] % 256 == 0:
                for key in [k for k, b in buckets.items() if b.full(now)]:
                    del buckets[key]
            token = data[1]["token"][:64]
            bucket = buckets.get(token)
            if bucket is None:
                bucket = buckets[token] = TokenBucket(rate, burst, now)
            if not bucket.take(1, now):
                if ack_id is not None:
                    server._send_packet(eio_sid, server.packet_class(
                        packet.ACK, namespace=namespace or "/", id=ack_id,
                        data=[RATE_LIMITED_ACK]))
                return None
        return handle_event(eio_sid, namespace, ack_id, data)

    server._handle_event = limited
    return buckets
