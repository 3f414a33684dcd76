"""Strategies against brute-force references (full distance matrix, plain loops), and a
conformance suite that every registered strategy runs through."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bioal.strategies import (
    STRATEGIES,
    CosineSpace,
    candidate_mismatch,
    distance_to_set,
    farthest_first,
    get_strategy,
    mismatch_levels,
    pick_distances,
    register,
    select,
)
from bioal.utils import rng

EPS = float(np.finfo(np.float32).eps)


# ----------------------------------------------------------------------------- references


def full_distance(x: np.ndarray) -> np.ndarray:
    """The paper's matrix: x/(||x||+eps), float64 similarity, clip, diagonal 0."""
    x = x.astype(np.float32)
    u = (x / (np.linalg.norm(x, axis=1, keepdims=True) + np.float32(EPS))).astype(np.float64)
    d = 1 - np.clip(u @ u.T, -1, 1)
    np.fill_diagonal(d, 0)
    return d


def ref_ft(D, base, k, cand):
    out = []
    for _ in range(k):
        best, best_d = None, -1.0
        for c in cand:
            if c in out:
                continue
            dc = min([D[c, b] for b in list(base) + out], default=np.inf)
            if dc > best_d:
                best, best_d = c, dc
        out.append(best)
    return out


def ref_nearest(D, c, base):
    best, best_d = None, np.inf
    for b in base:
        if D[c, b] < best_d:
            best, best_d = b, D[c, b]
    return best


def ref_levels(D, labels, pred, labeled):
    base = sorted(np.flatnonzero(labeled))
    cand = sorted(np.flatnonzero(~labeled))
    return cand, {c: int(sum(pred[c] != labels[ref_nearest(D, c, base)])) for c in cand}


def ref_groups(cand, levels):
    return [[c for c in cand if levels[c] == v] for v in sorted(set(levels.values()), reverse=True)]


def ref_mp(D, labels, pred, labeled, k, gen):
    cand, levels = ref_levels(D, labels, pred, labeled)
    out = []
    for g in ref_groups(cand, levels):
        if len(out) == k:
            break
        if len(g) <= k - len(out):
            out += g
        else:
            out += list(gen.choice(np.array(g), size=k - len(out), replace=False))
    return out


def ref_mfft(D, labels, pred, labeled, k):
    cand, levels = ref_levels(D, labels, pred, labeled)
    out = []
    for g in ref_groups(cand, levels):
        if len(out) == k:
            break
        if len(g) <= k - len(out):
            out += g
        else:
            out += ref_ft(D, sorted(np.flatnonzero(labeled)) + out, k - len(out), g)
    return out


def pool(seed, n=60, d=6, c=3, duplicates=0, zeros=0):
    g = rng(seed, "test-pool")
    x = np.abs(g.normal(size=(n, d))).astype(np.float32)  # non-negative like ReLU embeddings
    for i in range(duplicates):
        x[n - 1 - i] = x[i]
    for i in range(zeros):
        x[n // 2 + i] = 0
    labels = g.random((n, c)) < 0.3
    pred = g.random((n, c)) < 0.4
    labeled = np.zeros(n, bool)
    labeled[g.choice(n, 8, replace=False)] = True
    return x, labels, pred, labeled


# ----------------------------------------------------------------------------- primitives


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("duplicates", [0, 6])
def test_farthest_first_matches_brute_force(seed, duplicates):
    x, _, _, labeled = pool(seed, duplicates=duplicates)
    D = full_distance(x)
    base = np.flatnonzero(labeled)
    cand = np.flatnonzero(~labeled)
    assert farthest_first(x, base, 20).tolist() == ref_ft(D, base, 20, cand)
    assert farthest_first(x, labeled, 20).tolist() == ref_ft(D, base, 20, cand)  # mask form
    # explicit candidate order decides ties; empty base starts from the first candidate
    sub = cand[::-1][:30]
    assert farthest_first(x, base, 10, candidates=sub).tolist() == ref_ft(D, base, 10, list(sub))
    assert farthest_first(x, [], 10).tolist() == ref_ft(D, [], 10, list(range(len(x))))
    assert farthest_first(x, [], 1, candidates=[7, 3]).tolist() == [7]


def test_farthest_first_duplicates_tie_to_earliest_and_never_repeat():
    x = np.array([[1, 0], [0, 1], [0, 1], [1, 1], [0, 1]], np.float32)
    picks = farthest_first(x, [0], 4)
    assert picks.tolist()[:1] == [1]  # 1, 2, 4 tie at distance 1; earliest wins
    assert len(set(picks.tolist())) == 4 and 0 not in picks
    assert farthest_first(x, [0], 4, candidates=[4, 2, 1, 3]).tolist()[0] == 4


def test_zero_vectors_are_distance_one_and_picked_once():
    x, _, _, labeled = pool(3, zeros=3)
    zero = np.flatnonzero(~x.any(axis=1))
    labeled[zero] = False
    D = full_distance(x)
    assert np.allclose(D[zero][:, np.setdiff1d(np.arange(len(x)), zero)], 1.0)
    picks = farthest_first(x, labeled, 15)
    assert picks.tolist() == ref_ft(D, np.flatnonzero(labeled), 15, np.flatnonzero(~labeled))
    assert set(zero) <= set(picks.tolist())  # far from everything: picked early, each once
    assert len(set(picks.tolist())) == 15
    np.testing.assert_allclose(distance_to_set(x, np.flatnonzero(labeled), zero), 1.0)
    assert CosineSpace(x).zero_rows.tolist() == zero.tolist()


def test_non_finite_embeddings_name_rows():
    x = np.ones((5, 3), np.float32)
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"rows \[3\]"):
        farthest_first(x, [], 2)


