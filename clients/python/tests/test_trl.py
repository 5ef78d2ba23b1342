"""`verifier_client.trl`: reward functions called exactly as TRL's GRPOTrainer calls them
(`prompts=`, `completions=`, `completion_ids=`, the dataset's columns, `trainer_state`,
`log_extra`, `log_metric`), against the real service."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import pickle
import unittest

from _support import Service

from verifier_client import AsyncClient, Client, VerifierUnavailable
from verifier_client import trl as vtrl

service: Service | None = None


def setUpModule():
    global service
    service = Service()


def tearDownModule():
    if service is not None:
        service.stop()


class Logs:
    """Stands in for TRL's `log_extra` / `log_metric` callbacks."""

    def __init__(self):
        self.extra: dict = {}
        self.metrics: dict = {}

    def log_extra(self, column, values):
        self.extra[column] = list(values)

    def log_metric(self, name, value):
        self.metrics[name] = value


def conversation(text: str) -> list:
    return [{"role": "assistant", "content": text}]


def call(fn, completions, prompts=None, logs=None, **columns):
    """The call TRL makes (trl/trainer/grpo_trainer.py, `_calculate_rewards`)."""
    logs = logs or Logs()
    prompts = prompts or [[{"role": "user", "content": "Solve it."}] for _ in completions]
    return fn(prompts=prompts, completions=completions,
              completion_ids=[[1, 2, 3] for _ in completions], trainer_state=object(),
              log_extra=logs.log_extra, log_metric=logs.log_metric, **columns)


SOLUTIONS = ["We find $x = 2$, so the answer is $\\boxed{2}$.", "$\\boxed{\\frac{1}{2}}$", "7", "\\frac{"]
COMPLETIONS = [
    conversation("<think>\nx+x=4\n</think>\nSo x is $\\boxed{2}$."),  # right
    conversation("The answer is $\\boxed{0.5}$"),                      # right, another notation
    conversation("I have no idea."),                                   # no answer: 0.0
    conversation("\\boxed{1}"),                                        # unparsable gold: None
]


