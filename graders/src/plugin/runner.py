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

import importlib as _importlib
import json as _json
import sys as _sys
import traceback as _traceback


def _record(nonce, record):
    out = _sys.__stdout__
    out.write(nonce + " " + _json.dumps(record, ensure_ascii=True, allow_nan=False) + "\n")
    out.flush()


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


def _plain(value):
    # Plain JSON or None: lists, dicts with string keys, strings, finite numbers, bools, null.
    try:
        return _json.loads(_json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return None


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
    try:
        value = grade(config["completion"], config["task"])
    except BaseException as error:  # SystemExit and KeyboardInterrupt are the plugin's too
        record = {"k": "raised", "type": type(error).__name__, "msg": _text(error)}
        record["where"] = _where(error)
        _record(nonce, record)
        _record(nonce, {"k": "done"})
        return
    plain = _plain(value)
    if plain is None and value is not None:
        kind = type(value).__name__
        _record(nonce, {"k": "not_plain", "msg": f"a {kind} that is not plain JSON: {_text(repr(value), 200)}"})
    else:
        _record(nonce, {"k": "result", "value": plain})
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
    return info
