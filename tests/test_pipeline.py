"""The pipeline driver: step selection, overrides, and a run of the figures step on records."""

from __future__ import annotations

import pytest
from helpers_results import write_fake_data_root, write_fake_sweep

from bioal import pipeline


def test_pipeline_steps():
    assert pipeline.pipeline_steps() == ["01", "02", "03", "04", "05", "06", "07", "08"]
    assert pipeline.pipeline_steps("03", "05") == ["03", "04", "05"]
    assert pipeline.pipeline_steps("06", "06") == ["06"]
    with pytest.raises(ValueError, match="unknown step '09'"):
        pipeline.pipeline_steps("01", "09")
    with pytest.raises(ValueError, match="comes after"):
        pipeline.pipeline_steps("05", "02")


def test_pipeline_refuses_unknown_override(tmp_path):
    with pytest.raises(KeyError, match="NOT_A_PARAMETER"):
        pipeline.run_pipeline("demo", "06", "06", overrides={"NOT_A_PARAMETER": 1}, executed=tmp_path)


def test_repeated_set_accumulates_and_grid_parameters_are_refused(monkeypatch, capsys, tmp_path):
    seen = {}

    def fake(preset, start, stop, overrides, **kwargs):
        seen.update(start=start, stop=stop, overrides=overrides)
        return 0

    monkeypatch.setattr(pipeline, "run_pipeline", fake)
    assert pipeline.main(["--set", "MAX_EPOCHS=5", "--set", "RESULTS_DIR=/tmp/x"]) == 0
    assert seen["overrides"] == {"MAX_EPOCHS": 5, "RESULTS_DIR": "/tmp/x"}
    with pytest.raises(SystemExit, match="MAX_EPOCHS twice with different values"):
        pipeline.main(["--set", "MAX_EPOCHS=5", "--set", "MAX_EPOCHS=6"])
    seen.clear()
    with pytest.raises(SystemExit):
        pipeline.main(["--set", "SEED=3"])
    assert "SEED cannot be overridden" in capsys.readouterr().err and not seen
    with pytest.raises(SystemExit):
        pipeline.main(["--from", "05", "--to", "05", "--set", "STRATEGY=ft"])
    assert "SEEDS in a preset" in capsys.readouterr().err and not seen
    assert pipeline.main(["--to", "04", "--set", "SEED=3"]) == 0  # the encoder's seed, no sweep
    assert seen["overrides"] == {"SEED": 3}
    monkeypatch.undo()
    with pytest.raises(ValueError, match="INIT_POS cannot be overridden for the sweep"):
        pipeline.run_pipeline("demo", "05", "06", overrides={"INIT_POS": 5}, executed=tmp_path)


@pytest.mark.slow
def test_pipeline_figures_step_on_records(tmp_path):
    results_dir = tmp_path / "results"
    write_fake_sweep(results_dir)
    data_root = write_fake_data_root(tmp_path / "data")
    args = ["--preset", "demo", "--from", "06", "--to", "06", "--executed", str(tmp_path / "ex")]
    status = pipeline.main([*args, "--set", f"RESULTS_DIR={results_dir}", f"DATA_ROOT={data_root}"])
    assert status == 0
    assert (results_dir / "al_results.csv").is_file() and (tmp_path / "ex" / "06_figures.ipynb").is_file()


@pytest.mark.slow
def test_pipeline_stops_at_a_failing_notebook(tmp_path, capsys):
    status = pipeline.run_pipeline(
        "demo", "06", "06", overrides={"RESULTS_DIR": str(tmp_path / "empty")}, executed=tmp_path / "ex", progress=False
    )
    assert status == 1
    err = capsys.readouterr().err
    assert "06_figures failed in cell" in err and "no run records" in err