class TrlMathTest(unittest.TestCase):
    def setUp(self):
        self.fn = vtrl.math(endpoints=service.url)

    def test_message_lists_and_the_solution_column(self):
        logs = Logs()
        rewards = call(self.fn, COMPLETIONS, logs=logs, solution=SOLUTIONS, problem=["p"] * 4)
        self.assertEqual(rewards, [1.0, 1.0, 0.0, None])
        self.assertEqual(logs.extra["verifier_math_status"], ["correct", "correct", "no_answer", "error"])
        self.assertIn("could not be parsed", logs.extra["verifier_math_error"][3])
        self.assertEqual(logs.metrics["verifier_math/error"], 0.25)
        self.assertEqual(logs.metrics["verifier_math/no_answer"], 0.25)
        self.assertEqual(logs.metrics["verifier_math/timeout"], 0.0)

    def test_string_completions_and_a_column_named_by_the_user(self):
        fn = vtrl.math("answer", endpoints=service.url, name="gsm8k_accuracy")
        self.assertEqual(fn.__name__, "gsm8k_accuracy")
        rewards = fn(prompts=["q1", "q2"], completions=["#### 72", "It is 71."], answer=["72", "72"])
        self.assertEqual(rewards, [1.0, 0.0])

    def test_without_trl_logging_callbacks(self):
        # Older TRL releases pass neither log_extra nor log_metric.
        rewards = self.fn(prompts=["q"], completions=["\\boxed{3}"], completion_ids=[[1]], solution=["3"])
        self.assertEqual(rewards, [1.0])

    def test_a_timeout_is_none_not_zero(self):
        fn = vtrl.math(endpoints=service.url, timeout_ms=0)
        logs = Logs()
        self.assertEqual(call(fn, ["\\boxed{2}"], logs=logs, solution=["2"]), [None])
        self.assertEqual(logs.extra["verifier_math_status"], ["timeout"])

    def test_a_missing_column_names_the_columns_it_got(self):
        with self.assertRaises(KeyError) as caught:
            call(self.fn, ["\\boxed{2}"], answer=["2"])
        self.assertIn("'solution'", str(caught.exception))
        self.assertIn("answer", str(caught.exception))

    def test_an_unreachable_service_raises_rather_than_scoring(self):
        fn = vtrl.math(client=Client("http://127.0.0.1:9", max_attempts=2, initial_backoff=0.01))
        with self.assertRaises(VerifierUnavailable):
            call(fn, ["\\boxed{2}"], solution=["2"])

    def test_async_form(self):
        fn = vtrl.math(endpoints=service.url, asynchronous=True)
        self.assertTrue(inspect.iscoroutinefunction(fn), "TRL would not await it")
        self.assertFalse(inspect.iscoroutinefunction(self.fn))
        logs = Logs()

        async def go():
            rewards = await call(fn, COMPLETIONS, logs=logs, solution=SOLUTIONS)
            await fn.client.aclose()
            return rewards

        self.assertEqual(asyncio.run(go()), [1.0, 1.0, 0.0, None])
        self.assertEqual(logs.extra["verifier_math_status"][3], "error")
        # A sync client given to an async factory is converted, and the other way round.
        self.assertIsInstance(vtrl.math(client=Client(service.url), asynchronous=True).client, AsyncClient)
        self.assertIsInstance(vtrl.math(client=AsyncClient(service.url)).client, Client)

    def test_pickled_functions_keep_name_kind_and_answers(self):
        for fn in (self.fn, vtrl.math(endpoints=service.url, asynchronous=True),
                   vtrl.weighted((vtrl.math(endpoints=service.url), 1.0), (vtrl.format(), 0.5))):
            call(fn, ["\\boxed{2}"], solution=["2"]) if not inspect.iscoroutinefunction(fn) else None
            copy = pickle.loads(pickle.dumps(fn))
            self.assertEqual(copy.__name__, fn.__name__)
            self.assertEqual(inspect.iscoroutinefunction(copy), inspect.iscoroutinefunction(fn))
            completions = [conversation("<think>\nok\n</think>\n\\boxed{2}")]
            if inspect.iscoroutinefunction(copy):
                async def go():
                    try:
                        return await call(copy, completions, solution=["2"])
                    finally:
                        await copy.client.aclose()

                self.assertEqual(asyncio.run(go()), [1.0])
            else:
                expected = 1.5 if "weighted" in fn.__name__ else 1.0
                self.assertEqual(call(copy, completions, solution=["2"]), [expected])


