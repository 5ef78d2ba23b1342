"""verl's reward-function interface, backed by `verifier serve`.

One-line switch in a verl run (the endpoints come from `$VERIFIER_URL`):

    custom_reward_function.path=pkg://verifier_client.verl custom_reward_function.name=compute_score

or, with `reward_model.reward_manager=batch`, `custom_reward_function.name=compute_score_batch`
(one request per batch instead of one per sample). `compute_score_async` is the `async def` form
that verl's reward loop awaits.

`data_source` picks the task and the score convention of verl's own `default_compute_score`:

| data_source | task | score |
| --- | --- | --- |
| `openai/gsm8k` | math, gold = ground_truth | 1.0 / 0.0 |
| `lighteval/MATH`, `DigitalLearningGmbH/MATH-lighteval`, `HuggingFaceH4/MATH-500` | math | 1.0 / 0.0 |
| `math_dapo`, `math`, `math_dapo_reasoning`, `aime*` | math | +1.0 / -1.0, with `acc` |
| `numina_aops_forum`, `numina_synthetic_math`, `numina_amc_aime`, `numina_synthetic_amc`, `numina_cn_k12`, `numina_olympiads` | math | 1.0 / 0.0 |
| `codecontests`, `apps`, `codeforces`, `taco` | code, `{"inputs","outputs"}` as stdio tests, Python | share of tests passed |
| any, when ground_truth is a task object (`{"kind": ...}`, or its JSON) | that task | its reward |

Not supported (a `NotImplementedError`, as verl raises for unknown sources): `hiyouga/geometry3k`
(multimodal; verl mixes a format score into it), the `searchR1_*` QA sets (exact-match QA, which
the service does not grade), and call-based APPS tests (`fn_name`). Our graders are not verl's:
the math answer is found anywhere in the completion and compared by value (verl's gsm8k wants
`#### N`; math_dapo reads only the last 300 characters), and code tests are all run (verl's
prime_code scores the first ten when some fail).

Every call returns a dict with the same keys, so verl's extra-info columns line up across data
sources: `score` (the reward), `acc` (the primary task was correct), `pred` (the extracted
answer, or ""), `status` (the service's status). A sample the service could not grade (`error`,
`timeout`, or a ground truth that cannot become a task) gets the data source's failing score
(0.0 or -1.0) with that status, and a warning is logged; `on_error="raise"` raises
`VerifierSampleError` instead, `on_error="nan"` scores it NaN. Pass options through
`custom_reward_function.reward_kwargs`: `verifier_url` (comma-separated for several), `on_error`,
`timeout_ms`, `language` (code), `scoring` (code: `fraction` or `all`).
"""

from __future__ import annotations

import json
import logging
import math as _math
import threading
from typing import Any, Sequence

from verifier_client import tasks
from verifier_client._convert import code_tests
from verifier_client.client import AsyncClient, Client, Result, VerifierError, endpoints_from_env

__all__ = [
    "DATA_SOURCES",
    "UNSUPPORTED",
    "VerifierSampleError",
    "compute_score",
    "compute_score_async",
    "compute_score_batch",
    "compute_score_batch_async",
]

log = logging.getLogger("verifier_client.verl")

# data_source -> (task family, score convention). `signed`: +1 / -1 with `acc`; `binary`: 1 / 0;
# `fraction`: the reward as the service gives it.
DATA_SOURCES = {
    "openai/gsm8k": ("math", "binary"),
    "lighteval/MATH": ("math", "binary"),
    "DigitalLearningGmbH/MATH-lighteval": ("math", "binary"),
    "HuggingFaceH4/MATH-500": ("math", "binary"),
    "math_dapo": ("math", "signed"),
    "math": ("math", "signed"),
    "math_dapo_reasoning": ("math", "signed"),
    "numina_aops_forum": ("math", "binary"),
    "numina_synthetic_math": ("math", "binary"),
    "numina_amc_aime": ("math", "binary"),
    "numina_synthetic_amc": ("math", "binary"),
    "numina_cn_k12": ("math", "binary"),
    "numina_olympiads": ("math", "binary"),
    "codecontests": ("code", "fraction"),
    "apps": ("code", "fraction"),
    "codeforces": ("code", "fraction"),
    "taco": ("code", "fraction"),
}

