"""A component grader plugin written in Python: the share of required keywords a completion uses.

Build it into a WebAssembly component of the world in `wit/grader.wit`, then serve it:

    verifier plugin build examples/plugins/keywords_component/keywords.py -o keywords.wasm
    verifier serve --plugin keywords=keywords.wasm

A task: {"kind": "keywords", "required": ["photosynthesis", "chlorophyll"], "forbidden": ["magic"]}
gives the share of `required` words that appear (whole words, any case), and 0 if any of
`forbidden` does. Only the answer is read: text inside <think>...</think> does not count.

componentize-py snapshots this module when it builds the component, so every module it needs is
imported here, at the top (nothing can be imported later).
"""

import json
import re

import wit_world
from componentize_py_types import Err
from wit_world import GraderInfo, Status, Verdict

VERSION = "1.0.0"

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def _words(text):
    return set(re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", text.lower()))


def _word_list(task, key):
    value = task.get(key, [])
    if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
        raise Err(f"`{key}` must be a list of strings")
    return [word.lower() for word in value]


class WitWorld(wit_world.WitWorld):
    def info(self) -> GraderInfo:
        return GraderInfo(
            description="The share of a task's required keywords the answer uses; 0 with a forbidden one.",
            version=VERSION,
        )

    def grade(self, completion: str, task_json: str) -> Verdict:
        try:
            task = json.loads(task_json)
        except ValueError as error:
            raise Err(f"the task is not JSON: {error}")
        required = _word_list(task, "required")
        forbidden = _word_list(task, "forbidden")
        if not required:
            raise Err("the task has no `required` keywords")
        answer = _words(_THINK.sub(" ", completion))
        used = [word for word in required if word in answer]
        banned = [word for word in forbidden if word in answer]
        reward = 0.0 if banned else len(used) / len(required)
        if banned or not used:
            status = Status.INCORRECT
        elif len(used) == len(required):
            status = Status.CORRECT
        else:
            status = Status.PARTIAL
        details = {"used": used, "missing": [w for w in required if w not in used], "forbidden_used": banned}
        return Verdict(reward=reward, status=status, details_json=json.dumps(details))
