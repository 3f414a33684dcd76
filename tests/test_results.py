"""Tidy table, the paper-layout CSV, Table I formatting and the paper comparison."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from helpers_results import POOL_SIZE, POOL_TOTALS, write_fake_data_root, write_fake_run, write_fake_sweep

from bioal import paper, records, results


@pytest.fixture()
def sweep_dir(tmp_path):
    write_fake_sweep(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------- the paper's file


def test_shipped_csv_is_the_paper_file_and_round_trips():
    table = paper.paper_results()
    assert table.shape == (80, 43)
    assert list(table.columns) == paper.paper_columns()
    # pandas writes it back byte for byte: the same writer produces our al_results.csv
    assert table.to_csv(index=False) == paper.paper_csv_text()


def test_paper_rare_species_counts_match_spec_4_4():
    tidy = paper.paper_tidy()
    rare = tidy[(tidy.metric == "rare_count") & (tidy.n_labelled == 500)].set_index(["start", "strategy"])["mean"]
    expected = {
        ("cold", "random"): 1.2, ("cold", "mp"): 3.0, ("cold", "ft"): 9.6, ("cold", "mfft"): 9.8,
        ("warm", "random"): 10.6, ("warm", "mp"): 11.6, ("warm", "ft"): 13.4, ("warm", "mfft"): 14.0,
    }  # fmt: skip
    for key, value in expected.items():
        assert rare[key] == pytest.approx(value)


def test_paper_full_supervision():
    full = paper.paper_full_supervision().set_index("metric")
    assert full.loc["test_cmap", "mean"] == 75.48 and full.loc["test_cmap", "std"] == 1.76
    assert full.loc["valid_f1", "mean"] == 66.01


# --------------------------------------------------------------------------- Table I


def test_table_one_from_paper_csv_reproduces_table_i():
    table = results.table_one_from_layout(paper.paper_results(), "test_cmap", runs=5)
    # method §6.5 (ddof 1) -> Table I (ddof 0): round(mean)(±round(std*sqrt(0.8)))
    assert table.loc[500, ("cold", "MFFT")] == "68(±3)"  # 68.04 ± 3.44
    assert table.loc[500, ("warm", "MFFT")] == "71(±2)"  # 70.69 ± 2.01
    assert table.loc[50, ("cold", "FT")] == "43(±5)"  # 42.79 ± 5.94 -> 5.31
    assert table.loc[50, ("cold", "RS")] == "26(±4)"  # 26.15 ± 4.68 -> 4.19
    assert table.loc[500, ("cold", "MP")] == "43(±9)"  # 43.08 ± 9.93 -> 8.88
    assert table.loc[450, ("warm", "MP")] == "70(±1)"  # 69.77 ± 1.06 -> 0.95
    assert table.loc[100, ("warm", "MFFT")] == "63(±5)"  # 62.65 ± 5.12 -> 4.58
    assert table.loc["full", ("cold", "RS")] == "75(±2)"  # 75.48 ± 1.76 (already ddof 0)
    assert table.shape == (11, 8)
    assert list(table.columns.get_level_values(1)[:4]) == ["RS", "MP", "FT", "MFFT"]


def test_table_one_ddof_matters_in_29_cells():
    """method Q14: rounding the ddof-1 std instead mismatches 29 of the 80 cells."""
    paper_table = paper.paper_results()
    ddof0 = results.table_one_from_layout(paper_table, runs=5).drop(index="full")
    ddof1 = results.table_one_from_layout(paper_table, runs=10**9).drop(index="full")  # factor -> 1
    assert (ddof0 != ddof1).to_numpy().sum() == 29


def test_format_cell():
    assert results.format_cell(68.04, 3.077) == "68(±3)"
    assert results.format_cell(np.nan, 1.0) == ""


# --------------------------------------------------------------------------- tidy table


def test_tidy_table_rows_and_values(sweep_dir):
    tidy = results.tidy_table(sweep_dir, progress=False)
    assert list(tidy.columns) == [
        "run",
        "strategy",
        "start",
        "init_pos",
        "seed",
        "round",
        "n_labelled",
        "class",
        "metric",
        "value",
    ]
    assert set(tidy.strategy) == {"random", "ft", "mp", "mfft", "full"}
    record = json.loads((sweep_dir / "runs" / "mfft-warm-seed1" / "rounds" / "00100.json").read_text())
    rows = tidy[(tidy.run == "mfft-warm-seed1") & (tidy.n_labelled == 100)].set_index(["metric", "class"])["value"]
    assert rows[("test_ap", "all")] == pytest.approx(np.mean(record["test_ap"]))
    assert rows[("test_f1", "Mosquito")] == pytest.approx(record["test_f1"][0])
    assert rows[("negative", "all")] == 100 - sum(record["class_counts"])
    assert rows[("rare_count", "all")] == record["class_counts"][2] + record["class_counts"][3]
    assert rows[("epochs", "all")] == record["epochs"]
    assert (tidy[tidy.run == "mfft-warm-seed1"].start == "warm").all()


def test_tidy_table_is_pinned(sweep_dir):
    """The exact table: a round's rows in order, and every value (a digest of the CSV)."""
    tidy = results.tidy_table(sweep_dir, progress=False)
    names = list(paper.PAPER_CLASSES)
    per_class = ["valid_ap", "valid_f1", "test_ap", "test_f1"]
    events = ["test_event_precision", "test_event_recall", "test_event_f"]
    expected = [(c, m) for m in per_class for c in [*names, "all"]] + [(c, "count") for c in names]
    expected += [("all", m) for m in ("count", "negative", "rare_count", "threshold", "epochs", "select_seconds",
                                      "train_seconds")]
    expected += [(c, m) for m in events for c in [*names, "all"]] + [("all", "event_seconds")]
    rows = tidy[(tidy.run == "mfft-warm-seed1") & (tidy.n_labelled == 100)]
    assert list(zip(rows["class"], rows.metric, strict=True)) == expected
    assert len(tidy) == 3550 and tidy.dtypes.astype(str).tolist()[3:7] == ["int64"] * 4
    digest = hashlib.sha256(tidy.to_csv(index=False).encode()).hexdigest()
    assert digest == "8380bad5c13a1bbf6a6e83467952bd18869054fdbd70d6708e36d14ece41350b"


