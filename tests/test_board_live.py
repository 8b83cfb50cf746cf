"""The table board against the real server (eventlet, a subprocess): five phones moving at once,
and a crash (kill -9) in the middle of the moves."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from driver import (
    Console,
    Phone,
    acall,
    close_all,
    connect,
    join_all,
    run_async,
    table,
    wait_until,
)

pytestmark = pytest.mark.server


async def table_of_five(server):
    """Five phones at Table 1, discard 3 decided, the rank step open as a table."""
    info = server.create_session(groups=["Table 1", "Table 2"])
    console = await Console.open(server.url, info["facilitator_token"])
    await console.control("open_step", step="discard")
    phones = [Phone(i, 1) for i in range(5)]
    await join_all(server.url, info["code"], phones)
    for phone in phones:
        pushes: list = []
        phone.boards = pushes
        phone.client.on("board", lambda data, pushes=pushes: pushes.append(data))
        ack = await acall(phone.client, "submit", token=phone.token, step="discard", answer=3,
                          id="d")
        assert ack["ok"], ack
    await console.control("close_step")
    await console.control("open_step", step="rank", mode="table")
    return info, console, phones


def replay(start, moves):
    order = list(start)
    for statement, to in moves:
        order.remove(statement)
        order.insert(to, statement)
    return order


def test_fifty_concurrent_moves_from_five_phones_are_each_applied_once(live_server):
    async def scenario():
        info, console, phones = await table_of_five(live_server)
        start = (await acall(phones[0].client, "resume", token=phones[0].token))["state"]["board"]
        rng = random.Random(5)
        sent = {}

        async def move(phone, k):
            move_id = f"p{phone.number}-{k}"
            seen = phone.boards[-1]["version"] if phone.boards else start["version"]
            statement, to = rng.choice(start["order"]), rng.randrange(9)
            sent[move_id] = (statement, to)
            return move_id, await acall(phone.client, "board_move", token=phone.token,
                                        statement=statement, to=to, version=seen, id=move_id)

        acks = await asyncio.gather(*(move(p, k) for k in range(10) for p in phones))
        assert all(ack["ok"] and not ack["duplicate"] for _, ack in acks), acks
        resent = await asyncio.gather(*(
            acall(p.client, "board_move", token=p.token, statement=1, to=0, version=0,
                  id=f"p{p.number}-3") for p in phones))
        assert all(ack["ok"] and ack["duplicate"] for ack in resent)
        final = (await acall(phones[0].client, "resume", token=phones[0].token))["state"]
        board = final["board"]
        assert board["version"] == 50
        # Phone 0's answer says only its own socket has every push: the others' last pushes
        # may still be on their way. Wait for them (a condition) before counting.
        assert await wait_until(lambda: all(
            any(push["version"] == 50 for push in p.boards) for p in phones))
        for phone in phones:
            heard = [m for push in phone.boards for m in push["moves"]]
            assert sorted(heard) == sorted(sent), "every move reached every phone, once"
            last = max(phone.boards, key=lambda push: push["version"])
            assert (last["order"], last["version"]) == (board["order"], board["version"])
        by_version = sorted(phones[0].boards, key=lambda push: push["version"])
        server_order = [m for push in by_version for m in push["moves"]]
        assert replay(start["order"], [sent[m] for m in server_order]) == board["order"]
        await close_all([console.client, *(p.client for p in phones)])
        return info

    run_async(scenario())
    saved = table(live_server.db_path, "SELECT move_id FROM board_moves")
    assert len(saved) == 50 and len(set(saved)) == 50


@pytest.mark.faults
def test_kill_9_during_board_edits_loses_no_acknowledged_move(live_server):
    acked: list[str] = []

    async def scenario():
        info, console, phones = await table_of_five(live_server)
        stop = asyncio.Event()

        async def keep_moving(phone):
            rng = random.Random(phone.number)
            k = 0
            while not stop.is_set():
                k += 1
                move_id = f"p{phone.number}-{k}"
                try:
                    ack = await acall(phone.client, "board_move", token=phone.token,
                                      statement=rng.choice([1, 2, 4, 5]), to=rng.randrange(9),
                                      version=0, id=move_id, timeout=3)
                except Exception:  # the server died under it: unacknowledged
                    return
                if ack.get("ok"):
                    acked.append(move_id)

        movers = [asyncio.create_task(keep_moving(p)) for p in phones]
        deadline = time.monotonic() + 30  # bounded: movers that all fail cannot hang the run
        while len(acked) < 60:
            assert time.monotonic() < deadline, f"only {len(acked)} moves acknowledged"
            await asyncio.sleep(0.01)
        live_server.kill()
        stop.set()
        await asyncio.gather(*movers, return_exceptions=True)
        await close_all([console.client, *(p.client for p in phones)])
        return info, phones

    info, phones = run_async(scenario())
    live_server.start()
    saved = {row[0] for row in table(live_server.db_path, "SELECT move_id FROM board_moves")}
    assert set(acked) <= saved, sorted(set(acked) - saved)

    async def after():
        client = await connect(live_server.url)
        state = (await acall(client, "resume", token=phones[0].token))["state"]
        again = await acall(client, "board_move", token=phones[0].token, statement=1, to=0,
                            version=0, id=acked[0])
        await close_all([client])
        return state, again

    state, again = run_async(after())
    assert state["board"]["version"] == len(saved) >= len(acked)
    assert again["ok"] and again["duplicate"]
