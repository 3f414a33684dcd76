"""Shared helpers: Config validation, presets, seeded generators, atomic files, paths."""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import pytest

from bioal.config import Config, ConfigError, load_preset
from bioal.utils import atomic_path, read_json, resolve_path, rng, seed_sequence, torch_generator, write_json


@dataclasses.dataclass(frozen=True)
class _Example(Config):
    strategy: Literal["random", "ft"] = "ft"
    budgets: tuple[int, ...] = (50, 100)
    lr: float = 5e-4
    checkpoint: str | None = None

    def check(self) -> None:
        if any(b <= 0 for b in self.budgets):
            raise ConfigError(f"BUDGETS must be positive, got {self.budgets}")


def test_config_reads_upper_case_names_and_converts_lists():
    config = _Example.from_namespace({"STRATEGY": "random", "BUDGETS": [1, 2, 3], "LR": 1, "OTHER": 5})
    assert config.strategy == "random" and config.budgets == (1, 2, 3) and config.lr == 1.0
    assert "STRATEGY" in str(config)
    assert _Example.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strategy": "mfft"}, "STRATEGY"),
        ({"budgets": (1, "x")}, "BUDGETS[1]"),
        ({"budgets": (0,)}, "must be positive"),
        ({"lr": "fast"}, "LR"),
        ({"lr": True}, "LR"),
        ({"checkpoint": 3}, "CHECKPOINT"),
        ({"lr": float("nan")}, "LR: must be a finite number"),
        ({"lr": float("-inf")}, "LR: must be a finite number"),
        ({"lr": 10**400}, "LR: 1000"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=__import__("re").escape(message)):
        _Example(**kwargs)


def test_config_is_frozen_and_unknown_keys_fail():
    config = _Example()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0  # type: ignore[misc]
    with pytest.raises(ConfigError, match="no field 'NOPE'"):
        _Example.from_dict({"NOPE": 1})


def test_presets_load_with_floats_and_unknown_preset_is_named():
    demo = load_preset("demo")
    assert demo["DATA_SOURCE"] == "synthetic" and isinstance(demo["BUDGETS"], list)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_preset("nope")


def test_yaml_scientific_notation_is_a_float(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("LR: 5e-4\nAMIN: 1e-10\nNAME: abc\n")
    values = load_preset(path)
    assert values == {"LR": 5e-4, "AMIN": 1e-10, "NAME": "abc"}


def test_rng_streams_are_reproducible_and_independent():
    a = rng(7, "warm-start", 0).integers(0, 10**9, size=4)
    assert np.array_equal(a, rng(7, "warm-start", 0).integers(0, 10**9, size=4))
    assert not np.array_equal(a, rng(7, "warm-start", 1).integers(0, 10**9, size=4))
    assert not np.array_equal(a, rng(8, "warm-start", 0).integers(0, 10**9, size=4))
    with pytest.raises(TypeError):
        seed_sequence(1.5)  # type: ignore[arg-type]


def test_torch_generator_is_reproducible():
    import torch

    x = torch.rand(5, generator=torch_generator(3, "init"))
    assert torch.equal(x, torch.rand(5, generator=torch_generator(3, "init")))
    assert not torch.equal(x, torch.rand(5, generator=torch_generator(4, "init")))


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    write_json(tmp_path / "a.json", {})
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o666 & ~mask


def test_json_round_trip_with_numpy(tmp_path):
    write_json(tmp_path / "a.json", {"x": np.arange(3), "y": np.float32(1.5)})
    assert read_json(tmp_path / "a.json") == {"x": [0, 1, 2], "y": 1.5}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json"):
        read_json(tmp_path / "bad.json")


def test_relative_paths_resolve_against_the_project_root():
    assert resolve_path("configs/demo.yaml").is_file()


@pytest.mark.parametrize(
    "module, name",
    [
        ("bioal.data", "DataConfig"),
        ("bioal.training", "EncoderTrainingConfig"),
        ("bioal.embeddings", "EmbeddingConfig"),
        ("bioal.experiment", "ExperimentConfig"),
        ("bioal.results", "ResultsConfig"),
    ],
)
def test_config_defaults_are_the_paper_preset(module, name):
    """The dataclass defaults are the paper's; presets only override (the PANNs file path is local)."""
    cls = getattr(__import__(module, fromlist=[name]), name)
    paper = {k: v for k, v in load_preset("paper").items() if k != "PANNS_CHECKPOINT"}
    assert cls.from_namespace(paper) == cls()
    demo = cls.from_namespace(load_preset("demo"))
    assert demo.preset == "demo" and demo != cls()


def test_nested_config_is_flat_outside_python():
    from bioal.classifier import ClassifierConfig
    from bioal.experiment import ExperimentConfig

    config = ExperimentConfig.from_namespace(
        {"CLASSIFIER_HIDDEN": 64, "MAX_EPOCHS": 45, "CLASSIFIER_LR": 1e-3, "CLASSIFIER_PRIOR": 0.02, "SEED": 2}
    )
    assert config.classifier == ClassifierConfig(hidden=64, max_epochs=45, lr=1e-3, prior=0.02) and config.seed == 2
    flat = config.to_dict()
    assert flat["classifier_hidden"] == 64 and "classifier" not in flat and "hidden" not in flat
    assert ExperimentConfig.from_dict(flat) == config
    assert "CLASSIFIER_HIDDEN" in str(config)
    with pytest.raises(ConfigError, match="HIDDEN"):
        ExperimentConfig.from_dict({"classifier_hidden": 0})
    # records written before CLASSIFIER_LR was named still read; a clash of old and new names does not
    assert ExperimentConfig.from_dict({"lr": 1e-3}).classifier.lr == 1e-3
    assert ExperimentConfig.from_dict({"LR": 1e-3, "classifier_lr": 1e-3}).classifier.lr == 1e-3
    with pytest.raises(ConfigError, match="'LR' = 0.001 and 'classifier_lr' = 0.002"):
        ExperimentConfig.from_dict({"LR": 1e-3, "classifier_lr": 2e-3})
