"""Benchmark for chapter 08 (your own recordings):

1. the time to embed an hour of audio into a collection (``bioal.collection.build_collection``):
   one 60-minute 32 kHz mono WAV (noise with tones), 719 clips on the 10 s / 5 s grid, an encoder at
   the demo width (seeded init; the chapter-02 encoder of the same width costs the same);
2. one labelling round of a session (``bioal.session.Session``) on a pool of ``--clips`` clips
   (default 100,000) of synthetic ``[N, 32, D]`` embeddings held in memory: the MFFT selection of
   ``k`` clips with a trained classifier (``next_round``), and the round's end (``finish_round``:
   retraining on the labelled clips, predicting every clip, the kappa).

    .venv/bin/python benchmarks/bench_recordings.py [--width 0.0625] [--clips 100000] [--threads 2]

Prints a Markdown block for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from bioal.collection import Collection, CollectionConfig, build_collection, read_collection
from bioal.embeddings import EmbeddingSplit
from bioal.grid import SAMPLE_RATE
from bioal.session import Session, SessionConfig
from bioal.utils import rng


def hour_of_audio(path: Path, seed: int = 0) -> None:
    gen = rng(seed, "bench-hour")
    with sf.SoundFile(path, "w", samplerate=SAMPLE_RATE, channels=1, subtype="PCM_16") as handle:
        for _ in range(60):  # one minute at a time
            minute = 0.02 * gen.standard_normal(SAMPLE_RATE * 60)
            for start in gen.uniform(0, 59, size=5):
                t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
                i = int(start * SAMPLE_RATE)
                minute[i : i + len(t)] += 0.3 * np.sin(2 * np.pi * gen.uniform(500, 8000) * t)
            handle.write(minute)


def bench_embed(width: float, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "audio"
        audio.mkdir()
        hour_of_audio(audio / "one hour.wav")
        config = CollectionConfig(audio_dir=str(audio), collection_dir=str(Path(tmp) / "col"), encoder="random",
                                  width=width, encoder_batch_size=batch, standardise="collection", device="cpu")
        start = time.perf_counter()
        path = build_collection(config, progress=False)
        seconds = time.perf_counter() - start
        n = len(read_collection(path, meta_only=True).split)
    return {"clips": n, "seconds": seconds}


def synthetic_collection(n: int, dim: int, classes: int, seed: int) -> tuple[Collection, np.ndarray]:
    """``n`` clips of ``[32, dim]`` embeddings around ``classes + 1`` centres; their true tags."""
    gen = rng(seed, "bench-pool")
    centre = gen.standard_normal((classes + 1, dim)).astype(np.float32)
    group = gen.integers(0, classes + 1, size=n)  # group `classes` = no class
    emb = np.empty((n, 32, dim), dtype=np.float32)
    for lo in range(0, n, 10000):
        hi = min(n, lo + 10000)
        emb[lo:hi] = centre[group[lo:hi]][:, None, :] + gen.standard_normal((hi - lo, 32, dim), dtype=np.float32)
    recording = np.array([f"rec {i // 720}.wav" for i in range(n)], dtype=object)
    starts = 5.0 * (np.arange(n) % 720)
    split = EmbeddingSplit(emb, np.zeros((n, 32, 0), np.float32), [], recording, starts,
                           attrs={"clip_seconds": 10.0, "files": "bench", "encoder": "synthetic"})
    names = sorted(set(recording))
    files = pd.DataFrame({"recording": names, "path": names, "samplerate": SAMPLE_RATE, "channels": 1,
                          "duration_s": 3605.0})
    tags = np.zeros((n, classes), dtype=bool)
    tags[group < classes, group[group < classes]] = True
    return Collection(path=Path("in-memory"), split=split, files=files, skipped=[]), tags


def bench_round(n: int, dim: int, k: int, hidden: int, max_epochs: int, seed: int = 0) -> dict[str, float]:
    classes = 7
    collection, truth = synthetic_collection(n, dim, classes, seed)
    names = [f"class {c}" for c in range(classes)]
    with tempfile.TemporaryDirectory() as tmp:
        config = SessionConfig(k=k, seed=seed, classifier_hidden=hidden, max_epochs=max_epochs)
        start = time.perf_counter()
        session = Session(tmp, config, collection=collection)
        open_s = time.perf_counter() - start
        for name in names:
            session.add_class(name)

        def answer_round() -> None:
            for clip in session.unanswered():
                session.answer(int(clip), [names[c] for c in np.flatnonzero(truth[clip])], source="bench")

        times = {}
        start = time.perf_counter()
        session.next_round()  # round 0: the init rule (farthest traversal), no classifier
        times["select_init_s"] = time.perf_counter() - start
        answer_round()
        start = time.perf_counter()
        session.finish_round()
        times["finish_round0_s"] = time.perf_counter() - start
        start = time.perf_counter()
        session.next_round()  # round 1: MFFT with the round-0 classifier's predictions
        times["select_mfft_s"] = time.perf_counter() - start
        answer_round()
        start = time.perf_counter()
        session.finish_round()
        times["finish_round1_s"] = time.perf_counter() - start
    return {"open_s": open_s, **times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=float, default=0.0625)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128, help="embedding width D (128 at the demo width)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--max-epochs", type=int, default=45)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-embed", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, torch threads {args.threads}, no GPU")
    if not args.skip_embed:
        e = bench_embed(args.width, args.batch)
        print(f"| embed 1 h of audio (width {args.width}, batch {args.batch}) | {e['clips']} clips | "
              f"{e['seconds']:.1f} s | {e['clips'] / e['seconds']:.1f} clips/s |")
    r = bench_round(args.clips, args.dim, args.k, args.hidden, args.max_epochs)
    print(f"| session round on {args.clips:,} clips [32, {args.dim}], k={args.k} | "
          + " | ".join(f"{key} {value:.2f}" for key, value in r.items()) + " |")


if __name__ == "__main__":
    main()
