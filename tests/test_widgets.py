"""The shared widget helpers: outputs are set, never captured, so headless runs save them."""

from __future__ import annotations

import io

import ipywidgets
import numpy as np
import pandas as pd
import soundfile as sf
from matplotlib.figure import Figure

from bioal.synth.embeddings import toy_pool
from bioal.widgets import figure_output, rich_output, set_outputs, text_output, wav_bytes


def test_figure_output_is_a_png_display():
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    out = figure_output(fig)
    assert out["output_type"] == "display_data"
    import base64

    assert base64.b64decode(out["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_rich_and_text_outputs():
    table = rich_output(pd.DataFrame({"a": [1, 2]}))
    assert "text/html" in table["data"] and "<table" in table["data"]["text/html"]
    assert text_output("hi") == {"output_type": "stream", "name": "stdout", "text": "hi\n"}


def test_set_outputs_replaces_the_view():
    out = ipywidgets.Output()
    set_outputs(out, text_output("one"))
    set_outputs(out, text_output("two"), text_output("three"))
    assert [o["text"] for o in out.outputs] == ["two\n", "three\n"]


def test_wav_bytes_is_a_peak_normalised_16_bit_wav():
    wave = np.sin(np.linspace(0, 100, 32000)).astype(np.float32) * 0.1
    data, rate = sf.read(io.BytesIO(wav_bytes(wave)))
    assert rate == 32000 and len(data) == 32000
    assert abs(np.abs(data).max() - 0.9) < 1e-3
    silent, _ = sf.read(io.BytesIO(wav_bytes(np.zeros(10))))
    assert not silent.any()


def test_strategy_stepper_draws_into_its_output_without_capture():
    from bioal.tour import simulate_all
    from bioal.widgets.strategy_stepper import strategy_stepper

    pool = toy_pool(n=120, seed=0)
    runs = simulate_all(pool.x, pool.labels, rounds=2, k=5, seed=0, rare=pool.rare)
    view = strategy_stepper(pool.x, runs)
    out = view.children[1]
    kinds = [set(o.get("data", {})) for o in out.outputs]
    assert any("image/png" in k for k in kinds) and any("text/html" in k for k in kinds)
    view.children[0].value = 1  # moving the slider redraws
    assert len(out.outputs) == 2


def test_dataset_tour_tracks_the_two_rarest_classes():
    from bioal.synth.embeddings import paper_shaped_splits
    from bioal.tour import dataset_tour

    train, _, _ = paper_shaped_splits(n_train=300, n_valid=20, n_test=20, frames=4, dim=16, seed=0)
    tour = dataset_tour(train, rounds=2, k=10, seed=0)
    counts = train.clip_labels().sum(axis=0)
    rarest = sorted(np.argsort(counts, kind="stable")[:2])
    assert sorted(train.class_names.index(c) for c in tour.rare_classes) == rarest
    assert np.array_equal(tour.rare, train.clip_labels()[:, rarest].any(axis=1))
    assert tour.xy.shape == (300, 2) and set(tour.runs) == {"random", "ft", "mp", "mfft"}
    assert "rare classes" in tour.describe()
