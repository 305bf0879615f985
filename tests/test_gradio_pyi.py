"""recteam.ui.gradio_pyi: gradio's import no longer regenerates .pyi stubs for every component
class (a file read and an ast parse each, ~1.45 s of `import gradio`), and nothing else changes.
Each case runs in a fresh interpreter, since the hook acts on gradio's first import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

COMPONENT = "import gradio as gr\n\n\nclass MyBox(gr.Textbox):\n    pass\n"


def _python(code: str, folder: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(folder), "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "mybox.py").write_text(COMPONENT)
    return tmp_path


def test_gradio_writes_a_stub_for_a_component_class_without_the_hook(folder: Path) -> None:
    """What the hook removes: gradio itself writes mybox.pyi when the class is defined."""
    _python("import mybox", folder)
    assert (folder / "mybox.pyi").exists()


def test_with_the_hook_no_stub_is_written_and_the_hook_is_gone(folder: Path) -> None:
    out = _python(
        """
        import sys
        import recteam.ui.gradio_pyi as hook
        import mybox
        import gradio.blocks_events, gradio.component_meta
        assert gradio.component_meta.create_or_modify_pyi is hook._no_stub
        assert gradio.blocks_events.create_or_modify_pyi is hook._no_stub  # bound by name
        assert not any(isinstance(f, hook._Hook) for f in sys.meta_path)
        import gradio as gr
        with gr.Blocks() as demo:  # components still work
            box = mybox.MyBox(value="hello")
        print(box.value, type(demo).__name__)
        """,
        folder,
    )
    assert out.split() == ["hello", "Blocks"]
    assert not (folder / "mybox.pyi").exists()


def test_after_gradio_the_classes_defined_later_skip_it(folder: Path) -> None:
    _python(
        """
        import gradio
        import recteam.ui.gradio_pyi as hook
        import gradio.component_meta
        assert gradio.component_meta.create_or_modify_pyi is hook._no_stub
        import mybox
        """,
        folder,
    )
    assert not (folder / "mybox.pyi").exists()


def test_the_app_imports_it_before_gradio(folder: Path) -> None:
    out = _python(
        """
        import recteam.ui.app
        import gradio.component_meta
        print(gradio.component_meta.create_or_modify_pyi.__module__)
        """,
        folder,
    )
    assert out.strip() == "recteam.ui.gradio_pyi"
