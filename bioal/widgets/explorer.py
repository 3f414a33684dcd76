"""Selected-samples explorer: which clips a strategy picked in a round, and why.

Choose strategy, start, seed and round; see a gallery of the clips selected in that round,
each with its log-mel spectrogram, its frame labels, its class, why it was picked (its
mismatch level and its cosine distance to the labelled set, from the run records'
``selected_mismatch`` / ``selected_distance``) and an audio player.

The widget is a thin view over pure functions (:func:`list_runs`, :func:`read_round`,
:func:`selection_table`, :func:`explorer_table`, :func:`why_picked`, :func:`default_state`),
which read the run records (DESIGN.md "Run records"), the train split's metadata in
``DATA_ROOT/embeddings/train.h5`` (recording, clip start, frame labels; the embeddings
themselves are not loaded) and the prepared audio ``DATA_ROOT/prepared/AL/train/<rec>.wav``.
:func:`bioal.plots.explorer.explorer_figure` draws the same gallery as a static figure.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bioal.grid import CLIP_SECONDS, SAMPLE_RATE
from bioal.utils import read_json, resolve_path

__all__ = [
    "SplitMeta",
    "parse_run_name",
    "list_runs",
    "run_folder",
    "round_paths",
    "read_round",
    "selection_table",
    "read_split_meta",
    "explorer_table",
    "why_picked",
    "explorer_options",
    "default_state",
    "clip_audio",
    "clip_spectrogram",
    "selected_samples_explorer",
]

RUN_NAME = re.compile(r"^(?P<strategy>[a-z0-9_]+)-(?P<start>cold|warm)-seed(?P<seed>\d+)$")
STRATEGY_ORDER = ("mfft", "mp", "ft", "random")


@dataclasses.dataclass(frozen=True)
class SplitMeta:
    """Per-clip metadata of one embedding split: ``recording`` [N] str, ``clip_start`` [N]
    seconds, ``labels`` [N, T, C] float32 frame labels, ``class_names`` C names."""

    recording: np.ndarray
    clip_start: np.ndarray
    labels: np.ndarray
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.recording)


def parse_run_name(name: str) -> dict[str, Any] | None:
    """``"mfft-cold-seed0"`` -> ``{"strategy": "mfft", "start": "cold", "seed": 0}``; None for
    other names (``full-seed0``: full supervision selects no rounds worth exploring)."""
    match = RUN_NAME.match(name)
    if match is None:
        return None
    return {"strategy": match["strategy"], "start": match["start"], "seed": int(match["seed"])}


def round_paths(folder: str | os.PathLike) -> list[Path]:
    """The round files ``rounds/<n_labelled:05d>.json`` of a run, in budget order."""
    rounds = Path(folder) / "rounds"
    return sorted(rounds.glob("*.json"), key=lambda p: int(p.stem)) if rounds.is_dir() else []


def list_runs(results_dir: str | os.PathLike) -> pd.DataFrame:
    """Active-learning runs under ``results_dir/runs``: columns ``run_name, strategy, start,
    seed, n_rounds, folder``, sorted by strategy (MFFT first), start and seed. Runs with no
    finished round yet are left out."""
    runs = resolve_path(results_dir) / "runs"
    rows = []
    for folder in sorted(runs.iterdir()) if runs.is_dir() else []:
        info = parse_run_name(folder.name)
        if info is None or not folder.is_dir():
            continue
        n = len(round_paths(folder))
        if n:
            rows.append({"run_name": folder.name, **info, "n_rounds": n, "folder": folder})
    table = pd.DataFrame(rows, columns=["run_name", "strategy", "start", "seed", "n_rounds", "folder"])
    order = {s: i for i, s in enumerate(STRATEGY_ORDER)}
    table["_order"] = table.strategy.map(lambda s: order.get(s, len(order)))
    return table.sort_values(["_order", "strategy", "start", "seed"]).drop(columns="_order").reset_index(drop=True)


def run_folder(results_dir: str | os.PathLike, strategy: str, start: str, seed: int) -> Path:
    """The run folder for one grid cell; the error lists the runs that exist."""
    folder = resolve_path(results_dir) / "runs" / f"{strategy}-{start}-seed{seed}"
    if not round_paths(folder):
        available = list(list_runs(results_dir).run_name)
        raise FileNotFoundError(f"no finished rounds in {folder} (runs with records: {available})")
    return folder


def read_round(folder: str | os.PathLike, round_index: int) -> dict[str, Any]:
    """The record of round ``round_index`` (0-based, budget order) of a run."""
    paths = round_paths(folder)
    if not 0 <= round_index < len(paths):
        raise IndexError(f"{folder}: round {round_index} does not exist (rounds 0..{len(paths) - 1} are recorded)")
    record = read_json(paths[round_index])
    for key in ("selected", "n_labelled"):
        if key not in record:
            raise KeyError(f"{paths[round_index]}: key {key!r} is missing")
    record.setdefault("round", round_index)
    record["_path"] = str(paths[round_index])
    return record


def _optional_column(record: dict[str, Any], key: str, n: int) -> list[float]:
    values = record.get(key)
    if values is None:
        return [math.nan] * n
    if len(values) != n:
        raise ValueError(f"{record.get('_path', 'round record')}: {key} has {len(values)} entries for {n} selected clips")
    return [math.nan if v is None else float(v) for v in values]


def selection_table(record: dict[str, Any]) -> pd.DataFrame:
    """The clips one round selected, in pick order: columns ``pick`` (0-based), ``index``
    (into the train split), ``mismatch`` and ``distance`` (NaN where the record has none)."""
    selected = [int(i) for i in record["selected"]]
    n = len(selected)
    return pd.DataFrame(
        {
            "pick": np.arange(n),
            "index": np.asarray(selected, dtype=np.int64),
            "mismatch": _optional_column(record, "selected_mismatch", n),
            "distance": _optional_column(record, "selected_distance", n),
        }
    )


def read_split_meta(path: str | os.PathLike) -> SplitMeta:
    """Recording, clip start, frame labels and class names of an embedding split file
    (``bioal.embeddings`` layout), without reading the embeddings."""
    import h5py

    path = resolve_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no embedding file at {path}")
    with h5py.File(path, "r") as handle:
        for key in ("recording", "clip_start", "labels", "class_list"):
            if key not in handle:
                raise KeyError(f"{path}: dataset {key!r} is missing")
        recording = np.array([r.decode() if isinstance(r, bytes) else str(r) for r in handle["recording"][()]], dtype=object)
        return SplitMeta(
            recording=recording,
            clip_start=handle["clip_start"][()].astype(np.float64),
            labels=handle["labels"][()].astype(np.float32),
            class_names=[c.decode().strip() for c in handle["class_list"][()]],
        )


def why_picked(strategy: str, start: str, round_index: int, pick: int, mismatch: float, distance: float) -> str:
    """One line saying why a clip was picked, from its recorded mismatch and distance."""
    parts = []
    if not math.isnan(mismatch):
        parts.append(f"mismatch {int(mismatch)}")
    if not math.isnan(distance):
        parts.append(f"distance {distance:.3f}")
    if round_index == 0 and start == "cold" and pick == 0 and math.isnan(distance):
        return "first clip of the cold start (random)"
    if round_index == 0 and start == "warm" and math.isnan(distance) and math.isnan(mismatch):
        return "warm start: a known positive"
    if not parts:
        return "random pick" if strategy in ("random", "mp") else "no score recorded"
    return ", ".join(parts)


def explorer_table(results_dir: str | os.PathLike, meta: SplitMeta, strategy: str, start: str, seed: int, round_index: int) -> pd.DataFrame:
    """The clips of one round with everything the gallery shows: ``pick, index, recording,
    clip_start, classes`` (positive classes, comma-separated, ``"none"``), ``positive_frames``,
    ``mismatch``, ``distance``, ``why``; plus ``n_labelled`` as an attribute."""
    record = read_round(run_folder(results_dir, strategy, start, seed), round_index)
    table = selection_table(record)
    if len(table) and (table["index"].max() >= len(meta) or table["index"].min() < 0):
        bad = int(table["index"][(table["index"] >= len(meta)) | (table["index"] < 0)].iloc[0])
        raise IndexError(f"{record['_path']}: selected clip {bad} is outside the train split ({len(meta)} clips)")
    idx = table["index"].to_numpy()
    frames = meta.labels[idx] > 0.5  # [k, T, C]
    tags = frames.any(axis=1)
    table["recording"] = meta.recording[idx]
    table["clip_start"] = meta.clip_start[idx]
    table["classes"] = [", ".join(c for c, t in zip(meta.class_names, row, strict=False) if t) or "none" for row in tags]
    table["positive_frames"] = frames.any(axis=2).sum(axis=1)
    table["why"] = [
        why_picked(strategy, start, round_index, int(p), m, d) for p, m, d in zip(table.pick, table.mismatch, table.distance, strict=False)
    ]
    table.attrs["n_labelled"] = int(record["n_labelled"])
    table.attrs["round"] = int(record.get("round", round_index))
    return table


def explorer_options(results_dir: str | os.PathLike) -> dict[str, list[Any]]:
    """The choices the records support: ``strategy``, ``start``, ``seed`` (each sorted)."""
    runs = list_runs(results_dir)
    if runs.empty:
        raise FileNotFoundError(f"no active-learning runs with finished rounds under {Path(results_dir) / 'runs'}")
    return {
        "strategy": list(dict.fromkeys(runs.strategy)),
        "start": sorted(set(runs.start)),
        "seed": sorted(set(int(s) for s in runs.seed)),
    }


def default_state(results_dir: str | os.PathLike) -> dict[str, Any]:
    """The explorer's first view: MFFT (else the first strategy), cold start, lowest seed,
    and round 1 (the first round chosen by mismatch), or round 0 if only that exists."""
    runs = list_runs(results_dir)
    if runs.empty:
        raise FileNotFoundError(f"no active-learning runs with finished rounds under {Path(results_dir) / 'runs'}")
    preferred = runs[(runs.strategy == "mfft") & (runs.start == "cold")]
    row = (preferred if len(preferred) else runs).sort_values("seed").iloc[0]
    return {"strategy": row.strategy, "start": row.start, "seed": int(row.seed), "round": 1 if row.n_rounds > 1 else 0}


def clip_audio(prepared_dir: str | os.PathLike, recording: str, clip_start: float) -> np.ndarray:
    """The clip's waveform ``[320000]`` float32 from ``<prepared_dir>/<recording>``."""
    from bioal.data import load_clip

    path = Path(prepared_dir) / recording
    if not path.is_file():
        raise FileNotFoundError(f"no prepared audio for clip {recording} at {clip_start:.1f} s: {path}")
    return load_clip(path, clip_start, CLIP_SECONDS, SAMPLE_RATE)


