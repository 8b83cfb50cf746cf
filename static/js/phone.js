// The participant's phone: join, then answer the step the trainer has open.
//
// The server sends `state` (docs/protocol.md); this page renders it. What the participant enters
// is kept on the phone until the server acknowledges it: a submission goes to localStorage
// before it is emitted and leaves only on its ack, and it is resent (same id) after a
// reconnect, a reload or the phone waking up.
import { $, h, setText } from "./dom.js";
import { connect, request } from "./connection.js";
import { deckSteps, statementMap, stepName } from "./words.js";
import "/static/vendor/sortablejs/Sortable.min.js";
import { tableSimilarities } from "./table-similarities.js";

const Sortable = window.Sortable;
const body = document.body;
const app = $("#app");
const stepLabel = $("#step-label");
const whoLabel = $("#who");
const savePill = $("#save-state");
const announcer = $("#announce");

let code = (body.dataset.code || "").trim().toUpperCase();
const knownGroups = parseJSON(body.dataset.groups, []);

// -- storage (localStorage may be unavailable: private modes, blocked site data, full quota) --
// Every value is also kept in memory, so the page works (for as long as it stays open) when
// localStorage refuses.
const memory = new Map();
const storage = {
  get(key) {
    try {
      const value = localStorage.getItem(key);
      if (value !== null) return value;
    } catch { /* fall back to memory */ }
    return memory.has(key) ? memory.get(key) : null;
  },
  set(key, value) {
    memory.set(key, value);
    try { localStorage.setItem(key, value); } catch { /* kept in memory only */ }
  },
  remove(key) {
    memory.delete(key);
    try { localStorage.removeItem(key); } catch { /* nothing to do */ }
  },
  getJSON(key) { return parseJSON(this.get(key), null); },
  setJSON(key, value) { this.set(key, JSON.stringify(value)); },
};
const tokenKey = () => `facilitator:${code}`;
const pendingKey = () => `facilitator:${code}:pending`;
const draftKey = (step) => `facilitator:${code}:draft:${step}`;

function parseJSON(text, fallback) {
  try { return text ? JSON.parse(text) : fallback; } catch { return fallback; }
}

// -- page state ------------------------------------------------------------------------------
let token = code ? storage.get(tokenKey()) : null;
let state = null; // the last `state` from the server
let texts = new Map();
let viewKey = null; // what the current screen was built from; same key = keep the screen
let notice = null; // a message for the join form (removed, unknown code…)
let lastError = null; // the last refused submission, shown in the save pill
let inFlight = false;
let retryTimer = null;
let autosaveTimer = null;
const local = { discardChoice: null, confirming: null, rank: null, top: null, topPhase: "pick" };

const socket = connect({ pill: $("#conn"), onConnect: resync, onStatus: () => refreshSave() });
socket.on("state", (next) => applyState(next));

function resync() {
  if (token) {
    request(socket, "resume", { token })
      .then((reply) => applyState(reply.state))
      .catch((err) => {
        if (err.code === "bad_token") {
          forget("This phone's place in the workshop has ended. Join again below.");
        } else {
          // slow or busy server (a whole room reconnecting): try again shortly
          if (err.code !== "timeout" && err.code !== "offline") notice = err.message;
          render();
          setTimeout(() => { if (socket.connected) resync(); }, 2000);
        }
      });
  } else {
    render();
  }
}

function forget(message) {
  storage.remove(tokenKey());
  storage.remove(pendingKey());
  for (const step of ["discard", "rank", "top"]) storage.remove(draftKey(step));
  token = null;
  state = null;
  notice = message || null;
  viewKey = null;
  Object.assign(local, { discardChoice: null, confirming: null, rank: null, top: null, topPhase: "pick" });
  render();
}