def test_tidy_table_names_file_and_key(tmp_path):
    folder = write_fake_run(tmp_path, "ft", 0, 0)
    path = folder / "rounds" / "00050.json"
    record = json.loads(path.read_text())
    del record["test_f1"]
    path.write_text(json.dumps(record))
    with pytest.raises(KeyError, match=r"00050\.json.*test_f1"):
        results.tidy_table(tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="no run records"):
        results.tidy_table(tmp_path / "empty", progress=False)


def test_runs_on_different_embeddings_are_not_combined(tmp_path):
    digests = {"train": "a" * 64, "valid": "b" * 64, "test": "c" * 64}
    for strategy, seed, train in (("ft", 0, "a"), ("mfft", 0, "a"), ("ft", 1, "d")):
        folder = write_fake_run(tmp_path, strategy, 0, seed)
        (folder / "inputs.json").write_text(json.dumps({"embeddings": {**digests, "train": train * 64}}))
    write_fake_run(tmp_path, "mp", 0, 0)  # no inputs.json: written before bioal recorded it
    with pytest.raises(ValueError, match=r"different embeddings \(their inputs.json differ in train\): "
                       r"ft-cold-seed0, mfft-cold-seed0 \(train aaaaaaaaaaaa\); ft-cold-seed1 \(train dddddddddddd\)"):
        results.tidy_table(tmp_path, progress=False)
    (tmp_path / "runs" / "ft-cold-seed1" / "inputs.json").write_text(json.dumps({"embeddings": digests}))
    assert set(results.tidy_table(tmp_path, progress=False).run) == {"ft-cold-seed0", "mfft-cold-seed0",
                                                                     "ft-cold-seed1", "mp-cold-seed0"}


def _set_config(folder, **values):
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


def test_runs_with_other_settings_are_not_combined(sweep_dir):
    from bioal.experiment import ExperimentConfig

    # fields the grid sets, fields that do not change results, and a field at its default differ freely
    _set_config(sweep_dir / "runs" / "ft-cold-seed0", device="cuda:1", results_dir="/elsewhere", threads=2,
                max_epochs=ExperimentConfig().classifier.max_epochs)
    assert len(results.tidy_table(sweep_dir, progress=False)) == 3550
    _set_config(sweep_dir / "runs" / "mfft-cold-seed1", max_epochs=3)
    _set_config(sweep_dir / "runs" / "mp-warm-seed2", max_epochs=3, classifier_lr=0.01)
    with pytest.raises(ValueError, match=r"different settings, which one table would average: classifier_lr: "
                       r"0\.01 in mp-warm-seed2; 0\.0005 in .* \| max_epochs: 3 in mfft-cold-seed1, mp-warm-seed2; "
                       r"5000 in .*and \d+ more"):
        results.tidy_table(sweep_dir, progress=False)
    with pytest.raises(ValueError, match="max_epochs: 3 in mfft-cold-seed1"):
        results.write_results(sweep_dir, progress=False)
    assert not (sweep_dir / "al_results.csv").exists()


def test_unfinished_runs_are_not_averaged(sweep_dir):
    (sweep_dir / "runs" / "mfft-cold-seed1" / "rounds" / "00100.json").unlink()
    (sweep_dir / "runs" / "full-seed1" / "rounds" / f"{POOL_SIZE:05d}.json").unlink()
    with pytest.raises(ValueError, match=r"runs: 2 run\(s\) are not finished: full-seed1 \(no round\); "
                       r"mfft-cold-seed1 \(1 of 2 rounds; missing budgets 100\)\. .*allow_incomplete=True"):
        results.tidy_table(sweep_dir, progress=False)
    with pytest.raises(ValueError, match="not finished"):
        results.write_results(sweep_dir, progress=False)
    partial = results.tidy_table(sweep_dir, progress=False, allow_incomplete=True)  # to inspect a partial sweep
    assert set(partial[partial.run == "mfft-cold-seed1"].n_labelled) == {50}


# --------------------------------------------------------------------------- paper layout


