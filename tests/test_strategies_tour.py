"""Notebook 04's pure functions: toy pool, simulation, round table, figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bioal.plots.strategies import plot_rare_discovery, plot_round_grid  # noqa: E402
from bioal.strategies import strategy_names  # noqa: E402
from bioal.synth.embeddings import class_counts, paper_shaped_clip_vectors, paper_shaped_splits, toy_pool  # noqa: E402
from bioal.tour import project_2d, round_table, simulate, simulate_all  # noqa: E402


def test_toy_pool_is_seeded_with_one_rare_cluster():
    a, b = toy_pool(200, seed=1), toy_pool(200, seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.labels.sum(axis=1).max() == 1 and a.labels[:, a.rare].sum() == 6
    assert not np.array_equal(a.x, toy_pool(200, seed=2).x)


def test_simulate_rounds_are_consistent():
    pool = toy_pool(150, seed=0)
    runs = simulate_all(pool.x, pool.labels, rounds=3, k=5, seed=0, rare=pool.rare)
    for rounds in runs.values():
        assert len(rounds) == 3
        seen = np.zeros(len(pool.x), bool)
        for r, rd in enumerate(rounds):
            np.testing.assert_array_equal(rd.labelled_before, seen)
            assert len(rd.picks) == 5 and not seen[rd.picks].any()
            seen[rd.picks] = True
            assert rd.rare_found == int(pool.labels[seen, pool.rare].sum())
            assert (rd.levels[rd.labelled_before] == -1).all()
            assert (rd.levels[~rd.labelled_before] >= 0).all() == (r > 0)
        assert rounds[0].init and not rounds[1].init
    # MFFT's init round is FT's
    assert runs["mfft"][0].picks.tolist() == runs["ft"][0].picks.tolist()
    table = round_table(runs, 2)
    assert tuple(table.index) == strategy_names() and (table["labelled"] == 15).all()
    assert simulate(pool.x, pool.labels, "mp", 2, 5, seed=0)[1].picks.tolist() == runs["mp"][1].picks.tolist()
    with pytest.raises(ValueError, match="need"):
        simulate(pool.x, pool.labels, "ft", 100, 5)


def test_figures_render():
    pool = toy_pool(120, seed=0)
    runs = simulate_all(pool.x, pool.labels, rounds=2, k=4, seed=0, rare=pool.rare)
    fig = plot_round_grid(pool.x, runs, 1, rare_mask=pool.labels[:, pool.rare])
    assert len(fig.axes) >= 4
    ax = plot_rare_discovery(runs, 6)
    assert len(ax.lines) >= 4
    xy = project_2d(np.abs(np.random.default_rng(0).normal(size=(30, 8))))
    assert xy.shape == (30, 2)


def test_paper_shaped_embeddings():
    assert class_counts(21414).tolist() == [1207, 1024, 19, 6, 193, 196, 1089]
    train, valid, test = paper_shaped_splits(300, 100, 100, frames=8, dim=16, seed=0)
    assert train.embeddings.shape == (300, 8, 16) and valid.labels.shape == (100, 8, 7)
    assert (train.embeddings >= 0).all()
    tags = train.clip_labels()
    assert tags.sum(axis=1).max() == 1
    assert tags.sum(axis=0).tolist() == class_counts(300).tolist()
    # frame labels sit on a contiguous event
    for i in np.flatnonzero(tags.any(axis=1))[:10]:
        frames = np.flatnonzero(train.labels[i].any(axis=1))
        assert frames.tolist() == list(range(frames[0], frames[-1] + 1))
    again = paper_shaped_splits(300, 100, 100, frames=8, dim=16, seed=0)[0]
    np.testing.assert_array_equal(again.embeddings, train.embeddings)
    x, t = paper_shaped_clip_vectors(500, dim=16, seed=0)
    assert x.shape == (500, 16) and t.sum(axis=0).tolist() == class_counts(500).tolist() and (x >= 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("with_data", [False, True])
def test_notebook_04_runs(tmp_path, with_data):
    from bioal.embeddings import write_split
    from bioal.notebooks import run_notebook

    root = tmp_path / "data"
    if with_data:
        train = paper_shaped_splits(300, 60, 60, frames=4, dim=16, seed=0)[0]
        write_split(root / "embeddings" / "train.h5", train)
    out = run_notebook(
        "04_strategies",
        output=tmp_path / "04.ipynb",
        preset="demo",
        overrides={"DATA_ROOT": str(root), "TOY_ROUNDS": 3, "TOY_SIZE": 200, "DATASET_ROUNDS": 2},
        progress=False,
    )
    text = out.read_text()
    assert "rare found" in text
    assert ("300 clips; rare classes" in text) == with_data
    assert ("train.h5 not found" in text) != with_data
