"""PyTorch + transformers doing the works of `rollout-worker bench`, for the ratio between the two.

Not a test dependency: run it by hand in a virtual environment that has torch and transformers,
right after `rollout-worker bench --json`, on the same threads:

    python rollout-worker/scripts/torch_bench.py --threads 2

Same shapes as the bench: SmolLM2-135M's config with random weights (f32); greedy decoding with
the KV cache after a 32-token prompt, only the decoding steps timed, at batch 1 and 8; a training
step on 8 sequences of 256 tokens (the last 192 scored: log-softmax at the chosen tokens, backward,
AdamW), the second of two steps timed. Prints one JSON object per line with `work` and
`tokens_per_s`, as the bench does.
"""

import argparse
import inspect
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SMOLLM2_135M = dict(
    vocab_size=49152,
    hidden_size=576,
    intermediate_size=1536,
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    rope_theta=100000.0,
    rms_norm_eps=1e-5,
    tie_word_embeddings=True,
    max_position_embeddings=8192,
)


def cpu_seconds():
    return time.process_time()


def with_cache(model, input_ids, cache):
    """One forward with the KV cache; transformers 5 renamed `past_key_values` to `cache`."""
    if "cache" in inspect.signature(model.forward).parameters:
        out = model(input_ids=input_ids, cache=cache, use_cache=True)
        return out, out.cache
    out = model(input_ids=input_ids, past_key_values=cache, use_cache=True)
    return out, out.past_key_values


def report(work, tokens, seconds, cpu, threads):
    print(
        json.dumps(
            {
                "work": work,
                "framework": "torch",
                "torch": torch.__version__,
                "tokens_per_s": tokens / seconds,
                "seconds": seconds,
                "tokens_per_cpu_s": tokens / cpu if cpu > 0 else None,
                "threads": threads,
            }
        ),
        flush=True,
    )


@torch.inference_mode()
def generation(model, batch, steps, threads):
    g = torch.Generator().manual_seed(3)
    prompt = torch.randint(0, SMOLLM2_135M["vocab_size"], (1, 32), generator=g).repeat(batch, 1)
    _, cache = with_cache(model, prompt, None)
    last = torch.randint(0, SMOLLM2_135M["vocab_size"], (batch, 1), generator=g)
    c0, t0 = cpu_seconds(), time.perf_counter()
    for _ in range(steps):
        out, cache = with_cache(model, last, cache)
        last = out.logits[:, -1, :].argmax(-1, keepdim=True)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    report(f"generate_b{batch}", batch * steps, seconds, cpu, threads)


def training(model, threads):
    g = torch.Generator().manual_seed(5)
    tokens = torch.randint(0, SMOLLM2_135M["vocab_size"], (8, 256), generator=g)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.0)

    def step():
        optimizer.zero_grad(set_to_none=False)
        logits = model(input_ids=tokens).logits[:, 63:255, :]
        logps = torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens[:, 64:, None])
        loss = -logps.mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    step()
    c0, t0 = cpu_seconds(), time.perf_counter()
    step()
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    report("train_8x256", 8 * 256, seconds, cpu, threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--work", action="append", help="only these works (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = LlamaForCausalLM(LlamaConfig(**SMOLLM2_135M)).float().eval()
    wanted = lambda w: not args.work or w in args.work
    for batch in (1, 8):
        if wanted(f"generate_b{batch}"):
            generation(model, batch, args.tokens, args.threads)
    if wanted("train_8x256"):
        model.train()
        training(model, args.threads)


if __name__ == "__main__":
    main()
