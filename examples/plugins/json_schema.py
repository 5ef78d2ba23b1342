"""json_schema: 1 when the answer's JSON is valid against the task's JSON Schema (structured output).

A task: {"kind": "json_schema", "schema": {...}, "partial_credit": false}. The JSON is the last
```json block of the answer that parses (else the last plain ``` one), else the last top-level
{...} or [...] that parses; text in <think>...</think>, or before a lone </think>, is not the
answer. NaN, Infinity and numbers too big for a float are not JSON. It is checked against a
practical subset of JSON Schema 2020-12: type, enum, const, properties, required,
additionalProperties, patternProperties, items, prefixItems, min/maxItems, uniqueItems,
min/maxLength, pattern, minimum, maximum, exclusiveMinimum/Maximum, multipleOf, allOf, anyOf,
oneOf, not and local $ref; other keywords are ignored, as the spec says. With `partial_credit`,
an invalid answer gets the share of the top-level `required` properties present and valid, at
most 0.9. A task without a usable schema is an error, never a low reward.
"""

import json
import re
from collections import deque

VERSION = "1.0.0"

LIMITS = {"time_limit_ms": 2000, "memory_limit_mb": 128, "output_limit_kb": 64}

_PERSON = {"type": "object", "required": ["name", "age"], "properties": {
    "name": {"type": "string", "minLength": 1}, "age": {"type": "integer", "minimum": 0},
    "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}}
_STRICT = {"type": "object", "required": ["name", "age", "tags", "email"], "additionalProperties": False,
           "properties": {**_PERSON["properties"], "email": {"type": "string", "pattern": "^[^@ ]+@[^@ ]+$"}}}
_TREE = {"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "required": ["value"], "properties": {
    "value": {"type": "number"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}}
_SHAPE = {"oneOf": [{"required": ["r"], "properties": {"r": {"type": "number", "exclusiveMinimum": 0}}},
                    {"required": ["w"], "properties": {"w": {"multipleOf": 0.5}}}],
          "allOf": [{"type": "object"}], "not": {"required": ["debug"]},
          "additionalProperties": {"anyOf": [{"type": "number"}, {"const": "auto"}]}}
_TUPLE = {"type": "array", "prefixItems": [{"const": 1}, {"enum": ["a", "b"]}],
          "items": {"type": ["null", "boolean"]}, "maxItems": 3}

EXAMPLES = [
    {"completion": 'Here:\n```json\n{"name": "Ada", "age": 36, "tags": ["math"]}\n```', "task": {"schema": _PERSON}, "reward": 1.0},
    {"completion": 'The person is {"name": "Ada", "age": 36.0} as asked.', "task": {"schema": _PERSON}, "reward": 1.0},
    {"completion": '<think>maybe {"name": "Ada", "age": 36}</think>\nNo JSON today.', "task": {"schema": _PERSON}, "reward": 0.0},
    {"completion": '```json\n{"name": "Ada", "age": "36"}\n```', "task": {"schema": _PERSON}, "reward": 0.0},
    {"completion": 'draft {"name": "A", "age": 1} </think> {"name": "Ada", "age": true}', "task": {"schema": _PERSON}, "reward": 0.0},
    {"completion": '```json\n{"name": "Bo", "age": 3}\n```\nfixed:\n```json\n{"name": "Bo", "age": 3, "tags": ["a", "a"]}\n```', "task": {"schema": _PERSON}, "reward": 0.0},
    {"completion": '{"name": "Ada", "age": 36, "tags": [], "email": "ada@x.org"}', "task": {"schema": _STRICT, "partial_credit": True}, "reward": 1.0},
    {"completion": '{"name": "Ada", "age": -1, "tags": [], "email": "ada@x.org"}', "task": {"schema": _STRICT, "partial_credit": True}, "reward": 0.75},
    {"completion": '{"name": "Ada", "age": 36, "tags": [], "email": "ada@x.org", "x": 1}', "task": {"schema": _STRICT, "partial_credit": True}, "reward": 0.9},
    {"completion": '["Ada", 36]', "task": {"schema": _STRICT, "partial_credit": True}, "reward": 0.0},
    {"completion": '{"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]}', "task": {"schema": _TREE}, "reward": 1.0},
    {"completion": '{"value": 1, "children": [{"value": 2, "children": [{"v": 3}]}]}', "task": {"schema": _TREE}, "reward": 0.0},
    {"completion": '```\n{"r": 2, "size": "auto"}\n```', "task": {"schema": _SHAPE}, "reward": 1.0},
    {"completion": '{"r": 2, "size": "big"}', "task": {"schema": _SHAPE}, "reward": 0.0},
    {"completion": '{"r": 2, "w": 1.5}', "task": {"schema": _SHAPE}, "reward": 0.0},
    {"completion": '{"w": 0.7}', "task": {"schema": _SHAPE}, "reward": 0.0},
    {"completion": '{"r": 1, "debug": 1}', "task": {"schema": _SHAPE}, "reward": 0.0},
    {"completion": '{"r": NaN}', "task": {"schema": _SHAPE}, "reward": 0.0},
    {"completion": 'Answer: [1, "a", null]', "task": {"schema": _TUPLE}, "reward": 1.0},
    {"completion": 'Answer: [true, "a"]', "task": {"schema": _TUPLE}, "reward": 0.0},
    {"completion": '{"anything": ["goes"]}', "task": {"schema": True}, "reward": 1.0},
]

_MAX_DEPTH = 100  # validator levels (nesting plus $ref and applicators): a $ref loop stops here
_MAX_CALLS = 100_000  # validator calls per answer: anyOf over recursive $refs can be exponential
_MAX_SHOWN = 20  # violations kept in details
_MAX_FENCES = 1000  # fence lines looked at; more is not a real answer
_MAX_FAILED_FORWARD = 4  # inline starts that may fail going forward (an error costs O(text))
_MAX_FAILED = 32  # and then going back from the end (an error costs O(tail))
_MAX_SKIPPED = 20_000  # inline starts dismissed without parsing
_FENCE_LINE = re.compile(r"^[ \t]*```+[ \t]*([^\n`]*)$", re.M)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.S)
# What may follow an opener that starts JSON: dismisses "{{{{", "{x}" or "[1]" prose cheaply.
_JSON_START = re.compile(r'\{[ \t\n\r]*["}]|\[[ \t\n\r]*(?:[\[{"\-0-9\]]|true|false|null)')


def _finite(text):
    """Reads a float, refusing NaN and Infinity (which Python's json takes) and 1e400 (inf)."""
    value = float(text)
    if value - value != 0:
        raise ValueError(f"{text} is not a finite number")
    return value


_DECODER = json.JSONDecoder(parse_constant=_finite, parse_float=_finite)


def _answer_text(text):
    """The completion without its thinking; C-level scans only, so linear on hostile text."""
    last_close = text.rfind("</think>")
    unclosed = text.find("<think>", last_close + 1)
    if unclosed != -1:  # a <think> never closed runs to the end
        text = text[:unclosed]
    text = _THINK_BLOCK.sub(" ", text)  # every <think> left has a </think> after it
    lone = text.rfind("</think>")  # one left is lone: what came before it was thinking
    return text if lone == -1 else text[lone + len("</think>"):]


def _fenced(text):
    """The last ```json block that parses, else the last untagged ``` block that does."""
    tagged, plain, opened = deque(maxlen=8), deque(maxlen=8), None
    if "```" not in text:  # a quick scan: the regex below is slow on a long text
        return False, None
    for count, line in enumerate(_FENCE_LINE.finditer(text)):
        if count >= _MAX_FENCES:
            return False, None
        info = line.group(1).strip().lower()
        if opened is None:
            opened = (line.end() + 1, info.split()[0] if info else "")
        elif not info:  # a closing fence has no info string (CommonMark)
            if opened[1] in ("json", ""):
                (tagged if opened[1] else plain).append(text[opened[0]:line.start()])
            opened = None
    for body in [*reversed(tagged), *reversed(plain)]:
        try:
            return True, _DECODER.decode(body)
        except (ValueError, RecursionError):
            continue
    return False, None


def _inline(text):
    """The last top-level {...} or [...] that parses, with the decoder's work capped."""
    # Forward first, jumping over each value that parses: the usual answer costs one parse.
    # Failures are few and cheap in a real answer; their scanning is budgeted all the same.
    found, value, pos, failed, budget = False, None, 0, 0, len(text) // 2 + 50_000
    while failed < _MAX_FAILED_FORWARD and budget > 0:
        match = _JSON_START.search(text, pos)
        if match is None:
            return found, value
        start = match.start()
        try:
            value, pos = _DECODER.raw_decode(text, start)
            found = True
        except json.JSONDecodeError as error:
            failed, pos, budget = failed + 1, start + 1, budget - (error.pos - start)
        except (ValueError, RecursionError):  # NaN, a huge number, too deep: it may have read all
            failed, pos, budget = failed + 1, start + 1, budget - (len(text) - start)
    # Many failures (hostile text?): try starts from the end instead, so inner values parse
    # first and a later success that ends at or after the best one is its container. Each
    # try decodes the text's tail, whose errors are cheap; their copying is what we budget.
    best, budget, failed, skipped = None, 16 * len(text) + 1_000_000, 0, 0
    brace, bracket = text.rfind("{"), text.rfind("[")
    while max(brace, bracket) >= 0 and budget > 0 and failed < _MAX_FAILED and skipped < _MAX_SKIPPED:
        start = max(brace, bracket)
        if start == brace:  # each rfind resumes where the last one stopped: linear in all
            brace = text.rfind("{", 0, start)
        else:
            bracket = text.rfind("[", 0, start)
        if not _JSON_START.match(text, start):
            skipped += 1
            continue
        budget -= len(text) - start
        try:
            value, end = _DECODER.raw_decode(text[start:])
        except (ValueError, RecursionError):
            failed += 1
            continue
        if best is None or start + end >= best[1]:
            best = (value, start + end)
    return (True, best[0]) if best else (False, None)


def _type_of(value):
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int in Python, never in JSON
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def _canon(value):
    """A hashable form with JSON's equality: 1 == 1.0, but 1 != true and 1 != "1"."""
    if isinstance(value, (bool, str)) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, float) and value.is_integer():
        return ("number", int(value))
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, list):
        return ("array", tuple(_canon(item) for item in value))
    return ("object", frozenset((key, _canon(item)) for key, item in value.items()))