def test_paper_layout_header_row_order_and_values(sweep_dir):
    tidy = results.tidy_table(sweep_dir, progress=False)
    totals, pool_size = results.pool_totals(tidy)
    assert pool_size == POOL_SIZE and totals.tolist() == POOL_TOTALS.tolist()
    layout = results.paper_layout(tidy, totals, pool_size)
    paper_table = paper.paper_results()
    assert list(layout.columns) == list(paper_table.columns)
    # the paper's row order, restricted to our budgets
    expected = paper_table[paper_table.num_annotated_samples <= 100][
        ["sampling_method", "pos_init_num", "num_annotated_samples"]
    ]
    assert layout[expected.columns].values.tolist() == expected.values.tolist()

    # hand-computed cell: cold MFFT at 100, counts and cmAP over 3 seeds
    per_seed = [
        json.loads((sweep_dir / "runs" / f"mfft-cold-seed{s}" / "rounds" / "00100.json").read_text()) for s in range(3)
    ]
    row = layout[
        (layout.sampling_method == "mfft") & (layout.pos_init_num == 0) & (layout.num_annotated_samples == 100)
    ].iloc[0]
    counts = np.array([r["class_counts"][1] for r in per_seed], dtype=float)
    assert row["Red_Deer_mean"] == round(counts.mean(), 2)
    assert row["Red_Deer_std"] == round(counts.std(ddof=1), 2)
    cmap = np.array([round(100 * np.mean(r["test_ap"]), 2) for r in per_seed])
    assert row["test_cmap_mean"] == round(cmap.mean(), 2) and row["test_cmap_std"] == round(cmap.std(ddof=1), 2)
    negative = np.array([100 - sum(r["class_counts"]) for r in per_seed], dtype=float)
    assert row["Negative_mean"] == round(negative.mean(), 2)
    assert row["Total_Red_Deer"] == POOL_TOTALS[1] and row["Total_Negative"] == POOL_SIZE - POOL_TOTALS.sum()
    # full supervision: ddof 0, copied into every row
    full = [
        json.loads((sweep_dir / "runs" / f"full-seed{s}" / "rounds" / f"{POOL_SIZE:05d}.json").read_text())
        for s in range(2)
    ]
    full_f1 = np.array([round(100 * np.mean(r["valid_f1"]), 2) for r in full])
    assert (layout.full_valid_f1_mean == round(full_f1.mean(), 2)).all()
    assert (layout.full_valid_f1_std == round(full_f1.std(ddof=0), 2)).all()


def test_write_results_files(sweep_dir):
    paths = results.write_results(sweep_dir, progress=False)
    header = paths["al_results"].read_text().splitlines()[0]
    assert header == paper.paper_csv_text().splitlines()[0]
    written = pd.read_csv(paths["al_results"])
    assert written.shape == (16, 43)
    assert written.pos_init_num.dtype == np.int64 and written.Total_Mosquito.dtype == np.int64
    tidy = pd.read_parquet(paths["tidy"])
    assert len(tidy) == len(results.tidy_table(sweep_dir, progress=False))


def test_pool_totals_from_embeddings_without_full_run(tmp_path):
    from bioal.embeddings import EmbeddingSplit, write_split

    write_fake_run(tmp_path / "res", "ft", 0, 0)
    labels = np.zeros((5, 32, 7), dtype=np.float32)
    labels[0, 3, 2] = labels[1, 0, 2] = labels[4, 31, 6] = 1
    split = EmbeddingSplit(
        np.ones((5, 32, 4), np.float32), labels, list(paper.PAPER_CLASSES), ["a"] * 5, np.arange(5.0)
    )
    write_split(tmp_path / "data" / "embeddings" / "train.h5", split)
    tidy = results.tidy_table(tmp_path / "res", progress=False)
    totals, pool_size = results.pool_totals(tidy, data_root=tmp_path / "data")
    assert pool_size == 5 and totals.tolist() == [0, 0, 2, 0, 0, 0, 1]
    with pytest.raises(FileNotFoundError, match="train.h5"):
        results.pool_totals(tidy, data_root=tmp_path / "nowhere")


# --------------------------------------------------------------------------- comparison


def test_table_one_from_records_uses_population_std(sweep_dir):
    tidy = results.tidy_table(sweep_dir, progress=False)
    table = results.table_one(tidy)
    values = tidy[
        (tidy.run.str.startswith("ft-cold"))
        & (tidy.n_labelled == 50)
        & (tidy.metric == "test_ap")
        & (tidy["class"] == "all")
    ]
    expected = results.format_cell(100 * values.value.mean(), 100 * values.value.std(ddof=0))
    assert table.loc[50, ("cold", "FT")] == expected
    assert "full" in table.index


def test_compare_and_describe(sweep_dir):
    tidy = results.tidy_table(sweep_dir, progress=False)
    comparison = results.compare_with_paper(tidy)
    assert len(comparison) == 16
    row = comparison[
        (comparison.strategy == "mfft") & (comparison.start == "cold") & (comparison.n_labelled == 50)
    ].iloc[0]
    assert row.paper_mean == 37.83
    assert row.difference == pytest.approx(row.ours_mean - 37.83)
    lines = results.describe_differences(tidy)
    assert any("Largest difference" in line for line in lines)
    assert any("MFFT - RS" in line for line in lines)
    rare = results.compare_with_paper(tidy, "rare_count")
    assert rare[(rare.strategy == "mfft") & (rare.start == "warm") & (rare.n_labelled == 50)].paper_mean.iloc[
        0
    ] == pytest.approx(10.2)


