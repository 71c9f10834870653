"""`genmod compare` on hand-made run folders (no training): values side by side with units, the
best run per column, methods that differ, choosing and sorting columns, JSON, several folders,
the flat evaluation.json of earlier versions, and crafted files that must not stop it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from genmod.cli import cli
from genmod.config import RunConfig, write_config
from genmod.runs import folder as rundir
from genmod.runs.compare import format_number

SHA_A = "a" * 64
SHA_B = "b" * 64


def method(metric: str, **facts) -> dict:
    """A value's method as genmod evaluate writes it (the facts compare looks at, and some it
    must ignore: paths, times, resource options)."""
    base = {
        "metric": metric,
        "metric_version": "1",
        "plugin": "metrics",
        "options": {"batch_size": 100},
        "run": "/somewhere/else",
        "dataset": "mnist",
        "dataset_options": {},
        "test_size": 10000,
        "seed": 0,
        "binarize": "dynamic",
        "computed_at": "2026-12-07T09:24:09+00:00",
        "versions": {"genmod": "0.1.0"},
    }
    base.update(facts)
    return base


def value(number, unit: str, higher: bool | None, metric: str, **facts) -> dict:
    return {
        "value": number,
        "unit": unit,
        "higher_is_better": higher,
        "metric": metric,
        "method": method(metric, **facts),
    }


def fid(number, *, sha: str = SHA_A, samples: int = 10000, **facts) -> dict:
    extractor = {
        "name": "domain-classifier",
        "version": "1",
        "options": {"epochs": 5},
        "weights": f"/home/someone/.cache/{sha[:4]}/classifier.weights.h5",
        "weights_sha256": sha,
    }
    facts = {
        "sampler": {"name": "prior", "version": "1", "options": {}},
        "extractor": extractor,
        "generated_samples": samples,
        "real_items": 10000,
        **facts,
    }
    return value(number, "squared feature units", False, "fid", **facts)


def loglik(number, *, k: int = 1000, **facts) -> dict:
    facts = {"importance_samples_K": k, "options": {"samples": k, "batch_size": 100}, **facts}
    return value(number, "nats", True, "log-likelihood", **facts)


def evaluation(**values) -> dict:
    """A format-2 evaluation.json holding ``values`` (flat keys and metrics as genmod writes)."""
    metrics: dict = {}
    for name, record in values.items():
        metrics.setdefault(record["metric"], {"values": []})["values"].append(name)
    return {
        "format": 2,
        "run_dir": "/somewhere/else",
        "test_size": 10000,
        "environment": {},
        "metrics": metrics,
        "values": values,
        **{name: record["value"] for name, record in values.items()},
    }


def make_run(
    root: Path, name: str, found: dict | str | bytes | None = None, test_elbo=-100.0, **config
) -> Path:
    run = root / name
    run.mkdir(parents=True)
    write_config(run, RunConfig(epochs=1, **config), {"data_shape": [28, 28, 1]})
    rundir.append_metrics(run, {"epoch": 1, "test_elbo": test_elbo, "validation_elbo": -99.0})
    rundir.write_summary(run, {"status": "finished"})
    if isinstance(found, dict):
        (run / "evaluation.json").write_text(json.dumps(found))
    elif isinstance(found, str):
        (run / "evaluation.json").write_text(found)
    elif isinstance(found, bytes):
        (run / "evaluation.json").write_bytes(found)
    return run


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def table(*args: object) -> list[list[str]]:
    """The table's lines as cells (split on runs of two spaces), without the footnotes."""
    result = invoke("compare", *args)
    assert result.exit_code == 0, result.output
    lines = result.output.split("\n\n")[0].splitlines()
    return [[c.strip() for c in line.split("  ") if c.strip()] for line in lines]


def footnotes(*args: object) -> list[str]:
    result = invoke("compare", *args)
    assert result.exit_code == 0, result.output
    parts = result.output.split("\n\n", 1)
    return parts[1].splitlines() if len(parts) > 1 else []


def cells(rows: list[list[str]], run: str) -> dict[str, str]:
    """One run's row as {column name: cell} (names without their marks)."""
    header = [h.rstrip("†") for h in rows[0]]
    row = next(r for r in rows[2:] if r[0] == run)
    return dict(zip(header, row, strict=True))


