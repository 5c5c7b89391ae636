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
                assert name.split(".")[0] in sys.stdlib_module_names | {"__future__"}, (source.name, name)
