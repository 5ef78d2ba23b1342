"""`verifier_client.verl`: verl's `compute_score` conventions by data_source, the batched form
(`reward_manager=batch` calls it with `data_sources=`, `solution_strs=`, `ground_truths=`,
`extra_infos=`), and the async form, against the real service."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import os
import time
import unittest
from unittest import mock

from _support import Service, dead_url

from verifier_client import verl
from verifier_client.verl import VerifierSampleError

service: Service | None = None
KEYS = {"score", "acc", "pred", "status"}


def setUpModule():
    global service
    service = Service()


def tearDownModule():
    if service is not None:
        service.stop()


class VerlTest(unittest.TestCase):
    def score(self, data_source, solution, ground_truth, **kw):
        result = verl.compute_score(data_source, solution, ground_truth, extra_info={"index": 0},
                                    verifier_url=service.url, **kw)
        self.assertEqual(set(result), KEYS, result)
        return result

    def test_gsm8k_and_math_score_one_or_zero(self):
        self.assertEqual(self.score("openai/gsm8k", "48/2 = 24, 48 + 24 = 72\n#### 72", "72")["score"], 1.0)
        self.assertEqual(self.score("openai/gsm8k", "#### 71", "72")["score"], 0.0)
        for source in ("lighteval/MATH", "DigitalLearningGmbH/MATH-lighteval", "HuggingFaceH4/MATH-500",
                       "numina_olympiads"):
            right = self.score(source, "so $\\boxed{\\frac{1}{2}}$", "\\frac12")
            self.assertEqual((right["score"], right["acc"], right["pred"]), (1.0, True, "\\frac{1}{2}"))
            self.assertEqual(self.score(source, "so $\\boxed{3}$", "\\frac12")["score"], 0.0)

    def test_math_dapo_and_aime_are_plus_or_minus_one(self):
        for source in ("math_dapo", "aime2024", "math"):
            right = self.score(source, "... Answer: 204", "204")
            self.assertEqual((right["score"], right["acc"], right["status"]), (1.0, True, "correct"))
            wrong = self.score(source, "... Answer: 205", "204")
            self.assertEqual((wrong["score"], wrong["acc"]), (-1.0, False))
            none = self.score(source, "I give up.", "204")
            self.assertEqual((none["score"], none["status"]), (-1.0, "no_answer"))

    def test_code_sources_run_inputs_outputs_as_stdio_tests(self):
        program = "Here:\n```python\nn = int(input())\nprint(n * n)\n```"
        tests = {"inputs": ["2\n", "3\n", "4\n", "5\n"], "outputs": ["4\n", "9\n", "16\n", "26\n"]}
        for source in ("codecontests", "apps", "codeforces", "taco"):
            result = self.score(source, program, json.dumps(tests))
            self.assertEqual((result["score"], result["acc"], result["status"]), (0.75, False, "partial"))
        tests["outputs"][3] = "25\n"
        self.assertEqual(self.score("taco", program, tests)["score"], 1.0)
        self.assertEqual(self.score("taco", program, tests, scoring="all")["score"], 1.0)
        tests["outputs"][0] = "5\n"
        self.assertEqual(self.score("taco", program, tests, scoring="all")["score"], 0.0)

    def test_assert_tests_may_carry_the_prompt_as_a_trusted_prefix(self):
        helper = "def encode_shift(s):\n    return ''.join(chr(((ord(c) + 5 - 97) % 26) + 97) for c in s)\n"
        check = ("def check(candidate):\n    for s in ['abc', 'hello', 'xyz']:\n"
                 "        assert candidate(encode_shift(s)) == s\n")
        tests = {"type": "assert", "code": check, "entry_point": "decode_shift", "prefix": helper}
        right = "def decode_shift(s):\n    return ''.join(chr(((ord(c) - 5 - 97) % 26) + 97) for c in s)\n"
        farmed = "def encode_shift(s):\n    return s\ndef decode_shift(s):\n    return s\n"
        self.assertEqual(self.score("codecontests", right, json.dumps(tests))["score"], 1.0)
        self.assertEqual(self.score("codecontests", farmed, json.dumps(tests))["score"], 0.0)

    def test_call_based_apps_tests_are_an_explicit_failure(self):
        tests = json.dumps({"fn_name": "f", "inputs": [[1]], "outputs": [[2]]})
        with self.assertLogs("verifier_client.verl", "WARNING") as logs:
            result = self.score("apps", "def f(x): return 2*x", tests)
        self.assertEqual((result["score"], result["status"]), (0.0, "error"))
        self.assertIn("fn_name", "\n".join(logs.output))
        with self.assertRaisesRegex(VerifierSampleError, "fn_name"):
            self.score("apps", "def f(x): return 2*x", tests, on_error="raise")

    def test_unsupported_sources_raise_like_verl(self):
        for source in ("hiyouga/geometry3k", "searchR1_nq", "my_dataset"):
            with self.assertRaises(NotImplementedError) as caught:
                self.score(source, "x", "y")
            self.assertIn(source, str(caught.exception))

    def test_a_task_object_as_ground_truth(self):
        task = {"kind": "format", "style": "r1"}
        self.assertEqual(self.score("anything", "<think>\nx\n</think>\ny", task)["score"], 1.0)
        self.assertEqual(self.score("anything", "y", json.dumps(task))["score"], 0.0)

    def test_errors_and_timeouts_follow_on_error(self):
        with self.assertLogs("verifier_client.verl", "WARNING"):
            late = self.score("math_dapo", "Answer: 1", "1", timeout_ms=0)
        self.assertEqual((late["score"], late["status"], late["acc"]), (-1.0, "timeout", False))
        with self.assertLogs("verifier_client.verl", "WARNING"):
            bad_gold = self.score("openai/gsm8k", "#### 1", "\\frac{")
        self.assertEqual((bad_gold["score"], bad_gold["status"]), (0.0, "error"))
        with self.assertLogs("verifier_client.verl", "WARNING"):
            self.assertTrue(math.isnan(self.score("math_dapo", "Answer: 1", "1", timeout_ms=0, on_error="nan")["score"]))
        with self.assertRaisesRegex(VerifierSampleError, "timeout"):
            self.score("math_dapo", "Answer: 1", "1", timeout_ms=0, on_error="raise")
        with self.assertRaises(ValueError):
            self.score("math_dapo", "Answer: 1", "1", on_error="zero")

    def test_verl_only_arguments_are_accepted(self):
        result = self.score("openai/gsm8k", "#### 3", "3", sandbox_fusion_url="http://unused",
                            concurrent_semaphore=None, memory_limit_mb=1024, reward_router_address=None)
        self.assertEqual(result["score"], 1.0)

    def test_batched_form_matches_per_sample_calls_and_is_faster(self):
        n = 1024
        sources = [("openai/gsm8k", "math_dapo", "lighteval/MATH", "taco")[i % 4] for i in range(n)]
        solutions, truths = [], []
        for i in range(n):
            if sources[i] == "taco":
                solutions.append("```python\nprint(int(input()) + 1)\n```")
                truths.append(json.dumps({"inputs": [f"{i}\n"], "outputs": [f"{i + (i % 3 != 0)}\n"]}))
            else:
                solutions.append(f"The answer is $\\boxed{{{i}}}$.")
                truths.append(str(i if i % 5 else i + 1))
        extra_infos = [{"index": i} for i in range(n)]
        started = time.perf_counter()
        batched = verl.compute_score_batch(data_sources=sources, solution_strs=solutions,
                                           ground_truths=truths, extra_infos=extra_infos,
                                           verifier_url=service.url)
        batch_seconds = time.perf_counter() - started
        started = time.perf_counter()
        single = [verl.compute_score(s, sol, gt, ei, verifier_url=service.url)
                  for s, sol, gt, ei in zip(sources, solutions, truths, extra_infos)]
        single_seconds = time.perf_counter() - started
        self.assertEqual(batched, single)
        for i, result in enumerate(batched):
            if sources[i] == "taco":
                expected = 1.0 if i % 3 != 0 else 0.0
            elif i % 5:
                expected = 1.0
            else:
                expected = -1.0 if sources[i] == "math_dapo" else 0.0
            self.assertEqual(result["score"], expected, (i, sources[i], result))
        print(f"\n  verl, {n} samples: batched {batch_seconds * 1000:.0f} ms, "
              f"{n} single calls {single_seconds * 1000:.0f} ms", flush=True)

    def test_async_forms(self):
        self.assertTrue(inspect.iscoroutinefunction(verl.compute_score_async))
        self.assertTrue(inspect.iscoroutinefunction(verl.compute_score_batch_async))

        async def go():
            one = await verl.compute_score_async("math_dapo", "Answer: 5", "5", {"index": 0},
                                                 verifier_url=service.url)
            many = await asyncio.gather(*(
                verl.compute_score_async("openai/gsm8k", f"#### {i}", "3", None, verifier_url=service.url)
                for i in range(6)))
            batch = await verl.compute_score_batch_async(["math_dapo"] * 3, ["Answer: 1", "Answer: 2", "x"],
                                                         ["1", "1", "1"], verifier_url=service.url)
            await verl._client((service.url,), True).aclose()
            return one, many, batch

        one, many, batch = asyncio.run(go())
        self.assertEqual(one["score"], 1.0)
        self.assertEqual([r["score"] for r in many], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
        self.assertEqual([r["score"] for r in batch], [1.0, -1.0, -1.0])

    def test_endpoints_from_the_environment(self):
        with mock.patch.dict(os.environ, {"VERIFIER_URL": f"{dead_url()},{service.url}"}):
            self.assertEqual(verl.compute_score("openai/gsm8k", "#### 8", "8")["score"], 1.0)


if __name__ == "__main__":
    unittest.main()
