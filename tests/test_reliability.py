"""Bad input at the boundaries gets a clear error; resumes refuse changed inputs (issue 14)."""

from __future__ import annotations

import re

import pytest

from bioal.classifier import ClassifierConfig
from bioal.config import ConfigError, load_preset
from bioal.embeddings import EmbeddingConfig
from bioal.experiment import ExperimentConfig
from bioal.notebooks import notebook_path, preset_keys, preset_parameters
from bioal.utils import StaleResumeError, check_fingerprint, fingerprint_changes

# --------------------------------------------------------------------------- presets


def _preset(tmp_path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("key, close", [("BUDGET", "BUDGETS"), ("MAX_EPOCH", "MAX_EPOCHS"), ("SEEDZ", "SEEDS")])
def test_misspelt_preset_key_is_an_error_listing_close_matches(tmp_path, key, close):
    path = _preset(tmp_path, f"PRESET: demo\n{key}: 3\n")
    with pytest.raises(ConfigError, match=rf"unknown key '{key}'; did you mean .*{close}"):
        preset_parameters(notebook_path("05_experiments"), path)


def test_shipped_presets_hold_only_known_keys():
    for name in ("demo", "paper"):
        load_preset(name, known=preset_keys())


def test_broken_yaml_names_file_and_line(tmp_path):
    path = _preset(tmp_path, "PRESET: demo\nSEED: 0\nBUDGETS: [1, 2\nWIDTH: 1.0\n")
    with pytest.raises(ConfigError, match=re.escape(str(path)) + r", line \d+: not valid YAML"):
        load_preset(path)


@pytest.mark.parametrize(
    "cls, values, field",
    [
        (ExperimentConfig, {"SEED": -1}, "SEED"),
        (ExperimentConfig, {"BUDGETS": [10, 10]}, "BUDGETS"),
        (ExperimentConfig, {"BUDGETS": [0, 10]}, "BUDGETS"),
        (ExperimentConfig, {"LR": 0.0}, "LR"),
        (ExperimentConfig, {"MAX_EPOCHS": 0}, "MAX_EPOCHS"),
        (ExperimentConfig, {"CLASSIFIER_HIDDEN": 0}, "HIDDEN"),
        (ClassifierConfig, {"MIN_LR": 1.0}, "MIN_LR"),
        (EmbeddingConfig, {"WIDTH": 0.0}, "WIDTH"),
        (EmbeddingConfig, {"SEED": -2}, "SEED"),
    ],
)
def test_numeric_ranges_are_checked(cls, values, field):
    with pytest.raises(ConfigError, match=field):
        cls.from_dict(values)


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_is_recorded_then_checked(tmp_path):
    path = tmp_path / "out" / "fingerprint.json"
    check_fingerprint(path, {"a": 1, "files": {"x.csv": "abc"}}, "the output", "delete it")
    check_fingerprint(path, {"a": 1, "files": {"x.csv": "abc"}}, "the output", "delete it")  # same: fine
    with pytest.raises(StaleResumeError, match=r"changed: files/x.csv: abc -> abd.*delete it"):
        check_fingerprint(path, {"a": 1, "files": {"x.csv": "abd"}}, "the output", "delete it")
    assert fingerprint_changes({"a": 1}, {"b": 1}) == ["a: gone", "b: new"]
