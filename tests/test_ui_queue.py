"""The web app's settings for Gradio's queue are ones Gradio reads."""

from __future__ import annotations

import inspect

import gradio.queueing

from recteam.ui.app import QUEUE_ANALYTICS


def test_the_queue_analytics_settings_are_names_gradio_reads() -> None:
    source = inspect.getsource(gradio.queueing.Queue.__init__)
    for name, value in QUEUE_ANALYTICS.items():
        assert f'"{name}"' in source, f"Gradio's queue no longer reads {name}"
        assert int(value) > 0
