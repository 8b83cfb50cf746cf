// The participant's phone: join, then answer the step the trainer has open.
//
// The server sends `state` (docs/protocol.md); this page renders it. Calls go one way:
// this module (page state, socket, actions) → outbox (answers waiting to be sent) → storage;
// and this module → views (screens) → order list. The outbox reports back through callbacks;
// views change no state while they build a screen.
import { $, h, setText } from "./dom.js";
import { connect, request } from "./connection.js";
import { deckSteps, INPUT_STEPS, statementMap, stepName } from "./words.js";
import { createStorage, parseJSON, sessionKeys } from "./phone/storage.js";
import { createOutbox } from "./phone/outbox.js";
import { validOrder } from "./phone/order-list.js";
import * as views from "./phone/views.js";
import { boardScreen } from "./phone/board.js";

const body = document.body;
const app = $("#app");
const stepLabel = $("#step-label");
const whoLabel = $("#who");
const savePill = $("#save-state");
const announcer = $("#announce");

const code = (body.dataset.code || "").trim().toUpperCase();
const knownGroups = parseJSON(body.dataset.groups, []);
const storage = createStorage();
const keys = sessionKeys(code);

// -- page state ------------------------------------------------------------------------------
const page = {
  token: code ? storage.get(keys.token) : null,
  state: null, // the last `state` from the server
  texts: new Map(),
  viewKey: null, // what the current screen was built from; same key = keep the screen
  shown: null, // the step (in words) of the screen on show
  notice: null, // a message for the join form (removed, unknown code…)
  autosaveTimer: null,
  resyncTimer: null, // the next resume after a refused one
  board: null, // the table board on screen: { view, update }
};
// What the participant has on screen, before it is handed in.
const local = { discardChoice: null, confirming: null, rank: null, top: null, topPhase: "pick" };

const outbox = createOutbox({
  storage,
  key: () => keys.pending,
  ready: () => Boolean(page.token && page.state && socket.connected),
  send: (p) => request(socket, "submit", { token: page.token, step: p.step, answer: p.answer, id: p.id }),
  onChange: () => { refreshSave(); updateDiscardMarks(); },
  onSaved: (answers) => {
    if (!page.state) return;
    page.state.answers = answers;
    if (answers.rank || answers.top) storage.remove(keys.cleared);
    // what this phone has answered, for the "cleared" note: saved answers reach no `state`
    const seen = storage.getJSON(keys.seen);
    if (seen) storage.setJSON(keys.seen, { ...seen, rank: Boolean(answers.rank), top: Boolean(answers.top) });
  },
  onRefused: (err) => {
    if (["wrong_step", "step_closed", "awaiting_discard", "session_closed"].includes(err.code)) resync();
  },
  onGone: () => forget("This phone's place in the workshop has ended. Join again below."),
});

// Created after the outbox: connect() reports its first status at once.
const socket = connect({ pill: $("#conn"), onConnect: resync, onStatus: () => refreshSave() });
socket.on("state", (next) => applyState(next));
socket.on("board", (next) => {
  // A late push from the board of another step or round (the trainer moved on while a move
  // was being saved) is not this board's, whatever its version.
  // Both come from the server's board_view, which names the board's group, round and step.
  const current = page.state && page.state.board;
  if (!current || ["group", "round", "step"].some((k) => next[k] !== current[k])) return;
  if (next.version >= current.version) page.state.board = next;
  if (page.board) page.board.update(next);
});

function resync() {
  clearTimeout(page.resyncTimer); // one resume at a time, however many reconnects asked
  if (page.token) {
    request(socket, "resume", { token: page.token })
      .then((reply) => applyState(reply.state))
      .catch((err) => {
        if (err.code === "bad_token") {
          forget("This phone's place in the workshop has ended. Join again below.");
        } else {
          // slow or busy server (a whole room reconnecting): try again shortly
          if (err.code !== "timeout" && err.code !== "offline") page.notice = err.message;
          render();
          page.resyncTimer = setTimeout(() => { if (socket.connected) resync(); }, 2000);
        }
      });
  } else {
    render();
  }
}

function forget(message) {
  storage.remove(keys.token);
  outbox.drop();
  for (const step of INPUT_STEPS) storage.remove(keys.draft(step));
  storage.remove(keys.seen);
  storage.remove(keys.cleared);
  Object.assign(page, { token: null, state: null, notice: message || null, viewKey: null });
  Object.assign(local, { discardChoice: null, confirming: null, rank: null, top: null, topPhase: "pick" });
  render();
}