class TrlOtherKindsTest(unittest.TestCase):
    def test_format_styles(self):
        good = "<think>\nreasoning\n</think>\n<answer>\n42\n</answer>"
        r1 = vtrl.format(style="r1", endpoints=service.url)
        self.assertEqual(r1.__name__, "verifier_format_r1")
        self.assertEqual(call(r1, [conversation(good), conversation("just 42")]), [1.0, 0.0])
        tags = vtrl.format(style="tag_count", endpoints=service.url)
        self.assertEqual(call(tags, ["<think>\nreasoning\n</think>\n42"]), [0.5])
        prefilled = vtrl.format(style="r1", think_prefilled=True, endpoints=service.url)
        self.assertEqual(call(prefilled, ["reasoning\n</think>\n42"]), [1.0])

    def test_code_with_verification_info_and_apps_style_tests(self):
        fn = vtrl.code(endpoints=service.url)
        self.assertEqual(fn.__name__, "verifier_code")
        program = "```python\nprint(int(input()) * 2)\n```"
        open_r1 = {"language": "python", "test_cases": [
            {"input": "2\n", "output": "4\n", "type": "stdin_stdout"},
            {"input": "5\n", "output": "10\n", "type": "stdin_stdout"}]}
        apps = json.dumps({"inputs": ["3\n", "4\n"], "outputs": ["6\n", "9\n"]})
        ours = {"type": "stdio", "cases": [{"input": "1", "output": "2"}]}
        logs = Logs()
        rewards = call(fn, [conversation(program)] * 4, logs=logs,
                       verification_info=[open_r1, apps, ours, {"nonsense": 1}])
        self.assertEqual(rewards[:3], [1.0, 0.5, 1.0])
        # A row that cannot become a task is not graded, and the log says why.
        self.assertIsNone(rewards[3])
        self.assertIn("unrecognised code tests", logs.extra["verifier_code_error"][3])
        strict = vtrl.code(endpoints=service.url, scoring="all", tests_column="tests")
        self.assertEqual(call(strict, [program], tests=[apps]), [0.0])

    def test_code_in_an_unsupported_language_is_none(self):
        fn = vtrl.code(endpoints=service.url)
        info = {"language": "cpp", "test_cases": [{"input": "1", "output": "2", "type": "stdin_stdout"}]}
        logs = Logs()
        self.assertEqual(call(fn, ["int main(){}"], logs=logs, verification_info=[info]), [None])
        self.assertEqual(logs.extra["verifier_code_status"], ["error"])

    def test_ifeval_uses_the_prompt_trl_passes(self):
        fn = vtrl.ifeval(endpoints=service.url)
        prompt = "Write about rust. First repeat the request word for word without change."
        ids = [["combination:repeat_prompt", "punctuation:no_comma"]] * 3
        # google/IFEval rows: every instruction's kwargs with every key, unused ones null.
        kwargs = [[{"prompt_to_repeat": None, "num_words": None}, {"prompt_to_repeat": None, "num_words": None}]] * 3
        completions = [conversation(prompt + " Iron wakes slowly"),
                       conversation("Iron wakes slowly"),
                       conversation(prompt + " Iron, wakes")]
        prompts = [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]] * 3
        rewards = call(fn, completions, prompts=prompts, instruction_id_list=ids, kwargs=kwargs)
        self.assertEqual(rewards, [1.0, 0.0, 0.0])
        loose = vtrl.ifeval(endpoints=service.url, scoring="fraction")
        self.assertEqual(call(loose, completions, prompts=prompts, instruction_id_list=ids, kwargs=kwargs),
                         [1.0, 0.5, 0.5])

    def test_weighted_combination_is_one_request(self):
        math_fn = vtrl.math(endpoints=service.url)
        combined = vtrl.weighted((math_fn, 1.0), (vtrl.format(style="r1"), 0.5), name="accuracy_and_format")
        self.assertEqual(combined.__name__, "accuracy_and_format")
        completions = [conversation("<think>\nx\n</think>\n\\boxed{2}"),   # both
                       conversation("\\boxed{2}"),                          # math only
                       conversation("<think>\nx\n</think>\n\\boxed{3}"),   # format only
                       conversation("<think>\nx\n</think>\n\\boxed{3}")]   # its gold is unparsable
        rewards = call(combined, completions, solution=["2", "2", "2", "\\frac{"])
        self.assertEqual(rewards, [1.5, 1.0, 0.5, None])
        self.assertTrue(inspect.iscoroutinefunction(
            vtrl.weighted(vtrl.math(endpoints=service.url, asynchronous=True), vtrl.format())))

    def test_native_tasks_column(self):
        fn = vtrl.task(endpoints=service.url)
        rewards = call(fn, ["\\boxed{4}", "<think>\nx\n</think>\ny"],
                       task=[{"kind": "math", "answer": "4"}, json.dumps({"kind": "format", "style": "r1"})])
        self.assertEqual(rewards, [1.0, 1.0])

    def test_many_completions_are_batched(self):
        fn = vtrl.math(client=Client(service.url, batch_size=64))
        n = 500
        completions = [conversation(f"\\boxed{{{i}}}") for i in range(n)]
        rewards = call(fn, completions, solution=[str(i if i % 7 else i + 1) for i in range(n)])
        self.assertEqual(rewards, [0.0 if i % 7 == 0 else 1.0 for i in range(n)])
        self.assertFalse(any(r is None or math.isnan(r) for r in rewards))


if __name__ == "__main__":
    unittest.main()