# --------------------------------------------------------------------------- figures and the view


def test_figures_from_records(sweep_dir):
    import matplotlib.pyplot as plt

    from bioal.plots import results as plots

    tidy = results.tidy_table(sweep_dir, progress=False)
    fig = plots.figure_one(tidy)
    axes = fig.axes
    assert len(axes) == 3
    # full supervision: a horizontal line at the full runs' mean test mAP (percent)
    full = tidy[(tidy.strategy == "full") & (tidy.metric == "test_ap") & (tidy["class"] == "all")].value.mean() * 100
    assert any(np.allclose(line.get_ydata(), full) for line in axes[0].lines)
    rare_total = POOL_TOTALS[2] + POOL_TOTALS[3]
    assert any(np.allclose(line.get_ydata(), rare_total) for line in axes[2].lines)
    run = results.tidy_run(sweep_dir / "runs" / "mfft-cold-seed0")
    bars = plots.selected_class_counts(run)
    heights = sum(p.get_height() for p in bars.axes[0].patches)
    assert heights == 100  # every clip of the final labelled set appears once
    for fig in (bars, plots.run_curves(run), plots.paper_overlay(tidy), plots.per_class_curves(tidy)):
        assert any(ax.lines or ax.patches or ax.collections for ax in fig.axes)  # something was drawn
    plt.close("all")


def test_results_view_pure_functions(sweep_dir):
    from bioal.widgets import results_view as view

    tidy = results.tidy_table(sweep_dir, progress=False)
    options = view.view_options(tidy)
    assert options["class"][0] == "all" and "Mosquito" in options["class"]
    assert options["start"] == ["cold", "warm"]
    assert view.default_state(tidy) == {"metric": "test_ap", "class": "all", "start": "cold"}
    rows = view.view_rows(tidy, "test_f1", "Red_Deer", "warm")
    assert set(rows.start) == {"warm", "full"}
    expected = (
        tidy[(tidy.run == "ft-warm-seed2") & (tidy.metric == "test_f1") & (tidy["class"] == "Red_Deer")].value * 100
    )
    assert sorted(rows[rows.run == "ft-warm-seed2"].value) == pytest.approx(sorted(expected))
    with pytest.raises(ValueError, match="rare_count"):
        view.view_rows(tidy, "rare_count", "Mosquito", "cold")
    figure = view.default_figure(tidy)
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert {"RS", "MP", "FT", "MFFT"} <= set(legend)  # the registry's labels, one curve each
    widget = view.results_view(tidy)
    (metric, cls, start), out = widget.children[0].children, widget.children[1]
    assert (metric.value, cls.value, start.value) == ("test_ap", "all", "cold")
    first = out.outputs[0]["data"]["image/png"]
    start.value = "warm"  # another state redraws
    assert out.outputs[0]["data"]["image/png"] != first
    metric.value = "rare_count"
    cls.value = "Mosquito"  # an impossible combination says why instead of drawing
    assert out.outputs[0]["output_type"] == "stream" and "rare_count" in out.outputs[0]["text"]


