"""Other frameworks' own client code against the real `verifier serve` (`$VERIFIER_BIN`):

* verl's SandboxFusion client, `verl/utils/reward_score/sandbox_fusion/` from verl's wheel
  (imported as the top-level package `sandbox_fusion`; `$VERL_SANDBOX_FUSION` is the folder that
  holds it), against `POST /run_code`: `compute_score` as verl's reward manager calls it, and
  `check_correctness`'s per-case verdicts (True, False, -1 sandbox error, -2 runtime error,
  -3 timeout).
* OpenRLHF's remote reward model request against `POST /get_reward`. OpenRLHF's client cannot be
  imported without torch and ray, so the request is made as its source makes it:
  `requests.post(url=url, json=data, headers={"Content-Type": "application/json"}, timeout=180)`
  with `data = {"query": queries, "prompts": prompts, "labels": labels}`
  (`openrlhf/utils/remote_rm_utils.py`, `request_api_wrapper` and `remote_rm_fn_ray`, as of
  commit 494850f5), and the answer is read as OpenRLHF reads it: `rewards`, `scores`, and each
  `extra_logs` value made a tensor per sample (`experience_maker.py`, `samples_generator.py`).

Run by `cargo test -p tests --test compat_clients`, which makes the venv and fetches the wheels; by hand:
`VERIFIER_BIN=target/debug/verifier VERL_SANDBOX_FUSION=<dir> python3 -m unittest discover -s tests/anchors/compat`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest


def _verifier_bin() -> str:
    path = os.environ.get("VERIFIER_BIN")
    if not path or not os.path.isfile(path):
        raise unittest.SkipTest("VERIFIER_BIN is not set to a built `verifier` binary")
    return path


class Service:
    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [_verifier_bin(), "serve", "--addr", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        line = self.process.stdout.readline().strip()
        self.url = line.removeprefix("verifier listening on ")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def setUpModule():
    global SERVICE
    SERVICE = Service()


def tearDownModule():
    SERVICE.stop()


def _sandbox_fusion():
    folder = os.environ.get("VERL_SANDBOX_FUSION")
    if not folder:
        raise unittest.SkipTest("VERL_SANDBOX_FUSION is not set to the folder holding verl's sandbox_fusion package")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import sandbox_fusion  # verl's own module, unchanged

    return sandbox_fusion


ADD = json.dumps({"inputs": ["2 3\n", "10 -4\n", "0 0\n"], "outputs": ["5\n", "6\n", "0\n"]})


class VerlSandboxFusionClient(unittest.TestCase):
    def setUp(self):
        self.sf = _sandbox_fusion()
        self.url = SERVICE.url + "/run_code"

    def test_compute_score_passes_right_code_and_fails_wrong_code(self):
        right = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
        wrong = "```python\na, b = map(int, input().split())\nprint(a - b)\n```"
        # verl's reward manager: compute_score(url, semaphore, memory_limit_mb, completion, tests, continuous)
        score, metadata = self.sf.compute_score(self.url, None, 1024, right, ADD, continuous=True)
        self.assertEqual(score, 1.0, metadata)
        self.assertEqual([m["status"] for m in metadata], ["success"] * 3)
        score, metadata = self.sf.compute_score(self.url, None, 1024, wrong, ADD, continuous=True)
        self.assertLess(score, 1.0)
        self.assertIn("wrong_answer", [m["status"] for m in metadata])

    def test_check_correctness_tells_runtime_errors_timeouts_and_unsupported_languages(self):
        check = self.sf.utils.check_correctness
        tests = {"inputs": ["1\n"], "outputs": ["1\n"]}
        results, metadata = check(self.url, tests, "raise ValueError('no')", timeout=5)
        self.assertEqual(results, [-2], metadata)
        self.assertEqual(metadata[0]["status"], "runtime_error")
        self.assertIn("ValueError", metadata[0]["stderr"])
        results, metadata = check(self.url, tests, "while True:\n    pass", timeout=1)
        self.assertEqual(results, [-3], metadata)
        self.assertEqual(metadata[0]["status"], "timeout")
        results, metadata = check(self.url, tests, "int main() {}", timeout=5, language="cpp")
        self.assertEqual(results, [-1], metadata)
        self.assertEqual(metadata[0]["status"], "sandbox_error")
        results, metadata = check(self.url, tests, "console.log(std.in.readAsString().trim())",
                                  timeout=5, language="nodejs")
        self.assertEqual(results, [True], metadata)


class OpenRLHFRemoteRewardModel(unittest.TestCase):
    def post(self, url, queries, prompts, labels):
        import requests

        # As openrlhf/utils/remote_rm_utils.py builds and posts it.
        data = {"query": queries, "prompts": prompts, "labels": labels}
        headers = {"Content-Type": "application/json"}
        response = requests.post(url=url, json=data, headers=headers, timeout=180)
        response.raise_for_status()
        return response.json()

    def test_math_labels_give_float_rewards_and_numeric_status_logs(self):
        prompt = "<|im_start|>user\nWhat is 3*4?<|im_end|>\n<|im_start|>assistant\n"
        queries = [prompt + r"It is $\boxed{12}$.<|im_end|>", prompt + r"$\boxed{13}$<|im_end|>",
                   prompt + "no idea<|im_end|>"]
        answer = self.post(SERVICE.url + "/get_reward", queries, [prompt] * 3, ["12", "12", None])
        self.assertEqual(answer["rewards"], [1.0, 0.0, 0.0])
        self.assertEqual(answer["scores"], answer["rewards"])
        self.assertEqual(answer["statuses"], ["correct", "incorrect", "error"])
        self.assertIn("null", answer["errors"][2])
        # OpenRLHF makes a tensor of every extra_logs value, one number per sample.
        for key, values in answer["extra_logs"].items():
            self.assertEqual(len(values), 3, key)
            self.assertTrue(all(isinstance(v, float) for v in values), key)
        self.assertEqual(answer["extra_logs"]["verifier_error"], [0.0, 0.0, 1.0])


if __name__ == "__main__":
    unittest.main()
