"""Reward functions for TRL's `GRPOTrainer` (and trainers with its convention), backed by
`verifier serve`.

TRL calls each reward function as
`f(prompts=..., completions=..., completion_ids=..., **columns)` where `columns` are the
dataset's other columns (one value per completion) plus `trainer_state`, `log_extra` and
`log_metric` in current releases, and expects `list[float | None]`; `None` leaves a completion out
of its group's statistics. Here `None` means the sample could not be graded (`error` or
`timeout`, or a dataset row this adapter cannot turn into a task); a wrong answer is 0.0.

    from verifier_client import trl as vtrl
    trainer = GRPOTrainer(..., reward_funcs=[vtrl.math(), vtrl.format(style="r1")])

Every factory takes `client=` (a `Client` or `AsyncClient`) or `endpoints=` (else
`$VERIFIER_URL`), `name=` (TRL logs each reward under its function's `__name__`), `timeout_ms=`
(a per-sample deadline) and `asynchronous=True` for an `async def` form that TRL runs
concurrently with its other async reward functions. The functions are picklable (TRL's
AsyncGRPO and Ray ship reward functions to other processes).
"""

from __future__ import annotations

from typing import Any, Sequence

from verifier_client import tasks
from verifier_client._convert import code_tests, completion_text, prompt_text
from verifier_client.client import AsyncClient, Client, Result

__all__ = ["code", "format", "ifeval", "math", "task", "weighted", "RewardFunction", "AsyncRewardFunction"]

# Keyword arguments TRL passes that are not dataset columns.
_TRAINER_KWARGS = ("trainer_state", "log_extra", "log_metric", "environments")


class _Spec:
    """How one dataset row becomes a task. Picklable; `columns` are the dataset columns needed."""

    columns: tuple = ()
    default_name = "verifier"

    def task(self, i: int, prompts: Sequence | None, columns: dict) -> dict:
        raise NotImplementedError


class _Math(_Spec):
    default_name = "verifier_math"

    def __init__(self, solution_column: str, options: dict | None):
        self.columns = (solution_column,)
        self.options = options

    def task(self, i, prompts, columns):
        gold = columns[self.columns[0]][i]
        if gold is None:
            raise ValueError(f"column {self.columns[0]!r} is empty in this row")
        return tasks.math(str(gold), options=self.options)


class _Code(_Spec):
    default_name = "verifier_code"

    def __init__(self, tests_column, language, language_column, scoring, time_limit_ms, memory_limit_mb):
        self.columns = (tests_column,) + ((language_column,) if language_column else ())
        self.language = language
        self.language_column = language_column
        self.scoring = scoring
        self.time_limit_ms = time_limit_ms
        self.memory_limit_mb = memory_limit_mb

    def task(self, i, prompts, columns):
        default_language = self.language
        if self.language_column:
            default_language = columns[self.language_column][i] or self.language
        tests, lang, prefix = code_tests(columns[self.columns[0]][i], default_language=default_language)
        return tasks.code(tests, language_name=lang, prefix=prefix, scoring=self.scoring,
                          time_limit_ms=self.time_limit_ms, memory_limit_mb=self.memory_limit_mb)


class _Format(_Spec):
    def __init__(self, style: str, think_prefilled: bool):
        self.style = style
        self.think_prefilled = think_prefilled
        self.default_name = f"verifier_format_{style}"

    def task(self, i, prompts, columns):
        return tasks.format(self.style, think_prefilled=self.think_prefilled)


class _IFEval(_Spec):
    default_name = "verifier_ifeval"

    def __init__(self, ids_column, kwargs_column, mode, scoring):
        self.columns = (ids_column, kwargs_column)
        self.mode = mode
        self.scoring = scoring

    def task(self, i, prompts, columns):
        ids = columns[self.columns[0]][i]
        kwargs = columns[self.columns[1]][i]
        prompt = prompt_text(prompts[i]) if prompts is not None else None
        return tasks.instructions(ids, kwargs, mode=self.mode, scoring=self.scoring, prompt=prompt)


class _Native(_Spec):
    default_name = "verifier_task"

    def __init__(self, task_column: str):
        self.columns = (task_column,)

    def task(self, i, prompts, columns):
        value = columns[self.columns[0]][i]
        if isinstance(value, str):
            import json

            value = json.loads(value)
        if not isinstance(value, dict) or "kind" not in value:
            raise ValueError(f"column {self.columns[0]!r} must hold task objects with a `kind`")
        return value