UNSUPPORTED = {
    "hiyouga/geometry3k": "multimodal geometry with verl's own format/accuracy mix",
    "searchR1_": "exact-match QA (searchR1_*), which the service does not grade",
}


class VerifierSampleError(VerifierError):
    """A sample could not be graded (`on_error="raise"`)."""


def _convention(data_source: str, ground_truth: Any) -> tuple[str, str]:
    native = _native_task(ground_truth)
    if native is not None:
        return "native", "fraction"
    if data_source in DATA_SOURCES:
        return DATA_SOURCES[data_source]
    if isinstance(data_source, str) and data_source.startswith("aime"):
        return "math", "signed"
    for prefix, why in UNSUPPORTED.items():
        if isinstance(data_source, str) and data_source.startswith(prefix):
            raise NotImplementedError(f"verifier_client.verl: data_source {data_source!r} is not supported: {why}")
    raise NotImplementedError(
        f"verifier_client.verl: no reward for data_source={data_source!r}; supported: "
        f"{sorted(DATA_SOURCES)}, aime*, or a ground truth that is a task object ({{\"kind\": ...}})"
    )


def _native_task(ground_truth: Any) -> dict | None:
    value = ground_truth
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("kind"), str):
        return value
    return None


def _task(family: str, ground_truth: Any, options: dict) -> dict:
    if family == "native":
        return _native_task(ground_truth)
    if family == "math":
        if ground_truth is None:
            raise ValueError("no ground truth")
        if hasattr(ground_truth, "tolist"):  # a numpy array or scalar from verl's batch
            ground_truth = ground_truth.tolist()
        if isinstance(ground_truth, (list, tuple)) and len(ground_truth) == 1:
            ground_truth = ground_truth[0]
        return tasks.math(str(ground_truth))
    tests, language, prefix = code_tests(ground_truth, default_language=options.get("language") or "python")
    return tasks.code(tests, language_name=language, prefix=prefix, scoring=options.get("scoring") or "fraction")


def _score(convention: str, result: Result | None, on_error: str, where: str) -> dict:
    correct = result is not None and result.status == "correct"
    if result is not None and result.ok:
        if convention == "signed":
            score = 1.0 if correct else -1.0
        else:
            score = float(result.reward)
        pred = result.details.get("extracted", "")
        return {"score": score, "acc": correct, "pred": str(pred) if pred is not None else "",
                "status": result.status}
    status = result.status if result is not None else "error"
    message = (result.error if result is not None else None) or "not graded"
    if on_error == "raise":
        raise VerifierSampleError(f"{where}: {status}: {message}")
    log.warning("%s: %s: %s", where, status, message)
    if on_error == "nan":
        score = _math.nan
    else:
        score = -1.0 if convention == "signed" else 0.0
    return {"score": score, "acc": False, "pred": "", "status": status}


_clients: dict = {}
_clients_lock = threading.Lock()


def _client(verifier_url: Any, asynchronous: bool):
    if verifier_url is None:
        urls = tuple(endpoints_from_env())
    elif isinstance(verifier_url, str):
        urls = tuple(u.strip() for u in verifier_url.split(",") if u.strip())
    else:
        urls = tuple(verifier_url)
    key = (urls, asynchronous)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = (AsyncClient if asynchronous else Client)(list(urls))
        return client


def _check_on_error(on_error: str) -> None:
    if on_error not in ("fail", "raise", "nan"):
        raise ValueError(f"on_error must be 'fail', 'raise' or 'nan', got {on_error!r}")