def _short(value, limit=60):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def _kw(schema, key, kinds):
    """A keyword's value, or None; a value of the wrong kind makes the task malformed."""
    if key not in schema:
        return None
    value = schema[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"schema keyword `{key}` has an invalid value {_short(value)}")
    return value


class _TooMuchWork(Exception):
    pass


class _Run:
    """One validation: the root schema (for $ref), the $refs being applied, the calls made."""

    def __init__(self, root):
        self.root, self.calls, self.active = root, 0, set()

    def resolve(self, ref):
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise ValueError(f"only local $ref (#/$defs/...) are supported, got {_short(ref)}")
        target = self.root
        for part in ref[2:].split("/") if len(ref) > 1 else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            elif isinstance(target, dict) and part in target:
                target = target[part]
            else:
                raise ValueError(f"$ref {ref} points at nothing in the schema")
        return target

    def errors(self, value, schema, path, depth):
        out = []
        self.check(value, schema, path, depth, out)
        return out

    def check(self, value, schema, path, depth, out):
        where = path or "/"
        if schema is True or len(out) > _MAX_SHOWN:  # more would not be shown, and costs time
            return
        if schema is False:
            return out.append(f"{where}: no value is allowed here")
        if not isinstance(schema, dict):
            raise ValueError(f"a schema must be an object or a bool, got {_short(schema)}")
        self.calls += 1
        if self.calls > _MAX_CALLS:
            raise _TooMuchWork()
        if depth > _MAX_DEPTH:
            return out.append(f"{where}: nested deeper than {_MAX_DEPTH} levels (or a $ref loop)")
        if "$ref" in schema:  # 2020-12: $ref applies beside the other keywords
            target = self.resolve(schema["$ref"])
            key = (id(target), id(value))
            if key in self.active:  # the same schema on the same value again: it never ends
                out.append(f"{where}: $ref {schema['$ref']} loops back to itself")
            else:
                self.active.add(key)
                self.check(value, target, path, depth + 1, out)
                self.active.discard(key)
        kind, types = _type_of(value), _kw(schema, "type", (str, list))
        if types is not None:
            types = [types] if isinstance(types, str) else types
            if kind not in types and not (kind == "integer" and "number" in types):
                return out.append(f"{where}: expected type {' or '.join(map(str, types))}, got {kind}")
        if "enum" in schema and _canon(value) not in {_canon(v) for v in _kw(schema, "enum", list)}:
            out.append(f"{where}: {_short(value)} is not one of {_short(schema['enum'])}")
        if "const" in schema and _canon(value) != _canon(schema["const"]):
            out.append(f"{where}: expected {_short(schema['const'])}, got {_short(value)}")
        for sub in _kw(schema, "allOf", list) or []:
            self.check(value, sub, path, depth + 1, out)
        branches = _kw(schema, "anyOf", list)
        if branches is not None and all(self.errors(value, sub, path, depth + 1) for sub in branches):
            out.append(f"{where}: matches none of the {len(branches)} anyOf schemas")
        branches = _kw(schema, "oneOf", list)
        if branches is not None:
            passed = sum(not self.errors(value, sub, path, depth + 1) for sub in branches)
            if passed != 1:
                out.append(f"{where}: matches {passed} of the oneOf schemas, expected exactly 1")
        if "not" in schema and not self.errors(value, schema["not"], path, depth + 1):
            out.append(f"{where}: matches the schema under `not`")
        if kind == "string":
            self.string(value, schema, where, out)
        elif kind in ("integer", "number"):
            self.number(value, schema, where, out)
        elif kind == "array":
            self.array(value, schema, path, depth, out)
        elif kind == "object":
            self.object(value, schema, path, depth, out)

    def string(self, value, schema, where, out):
        low, high = _kw(schema, "minLength", (int, float)), _kw(schema, "maxLength", (int, float))
        if low is not None and len(value) < low:  # len() counts code points, as the spec does
            out.append(f"{where}: expected at least {low} characters, got {len(value)}")
        if high is not None and len(value) > high:
            out.append(f"{where}: expected at most {high} characters, got {len(value)}")
        pattern = _kw(schema, "pattern", str)
        if pattern is not None and not _search(pattern, value):
            out.append(f"{where}: {_short(value)} does not match the pattern {_short(pattern)}")

    def number(self, value, schema, where, out):
        for key, says, fails in (("minimum", ">=", lambda b: value < b), ("maximum", "<=", lambda b: value > b),
                                 ("exclusiveMinimum", ">", lambda b: value <= b),
                                 ("exclusiveMaximum", "<", lambda b: value >= b)):
            bound = _kw(schema, key, (int, float))
            if bound is not None and fails(bound):
                out.append(f"{where}: expected a number {says} {bound}, got {value}")
        step = _kw(schema, "multipleOf", (int, float))
        if step is not None and step > 0:
            if isinstance(value, int) and isinstance(step, int):
                ok = value % step == 0
            else:  # floats: 0.3 / 0.1 is 2.9999999999999996, so allow rounding error
                try:
                    quotient = value / step
                    ok = abs(quotient - round(quotient)) <= 1e-9 * max(1.0, abs(quotient))
                except OverflowError:
                    ok = False
            if not ok:
                out.append(f"{where}: expected a multiple of {step}, got {value}")

    def array(self, value, schema, path, depth, out):
        where = path or "/"
        low, high = _kw(schema, "minItems", (int, float)), _kw(schema, "maxItems", (int, float))
        if low is not None and len(value) < low:
            out.append(f"{where}: expected at least {low} items, got {len(value)}")
        if high is not None and len(value) > high:
            out.append(f"{where}: expected at most {high} items, got {len(value)}")
        if schema.get("uniqueItems") is True and len({_canon(item) for item in value}) < len(value):
            out.append(f"{where}: items are not unique")
        prefix, rest = _kw(schema, "prefixItems", list) or [], schema.get("items", True)
        if isinstance(rest, list):  # draft 7's tuple form
            prefix, rest = rest, schema.get("additionalItems", True)
        for index, item in enumerate(value):
            self.check(item, prefix[index] if index < len(prefix) else rest, f"{path}/{index}", depth + 1, out)

    def object(self, value, schema, path, depth, out):
        where = path or "/"
        for name in _kw(schema, "required", list) or []:
            if name not in value:
                out.append(f"{where}: missing required property {_short(name)}")
        properties = _kw(schema, "properties", dict) or {}
        patterns = _kw(schema, "patternProperties", dict) or {}
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            at = f"{path}/{name.replace('~', '~0').replace('/', '~1')}"
            subs = [sub for pattern, sub in patterns.items() if _search(pattern, name)]
            subs += [properties[name]] if name in properties else []
            if not subs and extra is False:
                out.append(f"{where}: property {_short(name)} is not allowed")
                continue
            for sub in subs or [extra]:
                self.check(item, sub, at, depth + 1, out)


