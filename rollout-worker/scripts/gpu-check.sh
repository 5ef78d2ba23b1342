#!/usr/bin/env bash
# The CUDA backend's checks on a GPU machine that has no Rust toolchain and no network: the
# GPU-vs-CPU tests (tests/cuda_backend.rs), a toy generate and train run with --device cuda, and
# `rollout-worker bench --device cuda` on SmolLM2-135M's shape with random weights (the real
# weights are too big to carry). Figures go to one file, $OUT/gpu-check.json (the full log next
# to it as gpu-check.log).
#
# Two steps:
#   here (with cargo):  rollout-worker/scripts/gpu-check.sh pack [DIR]
#       builds the test binary (debug) and the release binary, and copies them, stripped, into
#       DIR (default target/gpu-check; about 10-20 MB together, well under a 64 MiB carry);
#   there (GPU):        rollout-worker/scripts/gpu-check.sh run [DIR]
#       needs an NVIDIA driver and CUDA 13's libnvrtc.so.13 and libcublas.so.13: found through
#       $ROLLOUT_WORKER_NVRTC, $CUDA_HOME, /usr/local/cuda*, pip's nvidia/cu13 wheels or ldconfig.
# Exit status: 0 only if every test ran on the GPU (none skipped) and passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-run}
dir=${2:-target/gpu-check}

if [ "$mode" = pack ]; then
    set -e
    cargo build --release -p rollout-worker </dev/null
    test_bin=$(cargo test -p rollout-worker --test cuda_backend --no-run --message-format=json </dev/null 2>/dev/null |
        grep -o '"executable":"[^"]*cuda_backend[^"]*"' | tail -n1 | cut -d'"' -f4)
    [ -n "$test_bin" ] || { echo "could not find the cuda_backend test binary" >&2; exit 1; }
    mkdir -p "$dir"
    cp "$test_bin" "$dir/cuda_backend"
    cp target/release/rollout-worker "$dir/rollout-worker"
    strip "$dir/cuda_backend" "$dir/rollout-worker" 2>/dev/null || true
    du -sh "$dir"/*
    exit 0
fi
[ "$mode" = run ] || { echo "usage: $0 pack|run [DIR]" >&2; exit 2; }

out=${OUT:-$dir}
mkdir -p "$out"
log="$out/gpu-check.log"
json="$out/gpu-check.json"
: >"$log"
say() { echo "$@" | tee -a "$log"; }

# CUDA's libraries: the first directory holding libnvrtc.so.13, and every one holding libcublas.
libdirs=()
for d in ${CUDA_HOME:+"$CUDA_HOME/lib64"} /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 \
    /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/targets/x86_64-linux/lib \
    /usr/lib/x86_64-linux-gnu $(python3 -c 'import site; print(" ".join(p + "/nvidia/cu13/lib" for p in site.getsitepackages()))' 2>/dev/null); do
    [ -d "$d" ] && { [ -e "$d/libnvrtc.so.13" ] || [ -e "$d/libcublas.so.13" ]; } && libdirs+=("$d")
done
if [ -z "${ROLLOUT_WORKER_NVRTC:-}" ]; then
    for d in "${libdirs[@]}"; do
        if [ -e "$d/libnvrtc.so.13" ]; then export ROLLOUT_WORKER_NVRTC="$d/libnvrtc.so.13"; break; fi
    done
fi
if [ -z "${ROLLOUT_WORKER_NVRTC:-}" ]; then
    ROLLOUT_WORKER_NVRTC=$(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so\.13 /{print $NF; exit}')
    [ -n "$ROLLOUT_WORKER_NVRTC" ] && export ROLLOUT_WORKER_NVRTC
fi
joined=$(IFS=:; echo "${libdirs[*]}")
export LD_LIBRARY_PATH="${joined}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
say "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$log" || true
say "NVRTC: ${ROLLOUT_WORKER_NVRTC:-not found}; LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

status=0
say "== GPU tests (tests/cuda_backend.rs)"
"$dir/cuda_backend" --nocapture --test-threads=1 >"$out/tests.txt" 2>&1
test_rc=$?
cat "$out/tests.txt" >>"$log"
grep -E "^(test |tied|GRPO|decoding|training|grpo)" "$out/tests.txt"
if [ $test_rc -ne 0 ] || grep -q "skipped" "$out/tests.txt"; then
    say "GPU tests: FAILED or skipped (rc $test_rc)"
    status=1
fi

say "== generate and train on the toy model (--device cuda)"
"$dir/rollout-worker" generate --model toy --prompt "3+4=" --chat-template plain \
    --max-new-tokens 4 --device cuda >>"$log" 2>&1 || { say "generate --device cuda failed"; status=1; }
"$dir/rollout-worker" toy-data --out "$out/toy.jsonl" >>"$log" 2>&1
"$dir/rollout-worker" train --model toy --prompts "$out/toy.jsonl" --chat-template plain \
    --steps 3 --prompts-per-step 8 --group-size 8 --max-new-tokens 1 --lr 1e-3 --beta 0.01 \
    --integer-fallback --device cuda --out-dir "$out/toy-run" --no-checkpoint >>"$log" 2>&1 ||
    { say "train --device cuda failed"; status=1; }
[ -f "$out/toy-run/log.jsonl" ] && tail -n1 "$out/toy-run/log.jsonl" | tee -a "$log"

say "== bench --device cuda (SmolLM2-135M shape, random weights)"
"$dir/rollout-worker" bench --device cuda --json --tokens 64 >"$out/bench.jsonl" 2>>"$log" ||
    { say "bench --device cuda failed"; status=1; }
cat "$out/bench.jsonl" | tee -a "$log"

# One JSON file: the test lines, the toy run's last step and the bench objects.
{
    echo "{"
    echo "  \"status\": $status,"
    echo "  \"tests\": ["
    grep -E "^(test |tied|GRPO|decoding|training|grpo)" "$out/tests.txt" |
        sed 's/\\/\\\\/g; s/"/\\"/g; s/^/    "/; s/$/",/' | sed '$ s/,$//'
    echo "  ],"
    last=$(tail -n1 "$out/toy-run/log.jsonl" 2>/dev/null)
    echo "  \"toy_train_last_step\": ${last:-null},"
    echo "  \"bench\": ["
    sed 's/^/    /; s/$/,/' "$out/bench.jsonl" | sed '$ s/,$//'
    echo "  ]"
    echo "}"
} >"$json"
say "wrote $json (status $status)"
exit $status