@pytest.fixture
def three(tmp_path: Path) -> Path:
    """a: better log-likelihood, b: better FID and test ELBO, c: not evaluated."""
    make_run(
        tmp_path,
        "a",
        evaluation(
            log_likelihood=loglik(-90.123456),
            fid=fid(12.3456),
            mig=value(0.3, "score", True, "mig"),
            mig_per_factor=value([0.1, 0.5], "score", True, "mig"),
            active_units=value(16, "count", None, "active-units"),
        ),
        test_elbo=-101.0,
    )
    make_run(
        tmp_path,
        "b",
        evaluation(
            log_likelihood=loglik(-95.0),
            fid=fid(5.5),
            active_units=value(12, "count", None, "active-units"),
        ),
        test_elbo=-99.5,
    )
    make_run(tmp_path, "c", test_elbo=-120.0)
    return tmp_path


def test_values_side_by_side_with_units_and_the_best_run_marked(three):
    rows = table(three)
    assert rows[0] == ["RUN", "test_elbo", "log_likelihood", "fid", "mig", "active_units"]
    assert rows[1] == ["nats", "nats", "squared feature units", "score", "count"]
    a, b, c = cells(rows, "a"), cells(rows, "b"), cells(rows, "c")
    # 4 significant digits; higher is better for the log-likelihood, lower for the FID
    assert a["log_likelihood"] == "-90.12*" and b["log_likelihood"] == "-95.00"
    assert a["fid"] == "12.35" and b["fid"] == "5.500*"
    assert b["test_elbo"] == "-99.50*" and c["test_elbo"] == "-120.0"
    # one run has MIG: nothing to compare it with, no mark; counts have no better direction
    assert a["mig"] == "0.3000" and a["active_units"] == "16" and b["active_units"] == "12"
    # c was never evaluated: its evaluation values are missing, not damaged
    assert c["log_likelihood"] == c["fid"] == c["mig"] == "-"
    assert footnotes(three)[0].startswith("* the best run of the column")


def test_per_factor_lists_only_when_asked_by_name(three):
    assert "mig_per_factor" not in invoke("compare", three).output
    rows = table(three, "--value", "mig_per_factor")
    assert rows[0] == ["RUN", "mig_per_factor"]
    assert cells(rows, "a")["mig_per_factor"] == "[0.1000, 0.5000]"
    assert cells(rows, "b")["mig_per_factor"] == "-"


def test_choosing_and_sorting_columns(three):
    rows = table(three, "--value", "fid,log_likelihood", "--sort", "fid")
    assert rows[0] == ["RUN", "fid", "log_likelihood"]
    assert [r[0] for r in rows[2:]] == ["b", "a", "c"]  # the lowest FID first, none last
    rows = table(three, "--value", "fid", "--value", "mig", "--sort", "log_likelihood")
    assert rows[0] == ["RUN", "fid", "mig", "log_likelihood"]  # the sort column is shown
    assert [r[0] for r in rows[2:]] == ["a", "b", "c"]
    # a metric's name gives its single numbers (not its lists)
    assert table(three, "--value", "mig")[0] == ["RUN", "mig"]
    result = CliRunner().invoke(cli, ["compare", str(three), "--value", "fdi"])
    assert result.exit_code == 2 and "no run has a value or metric named 'fdi'" in result.output
    assert "fid" in result.output  # the values it has


@pytest.mark.parametrize(
    ("changed", "fact"),
    [
        ({"sha": SHA_B}, "extractor_weights_sha256"),
        ({"samples": 5000}, "generated_samples"),
        ({"test_size": 300, "real_items": 300}, "test_size"),
        ({"metric_version": "2"}, "metric_version"),
        ({"sampler": {"name": "gmm", "options": {"components": 10}}}, "sampler"),
        ({"dataset_options": {"size": 16}}, "dataset"),
    ],
)
def test_values_measured_differently_are_marked_and_not_ranked(tmp_path, changed, fact):
    make_run(tmp_path, "a", evaluation(fid=fid(10.0)))
    make_run(tmp_path, "b", evaluation(fid=fid(20.0, **changed)))
    rows = table(tmp_path, "--value", "fid")
    assert rows[0] == ["RUN", "fid†"]
    assert "*" not in cells(rows, "a")["fid"]  # no best among values that do not compare
    (note,) = [n for n in footnotes(tmp_path, "--value", "fid") if n.startswith("†")]
    assert note.startswith("† fid: measured differently") and f"{fact} (a: " in note
    result = json.loads(invoke("compare", tmp_path, "--json").output)
    (column,) = [c for c in result["columns"] if c["name"] == "fid"]
    assert column["comparable"] is False and column["best"] == []
    assert fact in column["differs"]