def _search(pattern, text):
    try:
        return re.search(pattern, text)  # re caches compiled patterns
    except re.error as error:
        raise ValueError(f"schema pattern {_short(pattern)} is not a valid regex: {error}")


def _required_share(value, root):
    """Partial credit: how many top-level `required` properties are present and valid."""
    run, schema = _Run(root), root
    for _ in range(8):  # a root that is only a $ref (pydantic's style) counts its target's
        if isinstance(schema, dict) and "required" not in schema and "$ref" in schema:
            schema = run.resolve(schema["$ref"])
    required = _kw(schema, "required", list) if isinstance(schema, dict) else None
    if not required or not isinstance(value, dict):
        return 0, len(required or [])
    properties = _kw(schema, "properties", dict) or {}
    good = sum(name in value and not run.errors(value[name], properties.get(name, True), f"/{name}", 1)
               for name in required)
    return good, len(required)


def grade(completion, task):
    schema = task.get("schema")
    if not isinstance(schema, (dict, bool)):
        raise ValueError("task needs a `schema` object (a JSON Schema)")
    partial_credit = task.get("partial_credit", False)
    if not isinstance(partial_credit, bool):
        raise ValueError("`partial_credit` must be true or false")
    answer = _answer_text(completion)
    found, value = _fenced(answer)
    source = "fenced" if found else "inline"
    if not found:
        found, value = _inline(answer)
    if not found:
        return {"reward": 0.0, "status": "no_answer", "details": {"found": False, "violations": [], "source": None}}
    try:
        violations = _Run(schema).errors(value, schema, "", 0)
    except _TooMuchWork:
        violations = [f"/: validation stopped after {_MAX_CALLS} schema checks (a $ref loop under anyOf?)"]
    except RecursionError:  # the depth cap should stop us first; this is the backstop
        violations = ["/: the value is nested too deeply to validate"]
    details = {"found": True, "violations": violations[:_MAX_SHOWN], "source": source}
    if not violations:
        return {"reward": 1.0, "status": "correct", "details": details}
    reward = 0.0
    if partial_credit:
        try:
            good, total = _required_share(value, schema)
        except (_TooMuchWork, RecursionError):
            good, total = 0, 0
        details["required_valid"] = f"{good}/{total}"
        reward = min(good / total, 0.9) if total else 0.0
    return {"reward": reward, "status": "partial" if reward > 0 else "incorrect", "details": details}
