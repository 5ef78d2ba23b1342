"""Unsafe on purpose: evaluates the completion's arithmetic (the load must warn about it)."""


def grade(completion, task):
    try:
        value = eval(completion, {"__builtins__": {}}, {})
    except Exception:
        return 0.0
    return 1.0 if value == task["answer"] else 0.0
