"""Writes the easy arithmetic word problems of the one-hour learning recipe (see README.md).

    python3 make_prompts.py      # writes train.jsonl and heldout.jsonl beside this file

Seeded, so the files are reproducible. Every prompt is a one-step problem (add, take away,
multiply, share) with small numbers; held-out prompts are prompts that are not in the training
file. Each line is a verifier sample without its completion: the math answer (found only in a
\\boxed{} or after "the answer is": `require_anchor`) and R1's format, with the chat template
having opened the <think> block (`think_prefilled`).
"""

import json
import pathlib
import random

NAMES = ["Sam", "Lena", "Omar", "Mia", "Ravi", "Ana", "Tom", "Yuki", "Ben", "Zoe", "Ivan", "Nia"]
ITEMS = ["apples", "pens", "stickers", "marbles", "books", "cookies", "cards", "shells", "coins",
         "stamps", "balloons", "pencils"]
CONTAINERS = ["box", "bag", "jar", "basket", "tray", "crate"]


def problem(rng):
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    kind = rng.choice(["add", "sub", "mul", "div"])
    if kind == "add":
        a, b = rng.randint(2, 30), rng.randint(2, 30)
        text = rng.choice([
            f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?",
            f"{name} found {a} {item} in the morning and {b} {item} in the afternoon. "
            f"How many {item} did {name} find in all?",
        ])
        return text, a + b
    if kind == "sub":
        a = rng.randint(10, 40)
        b = rng.randint(2, a - 1)
        text = rng.choice([
            f"{name} had {a} {item} and gave {b} to a friend. How many {item} does {name} have left?",
            f"There were {a} {item} on the table. {name} took {b} of them. How many {item} are "
            f"still on the table?",
        ])
        return text, a - b
    if kind == "mul":
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        box = rng.choice(CONTAINERS)
        text = f"A {box} holds {a} {item}. How many {item} are in {b} {box}es?" if box.endswith(
            "x") else f"A {box} holds {a} {item}. How many {item} are in {b} {box}s?"
        return text, a * b
    per, friends = rng.randint(2, 9), rng.randint(2, 6)
    text = (f"{name} shares {per * friends} {item} equally among {friends} friends. "
            f"How many {item} does each friend get?")
    return text, per


def sample(text, answer):
    return {
        "prompt": text,
        "task": {"kind": "math", "answer": str(answer), "options": {"require_anchor": True}},
        "components": [{"weight": 0.5, "task": {"kind": "format", "style": "r1",
                                                 "think_prefilled": True}}],
    }


def main():
    rng = random.Random(20261203)
    seen, prompts = set(), []
    while len(prompts) < 2300:
        text, answer = problem(rng)
        if text not in seen:
            seen.add(text)
            prompts.append((text, answer))
    here = pathlib.Path(__file__).parent
    for name, part in [("heldout.jsonl", prompts[:300]), ("train.jsonl", prompts[300:])]:
        with open(here / name, "w") as out:
            for text, answer in part:
                out.write(json.dumps(sample(text, answer)) + "\n")


if __name__ == "__main__":
    main()