function applyState(next) {
  if (!next) return;
  if (next.participant && next.participant.removed) {
    forget("The trainer removed you from this session. You can join again below.");
    return;
  }
  const previous = page.state;
  noticeClearedAnswers(next);
  page.state = next;
  page.texts = statementMap(next.deck);
  const pending = outbox.pending();
  if (pending && !(pending.step === next.session.step && next.session.open && !next.session.closed
      && (pending.round ?? 1) === (next.session.round ?? 1))) {
    // The step (or round) it was for is over: the server would refuse it, or take an earlier
    // round's answer as this round's. Drop it.
    outbox.drop();
  }
  if (previous && previous.session.step !== next.session.step) outbox.clearError();
  render();
  outbox.flush();
}

/**
 * Tell the participant why their ranking or top picks vanished: the trainer re-ran the discard
 * vote and their table's discard came out (or was settled) different, so the server cleared answers made without
 * the old discard (docs/protocol.md). Compared with what this phone saw last (kept in storage,
 * so a reload in between still tells); the note stays until they hand in a new ranking or top.
 */
function noticeClearedAnswers(next) {
  const seen = storage.getJSON(keys.seen);
  const answers = next.answers || {};
  const now = { group: next.participant.group.id, discard: next.group_discard, rank: Boolean(answers.rank), top: Boolean(answers.top) };
  // While a re-vote is tied the server keeps the answers: remember the discard they were made for.
  if (now.discard === null && (now.rank || now.top) && seen && seen.group === now.group) now.discard = seen.discard;
  if (seen && seen.group === now.group && seen.discard !== now.discard && now.discard !== null && (seen.rank || seen.top) && !now.rank && !now.top) {
    const lost = [seen.rank ? "ranking" : null, seen.top ? `top ${topSizeOf(next)}` : null].filter(Boolean).join(" and ");
    const why = `your table's discard changed from statement ${seen.discard} to statement ${now.discard} when the trainer ran the vote again`;
    storage.set(keys.cleared, `Your ${lost} ${seen.rank && seen.top ? "were" : "was"} cleared: ${why}. A ranking without statement ${seen.discard} no longer fits, so please answer again.`);
  } else if (now.rank || now.top) {
    storage.remove(keys.cleared);
  }
  storage.setJSON(keys.seen, now);
}

function topSizeOf(state) {
  return (state && state.deck && state.deck.top) || 5;
}

// -- answers ---------------------------------------------------------------------------------
function submit(step, answer) {
  clearTimeout(page.autosaveTimer);
  outbox.put(step, answer, page.state ? page.state.session.round : 1);
}

