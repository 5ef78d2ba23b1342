"""Turning what training frameworks hold into the service's wire format: completions as chat
message lists, and code tests in the shapes datasets carry them."""

from __future__ import annotations

import json
from typing import Any


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Content parts, as multimodal chat templates write them: the text parts, joined.
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") == "text":
                texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise ValueError(f"a message's content must be a string or a list of parts, got {type(content).__name__}")


def completion_text(completion: Any) -> str:
    """The text to grade: a string as it is; a chat message list's last assistant message
    (TRL's conversational completions, tool turns included); a single message's content.
    Messages without a `role` count as the assistant's (TRL's docs write them so)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        if not completion:
            return ""
        for message in reversed(completion):
            if not isinstance(message, dict):
                raise ValueError(f"a completion message must be a dict, got {type(message).__name__}")
            if message.get("role", "assistant") == "assistant":
                return _content_text(message.get("content"))
        roles = [m.get("role") for m in completion]
        raise ValueError(f"the completion has no assistant message (roles: {roles})")
    raise ValueError(
        f"a completion must be a string or a list of chat messages, got {type(completion).__name__}"
    )


def prompt_text(prompt: Any) -> str | None:
    """The user's request in a prompt: a string as it is; in a message list, the last user
    message's content. None when there is none."""
    if prompt is None:
        return None
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        for message in reversed(prompt):
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content"))
    return None


def _maybe_json(value: Any, what: str) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as e:
            raise ValueError(f"{what} is a string but not JSON: {e}") from None
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        # Some datasets keep a test's input as its lines.
        return "\n".join(value)
    return str(value)


def code_tests(value: Any, *, default_language: str = "python") -> tuple[dict, str, str | None]:
    """`(tests, language, prefix)` for a code task from a dataset's test column. Understood shapes:

    * our own `tests` object (`{"type": "stdio" | "assert" | "call", ...}`);
    * `{"inputs": [...], "outputs": [...]}` (APPS, TACO, CodeContests as verl and PRIME keep
      them), as stdio tests;
    * open-r1's `verification_info`: `{"language": ..., "test_cases": [...]}` where
      `test_cases` is a list of `{"input", "output", "type": "stdin_stdout"}` or one of the
      shapes above (a JSON string included).

    An object of any of these shapes may carry the task's trusted `prefix` beside the tests (the
    prompt whose helpers `assert` tests use: without it, the tests call the candidate's own
    versions of HumanEval's `encode_cyclic` or `poly`). Anything else, and call-based APPS tests
    (`fn_name`, whose expected values may or may not be wrapped in a list), raise `ValueError`
    with the reason."""
    value = _maybe_json(value, "the code tests")
    language = default_language
    prefix = None
    if isinstance(value, dict) and "prefix" in value:
        value = dict(value)
        prefix = value.pop("prefix")
    if isinstance(value, dict) and "test_cases" in value:
        language = value.get("language") or default_language
        if value.get("fn_name"):
            raise ValueError("call-based tests (`fn_name`) are not supported; use stdio tests or our `call` tests")
        value = _maybe_json(value["test_cases"], "`test_cases`")
    if isinstance(value, dict) and value.get("type") in ("stdio", "assert", "call"):
        return value, language, prefix
    if isinstance(value, dict) and "inputs" in value and "outputs" in value:
        if value.get("fn_name"):
            raise ValueError(
                "call-based APPS tests (`fn_name`) are not supported: their expected values are "
                "compared both as written and unwrapped from a list, which our `call` tests do not do"
            )
        inputs, outputs = value["inputs"], value["outputs"]
        if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
            raise ValueError("`inputs` and `outputs` must be lists of the same length")
        cases = [{"input": _as_text(i), "output": _as_text(o)} for i, o in zip(inputs, outputs)]
        return {"type": "stdio", "cases": cases}, language, prefix
    if isinstance(value, list) and all(isinstance(c, dict) for c in value):
        cases = []
        for k, case in enumerate(value):
            kind = case.get("type", "stdin_stdout")
            if kind != "stdin_stdout":
                raise ValueError(f"test case {k}: type {kind!r} is not supported (only stdin_stdout)")
            if "input" not in case or "output" not in case:
                raise ValueError(f"test case {k}: needs `input` and `output`")
            cases.append({"input": _as_text(case["input"]), "output": _as_text(case["output"])})
        return {"type": "stdio", "cases": cases}, language, prefix
    raise ValueError(
        "unrecognised code tests: expected our `tests` object, {\"inputs\", \"outputs\"}, or "
        f"{{\"language\", \"test_cases\"}}; got {str(value)[:120]}"
    )
