"""A synthetic, deterministic stand-in for the DCASE 2024 Task 5 development set.

:func:`generate_development_set` writes, under ``root``, a folder shaped exactly like the
unpacked Zenodo record 10829604 (method §1.1), so the real preparation code
(:mod:`bioal.dcase`) runs on it unchanged::

    root/Development_Set/Training_Set/{BV,HT,JD,MT,WMW}/<rec>.wav + <rec>.csv      (SL, 45 classes)
    root/Development_Set/Validation_Set/{HB,ME,PB,PB24,PW,RD}/<rec>.wav + <rec>.csv (AL, 7 classes)
    root/DCASE2024_task5_training_set_classes.csv     dataset,class_code,class_name
    root/DCASE2024_task5_validation_set_classes.csv   dataset,recording,class_code,class_name
    root/synth_manifest.json                          written last: size, seed, file sizes

The format quirks of the real files are reproduced on purpose: class CSVs with CRLF line ends,
no final newline and recording names with a trailing space; an HB recording name with a space
and hyphens; the duplicate PB recording ``BUK5_20180921_015906a`` (a byte-identical copy of the
PB24 one, deleted by preparation); a stereo recording; sample rates of 16, 22.05, 44.1 and
48 kHz; training CSVs whose rows are not sorted by start time; WMW's two codes both named
``Tachybaptus ruficollis song`` in adjacent columns and the extra ``Anas platyrhynchos song``.

Every AL class has its own call type in the spirit of the real species (mosquito hum, red-deer
roar, song thrush / blackbird FM songs, pilot-whale click buzz, two short meerkat calls), mixed
into varied backgrounds (pink/brown noise, gusty wind, unannotated distractor chirps, clicks,
tones and warbles) at -5..+20 dB SNR. As in the paper, most AL pool clips are negative and the
two meerkat classes are rare (but never below 6 positive pool clips, the warm start takes 5).
The training recordings also hold unannotated calls of other species of their sub-dataset's
taxon (:data:`OTHER_SPECIES` of them, about as many calls as the annotated ones), as field
recordings annotated for a few species do.

Everything is drawn from ``bioal.utils.rng(seed, ...)`` keyed per recording, so the same
``(size, seed)`` gives byte-identical files whatever the order or the number of workers.
:func:`make_zenodo_record` packages a generated tree as a stand-in for the Zenodo record (zips,
class CSVs and the record's API JSON) for the download tests.

Command line: ``python -m bioal.synth.audio ROOT --size demo --seed 0``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import multiprocessing
import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import butter, lfilter, sosfilt
from tqdm.auto import tqdm

from bioal.dcase import DUPLICATE_RECORDINGS, TRAINING_CLASSES_CSV, VALIDATION_CLASSES_CSV
from bioal.download import DCASE2024_FILES, DCASE2024_RECORD, write_zenodo_record
from bioal.utils import atomic_path, atomic_write, read_json, rng, write_json

__all__ = [
    "SYNTH_SIZES",
    "SynthSize",
    "Event",
    "RecordingPlan",
    "AL_CLASS_NAMES",
    "TRAINING_CLASSES",
    "MANIFEST_NAME",
    "plan_development_set",
    "render_recording",
    "generate_development_set",
    "make_zenodo_record",
    "main",
]

GENERATOR_VERSION = 4  # 4: other species in the training recordings; 3: quieter meerkat calls
MANIFEST_NAME = "synth_manifest.json"
_PENDING_NAME = ".synth_pending.json"
#: The validation recording the real set holds twice (PB and PB24); preparation drops the PB copy.
DUPLICATE_NAME = next(name for division, subset, name in DUPLICATE_RECORDINGS if subset == "PB")


# --------------------------------------------------------------------------- sizes


@dataclasses.dataclass(frozen=True)
class SynthSize:
    """One preset size of the synthetic set (``index`` selects the column of the layout tables)."""

    name: str
    index: int
    description: str


SYNTH_SIZES: dict[str, SynthSize] = {
    "tiny": SynthSize(
        "tiny", 0, "unit tests: every sub-dataset and class present, ~20 short recordings, seconds to generate"
    ),
    "demo": SynthSize(
        "demo", 1, "CPU demo: ~8.6 h of AL audio (~3600-3900 pool clips of 10 s after preparation, 81 % negative)"
    ),
    "large": SynthSize("large", 2, "3x demo (~26 h of AL audio, ~12700 pool clips)"),
}


# --------------------------------------------------------------------------- classes

#: AL classes (validation class CSV names) -> the sub-datasets whose recordings carry them.
AL_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "Mosquito": ("HB",),
    "Red Deer": ("RD",),
    "Meerkat alarm call": ("ME",),
    "Meerkat move call": ("ME",),
    "Song thrush call": ("PB", "PB24"),
    "Blackbird call": ("PB", "PB24"),
    "Pilot whale foraging buzzes": ("PW",),
}

_WMW_NAMES = (
    "Acrocephalus scirpaceus song",
    "Circus aeruginosus call",
    "Himantopus himantopus call",
    "Tachybaptus ruficollis song",
    "Tachybaptus ruficollis song",  # c_5: the duplicate name, adjacent to c_4 (method §1.3)
    "Alcedo atthis call",
    "Alcedo atthis song",
    "Motacilla flava song",
    "Ixobrychus minutus song",
    "Ixobrychus minutus cal",  # (sic) as in the real class list
    "Ardea purpurea call",
    "Fulica atra call",
    "Acrocephalus melanopogon song",
    "Acrocephalus arundinaceus song",
    "Botaurus stellaris song",
    "Botaurus stellaris call",
    "Ciconia ciconia clapping",
    "Gallinula chloropus call",
    "Coracias garrulus call",
    "Anas platyrhynchos song",  # dropped by preparation (method §1.3)
    "Anas strepera song",
    "Dendrocopos minor drumming",
    "Charadrius alexandrinus call",
    "Charadrius alexandrinus song",
    "Porphyrio porphyrio call",
    "Porphyrio porphyrio song",
)

#: Training (SL) sub-dataset -> ((class_code, class_name), ...) in class-CSV order. Names turn
#: into the 45-class whitelist of method §1.3 once spaces and hyphens become '_'.
TRAINING_CLASSES: dict[str, tuple[tuple[str, str], ...]] = {
    "BV": (
        ("AMRE", "American Redstart"),
        ("BBWA", "Bay-breasted Warbler"),
        ("BTBW", "Black-throated Blue Warbler"),
        ("CHSP", "Chipping Sparrow"),
        ("COYE", "Common Yellowthroat"),
        ("GCTH", "Gray-cheeked Thrush"),
        ("OVEN", "Ovenbird"),
        ("RBGR", "Rose-breasted Grosbeak"),
        ("SAVS", "Savannah Sparrow"),
        ("SWTH", "Swainson's Thrush"),
        ("WTSP", "White-throated Sparrow"),
    ),
    "HT": (
        ("GRMO", "Hyena groan and moo"),
        ("GIG", "Hyena giggle"),
        ("SQT", "Hyena squitter"),
        ("WHP", "Hyena whoop"),
        ("RUM", "Hyena rumble"),
    ),
    "JD": (("JDC", "Jackdaw call"),),
    "MT": (
        ("SNMK", "Meerkat short note"),
        ("CCMK", "Meerkat close call"),
        ("AGGM", "Meerkat aggression call"),
        ("SOCM", "Meerkat social call"),
    ),
    "WMW": tuple((f"c_{i + 1}", name) for i, name in enumerate(_WMW_NAMES)),
}


# --------------------------------------------------------------------------- layout tables

# AL recordings: (sub-dataset, name, class, sample rate, channels, seconds per size, POS events per size).
# Sizes are (tiny, demo, large); None leaves the recording out of that size.
_S = tuple[float | None, float | None, float | None]
_N = tuple[int | None, int | None, int | None]
_AL_LAYOUT: tuple[tuple[str, str, str, int, int, _S, _N], ...] = (
    # HB: short smartphone recordings held up to mosquitoes, nearly every clip holds the hum
    ("HB", "R4_cleaned recording_13-10-17", "Mosquito", 16000, 1, (130, 420, 1260), (7, 28, 84)),
    ("HB", "R4_cleaned recording_16-10-17", "Mosquito", 16000, 1, (None, 420, 1260), (None, 28, 84)),
    ("HB", "R4_cleaned recording_17-10-17", "Mosquito", 16000, 1, (None, 420, 1260), (None, 28, 84)),
    ("HB", "R5_cleaned recording_TEL_19-10-17", "Mosquito", 16000, 1, (None, 420, 1260), (None, 28, 84)),
    ("HB", "R5_cleaned recording_TEL_20-10-17", "Mosquito", 16000, 1, (None, None, 1260), (None, None, 84)),
    # RD: field recorders in the rut, a roar every 20 s or so
    ("RD", "RD_20191003_SRG3", "Red Deer", 16000, 1, (130, 900, 2700), (7, 36, 108)),
    ("RD", "RD_20191006_SRG3", "Red Deer", 16000, 1, (None, 900, 2700), (None, 36, 108)),
    ("RD", "RD_20191009_SRG1", "Red Deer", 16000, 1, (None, 900, 2700), (None, 36, 108)),
    ("RD", "RD_20191012_SRG1", "Red Deer", 16000, 1, (None, 900, 2700), (None, 36, 108)),
    # ME: animal-borne collars, two short recordings, few calls: the two rare classes
    ("ME", "ME1", "Meerkat alarm call", 22050, 1, (130, 500, 1500), (7, 12, 22)),
    ("ME", "ME2", "Meerkat move call", 22050, 1, (130, 400, 1200), (7, 10, 18)),
    # PB, PB24: long night recordings at a field site, sparse song; most of the pool
    ("PB", "BUK1_20181011_001004", "Blackbird call", 16000, 1, (125, 4800, 14400), (7, 12, 36)),
    ("PB", "BUK1_20181013_023504", "Song thrush call", 16000, 1, (125, 4800, 14400), (7, 12, 36)),
    ("PB", "BUK4_20161011_000804", "Song thrush call", 16000, 1, (None, 4800, 14400), (None, 12, 36)),
    ("PB", "BUK4_20171022_004304", "Blackbird call", 16000, 1, (None, 4800, 14400), (None, 12, 36)),
    ("PB24", DUPLICATE_NAME, "Blackbird call", 44100, 2, (100, 2100, 6300), (6, 10, 30)),
    ("PB24", "BUK3_20190531_021701", "Song thrush call", 48000, 1, (100, 2100, 6300), (6, 10, 30)),
    # PW: hydrophones, foraging buzzes every 20 s or so
    ("PW", "PW1_20180708_1230", "Pilot whale foraging buzzes", 22050, 1, (130, 800, 2400), (7, 34, 102)),
    ("PW", "PW2_20180712_0915", "Pilot whale foraging buzzes", 22050, 1, (None, 800, 2400), (None, 34, 102)),
    ("PW", "PW3_20180715_0300", "Pilot whale foraging buzzes", 48000, 1, (None, 800, 2400), (None, 34, 102)),
)
# The real PB folder also holds a copy of PB24's BUK5 recording; preparation deletes it (method §1.1).
_DUPLICATE = ("PB", DUPLICATE_NAME, "PB24")
# Recording names written with a trailing space in the validation class CSV (as in the real file).
_TRAILING_SPACE = {"ME1", "PW3_20180715_0300", "BUK1_20181013_023504"}

# SL sub-datasets: sample rate, recording names, seconds per recording and POS events per class and
# recording, per size. Each class sits in one (tiny) or two (demo, large) recordings.
_SL_LAYOUT: dict[str, tuple[int, tuple[str, ...], _S, _N]] = {
    "BV": (
        22050,
        tuple(f"2015-09-{4 + i:02d}_08-04-59_unit{3 + i:02d}" for i in range(4)),
        (110, 320, 1440),
        (3, 6, 27),
    ),
    "HT": (16000, ("a1", "a2", "a3"), (60, 300, 1350), (3, 7, 30)),
    "JD": (44100, ("jackdaw nest-1", "jackdaw nest-2"), (40, 150, 680), (4, 10, 45)),
    "MT": (16000, ("mt_01_2017", "mt_02_2017", "mt_03_2017"), (60, 300, 1350), (3, 8, 36)),
    "WMW": (
        22050,
        tuple(f"XC{48123 + 791 * i}" for i in range(6)),
        (120, 260, 1170),
        (3, 5, 22),
    ),
}
# Recordings per SL sub-dataset and size (tiny keeps few; every class still present).
_SL_COUNT = {"BV": (1, 4, 4), "HT": (1, 3, 3), "JD": (1, 2, 2), "MT": (1, 3, 3), "WMW": (2, 6, 6)}


# --------------------------------------------------------------------------- plans


@dataclasses.dataclass(frozen=True)
class Event:
    """One annotated (or UNK) sound event: times in seconds (already rounded to 3 decimals), one
    CSV cell per column of the recording (``POS``/``NEG``/``UNK``), the call to render (an AL
    class name or an SL class code) and its signal-to-background ratio in dB."""

    start: float
    end: float
    cells: tuple[str, ...]
    call: str
    snr_db: float


@dataclasses.dataclass(frozen=True)
class RecordingPlan:
    """Everything needed to render one recording and its annotation CSV (no audio yet)."""

    division: str  # "Training_Set" or "Validation_Set"
    subset: str  # e.g. "BV", "HB"
    name: str  # file stem, may contain spaces and hyphens
    sr: int
    channels: int
    duration: float  # seconds
    columns: tuple[str, ...]  # class columns of the CSV (codes, or ("Q",))
    events: tuple[Event, ...]  # sorted by start
    key: tuple[str, ...]  # rng key of the audio; shared by the duplicate PB recording
    row_order: str  # "time", "class" (grouped per class column) or "swapped" (two rows exchanged)
    crlf: bool = False
    final_newline: bool = True

    @property
    def folder(self) -> str:
        return f"Development_Set/{self.division}/{self.subset}"

    @property
    def wav_relpath(self) -> str:
        return f"{self.folder}/{self.name}.wav"

    @property
    def csv_relpath(self) -> str:
        return f"{self.folder}/{self.name}.csv"

    @property
    def n_samples(self) -> int:
        return int(round(self.duration * self.sr))


# Event duration ranges (s) of the AL call types.
_AL_DURATION = {
    "Mosquito": (1.0, 6.0),
    "Red Deer": (1.5, 4.0),
    "Meerkat alarm call": (0.15, 0.4),
    "Meerkat move call": (0.08, 0.2),
    "Song thrush call": (1.0, 3.0),
    "Blackbird call": (1.5, 3.5),
    "Pilot whale foraging buzzes": (0.5, 2.5),
}
_UNK_SNR = (-10.0, 0.0)


def _split_counts(durations: np.ndarray) -> tuple[int, int]:
    """``(k_train, k_valid)`` of method §1.4 for one class: how many events have cumulative POS
    duration below 70 % and 85 % of the total (the cuts fall before events k_train and k_valid)."""
    cum = np.cumsum(durations)
    total = cum[-1]
    return int(np.sum(cum < 0.7 * total)), int(np.sum(cum < 0.85 * total))


def _al_durations_ok(durations: np.ndarray, min_train_events: int) -> bool:
    """The AL split's main path applies (>= 2 events below the train goal), the valid chunk gets
    at least one event (so valid and train slots do not overlap), train gets enough events."""
    k_train, k_valid = _split_counts(durations)
    return k_train >= 2 and k_valid > k_train and k_train - 1 >= min_train_events


def _place(
    g: np.random.Generator, duration: float, lengths: np.ndarray, margin: float, what: str, min_gap: float = 1.0
) -> np.ndarray:
    """Start times for events of ``lengths`` spread over ``duration``: one per equal slot, with
    at least ``edge`` s of silence to the slot borders (events are then >= 2*edge apart)."""
    m = len(lengths)
    slot = (duration - 2 * margin) / m
    if slot < lengths.max() + min_gap:
        raise ValueError(f"synthetic layout: {what} cannot fit {m} events of up to {lengths.max():.2f} s")
    free = slot - lengths
    edge = np.minimum(5.0, 0.4 * free)
    return margin + np.arange(m) * slot + edge + g.uniform(0, 1, m) * (free - 2 * edge)


def _al_plan(seed: int, size: SynthSize, row: tuple, subset: str | None = None) -> RecordingPlan:
    sub, name, cls, sr, channels, seconds, events = row
    duration, n_pos = float(seconds[size.index]), int(events[size.index])
    g = rng(seed, "synth-plan", size.name, sub, name)
    lo, hi = _AL_DURATION[cls]
    # at least 3 train events, each >= 10 s from the next: >= 6 positive pool clips per recording
    min_train = 3
    for _ in range(10_000):
        pos_len = np.round(g.uniform(lo, hi, n_pos), 3)
        if _al_durations_ok(pos_len, min_train):
            break
    else:  # pragma: no cover - layout bug
        raise RuntimeError(f"synthetic layout: no valid event durations for {sub}/{name}")
    n_unk = max(1, round(n_pos / 6))
    unk_len = np.round(g.uniform(lo, hi, n_unk) * g.uniform(0.4, 1.0, n_unk), 3)
    m = n_pos + n_unk
    # UNK events never take the first or last slot
    unk_slots = np.sort(g.choice(np.arange(1, m - 1), size=n_unk, replace=False))
    is_unk = np.zeros(m, bool)
    is_unk[unk_slots] = True
    lengths = np.empty(m)
    lengths[~is_unk], lengths[is_unk] = pos_len, unk_len
    starts = np.round(_place(g, duration, lengths, margin=6.0, what=f"{sub}/{name}"), 3)
    snr = np.where(is_unk, g.uniform(*_UNK_SNR, m), g.uniform(*ENVIRONMENTS[sub].snr_db, m))
    evs = tuple(
        Event(float(s), float(np.round(s + d, 3)), ("UNK" if u else "POS",), cls, float(np.round(x, 2)))
        for s, d, u, x in zip(starts, lengths, is_unk, snr, strict=True)
    )
    return RecordingPlan(
        division="Validation_Set",
        subset=subset or sub,
        name=name,
        sr=sr,
        channels=channels,
        duration=duration,
        columns=("Q",),
        events=evs,
        key=("rec", size.name, "Validation_Set", sub, name),
        row_order="swapped" if sub == "RD" and name.endswith("20191003_SRG3") else "time",
        final_newline=name != "ME2",
    )


# SL call families. As in the real set, the SL sub-datasets hold other species of the same kinds
# of animal as the AL ones (warblers, thrushes and sparrows; hyenas; jackdaws; meerkats; wetland
# birds), so each sub-dataset draws its classes from the families and ranges of its taxon. A
# class's parameters are drawn once per seed.
_SL_FAMILIES = ("harmonic", "sweep", "trill", "clicks", "noiseband")
_SL_TAXA: dict[str, dict[str, dict[str, tuple[float, float]]]] = {
    # songbirds: whistled FM notes, trills and pure tones, 2-7 kHz
    "BV": {"sweep": {"f": (2000, 7000)}, "trill": {"f": (2500, 7000)}, "harmonic": {"f0": (2000, 4500), "n_harm": (1, 2)}},
    # hyenas: low, rich harmonic groans, whoops and giggles, and rumbles
    "HT": {"harmonic": {"f0": (120, 700), "n_harm": (5, 12)}, "noiseband": {"fc": (150, 800)},
           "trill": {"f": (400, 1200)}},
    # jackdaw: short harsh harmonic "chak"
    "JD": {"harmonic": {"f0": (700, 1600), "n_harm": (4, 7)}},
    # meerkats: short harmonic notes and calls, noisy aggression
    "MT": {"harmonic": {"f0": (500, 2200), "n_harm": (2, 6)}, "noiseband": {"fc": (1500, 4000)}},
    # wetland birds: every family, wide ranges (songs, calls, drumming, clapping, booming)
    "WMW": {"harmonic": {"f0": (150, 3000), "n_harm": (1, 7)}, "sweep": {"f": (800, 7000)},
            "trill": {"f": (1500, 7000)}, "clicks": {"f": (500, 6000)}, "noiseband": {"fc": (300, 5000)}},
}


def _sl_class_params(seed: int, code: str, dataset: str) -> dict[str, Any]:
    g = rng(seed, "synth-sl-class", dataset, code)
    taxon = _SL_TAXA[dataset]
    family = list(taxon)[int(g.integers(len(taxon)))]
    ranges = taxon[family]
    params: dict[str, Any] = {"family": family}
    if family == "harmonic":
        short = dataset in ("JD", "MT")
        params.update(f0=float(g.uniform(*ranges["f0"])), n_harm=int(g.integers(ranges["n_harm"][0], ranges["n_harm"][1] + 1)),
                      fm=float(g.uniform(0, 0.2)),
                      dur=(float(g.uniform(0.08, 0.2)), float(g.uniform(0.25, 0.6))) if short
                      else (float(g.uniform(0.3, 0.8)), float(g.uniform(0.9, 2.0))))
    elif family == "sweep":
        params.update(f_a=float(g.uniform(*ranges["f"])), f_b=float(g.uniform(*ranges["f"])),
                      notes=int(g.integers(1, 4)), dur=(float(g.uniform(0.1, 0.3)), float(g.uniform(0.35, 0.7))))
    elif family == "trill":
        params.update(f=float(g.uniform(*ranges["f"])), rate=float(g.uniform(6, 20)), width=float(g.uniform(0.05, 0.3)),
                      dur=(float(g.uniform(0.4, 0.8)), float(g.uniform(1.0, 2.0))))
    elif family == "clicks":
        params.update(rate=float(g.uniform(5, 40)), f=float(g.uniform(*ranges["f"])),
                      dur=(float(g.uniform(0.3, 0.6)), float(g.uniform(0.8, 1.6))))
    else:
        params.update(fc=float(g.uniform(*ranges["fc"])), bw=float(g.uniform(0.2, 1.0)), am=float(g.uniform(0, 25)),
                      dur=(float(g.uniform(0.2, 0.5)), float(g.uniform(0.6, 1.5))))
    return params


def _sl_plans(seed: int, size: SynthSize, dataset: str) -> list[RecordingPlan]:
    sr, names, seconds, events = _SL_LAYOUT[dataset]
    n_rec = _SL_COUNT[dataset][size.index]
    duration, per_class = float(seconds[size.index]), int(events[size.index])
    codes = [c for c, _ in TRAINING_CLASSES[dataset]]
    coverage = 2 if n_rec >= 3 else 1
    plans = []
    for r in range(n_rec):
        name = names[r]
        present = [c for i, c in enumerate(codes) if any((i + j) % n_rec == r for j in range(coverage))]
        present = present or [codes[r % len(codes)]]  # more recordings than classes (JD)
        # WMW files carry every code column (keeps the Tachybaptus pair adjacent after merging);
        # others carry their present codes plus, where there is one, an absent code (all NEG).
        if dataset == "WMW":
            columns = tuple(codes)
        else:
            absent = [c for c in codes if c not in present]
            columns = tuple(c for c in codes if c in present or (absent and c == absent[0]))
        g = rng(seed, "synth-plan", size.name, dataset, name)
        labels = [c for c in present for _ in range(per_class)]
        n_unk = max(1, len(labels) // 10)
        labels += [str(c) for c in g.choice(present, size=n_unk)]
        is_unk = np.zeros(len(labels), bool)
        is_unk[-n_unk:] = True
        order = g.permutation(len(labels))
        labels = [labels[i] for i in order]
        is_unk = is_unk[order]
        lengths = np.empty(len(labels))
        for i, code in enumerate(labels):
            lo, hi = _sl_class_params(seed, code, dataset)["dur"]
            lengths[i] = np.round(g.uniform(lo, hi), 3)
        starts = np.round(_place(g, duration, lengths, margin=1.0, what=f"{dataset}/{name}", min_gap=0.5), 3)
        evs = []
        for s, d, code, unk in zip(starts, lengths, labels, is_unk, strict=True):
            cells = []
            for col in columns:
                if col == code:
                    cells.append("UNK" if unk else "POS")
                elif not unk and col in present and g.random() < 0.05:
                    cells.append("UNK")  # an uncertain second class on a POS row
                else:
                    cells.append("NEG")
            snr = g.uniform(*_UNK_SNR) if unk else g.uniform(*ENVIRONMENTS[dataset].snr_db)
            evs.append(Event(float(s), float(np.round(s + d, 3)), tuple(cells), code, float(np.round(snr, 2))))
        plans.append(
            RecordingPlan(
                division="Training_Set",
                subset=dataset,
                name=name,
                sr=sr,
                channels=1,
                duration=duration,
                columns=columns,
                events=tuple(evs),
                key=("rec", size.name, "Training_Set", dataset, name),
                row_order="class",
                crlf=dataset == "JD",
            )
        )
    return plans


def plan_development_set(size: str = "demo", seed: int = 0) -> list[RecordingPlan]:
    """The recordings of one synthetic set and their events, without rendering any audio.

    Cheap (milliseconds); :func:`generate_development_set` renders exactly these plans. Order:
    Training_Set sub-datasets, then Validation_Set ones (the duplicate PB recording included).
    """
    spec = _size(size)
    plans: list[RecordingPlan] = []
    for dataset in TRAINING_CLASSES:
        plans.extend(_sl_plans(seed, spec, dataset))
    al = [_al_plan(seed, spec, row) for row in _AL_LAYOUT if row[5][spec.index] is not None]
    dup_sub, dup_name, dup_source = _DUPLICATE
    source = next(p for p in al if p.subset == dup_source and p.name == dup_name)
    al.append(dataclasses.replace(source, subset=dup_sub))
    order = ("HB", "ME", "PB", "PB24", "PW", "RD")
    al.sort(key=lambda p: (order.index(p.subset), p.name))
    return plans + al


def _size(size: str) -> SynthSize:
    if size not in SYNTH_SIZES:
        raise ValueError(f"unknown synthetic size {size!r}; choose one of {sorted(SYNTH_SIZES)}")
    return SYNTH_SIZES[size]


# --------------------------------------------------------------------------- signals


def _unit(x: np.ndarray) -> np.ndarray:
    """Scale to unit RMS (zeros stay zeros)."""
    x = np.asarray(x, dtype=np.float32)
    r = float(np.sqrt(np.mean(x * x)))
    return x / np.float32(r) if r > 0 else x


def _fade(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Raised-cosine onset/offset envelope ``[n]``."""
    env = np.ones(n, np.float32)
    na, nr = min(n // 2, max(1, int(attack * sr))), min(n // 2, max(1, int(release * sr)))
    env[:na] = 0.5 - 0.5 * np.cos(np.pi * np.arange(na) / na)
    env[n - nr:] = (0.5 + 0.5 * np.cos(np.pi * np.arange(nr) / nr)).astype(np.float32)
    return env


def _tone(freq: np.ndarray, sr: int, amps: Sequence[float], g: np.random.Generator) -> np.ndarray:
    """Harmonic tone with instantaneous fundamental ``freq`` [n] (Hz); harmonics above 0.45*sr are
    dropped. Returns ``[n]`` float32."""
    phase = (2 * np.pi / sr * np.cumsum(freq, dtype=np.float64)).astype(np.float32)
    top = float(np.max(freq))
    out = np.zeros(len(freq), np.float32)
    for k, a in enumerate(amps, start=1):
        if k * top >= 0.45 * sr:
            break
        out += np.float32(a) * np.sin(np.float32(k) * phase + np.float32(g.uniform(0, 2 * np.pi)))
    return out


def _smooth_noise(g: np.random.Generator, n: int, sr: int, rate: float) -> np.ndarray:
    """Slowly varying random curve ``[n]`` (about ``rate`` independent values per second)."""
    knots = max(2, int(n / sr * rate) + 2)
    return np.interp(np.linspace(0, knots - 1, n), np.arange(knots), g.standard_normal(knots)).astype(np.float32)


def _bandnoise(g: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz by FFT masking (short signals only)."""
    spec = np.fft.rfft(g.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    spec[(f < lo) | (f > hi)] = 0
    return np.fft.irfft(spec, n).astype(np.float32)


def _call_mosquito(n: int, sr: int, g: np.random.Generator) -> np.ndarray:
    """Harmonic flight tone, fundamental 400-600 Hz with slow FM and a fly-by loudness swell."""
    t = np.arange(n) / sr
    f0 = g.uniform(400, 600)
    f = f0 * (1 + g.uniform(0.01, 0.04) * np.sin(2 * np.pi * g.uniform(0.3, 2.0) * t + g.uniform(0, 6.3)))
    f += g.uniform(-25, 25) * t / max(t[-1], 1e-3)
    amps = [k ** -0.7 * g.uniform(0.5, 1.0) for k in range(1, 9)]
    swell = 1 + 0.4 * np.sin(np.pi * t / max(t[-1], 1e-3) + g.uniform(-0.5, 0.5))
    return _tone(f, sr, amps, g) * swell.astype(np.float32) * _fade(n, sr, 0.15, 0.15)


def _call_deer(n: int, sr: int, g: np.random.Generator) -> np.ndarray:
    """Low, rough roar: 100-300 Hz rise-fall fundamental with jitter, many harmonics, pulsed,
    plus breathy low-passed noise."""
    t = np.arange(n) / sr
    u = t / max(t[-1], 1e-3)
    f_a, f_b = g.uniform(100, 170), g.uniform(190, 300)
    f = f_a + (f_b - f_a) * np.sin(np.pi * u) ** 0.7
    f *= 1 + 0.03 * _smooth_noise(g, n, sr, 30)
    amps = [k ** -0.9 for k in range(1, 21)]
    voiced = _tone(f, sr, amps, g)
    breath = lfilter([0.15], [1, -0.85], g.standard_normal(n)).astype(np.float32)
    pulses = 0.6 + 0.4 * np.abs(np.sin(np.pi * g.uniform(2, 4) * t))
    x = _unit(voiced) + g.uniform(0.3, 0.7) * _unit(breath)
    return x * pulses.astype(np.float32) * _fade(n, sr, 0.2, 0.5)


def _notes(n: int, sr: int, g: np.random.Generator, onsets: Sequence[float], contours: Sequence[np.ndarray],
           lengths: Sequence[float]) -> np.ndarray:
    """Whistled notes: each note ``i`` starts at ``onsets[i]`` s, lasts ``lengths[i]`` s and follows the
    frequency contour ``contours[i]`` (resampled to its length); weak 2nd harmonic."""
    out = np.zeros(n, np.float32)
    for onset, contour, length in zip(onsets, contours, lengths, strict=True):
        i0 = int(onset * sr)
        m = min(int(length * sr), n - i0)
        if m < 16:
            continue
        f = np.interp(np.linspace(0, len(contour) - 1, m), np.arange(len(contour)), contour)
        out[i0:i0 + m] += _tone(f, sr, [1.0, 0.15], g) * _fade(m, sr, 0.01, 0.02)
    return out


def _call_thrush(n: int, sr: int, g: np.random.Generator) -> np.ndarray:
    """Song-thrush-like: fast (6-9 notes/s), short sharp FM notes 2-5 kHz, motifs repeated 2-3 times."""
    d = n / sr
    rate = g.uniform(6, 9)
    onsets, contours, lengths = [], [], []
    t = 0.02
    while t < d - 0.1:
        motif = [np.array([g.uniform(2000, 5000), g.uniform(2000, 5000), g.uniform(2000, 5000)])
                 for _ in range(int(g.integers(1, 4)))]
        for _ in range(int(g.integers(2, 4))):
            for contour in motif:
                if t >= d - 0.1:
                    break
                length = min(g.uniform(0.05, 0.1), d - t - 0.01)
                onsets.append(t), contours.append(contour), lengths.append(length)
                t += 1 / rate
        t += g.uniform(0.05, 0.2)
    return _notes(n, sr, g, onsets, contours, lengths)


def _call_blackbird(n: int, sr: int, g: np.random.Generator) -> np.ndarray:
    """Blackbird-like: slow (2.5-4 notes/s), longer fluted notes with smooth rise-fall contours
    2-4.5 kHz and slight vibrato, no repetition."""
    d = n / sr
    rate = g.uniform(2.5, 4.0)
    onsets, contours, lengths = [], [], []
    t = 0.02
    u = np.linspace(0, 1, 32)
    while t < d - 0.15:
        f_a, f_b = g.uniform(2000, 3000), g.uniform(3000, 4500)
        contour = f_a + (f_b - f_a) * np.sin(np.pi * u) ** g.uniform(0.5, 2.0)
        contour = contour * (1 + 0.01 * np.sin(2 * np.pi * 4 * u))
        length = min(g.uniform(0.15, 0.3), d - t - 0.01)
        onsets.append(t), contours.append(contour), lengths.append(length)
        t += 1 / rate
    return _notes(n, sr, g, onsets, contours, lengths)


def _call_whale(n: int, sr: int, g: np.random.Generator) -> np.ndarray:
    """Click buzz: broadband clicks whose interval shrinks from 15-30 ms to 2-5 ms, getting louder."""
    u = np.arange(n) / max(n - 1, 1)
    ici = g.uniform(0.015, 0.03) * (g.uniform(0.002, 0.005) / 0.0225) ** u  # accelerating
    count = np.cumsum(1.0 / (ici * sr))
    clicks = np.flatnonzero(np.diff(np.floor(count), prepend=0.0) > 0)
    train = np.zeros(n, np.float32)
    train[clicks] = g.uniform(0.6, 1.0, len(clicks)) * (0.4 + 0.6 * u[clicks])
    width = max(4, int(0.0006 * sr))
    kernel = (g.standard_normal(width) * np.hanning(width)).astype(np.float32)
    return np.convolve(train, kernel, mode="same").astype(np.float32)


def _call_meerkat_alarm(n: int, sr: int, g: np.random.Generator) -> np.ndarray:
    """Harsh, falling harmonic bark: f0 1.0-1.5 kHz down to 0.7-1.0 kHz, rough amplitude modulation."""
    t = np.arange(n) / sr
    u = t / max(t[-1], 1e-3)
    f = g.uniform(1000, 1500) + (g.uniform(700, 1000) - g.uniform(1000, 1500)) * u
    rough = 1 + 0.5 * np.sin(2 * np.pi * g.uniform(60, 110) * t)
    return _tone(f, sr, [1.0, 0.8, 0.5, 0.3], g) * rough.astype(np.float32) * _fade(n, sr, 0.005, 0.08)


def _call_meerkat_move(n: int, sr: int, g: np.random.Generator) -> np.ndarray:
    """Soft, rising chirp 1.5-3 kHz, nearly pure, symmetric envelope."""
    u = np.arange(n) / max(n - 1, 1)
    f = g.uniform(1500, 2000) + (g.uniform(2300, 3000) - 1750) * u**1.5
    return _tone(f, sr, [1.0, 0.2], g) * np.hanning(n).astype(np.float32)


_AL_CALLS: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "Mosquito": _call_mosquito,
    "Red Deer": _call_deer,
    "Meerkat alarm call": _call_meerkat_alarm,
    "Meerkat move call": _call_meerkat_move,
    "Song thrush call": _call_thrush,
    "Blackbird call": _call_blackbird,
    "Pilot whale foraging buzzes": _call_whale,
}


#: Unannotated species of each SL sub-dataset's taxon heard in its recordings (generator 4).
OTHER_SPECIES = 8


def _other_species_calls(plan: RecordingPlan, seed: int) -> list[tuple[int, np.ndarray, float]]:
    """The unannotated calls of other species in a training recording: ``(first sample, signal
    [m], SNR dB)`` each, as many on average as the recording's annotated events, anywhere in it
    (over annotated calls too). Each species has its own call, drawn like an SL class's from the
    sub-dataset's taxon; none is one of the annotated classes. Validation recordings have none."""
    if plan.division != "Training_Set":
        return []
    g = rng(seed, *plan.key, "other-species")
    n, sr = plan.n_samples, plan.sr
    calls = []
    for _ in range(int(g.poisson(len(plan.events)))):
        params = _sl_class_params(seed, f"other-{int(g.integers(OTHER_SPECIES))}", plan.subset)
        m = max(8, int(g.uniform(*params["dur"]) * sr))
        i0 = int(g.integers(0, max(1, n - m)))
        calls.append((i0, _call_sl(params, m, sr, g)[: n - i0], float(g.uniform(*ENVIRONMENTS[plan.subset].snr_db))))
    return calls


def _call_sl(params: dict[str, Any], n: int, sr: int, g: np.random.Generator) -> np.ndarray:
    """Generic parametric call of an SL class (family and parameters fixed per class, with a
    little per-event variation)."""
    t = np.arange(n) / sr
    jitter = g.uniform(0.93, 1.07)
    nyq = 0.45 * sr
    family = params["family"]
    if family == "harmonic":
        f = params["f0"] * jitter * (1 + params["fm"] * np.sin(2 * np.pi * 3 * t))
        return _tone(f, sr, [k ** -1.0 for k in range(1, params["n_harm"] + 1)], g) * _fade(n, sr, 0.03, 0.1)
    if family == "sweep":
        k = params["notes"]
        starts = np.arange(k) * (n / sr) / k
        contour = np.array([min(params["f_a"], nyq), min(params["f_b"], nyq)]) * jitter
        return _notes(n, sr, g, starts, [contour] * k, [0.8 * (n / sr) / k] * k)
    if family == "trill":
        period = 1 / (params["rate"] * jitter)
        onsets = np.arange(0, n / sr - 0.02, period)
        f = min(params["f"], nyq / (1 + params["width"]))
        contour = np.array([f * (1 + params["width"]), f])
        return _notes(n, sr, g, onsets, [contour] * len(onsets), [0.6 * period] * len(onsets))
    if family == "clicks":
        train = np.zeros(n, np.float32)
        train[(np.arange(0, n / sr, 1 / (params["rate"] * jitter)) * sr).astype(int)] = 1.0
        width = max(8, int(0.003 * sr))
        f = min(params["f"], nyq)
        kernel = (np.sin(2 * np.pi * f * np.arange(width) / sr) * np.hanning(width)).astype(np.float32)
        return np.convolve(train, kernel, mode="same").astype(np.float32)
    fc = min(params["fc"], 0.8 * nyq)
    x = _bandnoise(g, n, sr, fc * (1 - params["bw"] / 2), min(fc * (1 + params["bw"] / 2), nyq))
    if params["am"] > 1:
        x *= (0.5 + 0.5 * np.sin(2 * np.pi * params["am"] * t)).astype(np.float32)
    return x * _fade(n, sr, 0.02, 0.05)


def _distractor(kind: str, n: int, sr: int, g: np.random.Generator) -> np.ndarray:
    """Unannotated background sounds: chirps, click bursts, steady tones, warbles."""
    t = np.arange(n) / sr
    nyq = 0.45 * sr
    if kind == "chirp":
        f = np.linspace(g.uniform(300, nyq), g.uniform(300, nyq), n)
        return _tone(f, sr, [1.0], g) * _fade(n, sr, 0.01, 0.02)
    if kind == "clicks":
        train = np.zeros(n, np.float32)
        train[(np.arange(0, n / sr, g.uniform(0.05, 0.12)) * sr).astype(int)] = 1.0
        kernel = g.standard_normal(max(4, int(0.001 * sr))).astype(np.float32)
        return np.convolve(train, kernel, mode="same").astype(np.float32)
    if kind == "tone":
        f = np.full(n, g.uniform(200, 4000))
        return _tone(f, sr, [1.0, g.uniform(0, 0.5)], g) * _fade(n, sr, 0.05, 0.05)
    f = g.uniform(800, min(6000, nyq - 500)) + g.uniform(100, 400) * np.sin(2 * np.pi * g.uniform(10, 30) * t)
    return _tone(f, sr, [1.0], g) * _fade(n, sr, 0.02, 0.05)


# Pink-noise IIR (a standard 3-pole approximation of a 1/f spectrum).
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786], np.float32)
_PINK_A = np.array([1, -2.494956002, 2.017265875, -0.522189400], np.float32)


