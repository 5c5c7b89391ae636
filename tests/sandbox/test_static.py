"""The static check names each violation in a sentence an optimizer can act on."""
import ast
import sys
from pathlib import Path

import trace_opt.sandbox as sandbox
from trace_opt.sandbox import DEFAULT_POLICY, check

OK = "def f(x):\n    return x + 1\n"


def test_plain_function_passes():
    assert check(OK, "f") == []


def test_syntax_error_and_missing_function_are_reported():
    assert check("def f(:\n", "f")[0].startswith("does not parse")
    assert check(OK, "g") == ["does not define a function named g"]


def test_disallowed_imports_are_named():
    violations = check("import subprocess\nfrom socket import socket\ndef f():\n    pass\n", "f")
    assert violations == ["imported subprocess, not allowed (line 1)", "imported socket, not allowed (line 2)"]


def test_escape_attributes_and_dynamic_names_are_refused():
    code = ("def f():\n"
            "    a = ().__class__.__bases__[0].__subclasses__()\n"
            "    b = getattr(f, '__glo' + 'bals__')\n"
            "    return eval('1')\n")
    text = " ".join(check(code, "f"))
    for part in ("attribute __subclasses__", "attribute __class__", "computed attribute name", "used eval"):
        assert part in text


def test_private_names_of_an_allowed_module_are_refused():
    code = "import random\ndef f():\n    return random._os.getcwd()\n"
    assert check(code, "f") == ["used private attribute random._os, not allowed (line 3)"]
    code = "from random import _os\ndef f():\n    return _os\n"
    assert check(code, "f") == ["imported private name random._os, not allowed (line 1)"]


def test_open_for_writing_is_refused_unless_widened():
    code = "def f():\n    open('x.txt', 'w').write('hi')\n"
    assert check(code, "f") == ["opened a file for writing, not allowed (line 2)"]
    assert check(code, "f", DEFAULT_POLICY.widen(allow_write=True)) == []


def test_widen_allows_a_module_explicitly_and_leaves_the_default_alone():
    code = "import hashlib\ndef f():\n    return hashlib.sha1(b'').hexdigest()\n"
    wider = DEFAULT_POLICY.widen(modules={"hashlib"})
    assert check(code, "f", wider) == []
    assert check(code, "f") == ["imported hashlib, not allowed (line 1)"]


def test_sandbox_imports_only_the_standard_library():
    """optim/ depends on the sandbox, never the other way; the child must start bare."""
    for source in Path(sandbox.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [] if node.level else [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in sys.stdlib_module_names | {"__future__", "wire"}, (source.name, name)


def test_roads_from_allowed_modules_to_forbidden_ones_are_closed():
    cases = {
        "import typing\ndef f():\n    return typing.sys.modules['os']\n": "used typing.sys (module sys), not allowed (line 3)",
        "import json\ndef f():\n    json.codecs.open('x', 'w')\n": "used json.codecs (module codecs), not allowed (line 3)",
        "from dataclasses import sys\ndef f():\n    pass\n": "imported dataclasses.sys (module sys), not allowed (line 1)",
        "import operator, json\ndef f():\n    return operator.attrgetter('__globals__')(json.dumps)\n":
            "used attribute attrgetter, not allowed (line 3)",
        "from operator import methodcaller\ndef f():\n    pass\n": "imported operator.methodcaller, not allowed (line 1)",
        "def f(g):\n    return '{0.__globals__}'.format(g)\n": "a format string reaching a private attribute, not allowed (line 2)",
        "def f():\n    o = open\n    return o('x', 'w')\n": "used open other than in a direct call, not allowed (line 2)",
        "def f():\n    return open('x', **{'mode': 'w'})\n": "called open with unpacked arguments, not allowed (line 2)",
        "def f(e):\n    return e.__traceback__\n": "used attribute __traceback__, not allowed (line 2)",
    }
    for code, expected in cases.items():
        assert expected in check(code, "f"), code


def test_names_of_the_surrounding_module_that_lead_outside_the_policy_are_refused():
    import os as os_module
    import pathlib
    import re

    def helper(text):
        return text.strip()

    context = {"os": os_module, "Path": pathlib.Path, "here": pathlib.Path("."), "re": re, "helper": helper,
               "TABLE": {"a": 1}}
    code = ("def f(x):\n    os.system('id')\n    Path('x').write_text('y')\n    here.unlink()\n"
            "    return helper(re.sub('a', 'b', x)) + str(TABLE)\n")
    assert sorted(check(code, "f", context=context, home=[__name__])) == [
        "used Path (from pathlib), not allowed (line 3)", "used attribute system, not allowed (line 2)",
        "used here (from pathlib), not allowed (line 4)", "used os (module os), not allowed (line 2)"]
    local = "def f(x):\n    os = 1\n    return os + len(x)\n"  # its own names and the builtins are its own
    assert check(local, "f", context=context, home=[__name__]) == []
