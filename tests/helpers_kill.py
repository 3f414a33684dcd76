"""The resumable stages on tiny inputs, for the kill tests (``tests/test_kill.py``).

Each ``stage_<name>(root, **args)`` runs one stage inside ``root`` (inputs already there) and
writes its output under ``root``. The test calls them in its own process for the reference run
and, through ``python tests/helpers_kill.py <name> <root> <args json>``, in a child process
that it SIGKILLs; the child prints ``READY`` once its imports are done, so the kill point
falls in the stage's own work. Each stage imports what it needs when it runs, so a child
for the download or the unpack does not spend seconds importing torch.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

#: What each stage writes under ``root`` (moved aside after the reference run).
OUTPUTS = {
    "download": ("out",),
    "unpack": ("raw",),
    "prepare": ("prepared",),
    "train": ("models",),
    "extract": ("embeddings",),
    "al_run": ("results",),
    "sweep": ("results", "_executed"),
}

#: The sweep's grid: two cold runs on the tiny embeddings of ``tests/test_sweep.py``.
SWEEP_GRID = {"strategies": ["random", "mfft"], "starts": [0], "seeds": [0], "full_supervision": False}


def sweep_overrides(root: Path) -> dict:
    return {"DATA_ROOT": str(root / "data"), "RESULTS_DIR": str(root / "results"), "BUDGETS": [10, 20, 30],
            "MAX_EPOCHS": 4, "CLASSIFIER_HIDDEN": 16, "DEVICE": "cpu"}


def stage_download(root: Path, url: str, md5: str, size: int) -> None:
    from bioal.download import download_file

    download_file(url, root / "out" / "blob.bin", md5=md5, size=size, progress=False, retries=0, timeout=10)


def stage_unpack(root: Path) -> None:
    from bioal.dcase import unpack_development_set

    unpack_development_set(root / "Development_set.zip", root / "raw", progress=False)


def stage_prepare(root: Path) -> None:
    from bioal.dcase import prepare

    prepare(root / "raw", root / "prepared", progress=False, sl_classes="from_csv")


def stage_train(root: Path) -> None:
    from bioal.training import EncoderTrainingConfig, train_encoder

    config = EncoderTrainingConfig(data_root=str(root), width=0.0625, epochs=4, encoder_batch_size=4,
                                   encoder_steps_per_epoch=3, classifier_hidden=16, device="cpu", seed=0,
                                   encoder_lr=2e-3)
    train_encoder(config, progress=False)


def stage_extract(root: Path) -> None:
    from bioal.embeddings import EmbeddingConfig, extract_embeddings

    config = EmbeddingConfig(data_root=str(root), width=0.0625, encoder_source="random", encoder_batch_size=2,
                             device="cpu")
    extract_embeddings(config, progress=False)


def stage_al_run(root: Path) -> None:
    from bioal.experiment import ExperimentConfig, run_experiment

    config = ExperimentConfig.from_dict({"data_root": str(root), "results_dir": str(root / "results"),
                                         "budgets": [10, 20, 30, 40, 50], "classifier_hidden": 8, "max_epochs": 15,
                                         "device": "cpu", "threads": 1, "strategy": "mfft"})
    run_experiment(config, progress=False)


def stage_sweep(root: Path, cluster: str | None = None) -> None:
    from bioal.sweep import run_sweep

    report = run_sweep("demo", **SWEEP_GRID, overrides=sweep_overrides(root), executed=root / "_executed",
                       workers=2 if cluster else 1, cluster=cluster,
                       cluster_spec={"processes": True} if cluster else None, figures=False, progress=False)
    if not report.ok:
        raise RuntimeError(report.summary())


if __name__ == "__main__":
    name, folder, args = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
    imports = {"download": "bioal.download", "unpack": "bioal.dcase", "prepare": "bioal.dcase",
               "train": "bioal.training", "extract": "bioal.embeddings", "al_run": "bioal.experiment",
               "sweep": "bioal.sweep"}
    importlib.import_module(imports[name])  # before READY: the kill point falls in the work
    print("READY", flush=True)
    globals()[f"stage_{name}"](folder, **args)
    print("DONE", flush=True)
