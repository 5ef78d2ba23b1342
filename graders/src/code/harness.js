// The code grader's trusted JavaScript harness (QuickJS; see graders/src/code/mod.rs for the
// threat model). The host appends `harnessMain(<config JSON as a string literal>);`, or, for
// the candidate's instance of an `assert` run, `candidateMain(<config>);`.
//
// Same protocol as harness.py: records are lines `<nonce> <json>` on the real standard output;
// the candidate's console output goes to a sink.
// - `call` tests: the candidate runs here; values it returns are checked to be plain data (exact
//   prototypes only) and compared on the host, which alone knows the expected values.
// - `assert` tests: `check(candidate)` runs here and the candidate's code in the run's peer (an
//   instance of its own, run afresh for each call; see sandboxes' js_peer.rs). `candidate` is a
//   proxy: its arguments and results cross as tagged plain data, its exceptions come back as
//   errors of the same type. Nothing of the candidate's ever runs in this realm.

const harnessLib = (function () {
  "use strict";
  // Taken before any other code runs: a candidate's replacements (call mode) cannot reach them.
  const parse = JSON.parse, stringify = JSON.stringify;
  const getPrototypeOf = Object.getPrototypeOf, keys = Object.keys, isArray = Array.isArray;
  const defineProperty = Object.defineProperty, hasOwn = Object.prototype.hasOwnProperty;
  const ObjectProto = Object.prototype, ArrayProto = Array.prototype;
  const FunctionCtor = Function, BigIntCtor = BigInt, StringCtor = String;
  const INTEGER = /^-?[0-9]+$/;
  // Ends the run (QuickJS's `exit`, which flushes standard output first).
  const exitRun = std.exit;

  function short(text, limit) {
    text = StringCtor(text);
    limit = limit || 160;
    return text.length <= limit ? text : text.slice(0, limit - 20) + "..." + text.slice(-17);
  }

  // An error's type and message, whatever was thrown (its own `name` first: an error that
  // crossed from the candidate's instance carries its type there).
  function describe(error) {
    let type = "Error";
    try {
      if (error !== null && typeof error === "object" && hasOwn.call(error, "name") && typeof error.name === "string") {
        type = error.name;
      } else {
        type = error && error.constructor && typeof error.constructor.name === "string" ? error.constructor.name : typeof error;
      }
    } catch (_) {}
    let message = "";
    try { message = short(error && error.message !== undefined ? error.message : error); } catch (_) {}
    return { type: short(type, 60), msg: message };
  }

  function notPlain(message) {
    const error = new TypeError(message);
    error.notPlain = true;
    return error;
  }

  function setOwn(target, key, value) {
    // Never `target[key] = ...`: a key `__proto__` would set the prototype.
    defineProperty(target, key, { value: value, writable: true, enumerable: true, configurable: true });
  }

  // Plain data only: primitives, arrays and plain objects with exact prototypes. Where JSON has
  // no exact form the value is tagged: `{"$int": "digits"}` (BigInt), `{"$float": "nan"}`
  // (NaN, ±inf). With `exact` (values crossing between the instances), also `{"$undef": 1}`,
  // `{"$float": "-0"}`, and `{"$obj": [[key, value]]}` for an object whose one key starts with
  // `$`, so that no value reads as a tag it is not. `call` mode leaves those out: the host
  // compares JSON, where `undefined` is `null`.
  function toWire(value, exact, depth) {
    depth = depth || 0;
    if (depth > 64) throw notPlain("nested deeper than 64 levels");
    if (value === null) return null;
    const t = typeof value;
    if (t === "boolean" || t === "string") return value;
    if (t === "undefined") return exact ? { $undef: 1 } : null;
    if (t === "number") {
      if (value !== value) return { $float: "nan" };
      if (value === Infinity) return { $float: "inf" };
      if (value === -Infinity) return { $float: "-inf" };
      if (exact && value === 0 && 1 / value < 0) return { $float: "-0" };
      return value;
    }
    if (t === "bigint") return { $int: value.toString() };
    if (t === "object") {
      const proto = getPrototypeOf(value);
      if (isArray(value) && proto === ArrayProto) {
        const out = [];
        for (let i = 0; i < value.length; i++) out.push(toWire(value[i], exact, depth + 1));
        return out;
      }
      if (proto === ObjectProto || proto === null) {
        const own = keys(value);
        // An object that looks like a tag (`{"$int": "5"}`) must not be read as one: escaped
        // for our own decoder (exact), or as a dict for the host's comparison, as the Python
        // harness writes such a dict.
        if (own.length === 1 && own[0][0] === "$") {
          const inner = toWire(value[own[0]], exact, depth + 1);
          return exact ? { $obj: [[own[0], inner]] } : { $dict: [[own[0], inner]] };
        }
        const out = {};
        for (const key of own) setOwn(out, key, toWire(value[key], exact, depth + 1));
        return out;
      }
    }
    throw notPlain("a value of type " + t + " is not plain data");
  }

  // The inverse of `toWire` (exact), building fresh objects of this realm. Anything odd (the
  // other side may be the candidate's) is refused as not plain.
  function fromWire(value, depth) {
    depth = depth || 0;
    if (depth > 66) throw notPlain("nested deeper than 64 levels");
    if (value === null || typeof value !== "object") return value;
    if (isArray(value)) {
      const out = [];
      for (let i = 0; i < value.length; i++) out.push(fromWire(value[i], depth + 1));
      return out;
    }
    const own = keys(value);
    if (own.length === 1 && own[0][0] === "$") {
      const tag = own[0], body = value[tag];
      if (tag === "$int" && typeof body === "string" && INTEGER.test(body)) return BigIntCtor(body);
      if (tag === "$float") {
        if (body === "nan") return NaN;
        if (body === "inf") return Infinity;
        if (body === "-inf") return -Infinity;
        if (body === "-0") return -0;
      }
      if (tag === "$undef") return undefined;
      if (tag === "$obj" && isArray(body) && body.length === 1 && isArray(body[0]) && typeof body[0][0] === "string") {
        const out = {};
        setOwn(out, body[0][0], fromWire(body[0][1], depth + 1));
        return out;
      }
      throw notPlain("an unknown tag " + short(tag, 40));
    }
    const out = {};
    for (const key of own) setOwn(out, key, fromWire(value[key], depth + 1));
    return out;
  }

  const sink = { log() {}, error() {}, warn() {}, info() {}, debug() {} };
  function confined(action) {
    globalThis.console = sink;
    globalThis.print = function () {};
    return action();
  }

  // JSON nesting a reply from the candidate's instance may have: a value crosses at most 65
  // levels deep (toWire's depths 0 to 64), each level at most three JSON levels
  // (`{"$obj": [[key, value]]}`), inside the reply's own envelope.
  const MAX_REPLY_NESTING = 3 * 65 + 8;

  // `parse` of text the candidate controls. JSON.parse recurses on the C stack, and this
  // QuickJS build has no working stack check under WebAssembly: a reply a few thousand levels
  // deep ran past the stack into the interpreter's own memory (red team: a trap at 4,000
  // levels, a hang at 6,000). So the nesting is counted first, in one pass that skips strings,
  // and deeper text is refused before anything recurses on it.
  function parseBounded(text) {
    let depth = 0, inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (c === 92) i++; // a backslash: the next character is escaped
        else if (c === 34) inString = false;
      } else if (c === 34) {
        inString = true;
      } else if (c === 91 || c === 123) {
        if (++depth > MAX_REPLY_NESTING) throw notPlain("nested deeper than 64 levels");
      } else if (c === 93 || c === 125) {
        depth--;
      }
    }
    return parse(text);
  }

  // The candidate's function `name`: `{ fn }`, or `{ failed }` with the load error's fields.
  function loadCandidate(code, name) {
    let factory;
    try {
      factory = new FunctionCtor(code + "\n;return typeof " + name + " === 'undefined' ? undefined : " + name + ";");
    } catch (error) {
      const d = describe(error);
      if (d.type === "SyntaxError") return { failed: { k: "syntax_error", msg: d.msg } };
      return { failed: { k: "load_error", type: d.type, msg: d.msg } };
    }
    let fn;
    try {
      fn = confined(() => factory());
    } catch (error) {
      const d = describe(error);
      return { failed: { k: "load_error", type: d.type, msg: d.msg } };
    }
    if (typeof fn !== "function") {
      return { failed: { k: "load_error", type: "ReferenceError", msg: "no function named " + short(name, 80) } };
    }
    return { fn: fn };
  }

  return Object.freeze({ parse, parseBounded, stringify, keys, isArray, hasOwn, defineProperty, short, describe, notPlain, toWire, fromWire, confined, loadCandidate, exitRun });
})();

