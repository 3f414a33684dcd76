"""The AL loop: run records, determinism, resume after an interruption, starts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bioal.classifier import MLPClassifier, predict_probs
from bioal.config import ConfigError
from bioal.embeddings import EmbeddingSplit, write_split
from bioal.events import split_event_scores
from bioal.experiment import ROUND_KEYS, ExperimentConfig, load_run, run_experiment, run_folder, run_name
from bioal.records import EVENT_KEYS
from bioal.synth.embeddings import paper_shaped_splits
from bioal.utils import StaleResumeError, rng

TIMING = ("select_seconds", "train_seconds", "event_seconds")


@pytest.fixture(scope="module")
def splits():
    return paper_shaped_splits(n_train=400, n_valid=80, n_test=80, frames=8, dim=16, seed=3)


def _config(tmp_path, **kw):
    base = dict(
        results_dir=str(tmp_path / "results"),
        budgets=(10, 20, 30, 40, 50),
        classifier_hidden=8,
        max_epochs=25,
        device="cpu",
        threads=1,
        strategy="mfft",
    )
    base.update(kw)
    return ExperimentConfig.from_dict(base)


def _rounds(folder):
    out = {}
    for p in sorted((folder / "rounds").glob("*.json")):
        data = json.loads(p.read_text())
        out[p.name] = {k: v for k, v in data.items() if k not in TIMING}
    return out


def test_run_names(tmp_path):
    assert run_name(_config(tmp_path)) == "mfft-cold-seed0"
    assert run_name(_config(tmp_path, strategy="mp", init_pos=5, seed=3)) == "mp-warm-seed3"
    assert run_name(_config(tmp_path, full_supervision=True, seed=2)) == "full-seed2"
    with pytest.raises(ConfigError, match="STRATEGY"):
        _config(tmp_path, strategy="nope")
    with pytest.raises(ConfigError, match="increase"):
        _config(tmp_path, budgets=(10, 10))


def test_records_layout_and_content(tmp_path, splits):
    cfg = _config(tmp_path, budgets=(10, 20, 30))
    rec = run_experiment(cfg, splits=splits, progress=False)
    folder = run_folder(cfg)
    assert rec.folder == folder and rec.complete and rec.name == "mfft-cold-seed0"
    assert sorted(p.name for p in (folder / "rounds").iterdir()) == ["00010.json", "00020.json", "00030.json"]
    assert json.loads((folder / "config.json").read_text()) == cfg.to_dict()
    assert (folder / "state.pt").is_file()
    train = splits[0]
    tags = train.clip_labels()
    seen = []
    for r, round_ in enumerate(rec.rounds):
        data = json.loads((folder / "rounds" / f"{round_.n_labelled:05d}.json").read_text())
        assert tuple(data) == (*ROUND_KEYS, *EVENT_KEYS)
        assert data["round"] == r and data["n_labelled"] == cfg.budgets[r]
        assert len(data["selected"]) == 10 and not set(data["selected"]) & set(seen)
        seen += data["selected"]
        assert data["class_counts"] == tags[seen].sum(axis=0).tolist()
        assert data["class_names"] == train.class_names
        for key in ("valid_ap", "valid_f1", "test_ap", "test_f1"):
            assert len(data[key]) == 7 and all(0 <= v <= 1 for v in data[key])
        assert data["epochs"] == len(data["history"]) and set(data["history"][0]) == {"loss", "valid_cmap", "lr"}
        assert 0 < data["threshold"] < 1
        assert len(data["selected_mismatch"]) == len(data["selected_distance"]) == 10
        for key in ("test_event_precision", "test_event_recall", "test_event_f"):
            assert len(data[key]) == 7 and all(1e-5 <= v <= 1 for v in data[key])
        overall = data["test_event_overall"]
        assert [overall[k] for k in ("TP", "FP", "FN")] == np.sum(data["test_event_counts"], axis=0).tolist()
        assert data["event_seconds"] >= 0
    # round 0: cold start = one random clip, then FT; no classifier yet, first distance null
    first = rec.rounds[0]
    assert first.selected[0] == int(rng(0, "cold-start").integers(len(train)))
    assert first.selected_mismatch == [None] * 10
    assert first.selected_distance[0] is None and all(d is not None for d in first.selected_distance[1:])
    # FT picks: distances at pick time do not increase
    assert all(a >= b - 1e-6 for a, b in zip(first.selected_distance[1:], first.selected_distance[2:], strict=False))
    later = rec.rounds[1]
    assert all(isinstance(v, int) and 0 <= v <= 7 for v in later.selected_mismatch)
    lr = np.load(folder / "labelled_round.npy")
    assert lr.shape == (len(train),)
    for r, round_ in enumerate(rec.rounds):
        assert (lr[round_.selected] == r).all()
    assert (lr >= 0).sum() == 30
    # a finished run is returned as is
    again = run_experiment(cfg, splits=splits, progress=False)
    assert [r.to_dict() for r in again.rounds] == [r.to_dict() for r in rec.rounds]


def test_mfft_mismatch_groups_come_first(tmp_path, splits):
    rec = run_experiment(_config(tmp_path, budgets=(10, 20, 30)), splits=splits, progress=False)
    for round_ in rec.rounds[1:]:
        levels = round_.selected_mismatch
        # whole higher groups first, then the overflow group (one level) at the end
        assert levels == sorted(levels, reverse=True)


@pytest.mark.parametrize("strategy", ["mfft", "ft"])
def test_reasons_come_from_one_prediction_per_round(tmp_path, splits, monkeypatch, strategy):
    import bioal.experiment as experiment

    calls = []
    original = experiment._pred_tags

    def counting(model, x, index, *args):
        calls.append(len(index))
        return original(model, x, index, *args)

    monkeypatch.setattr(experiment, "_pred_tags", counting)
    rec = run_experiment(_config(tmp_path, strategy=strategy, budgets=(10, 20, 30)), splits=splits, progress=False)
    n = len(splits[0])
    # one classifier pass per later round: the unlabelled pool for MFFT, the picks for FT
    assert calls == ([n - 10, n - 20] if strategy == "mfft" else [10, 10])
    assert all(isinstance(v, int) for r in rec.rounds[1:] for v in r.selected_mismatch)


def test_same_seed_same_records_other_seed_differs(tmp_path, splits):
    a = run_experiment(_config(tmp_path / "a", strategy="mp", budgets=(10, 20)), splits=splits, progress=False)
    b = run_experiment(_config(tmp_path / "b", strategy="mp", budgets=(10, 20)), splits=splits, progress=False)
    assert _rounds(a.folder) == _rounds(b.folder)
    c = run_experiment(_config(tmp_path / "c", strategy="mp", budgets=(10, 20), seed=1), splits=splits, progress=False)
    assert c.rounds[0].selected != a.rounds[0].selected


@pytest.mark.parametrize("lose_state", [False, True])
def test_interrupted_run_resumes_to_identical_records(tmp_path, splits, lose_state):
    cfg_full = _config(tmp_path / "full")
    uninterrupted = run_experiment(cfg_full, splits=splits, progress=False)
    cfg = _config(tmp_path / "cut")
    partial = run_experiment(cfg, splits=splits, progress=False, stop_after=3)
    assert len(partial.rounds) == 3 and not partial.complete
    if lose_state:  # killed between writing the round file and the state: retrain the last round
        import torch

        state = torch.load(partial.folder / "state.pt", weights_only=True)
        state["round"] = 1
        torch.save(state, partial.folder / "state.pt")
    resumed = run_experiment(cfg, splits=splits, progress=False)
    assert resumed.complete and len(resumed.rounds) == 5
    assert _rounds(resumed.folder) == _rounds(uninterrupted.folder)
    np.testing.assert_array_equal(resumed.labelled_round, uninterrupted.labelled_round)


def test_resume_refuses_a_different_config(tmp_path, splits):
    run_experiment(_config(tmp_path, budgets=(10, 20)), splits=splits, progress=False, stop_after=1)
    with pytest.raises(ValueError, match="max_epochs"):
        run_experiment(_config(tmp_path, budgets=(10, 20), max_epochs=7), splits=splits, progress=False)


def test_warm_start_takes_true_positives_per_class(tmp_path, splits):
    cfg = _config(tmp_path, strategy="ft", init_pos=1, budgets=(10, 20))
    rec = run_experiment(cfg, splits=splits, progress=False)
    tags = splits[0].clip_labels()
    first = rec.rounds[0].selected
    for c in range(7):
        assert tags[first[c], c]
    assert rec.rounds[0].class_counts == [max(1, v) for v in rec.rounds[0].class_counts]
    assert rec.rounds[0].selected_distance[0] is None
    assert run_name(cfg) == "ft-warm-seed0"


def test_full_supervision_labels_everything(tmp_path, splits):
    cfg = _config(tmp_path, full_supervision=True, max_epochs=5)
    rec = run_experiment(cfg, splits=splits, progress=False)
    assert len(rec.rounds) == 1 and rec.complete and rec.strategy == "full" and rec.start == "full"
    assert rec.rounds[0].n_labelled == 400 and sorted(rec.rounds[0].selected) == list(range(400))
    assert (rec.labelled_round == 0).all()
    assert rec.rounds[0].class_counts == splits[0].clip_labels().sum(axis=0).tolist()
    assert (rec.folder / "rounds" / "00400.json").is_file()


def test_reads_embeddings_from_data_root(tmp_path, splits):
    for name, split in zip(("train", "valid", "test"), splits, strict=True):
        write_split(tmp_path / "data" / "embeddings" / f"{name}.h5", split)
    cfg = _config(tmp_path, data_root=str(tmp_path / "data"), budgets=(10,), strategy="random")
    from_disk = run_experiment(cfg, progress=False)
    in_memory = run_experiment(_config(tmp_path / "m", budgets=(10,), strategy="random"), splits=splits, progress=False)
    assert _rounds(from_disk.folder) == _rounds(in_memory.folder)
    missing = _config(tmp_path / "x", data_root=str(tmp_path / "nowhere"), budgets=(10,))
    with pytest.raises(FileNotFoundError, match="train.h5"):
        run_experiment(missing, progress=False)


def test_budget_larger_than_pool_is_an_error(tmp_path, splits):
    with pytest.raises(ConfigError, match="exceed"):
        run_experiment(_config(tmp_path, budgets=(10, 401)), splits=splits, progress=False)


def test_load_run_reports_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_run(tmp_path)


def test_standardized_features_change_the_classifier_not_the_strategies(tmp_path, splits):
    """STANDARDIZE_FEATURES z-scores the classifier's inputs only: the init-phase picks (no
    classifier involved) are the same, the scores differ, and a cut run resumes identically."""
    plain = run_experiment(_config(tmp_path / "plain", budgets=(10, 20, 30)), splits=splits, progress=False)
    cfg = _config(tmp_path / "z", budgets=(10, 20, 30), standardize_features=True)
    whole = run_experiment(cfg, splits=splits, progress=False)
    assert whole.rounds[0].selected == plain.rounds[0].selected
    assert whole.rounds[0].test_ap != plain.rounds[0].test_ap
    cut = _config(tmp_path / "cut", budgets=(10, 20, 30), standardize_features=True)
    run_experiment(cut, splits=splits, progress=False, stop_after=1)
    resumed = run_experiment(cut, splits=splits, progress=False)
    assert _rounds(resumed.folder) == _rounds(whole.folder)


def test_an_older_run_folder_is_read_and_resumed(tmp_path, splits):
    """Folders written before the classifier fields were nested (no lr_factor, patience, ...),
    before CLASSIFIER_LR was renamed and before every pick carried its reasons (null lists) read
    back and resume without a clash."""
    cfg = _config(tmp_path, budgets=(10, 20))
    run_experiment(cfg, splits=splits, progress=False, stop_after=1)
    folder = run_folder(cfg)
    old = json.loads((folder / "config.json").read_text())
    for key in ("lr_factor", "patience", "plateau_threshold", "predict_batch_size"):
        del old[key]
    first = folder / "rounds" / "00010.json"
    record = json.loads(first.read_text())
    for key in ("event_merge", "event_min_duration", "event_max_gap", "event_min_iou"):
        del old[key]
    # and before CLASSIFIER_LR was named (flat "lr") and CLASSIFIER_PRIOR existed
    old["lr"] = old.pop("classifier_lr")
    del old["classifier_prior"]
    (folder / "config.json").write_text(json.dumps(old))
    # and before event scores (method §6.6): the round file lacks those keys
    pre_events = {k: v for k, v in record.items() if k not in EVENT_KEYS}
    first.write_text(json.dumps({**pre_events, "selected_mismatch": None}))
    rec = run_experiment(cfg, splits=splits, progress=False)
    assert rec.complete and rec.rounds[0].selected_mismatch == [None] * 10
    assert all(isinstance(v, int) for v in rec.rounds[1].selected_mismatch)
    assert not rec.rounds[0].has_events and rec.rounds[0].test_event_f is None
    assert rec.rounds[1].has_events and len(rec.rounds[1].test_event_f) == 7


def test_round_event_scores_are_the_classifier_on_the_test_timelines(tmp_path, splits):
    """A round's event scores are those of its classifier's test probabilities at its valid
    threshold, per class, against the test labels' events (recomputed here from state.pt)."""
    cfg = _config(tmp_path, budgets=(10, 20))
    rec = run_experiment(cfg, splits=splits, progress=False)
    test = splits[2]
    state = torch.load(rec.folder / "state.pt", weights_only=True)
    model = MLPClassifier(7, test.embeddings.shape[2], 8)
    model.load_state_dict(state["model"])
    probs = predict_probs(model, test.embeddings).numpy()
    last = rec.rounds[-1]
    expected = split_event_scores(
        probs, test.labels, test.recording, test.clip_start, test.class_names, last.threshold
    )
    assert last.test_event_f == pytest.approx([expected["per_subset"][c]["f-measure"] for c in test.class_names])
    assert last.test_event_overall["f-measure"] == pytest.approx(expected["overall"]["f-measure"])
    assert sum(c[0] for c in last.test_event_counts) > 0  # the classifier finds some events
    with pytest.raises(ConfigError, match="EVENT_MERGE"):
        _config(tmp_path, event_merge="median")


