"""Honest: the last integer in the completion must equal the answer; reports what it parsed."""

import re


def grade(completion, task):
    found = re.findall(r"-?\d+", completion)
    if not found:
        return {"reward": 0.0, "status": "no_answer"}
    parsed = int(found[-1])
    return {"reward": 1.0 if parsed == task["answer"] else 0.0, "details": {"parsed": parsed}}
