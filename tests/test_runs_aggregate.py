"""`genmod runs FOLDER --group-by ...` on hand-made run folders (no training): means and sample
standard deviations over seeds against numpy, short names for settings and their errors,
unfinished runs left out and counted, values measured differently flagged instead of
averaged, missing values, the JSON, the chart (file and figure), crafted folders, and no
TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from genmod.cli import cli
from genmod.config import RunConfig, write_config
from genmod.runs import aggregate as aggregation
from genmod.runs import compare
from genmod.runs import folder as rundir

BETAS = (1, 2, 4)
LATENTS = (2, 4)
SEEDS = (0, 1, 2)


def loglik(number, *, k: int = 1000) -> dict:
    """A format-2 log-likelihood record as genmod evaluate writes it."""
    return {
        "value": number,
        "unit": "nats",
        "higher_is_better": True,
        "metric": "log-likelihood",
        "method": {
            "metric": "log-likelihood",
            "metric_version": "1",
            "dataset": "mnist",
            "test_size": 10000,
            "importance_samples_K": k,
            "options": {"samples": k, "batch_size": 100},
        },
    }


def fid(number, *, samples: int = 10000) -> dict:
    return {
        "value": number,
        "unit": "squared feature units",
        "higher_is_better": False,
        "metric": "fid",
        "method": {"metric": "fid", "metric_version": "1", "generated_samples": samples},
    }


def make_run(
    root: Path,
    name: str,
    *,
    status: str | None = "finished",
    test_elbo: float = -100.0,
    values: dict | None = None,
    **config,
) -> Path:
    """A run folder as genmod writes it: config.toml, one metrics line, summary.json (none
    when ``status`` is None) and a format-2 evaluation.json holding ``values``."""
    run = root / name
    run.mkdir(parents=True)
    write_config(run, RunConfig(epochs=1, **config), {"data_shape": [28, 28, 1]})
    rundir.append_metrics(run, {"epoch": 1, "test_elbo": test_elbo})
    if status is not None:
        rundir.write_summary(run, {"status": status})
    if values is not None:
        (run / "evaluation.json").write_text(json.dumps({"format": 2, "values": values}))
    return run


def beta_run(root: Path, beta: float, latent: int, seed: int, **kwargs) -> Path:
    return make_run(
        root,
        f"b{beta}-z{latent}-s{seed}",
        objective="beta-vae",
        objective_options={"beta": float(beta)},
        latent_dim=latent,
        seed=seed,
        **kwargs,
    )


@pytest.fixture
def grid(tmp_path: Path) -> tuple[Path, dict]:
    """beta {1, 2, 4} x latent_dim {2, 4} x seeds {0, 1, 2}, every run finished and evaluated;
    returns the folder and the numbers written, by (beta, latent_dim) and value."""
    rng = np.random.default_rng(7)
    written: dict = {}
    for beta in BETAS:
        for latent in LATENTS:
            for seed in SEEDS:
                elbo, ll, score = -100 - 3 * beta + rng.normal(), -95 + rng.normal(), rng.random()
                beta_run(
                    tmp_path,
                    beta,
                    latent,
                    seed,
                    test_elbo=elbo,
                    values={"log_likelihood": loglik(ll), "fid": fid(50 * score)},
                )
                numbers = written.setdefault((beta, latent), {})
                numbers.setdefault("test_elbo", []).append(elbo)
                numbers.setdefault("log_likelihood", []).append(ll)
                numbers.setdefault("fid", []).append(50 * score)
    return tmp_path, written


def invoke(*args: object):
    return CliRunner().invoke(cli, ["runs", *map(str, args)], catch_exceptions=False)


def as_json(*args: object) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def table(*args: object) -> list[list[str]]:
    """The table's rows as cells (split on runs of two spaces): header, units, groups."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    lines = result.output.split("\n\n")[1].splitlines()
    return [[c.strip() for c in line.split("  ") if c.strip()] for line in lines]


def footnotes(*args: object) -> list[str]:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    parts = result.output.split("\n\n")
    return parts[2].splitlines() if len(parts) > 2 else []