function applyState(next) {
  if (!next) return;
  if (next.participant && next.participant.removed) {
    forget("The trainer removed you from this session. You can join again below.");
    return;
  }
  const previous = state;
  state = next;
  texts = statementMap(next.deck);
  const pending = storage.getJSON(pendingKey());
  if (pending && !(pending.step === next.session.step && next.session.open && !next.session.closed)) {
    // The step it was for is over: the server would refuse it. Drop it.
    storage.remove(pendingKey());
  }
  if (previous && previous.session.step !== next.session.step) lastError = null;
  render();
  flush();
}

// -- saving ----------------------------------------------------------------------------------
function newId(step) {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${step[0]}-${Date.now().toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`;
}

/** Keep the answer on the phone, then send it. */
function submit(step, answer) {
  clearTimeout(autosaveTimer);
  lastError = null;
  storage.setJSON(pendingKey(), { step, answer, id: newId(step) });
  refreshSave();
  flush();
}

/** Send the pending answer, one at a time (so an older answer never lands after a newer one). */
async function flush() {
  clearTimeout(retryTimer);
  const pending = storage.getJSON(pendingKey());
  if (!pending || inFlight || !token || !state) {
    refreshSave();
    return;
  }
  if (!socket.connected) {
    refreshSave();
    return;
  }
  inFlight = true;
  refreshSave();
  try {
    const reply = await request(socket, "submit", {
      token, step: pending.step, answer: pending.answer, id: pending.id,
    });
    const now = storage.getJSON(pendingKey());
    if (now && now.id === pending.id) storage.remove(pendingKey());
    if (state) state.answers = reply.answers;
  } catch (err) {
    if (["timeout", "offline", "rate_limited", "internal"].includes(err.code)) {
      retryTimer = setTimeout(flush, 3000);
    } else if (err.code === "bad_token") {
      inFlight = false;
      forget("This phone's place in the workshop has ended. Join again below.");
      return;
    } else {
      // refused: drop it, unless a newer answer has replaced it meanwhile
      const now = storage.getJSON(pendingKey());
      if (now && now.id === pending.id) storage.remove(pendingKey());
      lastError = err.message;
      if (["wrong_step", "step_closed", "awaiting_discard", "session_closed"].includes(err.code)) resync();
    }
  } finally {
    inFlight = false;
  }
  const next = storage.getJSON(pendingKey());
  if (next && next.id !== pending.id) {
    flush();
  } else {
    refreshSave();
    updateDiscardMarks();
  }
}

function same(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The save pill: derived from what is pending, saved and on screen. */
function refreshSave() {
  let stateName = "none";
  let text = "";
  const step = state && state.session.step;
  const answering = state && !state.session.closed && state.session.open
    && ["discard", "rank", "top"].includes(step);
  const pending = storage.getJSON(pendingKey());
  if (answering) {
    const saved = state.answers ? state.answers[step] : null;
    const current = currentAnswer(step);
    if (pending && pending.step === step && current !== undefined && !same(current, pending.answer)) {
      stateName = "dirty"; // changed again since the answer waiting to be sent
      text = "Changes not saved yet";
    } else if (pending && pending.step === step) {
      stateName = socket.connected ? "saving" : "queued";
      text = socket.connected ? "Saving…" : "Not sent yet";
    } else if (lastError) {
      stateName = "error";
      text = `Not saved: ${lastError}`;
    } else if (saved !== null && saved !== undefined && (current === undefined || same(current, saved))) {
      stateName = "saved";
      text = "Saved ✓";
    } else if (saved !== null && saved !== undefined) {
      stateName = "dirty";
      text = "Changes not saved yet";
    } else {
      stateName = "unsaved";
      text = "No answer yet";
    }
  }
  savePill.dataset.state = stateName;
  setText(savePill, text);
  for (const button of app.querySelectorAll("[data-save-button]")) {
    const ready = button.dataset.ready === "1";
    button.disabled = !ready || ["saved", "saving", "queued"].includes(stateName);
    button.classList.toggle("is-saved", stateName === "saved");
    button.classList.toggle("is-queued", stateName === "queued");
    // The button says what happened to the tap (the pill at the top may be scrolled away).
    setText(button, { saved: "Saved ✓", saving: "Saving…", queued: "Kept on this phone – sends when online" }[stateName]
      || button.dataset.label);
  }
}

/** What is on screen for `step`: undefined when the screen has nothing to compare. */
function currentAnswer(step) {
  if (step === "discard") return local.discardChoice ?? undefined;
  if (step === "rank") return local.rank ?? undefined;
  if (step === "top") return local.top && local.top.length === topSize() ? local.top : undefined;
  return undefined;
}

function scheduleAutosave(step) {
  clearTimeout(autosaveTimer);
  if (lastHandedIn(step) === null) return; // the first save is the participant's call
  autosaveTimer = setTimeout(() => {
    const answer = currentAnswer(step);
    if (answer !== undefined && !same(answer, lastHandedIn(step))) submit(step, answer);
  }, 700);
}

/** The answer for `step` last handed in: the one waiting to be sent, else the saved one. */
function lastHandedIn(step) {
  const pending = storage.getJSON(pendingKey());
  if (pending && pending.step === step) return pending.answer;
  const saved = state && state.answers ? state.answers[step] : null;
  return saved ?? null;
}

function announce(text) {
  setText(announcer, "");
  setTimeout(() => setText(announcer, text), 30);
}

// -- rendering -------------------------------------------------------------------------------
function keyOf(s) {
  if (!s) return `join:${code}:${notice || ""}`;
  return JSON.stringify([s.session.step, s.session.open, s.session.closed, s.remaining,
    s.group_discard, s.discard_tied, s.participant.group.id]);
}

function render() {
  renderBar();
  const key = keyOf(state);
  if (key === viewKey) {
    refreshSave();
    return;
  }
  viewKey = key;
  clearTimeout(autosaveTimer);
  let view;
  if (!code) view = codeForm();
  else if (!token || !state) view = token ? loading() : joinForm();
  else view = stepView();
  app.replaceChildren(...[view].flat());
  refreshSave();
}

function renderBar() {
  if (!state) {
    setText(stepLabel, code ? `Join ${code}` : "Join a workshop");
    setText(whoLabel, "");
    whoLabel.parentElement.hidden = true;
    document.title = code ? `Join ${code} · facilitator` : "Join · facilitator";
    return;
  }
  const { session, deck, participant } = state;
  const steps = deckSteps(session.steps, deck);
  const index = steps.indexOf(session.step);
  const status = session.closed ? "ended"
    : ["discard", "rank", "top"].includes(session.step) ? (session.open ? "open" : "closed") : "";
  setText(stepLabel, `${index >= 0 ? `${index + 1}/${steps.length} · ` : ""}${stepName(session.step, deck)}${status ? ` · ${status}` : ""}`);
  stepLabel.dataset.step = session.step;
  // Each name isolated (<bdi>): a right-to-left name cannot reorder the group's name.
  // A long name is cut with an ellipsis, never the table's name.
  const who = [participant.name ? h("bdi", { class: "me" }, participant.name) : null,
    participant.name ? h("span", { class: "sep" }, " · ") : null, h("bdi", { class: "table" }, participant.group.name)];
  if (whoLabel.textContent !== `${participant.name ? `${participant.name} · ` : ""}${participant.group.name}`) {
    whoLabel.replaceChildren(...who.filter(Boolean));
  }
  whoLabel.parentElement.hidden = false;
  document.title = `${stepName(session.step, deck)} · ${session.code}`;
}

function loading() {
  return h("section", { class: "card" }, h("p", { class: "lead" }, "Reconnecting to the workshop…"));
}

function codeForm() {
  const input = h("input", {
    id: "code-input", class: "code-input", name: "code", autocomplete: "off", autocapitalize: "characters",
    spellcheck: "false", maxlength: "12", placeholder: "K7QX9M", required: true,
  });
  const form = h("form", { class: "stack", novalidate: true, on: { submit: (e) => {
    e.preventDefault();
    const value = input.value.replace(/\s+/g, "").toUpperCase();
    if (value) window.location.assign(`/j/${encodeURIComponent(value)}`);
  } } },
  h("label", { for: "code-input" }, "Join code"), input,
  h("button", { class: "button primary big", type: "submit" }, "Continue"));
  return h("section", { class: "card" },
    h("h1", {}, "Join a workshop"),
    h("p", { class: "lead" }, "Type the code shown on the projector."),
    notice ? h("p", { class: "form-error", role: "alert" }, notice) : null,
    form);
}

function joinForm() {
  const nameInput = h("input", {
    id: "name", name: "name", maxlength: "40", autocomplete: "nickname", autocapitalize: "words",
    enterkeyhint: "done",
  });
  const error = h("p", { class: "form-error", role: "alert", hidden: !notice }, notice || "");
  const button = h("button", { class: "button primary big", type: "submit", id: "join-button" }, "Join");
  let groupField;
  if (knownGroups.length) {
    groupField = h("fieldset", { class: "choice-tiles" },
      h("legend", {}, "Your table"),
      knownGroups.map((g, i) => h("label", { class: "tile" },
        h("input", { type: "radio", name: "group", value: g.id, required: true, checked: knownGroups.length === 1 && i === 0 }),
        h("span", {}, g.name))));
  } else {
    groupField = h("p", { class: "muted" }, "You will be placed at the table with the fewest people.");
  }
  const form = h("form", { class: "stack", id: "join-form", novalidate: true, on: { submit: async (e) => {
    e.preventDefault();
    const chosen = form.querySelector("input[name=group]:checked");
    if (knownGroups.length && !chosen) {
      error.hidden = false;
      setText(error, "Choose your table.");
      return;
    }
    button.disabled = true;
    setText(button, "Joining…");
    try {
      const reply = await request(socket, "join", {
        code, name: nameInput.value.trim() || null, group: chosen ? Number(chosen.value) : null,
      });
      token = reply.token;
      storage.set(tokenKey(), token);
      notice = null;
      applyState(reply.state);
    } catch (err) {
      button.disabled = false;
      setText(button, "Join");
      error.hidden = false;
      setText(error, err.code === "offline" || err.code === "timeout"
        ? "No connection to the workshop yet. Check the Wi-Fi and try again." : err.message);
    }
  } } },
  h("div", { class: "field" },
    h("label", { for: "name" }, "Your name ", h("span", { class: "optional" }, "(optional)")),
    nameInput),
  groupField, error, button);
  const title = body.dataset.title;
  return h("section", { class: "card" },
    h("h1", {}, title || "Join the workshop"),
    h("p", { class: "lead" }, "Code ", h("strong", { class: "code" }, code), " · ",
      h("a", { href: "/j" }, "not this one?")),
    form);
}

function statementText(n) {
  return texts.get(n) || `Statement ${n}`;
}

function chip(n) {
  return h("span", { class: "num", "aria-hidden": "true" }, n);
}

function stepView() {
  const { session } = state;
  if (session.closed) {
    return waitCard("This workshop has ended", "Thank you for taking part. The results stay on the projector.", yourAnswers());
  }
  switch (session.step) {
    case "lobby": return lobbyView();
    case "discard": return session.open ? discardView() : discardDecided();
    case "rank": return rankView();
    case "similarities":
      return tableSimilarities(state.similarities, statementText) || waitCard("Discuss with your table",
        "Where do you agree, and where do you differ? The projector shows the statements your table is split on.",
        myRanking("Your ranking"));
    case "top": return topView();
    case "results":
      return waitCard("Results", "Look at the projector: your table's consensus, the other tables and the whole room.", yourAnswers());
    default:
      return waitCard("Please wait", "The trainer will open the next step.");
  }
}

function waitCard(title, text, ...extra) {
  return [h("section", { class: "card wait" }, h("h1", {}, title), h("p", { class: "lead" }, text)), ...extra];
}

function statementList(numbers, cls = "plain-list") {
  return h("ol", { class: cls }, numbers.map((n) => h("li", { dataset: { statement: n } }, chip(n), h("span", { class: "text" }, statementText(n)))));
}

function lobbyView() {
  const numbers = state.deck.statements.map((s) => s.number);
  return [
    h("section", { class: "card wait" },
      h("h1", {}, "You're in"),
      h("p", { class: "lead" }, "Wait for the trainer to start. Meanwhile, read the statements and talk them over with your table.")),
    h("section", { class: "card" }, h("h2", {}, "The statements"), statementList(numbers)),
  ];
}

function myRanking(title) {
  const rank = state.answers && state.answers.rank;
  if (!rank) return null;
  return h("section", { class: "card" }, h("h2", {}, title), statementList(rank, "plain-list numbered"));
}

function yourAnswers() {
  const a = state.answers || {};
  const parts = [];
  if (state.group_discard) {
    parts.push(h("h2", {}, "Your table discarded"), statementList([state.group_discard]));
  }
  if (a.top) parts.push(h("h2", {}, `Your top ${a.top.length}`), statementList(a.top, "plain-list numbered"));
  else if (a.rank) parts.push(h("h2", {}, "Your ranking"), statementList(a.rank, "plain-list numbered"));
  return parts.length ? h("section", { class: "card" }, parts) : null;
}

// -- discard ---------------------------------------------------------------------------------
function discardView() {
  const pending = storage.getJSON(pendingKey());
  local.discardChoice = pending && pending.step === "discard" ? pending.answer : state.answers.discard;
  local.confirming = null;
  const list = h("ul", { class: "choice-list", id: "discard-list" },
    state.deck.statements.map((s) => h("li", {},
      h("button", {
        type: "button", class: "choice", dataset: { statement: s.number }, "aria-pressed": "false",
        on: { click: () => askDiscard(s.number) },
      }, chip(s.number), h("span", { class: "text" }, s.text), h("span", { class: "badge" }, "Your vote")))));
  const sheet = h("div", { class: "confirm-sheet", id: "confirm-sheet", hidden: true, role: "dialog", "aria-labelledby": "confirm-q" },
    h("p", { id: "confirm-q", class: "confirm-q" }),
    h("p", { class: "confirm-text", id: "confirm-text" }),
    h("div", { class: "button-row" },
      h("button", { type: "button", class: "button secondary", id: "confirm-cancel", on: { click: () => closeConfirm() } }, "Cancel"),
      h("button", { type: "button", class: "button primary", id: "confirm-yes", on: { click: () => confirmDiscard() } }, "Discard it")));
  const view = [
    h("section", { class: "card" },
      h("h1", {}, "Which statement should your table discard?"),
      h("p", { class: "hint" }, "Tap one, then confirm. You can change your vote until the trainer closes this step."),
      list),
    sheet,
  ];
  queueMicrotask(updateDiscardMarks);
  return view;
}

function askDiscard(n) {
  local.confirming = n;
  const sheet = $("#confirm-sheet");
  setText($("#confirm-q"), `Discard statement ${n}?`);
  setText($("#confirm-text"), statementText(n));
  setText($("#confirm-yes"), `Discard ${n}`);
  sheet.hidden = false;
  app.classList.add("has-sheet");
  $("#confirm-yes").focus();
  updateDiscardMarks();
}

function closeConfirm() {
  const n = local.confirming;
  local.confirming = null;
  $("#confirm-sheet").hidden = true;
  app.classList.remove("has-sheet");
  updateDiscardMarks();
  const back = n && app.querySelector(`button.choice[data-statement="${n}"]`);
  if (back) back.focus();
}

function confirmDiscard() {
  const n = local.confirming;
  if (!n) return;
  local.discardChoice = n;
  closeConfirm();
  submit("discard", n);
  announce(`Your vote: discard statement ${n}.`);
}

function updateDiscardMarks() {
  for (const button of app.querySelectorAll("button.choice[data-statement]")) {
    const n = Number(button.dataset.statement);
    button.setAttribute("aria-pressed", String(n === local.discardChoice));
    button.classList.toggle("chosen", n === local.discardChoice);
    button.classList.toggle("confirming", n === local.confirming);
  }
}

function discardDecided() {
  const mine = state.answers.discard;
  const parts = [];
  if (state.group_discard) {
    parts.push(h("section", { class: "card decided" },
      h("h1", {}, "Your table discards"),
      statementList([state.group_discard], "plain-list big"),
      h("p", { class: "muted" }, "Wait for the trainer to open the next step.")));
  } else if (state.discard_tied) {
    parts.push(h("section", { class: "card wait" },
      h("h1", {}, "Your table is tied"),
      h("p", { class: "lead" }, `The votes are tied between ${listWords(state.discard_tied)}. The trainer will settle it.`),
      statementList(state.discard_tied)));
  } else {
    parts.push(...waitCard("Voting is closed", "The trainer will open the next step."));
  }
  if (mine) parts.push(h("p", { class: "muted center" }, `Your vote was statement ${mine}.`));
  return parts;
}

function listWords(numbers) {
  const words = numbers.map((n) => `statement ${n}`);
  return words.length > 1 ? `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}` : words[0];
}

// -- ordering (rank and top) -----------------------------------------------------------------
function validOrder(order, allowed, size) {
  if (!Array.isArray(order) || order.length !== size) return false;
  const set = new Set(order);
  return set.size === order.length && order.every((n) => allowed.has(n));
}

/**
 * A list reordered three ways: drag the handle (touch or mouse, SortableJS), the move up / move
 * down buttons on each item, or the keyboard on those buttons. `onChange(order)` after each move.
 */
function orderList(order, { id, label, onChange }) {
  const list = h("ol", { class: "order-list", id, "aria-label": label });
  const item = (n) => h("li", { class: "order-item", dataset: { statement: n } },
    h("span", { class: "handle", title: "Drag to move", "aria-hidden": "true" },
      h("span", { class: "pos" }), h("span", { class: "grip" }, "⋮⋮")),
    h("span", { class: "body" }, h("span", { class: "num-inline" }, `${n}`), h("span", { class: "text" }, statementText(n))),
    h("span", { class: "moves" },
      h("button", { type: "button", class: "move up", dataset: { dir: "-1" }, "aria-label": `Move statement ${n} up` }, "▲"),
      h("button", { type: "button", class: "move down", dataset: { dir: "1" }, "aria-label": `Move statement ${n} down` }, "▼")));
  list.append(...order.map(item));

  const read = () => Array.from(list.children).map((li) => Number(li.dataset.statement));
  const renumber = () => {
    const items = Array.from(list.children);
    items.forEach((li, i) => {
      setText(li.querySelector(".pos"), i + 1);
      li.querySelector(".move.up").disabled = i === 0;
      li.querySelector(".move.down").disabled = i === items.length - 1;
    });
  };
  list.addEventListener("click", (e) => {
    const button = e.target.closest("button.move");
    if (!button || button.disabled) return;
    const li = button.closest("li");
    const dir = Number(button.dataset.dir);
    const sibling = dir < 0 ? li.previousElementSibling : li.nextElementSibling;
    if (!sibling) return;
    if (dir < 0) list.insertBefore(li, sibling);
    else list.insertBefore(sibling, li);
    renumber();
    const position = Array.from(list.children).indexOf(li) + 1;
    // Keep the keyboard where it was: on the same button of the moved item, or its twin at an end.
    const again = li.querySelector(dir < 0 ? ".move.up" : ".move.down");
    (again.disabled ? li.querySelector(dir < 0 ? ".move.down" : ".move.up") : again).focus();
    li.classList.remove("moved");
    void li.offsetWidth; // restart the highlight animation
    li.classList.add("moved");
    announce(`Statement ${li.dataset.statement} moved to position ${position} of ${list.children.length}.`);
    onChange(read());
  });
  Sortable.create(list, {
    handle: ".handle",
    animation: 150,
    forceFallback: true, // the same pointer-driven drag for touch and mouse
    fallbackOnBody: true,
    ghostClass: "drag-ghost",
    chosenClass: "drag-chosen",
    onEnd: (evt) => {
      renumber();
      if (evt.oldIndex !== evt.newIndex) {
        announce(`Statement ${evt.item.dataset.statement} moved to position ${evt.newIndex + 1}.`);
        onChange(read());
      }
    },
  });
  renumber();
  return list;
}

function saveButton(label, ready, onClick) {
  return h("button", {
    type: "button", class: "button primary big save-button", "data-save-button": true,
    dataset: { label, ready: ready ? "1" : "0" }, on: { click: onClick },
  }, label);
}

function rankView() {
  const { session } = state;
  const remaining = state.remaining;
  if (!remaining) {
    if (state.discard_tied) {
      return waitCard("Waiting for the trainer",
        `Your table's discard is tied between ${listWords(state.discard_tied)}. The trainer will settle it, then you can rank.`);
    }
    return waitCard("Waiting for your table's discard", "The trainer will close the discard vote first.");
  }
  const allowed = new Set(remaining);
  const saved = state.answers.rank;
  if (!session.open) {
    return [
      ...waitCard("Ranking is closed", saved ? "This is the ranking you saved." : "You did not save a ranking."),
      saved ? h("section", { class: "card" }, statementList(saved, "plain-list numbered")) : null,
    ];
  }
  const pending = storage.getJSON(pendingKey());
  const candidates = [
    pending && pending.step === "rank" ? pending.answer : null,
    storage.getJSON(draftKey("rank")),
    saved,
    remaining,
  ];
  local.rank = candidates.find((o) => validOrder(o, allowed, remaining.length)).slice();
  const list = orderList(local.rank, {
    id: "rank-list",
    label: "Your ranking, most important first",
    onChange: (order) => {
      local.rank = order;
      storage.setJSON(draftKey("rank"), order);
      lastError = null;
      refreshSave();
      scheduleAutosave("rank");
    },
  });
  if (saved && !same(local.rank, saved)) queueMicrotask(() => scheduleAutosave("rank"));
  return [
    h("section", { class: "card" },
      h("h1", {}, "Rank the statements"),
      h("p", { class: "hint" }, "Most important at the top. Drag a number, or use ▲ ▼."),
      state.group_discard ? h("p", { class: "muted small" }, `Your table discarded statement ${state.group_discard}.`) : null),
    list,
    h("div", { class: "save-bar" },
      saveButton("Save my ranking", true, () => submit("rank", local.rank)),
      h("p", { class: "muted small" }, "You can keep changing it until the trainer closes this step.")),
  ];
}

