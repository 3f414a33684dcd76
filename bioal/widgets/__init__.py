"""ipywidgets views, thin layers over pure functions in the stage modules. Each view has a
static-figure twin (a ``*_figure`` function beside it, or one in ``bioal.plots``), drawn from
the same functions in the view's default state, that the book shows in place of the live widget.

Views write into ``ipywidgets.Output`` by setting its ``outputs`` (:func:`set_outputs`),
never with ``with out: display(...)``: capturing display calls inside an Output widget can
leave a headless kernel run (papermill/nbclient) waiting forever, and outputs set directly
are saved with the widget state, so the book shows them.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf
from IPython.core.formatters import DisplayFormatter

from bioal.grid import SAMPLE_RATE

__all__ = ["figure_output", "rich_output", "text_output", "set_outputs", "wav_bytes"]


def figure_output(fig: Any, dpi: int = 90) -> dict[str, Any]:
    """A Jupyter ``display_data`` output holding a matplotlib figure as PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)  # a no-op for figures not made through pyplot
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"output_type": "display_data", "data": {"image/png": data, "text/plain": "<Figure>"}, "metadata": {}}


def rich_output(obj: Any) -> dict[str, Any]:
    """A ``display_data`` output of any object IPython can format (e.g. a DataFrame)."""
    data, metadata = DisplayFormatter().format(obj)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def text_output(text: str) -> dict[str, Any]:
    """A ``stream`` output with ``text`` on stdout."""
    return {"output_type": "stream", "name": "stdout", "text": text if text.endswith("\n") else text + "\n"}


def set_outputs(out: Any, *outputs: dict[str, Any]) -> None:
    """Replace what an ``ipywidgets.Output`` shows, without capturing display calls."""
    out.outputs = tuple(outputs)


def wav_bytes(wave: Any, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit WAV file (bytes) of ``wave [samples]``, peak-normalised for listening
    (for ``ipywidgets.Audio``, which is saved with the widget state)."""
    wave = np.asarray(wave, dtype=np.float32)
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    buffer = io.BytesIO()
    sf.write(buffer, wave / peak * 0.9 if peak > 0 else wave, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