def test_differences_that_do_not_change_numbers_are_ignored(tmp_path):
    """Paths, times, seeds of the machine and resource options differ between any two
    evaluations; the same weights (by sha256) at two paths are the same extractor."""
    make_run(tmp_path, "a", evaluation(fid=fid(10.0), log_likelihood=loglik(-90.0)))
    other = loglik(-95.0, computed_at="2027-01-01", run="/elsewhere")
    other["method"]["options"] = {"samples": 1000, "batch_size": 7, "chunk_size": 3}
    other_fid = fid(20.0)
    other_fid["method"]["extractor"]["weights"] = "/another/cache/classifier.weights.h5"
    make_run(tmp_path, "b", evaluation(fid=other_fid, log_likelihood=other))
    rows = table(tmp_path, "--value", "fid,log_likelihood")
    assert rows[0] == ["RUN", "fid", "log_likelihood"]
    assert cells(rows, "a")["fid"] == "10.00*" and cells(rows, "a")["log_likelihood"] == "-90.00*"


def test_k_is_named_once_though_it_is_also_an_option(tmp_path):
    make_run(tmp_path, "a", evaluation(log_likelihood=loglik(-90.0, k=5)))
    make_run(tmp_path, "b", evaluation(log_likelihood=loglik(-95.0, k=1000)))
    (note,) = [n for n in footnotes(tmp_path) if n.startswith("†")]
    assert "importance_samples_K (a: 5; b: 1000)" in note and "options.samples" not in note


def test_json_gives_values_units_and_the_facts_compared(three):
    result = json.loads(invoke("compare", three, "--json").output)
    runs = {Path(r["run"]).name: r for r in result["runs"]}
    assert runs["a"]["evaluation_format"] == 2 and runs["c"]["evaluation_format"] is None
    record = runs["a"]["values"]["fid"]
    assert record["value"] == 12.3456 and record["unit"] == "squared feature units"
    assert record["higher_is_better"] is False and record["metric"] == "fid"
    facts = record["method_facts"]
    assert facts["extractor"] == "domain-classifier" and facts["extractor_weights_sha256"] == SHA_A
    assert facts["sampler"] == "prior" and facts["generated_samples"] == 10000
    assert facts["test_size"] == 10000 and facts["metric_version"] == "1"
    assert facts["options"] == {}  # batch_size does not change the numbers
    assert runs["a"]["values"]["mig_per_factor"]["value"] == [0.1, 0.5]  # JSON has the lists
    assert runs["c"]["values"]["test_elbo"]["method_facts"]["test_size"] == "all"
    columns = {c["name"]: c for c in result["columns"]}
    assert columns["fid"]["best"] == [str(three / "b")] and columns["fid"]["comparable"]
    assert columns["test_elbo"]["source"] == "metrics.jsonl"
    only = json.loads(invoke("compare", three, "--json", "--value", "fid").output)
    assert [c["name"] for c in only["columns"]] == ["fid"]
    assert set(only["runs"][0]["values"]) == {"fid"}


def test_runs_of_several_folders_side_by_side(tmp_path):
    make_run(tmp_path / "first", "x", evaluation(fid=fid(10.0)))
    make_run(tmp_path / "second", "x", evaluation(fid=fid(7.0)))
    make_run(tmp_path / "second", "y", evaluation(fid=fid(8.0)))
    rows = table(tmp_path / "first", tmp_path / "second" / "y", tmp_path / "second")
    # the two runs named x are told apart by their paths; y, named twice, appears once
    assert [r[0] for r in rows[2:]] == [
        str(tmp_path / "first" / "x"),
        "y",
        str(tmp_path / "second" / "x"),
    ]
    assert cells(rows, str(tmp_path / "second" / "x"))["fid"] == "7.000*"