# --- the statistics ------------------------------------------------------------------------


def test_means_and_sample_stds_match_numpy(grid):
    folder, written = grid
    found = as_json(folder, "--group-by", "beta,latent_dim")
    assert [v["name"] for v in found["values"]] == ["test_elbo", "log_likelihood", "fid"]
    assert [v["unit"] for v in found["values"]] == ["nats", "nats", "squared feature units"]
    keys = [(g["key"]["objective_options.beta"], g["key"]["latent_dim"]) for g in found["groups"]]
    assert keys == [(b, z) for b in BETAS for z in LATENTS]  # sorted by the keys
    for group in found["groups"]:
        numbers = written[(group["key"]["objective_options.beta"], group["key"]["latent_dim"])]
        for name, expected in numbers.items():
            stat = group["values"][name]
            assert stat["count"] == 3 and len(stat["runs"]) == 3
            assert stat["mean"] == pytest.approx(np.mean(expected), rel=1e-12)
            assert stat["std"] == pytest.approx(np.std(expected, ddof=1), rel=1e-12)


def test_table_gives_mean_std_and_count_with_units(grid):
    folder, written = grid
    rows = table(folder, "--group-by", "latent_dim,beta", "--value", "fid")
    assert rows[0] == ["latent_dim", "beta", "runs", "not finished", "fid"]
    assert rows[1] == ["squared feature units"]
    assert [r[:2] for r in rows[2:]] == [[str(z), str(b)] for z in LATENTS for b in BETAS]
    expected = written[(1, 2)]["fid"]
    mean = compare.format_number(float(np.mean(expected)))
    std = compare.format_number(float(np.std(expected, ddof=1)))
    assert rows[2][2:] == ["3", "-", f"{mean} ± {std} (3)"]
    head = invoke(folder, "--group-by", "beta").output.splitlines()[:2]
    assert head[0] == "beta: objective_options.beta"  # the short name, resolved, said
    assert "sample standard deviation (ddof=1)" in head[1]


def test_a_group_of_one_run_has_no_std_and_numbers_sort_numerically(tmp_path):
    for latent in (16, 2, 10):
        make_run(tmp_path, f"z{latent}", latent_dim=latent, test_elbo=-90.0 - latent)
    rows = table(tmp_path, "--group-by", "latent_dim")
    assert [r[0] for r in rows[2:]] == ["2", "10", "16"]  # not "10", "16", "2"
    assert rows[2][-1] == "-92.00 ± - (1)"
    (group, *_) = as_json(tmp_path, "--group-by", "latent_dim")["groups"]
    assert group["values"]["test_elbo"]["std"] is None
    assert group["values"]["test_elbo"]["count"] == 1


# --- group keys ----------------------------------------------------------------------------


def test_short_names_resolve_to_the_one_setting_they_name(grid):
    folder, _ = grid
    found = as_json(folder, "--group-by", "beta", "--group-by", "latent-dim,seed,likelihood")
    assert found["keys"] == [
        {"name": "beta", "setting": "objective_options.beta"},
        {"name": "latent-dim", "setting": "latent_dim"},
        {"name": "seed", "setting": "seed"},
        {"name": "likelihood", "setting": "likelihood"},
    ]
    assert len(found["groups"]) == 18 and found["groups"][0]["key"]["likelihood"] == "bernoulli"
    full = as_json(folder, "--group-by", "objective_options.beta")
    assert [len(g["runs"]) for g in full["groups"]] == [6, 6, 6]
    # the same setting named twice is one key
    assert len(as_json(folder, "--group-by", "beta,objective_options.beta")["keys"]) == 1


