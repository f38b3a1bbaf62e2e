"""Load the functions' handlers as Lambda does: the common layer on the path, each ``app.py`` by itself."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = REPO_ROOT / "functions"
LAYER = REPO_ROOT / "layers" / "common"


def mount_layer() -> None:
    """What Lambda does with a layer (its content on ``sys.path``), for running handlers locally."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))


def load_handler(name: str) -> ModuleType:
    """``functions/<name>/app.py`` as module ``function_<name>_app`` (every handler file is ``app.py``)."""
    mount_layer()
    module_name = f"function_{name}_app"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