def test_flat_evaluation_files_of_earlier_versions(tmp_path):
    flat = {
        "run_dir": "x",
        "binarize": "dynamic",
        "seed": 0,
        "log_likelihood": -95.4321,
        "nll": 95.4321,
        "elbo": -99.0,
        "num_samples": 1000,
        "test_size": 10000,
        "active_units": 16,
        "seconds": 12.5,
        "latent_dim": 16,
    }
    make_run(tmp_path, "old", flat)
    make_run(tmp_path, "older", {**flat, "log_likelihood": -97.0})
    rows = table(tmp_path)
    assert rows[0] == ["RUN", "test_elbo", "log_likelihood", "nll", "elbo", "active_units"]
    assert rows[1] == ["nats", "nats", "nats", "nats", "count"]  # facts are not values
    assert cells(rows, "old")["log_likelihood"] == "-95.43*"
    # next to a current file, the unknown metric version is named
    make_run(tmp_path, "new", evaluation(log_likelihood=loglik(-90.0)))
    (note,) = [n for n in footnotes(tmp_path) if n.startswith("†")]
    assert note.startswith("† log_likelihood: measured differently")
    assert "metric_version (new: 1; old, older: not recorded)" in note
    result = json.loads(invoke("compare", tmp_path, "--json").output)
    old = next(r for r in result["runs"] if r["run"].endswith("old"))
    assert old["evaluation_format"] == 1
    assert old["values"]["log_likelihood"]["method_facts"]["importance_samples_K"] == 1000


CRAFTED = {
    "not-an-object": "[1, 2, 3]",
    "not-json": "{'log_likelihood': -90",
    "not-utf8": b"\xff\xfe{}",
    "deeply-nested": "[" * 100000 + "]" * 100000,
    "unknown-format": json.dumps({"format": "two", "values": {}}),
    "values-a-list": json.dumps({"format": 2, "values": [1, 2]}),
    "records-not-objects": json.dumps({"format": 2, "values": {"fid": "12", "log_likelihood": 5}}),
    "nan-and-infinity": '{"format": 2, "values": {"fid": {"value": NaN, "unit": "u"}, '
    '"log_likelihood": {"value": Infinity, "unit": "nats"}}}',
    "huge-strings": json.dumps(
        {
            "format": 2,
            "values": {
                "x" * 200000: {
                    "value": 1.0,
                    "unit": "u" * 200000,
                    "method": {"metric": "m" * 10**6},
                },
                "fid": {"value": "y" * 100000, "unit": "squared feature units"},
            },
        }
    ),
    "wrong-types": json.dumps(
        {
            "format": 2,
            "values": {
                "fid": {"value": True, "unit": 3, "higher_is_better": "yes", "method": [1]},
                "log_likelihood": {"value": [1, "a"], "unit": "nats", "method": {"options": 5}},
            },
        }
    ),
    "terminal-escapes": json.dumps(
        {"format": 2, "values": {"\x1b[2J\x1b[31mred\n": {"value": 1, "unit": "\x1b]0;title\x07"}}}
    ),
    "huge-integer": '{"format": 2, "values": {"fid": {"value": 1' + "0" * 400 + ', "unit": "u"}}}',
    "flat-with-junk": json.dumps({"log_likelihood": "high", "nll": {"a": 1}, "active_units": None}),
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_evaluation_files_mark_their_run_and_never_stop_the_table(tmp_path, name):
    make_run(tmp_path, "good", evaluation(fid=fid(10.0), log_likelihood=loglik(-90.0)))
    make_run(tmp_path, "other", evaluation(fid=fid(12.0), log_likelihood=loglik(-91.0)))
    make_run(tmp_path, "crafted", CRAFTED[name])
    result = invoke("compare", tmp_path)
    assert result.exit_code == 0, result.output
    rows, notes = result.output.split("\n\n", 1)
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert max(len(line) for line in result.output.splitlines()) < 400
    rows = [[c.strip() for c in line.split("  ") if c.strip()] for line in rows.splitlines()]
    good, crafted = cells(rows, "good"), cells(rows, "crafted")
    assert good["fid"] == "10.00*" and good["log_likelihood"] == "-90.00*"
    assert crafted["test_elbo"].rstrip("*") == "-100.0"  # its metrics.jsonl is fine
    if name != "terminal-escapes":  # that one is well-formed: its name is shown, made harmless
        assert "?" in crafted.values(), result.output
        assert any(line.startswith("? crafted:") for line in notes.splitlines()), notes
    listed = json.loads(invoke("compare", tmp_path, "--json").output)  # valid JSON: no NaN
    assert len(listed["runs"]) == 3


def test_a_damaged_config_or_metrics_file_marks_the_row(tmp_path):
    make_run(tmp_path, "good", evaluation(fid=fid(10.0)))
    bad = make_run(tmp_path, "bad-config", evaluation(fid=fid(1.0)))
    (bad / "config.toml").write_bytes(b"\x00\xff\xfe")
    odd = make_run(tmp_path, "odd-metrics", evaluation(fid=fid(2.0)))
    (odd / "metrics.jsonl").write_text('{"epoch": 1, "test_elbo": "high"}\n')
    rows = table(tmp_path)
    assert cells(rows, "bad-config") == {"RUN": "bad-config", "test_elbo": "?", "fid": "?"}
    assert cells(rows, "odd-metrics")["test_elbo"] == "?"
    assert cells(rows, "odd-metrics")["fid"] == "2.000*"
    notes = footnotes(tmp_path)
    assert any(n.startswith("? bad-config (unreadable): config.toml") for n in notes), notes
    assert any(n.startswith("? odd-metrics: test_elbo") for n in notes), notes


def test_nothing_is_read_through_links_that_leave_the_run(tmp_path):
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "evaluation.json").write_text(json.dumps(evaluation(fid=fid(0.0012345))))
    outside_run = make_run(secret, "private-run", evaluation(fid=fid(0.0054321)))
    runs = tmp_path / "runs"
    make_run(runs, "good", evaluation(fid=fid(10.0)))
    linked = make_run(runs, "linked")
    (linked / "evaluation.json").symlink_to(secret / "evaluation.json")
    fifo = make_run(runs, "fifo")
    os.mkfifo(fifo / "evaluation.json")  # reading it would wait forever
    borrowed = make_run(runs, "borrowed-config")
    (borrowed / "config.toml").unlink()
    (borrowed / "config.toml").symlink_to(outside_run / "config.toml")
    (borrowed / "metrics.jsonl").unlink()
    (borrowed / "metrics.jsonl").symlink_to(outside_run / "metrics.jsonl")
    (linked / "metrics.jsonl").unlink()
    (linked / "metrics.jsonl").symlink_to(outside_run / "metrics.jsonl")
    (runs / "alias").symlink_to(outside_run)
    (runs / "same").symlink_to(runs / "good")  # inside: the same run, listed once
    result = invoke("compare", runs, "--json")
    assert "0.0012345" not in result.output and "0.0054321" not in result.output
    listed = {Path(r["run"]).name: r for r in json.loads(result.output)["runs"]}
    assert set(listed) == {"alias", "borrowed-config", "fifo", "good", "linked"}
    assert listed["alias"]["status"] == "refused" and listed["alias"]["values"] == {}
    assert listed["borrowed-config"]["status"] == "refused"
    assert "leads outside the run folder" in listed["linked"]["notes"][0]
    assert "not a regular file" in listed["fifo"]["notes"][0]
    rows = table(runs)
    assert cells(rows, "linked")["fid"] == "?" and cells(rows, "alias")["fid"] == "?"
    assert cells(rows, "linked")["test_elbo"] == "?"  # its metrics.jsonl leads outside too
    assert cells(rows, "borrowed-config") == {
        "RUN": "borrowed-config",
        "test_elbo": "?",
        "fid": "?",
    }