def test_unknown_and_ambiguous_keys_list_the_settings_that_vary(tmp_path):
    for seed in (0, 1):
        make_run(
            tmp_path,
            f"s{seed}",
            seed=seed,
            encoder_options={"hidden": [64]},
            decoder_options={"hidden": [64]},
        )
    make_run(tmp_path, "z8", latent_dim=8, encoder_options={"hidden": [32]})
    unknown = CliRunner().invoke(cli, ["runs", str(tmp_path), "--group-by", "bta"])
    assert unknown.exit_code == 2
    assert "'bta' is not a setting of these runs" in unknown.output
    assert "vary across the runs: encoder_options.hidden, decoder_options.hidden, " in (
        unknown.output
    )
    assert "latent_dim, seed." in unknown.output
    ambiguous = CliRunner().invoke(cli, ["runs", str(tmp_path), "--group-by", "hidden"])
    assert ambiguous.exit_code == 2
    assert (
        "'hidden' is ambiguous: it could be encoder_options.hidden, decoder_options.hidden; give "
        "the full name. The settings that vary across the runs: encoder_options.hidden"
    ) in ambiguous.output
    found = as_json(tmp_path, "--group-by", "encoder_options.hidden")
    assert [g["key"]["encoder_options.hidden"] for g in found["groups"]] == [[32], [64]]


def test_a_setting_some_runs_lack_groups_them_apart(tmp_path):
    make_run(tmp_path, "plain", objective="elbo", test_elbo=-95.0)
    make_run(tmp_path, "beta", objective="beta-vae", objective_options={"beta": 4.0})
    rows = table(tmp_path, "--group-by", "beta")
    assert [r[0] for r in rows[2:]] == ["4", "-"]  # no such setting: "-", sorted last
    found = as_json(tmp_path, "--group-by", "beta")
    assert found["groups"][1]["key"] == {"objective_options.beta": None}


def test_settings_that_also_vary_within_a_group_are_named(grid):
    folder, _ = grid
    notes = footnotes(folder, "--group-by", "latent_dim", "--value", "fid")
    assert any(n.startswith("note: objective_options.beta also varies within 2") for n in notes)
    found = as_json(folder, "--group-by", "latent_dim", "--value", "fid")
    assert found["groups"][0]["also_varies"] == {"objective_options.beta": [1.0, 2.0, 4.0]}
    both = as_json(folder, "--group-by", "beta,latent_dim")
    assert all(not g["also_varies"] for g in both["groups"])


def test_run_settings_are_flat():
    config = RunConfig(objective="beta-vae", objective_options={"beta": 4.0}, latent_dim=8)
    flat = aggregation.run_settings(config)
    assert flat["objective_options.beta"] == 4.0 and flat["latent_dim"] == 8
    assert flat["likelihood"] == "bernoulli" and "objective_options" not in flat


# --- unfinished runs, methods, missing values ------------------------------------------------


def test_unfinished_runs_are_left_out_and_counted_per_group(tmp_path):
    beta_run(tmp_path, 1, 2, 0, test_elbo=-100.0)
    beta_run(tmp_path, 1, 2, 1, test_elbo=-102.0)
    beta_run(tmp_path, 1, 2, 2, test_elbo=-500.0, status="diverged")
    beta_run(tmp_path, 1, 2, 3, test_elbo=-400.0, status="interrupted")
    beta_run(tmp_path, 2, 2, 0, test_elbo=-300.0, status=None)  # killed before a summary
    beta_run(tmp_path, 2, 2, 1, test_elbo=-300.0, status="running")  # no lock record
    rows = table(tmp_path, "--group-by", "beta")
    assert rows[2] == ["1", "2", "1 diverged, 1 interrupted", "-101.0 ± 1.414 (2)"]
    assert rows[3] == ["2", "0", "1 running or killed, 1 started", "-"]
    found = as_json(tmp_path, "--group-by", "beta")
    first = found["groups"][0]
    assert [Path(r).name for r in first["runs"]] == ["b1-z2-s0", "b1-z2-s1"]
    assert {Path(r["run"]).name: r["status"] for r in first["not_finished"]} == {
        "b1-z2-s2": "diverged",
        "b1-z2-s3": "interrupted",
    }
    assert first["values"]["test_elbo"]["mean"] == pytest.approx(-101.0)