def test_distance_and_pick_distances_match_brute_force():
    x, _, _, labeled = pool(4, duplicates=3)
    D = full_distance(x)
    base = np.flatnonzero(labeled)
    cand = np.flatnonzero(~labeled)
    ref = [min(D[c, b] for b in base) for c in cand]
    np.testing.assert_allclose(distance_to_set(x, base, cand), ref, atol=1e-6)
    assert np.isnan(distance_to_set(x, [], cand)).all()
    picks = farthest_first(x, base, 6)
    ref_seq = [min(D[p, b] for b in list(base) + list(picks[:i])) for i, p in enumerate(picks)]
    np.testing.assert_allclose(pick_distances(x, base, picks), ref_seq, atol=1e-6)
    cold = pick_distances(x, [], picks)
    assert np.isnan(cold[0]) and np.allclose(cold[1], D[picks[1], picks[0]], atol=1e-6)


@pytest.mark.parametrize("seed", [0, 5])
def test_mismatch_levels_match_brute_force(seed):
    x, labels, pred, labeled = pool(seed, duplicates=5)
    D = full_distance(x)
    cand, ref = ref_levels(D, labels, pred, labeled)
    base = np.flatnonzero(labeled)
    got = mismatch_levels(x, base, labels[base], cand, pred[cand])
    assert got.tolist() == [ref[c] for c in cand]
    assert got.min() >= 0 and got.max() <= labels.shape[1]


def test_mismatch_nearest_ties_go_to_earliest_base_member():
    x = np.array([[1, 0], [1, 0], [0, 1], [1, 0.1]], np.float32)  # base 0 and 1 identical
    labels = np.array([[1, 0], [0, 1]])
    got = mismatch_levels(x, [0, 1], labels, [3], np.array([[1, 0]]))
    assert got.tolist() == [0]  # nearest is base member 0 (earliest), tags equal
    got = mismatch_levels(x, [1, 0], labels[::-1], [3], np.array([[1, 0]]))
    assert got.tolist() == [2]  # in the order given, member 1 comes first


# ----------------------------------------------------------------------------- strategies


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_mp_and_mfft_match_brute_force(seed):
    x, labels, pred, labeled = pool(seed, n=80, duplicates=4)
    D = full_distance(x)
    for k in (3, 12, 30):
        got = select("mp", embeddings=x, labeled=labeled, k=k, rng=rng(seed, "mp"), clip_labels=labels, clip_pred=pred)
        assert got.tolist() == ref_mp(D, labels, pred, labeled, k, rng(seed, "mp"))
        got = select("mfft", embeddings=x, labeled=labeled, k=k, rng=rng(seed, "x"), clip_labels=labels, clip_pred=pred)
        assert got.tolist() == ref_mfft(D, labels, pred, labeled, k)


