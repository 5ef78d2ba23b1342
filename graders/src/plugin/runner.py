# Runs a Python grader plugin inside the sandbox (see graders/src/plugin/mod.rs).
#
# This file is baked into the plugins' Python sandbox as the module `verifier_plugin_runner`,
# next to each plugin's module (`verifier_plugin_<name>`): imported when the sandbox is built,
# both are ready in every fresh instance at no cost. A call's program is a bootstrap that hands
# `_plugin_main` the JSON it reads from standard input: the nonce, the plugin's module name, and
# either the completion and the task (`grade`) or nothing (`info`).
#
# Protocol (the code harness's): every record is one line `<nonce> <json>` on the real standard
# output, and `done` ends them. The nonce is fresh per call; the completion never sees it, and
# whatever the plugin prints is not framed by it. Records: `result` (the plain value `grade`
# returned), `raised` (an exception left `grade`: `type`, `msg`, `where`), `not_plain` (the
# value is not plain JSON), `info` (docstring, VERSION, LIMITS, EXAMPLES), `bad_plugin`.
#
# What the plugin prints while `grade` runs goes to a capped buffer, not to the real output: a
# debugging `print(completion)` can neither push the result record past the output limit nor
# leave it mid-line (and the result would otherwise depend on what the completion contains).

import importlib as _importlib
import io as _io
import json as _json
import sys as _sys
import traceback as _traceback

# Bound now, so that a plugin that replaces `sys.stdout` or `json.dumps` cannot break records.
_REAL_OUT = _sys.__stdout__
_dumps = _json.dumps

# What a call may print, kept (the rest is counted and dropped).
_PRINT_KEEP = 2000


class _Sink(_io.TextIOBase):
    def __init__(self):
        self.kept = []
        self.size = 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = _PRINT_KEEP - self.size
        if room > 0:
            self.kept.append(text[:room])
        self.size += len(text)
        return len(text)


def _record(nonce, record):
    # The leading newline ends any line a plugin wrote to the real output (`os.write(1, ...)`).
    _REAL_OUT.write("\n" + nonce + " " + _dumps(record, ensure_ascii=True, allow_nan=False) + "\n")
    _REAL_OUT.flush()


def _where(error):
    # The innermost frame of the plugin's own code: "plugin.py, line 12, in grade".
    frames = _traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        if not frame.filename.endswith("verifier_plugin_runner.py"):
            name = frame.filename.rsplit("/", 1)[-1]
            return f"{name}, line {frame.lineno}, in {frame.name}"
    return ""


def _text(value, limit=500):
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _safe_text(error):
    try:
        return _text(error)
    except BaseException:
        return "(its message could not be shown)"


def _plain(value):
    # Plain JSON or None: lists, dicts with string keys, strings, finite numbers, bools, null;
    # strings and integers made readable by the host's JSON (no lone surrogates; integers past
    # 64 bits as floats, or text when no float holds them).
    try:
        return _json.loads(_dumps(_readable(value, 0), allow_nan=False))
    except (TypeError, ValueError, RecursionError, OverflowError):
        return None


def _readable(value, depth):
    if depth > 100:
        raise ValueError("nested more than 100 levels")
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if -(2**63) <= value < 2**64:
            return value
        try:
            return float(value)
        except OverflowError:
            return str(value)[:100] + "..."
    if isinstance(value, (list, tuple)):
        return [_readable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {_readable(k, depth + 1) if isinstance(k, str) else k: _readable(v, depth + 1) for k, v in value.items()}
    return value


def _result(value):
    # The record for what `grade` returned. A dict's `details` that cannot be sent is replaced
    # by a note rather than losing the reward.
    if isinstance(value, dict) and "details" in value:
        details = _plain(value["details"])
        if details is None and value["details"] is not None:
            kind = type(value["details"]).__name__
            value = dict(value)
            value["details"] = {"unsendable_details": f"a {kind} that is not plain JSON"}
    plain = _plain(value)
    if plain is None and value is not None:
        kind = type(value).__name__
        return {"k": "not_plain", "msg": f"a {kind} that is not plain JSON: {_text(_safe_repr(value), 200)}"}
    return {"k": "result", "value": plain}


def _safe_repr(value):
    try:
        return repr(value)
    except BaseException:
        return "(unrepresentable)"


def _runs_code(module):
    # Names of the built-ins that run code (`eval`, `exec`, `compile`) that the plugin's own
    # functions use: a completion run as code in the plugin's interpreter can set its reward.
    seen, found, stack = set(), set(), []
    for value in vars(module).values():
        code = getattr(value, "__code__", None)
        if code is not None:
            stack.append(code)
        for member in vars(value).values() if isinstance(value, type) else ():
            code = getattr(member, "__code__", None)
            if code is not None:
                stack.append(code)
    while stack:
        code = stack.pop()
        if id(code) in seen or getattr(code, "co_filename", "").endswith("verifier_plugin_runner.py"):
            continue
        seen.add(id(code))
        found.update(name for name in code.co_names if name in ("eval", "exec", "compile"))
        stack.extend(c for c in code.co_consts if hasattr(c, "co_names"))
    return sorted(found)


def _plugin_main(config_text):
    config = _json.loads(config_text)
    nonce = config["nonce"]
    try:
        plugin = _importlib.import_module(config["module"])
    except BaseException as error:  # the build imported it already; only a broken cache gets here
        _record(nonce, {"k": "bad_plugin", "msg": f"{type(error).__name__}: {_text(error)}"})
        _record(nonce, {"k": "done"})
        return
    if config.get("mode") == "info":
        _record(nonce, _info(plugin))
        _record(nonce, {"k": "done"})
        return
    grade = getattr(plugin, "grade", None)
    if not callable(grade):
        _record(nonce, {"k": "bad_plugin", "msg": "defines no function `grade(completion, task)`"})
        _record(nonce, {"k": "done"})
        return
    sink = _Sink()
    _sys.stdout = _sys.stderr = sink
    try:
        value = grade(config["completion"], config["task"])
        record = _result(value)
    except BaseException as error:  # SystemExit and KeyboardInterrupt are the plugin's too
        record = {"k": "raised", "type": type(error).__name__, "msg": _safe_text(error)}
        record["where"] = _where(error)
    finally:
        _sys.stdout, _sys.stderr = _sys.__stdout__, _sys.__stderr__
    _record(nonce, record)
    _record(nonce, {"k": "done"})


def _info(plugin):
    grade = getattr(plugin, "grade", None)
    problems = []
    if not callable(grade):
        problems.append("defines no function `grade(completion, task)`")
    doc = (plugin.__doc__ or getattr(grade, "__doc__", None) or "").strip()
    info = {
        "k": "info",
        "doc": doc,
        "version": getattr(plugin, "VERSION", None),
        "limits": getattr(plugin, "LIMITS", None),
        "examples": getattr(plugin, "EXAMPLES", None),
    }
    for key in ("version", "limits", "examples"):
        if info[key] is not None and _plain(info[key]) is None:
            problems.append(f"{key.upper()} is not plain JSON")
            info[key] = None
    info["problems"] = problems
    info["runs_code"] = _runs_code(plugin)
    return info