def _build(data_sources, solution_strs, ground_truths, options) -> tuple[list, list, list]:
    """Samples to send, and per row: its convention and a local error (or None)."""
    samples, conventions, local = [], [], []
    for i, (source, text, truth) in enumerate(zip(data_sources, solution_strs, ground_truths)):
        family, convention = _convention(source, truth)
        conventions.append(convention)
        try:
            sample = {"id": i, "completion": text if isinstance(text, str) else str(text),
                      "task": _task(family, truth, options)}
        except (ValueError, TypeError, KeyError) as e:
            local.append(f"ground truth cannot become a task: {e}")
            continue
        if options.get("timeout_ms") is not None:
            sample["limits"] = {"timeout_ms": int(options["timeout_ms"])}
        samples.append(sample)
        local.append(None)
    return samples, conventions, local


def _finish(data_sources, samples, results, conventions, local, on_error) -> list[dict]:
    by_row = {s["id"]: r for s, r in zip(samples, results)}
    out = []
    for i, convention in enumerate(conventions):
        where = f"data_source={data_sources[i]!r} sample {i}"
        result = by_row.get(i)
        if result is None:
            result = Result(reward=0.0, status="error", error=local[i])
        out.append(_score(convention, result, on_error, where))
    return out


def _check_lengths(*columns: Sequence) -> None:
    if len({len(c) for c in columns}) != 1:
        raise ValueError(f"batch columns differ in length: {[len(c) for c in columns]}")


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str],
                        ground_truths: Sequence[Any], extra_infos: Sequence[Any] | None = None, *,
                        verifier_url: Any = None, on_error: str = "fail",
                        timeout_ms: int | None = None, language: str | None = None,
                        scoring: str | None = None, **kwargs: Any) -> list[dict]:
    """The batched form for `reward_model.reward_manager=batch`: one result dict per sample, in
    order, from as few requests as the client's batch size allows."""
    _check_on_error(on_error)
    _check_lengths(data_sources, solution_strs, ground_truths)
    options = {"timeout_ms": timeout_ms, "language": language, "scoring": scoring}
    samples, conventions, local = _build(data_sources, solution_strs, ground_truths, options)
    results = _client(verifier_url, False).grade(samples) if samples else []
    return _finish(list(data_sources), samples, results, conventions, local, on_error)


async def compute_score_batch_async(data_sources: Sequence[str], solution_strs: Sequence[str],
                                    ground_truths: Sequence[Any],
                                    extra_infos: Sequence[Any] | None = None, *,
                                    verifier_url: Any = None, on_error: str = "fail",
                                    timeout_ms: int | None = None, language: str | None = None,
                                    scoring: str | None = None, **kwargs: Any) -> list[dict]:
    """`compute_score_batch` as a coroutine."""
    _check_on_error(on_error)
    _check_lengths(data_sources, solution_strs, ground_truths)
    options = {"timeout_ms": timeout_ms, "language": language, "scoring": scoring}
    samples, conventions, local = _build(data_sources, solution_strs, ground_truths, options)
    results = await _client(verifier_url, True).grade(samples) if samples else []
    return _finish(list(data_sources), samples, results, conventions, local, on_error)


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  **kwargs: Any) -> dict:
    """verl's per-sample signature (`default_compute_score`'s). Extra keyword arguments verl
    passes (`sandbox_fusion_url`, `concurrent_semaphore`, `memory_limit_mb`, reward-loop
    arguments) are accepted and ignored; see the module doc for ours."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info],
                               **_ours(kwargs))[0]


async def compute_score_async(data_source: str, solution_str: str, ground_truth: Any,
                              extra_info: Any = None, **kwargs: Any) -> dict:
    """`compute_score` as a coroutine, for verl's reward loop (it awaits coroutine functions)."""
    results = await compute_score_batch_async([data_source], [solution_str], [ground_truth],
                                              [extra_info], **_ours(kwargs))
    return results[0]


_OPTIONS = ("verifier_url", "on_error", "timeout_ms", "language", "scoring")


def _ours(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k in _OPTIONS}