function same(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function topSize() {
  return topSizeOf(page.state);
}

/** What is on screen for `step`: undefined when the screen has nothing to compare. */
function currentAnswer(step) {
  if (step === "discard") return local.discardChoice ?? undefined;
  if (step === "rank") return local.rank ?? undefined;
  if (step === "top") return local.top && local.top.length === topSize() ? local.top : undefined;
  return undefined;
}

/** The answer for `step` last handed in: the one waiting to be sent, else the saved one. */
function lastHandedIn(step) {
  const pending = outbox.pending();
  if (pending && pending.step === step) return pending.answer;
  const saved = page.state && page.state.answers ? page.state.answers[step] : null;
  return saved ?? null;
}

function scheduleAutosave(step) {
  clearTimeout(page.autosaveTimer);
  if (lastHandedIn(step) === null) return; // the first save is the participant's call
  page.autosaveTimer = setTimeout(() => {
    const answer = currentAnswer(step);
    if (answer !== undefined && !same(answer, lastHandedIn(step))) submit(step, answer);
  }, 700);
}

/** The save pill and the save buttons: derived from what is pending, saved and on screen. */
function refreshSave() {
  const { state } = page;
  let stateName = "none";
  let text = "";
  const step = state && state.session.step;
  const answering = state && !state.session.closed && state.session.open && INPUT_STEPS.includes(step)
    && state.session.mode !== "table"; // a table board saves each move itself
  const pending = outbox.pending();
  if (answering) {
    const saved = state.answers ? state.answers[step] : null;
    const current = currentAnswer(step);
    if (pending && pending.step === step && current !== undefined && !same(current, pending.answer)) {
      stateName = "dirty"; // changed again since the answer waiting to be sent
      text = "Changes not saved yet";
    } else if (pending && pending.step === step) {
      stateName = socket.connected ? "saving" : "queued";
      text = socket.connected ? "Saving…" : "Not sent yet";
    } else if (outbox.error) {
      stateName = "error";
      text = `Not saved: ${outbox.error}`;
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

function updateDiscardMarks() {
  for (const button of app.querySelectorAll("button.choice[data-statement]:not(.pick)")) {
    const n = Number(button.dataset.statement);
    button.setAttribute("aria-pressed", String(n === local.discardChoice));
    button.classList.toggle("chosen", n === local.discardChoice);
    button.classList.toggle("confirming", n === local.confirming);
  }
}

function announce(text) {
  setText(announcer, "");
  setTimeout(() => setText(announcer, text), 30);
}

function saveTopDraft() {
  storage.setJSON(keys.draft("top"), { picks: local.top, phase: local.topPhase });
}

// -- what the participant does (the views call these) ---------------------------------------
const actions = {
  announce,

  async join(name, group) {
    // One id per join, kept until it succeeds: a join tapped again after its answer was lost
    // (a slow disk, a Wi-Fi drop) gets the same place back instead of a second participant.
    let joinId = storage.get(keys.joinId);
    if (!joinId) {
      const random = crypto.getRandomValues(new Uint32Array(4));
      joinId = Array.from(random, (n) => n.toString(36).padStart(7, "0")).join("");
      storage.set(keys.joinId, joinId);
    }
    const reply = await request(socket, "join", { code, name, group, join_id: joinId });
    storage.remove(keys.joinId);
    page.token = reply.token;
    storage.set(keys.token, page.token);
    page.notice = null;
    applyState(reply.state);
  },

  askDiscard(n) {
    local.confirming = n;
    setText($("#confirm-q"), `Discard statement ${n}?`);
    setText($("#confirm-text"), textOf(n));
    setText($("#confirm-yes"), `Discard ${n}`);
    $("#confirm-sheet").hidden = false;
    app.classList.add("has-sheet");
    $("#confirm-yes").focus();
    updateDiscardMarks();
  },

  closeConfirm() {
    const n = local.confirming;
    local.confirming = null;
    $("#confirm-sheet").hidden = true;
    app.classList.remove("has-sheet");
    updateDiscardMarks();
    const back = n && app.querySelector(`button.choice[data-statement="${n}"]`);
    if (back) back.focus();
  },

  confirmDiscard() {
    const n = local.confirming;
    if (!n) return;
    local.discardChoice = n;
    actions.closeConfirm();
    submit("discard", n);
    announce(`Your vote: discard statement ${n}.`);
  },

  /** The rank or top list was reordered on screen. */
  reordered(step, order) {
    local[step] = order;
    if (step === "rank") storage.setJSON(keys.draft("rank"), order);
    else saveTopDraft();
    outbox.clearError();
    refreshSave();
    scheduleAutosave(step);
  },

  save(step) {
    submit(step, local[step]);
  },

  togglePick(n) {
    const size = topSize();
    const at = local.top.indexOf(n);
    if (at >= 0) local.top.splice(at, 1);
    else if (local.top.length < size) local.top.push(n);
    saveTopDraft();
    refreshSave();
    // no announcement here: the counter on screen is a status region and says it once
  },

  topPhase(phase) {
    local.topPhase = phase;
    saveTopDraft();
    show(views.topView(context()));
    refreshSave();
    window.scrollTo({ top: 0 });
    // the tapped button is gone: the keyboard and screen reader go to the new heading
    const heading = app.querySelector("h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  },
};

// -- rendering -------------------------------------------------------------------------------
/** Put a screen (a node or a list of nodes, where null stands for "nothing here") on the page. */
function show(view) {
  app.replaceChildren(...[view].flat(Infinity).filter((node) => node instanceof Node));
}

function textOf(n) {
  return page.texts.get(n) || `Statement ${n}`;
}

function context() {
  return {
    state: page.state, local, code, notice: page.notice, groups: knownGroups, title: body.dataset.title,
    cleared: storage.get(keys.cleared),
    textOf, topSize: topSize(), actions,
  };
}

function keyOf(s) {
  if (!s) return `join:${code}:${page.notice || ""}`;
  return JSON.stringify([s.session.step, s.session.open, s.session.closed, s.remaining,
    s.group_discard, s.discard_tied, s.participant.group.id, s.session.round, s.session.mode,
    Boolean(s.board), s.similarities ?? null]); // new figures (someone removed): a new screen
}

/**
 * The answer a new screen starts from: the one waiting to be sent, else a draft, else the
 * saved one, else this participant's starting order. Runs before the screen is built, never while.
 */
function prepare() {
  const { state } = page;
  if (!state || state.session.closed || !state.session.open) return;
  const step = state.session.step;
  const pending = outbox.pending();
  const fromPending = pending && pending.step === step ? pending.answer : null;
  if (step === "discard") {
    local.discardChoice = fromPending ?? state.answers.discard;
    local.confirming = null;
    return;
  }
  const remaining = state.remaining;
  if (!remaining) return;
  const allowed = new Set(remaining);
  if (step === "rank") {
    // start_order: the deck's statements in an order shuffled for this participant (server)
    const candidates = [fromPending, storage.getJSON(keys.draft("rank")), state.answers.rank,
      state.start_order, remaining];
    local.rank = candidates.find((o) => validOrder(o, allowed, remaining.length)).slice();
  } else if (step === "top") {
    const size = topSize();
    const draft = storage.getJSON(keys.draft("top"));
    if (validOrder(fromPending, allowed, size)) {
      local.top = fromPending.slice();
      local.topPhase = "order";
    } else if (draft && Array.isArray(draft.picks) && draft.picks.every((n) => allowed.has(n))
        && new Set(draft.picks).size === draft.picks.length && draft.picks.length <= size) {
      local.top = draft.picks.slice();
      local.topPhase = draft.phase === "order" && draft.picks.length === size ? "order" : "pick";
    } else if (validOrder(state.answers.top, allowed, size)) {
      local.top = state.answers.top.slice();
      local.topPhase = "order";
    } else if (state.previous && validOrder(state.previous.top, allowed, size)) {
      local.top = state.previous.top.slice(); // a later round starts from their previous picks
      local.topPhase = "order";
    } else {
      local.top = [];
      local.topPhase = "pick";
    }
  }
}

function render() {
  renderBar();
  const key = keyOf(page.state);
  if (key === page.viewKey) {
    if (page.board && page.state && page.state.board) page.board.update(page.state.board);
    refreshSave();
    return;
  }
  const shown = page.shown;
  page.viewKey = key;
  page.shown = page.state ? stepWords(page.state) : null;
  clearTimeout(page.autosaveTimer);
  prepare();
  let view;
  if (!code) view = views.codeForm(context());
  else if (!page.token || !page.state) view = page.token ? views.loading() : views.joinForm(context());
  else if (onBoard(page.state)) view = boardView(page.state);
  else view = views.stepView(context());
  if (!onBoard(page.state)) page.board = null;
  show(view);
  refreshSave();
  if (page.state) showNewScreen(shown);
  // A screen restored from a draft that differs from the saved answer saves it again.
  const step = page.state && page.state.session.step;
  if ((step === "rank" || step === "top") && app.querySelector(`#${step}-list`)) {
    const saved = page.state.answers[step];
    if (saved && !same(local[step], saved)) scheduleAutosave(step);
  }
}

/** Is the table building one shared answer on this phone now? */
function onBoard(state) {
  return Boolean(state && state.board && state.session.mode === "table" && state.session.open
    && !state.session.closed && page.token);
}

function boardView(state) {
  page.board = boardScreen(state.board, {
    textOf,
    announce,
    me: state.participant.id,
    send: (event, payload) => request(socket, event, { token: page.token, ...payload }),
  });
  return page.board.view;
}

/** "Step 3 of 6: Rank, open": what the bar says, in words for a screen reader. */
function stepWords(state) {
  const { session, deck } = state;
  const steps = deckSteps(session.steps, deck);
  const index = steps.indexOf(session.step);
  const status = session.closed ? "ended"
    : INPUT_STEPS.includes(session.step) ? (session.open ? "open" : "closed") : "";
  return `${index >= 0 ? `Step ${index + 1} of ${steps.length}: ` : ""}${stepName(session.step, deck)}${status ? `, ${status}` : ""}`;
}

/**
 * A new screen starts at its heading: scrolled to the top (the old step's scroll position would
 * leave the heading and instructions above the screen), the heading focused for screen
 * readers, and a change of step or of its open/closed state announced.
 */
function showNewScreen(before) {
  window.scrollTo({ top: 0 });
  const heading = app.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
  const now = page.shown;
  if (before && before !== now) announce(`${now}. ${heading ? heading.textContent : ""}`);
}

function renderBar() {
  const { state } = page;
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
    : INPUT_STEPS.includes(session.step) ? (session.open ? "open" : "closed") : "";
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
  // A long table name wraps and the bar grows: what sticks under it (the top-five counter) follows.
  document.documentElement.style.setProperty("--bar-height", `${$("#phone-bar").offsetHeight}px`);
  document.title = `${stepName(session.step, deck)} · ${session.code}`;
}

// Start: with no stored token the join form can show at once; with one, wait for `resume`.
render();
