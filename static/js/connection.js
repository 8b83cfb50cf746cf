// One Socket.IO connection per page, its state shown in a status pill, and requests with
// acknowledgements and a timeout (docs/protocol.md: every event is acked).
import { io } from "../vendor/socket.io/socket.io.esm.min.js";

const LABELS = {
  connecting: "Connecting…",
  online: "Online",
  back: "Back online",
  reconnecting: "Reconnecting…",
  offline: "Offline – retrying",
};

export class RequestError extends Error {
  constructor(code, message, extra = {}) {
    super(message);
    this.code = code;
    Object.assign(this, extra);
  }
}

/**
 * Connect and keep connected. `onConnect(first)` runs on every (re)connection, and again when the
 * page becomes visible after being hidden (phones sleep and freeze tabs): that is where a page
 * re-identifies itself and resyncs.
 */
export function connect({ pill, onConnect, onStatus } = {}) {
  const socket = io({ reconnectionDelay: 500, reconnectionDelayMax: 4000, timeout: 8000 });
  let everConnected = false;
  let backTimer = null;

  function show(state) {
    if (pill) {
      pill.dataset.state = state;
      pill.textContent = LABELS[state];
    }
    if (onStatus) onStatus(state);
  }

  socket.on("connect", () => {
    const first = !everConnected;
    everConnected = true;
    clearTimeout(backTimer);
    if (first) {
      show("online");
    } else {
      show("back");
      backTimer = setTimeout(() => { if (socket.connected) show("online"); }, 3000);
    }
    if (onConnect) onConnect(first);
  });
  socket.on("disconnect", (reason) => {
    show(everConnected ? "reconnecting" : "connecting");
    // The server closed us on purpose (e.g. an oversized message): reconnect anyway.
    if (reason === "io server disconnect") socket.connect();
  });
  socket.on("connect_error", () => show(everConnected ? "reconnecting" : "connecting"));
  socket.io.on("reconnect_failed", () => show("offline"));

  let hiddenAt = null;
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      hiddenAt = Date.now();
      return;
    }
    if (!socket.connected) {
      socket.connect();
    } else if (hiddenAt !== null && onConnect) {
      onConnect(false); // the socket may have survived but missed pushes: resync
    }
    hiddenAt = null;
  });
  window.addEventListener("online", () => { if (!socket.connected) socket.connect(); });

  show("connecting");
  return socket;
}

/** Emit `event` with an ack; resolves with the ack's payload, rejects with a RequestError. */
export function request(socket, event, payload, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    if (!socket.connected) {
      reject(new RequestError("offline", "Not connected."));
      return;
    }
    socket.timeout(timeoutMs).emit(event, payload, (err, reply) => {
      if (err) {
        reject(new RequestError("timeout", "No answer from the server."));
      } else if (!reply || reply.ok !== true) {
        const e = (reply && reply.error) || {};
        reject(new RequestError(e.code || "error", e.message || "Something went wrong.", { rule: e.rule }));
      } else {
        resolve(reply);
      }
    });
  });
}

const RETRY_FIRST = 2000;
const RETRY_MAX = 10000;
const FINAL = ["bad_token", "forbidden"];

/**
 * Identify this page to the server with `event` (the projector's `watch`, the console's
 * `facilitate`) and keep at it: a refusal that passes (busy, rate_limited, a timeout, offline) is
 * tried again after 2 s, then 4 s, 8 s, at most every 10 s; a bad or forbidden link is final.
 * Returns the function to call on every (re)connection: it starts over, and an answer to an
 * earlier attempt is then ignored.
 */
export function subscription(socket, event, payload, { onReply, onError }) {
  let attempt = 0;
  let timer = null;

  function tryNow(delay) {
    clearTimeout(timer);
    const mine = ++attempt;
    request(socket, event, payload)
      .then((reply) => { if (mine === attempt) onReply(reply); })
      .catch((err) => {
        if (mine !== attempt) return;
        onError(err);
        if (!FINAL.includes(err.code)) timer = setTimeout(() => tryNow(Math.min(delay * 2, RETRY_MAX)), delay);
      });
  }

  return () => tryNow(RETRY_FIRST);
}
