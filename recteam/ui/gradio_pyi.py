"""Imported before gradio (first thing in ui/app.py): makes gradio's import skip rewriting its
own type stubs.

Gradio 6 (gradio.component_meta.create_or_modify_pyi) re-reads and ast-parses the source file of
every component class as the class is defined, at every import, to regenerate the .pyi stub
beside it: files for type checkers only, already in the installed wheel (and written into
site-packages, or beside a custom component's module, when they differ). That was ~1.45 s of the
2.2-2.8 s `import gradio` took, paid at every `recteam serve` start. The hook replaces the
function with a no-op right after gradio.component_meta runs, before anything binds it (as
gradio.blocks_events does by name). Nothing else changes: a gradio without that function, or
already imported, is left as it is.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["TARGET", "install"]

TARGET = "gradio.component_meta"
_FUNCTION = "create_or_modify_pyi"


def _no_stub(*_args: Any, **_kwargs: Any) -> None:
    """Stands in for gradio.component_meta.create_or_modify_pyi: no .pyi is written."""


def _patch(module: ModuleType) -> None:
    if callable(getattr(module, _FUNCTION, None)):
        setattr(module, _FUNCTION, _no_stub)


class _Hook(importlib.abc.MetaPathFinder):
    """Finds gradio.component_meta as the path finder would, and runs _patch right after the
    module's code has run."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            _patch(module)
            if self in sys.meta_path:  # done: later imports do not ask this hook again
                sys.meta_path.remove(self)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Idempotent; called on import of this module."""
    if TARGET in sys.modules:  # gradio came first: later component classes still skip it
        _patch(sys.modules[TARGET])
    elif not any(isinstance(f, _Hook) for f in sys.meta_path):
        sys.meta_path.insert(0, _Hook())


install()
