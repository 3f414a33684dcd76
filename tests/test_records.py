"""Run records (bioal.records): round files, the resume state and the names the folder uses."""

from __future__ import annotations

import re

import pytest
import torch

from bioal import records
from bioal.records import RoundRecord
from bioal.utils import CheckpointFileError


def _round(r: int, n_labelled: int) -> RoundRecord:
    return RoundRecord(
        round=r, n_labelled=n_labelled, selected=list(range(n_labelled - 10, n_labelled)),
        selected_mismatch=[None] * 10, selected_distance=[None] * 10, threshold=0.5, epochs=1,
        select_seconds=0.0, train_seconds=0.0, class_names=["a"], class_counts=[1], valid_ap=[0.5],
        valid_f1=[0.5], test_ap=[0.5], test_f1=[0.5], history=[],
    )


def _run_folder(tmp_path):
    folder = records.run_folder(tmp_path, "mfft-cold-seed0")
    records.write_config(folder, {"strategy": "mfft", "seed": 0, "budgets": [10, 20]})
    for r, n in enumerate((10, 20)):
        records.write_round(folder, _round(r, n))
    return folder


def test_a_stray_file_in_rounds_is_named_not_skipped(tmp_path):
    folder = _run_folder(tmp_path)
    assert [r.n_labelled for r in records.load_run(folder).rounds] == [10, 20]
    (folder / "rounds" / "._00010.json").write_bytes(b"\x00\x05\x16\x07")  # macOS AppleDouble file
    message = re.escape(str(folder / "rounds")) + r": '\._00010\.json' is not a round file"
    with pytest.raises(ValueError, match=message):
        records.load_run(folder)
    with pytest.raises(ValueError, match=message):
        records.list_runs(tmp_path)


def test_a_cut_short_round_write_and_finder_metadata_are_passed_over(tmp_path):
    # a process killed inside atomic_path leaves its temporary file; Finder leaves .DS_Store
    folder = _run_folder(tmp_path)
    (folder / "rounds" / ".00020.json.k3j_x9.json.part").write_text('{"round": ')
    (folder / "rounds" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    assert [r.n_labelled for r in records.load_run(folder).rounds] == [10, 20]
    assert len(records.list_runs(tmp_path)) == 1


def test_state_round_trips_and_bad_state_is_named(tmp_path):
    folder = tmp_path / "run"
    assert records.load_state(folder) is None
    weights = {"fc1.weight": torch.ones(2, 3)}
    path = records.write_state(folder, 3, 0.25, weights)
    assert path == folder / records.STATE_FILE
    state = records.load_state(folder)
    assert state["round"] == 3 and state["threshold"] == 0.25 and torch.equal(state["model"]["fc1.weight"], weights["fc1.weight"])
    torch.save({"round": 3, "model": weights}, path)
    with pytest.raises(CheckpointFileError, match=re.escape(str(path)) + r": lacks keys \['threshold'\]; delete it"):
        records.load_state(folder)
    assert records.inputs_path(folder) == folder / records.INPUTS_FILE
