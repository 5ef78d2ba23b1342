"""Checks the running service's OpenAPI document (GET /openapi.json) with openapi-spec-validator,
then sends real requests (one sample of every task kind the document lists, malformed ones too)
and validates each response body against the schema the document gives for its route and
status code, and each well-formed request against the request schema.

Usage: python check_openapi.py URL        (run by tests/tests/openapi.rs in a pinned venv)
Prints one line per check; exits non-zero on the first mismatch.
"""

import json
import sys
import urllib.error
import urllib.request

from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

BASE = sys.argv[1].rstrip("/")


def call(method, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"content-type": "application/json"} if data is not None else {}
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=300)
    except urllib.error.HTTPError as error:
        response = error
    return response.status, response.headers.get("content-type", ""), response.read()


status, _, raw = call("GET", "/openapi.json")
assert status == 200, status
DOC = json.loads(raw)
validate_spec(DOC)
assert DOC["openapi"].startswith("3.1"), DOC["openapi"]
print(f"document: OpenAPI {DOC['openapi']}, {len(DOC['paths'])} paths, "
      f"{len(DOC['components']['schemas'])} schemas: valid")


def check(schema, instance, what):
    # The schema's $refs point into the document's components.
    rooted = dict(schema, components=DOC["components"])
    errors = sorted(OAS31Validator(rooted).iter_errors(instance), key=str)
    if errors:
        sys.exit(f"{what}: does not match its schema: {errors[0].message} at "
                 f"{list(errors[0].absolute_path)}")


checked = 0


def check_response(method, path, status, content_type, body):
    global checked
    operation = DOC["paths"][path][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, not documented"
    content = responses[str(status)]["content"]
    media = content_type.split(";")[0].strip()
    documented = {key.split(";")[0].strip(): value for key, value in content.items()}
    assert media in documented, f"{method} {path} {status}: {content_type} not in {list(content)}"
    schema = documented[media]["schema"]
    instance = json.loads(body) if media == "application/json" else body.decode()
    check(schema, instance, f"{method} {path} {status}")
    checked += 1
    print(f"{method} {path} -> {status} {media}: matches its schema")
    return instance


for path in ["/healthz", "/v1/graders", "/openapi.json", "/metrics"]:
    check_response("GET", path, *call("GET", path))

kinds = [branch["properties"]["kind"]["enum"][0]
         for branch in DOC["components"]["schemas"]["Task"]["oneOf"]]
graders = json.loads(call("GET", "/v1/graders")[2])["graders"]
assert sorted(kinds) == sorted(g["kind"] for g in graders), (kinds, graders)

think = "<think>\nadd one and one\n</think>\nThe answer is $\\boxed{2}$."
samples = [
    {"id": "math", "completion": think, "task": {"kind": "math", "answer": "2",
     "options": {"float_rounding": 3, "answer_targets": ["latex", "expr"],
                 "extraction_mode": "first_match"}}},
    {"id": "code", "completion": "```python\ndef f(x):\n    return x + 1\n```",
     "task": {"kind": "code", "language": "python", "scoring": "fraction",
              "tests": {"type": "call", "fn_name": "f",
                        "cases": [{"args": [1], "expected": 2}, {"args": [2], "expected": 4}]}}},
    {"id": "code-js", "completion": "```javascript\nconsole.log(2)\n```",
     "task": {"kind": "code", "language": "javascript",
              "tests": {"type": "stdio", "cases": [{"input": "", "output": "2"}]}}},
    {"id": "format", "completion": think, "task": {"kind": "format", "style": "r1"}},
    {"id": "instructions", "completion": "no commas here",
     "task": {"kind": "instructions", "instruction_id_list": ["punctuation:no_comma"],
              "kwargs": [{}]}},
    {"id": 7, "completion": think, "group_id": "g1",
     "task": {"kind": "language_consistency", "language": "en"},
     "components": [{"name": "len", "weight": 0.5,
                     "task": {"kind": "length", "style": "cosine", "correct": True}},
                    {"task": {"kind": "repetition", "ngram_size": 2}}]},
    {"id": "length", "completion": "a b c", "limits": {"timeout_ms": 5000},
     "task": {"kind": "length", "style": "soft_overlong", "max_completion_len": 4,
              "soft_punish_cache": 2}},
    {"id": "repetition", "completion": "a a a a", "task": {"kind": "repetition"}},
    {"id": "math-copy", "completion": think, "task": {"kind": "math", "answer": "2",
     "options": {"float_rounding": 3, "answer_targets": ["latex", "expr"],
                 "extraction_mode": "first_match"}}},
]
covered = {s["task"]["kind"] for s in samples} | {
    c["task"]["kind"] for s in samples for c in s.get("components", [])}
assert covered >= set(kinds), f"no sample for {set(kinds) - covered}"
grade_request = DOC["paths"]["/v1/grade"]["post"]["requestBody"]["content"]["application/json"]
check(grade_request["schema"], {"samples": samples}, "the grade request")
print(f"a request with {len(samples)} samples covering {sorted(covered)} matches GradeRequest")

# Samples the service refuses get `error` results; the request schema refuses them too.
malformed = [
    {"id": "typo", "completion": "x", "task": {"kind": "math", "answer": "1",
                                                "options": {"float_roundin": 3}}},
    {"id": "unknown-kind", "completion": "x", "task": {"kind": "no_such_kind"}},
    {"id": "missing-task", "completion": "x"},
]
for sample in malformed:
    errors = list(OAS31Validator(dict(grade_request["schema"], components=DOC["components"]))
                  .iter_errors({"samples": [sample]}))
    assert errors, f"the request schema accepts the malformed sample {sample['id']}"
print(f"the request schema refuses the {len(malformed)} malformed samples")

result = check_response("POST", "/v1/grade", *call("POST", "/v1/grade",
                                                   {"samples": samples + malformed}))
statuses = {r["id"]: r["status"] for r in result["results"]}
print("statuses:", json.dumps(statuses))
assert statuses["math"] == "correct" and statuses["code"] == "partial", statuses
assert all(statuses[s["id"]] == "error" for s in malformed), statuses
assert any(r.get("cached") for r in result["results"]), "the copy was not served from the cache"

check_response("POST", "/v1/grade", *call("POST", "/v1/grade", raw=b"{not json"))
check_response("POST", "/v1/grade", *call("POST", "/v1/grade", {"samples": "nope"}))
print(f"{checked} responses validated against their documented schemas")
