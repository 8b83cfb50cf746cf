// The answer waiting to be sent: kept in storage before it is emitted, removed only on its
// ack, resent (same id) after a reconnect, a reload or the phone waking up. One at a time, so
// an older answer never lands after a newer one.
//
// The outbox knows nothing of the page: it reports through callbacks (`onChange` after every
// change of what is pending or in flight, `onSaved(answers)`, `onRefused(error)`, `onGone()`
// when the server no longer knows this phone).

// "busy": the server's handler places are all taken (a slow disk, a whole room at once).
const RETRY_CODES = ["timeout", "offline", "rate_limited", "internal", "busy"];
const RETRY_MS = 3000;

function newId(step) {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${step[0]}-${Date.now().toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`;
}

/**
 * `storage` and `key()` say where the pending answer is kept; `send(pending)` emits it and
 * resolves with the ack; `ready()` says whether sending makes sense now (token, state, socket).
 */
export function createOutbox({ storage, key, send, ready, onChange, onSaved, onRefused, onGone }) {
  let inFlight = false;
  let retryTimer = null;
  let error = null; // the last refused answer's message, until the next answer or step

  const pending = () => storage.getJSON(key());

  return {
    pending,
    get error() { return error; },
    get inFlight() { return inFlight; },

    /** Forget the last refusal (a new answer, or a new step). */
    clearError() { error = null; },

    /** Keep the answer on the phone, then send it (`round`: the round it was made in). */
    put(step, answer, round) {
      error = null;
      storage.setJSON(key(), { step, answer, round, id: newId(step) });
      onChange();
      this.flush();
    },

    /** Drop the pending answer (its step is over, or this phone left). */
    drop() { storage.remove(key()); },

    /** Send the pending answer, if any and if sending makes sense now. */
    async flush() {
      clearTimeout(retryTimer);
      const sending = pending();
      if (!sending || inFlight || !ready()) {
        onChange();
        return;
      }
      inFlight = true;
      onChange();
      try {
        const reply = await send(sending);
        const now = pending();
        if (now && now.id === sending.id) storage.remove(key());
        onSaved(reply.answers);
      } catch (err) {
        if (RETRY_CODES.includes(err.code)) {
          retryTimer = setTimeout(() => this.flush(), RETRY_MS);
        } else if (err.code === "bad_token") {
          inFlight = false;
          onGone();
          return;
        } else {
          // refused: drop it, unless a newer answer has replaced it meanwhile
          const now = pending();
          if (now && now.id === sending.id) storage.remove(key());
          error = err.message;
          onRefused(err);
        }
      } finally {
        inFlight = false;
      }
      const next = pending();
      if (next && next.id !== sending.id) this.flush();
      else onChange();
    },
  };
}
