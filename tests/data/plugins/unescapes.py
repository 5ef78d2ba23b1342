"""Honest: unescapes the completion as a JSON string and reports it."""

import json


def grade(completion, task):
    try:
        answer = json.loads('"' + completion.strip() + '"')
    except ValueError:
        return {"reward": 0.0, "status": "no_answer"}
    return {"reward": 1.0 if answer == task["answer"] else 0.0, "details": {"answer": answer}}
