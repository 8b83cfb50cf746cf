// The table board: one shared answer that every phone at the table moves (docs/protocol.md,
// "Table board"). The server's order wins: a move is sent with the version it was made on and
// a move id, and every `board` push (this phone's moves included) puts the list in the server's
// order. "We agree" agrees with the version on screen; any move clears every agreement.
// While this phone drags, a newer board updates the status and the version but not the list
// (it would move under the finger); the drop is sent against the newest version, or, without a
// move or on a board locked meanwhile, the list catches up to the server's order.
import { h, setText } from "../dom.js";
import { orderList, setDraggable, setOrder } from "./order-list.js";

const WORDS = {
  discard: ["Choose your table's discard together", "Put the statement your table discards at the bottom."],
  rank: ["Rank the statements together", "Most important at the top. Every move shows on your table's phones."],
  top: ["Choose your table's top picks together", "The first ones above the line are your table's picks, most important first."],
};

/**
 * The board screen for `board` (from `state.board` or a push). `send(event, payload)` returns a
 * promise of the ack; `announce(text)` speaks to screen readers. Returns { view, update }.
 */
export function boardScreen(board, { textOf, send, announce, me }) {
  let shown = board;
  let counter = 0;
  let connected = board.connected; // pushes say how many are connected; a resume may not
  let dragging = false; // SortableJS owns the list's order from a drag's start to its drop
  let behind = false; // a newer board came during this drag: the list still shows the older order
  const [title, hint] = WORDS[board.step] || WORDS.rank;
  const status = h("p", { class: "board-status", id: "board-status", role: "status" });
  const agreeButton = h("button", { type: "button", class: "button primary big", id: "agree-button" }, "We agree");
  const error = h("p", { class: "error", id: "board-error", hidden: true });
  const list = orderList(board.order, {
    id: "board-list",
    label: title,
    textOf,
    announce,
    onChange: (order) => moved(order),
    onDrag: (active) => {
      dragging = active;
      if (!active && behind) catchUp(); // dropped where it started: show the server's order now
      if (!active) setDraggable(list, !shown.locked); // locked during the drag: no next one
    },
  });
  list.classList.add(`board-${board.step}`);

  function moved(order) {
    const before = shown.order;
    // the one statement that moved: without it, both orders are the same
    const statement = order.find((n, i) => n !== before[i]
      && JSON.stringify(order.filter((m) => m !== n)) === JSON.stringify(before.filter((m) => m !== n)));
    const target = statement === undefined ? order.find((n, i) => n !== before[i]) : statement;
    if (target === undefined) return;
    if (board.locked) {
      catchUp(); // locked while the finger was down: the drop is not sent
      return;
    }
    const to = order.indexOf(target);
    // A drag that began on an older order: show the move applied to the newest one, as the
    // server will apply it ("this statement to this index").
    const after = behind ? placed(board.order, target, to) : order;
    if (behind) {
      behind = false;
      setOrder(list, after);
    }
    counter += 1;
    const id = `${me}-${Date.now().toString(36)}-${counter}`;
    shown = { ...shown, order: after, agreed: [] };
    paint();
    send("board_move", { statement: target, to, version: board.version, id })
      .then((reply) => update(reply.board))
      .catch((err) => fail(err));
  }

  /** `order` with `statement` moved to index `to` (Board.move on the server). */
  function placed(order, statement, to) {
    const rest = order.filter((n) => n !== statement);
    return [...rest.slice(0, to), statement, ...rest.slice(to)];
  }

  function fail(err) {
    error.hidden = false;
    setText(error, err.message);
    if (dragging) {
      behind = true; // the drop puts the list back to the server's order
      paint();
      return;
    }
    catchUp(); // back to the last order the server confirmed
  }

  /** Show the newest board the server sent, order included. */
  function catchUp() {
    behind = false;
    shown = board;
    setOrder(list, board.order);
    paint();
  }

  agreeButton.addEventListener("click", () => {
    const agreed = shown.agreed.includes(me);
    const event = agreed ? "board_withdraw" : "board_agree";
    send(event, { version: board.version }).then((reply) => update(reply.board)).catch((err) => fail(err));
  });

  function paint() {
    const agreed = shown.agreed.length;
    const mine = shown.agreed.includes(me);
    const people = Math.max(connected || 0, agreed);
    status.dataset.version = String(board.version);
    setText(status, shown.locked
      ? `Locked: your table's answer is final (${agreed} of ${shown.members} agreed).`
      : `${agreed} of ${people} agree${mine ? " (you too)" : ""}. Any move clears every agreement.`);
    list.classList.toggle("locked", shown.locked);
    // a locked answer cannot be dragged either (a drag already under way ends as it began)
    if (!dragging) setDraggable(list, !shown.locked);
    const items = Array.from(list.children);
    items.forEach((li, i) => {
      li.querySelector(".move.up").disabled = shown.locked || i === 0;
      li.querySelector(".move.down").disabled = shown.locked || i === items.length - 1;
      li.classList.toggle("pick", shown.step === "top" && i < shown.top_size);
    });
    agreeButton.hidden = shown.locked;
    setText(agreeButton, mine ? "I no longer agree" : "We agree");
    agreeButton.setAttribute("aria-pressed", String(mine));
  }

  /**
   * A newer board from the server: take its order and agreements. During a drag only its
   * agreements, lock and version: the list keeps the order under the finger until the drop.
   */
  function update(next) {
    if (!next || next.version < board.version) return;
    board = next;
    if (typeof next.connected === "number") connected = next.connected;
    error.hidden = true;
    if (dragging) {
      shown = { ...next, order: shown.order };
      behind = true;
    } else {
      shown = next;
      setOrder(list, next.order);
    }
    paint();
    if (next.locked) announce("Your table's answer is locked.");
  }

  paint();
  const view = [
    h("section", { class: "card" }, h("h1", {}, title), h("p", { class: "hint" }, hint),
      board.step === "top" ? h("p", { class: "muted small" }, `The first ${board.top_size} are your table's picks.`) : null),
    list,
    h("div", { class: "save-bar board-bar" }, status, agreeButton, error),
  ];
  return { view, update };
}
