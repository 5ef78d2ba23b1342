// The code grader's trusted JavaScript harness (QuickJS; see graders/src/code/mod.rs for the
// threat model). The host appends `harnessMain(<config JSON as a string literal>);`.
//
// Same protocol as harness.py: records are lines `<nonce> <json>` on the real standard output;
// the candidate's console output goes to a sink; values it returns are checked to be plain data
// (exact prototypes only) and, for `call` tests, compared on the host.

function harnessMain(configText) {
  "use strict";
  const parse = JSON.parse, stringify = JSON.stringify;
  const config = parse(configText);
  const nonce = config.nonce;
  const realConsole = globalThis.console;
  const realLog = realConsole.log.bind(realConsole);
  const realPrint = typeof globalThis.print === "function" ? globalThis.print : realLog;
  const getPrototypeOf = Object.getPrototypeOf, keys = Object.keys, isArray = Array.isArray;
  const ObjectProto = Object.prototype, ArrayProto = Array.prototype;
  const FunctionCtor = Function, BigIntCtor = BigInt;

  function emit(record) {
    // A `toJSON` the candidate put on a prototype would rewrite our records (and may be
    // non-configurable): the record itself is copied to an object with no prototype.
    try { delete ObjectProto.toJSON; delete ArrayProto.toJSON; } catch (_) {}
    const bare = Object.create(null);
    for (const key of keys(record)) bare[key] = record[key];
    realPrint(nonce + " " + stringify(bare));
  }
  function short(text, limit) {
    text = String(text);
    limit = limit || 160;
    return text.length <= limit ? text : text.slice(0, limit - 20) + "..." + text.slice(-17);
  }
  function describe(error) {
    let type = "Error";
    try {
      type = error && error.constructor && typeof error.constructor.name === "string" ? error.constructor.name : typeof error;
    } catch (_) {}
    let message = "";
    try { message = short(error && error.message !== undefined ? error.message : error); } catch (_) {}
    return { type: short(type, 60), msg: message };
  }

  // Plain data only: primitives, arrays and plain objects with exact prototypes.
  function toPlain(value, depth) {
    depth = depth || 0;
    if (depth > 64) throw new TypeError("nested deeper than 64 levels");
    if (value === null) return null;
    const t = typeof value;
    if (t === "boolean" || t === "string") return value;
    if (t === "undefined") return null;
    if (t === "number") {
      if (value !== value) return { $float: "nan" };
      if (value === Infinity) return { $float: "inf" };
      if (value === -Infinity) return { $float: "-inf" };
      return value;
    }
    if (t === "bigint") return { $int: value.toString() };
    if (t === "object") {
      const proto = getPrototypeOf(value);
      if (isArray(value) && proto === ArrayProto) {
        const out = [];
        for (let i = 0; i < value.length; i++) out.push(toPlain(value[i], depth + 1));
        return out;
      }
      if (proto === ObjectProto || proto === null) {
        const out = {};
        for (const key of keys(value)) out[key] = toPlain(value[key], depth + 1);
        return out;
      }
    }
    const error = new TypeError("returned a value of type " + t + ", not plain data");
    error.notPlain = true;
    throw error;
  }

  const sink = { log() {}, error() {}, warn() {}, info() {}, debug() {} };
  function confined(action) {
    globalThis.console = sink;
    globalThis.print = function () {};
    return action();
  }

  function loadCandidate(name) {
    // From here on the candidate's code is in this realm: the host trusts no harness_error
    // record written after this one.
    emit({ k: "loading" });
    let factory;
    try {
      factory = new FunctionCtor(config.code + "\n;return typeof " + name + " === 'undefined' ? undefined : " + name + ";");
    } catch (error) {
      const d = describe(error);
      if (d.type === "SyntaxError") emit({ k: "syntax_error", msg: d.msg });
      else emit({ k: "load_error", type: d.type, msg: d.msg });
      return undefined;
    }
    let fn;
    try {
      fn = confined(() => factory());
    } catch (error) {
      const d = describe(error);
      emit({ k: "load_error", type: d.type, msg: d.msg });
      return undefined;
    }
    if (typeof fn !== "function") {
      emit({ k: "load_error", type: "ReferenceError", msg: "no function named " + short(name, 80) });
      return undefined;
    }
    return fn;
  }

  // Arguments use the tags of `toPlain` where JSON has no exact form: `{"$int": "digits"}`.
  function untag(_key, value) {
    if (value !== null && typeof value === "object" && !isArray(value)) {
      const own = keys(value);
      if (own.length === 1 && own[0] === "$int" && typeof value.$int === "string") {
        return BigIntCtor(value.$int);
      }
    }
    return value;
  }

  function modeCall() {
    const fn = loadCandidate(config.fn_name);
    if (fn === undefined) return;
    for (let i = 0; i < config.cases.length; i++) {
      // Parsed afresh for each case, so a call that mutates its arguments cannot touch the next.
      const args = parse(config.cases[i], untag);
      try {
        const value = toPlain(confined(() => fn(...args)));
        emit({ k: "case", i: i, value: value });
      } catch (error) {
        if (error && error.notPlain === true) {
          emit({ k: "case", i: i, type: "NotPlain", msg: short(error.message) });
        } else {
          const d = describe(error);
          emit({ k: "case", i: i, type: d.type, msg: d.msg });
          if (config.early_stop) return;
        }
      }
    }
  }

  // `assert` tests in JavaScript: the test code defines `check(candidate)`, which throws on a
  // failure; the whole of it is one test.
  function modeAssert() {
    let check;
    try {
      check = new FunctionCtor("candidate", config.test_code + "\n;return check;")();
    } catch (error) {
      emit({ k: "harness_error", msg: "the test code does not compile: " + describe(error).msg });
      return;
    }
    emit({ k: "plan", n: 1, names: ["check(" + config.entry_point + ")"] });
    const fn = loadCandidate(config.entry_point);
    if (fn === undefined) return;
    const candidate = function (...args) {
      return parse(stringify(toPlain(confined(() => fn(...args)))));
    };
    try {
      check(candidate);
      emit({ k: "test", i: 0, v: "pass" });
    } catch (error) {
      const d = describe(error);
      if (d.type === "AssertionError" || (error && error.notPlain === true)) {
        emit({ k: "test", i: 0, v: "fail", msg: d.msg || "assertion failed" });
      } else {
        emit({ k: "test", i: 0, v: "error", type: d.type, msg: d.msg });
      }
    }
  }

  try {
    if (config.mode === "call") modeCall();
    else modeAssert();
  } catch (error) {
    emit({ k: "harness_error", msg: describe(error).msg });
  }
  emit({ k: "done" });
}
