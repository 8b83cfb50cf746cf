// Start page: join with a code, or create a workshop (POST /api/sessions, then go to its console).
import { $, h, setText } from "./dom.js";

const decks = JSON.parse(document.body.dataset.decks || "[]");
const deckSelect = $("#deck");
const own = $("#own-statements");
const preview = $("#deck-preview");

function showDeck() {
  const deck = decks.find((d) => d.id === deckSelect.value);
  own.hidden = Boolean(deck);
  preview.hidden = !deck;
  if (deck) {
    $("#deck-statements").replaceChildren(...deck.statements.map((s) => h("li", { value: s.number }, s.text)));
    setText(preview.querySelector("summary"),
      `Show the ${deck.statements.length} statements (discard ${deck.discard}, top ${deck.top})`);
  }
}
deckSelect.addEventListener("change", showDeck);
showDeck();

$("#join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const code = $("#join-code").value.replace(/\s+/g, "").toUpperCase();
  if (code) window.location.assign(`/j/${encodeURIComponent(code)}`);
  else $("#join-code").focus();
});

// Names given: the count follows them where the trainer can see it (a count changed afterwards
// that disagrees with the names is refused by the server, with both numbers).
$("#group-names").addEventListener("input", () => {
  const names = $("#group-names").value.split("\n").filter((n) => n.trim());
  if (names.length) $("#group-count").value = String(names.length);
});

const form = $("#create-form");
const errorBox = $("#create-error");
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  errorBox.hidden = true;
  const body = {};
  const title = $("#title").value.trim();
  if (title) body.title = title;
  if (deckSelect.value) {
    body.deck = deckSelect.value;
  } else {
    body.deck = null;
    body.statements = $("#statements").value;
    body.discard = Number($("#discard").value);
    body.top = Number($("#top").value);
    if (!body.statements.trim()) return fail("Paste your statements, one per line.");
  }
  // Both go to the server, which refuses a count that disagrees with the names.
  const names = $("#group-names").value.split("\n").map((n) => n.trim()).filter(Boolean);
  if (names.length) body.groups = names;
  body.group_count = Number($("#group-count").value) || 1;
  body.shuffle = $("#shuffle").checked;
  const trainerSecret = $("#trainer-secret"); // only when the server asks for one
  if (trainerSecret) body.trainer_secret = trainerSecret.value;

  const button = $("#create-button");
  button.disabled = true;
  setText(button, "Creating…");
  try {
    const response = await fetch("/api/sessions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const reply = await response.json().catch(() => ({}));
    if (response.status === 201 && reply.facilitator_url) {
      window.location.assign(reply.facilitator_url);
      return;
    }
    fail((reply.error && reply.error.message) || `The server answered ${response.status}.`);
  } catch {
    fail("Could not reach the server.");
  }
  button.disabled = false;
  setText(button, "Create workshop");
});

function fail(message) {
  errorBox.hidden = false;
  setText(errorBox, message);
}
