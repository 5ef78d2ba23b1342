// `sandboxPeer`: calls between the two instances of a JavaScript run (see src/js_peer.rs). The
// host puts this before the program of a run that has a peer, and before the peer's program.
//
// - In the main instance, `sandboxPeer.call(text)` hands `text` to the peer and returns its
//   answer (a string), or throws a `sandboxPeer.PeerError` whose message says why there is none
//   (`raised: <type>`, `no-handler`, `too-long`, or how the peer ended: `time-limit`,
//   `memory-limit`, `exited: <code>`, `trap: <message>`; after an ending every call fails so).
// - In the peer, which runs afresh for each call, `sandboxPeer.serve(handler)` hands the call's
//   text to `handler` and sends back what it returns (a string).
//
// Both go through one file descriptor the host keeps for this (QuickJS has no other way out of
// a WASI command): what is written to it is the message, and reading it to its end gives the
// reply. Text crosses as UTF-8; QuickJS has no TextEncoder, so `encodeURIComponent`/`unescape`
// (and back) turn it into one character per byte, in native code.
const sandboxPeer = (function () {
  "use strict";
  const FD = 1073741824;
  const CHUNK = 8192;
  const osRead = os.read, osWrite = os.write;
  const fromCharCode = String.fromCharCode, apply = Function.prototype.apply;
  const encode = encodeURIComponent, decode = decodeURIComponent, esc = escape, unesc = unescape;
  class PeerError extends Error {}
  PeerError.prototype.name = "PeerError";

  function send(text) {
    const bytes = unesc(encode(String(text)));
    const view = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) view[i] = bytes.charCodeAt(i);
    let at = 0;
    while (at < view.length) {
      const n = osWrite(FD, view.buffer, at, view.length - at);
      if (!(n > 0)) throw new PeerError("the host refused the message");
      at += n;
    }
  }

  function receive() {
    const view = new Uint8Array(65536);
    const parts = [];
    for (;;) {
      const n = osRead(FD, view.buffer, 0, view.length);
      if (n < 0) throw new PeerError("the host's channel failed");
      if (n === 0) break;
      for (let at = 0; at < n; at += CHUNK) {
        parts.push(apply.call(fromCharCode, null, view.subarray(at, Math.min(n, at + CHUNK))));
      }
    }
    return decode(esc(parts.join("")));
  }

  function errorName(error) {
    try {
      if (error !== null && typeof error === "object" && typeof error.name === "string") {
        return error.name.slice(0, 80);
      }
    } catch (_) {}
    return typeof error;
  }

  // The main instance's side: the reply is `o<answer>` or `e<why there is none>`.
  function call(message) {
    send(message);
    const reply = receive();
    if (reply[0] === "o") return reply.slice(1);
    throw new PeerError(reply.slice(1));
  }

  // The peer's side: the answer is `o<text>`, or `r<type>` when the handler threw.
  function serve(handler) {
    const message = receive();
    let answer;
    try {
      answer = handler(message);
    } catch (error) {
      send("r" + errorName(error));
      return;
    }
    if (typeof answer !== "string") {
      send("rthe handler returned no string");
      return;
    }
    send("o" + answer);
  }

  return Object.freeze({ call, serve, PeerError });
})();
