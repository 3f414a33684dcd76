"""Chapter 08 executed through papermill on the tiny synthetic set, and run again to resume (slow)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers_book import count_images

from bioal.annotations import read_raven
from bioal.notebooks import run_notebook
from bioal.synth.audio import generate_development_set


@pytest.mark.slow
def test_chapter_08_runs_unattended_and_resumes(tmp_path):
    root = tmp_path / "data"
    generate_development_set(root / "raw", size="tiny", seed=0, progress=False)
    overrides = {"DATA_ROOT": str(root), "ENCODER": "random", "N_RECORDINGS": 2, "ROUNDS": 3, "K": 4,
                 "MAX_EPOCHS": 5, "ENCODER_BATCH_SIZE": 8}
    out = run_notebook("08_your_recordings", output=tmp_path / "08.ipynb", preset="demo", progress=False,
                       overrides=overrides)
    folder = root / "recordings"
    records = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    assert [r["round"] for r in records if r["type"] == "trained"] == [0, 1, 2]
    assert sum(r["type"] == "answer" for r in records) == 12
    assert count_images(out) >= 2  # the labeller's default state + the stopping figure
    detections = pd.read_csv(folder / "detections" / "detections.csv")
    assert list(detections.columns) == ["Audiofilename", "Starttime", "Endtime", "label"]
    tables = sorted((folder / "detections").glob("*.selections.txt"))
    assert len(tables) == 2 and sum(len(read_raven(t)) for t in tables) == len(detections)
    assert len(read_raven(next((folder / "raven").glob("*.selections.txt")), label_column="Annotation")) == 4
    again = run_notebook("08_your_recordings", output=tmp_path / "08b.ipynb", preset="demo", progress=False,
                         overrides=overrides)
    assert again.is_file()
    records2 = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    assert records2[: len(records)] == records  # replayed, nothing rewritten
    assert [r["type"] for r in records2[len(records) :]] == ["round"]  # only the next round's picks


def test_chapter_08_config_passes_every_shared_setting_to_the_session():
    import dataclasses

    from bioal.recordings import RecordingsConfig
    from bioal.session import SessionConfig

    values = dict(
        strategy="ft", k=7, seed=3, classifier_hidden=16, max_epochs=9, classifier_lr=0.002,
        classifier_prior=0.01, standardize_features=True, kappa_threshold=0.9, kappa_window=2, stop_needs_positives=False, device="cpu",
    )
    session = RecordingsConfig(**values).session_config()
    assert {name: getattr(session, name) for name in values} == values
    # nothing else the two configs share is left out of that list
    shared = {f.name for f in dataclasses.fields(SessionConfig)} & {f.name for f in dataclasses.fields(RecordingsConfig)}
    assert shared == set(values)
    assert session.classifier().lr == 0.002 and session.classifier().prior == 0.01


def test_chapter_08_config_passes_its_encoder_settings_to_the_collection(tmp_path):
    import dataclasses

    from bioal.collection import CollectionConfig
    from bioal.recordings import RecordingsConfig

    values = dict(encoder="file", embeddings_file="e.npy", panns_checkpoint="p.pth", width=0.5, encoder_batch_size=7,
                  embed_dtype="float16", skip_unreadable=True, device="cpu", seed=4, data_root=str(tmp_path))
    config = RecordingsConfig(audio_dir=str(tmp_path / "a"), collection_dir=str(tmp_path / "c"), **values)
    collection = config.collection_config()
    assert {name: getattr(collection, name) for name in values} == values
    assert (collection.audio_dir, collection.collection_dir) == (str(tmp_path / "a"), str(tmp_path / "c"))
    # the chapter's defaults are the collection's
    defaults = RecordingsConfig().collection_config()
    assert all(getattr(defaults, name) == getattr(CollectionConfig, name) for name in values)
    shared = {f.name for f in dataclasses.fields(CollectionConfig)} & {f.name for f in dataclasses.fields(RecordingsConfig)}
    assert shared == set(values) | {"audio_dir", "collection_dir"}
