#!/usr/bin/env bash
# The one-hour learning recipe (rollout-worker/README.md, "A real model learns on CPU"):
# SmolLM2-135M-Instruct learns R1's format and easy arithmetic word problems from verifier
# rewards alone. Evaluates the starting model greedily on the 300 held-out prompts, trains
# against a `verifier serve` it starts, evaluates the trained checkpoint the same way, grades
# both with `verifier grade`, prints the comparison with 95% intervals and draws the curves.
#
#   cargo build --release -p verifier -p rollout-worker
#   rollout-worker/examples/arithmetic/run.sh [OUT_DIR]      # default runs/arithmetic
#
# Environment: BIN (default target/release), PORT (default 8091), STEPS (default 100).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${BIN:-$root/target/release}"
out="${1:-$root/runs/arithmetic}"
port="${PORT:-8091}"
steps="${STEPS:-100}"
mkdir -p "$out"

"$bin/verifier" serve --addr "127.0.0.1:$port" >"$out/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
done

evaluate() { # model, name
    "$bin/rollout-worker" generate --model "$1" --prompts "$here/heldout.jsonl" \
        --chat-template "$here/template.txt" --max-new-tokens 128 --out "$out/$2.jsonl"
    "$bin/verifier" grade "$out/$2.jsonl" --output "$out/$2-graded.jsonl"
}

evaluate smollm2 before
"$bin/rollout-worker" train --model smollm2 --prompts "$here/train.jsonl" \
    --chat-template "$here/template.txt" --verifier "http://127.0.0.1:$port" \
    --steps "$steps" --prompts-per-step 2 --group-size 8 --max-new-tokens 128 \
    --temperature 0.7 --lr 1e-5 --beta 0.001 --out-dir "$out/train"
evaluate "$out/train/final" after
"$bin/rollout-worker" compare "$out/before-graded.jsonl" "$out/after-graded.jsonl" | tee "$out/compare.txt"
"$bin/rollout-worker" plot "$out/train/log.jsonl" --out "$out/plot.svg" \
    --title "SmolLM2-135M-Instruct, GRPO on arithmetic word problems, 2 CPU cores"