function harnessMain(configText) {
  "use strict";
  const lib = harnessLib;
  const config = lib.parse(configText);
  const nonce = config.nonce;
  const realConsole = globalThis.console;
  const realLog = realConsole.log.bind(realConsole);
  const realPrint = typeof globalThis.print === "function" ? globalThis.print : realLog;
  const ObjectProto = Object.prototype, ArrayProto = Array.prototype;

  function emit(record) {
    // A `toJSON` the candidate (call mode) put on a prototype would rewrite our records (and
    // may be non-configurable): the record itself is copied to an object with no prototype.
    try { delete ObjectProto.toJSON; delete ArrayProto.toJSON; } catch (_) {}
    const bare = Object.create(null);
    for (const key of lib.keys(record)) bare[key] = record[key];
    realPrint(nonce + " " + lib.stringify(bare));
  }

  // Arguments use the tags of `toWire` where JSON has no exact form: `{"$int": "digits"}`.
  function untag(_key, value) {
    if (value !== null && typeof value === "object" && !lib.isArray(value)) {
      const own = lib.keys(value);
      if (own.length === 1 && own[0] === "$int" && typeof value.$int === "string") {
        return BigInt(value.$int);
      }
    }
    return value;
  }

  function modeCall() {
    // From here on the candidate's code is in this realm: the host trusts no harness_error
    // record written after this one.
    emit({ k: "loading" });
    const loaded = lib.loadCandidate(config.code, config.fn_name);
    if (loaded.failed) {
      emit(loaded.failed);
      return;
    }
    const fn = loaded.fn;
    for (let i = 0; i < config.cases.length; i++) {
      // Parsed afresh for each case, so a call that mutates its arguments cannot touch the next.
      const args = lib.parse(config.cases[i], untag);
      try {
        const value = lib.toWire(lib.confined(() => fn(...args)), false);
        emit({ k: "case", i: i, value: value });
      } catch (error) {
        if (error && error.notPlain === true) {
          emit({ k: "case", i: i, type: "NotPlain", msg: lib.short(error.message) });
        } else {
          const d = lib.describe(error);
          emit({ k: "case", i: i, type: d.type, msg: d.msg });
          if (config.early_stop) return;
        }
      }
    }
  }

  // Errors of the candidate's instance are thrown here as errors of these types (any other
  // type as an `Error` named so), so that the test code's own checks of them work.
  const errorTypes = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
  function rethrown(raised) {
    const type = raised !== null && typeof raised === "object" && typeof raised.type === "string" ? lib.short(raised.type, 60) : "Error";
    const msg = raised !== null && typeof raised === "object" && typeof raised.msg === "string" ? lib.short(raised.msg, 300) : "";
    const Type = lib.hasOwn.call(errorTypes, type) ? errorTypes[type] : Error;
    const error = new Type(msg);
    lib.defineProperty(error, "name", { value: type, writable: true, configurable: true });
    return error;
  }

  // An argument the candidate's call changed, changed here the same way (the tests may check
  // an in-place update, or that the input was left alone). Only arrays and plain objects can
  // change; one the call left as it was is not touched, so objects inside it keep their identity.
  function updateInPlace(original, before, after) {
    if (original === null || typeof original !== "object") return;
    if (lib.stringify(before) === lib.stringify(after)) return;
    const fresh = lib.fromWire(after);
    if (lib.isArray(original) && lib.isArray(fresh)) {
      original.length = 0;
      for (let i = 0; i < fresh.length; i++) original.push(fresh[i]);
    } else if (!lib.isArray(original) && fresh !== null && typeof fresh === "object" && !lib.isArray(fresh)) {
      for (const key of lib.keys(original)) delete original[key];
      for (const key of lib.keys(fresh)) lib.defineProperty(original, key, { value: fresh[key], writable: true, enumerable: true, configurable: true });
    }
  }

  // `assert` tests: the test code defines `check(candidate)`, which throws on a failure; the
  // whole of it is one test. The candidate's code is in the peer; `candidate` calls it there.
  function modeAssert() {
    let check;
    try {
      check = new Function("candidate", config.test_code + "\n;return check;")();
    } catch (error) {
      emit({ k: "harness_error", msg: "the test code does not compile: " + lib.describe(error).msg });
      return;
    }
    emit({ k: "plan", n: 1, names: ["check(" + config.entry_point + ")"] });
    const PeerError = sandboxPeer.PeerError;
    let calls = 0;
    let ended = null; // why the candidate's instance stopped answering, once it has

    // One request to the candidate's instance; its answer, an object. A failure there is the
    // candidate's: it ends the test whatever the test code does with the error.
    function ask(request) {
      if (ended !== null) throw new PeerError(ended);
      let reply;
      try {
        reply = sandboxPeer.call(lib.stringify(request));
      } catch (error) {
        if (error instanceof PeerError) ended = lib.short(error.message, 200);
        throw error;
      }
      let answer;
      try {
        answer = lib.parseBounded(reply);
      } catch (error) {
        if (error && error.notPlain === true) throw lib.notPlain("the candidate's instance answered with values " + error.message);
        answer = null;
      }
      if (answer === null || typeof answer !== "object" || lib.isArray(answer)) {
        throw lib.notPlain("the candidate's instance answered with no object");
      }
      return answer;
    }

    let loaded;
    try {
      loaded = ask({ op: "load" });
    } catch (error) {
      if (ended !== null) emit({ k: "load_error", v: "ended", why: ended });
      else emit({ k: "load_error", type: "NotPlain", msg: lib.describe(error).msg });
      return;
    }
    if (loaded.ok !== true) {
      const failed = loaded.failed !== null && typeof loaded.failed === "object" ? loaded.failed : {};
      const msg = typeof failed.msg === "string" ? lib.short(failed.msg, 300) : "";
      if (failed.k === "syntax_error") emit({ k: "syntax_error", msg: msg });
      else emit({ k: "load_error", type: typeof failed.type === "string" ? lib.short(failed.type, 60) : "Error", msg: msg });
      return;
    }

    const candidate = function (...args) {
      let wire;
      try {
        wire = args.map((arg) => lib.toWire(arg, true));
      } catch (error) {
        throw new TypeError("an argument cannot cross to the candidate's instance: " + lib.describe(error).msg);
      }
      calls++;
      const answer = ask({ op: "call", args: wire });
      if (answer.ok === true) {
        if (lib.isArray(answer.args) && answer.args.length === args.length) {
          for (let i = 0; i < args.length; i++) updateInPlace(args[i], wire[i], answer.args[i]);
        }
        const same = answer.arg;
        if (typeof same === "number" && same >= 0 && same < args.length
            && args[same] !== null && typeof args[same] === "object") {
          return args[same];
        }
        return lib.fromWire(answer.value);
      }
      if (answer.failed !== undefined || answer.raised !== undefined) throw rethrown(answer.failed || answer.raised);
      throw lib.notPlain(typeof answer.notPlain === "string" ? lib.short(answer.notPlain) : "the candidate's instance answered nonsense");
    };
    // The prompt's own definitions (helpers the tests call, such as `encodeShift` beside
    // `decodeShift`) are the task's: they run here, from the prompt, never from the candidate's
    // code. A prompt that ends inside the function to write is closed first; one that still does
    // not run is left out. The entry point's name is the proxy.
    if (typeof config.prefix === "string" && config.prefix.trim() !== "") {
      for (const source of [config.prefix, config.prefix + "\n}"]) {
        try {
          (0, eval)(source);
          break;
        } catch (error) {
          if (!(error instanceof SyntaxError)) break;
        }
      }
    }
    try { globalThis[config.entry_point] = candidate; } catch (_) {}

    function passed() {
      return { k: "test", i: 0, v: calls > 0 ? "pass" : "neutral" };
    }
    function failed(error) {
      const d = lib.describe(error);
      if (d.type === "AssertionError" || (error && error.notPlain === true)) {
        return { k: "test", i: 0, v: "fail", msg: d.msg || "assertion failed" };
      }
      return { k: "test", i: 0, v: "error", type: d.type, msg: d.msg };
    }
    // A candidate that stopped answering fails, whatever the test code made of the error (an
    // `assert.throws` around a call that ran out of time must not pass).
    function judged(record) {
      emit(ended !== null ? { k: "test", i: 0, v: "ended", why: ended } : record);
    }

    let returned;
    try {
      returned = check(candidate);
    } catch (error) {
      judged(failed(error));
      return null;
    }
    // An `async` check (or one that returns a promise) has asserted nothing until its promise
    // settles: a failed assertion in it is a rejection, not a throw. It is judged when it
    // settles, and the run's `done` waits for that; one that never settles ends the run
    // without a verdict, which fails.
    const thenable = returned !== null && (typeof returned === "object" || typeof returned === "function")
      && typeof returned.then === "function";
    if (thenable) {
      return Promise.resolve(returned).then(() => judged(passed()), (error) => judged(failed(error)));
    }
    judged(passed());
    return null;
  }

  let settling = null;
  try {
    if (config.mode === "call") modeCall();
    else settling = modeAssert();
  } catch (error) {
    emit({ k: "harness_error", msg: lib.describe(error).msg });
  }
  // Once `done` is written nothing else counts: the run ends there, rather than when the
  // event loop empties. A timer the candidate left (call mode: `os.setTimeout(f, 1e9)` beside a
  // right answer) held the sandbox until the sample's deadline, 10 s for a 3 ms run (red team).
  function finish() {
    emit({ k: "done" });
    lib.exitRun(0);
  }
  if (!settling) finish();
  else settling.then(finish, (error) => {
    emit({ k: "harness_error", msg: lib.describe(error).msg });
    finish();
  });
}