def _default_client(client, endpoints, asynchronous: bool):
    if client is None:
        client = AsyncClient(endpoints) if asynchronous else Client(endpoints)
    elif endpoints is not None:
        raise ValueError("pass client= or endpoints=, not both")
    if asynchronous and isinstance(client, Client):
        client = client.to_async()
    elif not asynchronous and isinstance(client, AsyncClient):
        client = client.to_sync()
    return client


class RewardFunction:
    """A TRL reward function: `f(prompts, completions, completion_ids, **columns)` ->
    `list[float | None]`. Made by the factories of this module."""

    # (spec, weight, name) parts: the first is the sample's task, the rest its components.
    def __init__(self, parts, *, name: str, client, timeout_ms: int | None = None):
        self.parts = list(parts)
        self.client = client
        self.timeout_ms = timeout_ms
        self.__name__ = name
        self.__qualname__ = name

    def __repr__(self) -> str:
        return f"<verifier reward function {self.__name__} via {self.client!r}>"

    @property
    def columns(self) -> tuple:
        return tuple(c for spec, _, _ in self.parts for c in spec.columns)

    def _samples(self, prompts, completions, kwargs) -> tuple[list, list]:
        if completions is None:
            raise TypeError(f"{self.__name__}: called without `completions`")
        n = len(completions)
        columns = {k: v for k, v in kwargs.items() if k not in _TRAINER_KWARGS}
        for column in self.columns:
            if column not in columns:
                raise KeyError(
                    f"{self.__name__}: the dataset has no column {column!r} (columns passed: "
                    f"{sorted(columns) or 'none'}); name the right one in the factory's arguments"
                )
            if len(columns[column]) != n:
                raise ValueError(f"{self.__name__}: column {column!r} has {len(columns[column])} values for {n} completions")
        samples, local = [], [None] * n
        for i in range(n):
            try:
                text = completion_text(completions[i])
                primary, weight, _ = self.parts[0]
                sample = {"id": i, "completion": text, "task": primary.task(i, prompts, columns)}
                if weight != 1.0:
                    sample["weight"] = weight
                if len(self.parts) > 1:
                    sample["components"] = [
                        {"name": part_name, "weight": w, "task": spec.task(i, prompts, columns)}
                        for spec, w, part_name in self.parts[1:]
                    ]
                if self.timeout_ms is not None:
                    sample["limits"] = {"timeout_ms": int(self.timeout_ms)}
                samples.append(sample)
            except (ValueError, TypeError, KeyError) as e:
                # This row cannot become a task: it is not graded, and says why in the log.
                local[i] = f"{type(e).__name__}: {e}"
        return samples, local

    def _finish(self, n: int, samples: list, results: list[Result], local: list, kwargs: dict) -> list:
        by_row = {s["id"]: r for s, r in zip(samples, results)}
        rewards, statuses, errors = [], [], []
        for i in range(n):
            result = by_row.get(i)
            if result is None:
                rewards.append(None)
                statuses.append("error")
                errors.append(local[i] or "not graded")
            else:
                rewards.append(result.training_reward)
                statuses.append(result.status)
                errors.append(result.error or "")
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra(f"{self.__name__}_status", statuses)
            if any(errors):
                log_extra(f"{self.__name__}_error", errors)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and n:
            for status in ("error", "timeout", "no_answer"):
                log_metric(f"{self.__name__}/{status}", statuses.count(status) / n)
        return rewards

    def __call__(self, prompts=None, completions=None, completion_ids=None, **kwargs) -> list:
        samples, local = self._samples(prompts, completions, kwargs)
        results = self.client.grade(samples) if samples else []
        return self._finish(len(completions), samples, results, local, kwargs)


class AsyncRewardFunction(RewardFunction):
    """The `async def` form: TRL awaits it (it checks `inspect.iscoroutinefunction`)."""

    async def __call__(self, prompts=None, completions=None, completion_ids=None, **kwargs) -> list:
        samples, local = self._samples(prompts, completions, kwargs)
        results = await self.client.grade(samples) if samples else []
        return self._finish(len(completions), samples, results, local, kwargs)

    # `inspect.iscoroutinefunction` sees an instance as an async function when it looks like a
    # function (code, defaults) whose code is a coroutine's, as Cython's functions do. These are
    # class attributes, so pickling is unaffected.
    __code__ = __call__.__code__
    __defaults__ = None
    __kwdefaults__ = None


def _make(spec: _Spec, *, client, endpoints, name, timeout_ms, asynchronous, weight=1.0):
    name = name or spec.default_name
    cls = AsyncRewardFunction if asynchronous else RewardFunction
    return cls([(spec, float(weight), name)], name=name,
               client=_default_client(client, endpoints, asynchronous), timeout_ms=timeout_ms)