def test_values_measured_differently_within_a_group_are_not_averaged(tmp_path):
    for seed, k in zip(SEEDS, (1000, 1000, 100), strict=True):
        beta_run(tmp_path, 1, 2, seed, values={"log_likelihood": loglik(-90.0 - seed, k=k)})
    for seed in SEEDS:
        beta_run(tmp_path, 2, 2, seed, values={"log_likelihood": loglik(-95.0 + seed)})
    rows = table(tmp_path, "--group-by", "beta", "--value", "log_likelihood")
    assert rows[0][-1] == "log_likelihood"  # the groups that do average agree with each other
    assert rows[2][-1] == "differs†" and rows[3][-1] == "-94.00 ± 1.000 (3)"
    (note,) = [n for n in footnotes(tmp_path, "--group-by", "beta") if n.startswith("†")]
    assert note.startswith("† log_likelihood at beta=1: measured differently within the group")
    assert "importance_samples_K (b1-z2-s0, b1-z2-s1: 1000; b1-z2-s2: 100)" in note
    stat = as_json(tmp_path, "--group-by", "beta")["groups"][0]["values"]["log_likelihood"]
    assert stat["comparable"] is False and stat["mean"] is None and stat["count"] == 0
    assert "importance_samples_K" in stat["differs"] and len(stat["values"]) == 3


def test_groups_measured_differently_from_each_other_are_flagged(tmp_path):
    for seed in SEEDS:
        beta_run(tmp_path, 1, 2, seed, values={"fid": fid(10.0 + seed, samples=500)})
        beta_run(tmp_path, 2, 2, seed, values={"fid": fid(20.0 + seed)})
    rows = table(tmp_path, "--group-by", "beta", "--value", "fid")
    assert rows[0][-1] == "fid†" and rows[2][-1] == "11.00 ± 1.000 (3)"
    (note,) = [n for n in footnotes(tmp_path, "--group-by", "beta") if n.startswith("†")]
    assert note == (
        "† fid: the groups were measured differently (compare their means with care): "
        "generated_samples ([beta=1]: 500; [beta=2]: 10000)"
    )
    column = as_json(tmp_path, "--group-by", "beta")["values"][-1]
    assert column["comparable"] is False and "generated_samples" in column["differs"]


def test_missing_values_are_counted_apart(tmp_path):
    beta_run(tmp_path, 1, 2, 0, values={"fid": fid(10.0)})
    beta_run(tmp_path, 1, 2, 1, values={"fid": fid(None)})  # n/a: the metric could not
    beta_run(tmp_path, 1, 2, 2)  # never evaluated
    beta_run(tmp_path, 2, 2, 0)
    rows = table(tmp_path, "--group-by", "beta", "--value", "fid")
    assert rows[2][-1] == "10.00 ± - (1)" and rows[3][-1] == "-"
    stat = as_json(tmp_path, "--group-by", "beta")["groups"][0]["values"]["fid"]
    assert stat["count"] == 1
    assert [Path(p).name for p in stat["missing"]] == ["b1-z2-s1", "b1-z2-s2"]


def test_choosing_values(grid):
    folder, _ = grid
    found = as_json(folder, "--group-by", "beta", "--value", "fid,test_elbo")
    assert [v["name"] for v in found["values"]] == ["fid", "test_elbo"]
    assert set(found["groups"][0]["values"]) == {"fid", "test_elbo"}
    bad = CliRunner().invoke(cli, ["runs", str(folder), "--group-by", "beta", "--value", "fdi"])
    assert bad.exit_code == 2 and "no run has a value or metric named 'fdi'" in bad.output
    alone = CliRunner().invoke(cli, ["runs", str(folder), "--value", "fid"])
    assert alone.exit_code == 2 and "go with --group-by" in alone.output


def test_lists_per_factor_are_refused(tmp_path):
    record = {"value": [0.1, 0.5], "unit": "score", "higher_is_better": True, "metric": "mig"}
    beta_run(tmp_path, 1, 2, 0, values={"mig_per_factor": record})
    result = CliRunner().invoke(
        cli, ["runs", str(tmp_path), "--group-by", "beta", "--value", "mig_per_factor"]
    )
    assert result.exit_code == 2 and "mig_per_factor holds a list" in result.output
    assert "mig_per_factor" not in as_json(tmp_path, "--group-by", "beta")["groups"][0]["values"]