@pytest.mark.slow
def test_figures_notebook_runs_on_records(sweep_dir, tmp_path):
    import nbformat

    from bioal.notebooks import run_notebook

    data_root = write_fake_data_root(tmp_path / "data")
    overrides = {"RESULTS_DIR": str(sweep_dir), "DATA_ROOT": str(data_root)}
    output = run_notebook(
        "06_figures", output=tmp_path / "06.ipynb", preset="demo", overrides=overrides, progress=False
    )
    book = nbformat.read(output, as_version=4)
    images = sum(
        "image/png" in out.get("data", {}) for cell in book.cells if cell.cell_type == "code" for out in cell.outputs
    )
    assert images >= 6  # Figures 1 and 2, two paper overlays, per-class curves, the results view's default figure
    assert (sweep_dir / "al_results.csv").is_file() and (sweep_dir / "tidy.parquet").is_file()
    assert (sweep_dir / "event_results.csv").is_file()
    text = "".join(str(out) for cell in book.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "68(±3)" in text  # the paper's Table I, recomputed from the shipped CSV


def _tidy_from_paper(change: dict | None = None) -> pd.DataFrame:
    """The paper's published means as one seed's tidy rows (``change``: {(strategy, start, n): cmAP %})."""
    paper_rows = paper.paper_tidy()
    rows = []
    for r in paper_rows.itertuples():
        base = {"run": f"{r.strategy}-{r.start}", "strategy": r.strategy, "start": r.start, "init_pos": r.init_pos,
                "seed": 1, "round": 0, "n_labelled": r.n_labelled}
        if r.metric == "test_cmap":
            value = (change or {}).get((r.strategy, r.start, r.n_labelled), r.mean)
            rows.append({**base, "class": "all", "metric": "test_ap", "value": value / 100})
        elif r.metric.startswith("count_"):
            rows.append({**base, "class": r.metric[len("count_"):], "metric": "count", "value": r.mean})
    full = {"run": "full", "strategy": "full", "start": "full", "init_pos": 0, "seed": 1, "round": 0,
            "n_labelled": 21414}
    rows.append({**full, "class": "all", "metric": "test_ap", "value": 0.7548})
    return pd.DataFrame(rows)


def test_paper_findings_hold_on_the_papers_numbers_and_fail_when_broken():
    totals, pool_size = results.paper_pool()
    findings = results.paper_findings(_tidy_from_paper(), totals, pool_size)
    assert list(findings.columns) == list(results.FINDINGS_COLUMNS) and len(findings) == 6
    assert findings.reproduced.all(), findings
    assert (findings["paper"] == findings["this run"]).all()  # the same numbers, judged the same way
    assert "Meerkat_move_call and Meerkat_alarm_call" in findings.criterion.iloc[3]
    assert "MFFT 9.8, FT 9.6 vs MP 3.0, RS 1.2 (of 25)" == findings["paper"].iloc[3]
    # MFFT at the largest cold budget no better than RS: findings 2 breaks; the rest still hold
    broken = results.paper_findings(_tidy_from_paper({("mfft", "cold", 500): 50.0}), totals, pool_size)
    assert broken.reproduced.tolist() == [True, False, True, True, False, True]
    # a pool so small that 500 labels are a quarter of it
    assert not results.paper_findings(_tidy_from_paper(), totals, 2000).reproduced.iloc[5]
    summary = results.findings_summary(broken, _tidy_from_paper())
    assert summary.startswith("This run (1 seed: 1) reproduces **4 of 6** findings. Missed: ")
    assert broken.finding.iloc[1] in summary and broken.finding.iloc[0] not in summary
    assert results.findings_summary(findings, _tidy_from_paper()).endswith("**6 of 6** findings.")


def test_paper_findings_of_a_partial_sweep_are_not_judged():
    tidy = _tidy_from_paper()
    totals, pool_size = results.paper_pool()
    no_full = results.paper_findings(tidy[tidy.strategy != "full"], totals, pool_size)
    assert not no_full.reproduced.any() and no_full["this run"].str.contains("no full-supervision run").all()
    assert no_full["paper"].iloc[0] == "FT 51, MFFT 49 vs RS 28, MP 26"
    no_mp_warm = results.paper_findings(tidy[~((tidy.strategy == "mp") & (tidy.start == "warm"))], totals, pool_size)
    assert no_mp_warm["this run"].str.contains("lack mp warm").all()


def test_compare_matches_other_budgets_by_step(tmp_path):
    for strategy in ("random", "mfft"):
        write_fake_run(tmp_path, strategy, 0, 1, budgets=(30, 60, 90))
    tidy = results.tidy_table(tmp_path, progress=False)
    comparison = results.compare_with_paper(tidy)
    assert sorted(set(zip(comparison.n_labelled, comparison.paper_n_labelled, strict=True))) == [
        (30, 50), (60, 100), (90, 150)]
    row = comparison[(comparison.strategy == "mfft") & (comparison.n_labelled == 90)].iloc[0]
    assert row.paper_mean == 49.14 and row.step == 3  # MFFT cold at the paper's 150 annotations
    lines = results.describe_differences(tidy)
    assert any("90 annotations (the paper: 150)" in line for line in lines)


def test_paper_findings_name_both_budgets_when_they_differ():
    tidy = _tidy_from_paper()
    step = {n: n * 3 // 5 for n in range(50, 501, 50)}  # 50..500 -> 30..300
    ours = tidy.assign(n_labelled=[n if s == "full" else step[n] for n, s in zip(tidy.n_labelled, tidy.strategy,
                                                                                 strict=True)])
    totals, _ = results.paper_pool()
    findings = results.paper_findings(ours, totals, 3000)
    assert findings.finding.iloc[0].startswith("Cold start, 60 (the paper: 100) labels")
    assert "300 of 3,000 clips (10.0 %), 10 steps of 30" == findings["this run"].iloc[5]
    assert findings.reproduced.iloc[5]


# --------------------------------------------------------------------------- event-level scores (method §6.6)


def test_tidy_table_carries_event_scores_and_tolerates_older_runs(sweep_dir):
    # one run recorded before event scores: its rows lack them, the others keep theirs
    write_fake_run(sweep_dir, "ft", 0, 7, events=False)
    tidy = results.tidy_table(sweep_dir, progress=False)
    record = json.loads((sweep_dir / "runs" / "mp-cold-seed2" / "rounds" / "00050.json").read_text())
    rows = tidy[(tidy.run == "mp-cold-seed2") & (tidy.n_labelled == 50)].set_index(["metric", "class"])["value"]
    assert rows[("test_event_f", "Red_Deer")] == pytest.approx(record["test_event_f"][1])
    assert rows[("test_event_recall", "Mosquito")] == pytest.approx(record["test_event_recall"][0])
    # the "all" row is the record's overall (harmonic mean), not the arithmetic mean
    assert rows[("test_event_f", "all")] == pytest.approx(record["test_event_overall"]["f-measure"])
    assert rows[("test_event_f", "all")] < np.mean(record["test_event_f"])
    old = tidy[tidy.run == "ft-cold-seed7"]
    assert len(old) and not old.metric.isin(list(results.EVENT_SCORES)).any()
    summary = results.run_summary(tidy[tidy.run == "mp-cold-seed2"])
    assert summary.loc[50, "test event F %"] == pytest.approx(round(100 * record["test_event_overall"]["f-measure"], 2))


def test_event_layout_rows_and_values(sweep_dir):
    write_fake_run(sweep_dir, "ft", 0, 7, events=False)  # counts in no event cell
    tidy = results.tidy_table(sweep_dir, progress=False)
    layout = results.event_layout(tidy)
    assert list(layout.columns[:4]) == ["sampling_method", "pos_init_num", "num_annotated_samples", "runs"]
    assert "event_f_mean" in layout and "Red_Deer_event_recall_std" in layout
    # the paper layout's row order, then the full-supervision runs
    paper_rows = results.paper_layout(tidy, *results.pool_totals(tidy))
    al = layout[layout.sampling_method != "full"]
    assert list(zip(al.sampling_method, al.pos_init_num, al.num_annotated_samples, strict=True)) == list(
        zip(paper_rows.sampling_method, paper_rows.pos_init_num, paper_rows.num_annotated_samples, strict=True)
    )
    full = layout[layout.sampling_method == "full"]
    assert len(full) == 1 and full.runs.iloc[0] == 2
    cell = layout[(layout.sampling_method == "ft") & (layout.pos_init_num == 0) & (layout.num_annotated_samples == 100)]
    assert cell.runs.iloc[0] == 3  # seeds 0, 1, 2; the older seed-7 run has no event scores
    values = []
    for seed in (0, 1, 2):
        rec = json.loads((sweep_dir / "runs" / f"ft-cold-seed{seed}" / "rounds" / "00100.json").read_text())
        values.append(round(100 * rec["test_event_overall"]["f-measure"], 2))
    assert cell.event_f_mean.iloc[0] == pytest.approx(round(np.mean(values), 2))
    assert cell.event_f_std.iloc[0] == pytest.approx(round(np.std(values, ddof=1), 2))
    with pytest.raises(ValueError, match="no event-level scores"):
        results.event_layout(tidy[~tidy.metric.isin(list(results.EVENT_SCORES))])


def test_write_results_adds_the_event_companion_and_keeps_43_columns(sweep_dir, tmp_path):
    paths = results.write_results(sweep_dir, progress=False)
    assert pd.read_csv(paths["al_results"]).shape[1] == 43
    events = pd.read_csv(paths["event_results"])
    assert paths["event_results"] == sweep_dir / "event_results.csv" and len(events) == 17
    old = tmp_path / "old"
    for seed in (0, 1):
        write_fake_run(old, "mfft", 0, seed, events=False)
    write_fake_run(old, "random", 0, 0, full=True, events=False)
    paths = results.write_results(old, progress=False)
    assert "event_results" not in paths and not (old / "event_results.csv").exists()


def test_figure_two_event_panels(sweep_dir):
    import matplotlib.pyplot as plt

    from bioal.plots import results as plots

    tidy = results.tidy_table(sweep_dir, progress=False)
    fig = plots.figure_two(tidy)
    assert len(fig.axes) == 3
    full = tidy[(tidy.strategy == "full") & (tidy.metric == "test_event_f") & (tidy["class"] == "all")].value.mean()
    assert any(np.allclose(line.get_ydata(), 100 * full) for line in fig.axes[2].lines)
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "test event precision (%)",
        "test event recall (%)",
        "test event F (%)",
    ]
    with pytest.raises(KeyError, match="the paper reports no event-level scores"):
        results.compare_with_paper(tidy, "test_event_f")
    empty = plots.figure_two(tidy[~tidy.metric.isin(list(results.EVENT_SCORES))])
    assert "no event-level scores" in empty.axes[1].texts[0].get_text()
    plt.close("all")


def test_rare_finds_count_each_rounds_rare_picks_and_their_mismatch(tmp_path):
    results_dir, data_root = tmp_path / "results", write_fake_data_root(tmp_path / "data")
    write_fake_sweep(results_dir, seeds=(0, 1), budgets=(50, 100, 150))
    finds = results.rare_finds(results_dir, data_root)
    # the fake pool's two rarest classes are 2 (6 clips) and 3 (4 clips), laid out after classes 0 and 1
    first = int(POOL_TOTALS[:2].sum())
    rare = np.zeros(POOL_SIZE, bool)
    rare[first : first + int(POOL_TOTALS[2:4].sum())] = True
    assert sorted(set(finds.strategy)) == ["ft", "mfft", "mp", "random"] and set(finds.seed) == {0, 1}
    assert len(finds) == 4 * 2 * 3
    for row in finds.itertuples():
        folder = results_dir / "runs" / f"{row.strategy}-cold-seed{row.seed}"
        record = json.loads((folder / "rounds" / f"{row.n_labelled:05d}.json").read_text())
        picks = np.array(record["selected"])
        level = np.array([-1 if m is None else m for m in (record["selected_mismatch"] or [None] * len(picks))])
        assert row.found == rare[picks].sum()
        assert row.mismatched == (rare[picks] & (level >= 1)).sum()
        assert row.no_level == (rare[picks] & (level < 0)).sum()
    assert finds.found.sum() > 0 and (finds.mismatched < finds.found).any()  # the check above is not vacuous
    table = results.rare_finds_table(finds)
    assert list(table.columns) == ["RS", "MP", "FT", "MFFT"] and list(table.index) == [50, 100, 150]
    mp = finds[(finds.strategy == "mp") & (finds.n_labelled == 100)]
    assert table.loc[100, "MP"] == f"{mp.found.mean():.1f} ({mp.mismatched.mean():.1f})"
    assert len(results.rare_finds(results_dir, data_root, start="warm")) == 4 * 2 * 3


def test_rare_recordings_table_counts_visits_to_the_rare_classes_recordings(tmp_path):
    # one class per recording, as in the real pool: the clips of class c sit in two recordings of
    # their own, the negatives in three others
    classes = np.repeat(np.arange(len(POOL_TOTALS) + 1), [*POOL_TOTALS, POOL_SIZE - POOL_TOTALS.sum()])
    recordings = np.array([f"c{c}_{i % 2}.wav" if c < len(POOL_TOTALS) else f"neg{i % 3}.wav"
                           for i, c in enumerate(classes)], dtype=object)
    results_dir = tmp_path / "results"
    data_root = write_fake_data_root(tmp_path / "data", recordings)
    write_fake_sweep(results_dir, seeds=(0, 1), budgets=(50, 100, 150))
    finds = results.rare_finds(results_dir, data_root)
    in_rare = np.isin(classes, [2, 3])  # the two rarest classes, 6 and 4 clips
    assert finds.attrs["rare_recordings"] == ["c2_0.wav", "c2_1.wav", "c3_0.wav", "c3_1.wav"]
    assert finds.attrs["rare_recording_clips"] == in_rare.sum() == 10 and finds.attrs["pool_size"] == POOL_SIZE
    visits = {}
    for row in finds.itertuples():
        record = json.loads((results_dir / "runs" / f"{row.strategy}-cold-seed{row.seed}" / "rounds"
                             / f"{row.n_labelled:05d}.json").read_text())
        assert row.from_rare_recordings == in_rare[record["selected"]].sum()
        visits[row.strategy, row.seed, row.n_labelled] = row.from_rare_recordings, row.found
    table = results.rare_recordings_table(finds)
    assert list(table.columns) == ["RS", "MP", "FT", "MFFT"] and list(table.index) == [50, 100, 150]
    share = 10 / POOL_SIZE
    labels = {"random": "RS", "mp": "MP", "ft": "FT", "mfft": "MFFT"}
    for strategy, label in labels.items():
        for budget in (50, 100, 150):
            # cumulative over the rounds so far, mean over the two seeds
            done = [n for n in (50, 100, 150) if n <= budget]
            seen = np.mean([sum(visits[strategy, seed, n][0] for n in done) for seed in (0, 1)])
            rare = np.mean([sum(visits[strategy, seed, n][1] for n in done) for seed in (0, 1)])
            percent = f"{100 * rare / seen:.0f} %" if seen else "-"
            assert table.loc[budget, label] == f"{seen:.1f} ({seen / budget / share:.1f}x, {percent})"
    assert sum(v[0] for v in visits.values()) > 0  # the check above is not vacuous
    stripped = finds.copy()
    stripped.attrs = {}
    with pytest.raises(KeyError, match="pass the table rare_finds returned"):
        results.rare_recordings_table(stripped)
    finds.attrs["rare_recording_clips"] = 0
    with pytest.raises(ValueError, match="no rare clips"):
        results.rare_recordings_table(finds)


def test_rare_finds_refuse_another_pool_and_empty_records(tmp_path):
    results_dir, data_root = tmp_path / "results", write_fake_data_root(tmp_path / "data")
    with pytest.raises(FileNotFoundError, match="train embeddings"):
        results.rare_finds(results_dir, tmp_path / "nowhere")
    folder = write_fake_run(results_dir, "mp", 0, 0, budgets=(50, 100))
    path = folder / "rounds" / "00100.json"
    record = json.loads(path.read_text())
    record["selected"][3] = POOL_SIZE + 7
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="mp-cold-seed0.*round 1 selects clips outside the pool"):
        results.rare_finds(results_dir, data_root)
    with pytest.raises(ValueError, match="no warm-start AL runs"):
        results.rare_finds(results_dir, data_root, start="warm")


