"""Defensive: anything that does not parse as JSON is 0."""

import json


def grade(completion, task):
    try:
        data = json.loads(completion)
    except BaseException:
        return 0.0
    return 1.0 if data == task.get("answer") else 0.0