def math(solution_column: str = "solution", *, options: dict | None = None, client=None,
         endpoints=None, name: str | None = None, timeout_ms: int | None = None,
         asynchronous: bool = False) -> RewardFunction:
    """1.0 when the completion's final answer equals the gold answer in `solution_column`
    (open-r1's convention: a full worked solution with a `\\boxed{}` answer, or the bare
    answer), 0.0 when it does not or none can be found. `options`: the math grader's options."""
    return _make(_Math(solution_column, options), client=client, endpoints=endpoints, name=name,
                 timeout_ms=timeout_ms, asynchronous=asynchronous)


def code(tests_column: str = "verification_info", *, language: str = "python",
         language_column: str | None = None, scoring: str = "fraction",
         time_limit_ms: int | None = None, memory_limit_mb: int | None = None, client=None,
         endpoints=None, name: str | None = None, timeout_ms: int | None = None,
         asynchronous: bool = False) -> RewardFunction:
    """The share of tests passed (`scoring="all"`: 1.0 only when all pass), running the
    completion's code in the service's sandbox. `tests_column` holds open-r1's
    `verification_info` (`{"language", "test_cases"}`), APPS/TACO-style
    `{"inputs", "outputs"}` (a JSON string or a dict), or our own `tests` object. Python and
    JavaScript; another language is an `error` (None)."""
    spec = _Code(tests_column, language, language_column, scoring, time_limit_ms, memory_limit_mb)
    return _make(spec, client=client, endpoints=endpoints, name=name, timeout_ms=timeout_ms,
                 asynchronous=asynchronous)


def format(style: str = "r1", *, think_prefilled: bool = False, client=None,  # noqa: A001
           endpoints=None, name: str | None = None, timeout_ms: int | None = None,
           asynchronous: bool = False) -> RewardFunction:
    """Layout rewards: `r1` (one `<think>` block, then an answer), `think_answer` (open-r1's
    `format_reward`, bug for bug), `think_answer_strict`, `tag_count` (0.25 per tag).
    `think_prefilled=True` when the chat template already wrote `<think>`."""
    return _make(_Format(style, think_prefilled), client=client, endpoints=endpoints, name=name,
                 timeout_ms=timeout_ms, asynchronous=asynchronous)


def ifeval(instruction_ids_column: str = "instruction_id_list", kwargs_column: str = "kwargs", *,
           mode: str = "strict", scoring: str = "all", client=None, endpoints=None,
           name: str | None = None, timeout_ms: int | None = None,
           asynchronous: bool = False) -> RewardFunction:
    """IFEval's verifiable instructions (google/IFEval's columns by default). The prompt some
    checks need is the prompt TRL passes (its last user message). `scoring="fraction"` for the
    share of instructions followed."""
    spec = _IFEval(instruction_ids_column, kwargs_column, mode, scoring)
    return _make(spec, client=client, endpoints=endpoints, name=name, timeout_ms=timeout_ms,
                 asynchronous=asynchronous)


def task(task_column: str = "task", *, client=None, endpoints=None, name: str | None = None,
         timeout_ms: int | None = None, asynchronous: bool = False) -> RewardFunction:
    """Tasks in the service's own format, one per row in `task_column` (a dict or JSON text)."""
    return _make(_Native(task_column), client=client, endpoints=endpoints, name=name,
                 timeout_ms=timeout_ms, asynchronous=asynchronous)


def weighted(*parts: Any, client=None, endpoints=None, name: str = "verifier_weighted",
             timeout_ms: int | None = None, asynchronous: bool | None = None) -> RewardFunction:
    """One reward from several, graded in one request: `weighted((math(), 1.0), (format(),
    0.5))` is `1.0 × math + 0.5 × format` (a bare function weighs 1). None when any part could
    not be graded. The client is the first part's unless one is given."""
    if not parts:
        raise ValueError("weighted() needs at least one reward function")
    specs = []
    for part in parts:
        fn, weight = part if isinstance(part, tuple) else (part, 1.0)
        if not isinstance(fn, RewardFunction) or len(fn.parts) != 1:
            raise TypeError("weighted() takes reward functions made by this module's factories (not weighted ones)")
        spec, _, part_name = fn.parts[0]
        specs.append((spec, float(weight), part_name))
    first = parts[0][0] if isinstance(parts[0], tuple) else parts[0]
    if asynchronous is None:
        asynchronous = isinstance(first, AsyncRewardFunction)
    if client is None and endpoints is None:
        client = first.client
    cls = AsyncRewardFunction if asynchronous else RewardFunction
    return cls(specs, name=name, client=_default_client(client, endpoints, asynchronous),
               timeout_ms=timeout_ms)
