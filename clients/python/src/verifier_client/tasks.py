"""Builders for the service's wire format (see `graders/src/contract.rs` and the README's table):
plain dicts, so they can be printed, stored and sent as they are."""

from __future__ import annotations

from typing import Any, Iterable

_LANGUAGES = {"python": "python", "python3": "python", "py": "python",
              "javascript": "javascript", "js": "javascript", "node": "javascript"}


def language(name: str) -> str:
    """A dataset's language name as the service spells it (`python`, `javascript`); other names
    pass through, and the service answers them with an `error` that says what it supports."""
    return _LANGUAGES.get(str(name).strip().lower(), str(name))


def math(answer: str, *, options: dict | None = None) -> dict:
    task = {"kind": "math", "answer": str(answer)}
    if options:
        task["options"] = dict(options)
    return task


def code(tests: dict, *, language_name: str = "python", prefix: str | None = None,
         scoring: str = "all", time_limit_ms: int | None = None,
         memory_limit_mb: int | None = None, **extra: Any) -> dict:
    task = {"kind": "code", "language": language(language_name), "tests": tests, "scoring": scoring}
    if prefix is not None:
        task["prefix"] = prefix
    if time_limit_ms is not None:
        task["time_limit_ms"] = int(time_limit_ms)
    if memory_limit_mb is not None:
        task["memory_limit_mb"] = int(memory_limit_mb)
    task.update(extra)
    return task


def stdio_tests(cases: Iterable[tuple[str, str]]) -> dict:
    return {"type": "stdio", "cases": [{"input": i, "output": o} for i, o in cases]}


def format(style: str = "r1", *, think_prefilled: bool = False) -> dict:  # noqa: A001
    task = {"kind": "format", "style": style}
    if think_prefilled:
        task["think_prefilled"] = True
    return task


def instructions(instruction_id_list: list, kwargs: list | None = None, *, mode: str = "strict",
                 scoring: str = "all", prompt: str | None = None) -> dict:
    # IFEval datasets store each instruction's kwargs with every key of every instruction, unused
    # ones null; the reference drops them before checking, and so do we.
    cleaned = [{k: v for k, v in (kw or {}).items() if v is not None} for kw in (kwargs or [])]
    task = {"kind": "instructions", "instruction_id_list": list(instruction_id_list),
            "kwargs": cleaned, "mode": mode, "scoring": scoring}
    if prompt is not None:
        task["prompt"] = prompt
    return task


def sample(completion: Any, task: dict, *, id: Any = None, weight: float | None = None,
           components: list | None = None, group_id: Any = None,
           timeout_ms: int | None = None) -> dict:
    """One sample. `components` is a list of `{"name", "weight", "task"}`; `timeout_ms` the
    sample's own deadline (`limits.timeout_ms`)."""
    out: dict = {"completion": completion, "task": task}
    if id is not None:
        out["id"] = id
    if weight is not None:
        out["weight"] = float(weight)
    if components:
        out["components"] = components
    if group_id is not None:
        out["group_id"] = group_id
    if timeout_ms is not None:
        out["limits"] = {"timeout_ms": int(timeout_ms)}
    return out