def test_mfft_takes_whole_high_groups_and_ft_in_overflow():
    x, labels, pred, labeled = pool(7, n=80)
    D = full_distance(x)
    cand, levels = ref_levels(D, labels, pred, labeled)
    groups = ref_groups(cand, levels)
    k = len(groups[0]) + 2
    assert len(groups[1]) > 2
    got = select("mfft", embeddings=x, labeled=labeled, k=k, rng=rng(0), clip_labels=labels, clip_pred=pred)
    assert got[: len(groups[0])].tolist() == groups[0]
    base = sorted(np.flatnonzero(labeled)) + groups[0]
    assert got[len(groups[0]) :].tolist() == ref_ft(D, base, 2, groups[1])


def test_init_rules():
    x, labels, pred, labeled = pool(8)
    ft = select("ft", embeddings=x, labeled=labeled, k=10, rng=rng(1), init=True)
    assert select("mfft", embeddings=x, labeled=labeled, k=10, rng=rng(2), init=True).tolist() == ft.tolist()
    rand = select("random", embeddings=x, labeled=labeled, k=10, rng=rng(3), init=True)
    assert select("mp", embeddings=x, labeled=labeled, k=10, rng=rng(3), init=True).tolist() == rand.tolist()
    with pytest.raises(ValueError, match="clip_pred"):
        select("mfft", embeddings=x, labeled=labeled, k=10, rng=rng(2), clip_labels=labels)


def test_float16_and_space_reuse():
    x, labels, pred, labeled = pool(9, n=100, d=16)
    space = CosineSpace(x)
    a = select("mfft", embeddings=space, labeled=labeled, k=20, rng=rng(0), clip_labels=labels, clip_pred=pred)
    b = select("mfft", embeddings=x, labeled=labeled, k=20, rng=rng(0), clip_labels=labels, clip_pred=pred)
    assert a.tolist() == b.tolist()
    half = select("ft", embeddings=x, labeled=labeled, k=20, rng=rng(0), dtype=torch.float16)
    full = select("ft", embeddings=x, labeled=labeled, k=20, rng=rng(0))
    assert len(set(half.tolist())) == 20 and not labeled[half].any()
    assert len(set(half.tolist()) & set(full.tolist())) >= 15  # fp16 rounding may flip near-ties only


def test_registry_errors_and_extension():
    with pytest.raises(KeyError, match="registered"):
        get_strategy("nope")

    @register("first_k_test")
    def first_k(space, labeled, k, rng, clip_labels=None, clip_pred=None, init=False):
        """Lowest unlabelled indices (test strategy)."""
        return np.flatnonzero(~labeled)[:k]

    try:
        x, _, _, labeled = pool(0)
        assert (
            select("first_k_test", embeddings=x, labeled=labeled, k=3, rng=rng(0)).tolist()
            == np.flatnonzero(~labeled)[:3].tolist()
        )
        assert STRATEGIES["first_k_test"].description.startswith("Lowest")
        with pytest.raises(ValueError, match="already registered"):
            register("first_k_test")(lambda *a, **k: None)
    finally:
        del STRATEGIES["first_k_test"]


@pytest.mark.parametrize("name", ["my-ft", "MyFT", "my ft", ""])
def test_names_outside_the_run_name_pattern_are_refused(name):
    """A strategy's name is part of its runs' folder names (records.STRATEGY_NAME): a name that
    records.list_runs would not read back is refused when it is registered."""
    with pytest.raises(ValueError, match="strategy name .* is not allowed: run folders are named"):
        register(name)(lambda *a, **k: None)
    assert name not in STRATEGIES


def test_primitives_check_tags_are_binary():
    x, labels, _, labeled = pool(3, n=30)
    probs = np.full((30, labels.shape[1]), 0.3)
    with pytest.raises(ValueError, match=r"clip_pred: row 0, class 0 is 0\.3; expected binary tags"):
        candidate_mismatch(x, labeled, labels, probs)
    minus = np.where(labels, 1, -1)
    with pytest.raises(ValueError, match=r"clip_labels: row \d+, class \d+ is -1"):
        candidate_mismatch(x, labeled, minus, labels)
    base = np.flatnonzero(labeled)
    with pytest.raises(ValueError, match=r"base_labels: row \d+, class \d+ is -1"):
        mismatch_levels(x, base, minus[base], [0, 1], labels[[0, 1]])
    with pytest.raises(ValueError, match=r"candidate_pred: row 0, class 0 is 0\.3"):
        mismatch_levels(x, base, labels[base], [0, 1], probs[[0, 1]])
    cand, levels = candidate_mismatch(x, labeled, labels.astype(int), labels.astype(float))
    assert np.array_equal(levels, candidate_mismatch(x, labeled, labels, labels)[1])