def test_four_significant_digits():
    assert format_number(-196.6993093617757) == "-196.7"
    assert format_number(58.16092090708963) == "58.16"
    assert format_number(0.06154979593323) == "0.06155"
    assert format_number(-12345.678) == "-12346"
    assert format_number(16) == "16" and format_number(0.0) == "0"
    assert format_number(1.234e-7) == "1.234e-07" and format_number(10**30) == "1.000e+30"


def test_compare_imports_no_tensorflow(three):
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from genmod.cli import cli\n"
        f"r = CliRunner().invoke(cli, ['compare', {str(three)!r}, '--sort', 'fid'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(k for k in ('tensorflow', 'keras') if k in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_genmod_runs_does_not_hang_on_planted_fifos(tmp_path):
    """A FIFO named like a run's JSON files would block a plain read forever."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    source = tmp_path / "r"
    source.mkdir()
    write_config(source, RunConfig(epochs=1), {"data_shape": [28, 28, 1]})
    for name in ("evaluation.json", "summary.json", "metrics.jsonl"):
        os.mkfifo(source / name)
    genmod = Path(sys.executable).with_name("genmod")
    done = subprocess.run(
        [str(genmod), "runs", str(tmp_path), "--json"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    (listed,) = json.loads(done.stdout)
    assert listed["run"] == str(source) and listed["status"] in ("started", "running or killed")