def clip_spectrogram(prepared_dir: str | os.PathLike, recording: str, clip_start: float) -> tuple[np.ndarray, np.ndarray]:
    """``(waveform [320000], log-mel [1001, 64] dB)`` of one clip."""
    from bioal.features import log_mel

    wave = clip_audio(prepared_dir, recording, clip_start)
    return wave, np.asarray(log_mel(wave))


def selected_samples_explorer(
    results_dir: str | os.PathLike, data_root: str | os.PathLike, per_page: int = 4
) -> Any:
    """The live explorer (ipywidgets): strategy, start, seed, round and page controls over a
    gallery of ``per_page`` selected clips (spectrogram with frame labels, class, why it was
    picked, audio player)."""
    import ipywidgets as widgets

    from bioal.plots.explorer import clip_panel
    from bioal.widgets import figure_output, set_outputs, wav_bytes

    data_root = resolve_path(data_root)
    meta = read_split_meta(data_root / "embeddings" / "train.h5")
    prepared = data_root / "prepared" / "AL" / "train"
    options = explorer_options(results_dir)
    state = default_state(results_dir)
    strategy = widgets.Dropdown(options=options["strategy"], value=state["strategy"], description="strategy")
    start = widgets.Dropdown(options=options["start"], value=state["start"], description="start")
    seed = widgets.Dropdown(options=options["seed"], value=state["seed"], description="seed")
    round_ = widgets.IntSlider(value=state["round"], min=0, max=9, description="round")
    page = widgets.IntSlider(value=0, min=0, max=0, description="page")
    header = widgets.HTML()
    gallery = widgets.VBox()

    def refresh(*_: Any) -> None:
        try:
            folder = run_folder(results_dir, strategy.value, start.value, seed.value)
        except FileNotFoundError as err:
            header.value = f"<b>{err}</b>"
            gallery.children = ()
            return
        round_.max = len(round_paths(folder)) - 1
        table = explorer_table(results_dir, meta, strategy.value, start.value, seed.value, round_.value)
        page.max = max(0, (len(table) - 1) // per_page)
        header.value = (
            f"<b>{strategy.value} {start.value} seed {seed.value}, round {table.attrs['round']}</b>: "
            f"{len(table)} clips picked, {table.attrs['n_labelled']} labelled after the round"
        )
        items = []
        for row in table.iloc[page.value * per_page : (page.value + 1) * per_page].itertuples():
            wave, mel = clip_spectrogram(prepared, row.recording, row.clip_start)
            fig = clip_panel(mel, meta.labels[row.index], meta.class_names, title=f"#{row.pick}: {row.classes}")
            # write the picture into the Output widget's state (no display capture: a kernel
            # run by papermill/nbclient then saves it with the widget state, without waiting)
            out = widgets.Output()
            set_outputs(out, figure_output(fig))
            info = widgets.HTML(
                f"<b>pick {row.pick}</b>, clip {row.index}<br>{row.recording} @ {row.clip_start:.1f} s<br>"
                f"class: {row.classes}<br>why: {row.why}"
            )
            audio = widgets.Audio(value=wav_bytes(wave), format="wav", autoplay=False, loop=False)
            items.append(widgets.HBox([out, widgets.VBox([info, audio])]))
        gallery.children = tuple(items)

    for control in (strategy, start, seed, round_, page):
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([widgets.HBox([strategy, start, seed]), widgets.HBox([round_, page]), header, gallery])