// -- top five --------------------------------------------------------------------------------
function topSize() {
  return (state && state.deck && state.deck.top) || 5;
}

function topView() {
  const { session } = state;
  const remaining = state.remaining;
  const size = topSize();
  if (!remaining) {
    return waitCard("Waiting for the trainer", "Your table's discard has to be settled first.");
  }
  const saved = state.answers.top;
  if (!session.open) {
    return [
      ...waitCard(`Top ${size} is closed`, saved ? `This is the top ${size} you saved.` : `You did not save a top ${size}.`),
      saved ? h("section", { class: "card" }, statementList(saved, "plain-list numbered")) : null,
    ];
  }
  const allowed = new Set(remaining);
  const pending = storage.getJSON(pendingKey());
  const draft = storage.getJSON(draftKey("top"));
  const fromPending = pending && pending.step === "top" ? pending.answer : null;
  if (validOrder(fromPending, allowed, size)) {
    local.top = fromPending.slice();
    local.topPhase = "order";
  } else if (draft && Array.isArray(draft.picks) && draft.picks.every((n) => allowed.has(n)) && new Set(draft.picks).size === draft.picks.length && draft.picks.length <= size) {
    local.top = draft.picks.slice();
    local.topPhase = draft.phase === "order" && draft.picks.length === size ? "order" : "pick";
  } else if (validOrder(saved, allowed, size)) {
    local.top = saved.slice();
    local.topPhase = "order";
  } else {
    local.top = [];
    local.topPhase = "pick";
  }
  return local.topPhase === "order" ? topOrder() : topPick();
}

