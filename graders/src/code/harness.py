# The code grader's trusted Python harness (see graders/src/code/mod.rs for the threat model).
#
# The host appends one line, `_harness_main(<config JSON as a string literal>)`, and runs the
# result as one program. The candidate's code arrives as a string inside the config and is
# compiled and run by this harness, after the harness has captured everything it relies on.
#
# Protocol: every record is one line `<nonce> <json>` written to the real standard output. The
# nonce is fresh per run and never shown to the model. The candidate's own prints go to a sink.
# Records: plan (assert tests, before the candidate runs), syntax_error, load_error, test
# (assert mode), case (call mode), harness_error, and finally done.


def _harness_main(config_text):
    import sys
    import builtins
    import json
    import ast
    import atexit
    import collections
    import types
    from _json import encode_basestring_ascii as quote

    config = json.loads(config_text)
    nonce = config.pop("nonce")
    real_write = sys.stdout.write
    real_flush = sys.stdout.flush
    settrace, setprofile = sys.settrace, sys.setprofile
    clear_atexit = atexit._clear
    exact_type, is_instance, repr_of, length = type, isinstance, repr, len
    int_repr, float_repr = int.__repr__, float.__repr__
    base_exception = BaseException
    function_type = types.FunctionType
    dict_like = (collections.Counter, collections.OrderedDict, collections.defaultdict)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    builtins_snapshot = dict(builtins.__dict__)

    class NotPlain(Exception):
        pass

    # -- records ---------------------------------------------------------------------------
    def dumps(value):
        t = exact_type(value)
        if value is None:
            return "null"
        if t is bool:
            return "true" if value else "false"
        if t is str:
            return quote(value)
        if t is int:
            return int_repr(value)
        if t is float:
            return float_repr(value)
        if t is list:
            return "[" + ",".join([dumps(v) for v in value]) + "]"
        if t is dict:
            return "{" + ",".join([quote(k) + ":" + dumps(v) for k, v in value.items()]) + "}"
        raise NotPlain("record holds a " + t.__name__)

    def emit(record):
        real_write(nonce + " " + dumps(record) + "\n")
        real_flush()

    def short(text, limit=160):
        text = str(text)
        return text if length(text) <= limit else text[: limit - 20] + "..." + text[-17:]

    # -- the candidate's values, as plain data ---------------------------------------------
    # Only exact built-in types pass; anything else (an always-equal object, a subclass of int
    # with its own __eq__) is refused before any comparison can see it.
    def to_plain(value, depth=0):
        if depth > 64:
            raise NotPlain("nested deeper than 64 levels")
        t = exact_type(value)
        if value is None or t is bool or t is str:
            return value
        if t is int:
            return value if -(2**53) < value < 2**53 else {"$int": int_repr(value)}
        if t is float:
            if value != value:
                return {"$float": "nan"}
            if value in (float("inf"), float("-inf")):
                return {"$float": "inf" if value > 0 else "-inf"}
            return value
        if t is list or t is tuple:
            return [to_plain(v, depth + 1) for v in list(value)]
        if t is set or t is frozenset:
            return {"$set": [to_plain(v, depth + 1) for v in list(value)]}
        if t is dict or t in dict_like:
            items = list(dict.items(value))
            if all(exact_type(k) is str and not k.startswith("$") for k, _ in items):
                return {k: to_plain(v, depth + 1) for k, v in items}
            return {"$dict": [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in items]}
        if t is bytes:
            return {"$bytes": value.hex()}
        if t is complex:
            return {"$complex": [to_plain(value.real), to_plain(value.imag)]}
        raise NotPlain("returned a value of type " + short(t.__name__, 60) + ", not a plain value")

    def plain_copy(value, depth=0):
        # A fresh object of exact built-in types, so comparisons in the tests run C code only.
        if depth > 64:
            raise NotPlain("nested deeper than 64 levels")
        t = exact_type(value)
        if value is None or t in (bool, str, int, float, bytes, complex):
            return value
        if t is list:
            return [plain_copy(v, depth + 1) for v in list(value)]
        if t is tuple:
            return tuple([plain_copy(v, depth + 1) for v in list(value)])
        if t is set:
            return set([plain_copy(v, depth + 1) for v in list(value)])
        if t is frozenset:
            return frozenset([plain_copy(v, depth + 1) for v in list(value)])
        if t is dict or t in dict_like:
            return {plain_copy(k, depth + 1): plain_copy(v, depth + 1) for k, v in list(dict.items(value))}
        raise NotPlain("returned a value of type " + short(t.__name__, 60) + ", not a plain value")

    # -- isolation of the test's world from the candidate's changes ------------------------
    module_snapshots = {}
    class_snapshots = []

    def protect_modules(names):
        for name in names:
            module = sys.modules.get(name)
            if module is None or name in module_snapshots:
                continue
            module_snapshots[name] = (module, dict(module.__dict__))
            for value in list(module.__dict__.values()):
                # Classes written in Python (random.Random, ...) can be patched; C types cannot.
                if is_instance(value, type) and hasattr(value, "__dict__") and "__module__" in value.__dict__:
                    class_snapshots.append((value, dict(value.__dict__)))

    def changed(current, snapshot):
        # By identity: `==` on the values could call an object of the candidate's.
        if length(current) != length(snapshot):
            return True
        for key, value in snapshot.items():
            if current.get(key, changed) is not value:
                return True
        return False

    def restore_world():
        settrace(None)
        setprofile(None)
        for name, (module, snapshot) in module_snapshots.items():
            sys.modules[name] = module
            contents = module.__dict__
            if changed(contents, snapshot):
                contents.clear()
                contents.update(snapshot)
        for cls, snapshot in class_snapshots:
            current = cls.__dict__
            if changed(current, snapshot):
                for key in [k for k in list(current) if k not in snapshot]:
                    try:
                        delattr(cls, key)
                    except base_exception:
                        pass
                for key, value in snapshot.items():
                    if current.get(key, changed) is not value:
                        try:
                            setattr(cls, key, value)
                        except base_exception:
                            pass

    class Sink:
        def write(self, text):
            return length(text)

        def flush(self):
            pass

    sink = Sink()

    def confined(action):
        sys.stdout = sys.stderr = sink
        try:
            return action()
        finally:
            restore_world()

    def describe(error):
        return {"type": exact_type(error).__name__, "msg": short(error)}

    # -- running the candidate's code ------------------------------------------------------
    candidate_globals = {"__name__": "__candidate__", "__builtins__": builtins}

    def load_candidate():
        try:
            code = compile(config["code"], "<candidate>", "exec")
        except base_exception as error:
            emit({"k": "syntax_error", "msg": short(error, 300)})
            return False

        def run():
            exec(code, candidate_globals)

        try:
            confined(run)
        except base_exception as error:
            emit(dict({"k": "load_error"}, **describe(error)))
            return False
        return True

    def guarded(function):
        def call(*args, **kwargs):
            return plain_copy(confined(lambda: function(*args, **kwargs)))

        return call

    def mode_call():
        all_args = [json.loads(text) for text in config["cases"]]
        if not load_candidate():
            return
        function = candidate_globals.get(config["fn_name"])
        if exact_type(function) is not function_type:
            emit({"k": "load_error", "type": "NameError", "msg": "no function named " + short(config["fn_name"], 80)})
            return
        for index, original in enumerate(all_args):
            args = plain_copy(original)
            try:
                value = to_plain(confined(lambda: function(*args)))
                emit({"k": "case", "i": index, "value": value})
            except NotPlain as error:
                emit({"k": "case", "i": index, "type": "NotPlain", "msg": short(error)})
            except base_exception as error:
                emit(dict({"k": "case", "i": index}, **describe(error)))
                if config["early_stop"]:
                    return

    def test_units(tree):
        # HumanEval style: the body of `check(candidate)`; MBPP style: top-level statements.
        for statement in tree.body:
            if is_instance(statement, ast.FunctionDef) and statement.name == "check" and statement.args.args:
                setup = [s for s in tree.body if s is not statement]
                return setup, statement.body, statement.args.args[0].arg
        return [], tree.body, None

    def compile_unit(statement, source):
        name = short((ast.get_source_segment(source, statement) or "?").strip(), 200)
        is_test = any(is_instance(node, ast.Assert) for node in ast.walk(statement))
        parts = None
        test = statement.test if is_instance(statement, ast.Assert) else None
        if is_instance(test, ast.Compare) and length(test.ops) == 1:
            left = compile(ast.Expression(test.left), "<test>", "eval")
            right = compile(ast.Expression(test.comparators[0]), "<test>", "eval")
            operator = ast.Expression(
                ast.Compare(ast.Name("l", ast.Load()), test.ops, [ast.Name("r", ast.Load())])
            )
            compare = compile(ast.fix_missing_locations(operator), "<test>", "eval")
            parts = (left, right, compare)
        module = ast.Module([statement], type_ignores=[])
        return {"name": name, "test": is_test, "code": compile(module, "<test>", "exec"), "parts": parts}

    def run_unit(unit, namespace):
        if unit["parts"] is None:
            exec(unit["code"], namespace)
            return None
        left, right, compare = unit["parts"]
        l = eval(left, namespace)
        r = eval(right, namespace)
        if not eval(compare, {"__builtins__": builtins_snapshot, "l": l, "r": r}):
            return "expected " + short(repr_of(r)) + ", got " + short(repr_of(l))
        return None

    def mode_assert():
        source = config["test_code"]
        try:
            tree = ast.parse(source)
            setup, units, parameter = test_units(tree)
            setup_code = compile(ast.Module(setup, type_ignores=[]), "<test>", "exec")
            units = [compile_unit(s, source) for s in units]
        except base_exception as error:
            emit({"k": "harness_error", "msg": "the test code does not compile: " + short(error, 300)})
            return
        # Import what the tests import before the candidate runs, and keep a copy to restore.
        imported = [a.name for n in ast.walk(tree) if is_instance(n, ast.Import) for a in n.names]
        imported += [n.module for n in ast.walk(tree) if is_instance(n, ast.ImportFrom) and n.module]
        for name in imported:
            try:
                __import__(name)
            except base_exception:
                pass
        protect_modules(["builtins"] + imported)
        tests = [u for u in units if u["test"]]
        emit({"k": "plan", "n": length(tests), "names": [u["name"] for u in tests]})

        # Names the task itself defines (the prompt's helpers) are trusted and win over the
        # candidate's: a candidate must not pass by redefining `encode_cyclic` beside `decode_cyclic`.
        trusted = {}
        prefix = config.get("prefix") or ""
        if prefix:
            try:
                trusted = {"__name__": "__prefix__", "__builtins__": builtins_snapshot}
                code = compile(prefix, "<prefix>", "exec")
                confined(lambda: exec(code, trusted))
            except base_exception:
                trusted = {}
        if not load_candidate():
            return
        restore_world()
        namespace = {"__builtins__": builtins_snapshot, "__name__": "__test__"}
        for name, value in list(candidate_globals.items()):
            if exact_type(value) is function_type and name not in builtins_snapshot:
                namespace[name] = guarded(value)
        for name, value in trusted.items():
            if not name.startswith("__"):
                namespace[name] = value
        entry_point = candidate_globals.get(config["entry_point"])
        if exact_type(entry_point) is not function_type:
            emit({"k": "load_error", "type": "NameError", "msg": "no function named " + short(config["entry_point"], 80)})
            return
        candidate = guarded(entry_point)
        namespace[config["entry_point"]] = candidate
        if parameter is not None:
            namespace[parameter] = candidate
        try:
            exec(setup_code, namespace)
        except base_exception as error:
            emit({"k": "harness_error", "msg": "the test set-up failed: " + short(error, 300)})
            return
        index = 0
        for unit in units:
            try:
                wrong = run_unit(unit, namespace)
                error = None
            except NotPlain as problem:
                wrong, error = short(problem), None
            except AssertionError as problem:
                wrong, error = short(problem) or "assertion failed", None
            except base_exception as problem:
                wrong, error = None, problem
            if unit["test"]:
                if error is not None:
                    emit(dict({"k": "test", "i": index, "v": "error"}, **describe(error)))
                elif wrong is not None:
                    emit({"k": "test", "i": index, "v": "fail", "msg": wrong})
                else:
                    emit({"k": "test", "i": index, "v": "pass"})
                index += 1
            elif error is not None or wrong is not None:
                # A set-up statement between tests failed: the next test fails with its error.
                if index < length(tests):
                    if error is not None:
                        emit(dict({"k": "test", "i": index, "v": "error"}, **describe(error)))
                    else:
                        emit({"k": "test", "i": index, "v": "fail", "msg": wrong})
                return
            if (error is not None or wrong is not None) and config["early_stop"]:
                return

    try:
        if config["mode"] == "call":
            mode_call()
        else:
            mode_assert()
    except base_exception as error:
        emit({"k": "harness_error", "msg": short(repr_of(error), 300)})
    clear_atexit()
    emit({"k": "done"})
