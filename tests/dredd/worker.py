"""Dredd's Python hooks worker (the ``dredd-hooks`` package), startable on any Python 3.

tests/e2e/test_api_blueprint.py has Dredd start this file instead of ``dredd-hooks-python``:
it runs with the interpreter of the test (no PATH lookup), and it gives dredd-hooks 0.2 the one
function it uses from ``imp`` (``load_source``), a module Python 3.12 removed.
"""
from __future__ import annotations

import importlib.util
import sys
import types


def _load_source(name: str, path: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    sys.modules["imp"] = types.SimpleNamespace(load_source=_load_source)  # type: ignore
    from dredd_hooks.cli import main
    main()