# --------------------------------------------------------------------------- which classes a strategy sought out


def test_paper_class_enrichment_is_the_published_counts_over_random_expectation():
    table = results.paper_class_enrichment()  # cold, 500 labels
    assert list(table.columns) == ["RS", "MP", "FT", "MFFT"] and table.attrs["n_labelled"] == 500
    assert list(table.index) == [*paper.PAPER_CLASSES, "Negative"]
    # MP: 54.6 mosquito clips of 500, the pool holds 1,207 of 21,414
    assert table.loc["Mosquito", "MP"] == pytest.approx(54.6 / (500 * 1207 / 21414))
    assert table.loc["Negative", "FT"] == pytest.approx(410.4 / (500 * 17680 / 21414))
    assert table.loc["Meerkat_move_call", "RS"] == 0.0
    warm = results.paper_class_enrichment("warm", 100)
    assert warm.loc["Meerkat_alarm_call", "MP"] == pytest.approx(5.4 / (100 * 19 / 21414))
    with pytest.raises(ValueError, match=r"no cold-start round ends at 75 labels \(budgets: \[50, 100"):
        results.paper_class_enrichment("cold", 75)


def test_paper_pool_is_the_published_totals():
    table = paper.paper_results()
    totals, pool_size = results.paper_pool()
    assert list(totals.index) == list(paper.PAPER_CLASSES) and totals.dtype == np.int64
    for column, value in [*((f"Total_{c}", totals[c]) for c in paper.PAPER_CLASSES),
                          ("Total_Negative", pool_size - totals.sum())]:
        assert (table[column] == value).all(), column  # every row of the shipped CSV agrees
    assert pool_size == 21414 and totals["Meerkat_alarm_call"] + totals["Meerkat_move_call"] == 25