def _lowpass(x: np.ndarray, sr: int, cutoff: float, order: int = 2) -> np.ndarray:
    sos = butter(order, min(cutoff, 0.45 * sr), "lowpass", fs=sr, output="sos").astype(np.float32)
    return sosfilt(sos, x).astype(np.float32)


def _bandpass(x: np.ndarray, sr: int, lo: float, hi: float, order: int = 2) -> np.ndarray:
    hi = min(hi, 0.45 * sr)
    sos = butter(order, (min(lo, 0.8 * hi), hi), "bandpass", fs=sr, output="sos").astype(np.float32)
    return sosfilt(sos, x).astype(np.float32)


def _pink(g: np.random.Generator, n: int) -> np.ndarray:
    return _unit(lfilter(_PINK_B, _PINK_A, g.standard_normal(n, dtype=np.float32)))


def _brown(g: np.random.Generator, n: int, sr: int, corner: float) -> np.ndarray:
    pole = np.float32(1 - 2 * np.pi * corner / sr)
    return _unit(lfilter(np.array([1], np.float32), np.array([1, -pole], np.float32),
                         g.standard_normal(n, dtype=np.float32)))


def _envelope(g: np.random.Generator, n: int, sr: int, rate: float, depth: float) -> np.ndarray:
    """Slow log-normal loudness curve ``[n]`` of unit RMS (``rate`` changes per second)."""
    blocks = n // 256 + 1
    curve = np.exp(depth * _smooth_noise(g, blocks, max(1, sr // 256), rate))
    curve = (curve / np.sqrt(np.mean(curve**2))).astype(np.float32)
    return np.repeat(curve, 256)[:n]


def _bursts(g: np.random.Generator, n: int, sr: int, per_minute: float, length: tuple[float, float]) -> np.ndarray:
    """Gate ``[n]`` in [0, 1]: Poisson bursts of ``length`` s with soft edges (rustling, scratching)."""
    gate = np.zeros(n, np.float32)
    for _ in range(int(g.poisson(n / sr / 60 * per_minute))):
        m = max(16, int(g.uniform(*length) * sr))
        i0 = int(g.integers(0, max(1, n - m)))
        gate[i0:i0 + m] = np.maximum(gate[i0:i0 + m], np.float32(g.uniform(0.3, 1.0)) * np.hanning(m)[: n - i0])
    return gate


def _clicks(g: np.random.Generator, n: int, sr: int, per_second: float) -> np.ndarray:
    """Sparse broadband clicks ``[n]`` (snapping shrimp): Poisson impulses, high-passed."""
    train = np.zeros(n, np.float32)
    count = int(g.poisson(n / sr * per_second))
    train[g.integers(0, n, count)] = g.uniform(0.2, 1.0, count).astype(np.float32) * g.choice([-1, 1], count)
    sos = butter(2, 2000, "highpass", fs=sr, output="sos").astype(np.float32)
    return sosfilt(sos, train).astype(np.float32)


def _tonals(g: np.random.Generator, n: int, sr: int, f_range: tuple[float, float], count: int) -> np.ndarray:
    """A few steady, slowly drifting low tones with harmonics ``[n]`` (engines, ships, mains hum)."""
    out = np.zeros(n, np.float32)
    for _ in range(count):
        f = g.uniform(*f_range) * (1 + 0.01 * _smooth_noise(g, n, sr, 0.05))
        out += _tone(f, sr, [1.0, 0.5, 0.3, 0.2], g) * np.float32(g.uniform(0.3, 1.0))
    return _unit(out)


# Each sub-dataset is its own project with its own recorders and site, so each has its own
# background (method §9). Each ``_bg_*(g, n, sr)`` returns ``[n]`` of
# about unit RMS; the recording draws its weights and corners around the sub-dataset's own.


def _jit(g: np.random.Generator, value: float, spread: float = 0.25) -> float:
    return float(value * g.uniform(1 - spread, 1 + spread))


def _bg_smartphone(g: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Phone microphone: bright, flat hiss (high-passed), a faint electrical whine."""
    hiss = _bandpass(g.standard_normal(n, dtype=np.float32), sr, _jit(g, 300), _jit(g, 6500, 0.1))
    whine = _tonals(g, n, sr, (900, 1400), 1)
    return _unit(_unit(hiss) + np.float32(_jit(g, 0.15)) * whine)


def _bg_collar(g: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Animal-borne collar: body and footstep thumps (brown), frequent rustle and scratch bursts."""
    body = _brown(g, n, sr, _jit(g, 60)) * _envelope(g, n, sr, 1.5, 0.6)
    rustle = _bandpass(g.standard_normal(n, dtype=np.float32), sr, _jit(g, 1500), _jit(g, 9000, 0.1))
    rustle = _unit(rustle) * _bursts(g, n, sr, _jit(g, 25), (0.1, 0.8)) * np.float32(_jit(g, 3.0))
    return _unit(body + rustle + np.float32(0.1) * _pink(g, n))


def _bg_night_field(g: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Quiet night at a field site: faint pink noise, distant road rumble, pulsing crickets."""
    rumble = _lowpass(g.standard_normal(n, dtype=np.float32), sr, _jit(g, 150))
    rumble = _unit(rumble) * _envelope(g, n, sr, 0.05, 0.8) * np.float32(_jit(g, 1.2))
    crickets = _unit(_bandpass(g.standard_normal(n, dtype=np.float32), sr, _jit(g, 4500, 0.1), _jit(g, 5500, 0.1)))
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    chirp = np.float32(0.5) + np.float32(0.5) * np.sign(np.sin(np.float32(2 * np.pi * _jit(g, 25)) * t))
    crickets *= chirp * _envelope(g, n, sr, 0.02, 0.5) * np.float32(_jit(g, 0.6))
    return _unit(_pink(g, n) + rumble + crickets)


def _bg_underwater(g: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Hydrophone: brown sea noise, ship tonals below 300 Hz, snapping-shrimp clicks."""
    sea = _brown(g, n, sr, _jit(g, 40))
    ships = _tonals(g, n, sr, (40, 300), 3) * _envelope(g, n, sr, 0.02, 0.6)
    shrimp = _unit(_clicks(g, n, sr, _jit(g, 15)))
    return _unit(sea + np.float32(_jit(g, 0.7)) * ships + np.float32(_jit(g, 0.4)) * shrimp)


def _bg_windy_field(g: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Open field: gusty wind (low-passed noise with swelling loudness) over light pink noise."""
    wind = _lowpass(g.standard_normal(n, dtype=np.float32), sr, _jit(g, 400), order=1)
    wind = _unit(wind) * _envelope(g, n, sr, _jit(g, 0.4), 0.9)
    return _unit(wind + np.float32(_jit(g, 0.4)) * _pink(g, n))


def _bg_wetland(g: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Reed bed by day: pink noise, water and reed rustle in the mid band, a little wind."""
    water = _unit(_bandpass(g.standard_normal(n, dtype=np.float32), sr, _jit(g, 600), _jit(g, 3000)))
    water *= _envelope(g, n, sr, 2.0, 0.5)
    return _unit(_pink(g, n) + np.float32(_jit(g, 0.6)) * water + np.float32(0.3) * _brown(g, n, sr, 80))


def _bg_forest_dawn(g: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Forest at dawn: pink noise with a soft broadband canopy wash and some wind."""
    wash = _unit(_bandpass(g.standard_normal(n, dtype=np.float32), sr, _jit(g, 2000), _jit(g, 8000, 0.1)))
    return _unit(_pink(g, n) + np.float32(_jit(g, 0.5)) * wash * _envelope(g, n, sr, 0.3, 0.5)
                 + np.float32(0.4) * _brown(g, n, sr, 100))


def _bg_savanna_night(g: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Savanna night: brown wind, insect drone around 3 kHz, pink floor."""
    drone = _unit(_bandpass(g.standard_normal(n, dtype=np.float32), sr, _jit(g, 2800, 0.1), _jit(g, 3600, 0.1)))
    return _unit(_brown(g, n, sr, 70) * _envelope(g, n, sr, 0.3, 0.7) + np.float32(_jit(g, 0.5)) * drone
                 + np.float32(0.5) * _pink(g, n))


def _bg_nest_box(g: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Inside a nest box: boomy low rumble, scratching bursts, a little hiss."""
    boom = _lowpass(g.standard_normal(n, dtype=np.float32), sr, _jit(g, 250))
    scratch = _unit(_bandpass(g.standard_normal(n, dtype=np.float32), sr, 2000, 10000))
    scratch *= _bursts(g, n, sr, _jit(g, 10), (0.05, 0.4)) * np.float32(2.0)
    return _unit(_unit(boom) + scratch + np.float32(0.2) * g.standard_normal(n, dtype=np.float32))


@dataclasses.dataclass(frozen=True)
class Environment:
    """The acoustic setting of one sub-dataset: background, its level (dBFS), annotated calls'
    SNR range (dB), unannotated distractor sounds and their rate per minute."""

    description: str
    background: Callable[[np.random.Generator, int, int], np.ndarray]
    level_db: tuple[float, float]
    snr_db: tuple[float, float]
    distractors: tuple[str, ...]
    distractors_per_minute: tuple[float, float]


_NIGHT_FIELD = Environment("night field site", _bg_night_field, (-48, -40), (0, 18), ("warble", "chirp"), (0.1, 0.5))

ENVIRONMENTS: dict[str, Environment] = {
    # AL (Validation_Set)
    "HB": Environment("smartphone held to a mosquito", _bg_smartphone, (-42, -34), (0, 20), ("tone", "chirp"), (0.5, 2)),
    # the annotated meerkat calls no louder than the other sites' calls (generator 2: 8-24 dB; method §9)
    "ME": Environment("collar on a meerkat", _bg_collar, (-36, -28), (0, 16), ("clicks", "chirp"), (1, 3)),
    "PB": _NIGHT_FIELD,
    "PB24": _NIGHT_FIELD,  # the same site in another year
    "PW": Environment("hydrophone", _bg_underwater, (-32, -24), (0, 18), ("tone", "chirp"), (0.5, 2)),  # whistles
    "RD": Environment("open field, rut", _bg_windy_field, (-40, -30), (-2, 16), ("chirp", "warble"), (0.5, 2)),
    # SL (Training_Set)
    "BV": Environment("forest at dawn", _bg_forest_dawn, (-44, -36), (0, 20), ("chirp", "warble"), (1, 4)),
    "HT": Environment("savanna night", _bg_savanna_night, (-40, -32), (0, 20), ("clicks", "tone"), (1, 3)),
    "JD": Environment("nest box", _bg_nest_box, (-38, -30), (0, 20), ("clicks", "chirp"), (1, 3)),
    "MT": Environment("collar on a meerkat", _bg_collar, (-36, -28), (0, 20), ("clicks", "chirp"), (1, 4)),
    "WMW": Environment("reed bed by day", _bg_wetland, (-42, -34), (0, 20), ("chirp", "warble", "tone"), (1, 4)),
}


def render_recording(plan: RecordingPlan, seed: int) -> np.ndarray:
    """Render one planned recording: float32 ``[n_samples, channels]`` in [-1, 1].

    Deterministic in ``(plan, seed)``; each event and distractor is scaled to its SNR against
    the background level.
    """
    n, sr = plan.n_samples, plan.sr
    env = ENVIRONMENTS[plan.subset]
    g = rng(seed, *plan.key, "audio")
    level = 10 ** (g.uniform(*env.level_db) / 20)
    x = env.background(g, n, sr)
    x *= np.float32(level)
    # distractors: not annotated, of the kinds heard in this setting
    n_dist = int(g.poisson(plan.duration / 60 * g.uniform(*env.distractors_per_minute)))
    gd = rng(seed, *plan.key, "distractors")
    for _ in range(n_dist):
        length = int(gd.uniform(0.05, 1.2) * sr)
        i0 = int(gd.integers(0, max(1, n - length)))
        kind = env.distractors[int(gd.integers(len(env.distractors)))]
        sig = _unit(_distractor(kind, length, sr, gd))
        x[i0:i0 + length] += sig[: n - i0] * np.float32(level * 10 ** (gd.uniform(-5, 15) / 20))
    for i0, sig, snr in _other_species_calls(plan, seed):  # unannotated, as in real field recordings
        x[i0:i0 + len(sig)] += _unit(sig) * np.float32(level * 10 ** (snr / 20))
    sl_params = {c: _sl_class_params(seed, c, plan.subset) for c in plan.columns} if plan.columns != ("Q",) else {}
    for i, ev in enumerate(plan.events):
        ge = rng(seed, *plan.key, "event", i)
        i0, i1 = int(round(ev.start * sr)), min(n, int(round(ev.end * sr)))
        if i1 - i0 < 8:
            continue
        if ev.call in _AL_CALLS:
            sig = _AL_CALLS[ev.call](i1 - i0, sr, ge)
        else:
            sig = _call_sl(sl_params[ev.call], i1 - i0, sr, ge)
        x[i0:i1] += _unit(sig) * np.float32(level * 10 ** (ev.snr_db / 20))
    peak = max(float(x.max()), -float(x.min()))
    if peak > 0.95:
        x *= np.float32(0.95 / peak)
    if plan.channels == 1:
        return x[:, None]
    # further channels: delayed, attenuated copies plus a little independent hiss
    chans = [x]
    for c in range(1, plan.channels):
        other = 0.8 * np.roll(x, 7 * c) + np.float32(0.1 * level) * g.standard_normal(n, dtype=np.float32)
        chans.append(np.clip(other, -0.99, 0.99).astype(np.float32))
    return np.stack(chans, axis=1)


# --------------------------------------------------------------------------- files


def _csv_text(plan: RecordingPlan) -> str:
    """The annotation CSV of a recording (method §1.3 format)."""
    events = list(plan.events)
    if plan.row_order == "class":
        def first_pos(ev: Event) -> int:
            for j, cell in enumerate(ev.cells):
                if cell != "NEG":
                    return j
            return len(ev.cells)
        events.sort(key=lambda ev: (first_pos(ev), ev.start))
    elif plan.row_order == "swapped" and len(events) >= 4:
        events[1], events[2] = events[2], events[1]
    lines = [",".join(("Audiofilename", "Starttime", "Endtime", *plan.columns))]
    for ev in events:
        lines.append(",".join((f"{plan.name}.wav", f"{ev.start:.3f}", f"{ev.end:.3f}", *ev.cells)))
    newline = "\r\n" if plan.crlf else "\n"
    return newline.join(lines) + (newline if plan.final_newline else "")


def _class_csvs(plans: Sequence[RecordingPlan]) -> dict[str, str]:
    """The two class CSVs (CRLF, no final newline, some recording names with a trailing space)."""
    train = ["dataset,class_code,class_name"]
    for dataset, classes in TRAINING_CLASSES.items():
        train += [f"{dataset},{code},{name}" for code, name in classes]
    valid = ["dataset,recording,class_code,class_name"]
    for p in plans:
        if p.division == "Validation_Set":
            name = p.name + (" " if p.name in _TRAILING_SPACE else "")
            valid.append(f"{p.subset},{name},Q,{p.events[0].call}")
    return {TRAINING_CLASSES_CSV: "\r\n".join(train), VALIDATION_CLASSES_CSV: "\r\n".join(valid)}


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _write_recording(root: Path, plan: RecordingPlan, seed: int, only_missing: bool) -> list[str]:
    """Render and write one recording's wav and csv (atomically); returns the paths written."""
    written = []
    wav, csv = root / plan.wav_relpath, root / plan.csv_relpath
    if not (only_missing and wav.is_file()):
        audio = render_recording(plan, seed)
        with atomic_path(wav) as tmp:
            sf.write(tmp, audio, plan.sr, subtype="PCM_16", format="WAV")
        written.append(plan.wav_relpath)
    if not (only_missing and csv.is_file()):
        _write_text(csv, _csv_text(plan))
        written.append(plan.csv_relpath)
    return written


def _worker(args: tuple[str, RecordingPlan, int]) -> list[str]:
    root, plan, seed = args
    return _write_recording(Path(root), plan, seed, only_missing=True)


def _check_marker(path: Path, size: str, seed: int) -> dict[str, Any]:
    data = read_json(path)
    if (data.get("size"), data.get("seed"), data.get("version")) != (size, seed, GENERATOR_VERSION):
        raise ValueError(
            f"{path}: this folder holds the synthetic set size={data.get('size')!r} seed={data.get('seed')!r} "
            f"(generator version {data.get('version')}), not size={size!r} seed={seed} "
            f"(version {GENERATOR_VERSION}); choose another folder or delete it"
        )
    return data


def generate_development_set(
    root: str | os.PathLike,
    size: str = "demo",
    seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
) -> Path:
    """Write the synthetic ``Development_Set/`` and class CSVs under ``root``; return ``root``.

    Deterministic in ``(size, seed)`` (byte-identical files). Resumable and idempotent: files
    are written atomically and existing ones are kept; a finished tree is recognised by its
    manifest (``root/synth_manifest.json``, written last) in a few ``stat`` calls, and missing
    files are regenerated. A manifest (or an unfinished run's marker) for another size or seed
    is an error naming it; so is a ``Development_Set/`` not written by this generator.
    ``workers`` processes render recordings in parallel (default: up to 4, by CPU count).
    """
    root = Path(root)
    spec = _size(size)
    manifest, pending = root / MANIFEST_NAME, root / _PENDING_NAME
    known: dict[str, int] = {}
    if manifest.is_file():
        known = _check_marker(manifest, spec.name, seed)["files"]
        missing = [rel for rel, nbytes in known.items()
                   if not (root / rel).is_file() or (root / rel).stat().st_size != nbytes]
        if not missing:
            return root
        for rel in missing:  # a file of the wrong size is not ours any more: rewrite it
            (root / rel).unlink(missing_ok=True)
    elif pending.is_file():
        _check_marker(pending, spec.name, seed)
    elif (root / "Development_Set").exists() and any((root / "Development_Set").iterdir()):
        raise ValueError(
            f"{root / 'Development_Set'}: exists but was not written by the synthetic generator "
            f"(no {MANIFEST_NAME}); refusing to write into it"
        )
    if not manifest.is_file():
        write_json(pending, {"size": spec.name, "seed": seed, "version": GENERATOR_VERSION})

    plans = plan_development_set(spec.name, seed)
    for rel, text in _class_csvs(plans).items():
        if not (root / rel).is_file():
            _write_text(root / rel, text)
    todo = [p for p in plans if not ((root / p.wav_relpath).is_file() and (root / p.csv_relpath).is_file())]
    todo.sort(key=lambda p: -p.n_samples * p.channels)  # largest first: better load balance
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    with tqdm(total=len(todo), desc=f"synth {spec.name}", unit="rec", disable=not progress) as bar:
        if workers <= 1 or len(todo) <= 1:
            for plan in todo:
                _write_recording(root, plan, seed, only_missing=True)
                bar.update(1)
        else:
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [pool.submit(_worker, (str(root), p, seed)) for p in todo]
                for future in concurrent.futures.as_completed(futures):
                    future.result()
                    bar.update(1)
    files = sorted([rel for p in plans for rel in (p.wav_relpath, p.csv_relpath)]
                   + [TRAINING_CLASSES_CSV, VALIDATION_CLASSES_CSV])
    write_json(manifest, {
        "generator": "bioal.synth.audio",
        "version": GENERATOR_VERSION,
        "size": spec.name,
        "seed": seed,
        "files": {rel: (root / rel).stat().st_size for rel in files},
    })
    pending.unlink(missing_ok=True)
    return root


# --------------------------------------------------------------------------- zenodo stand-in

_ZIP_TIME = (2024, 3, 18, 12, 0, 0)


def _zip_add(archive: zipfile.ZipFile, arcname: str, data: bytes | None) -> None:
    """Add a file (or, with ``data=None``, a folder entry) with a fixed timestamp."""
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_TIME)
    if data is None:
        info.external_attr = 0o40755 << 16 | 0x10
        archive.writestr(info, b"")
        return
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_STORED if arcname.endswith(".wav") else zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _appledouble(name: str) -> bytes:
    """A small AppleDouble ``._*`` resource-fork blob like macOS zips carry."""
    return b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + hashlib.md5(name.encode()).digest()


def make_zenodo_record(source_root: str | os.PathLike, out_dir: str | os.PathLike, base_url: str) -> dict[str, Any]:
    """Package a generated tree as a stand-in for Zenodo record 10829604.

    Writes ``out_dir/Development_set.zip`` (``Development_Set/...`` with folder entries, plus a
    few ``__MACOSX/Development_Set/._*`` junk entries), ``out_dir/Development_set_annotations.zip``
    (the CSVs, under ``Development_Set_annotations/``), the two class CSVs, and ``record.json``
    shaped like Zenodo's API record: ``{"id", "files": [{"key", "size", "checksum": "md5:<hex>",
    "links": {"self": f"{base_url}/records/10829604/files/<key>/content"}}]}``. Returns that dict.
    Zips are deterministic (fixed timestamps, sorted entries).
    """
    source_root, out_dir = Path(source_root), Path(out_dir)
    dev = source_root / "Development_Set"
    for path in (dev, source_root / TRAINING_CLASSES_CSV, source_root / VALIDATION_CLASSES_CSV):
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; generate the set first (generate_development_set)")
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = sorted(p for p in dev.rglob("*") if not p.name.startswith("."))
    files = [p for p in entries if p.is_file()]
    if not files:
        raise FileNotFoundError(f"{dev}: holds no files")

    with atomic_path(out_dir / "Development_set.zip") as tmp:
        with zipfile.ZipFile(tmp, "w") as archive:
            _zip_add(archive, "Development_Set/", None)
            for path in entries:
                rel = path.relative_to(source_root).as_posix()
                _zip_add(archive, rel + "/" if path.is_dir() else rel, None if path.is_dir() else path.read_bytes())
            junk = ["Development_Set/._Training_Set", "Development_Set/._Validation_Set"]
            junk += [f"{p.parent.relative_to(source_root).as_posix()}/._{p.name}" for p in files[:3]]
            for rel in junk:
                _zip_add(archive, f"__MACOSX/{rel}", _appledouble(rel))
    with atomic_path(out_dir / "Development_set_annotations.zip") as tmp:
        with zipfile.ZipFile(tmp, "w") as archive:
            for path in files:
                if path.suffix == ".csv":
                    rel = path.relative_to(dev).as_posix()
                    _zip_add(archive, f"Development_Set_annotations/{rel}", path.read_bytes())
    for name in (TRAINING_CLASSES_CSV, VALIDATION_CLASSES_CSV):
        with atomic_write(out_dir / name, "wb") as handle:
            handle.write((source_root / name).read_bytes())

    title = "DCASE 2024 Task 5 development set (synthetic stand-in made by bioal.synth.audio)"
    return write_zenodo_record(out_dir, DCASE2024_RECORD, DCASE2024_FILES, base_url, title)


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bioal.synth.audio ROOT [--size demo] [--seed 0] [--workers N] [--zenodo OUT]``."""
    parser = argparse.ArgumentParser(prog="python -m bioal.synth.audio", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder to write Development_Set/ and the class CSVs into")
    parser.add_argument("--size", default="demo", choices=sorted(SYNTH_SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="parallel processes (default: up to 4)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--zenodo", type=Path, default=None, help="also package a stand-in Zenodo record here")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/api", help="base URL for the record's links")
    args = parser.parse_args(argv)
    root = generate_development_set(args.root, args.size, args.seed, not args.no_progress, args.workers)
    print(f"synthetic {args.size} set (seed {args.seed}) in {root}")
    if args.zenodo is not None:
        make_zenodo_record(root, args.zenodo, args.base_url)
        print(f"stand-in Zenodo record in {args.zenodo}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
