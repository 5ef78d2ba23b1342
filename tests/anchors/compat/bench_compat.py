"""By hand, not a test (speed is never asserted): 1,024 math samples scored four ways against one
`verifier serve`, one run each, wall time printed.

* verl's per-sample path: `verifier_client.verl.compute_score`, called 1,024 times in a row, as
  verl's naive reward manager calls a custom `compute_score` (one HTTP request per sample);
* the client's batched form: `verifier_client.verl.compute_score_batch`, once;
* `POST /get_reward` in OpenRLHF's shape, one request of 1,024;
* 1,024 single-sample `POST /v1/grade` requests on one keep-alive connection.

    cargo build --release -p verifier
    VERIFIER_BIN=target/release/verifier python3 tests/anchors/compat/bench_compat.py
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "clients", "python", "src"))

import verifier_client.verl as vverl  # noqa: E402

N = 1024


def main() -> None:
    binary = os.environ["VERIFIER_BIN"]
    service = subprocess.Popen([binary, "serve", "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env={**os.environ, "RUST_LOG": "warn"})
    url = service.stdout.readline().strip().removeprefix("verifier listening on ")
    try:
        run(url)
    finally:
        service.kill()
        service.wait()


def run(url: str) -> None:
    # Half right, half wrong, each answer different so that nothing is served from the cache.
    golds = [str(i * 7 + 3) for i in range(N)]
    responses = [f"Adding up, we get $\\boxed{{{int(g) + (i % 2)}}}$." for i, g in enumerate(golds)]
    expected = sum(1 for i in range(N) if i % 2 == 0)

    start = time.perf_counter()
    scores = [vverl.compute_score("lighteval/MATH", r, g, verifier_url=url)["score"]
              for r, g in zip(responses, golds)]
    per_sample = time.perf_counter() - start
    assert sum(scores) == expected, sum(scores)

    start = time.perf_counter()
    batch = vverl.compute_score_batch(["lighteval/MATH"] * N, responses, golds, [None] * N, verifier_url=url)
    batched = time.perf_counter() - start
    assert sum(s["score"] for s in batch) == expected

    host = urllib.parse.urlsplit(url)
    prompt = "<|im_start|>user\nCompute it.<|im_end|>\n<|im_start|>assistant\n"
    payload = json.dumps({"query": [prompt + r + "<|im_end|>" for r in responses],
                          "prompts": [prompt] * N, "labels": golds})
    conn = http.client.HTTPConnection(host.hostname, host.port)
    start = time.perf_counter()
    conn.request("POST", "/get_reward", payload, {"Content-Type": "application/json"})
    rewards = json.loads(conn.getresponse().read())["rewards"]
    get_reward = time.perf_counter() - start
    assert sum(rewards) == expected

    start = time.perf_counter()
    total = 0.0
    for r, g in zip(responses, golds):
        body = json.dumps({"samples": [{"completion": r, "task": {"kind": "math", "answer": g}}]})
        conn.request("POST", "/v1/grade", body, {"Content-Type": "application/json"})
        total += json.loads(conn.getresponse().read())["results"][0]["reward"]
    singles = time.perf_counter() - start
    assert total == expected

    print(f"{N} math samples, wall time, one run each:")
    print(f"  verl compute_score per sample (1,024 requests): {per_sample:.3f} s")
    print(f"  verl compute_score_batch (one call):            {batched:.3f} s")
    print(f"  POST /get_reward, one request of 1,024:         {get_reward:.3f} s")
    print(f"  POST /v1/grade, 1,024 single-sample requests:   {singles:.3f} s")


if __name__ == "__main__":
    main()