// The candidate's instance of an `assert` run: each run answers one request of the tests'
// instance, `{"op": "load"}` or `{"op": "call", "args": [...]}`, with `{"ok": true, "value"}`,
// `{"failed": {...}}` (the code did not load), `{"raised": {type, msg}}` or `{"notPlain": msg}`.
// It knows no nonce and writes no records: nothing it could do here decides a test.
function candidateMain(configText) {
  "use strict";
  const lib = harnessLib;
  const config = lib.parse(configText);
  sandboxPeer.serve(function (message) {
    const request = lib.parse(message);
    const loaded = lib.loadCandidate(config.code, config.entry_point);
    if (loaded.failed) return lib.stringify({ failed: loaded.failed });
    if (request.op === "load") return lib.stringify({ ok: true });
    const args = lib.fromWire(request.args);
    try {
      const result = lib.confined(() => loaded.fn(...args));
      // One of the arguments itself (an in-place update that returns its input) is named as
      // such, so that the tests' `r === a` holds there as it would in one realm.
      const at = result !== null && typeof result === "object" ? args.indexOf(result) : -1;
      // The arguments as the call left them, for the tests' side to update its own.
      let after;
      try { after = args.map((arg) => lib.toWire(arg, true)); } catch (_) { after = undefined; }
      if (at >= 0) return lib.stringify({ ok: true, arg: at, args: after });
      return lib.stringify({ ok: true, value: lib.toWire(result, true), args: after });
    } catch (error) {
      if (error && error.notPlain === true) return lib.stringify({ notPlain: lib.short(error.message) });
      return lib.stringify({ raised: lib.describe(error) });
    }
  });
}
