"""Test/benchmark helper: what preparation (method §1.4-§1.5, via ``bioal.dcase``) will make of a
synthetic plan, computed from the plan alone (no audio): per AL class, POS events per split and
positive clips in the AL train pool."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bioal import dcase
from bioal.synth.audio import DUPLICATE_NAME, RecordingPlan


def al_events_frame(plan: RecordingPlan) -> tuple[pd.DataFrame, str]:
    """The plan's events as preparation reads them: class name column, 1 POS / -1 UNK."""
    cls = plan.events[0].call.replace(" ", "_")
    frame = pd.DataFrame({
        "Audiofilename": f"{plan.name}.wav",
        "Starttime": [e.start for e in plan.events],
        "Endtime": [e.end for e in plan.events],
        cls: np.array([1 if e.cells[0] == "POS" else -1 for e in plan.events], np.int8),
    })
    return frame, cls


def al_pool_summary(plans: Sequence[RecordingPlan]) -> pd.DataFrame:
    """One row per AL recording (the duplicate PB copy skipped, as preparation does): class,
    POS events in train/valid/test, train-pool clips and positive train-pool clips."""
    rows = []
    for plan in plans:
        if plan.division != "Validation_Set" or (plan.subset == "PB" and plan.name == DUPLICATE_NAME):
            continue
        frame, cls = al_events_frame(plan)
        cuts = dcase.split_times(frame, [cls], (0.7, 0.15), plan.name)
        parts = dcase.split_labels(frame, cuts, "AL")
        durations = {"train": cuts[0], "valid": cuts[1] - cuts[0], "test": plan.duration - cuts[1]}
        row = {"subset": plan.subset, "recording": plan.name, "class": cls}
        for split, part in parts.items():
            row[f"{split}_events"] = int((part[cls] == 1).sum())
            starts = dcase.clip_starts(durations[split])
            labels = dcase.clip_frame_labels(
                part["Starttime"].to_numpy(float), part["Endtime"].to_numpy(float),
                (part[[cls]] == 1).to_numpy(), starts,
            )
            row[f"{split}_clips"] = len(starts)
            row[f"{split}_pos_clips"] = int(labels.max(axis=(1, 2)).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def al_class_summary(plans: Sequence[RecordingPlan]) -> pd.DataFrame:
    """Per AL class totals of :func:`al_pool_summary` (plus a ``total`` row)."""
    table = al_pool_summary(plans).drop(columns=["subset", "recording"]).groupby("class").sum()
    table.loc["total"] = table.sum()
    return table