function saveTopDraft() {
  storage.setJSON(draftKey("top"), { picks: local.top, phase: local.topPhase });
}

function rerenderTop() {
  saveTopDraft();
  app.replaceChildren(...[topView()].flat());
  refreshSave();
  window.scrollTo({ top: 0 });
}

function topPick() {
  const size = topSize();
  // Offer them in the participant's own ranking order, so their top is at the top.
  const rank = state.answers.rank && state.answers.rank.length === state.remaining.length
    ? state.answers.rank : state.remaining;
  const counter = h("p", { class: "counter", id: "pick-counter", role: "status" });
  const next = h("button", { type: "button", class: "button primary big", id: "to-order", on: { click: () => {
    local.topPhase = "order";
    rerenderTop();
  } } }, "Next: put them in order");
  const list = h("ul", { class: "choice-list pick-list", id: "pick-list" }, rank.map((n) => h("li", {},
    h("button", { type: "button", class: "choice pick", dataset: { statement: n }, "aria-pressed": "false", on: { click: () => togglePick(n) } },
      h("span", { class: "check", "aria-hidden": "true" }), chip(n), h("span", { class: "text" }, statementText(n))))));
  const update = () => {
    const chosen = new Set(local.top);
    for (const button of list.querySelectorAll("button.pick")) {
      const n = Number(button.dataset.statement);
      const on = chosen.has(n);
      button.setAttribute("aria-pressed", String(on));
      button.classList.toggle("chosen", on);
      button.disabled = !on && chosen.size >= size;
      const check = button.querySelector(".check");
      setText(check, on ? String(local.top.indexOf(n) + 1) : "");
    }
    setText(counter, `${local.top.length} of ${size} chosen`);
    counter.classList.toggle("done", local.top.length === size);
    next.disabled = local.top.length !== size;
  };
  function togglePick(n) {
    const at = local.top.indexOf(n);
    if (at >= 0) local.top.splice(at, 1);
    else if (local.top.length < size) local.top.push(n);
    saveTopDraft();
    update();
    refreshSave();
    announce(`${local.top.length} of ${size} chosen.`);
  }
  update();
  return [
    h("section", { class: "card" },
      h("h1", {}, `Pick your top ${size}`),
      h("p", { class: "hint" }, `Tap the ${size} statements that matter most. Next you put them in order.`)),
    h("div", { class: "sticky-counter" }, counter),
    list,
    h("div", { class: "save-bar" }, next),
  ];
}

function topOrder() {
  const size = topSize();
  const saved = state.answers.top;
  if (saved && !same(local.top, saved)) queueMicrotask(() => scheduleAutosave("top"));
  const list = orderList(local.top, {
    id: "top-list",
    label: `Your top ${size}, most important first`,
    onChange: (order) => {
      local.top = order;
      saveTopDraft();
      lastError = null;
      refreshSave();
      scheduleAutosave("top");
    },
  });
  return [
    h("section", { class: "card" },
      h("h1", {}, `Order your top ${size}`),
      h("p", { class: "hint" }, "Most important at the top. Drag a number, or use ▲ ▼."),
      h("button", { type: "button", class: "button secondary small", id: "change-picks", on: { click: () => {
        local.topPhase = "pick";
        rerenderTop();
      } } }, "← Change my picks")),
    list,
    h("div", { class: "save-bar" }, saveButton(`Save my top ${size}`, true, () => submit("top", local.top))),
  ];
}

// Start: with no stored token the join form can show at once; with one, wait for `resume`.
render();
