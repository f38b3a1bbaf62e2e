"""Loading the functions' handlers and running them in this process, as Lambda does.

* **Loading.** A handler file is imported as a module of its own, ``function_<folder>_<module>`` (every
  handler file is called ``app.py``: the folder keeps them apart), with its layers' content directories on
  ``sys.path``, as Lambda mounts a layer. :func:`load_handler` loads ``functions/<name>/app.py`` once with
  the common layer (tests, the bench); :class:`HandlerRuntime` loads what the template names, runs it, and
  reloads it when its code changes (the local stack). Both go through :func:`import_handler`.

The local stack's :class:`HandlerRuntime`:

* **One at a time.** Invocations hold one lock, as a single Lambda container runs one invocation at a
  time; each applies its function's environment to the process's ``os.environ``.
* **Environment.** Before each invocation the function's environment is applied to ``os.environ``; when
  that changes anything (two functions with different values for a variable), the product's cached
  settings and clients are reset so the function reads its own. Functions that agree cost nothing.
* **Hot reload.** Before each invocation the ``.py`` files under the function's code folder and its
  layers are checked (mtime and size). A change in a layer drops every module loaded from the layer and
  every loaded handler; a change in the function drops that handler. The next invocation imports the
  new code: no restart. An import error is answered as Lambda would (an error) and retried on the next
  request, so a fix takes effect without a restart too.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from devstack import REPO_ROOT
from devstack.lambda_context import LambdaContext
from devstack.local_functions import LocalFunction, handler_module_name

FUNCTIONS = REPO_ROOT / "functions"
LAYER = REPO_ROOT / "layers" / "common"

#: (module, function) called after the environment changed or the layer was reloaded: the product's
#: caches of settings, table bindings and the Stripe client. Modules not imported yet are skipped.
RESET_HOOKS: tuple[tuple[str, str], ...] = (("payments", "reset_caches"),)

Stamp = tuple[tuple[str, int, int], ...]


def mount_layers(roots: Iterable[Path]) -> None:
    """What Lambda does with layers (their content on ``sys.path``, the first one first)."""
    for root in reversed(list(roots)):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))


def import_handler(name: str, file: Path) -> ModuleType:
    """Import ``file`` afresh as module ``name``; if that fails, no module of that name is left behind."""
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"no handler file {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_handler(name: str) -> ModuleType:
    """``functions/<name>/app.py`` as module ``function_<name>_app``, imported once, with the common layer."""
    module_name = handler_module_name(name, "app")
    if module_name in sys.modules:
        return sys.modules[module_name]
    mount_layers([LAYER])
    return import_handler(module_name, FUNCTIONS / name / "app.py")


def _stamp(roots: Iterable[Path]) -> Stamp:
    """Every ``.py`` file under ``roots`` with its mtime and size: changes when code changes."""
    entries = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            try:
                info = path.stat()
            except FileNotFoundError:  # deleted while we looked: the next stamp will differ
                continue
            entries.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(entries)


@dataclass
class _Loaded:
    module: ModuleType
    stamp: Stamp


class HandlerRuntime:
    """Invoke the functions' handlers: ``runtime.invoke(function, event)`` returns what the handler returns."""

    def __init__(
        self,
        functions: Iterable[LocalFunction],
        *,
        reset_hooks: Iterable[tuple[str, str]] = RESET_HOOKS,
        on_load: Callable[[LocalFunction, ModuleType], None] | None = None,
        log: Callable[[str], None] = print,
    ):
        self.functions = {function.logical_id: function for function in functions}
        self.reset_hooks = tuple(reset_hooks)
        self.on_load = on_load
        self.log = log
        self.lock = threading.RLock()
        self.layer_roots = tuple(dict.fromkeys(root for f in self.functions.values() for root in f.layers))
        self._layer_stamp: Stamp = _stamp(self.layer_roots)
        self._loaded: dict[str, _Loaded] = {}
        self.reloads = 0

    # ------------------------------------------------------------------ public

    def mount_layers(self) -> None:
        mount_layers(self.layer_roots)

    def preload(self) -> dict[str, str]:
        """Import every handler now; returns ``{logical id: error}`` for those that failed to import."""
        failures = {}
        with self.lock:
            for function in self.functions.values():
                try:
                    self._module(function)
                except Exception as error:  # shown at start-up; retried on the first request
                    failures[function.logical_id] = f"{type(error).__name__}: {error}"
        return failures

    def invoke(self, function: LocalFunction, event: dict[str, Any], request_id: str | None = None) -> Any:
        """Run ``function``'s handler with ``event`` and a Lambda context; raises what the handler raises."""
        with self.lock:
            self._apply_environment(function)
            module = self._module(function)
            handler = getattr(module, function.handler_name)
            context = LambdaContext(
                function_name=function.logical_id,
                memory_limit_in_mb=function.memory,
                log_group_name=f"/aws/lambda/{function.logical_id}",
                remaining_ms=function.timeout * 1000,
            )
            if request_id:
                context.aws_request_id = request_id
            return handler(event, context)

    def call(self, function: LocalFunction, attribute: str, *args: Any) -> Any:
        """Call another module-level function of ``function``'s handler file, as an invocation runs: one at a
        time, with the function's environment (the local stack registers its webhooks this way)."""
        with self.lock:
            self._apply_environment(function)
            return getattr(self._module(function), attribute)(*args)

    def module(self, function: LocalFunction) -> ModuleType:
        """The handler's module, (re)loaded if its code changed."""
        with self.lock:
            return self._module(function)

    # ------------------------------------------------------------------ internals

    def _module(self, function: LocalFunction) -> ModuleType:
        self._check_layers()
        stamp = _stamp([function.code_dir])
        loaded = self._loaded.get(function.logical_id)
        if loaded is not None and loaded.stamp == stamp:
            return loaded.module
        if loaded is not None:
            self.log(f"reloading {function.logical_id}: {function.code_dir.name}/ changed")
            self.reloads += 1
        module = self._import(function)
        self._loaded[function.logical_id] = _Loaded(module, stamp)
        if self.on_load is not None:
            self.on_load(function, module)
        return module

    def _check_layers(self) -> None:
        stamp = _stamp(self.layer_roots)
        if stamp == self._layer_stamp:
            return
        self.log("reloading every handler: the layer changed")
        self.reloads += 1
        roots = [str(root) + os.sep for root in self.layer_roots]
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None) or ""
            if any(path.startswith(root) for root in roots):
                del sys.modules[name]
        for loaded in self._loaded.values():
            sys.modules.pop(loaded.module.__name__, None)
        self._loaded.clear()
        importlib.invalidate_caches()
        self._layer_stamp = stamp

    def _import(self, function: LocalFunction) -> ModuleType:
        self.mount_layers()
        module = import_handler(function.module_name, function.handler_file)
        if not callable(getattr(module, function.handler_name, None)):
            raise ImportError(f"{function.logical_id}: {function.handler_file.name} has no {function.handler_name}()")
        return module

    def _apply_environment(self, function: LocalFunction) -> None:
        changed = False
        for name, value in function.environment.items():
            if os.environ.get(name) != value:
                os.environ[name] = value
                changed = True
        if changed:
            self.reset_caches()

    def reset_caches(self) -> None:
        for module_name, attribute in self.reset_hooks:
            module = sys.modules.get(module_name)
            hook = getattr(module, attribute, None) if module is not None else None
            if callable(hook):
                hook()