def test_json_shape(grid):
    folder, _ = grid
    found = as_json(folder, "--group-by", "beta,latent_dim", "--value", "log_likelihood")
    assert set(found) == {"keys", "statistic", "values", "groups", "ungrouped", "notes"}
    assert "ddof=1" in found["statistic"]
    assert found["values"] == [
        {
            "name": "log_likelihood",
            "source": "evaluation.json",
            "unit": "nats",
            "higher_is_better": True,
            "comparable": True,
            "differs": {},
        }
    ]
    group = found["groups"][0]
    assert set(group) == {"key", "runs", "not_finished", "also_varies", "values"}
    assert group["key"] == {"objective_options.beta": 1.0, "latent_dim": 2}
    assert set(group["values"]["log_likelihood"]) == {
        "mean",
        "std",
        "count",
        "unit",
        "runs",
        "values",
        "missing",
        "damaged",
        "comparable",
        "differs",
        "problem",
    }
    assert found["ungrouped"] == [] and found["notes"] == []


# --- the chart -----------------------------------------------------------------------------


def test_chart_file_is_a_png_in_the_folder(grid):
    folder, _ = grid
    result = invoke(folder, "--group-by", "beta,latent_dim", "--chart")
    assert result.exit_code == 0, result.output
    path = folder / "aggregate-test_elbo.png"
    assert f"chart: {path} (test_elbo against beta (objective_options.beta), linear" in (
        result.output
    )
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (640, 440)
    other = folder.parent / "fid.png"
    found = as_json(folder, "--group-by", "latent_dim", "--value", "fid", "--chart", other)
    assert found["chart"]["path"] == str(other) and found["chart"]["runs"] == 18
    with Image.open(other) as image:
        assert image.format == "PNG" and image.size == (640, 440)


def test_chart_figure_has_one_line_per_combination_of_the_other_keys(grid):
    from matplotlib.container import ErrorbarContainer
    from matplotlib.lines import Line2D

    from genmod.pictures import charts

    folder, _ = grid
    result = aggregation.aggregate(compare.find_runs([folder]), ["beta", "latent_dim", "seed"])
    data = aggregation.chart_data(result, "fid")
    assert len(data.lines) == 6 and data.x_scale == "linear" and data.runs == 18
    figure = charts.aggregate_figure(data)
    axes = figure.axes[0]
    bars = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 6
    assert len([line for line in axes.get_lines() if isinstance(line, Line2D)]) >= 6
    assert len(axes.get_legend().get_texts()) == 6
    assert axes.get_legend().get_texts()[0].get_text() == "latent_dim=2, seed=0"
    assert axes.get_xlabel() == "beta (objective_options.beta)"
    assert axes.get_ylabel() == "fid (squared feature units)"
    assert axes.get_title() == "fid: mean ± sample std over seeds, 18 runs"
    assert [t.get_text() for t in axes.get_xticklabels()] == ["1", "2", "4"]
    one = aggregation.chart_data(aggregation.aggregate(result.runs, ["beta"]))
    figure = charts.aggregate_figure(one)
    assert len(figure.axes[0].containers) == 1 and figure.axes[0].get_legend() is None
    (line,) = one.lines
    assert line.count == [6, 6, 6] and line.x == [1.0, 2.0, 4.0]