def test_event_scores_use_the_test_clips_length(tmp_path, splits):
    """attrs["clip_seconds"] sets the clips' length on the recordings' timelines: four fully
    positive 2 s clips 4 s apart are four reference calls, not one merged 10 s-clip call."""
    train, valid, test = splits
    n = len(test)
    labels = test.labels.copy()
    labels[:, :, 0] = 0
    labels[:4, :, 0] = 1
    short = EmbeddingSplit(
        test.embeddings, labels, test.class_names, np.array([f"r{i // 4}" for i in range(n)], dtype=object),
        4.0 * (np.arange(n) % 4), attrs={"clip_seconds": 2.0},
    )
    config = _config(tmp_path, budgets=(10, 20))
    rec = run_experiment(config, splits=(train, valid, short), progress=False, stop_after=1)
    tp, _, fn = rec.rounds[0].test_event_counts[0]
    assert tp + fn == 4
    ten = short.subset(np.arange(n))
    del ten.attrs["clip_seconds"]  # the clip length is one of the run's inputs
    with pytest.raises(StaleResumeError, match="changed: clip_seconds/test: gone"):
        run_experiment(config, splits=(train, valid, ten), progress=False)


def test_empty_or_ambiguous_splits_are_named(tmp_path, splits):
    train, valid, test = splits
    for name, three in (("valid", (train, valid.subset(np.zeros(0, dtype=int)), test)),
                        ("test", (train, valid, test.subset(np.zeros(0, dtype=int))))):
        with pytest.raises(ValueError, match=f"{name} split has no clips"):
            run_experiment(_config(tmp_path / name, budgets=(10,)), splits=three, progress=False)
    twice = test.subset(np.arange(len(test)))
    twice.recording[1], twice.clip_start[1] = twice.recording[0], twice.clip_start[0]
    with pytest.raises(ValueError, match=r"test split: recording '.*' has two clips starting at"):
        run_experiment(_config(tmp_path / "dup", budgets=(10,)), splits=(train, valid, twice), progress=False)
    assert not (tmp_path / "dup" / "results" / "runs").exists()