def test_paper_rates_on_pool_give_back_the_paper_on_its_pool_and_cap_a_smaller_one():
    totals, pool_size = results.paper_pool()
    own = results.paper_rates_on_pool(totals, pool_size, 500)
    assert list(own.index) == ["Meerkat_move_call", "Meerkat_alarm_call", "rare classes"]
    assert list(own.columns) == ["RS", "MP", "FT", "MFFT", "in the pool"]
    # the paper's own rare counts at 500 cold labels, from its published results
    assert own.loc["rare classes", ["RS", "MP", "FT", "MFFT"]].tolist() == pytest.approx([1.2, 3.0, 9.6, 9.8])
    assert own.attrs["criterion_met"] and own.attrs["cap"] == pytest.approx(21414 / 500)
    # a pool of 3,623 clips with 14 and 10 rare ones, 350 labels: FT would need more clips than there are
    small = pd.Series({"Mosquito": 176, "Meerkat_alarm_call": 14, "Meerkat_move_call": 10, "Red_Deer": 235})
    here = results.paper_rates_on_pool(small, 3623, 350)
    mp = 2.2 * 21414 / (500 * 19) * 350 * 14 / 3623 + 0.8 * 21414 / (500 * 6) * 350 * 10 / 3623
    assert here.loc["rare classes", "MP"] == pytest.approx(mp)
    assert here.loc["Meerkat_alarm_call", "FT"] == 14 and here.loc["Meerkat_move_call", "MFFT"] == 10
    assert here.loc["rare classes", "in the pool"] == 24 and not here.attrs["criterion_met"]  # 24 < 2 x 12.2
    assert results.describe_yardstick(own) == (
        "At 500 labels a class can be labelled at most 42.8 times its share of this pool (42.8 in the paper). "
        "At the paper's rates the rare-classes finding would be met here.")
    assert results.describe_yardstick(here).startswith("At 350 labels a class can be labelled at most 10.4 times")
    assert results.describe_yardstick(here).endswith("finding would not be met here.")
    with pytest.raises(ValueError, match="between 1 and the pool's 3623 clips, not 4000"):
        results.paper_rates_on_pool(small, 3623, 4000)
    with pytest.raises(KeyError, match="no rates for .*Wren"):
        results.paper_rates_on_pool(pd.Series({"Wren": 3, "Owl": 5, "Mosquito": 100}), 1000, 50)