def test_k_must_be_an_integer():
    x, _, _, labeled = pool(3, n=30)
    for call in (lambda k: select("random", embeddings=x, labeled=labeled, k=k, rng=rng(0)),
                 lambda k: farthest_first(x, labeled, k)):
        with pytest.raises(TypeError, match=r"k must be an integer number of clips, got 2\.7"):
            call(2.7)
        assert len(call(np.int64(3))) == 3 and len(call(3)) == 3


def test_an_integer_0_1_mask_is_named_as_such():
    x = pool(3, n=30)[0]
    mask = np.zeros(30, dtype=int)
    mask[[3, 7]] = 1
    with pytest.raises(ValueError, match="duplicate indices .*integer 0/1 array of length 30.*as bool"):
        select("ft", embeddings=x, labeled=mask, k=3, rng=rng(0))
    assert len(select("ft", embeddings=x, labeled=np.array([3, 7]), k=3, rng=rng(0))) == 3  # indices still work
    with pytest.warns(UserWarning, match="labeled: read as the indices \\[0, 1\\].*as bool"):
        select("ft", embeddings=x[:2], labeled=np.array([0, 1]), k=0, rng=rng(0))


@pytest.mark.parametrize("name", ["random", "ft", "mp", "mfft"])
def test_selection_explains_each_pick(name):
    x, labels, pred, labeled = pool(5, n=60)
    sel = select(name, embeddings=x, labeled=labeled, k=12, rng=rng(0, name), clip_labels=labels, clip_pred=pred)
    base, cand = np.flatnonzero(labeled), np.flatnonzero(~labeled)
    np.testing.assert_allclose(sel.distance, pick_distances(x, labeled, sel.indices), atol=1e-6)
    expected = mismatch_levels(x, base, labels[base], sel.indices, pred[sel.indices])
    np.testing.assert_array_equal(sel.mismatch, expected)
    # the same scores whether predictions come as [N, C], [n_unlabelled, C] or a function
    for given in (pred[cand], lambda index: pred[index]):
        other = select(name, embeddings=x, labeled=labeled, k=12, rng=rng(0, name), clip_labels=labels, clip_pred=given)
        assert other.tolist() == sel.tolist()
        np.testing.assert_array_equal(other.mismatch, sel.mismatch)
    quiet = select(name, embeddings=x, labeled=labeled, k=12, rng=rng(0, name), clip_labels=labels, clip_pred=pred,
                   explain=False)
    assert quiet.tolist() == sel.tolist() and np.isnan(quiet.distance).all()


def test_mismatch_strategies_report_the_levels_that_chose_their_picks(monkeypatch):
    import bioal.strategies as strategies

    x, labels, pred, labeled = pool(6, n=60)
    monkeypatch.setattr(strategies, "mismatch_levels", lambda *a, **k: pytest.fail("levels recomputed in select"))
    sel = select("mfft", embeddings=x, labeled=labeled, k=12, rng=rng(0), clip_labels=labels, clip_pred=pred)
    assert (np.diff(sel.mismatch) <= 0).all()  # whole higher groups first


# ----------------------------------------------------------------------------- conformance