def test_chart_axis_log_scale_and_categories(tmp_path):
    for beta in (0.1, 1.0, 10.0):
        beta_run(tmp_path / "log", beta, 2, 0, test_elbo=-100.0 - beta)
    for likelihood in ("gaussian", "bernoulli"):
        make_run(tmp_path / "names", likelihood, likelihood=likelihood)
    from genmod.pictures import charts

    log = aggregation.chart_data(
        aggregation.aggregate(compare.find_runs([tmp_path / "log"]), ["beta"])
    )
    assert log.x_scale == "log"
    axes = charts.aggregate_figure(log).axes[0]
    assert axes.get_xscale() == "log" and axes.get_xlabel().endswith("(log scale)")
    names = aggregation.chart_data(
        aggregation.aggregate(compare.find_runs([tmp_path / "names"]), ["likelihood"])
    )
    assert names.x_scale == "categories" and names.categories == ["bernoulli", "gaussian"]
    axes = charts.aggregate_figure(names).axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["bernoulli", "gaussian"]


def test_chart_of_a_value_no_group_has_is_an_error(tmp_path):
    beta_run(tmp_path, 1, 2, 0, values={"fid": fid(None)})
    result = CliRunner().invoke(
        cli, ["runs", str(tmp_path), "--group-by", "beta", "--value", "fid", "--chart"]
    )
    assert result.exit_code == 2 and "no group has a mean of fid" in result.output
    assert not list(tmp_path.glob("*.png"))


def test_chart_file_name_cannot_leave_the_folder(tmp_path):
    assert aggregation.chart_path(tmp_path, "../../x/y") == tmp_path / "aggregate-_.._x_y.png"
    assert aggregation.chart_path(tmp_path, "..") == tmp_path / "aggregate-value.png"


# --- crafted folders, no TensorFlow ----------------------------------------------------------


def test_crafted_run_folders_do_not_stop_it(tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1):
        beta_run(runs, 1, 2, seed, values={"fid": fid(10.0 + seed)})
    crafted = {
        "not-json": "{'fid': ",
        "escapes": json.dumps({"format": 2, "values": {"\x1b[2Jfid\x07": {"value": 1}}}),
        "nan": '{"format": 2, "values": {"fid": {"value": NaN, "unit": "u"}}}',
        "huge-int": '{"format": 2, "values": {"fid": {"value": 1' + "0" * 400 + "}}}",
    }
    for index, text in enumerate(crafted.values()):
        run = beta_run(runs, 1, 2, 10 + index)
        (run / "evaluation.json").write_text(text)
    os.mkfifo(beta_run(runs, 1, 2, 90, status=None) / "summary.json")  # would block a read
    (beta_run(runs, 1, 2, 91, status=None) / "summary.json").write_text('{"status": [1]}')
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"status": "finished"}))
    (beta_run(runs, 1, 2, 92, status=None) / "summary.json").symlink_to(secret)
    (beta_run(runs, 1, 2, 93) / "config.toml").write_bytes(b"\x00\xff")
    # settings of a hand-edited config.toml: odd values, an escape in a text
    odd = runs / "odd"
    odd.mkdir()
    text = (beta_run(runs, 1, 2, 94) / "config.toml").read_text()
    (odd / "config.toml").write_text(
        text.replace("beta = 1.0", 'beta = nan\nnote = "\\u001b[31m"\n"\\u001b[2J" = 1').replace(
            'likelihood = "bernoulli"', 'likelihood = "' + "x" * 500 + '"'
        )
    )
    rundir.append_metrics(odd, {"epoch": 1, "test_elbo": -1e308})
    rundir.write_summary(odd, {"status": "finished"})
    (runs / "outside").symlink_to(beta_run(tmp_path / "elsewhere", 1, 2, 0))
    for keys in ("beta", "beta,likelihood", "objective_options.note"):
        result = invoke(runs, "--group-by", keys, "--chart", tmp_path / "chart.png")
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
        assert max(len(line) for line in result.output.splitlines()) < 2000
        found = as_json(runs, "--group-by", keys)  # valid JSON: no NaN anywhere
        assert {Path(r["run"]).name for r in found["ungrouped"]} == {"outside", "b1-z2-s93"}
    unknown = CliRunner().invoke(cli, ["runs", str(runs), "--group-by", "bta"])
    assert unknown.exit_code == 2 and "objective_options.?[2J" in unknown.output
    assert "\x1b" not in unknown.output
    rows = table(runs, "--group-by", "beta", "--value", "fid")
    # finished: s0, s1, the four crafted evaluations and s94; three summaries are unusable
    assert rows[2][:3] == ["1", "7", "3 unreadable summary.json"]
    assert rows[2][3] == "10.50 ± 0.7071 (2)"
    assert rows[3][0] == "nan"
    notes = footnotes(runs, "--group-by", "beta")
    assert any("summary.json is a link that leads outside" in n for n in notes)
    assert any("summary.json is not a regular file" in n for n in notes)