def test_class_enrichment_of_run_records_by_hand(sweep_dir):
    tidy = results.tidy_table(sweep_dir, progress=False)
    totals, pool_size = results.pool_totals(tidy)
    table = results.class_enrichment(tidy, totals, pool_size, start="cold")
    beside = results.enrichment_beside_paper(table, results.paper_class_enrichment())
    assert list(beside.columns.levels[0]) == ["paper, 500 labels", "this run, 100 labels"]
    pd.testing.assert_frame_equal(beside["this run, 100 labels"], table.round(2), check_names=False)
    cells = results.seeds_per_cell(tidy).set_index(["strategy", "start"]).seeds
    names = [records.parse_run_name(p.name) for p in records.run_folders(sweep_dir)]
    by_hand = pd.DataFrame(names).groupby(["strategy", "start"]).seed.nunique()
    assert cells.to_dict() == by_hand.to_dict()
    n = table.attrs["n_labelled"]
    assert n == 100 and list(table.index) == [*paper.PAPER_CLASSES, "Negative"]
    counts = []
    for seed in (0, 1, 2):
        record = json.loads((sweep_dir / "runs" / f"mp-cold-seed{seed}" / "rounds" / "00100.json").read_text())
        counts.append(np.asarray(record["class_counts"], dtype=float))
    mean = np.mean(counts, axis=0)
    expected = mean / (n * POOL_TOTALS / POOL_SIZE)
    assert table["MP"].iloc[:7].to_numpy() == pytest.approx(expected)
    negatives = (n - mean.sum()) / (n * (POOL_SIZE - POOL_TOTALS.sum()) / POOL_SIZE)
    assert table.loc["Negative", "MP"] == pytest.approx(negatives)
    # an earlier budget, and a class the pool lacks, which cannot be compared with random picks
    early = results.class_enrichment(tidy, totals.where(totals.index != "Red_Deer", 0), pool_size, n_labelled=50)
    assert early.attrs["n_labelled"] == 50 and early.loc["Red_Deer"].isna().all()
    with pytest.raises(ValueError, match="no warm-start AL runs"):
        results.class_enrichment(tidy[tidy.start != "warm"], totals, pool_size, start="warm")
    with pytest.raises(KeyError, match="Mosquito"):
        results.class_enrichment(tidy, totals.drop("Mosquito"), pool_size)
