"""Pool structure: nearest neighbours, the rarest classes and the measures of how a pool looks to a strategy."""

import numpy as np
import pandas as pd
import pytest

from bioal.strategies import CosineSpace, describe_pool_structure, nearest_neighbours, pool_structure, rarest_classes


def _brute(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    d = 1 - u @ u.T
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


def test_nearest_neighbours_match_a_brute_force_search_in_blocks(monkeypatch):
    x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    want_index, want_dist = _brute(x.astype(np.float64), 4)
    import bioal.strategies._cosine as cosine

    for block_elements in (1 << 24, 300 * 7):  # one block, and blocks of 7 rows
        monkeypatch.setattr(cosine, "_BLOCK_ELEMENTS", block_elements)
        index, dist = nearest_neighbours(x, k=4)
        assert index.shape == dist.shape == (300, 4)
        np.testing.assert_array_equal(index, want_index)
        np.testing.assert_allclose(dist, want_dist, atol=1e-5)
        assert not (index == np.arange(300)[:, None]).any(), "a clip is not its own neighbour"


def test_nearest_neighbours_find_a_duplicate_at_distance_zero_and_take_a_space():
    x = np.random.default_rng(1).normal(size=(20, 5)).astype(np.float32)
    x[7] = x[3]
    index, dist = nearest_neighbours(CosineSpace(x), k=2)
    assert index[3, 0] == 7 and index[7, 0] == 3
    assert dist[3, 0] == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("k", [0, 20, 2.5, True])
def test_nearest_neighbours_refuse_a_bad_k(k):
    x = np.ones((20, 3), np.float32)
    with pytest.raises((ValueError, TypeError), match="k"):
        nearest_neighbours(x, k=k)


def test_rarest_classes_take_the_fewest_positives_and_break_ties_by_order():
    np.testing.assert_array_equal(rarest_classes([50, 3, 7, 3, 100]), [1, 3])
    np.testing.assert_array_equal(rarest_classes(np.array([5, 0, 9]), k=1), [1])
    with pytest.raises(ValueError, match="between 1 and the number of classes"):
        rarest_classes([1, 2], k=3)
    with pytest.raises(ValueError, match=r"\[C\]"):
        rarest_classes(np.ones((2, 2)))


def _pool(calls_apart: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Six recordings of 60 clips, each around its own background direction, 10 calls each of the
    recording's class (classes 0-2, two recordings each; class 2's calls are few: the rare one).
    ``calls_apart``: a call moves its clip far along one direction shared by all calls plus one of
    its class, with a wide spread; otherwise it moves the clip a little, inside its recording's spread."""
    g = np.random.default_rng(seed)
    dim, per_rec = 32, 60
    backgrounds = g.normal(size=(6, dim)) * 3 + 6
    class_dirs = g.normal(size=(3, dim)) * 3
    common = g.normal(size=dim) * 3  # one direction every call moves along, when calls lie apart
    x, labels, recs = [], [], []
    for r in range(6):
        cls = r // 2
        n_calls = 3 if cls == 2 else 10
        for i in range(per_rec):
            v = backgrounds[r] + g.normal(size=dim) * 0.5
            tag = np.zeros(3, bool)
            if i < n_calls:
                tag[cls] = True
                v = v + (3 * common + class_dirs[cls] + g.normal(size=dim) * 4 if calls_apart else g.normal(size=dim) * 0.3)
            x.append(v)
            labels.append(tag)
            recs.append(f"rec{r}.wav")
    return np.array(x, np.float32), np.array(labels), np.array(recs)


def test_pool_structure_tells_calls_apart_from_calls_among_their_recording():
    apart = pool_structure(*_pool(True), class_names=["a", "b", "c"], k=5, isolated=0.1)
    among = pool_structure(*_pool(False), class_names=["a", "b", "c"], k=5, isolated=0.1)
    rows = apart.attrs["rows"]
    assert list(apart.columns) == ["value", "clips"] and apart.index.name == "measure"
    assert apart.attrs["rare"] == ["c", "a"]  # 6 clips of c, then a and b tie at 20: the earlier
    v_apart = {key: apart.loc[label, "value"] for key, label in rows.items()}
    v_among = {key: among.loc[label, "value"] for key, label in rows.items()}
    assert v_apart["calls"] == v_among["calls"] == pytest.approx(100 * 46 / 360, abs=0.05)
    assert apart.loc[rows["calls"], "clips"] == 360 and apart.loc[rows["class"], "clips"] == 46
    # calls apart: their neighbours are calls of their class, not their recording's silent clips
    assert v_apart["class"] > 80 and v_apart["own_silent"] < 20
    assert v_among["own_silent"] > 60 and v_among["class"] < v_apart["class"]
    assert v_apart["own_recording"] <= v_among["own_recording"]
    # calls apart lie far from everything: the isolated clips are mostly calls
    assert v_apart["isolated"] > 2 * v_apart["calls"]
    # one direction shared by the calls: the first axis is theirs; otherwise it is the backgrounds'
    assert v_apart["axis_auc"] > 90 and v_among["axis_auc"] < 70
    assert 0 < v_among["axis"] < v_apart["axis"] <= 100


def test_pool_structure_counts_the_given_rare_classes():
    x, labels, recs = _pool(True)
    table = pool_structure(x, labels.astype(np.int64), recs, rare=[0])
    assert table.attrs["rare"] == ["class 0"]
    label = table.attrs["rows"]["rare"]
    assert "class 0" in label and table.loc[label, "clips"] == 20


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x, y, r: (x, np.zeros_like(y), r), "no clip holds a class"),
        (lambda x, y, r: (x, np.ones_like(y), r), "every clip holds a class"),
        (lambda x, y, r: (x, y, r[:-1]), r"recordings must be \[360\]"),
        (lambda x, y, r: (x, y.astype(float) * 0.7, r), "binary tags"),
        (lambda x, y, r: (x[:, :, None], y, r), r"\[N, D\]"),
    ],
)
def test_pool_structure_refuses_bad_input(change, message):
    with pytest.raises(ValueError, match=message):
        pool_structure(*change(*_pool(True)))


def test_pool_structure_refuses_bad_options():
    x, y, r = _pool(True)
    with pytest.raises(ValueError, match="class_names has 2 names"):
        pool_structure(x, y, r, class_names=["a", "b"])
    with pytest.raises(ValueError, match="isolated"):
        pool_structure(x, y, r, isolated=1.5)
    with pytest.raises(ValueError, match="rare must be class indices"):
        pool_structure(x, y, r, rare=[3])


def test_describe_pool_structure_states_the_table():
    table = pool_structure(*_pool(True), isolated=0.1)
    text = describe_pool_structure(table)
    rows = table.attrs["rows"]
    assert f"{table.loc[rows['calls'], 'value']:.0f} % of the pool" in text
    assert f"{table.loc[rows['isolated'], 'value']:.0f} % of its 10 % most isolated clips" in text
    assert f"AUC of {table.loc[rows['axis_auc'], 'value']:.0f} %" in text
    with pytest.raises(ValueError, match="not a pool_structure table"):
        describe_pool_structure(pd.DataFrame({"value": [1.0]}, index=["x"]))