def test_aggregating_imports_no_tensorflow(grid):
    folder, _ = grid
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from genmod.cli import cli\n"
        f"r = CliRunner().invoke(cli, ['runs', {str(folder)!r}, '--group-by', 'beta,latent_dim', "
        "'--chart'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(k for k in ('tensorflow', 'keras') if k in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_chart_into_a_folder_and_a_suffix_that_is_not_png(grid):
    folder, _ = grid
    into = folder.parent / "charts"
    into.mkdir()
    found = as_json(folder, "--group-by", "beta", "--chart", into)
    assert found["chart"]["path"] == str(into / "aggregate-test_elbo.png")
    refused = CliRunner().invoke(
        cli, ["runs", str(folder), "--group-by", "beta", "--chart", "x.svg"]
    )
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1
    assert "the chart is a PNG; give a file name ending in .png" in refused.output
    assert not Path("x.svg").exists()


def test_an_empty_group_by_or_value_is_refused(grid):
    folder, _ = grid
    for args, message in (
        (("--group-by", ","), "--group-by got no setting"),
        (("--group-by", "beta", "--value", ""), "--value got no name"),
    ):
        result = CliRunner().invoke(cli, ["runs", str(folder), *args])
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_studys_runs_not_started_or_failed_are_counted_in_their_groups(tmp_path):
    """A study folder's plan (study.json) names every run: those without a run folder yet
    (not started, failed before training) are counted per group, so that a group missing
    runs never looks complete."""
    from genmod.plugins import get_registry
    from genmod.studies import record as records
    from genmod.studies.plan import load_study

    from study_support import write_study

    plan = load_study(
        write_study(tmp_path, "seeds = [0, 1]\n[grid]\nlatent_dim = [2, 3]\n"), get_registry()
    )
    study = tmp_path / "study"
    study.mkdir()
    records.write_record(study, plan)
    done = plan.run("latent_dim2-seed0")
    (study / done.name).mkdir()
    write_config(study / done.name, done.config, {"data_shape": [28, 28, 1]})
    rundir.append_metrics(study / done.name, {"epoch": 1, "test_elbo": -120.0})
    rundir.write_summary(study / done.name, {"status": "finished"})
    found = as_json(study, "--group-by", "latent_dim")
    groups = {g["key"]["latent_dim"]: g for g in found["groups"]}
    assert [Path(r).name for r in groups[2]["runs"]] == ["latent_dim2-seed0"]
    assert groups[2]["not_finished"] == [
        {"run": str(study / "latent_dim2-seed1"), "status": "not started"}
    ]
    assert groups[3]["runs"] == [] and len(groups[3]["not_finished"]) == 2
    rows = table(study, "--group-by", "latent_dim")
    assert rows[2][:3] == ["2", "1", "1 not started"] and rows[3][:3] == ["3", "0", "2 not started"]
    # no run started at all: the table still shows every group, not "no runs"
    import shutil

    shutil.rmtree(study / done.name)
    rows = table(study, "--group-by", "latent_dim")  # no values: no units line
    assert rows == [
        ["latent_dim", "runs", "not finished"],
        ["2", "0", "2 not started"],
        ["3", "0", "2 not started"],
    ]


def test_a_folder_of_study_folders_is_refused_naming_them(tmp_path):
    for name in ("beta-sweep", "latent-sweep"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "study.json").write_text("{}")
    result = CliRunner().invoke(cli, ["runs", str(tmp_path), "--group-by", "beta"])
    assert result.exit_code == 2, result.output
    assert "holds study folders, not runs (beta-sweep, latent-sweep)" in result.output
