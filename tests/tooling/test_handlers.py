"""The local stack's handler runtime: loads handlers with their layer, reloads changed code, applies each
function's environment. Uses throwaway functions and a throwaway layer package, never the product's
(except to check that the tests' loader names a handler's module as the runtime does)."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from devstack.handlers import HandlerRuntime, load_handler
from devstack.local_functions import LocalFunction, read_functions


def write(path: Path, text: str) -> None:
    """Write ``text`` and move the mtime clearly forward, whatever the file system's resolution."""
    before = path.stat().st_mtime if path.exists() else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = max(before + 2, path.stat().st_mtime)
    os.utime(path, (stamp, stamp))


@pytest.fixture
def sandbox(tmp_path):
    """A layer with a uniquely named package, and two functions using it."""
    package = f"layerpkg_{uuid.uuid4().hex[:8]}"
    layer = tmp_path / "layer"
    write(layer / package / "__init__.py", "")
    write(layer / package / "greeting.py", "WORD = 'hello'\n")
    functions = []
    for name, variable in (("one", "first"), ("two", "second")):
        write(tmp_path / name / "app.py",
              f"import os\nfrom {package} import greeting\n\n"
              "def handler(event, context):\n"
              f"    return {{'fn': '{name}', 'word': greeting.WORD, 'setting': os.environ.get('SETTING')}}\n")
        functions.append(LocalFunction(logical_id=f"{name.title()}Function", code_dir=tmp_path / name,
                                       handler_module="app", handler_name="handler", layers=(layer,),
                                       environment={"SETTING": variable}))
    resets: list[str] = []
    module_name = f"resetprobe_{uuid.uuid4().hex[:8]}"
    probe = type(sys)(module_name)
    probe.reset = lambda: resets.append("reset")  # type: ignore[attr-defined]
    sys.modules[module_name] = probe
    runtime = HandlerRuntime(functions, reset_hooks=[(module_name, "reset")], log=lambda line: None)
    saved = os.environ.get("SETTING")
    yield runtime, functions, layer / package, resets
    for function in functions:
        sys.modules.pop(function.module_name, None)
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".") or n == module_name]:
        del sys.modules[name]
    if str(layer) in sys.path:
        sys.path.remove(str(layer))
    if saved is None:
        os.environ.pop("SETTING", None)
    else:
        os.environ["SETTING"] = saved


def test_a_handler_runs_with_its_layer_and_its_own_environment(sandbox):
    runtime, (one, two), _, resets = sandbox
    assert runtime.invoke(one, {}) == {"fn": "one", "word": "hello", "setting": "first"}
    resets.clear()
    # When another function with a different value for SETTING runs
    assert runtime.invoke(two, {})["setting"] == "second"
    # Then it saw its own value, and the product's cached settings were reset for it
    assert resets == ["reset"]
    resets.clear()
    assert runtime.invoke(two, {})["setting"] == "second" and resets == []  # nothing changed: no reset


def test_a_changed_handler_is_reloaded_on_the_next_invocation(sandbox):
    runtime, (one, _), _, _ = sandbox
    assert runtime.invoke(one, {})["fn"] == "one"
    write(one.handler_file, "def handler(event, context):\n    return {'fn': 'one, edited'}\n")
    assert runtime.invoke(one, {}) == {"fn": "one, edited"}
    assert runtime.reloads == 1


def test_a_changed_layer_reloads_every_handler(sandbox):
    runtime, (one, two), package_dir, _ = sandbox
    assert runtime.invoke(one, {})["word"] == "hello" and runtime.invoke(two, {})["word"] == "hello"
    write(package_dir / "greeting.py", "WORD = 'bonjour'\n")
    assert runtime.invoke(one, {})["word"] == "bonjour"
    assert runtime.invoke(two, {})["word"] == "bonjour"


def test_a_broken_handler_fails_its_invocation_and_a_fix_needs_no_restart(sandbox):
    runtime, (one, _), _, _ = sandbox
    write(one.handler_file, "def handler(event, context)\n    return 1\n")  # a syntax error
    assert "OneFunction" in runtime.preload()
    with pytest.raises(SyntaxError):
        runtime.invoke(one, {})
    write(one.handler_file, "def handler(event, context):\n    return {'fixed': True}\n")
    assert runtime.invoke(one, {}) == {"fixed": True}


def test_the_tests_loader_and_the_runtime_name_a_handler_alike():
    # Given the template's first function, whose handler file is app.py
    function = next(f for f in read_functions() if f.handler_module == "app")
    # Then the tests' loader imports it under the module name the local stack's runtime uses
    assert load_handler(function.folder).__name__ == function.module_name