@pytest.mark.parametrize("name", sorted(STRATEGIES))
class TestConformance:
    """Every registered strategy: k unique unlabelled picks, seeded, clear errors."""

    def _run(self, name, seed, init, x=None, labels=None, pred=None, labeled=None, k=12):
        if x is None:
            x, labels, pred, labeled = pool(11, n=50)
        return select(
            name,
            embeddings=x,
            labeled=labeled,
            k=k,
            rng=rng(seed, "conformance"),
            clip_labels=labels,
            clip_pred=pred,
            init=init,
        ).indices

    @pytest.mark.parametrize("init", [True, False])
    def test_k_unique_unlabelled(self, name, init):
        x, labels, pred, labeled = pool(11, n=50)
        picks = self._run(name, 0, init, x, labels, pred, labeled)
        assert picks.dtype == np.int64 and len(picks) == 12 and len(set(picks.tolist())) == 12
        assert not labeled[picks].any()
        assert len(self._run(name, 0, init, x, labels, pred, labeled, k=0)) == 0

    @pytest.mark.parametrize("init", [True, False])
    def test_same_seed_same_picks(self, name, init):
        assert self._run(name, 4, init).tolist() == self._run(name, 4, init).tolist()

    def test_other_seed_differs_in_random_parts(self, name):
        s = get_strategy(name)
        x, labels, pred, labeled = pool(11, n=50)
        if s.random_init:
            assert self._run(name, 1, True).tolist() != self._run(name, 2, True).tolist()
        else:
            assert self._run(name, 1, True).tolist() == self._run(name, 2, True).tolist()
        # one big mismatch group (everything agrees): the overflow draw is the only choice
        flat = np.zeros_like(labels)
        a = self._run(name, 1, False, x, flat, flat, labeled)
        b = self._run(name, 2, False, x, flat, flat, labeled)
        assert (a.tolist() != b.tolist()) == s.random_later

    def test_k_larger_than_pool_is_a_clear_error(self, name):
        x, labels, pred, labeled = pool(11, n=50)
        with pytest.raises(ValueError, match="only 42 unlabelled"):
            self._run(name, 0, True, x, labels, pred, labeled, k=43)
        assert len(self._run(name, 0, True, x, labels, pred, labeled, k=42)) == 42

    def test_bad_labeled_input(self, name):
        x, labels, pred, _ = pool(11, n=50)
        with pytest.raises(IndexError, match="out of range"):
            self._run(name, 0, True, x, labels, pred, np.array([3, 99]))
        with pytest.raises(ValueError, match="shape"):
            self._run(name, 0, True, x, labels, pred, np.zeros(49, bool))


def test_nearest_cache_across_growing_labelled_sets_matches_brute_force():
    """A CosineSpace reused over rounds caches nearest-labelled searches (ascending bases of
    >= 32 clips) and updates them incrementally; results equal the brute force each round."""
    x, labels, pred, _ = pool(12, n=220, duplicates=30)
    D = full_distance(x)
    space = CosineSpace(x)
    g = rng(12, "grow")
    labeled = np.zeros(len(x), bool)
    labeled[g.choice(len(x), 40, replace=False)] = True
    labeled[[0, len(x) - 1]] = True  # a duplicate pair inside the base: ties -> lower index
    for _ in range(3):
        cand, ref = ref_levels(D, labels, pred, labeled)
        base = np.flatnonzero(labeled)
        got = mismatch_levels(space, base, labels[base], cand, pred[cand])
        assert got.tolist() == [ref[c] for c in cand]
        np.testing.assert_allclose(distance_to_set(space, base, cand), [D[c, base].min() for c in cand], atol=1e-6)
        picks = select("mfft", embeddings=space, labeled=labeled, k=15, rng=rng(0), clip_labels=labels, clip_pred=pred)
        assert picks.tolist() == ref_mfft(D, labels, pred, labeled, 15)
        assert farthest_first(space, base, 10).tolist() == ref_ft(D, base, 10, cand)
        labeled[picks] = True
    assert space._cache is not None


def test_min_distance_reuses_the_labelled_cache_for_a_larger_base():
    """MFFT's traversal base (labelled + higher-group clips) contains the cached labelled set:
    only the extra clips are searched, and the distances equal the brute force. A base that
    does not contain the cached set, and an empty base, take the plain search."""
    x, *_ = pool(13, n=200, duplicates=20)
    D = full_distance(x)
    space = CosineSpace(x)
    labelled = np.sort(rng(13, "base").choice(len(x), 40, replace=False))
    space.nearest(np.arange(len(x)), labelled)  # fills the cache, as mismatch_levels does
    rest = np.setdiff1d(np.arange(len(x)), labelled)
    extra, rows = rest[:7], rest[7:]
    for base in (np.concatenate([labelled, extra]), labelled, labelled[5:], extra):
        got = space.min_distance(rows, base).numpy()
        np.testing.assert_allclose(got, D[np.ix_(rows, base)].min(axis=1), atol=1e-6)
        if len(base) > len(labelled):  # the superset search leaves the labelled cache in place
            assert np.array_equal(space._cache[0], labelled)
    assert np.isinf(space.min_distance(rows, np.zeros(0, np.int64)).numpy()).all()
    grown = np.union1d(labelled, extra)  # FT's base is the next labelled set: the cache follows it
    np.testing.assert_allclose(space.min_distance(rows, grown).numpy(), D[np.ix_(rows, grown)].min(axis=1), atol=1e-6)
    assert np.array_equal(space._cache[0], grown)
