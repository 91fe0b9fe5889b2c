"""bench/anchors.py on small synthetic CSVs; every expected figure is computed here, from the
numbers written, not read back from the tool.

    python3 -m pytest tests/bench
"""
import csv
import math
import os
import random
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "bench", "anchors.py")

SUITE_A = [("ma", "a", 4096, 4096), ("ma", "big", 8192, 8192)]  # 8192 * 8192 bytes = 64 MiB
SUITE_B = [("mb", "c", 2048, 2048)]
MS = [1, 16, 24, 256, 512, 1024]  # 24 and 512: the ends of (b)'s range
COPY_TBPS = 4.0


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)


def write_shapes(path, rows):
    with open(path, "w") as f:
        f.write("# a comment\nmodel,layer,N,K\n")
        f.writelines(f"{a},{b},{n},{k}\n" for a, b, n, k in rows)


def us_for_pct(n, k, pct):
    """The time that reads an N*K weight at pct% of COPY_TBPS."""
    return n * k / (pct / 100 * COPY_TBPS * 1e12) * 1e6


def make_run(tmp_path):
    """Writes the CSVs of one run; returns their paths and the numbers written."""
    rng = random.Random(7)
    shapes = [(f"{a}.{b}", n, k) for a, b, n, k in SUITE_A + SUITE_B]
    truth = {}  # (shape, M) -> dict of what was written
    for shape, n, k in shapes:
        for m in MS:
            f = 10.0 + m * n * k / 1e9
            truth[(shape, m)] = {
                "n": n, "k": k, "fp8jit": f,
                "heuristic": f / rng.uniform(0.85, 1.05),
                "cublas_a": f * rng.uniform(0.9, 1.3), "cublas_h": f * rng.uniform(0.9, 1.3),
                "torch": f * rng.uniform(0.9, 1.3), "triton": f * rng.uniform(0.9, 1.3),
                "cutlass": f * rng.uniform(0.9, 1.3), "cutlass_err": 2e-3,
            }
    # Special points: the decode figures of the big weight, a heuristic far behind, torch the fastest
    # (not counted by default), CUTLASS missing, Triton failed, CUTLASS inaccurate.
    truth[("ma.big", 1)]["fp8jit"] = us_for_pct(8192, 8192, 95.0)
    truth[("ma.big", 16)]["fp8jit"] = us_for_pct(8192, 8192, 90.0)
    truth[("ma.a", 24)]["heuristic"] = truth[("ma.a", 24)]["fp8jit"] / 0.75
    p = truth[("ma.a", 256)]
    p["torch"] = 0.5 * p["fp8jit"]
    p["cublas_a"] = p["cublas_h"] = 2.0 * p["fp8jit"]
    p["triton"], p["cutlass"] = 1.5 * p["fp8jit"], 1.8 * p["fp8jit"]
    truth[("mb.c", 1024)]["cutlass"] = None
    truth[("mb.c", 16)]["triton"] = math.nan
    truth[("ma.a", 1024)]["cutlass_err"] = 0.05

    paths = {x: str(tmp_path / f"{x}.csv") for x in ("auto", "heur", "compare", "cutlass")}
    for label, col, cublas in (("auto", "fp8jit", "cublas_a"), ("heur", "heuristic", "cublas_h")):
        with open(paths[label], "w") as f:
            f.write("shape,M,N,K,copies,fp8jit_us,cublas_us,ratio,tflops,tbps,fp8jit_err,cublas_err,"
                    "copy_tbps,weight_tbps,weight_pct_copy,cublas_weight_pct_copy\n")
            for (shape, m), p in truth.items():
                f.write(f"{shape},{m},{p['n']},{p['k']},4,{p[col]!r},{p[cublas]!r},1,1,1,1.0e-03,"
                        f"1.0e-03,{COPY_TBPS},1,1,1\n")
    with open(paths["compare"], "w") as f:
        f.write("shape,M,N,K,copies,fp8jit_us,torch_us,triton_us,vs_torch,vs_triton,fp8jit_err,"
                "torch_err,triton_err,torch_bias,triton_config\n")
        for (shape, m), p in truth.items():
            xe = "inf" if math.isnan(p["triton"]) else "0.001"
            f.write(f"{shape},{m},{p['n']},{p['k']},4,,{p['torch']!r},{p['triton']!r},,,,0.001,{xe},1,"
                    f"16x64x256 g8 w4 s4\n")
    with open(paths["cutlass"], "w") as f:
        f.write("model,layer,M,N,K,copies,us,tflops,tbps,rel_err,config\n")
        for (shape, m), p in truth.items():
            if p["cutlass"] is not None:
                model, layer = shape.split(".")
                f.write(f"{model},{layer},{m},{p['n']},{p['k']},4,{p['cutlass']!r},1,1,"
                        f"{p['cutlass_err']},cfg\n")
    write_shapes(tmp_path / "a.csv", SUITE_A)
    write_shapes(tmp_path / "b.csv", SUITE_B)
    return paths, truth


def expected_best(p, count_torch=False):
    """(name, us) of the fastest anchor: cuBLASLt the faster of the two bench runs."""
    times = {"cublas": min(p["cublas_a"], p["cublas_h"]), "triton": p["triton"],
             "cutlass": p["cutlass"]}
    if count_torch:
        times["torch"] = p["torch"]
    times = {a: t for a, t in times.items() if t is not None and not math.isnan(t)}
    name = min(times, key=times.get)
    return name, times[name]


def section(report, heading):
    """The lines of the report's section whose heading starts with `heading`."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start + 1:end]


def table_rows(lines):
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines
            if line.startswith("|")]
    return rows[2:]  # after the header and the rule


def geomean(values):
    return math.prod(values) ** (1 / len(values))


@pytest.fixture
def run(tmp_path):
    paths, truth = make_run(tmp_path)
    joined = str(tmp_path / "joined.csv")
    out = str(tmp_path / "report.md")
    result = run_tool("--fp8jit", f"auto={paths['auto']}", "--fp8jit", f"heur={paths['heur']}",
                      "--compare", paths["compare"], "--cutlass", paths["cutlass"],
                      "--suite", f"A={tmp_path / 'a.csv'}", "--suite", f"B={tmp_path / 'b.csv'}",
                      "--csv", joined, "--out", out)
    assert result.returncode == 0, result.stderr
    with open(joined) as f:
        rows = {(r["shape"], int(r["M"])): r for r in csv.DictReader(f)}
    with open(out) as f:
        assert f.read() == result.stdout
    return result.stdout, rows, truth


def test_help():
    result = run_tool("--help")
    assert result.returncode == 0
    assert "--fp8jit LABEL=FILES" in result.stdout and "--count-torch" in result.stdout


def test_ratio_and_best_anchor_of_every_point(run):
    report, rows, truth = run
    assert len(rows) == len(truth)
    for key, p in truth.items():
        name, best = expected_best(p)
        row = rows[key]
        assert row["best_anchor"] == name, key
        assert float(row["ratio_auto"]) == pytest.approx(best / p["fp8jit"], rel=1e-5), key
        assert float(row["ratio_heur"]) == pytest.approx(best / p["heuristic"], rel=1e-5), key
    # torch is the fastest at ma.a M=256 but is not counted: Triton (1.5x) is the best anchor.
    assert rows[("ma.a", 256)]["best_anchor"] == "triton"
    assert float(rows[("ma.a", 256)]["ratio_auto"]) == pytest.approx(1.5, rel=1e-5)


def test_torch_counts_when_asked(tmp_path):
    paths, truth = make_run(tmp_path)
    joined = str(tmp_path / "joined.csv")
    result = run_tool("--fp8jit", f"auto={paths['auto']}", "--compare", paths["compare"],
                      "--count-torch", "--csv", joined)
    assert result.returncode == 0, result.stderr
    with open(joined) as f:
        row = next(r for r in csv.DictReader(f) if r["shape"] == "ma.a" and r["M"] == "256")
    assert row["best_anchor"] == "torch"
    assert float(row["ratio_auto"]) == pytest.approx(0.5, rel=1e-5)


def test_missing_failed_and_inaccurate_are_shown(run):
    report, rows, truth = run
    assert rows[("mb.c", 1024)]["cutlass_us"] == ""
    assert rows[("mb.c", 1024)]["anchors_missing"] == "cutlass"
    assert rows[("mb.c", 16)]["triton_us"] == "nan"
    assert rows[("mb.c", 16)]["anchors_missing"] == "triton"
    assert "CUTLASS" in rows[("ma.a", 1024)]["accuracy_failures"]
    assert "Triton" in rows[("mb.c", 16)]["accuracy_failures"]  # its error is inf
    points = {(r[1], int(r[2])): r for r in table_rows(section(report, "## All points"))}
    assert "missing" in points[("mb.c", 1024)] and "failed" in points[("mb.c", 16)]
    sources = {r[0]: r for r in table_rows(section(report, "## Sources"))}
    n = len(truth)
    assert sources["CUTLASS"][2:7] == [str(n - 1), str(n - 1), "0", "1", "1"]
    assert sources["Triton"][2:6] == [str(n), str(n - 1), "1", "1"]


def test_points_below_the_target_worst_first(run):
    report, rows, truth = run
    ratios = {key: expected_best(p)[1] / p["fp8jit"] for key, p in truth.items()}
    below = sorted((r, key) for key, r in ratios.items() if r < 0.97)
    assert below, "the synthetic run must have points below 0.97x"
    listed = table_rows(section(report, "## (a)"))
    assert [(r[1], int(r[2])) for r in listed] == [key for _, key in below]
    assert [r[-1].rstrip("*") for r in listed] == [f"{r:.3f}" for r, _ in below]
    assert "**MISSED**" in "\n".join(section(report, "## (a)"))


def test_geomean_over_m_24_to_512_per_suite(run):
    report, rows, truth = run
    table = {r[0]: r for r in table_rows(section(report, "## (b)"))}
    suites = {"A": {f"{a}.{b}" for a, b, _, _ in SUITE_A}, "B": {f"{a}.{b}" for a, b, _, _ in SUITE_B}}
    for suite, shapes in list(suites.items()) + [("all", None)]:
        for column, variant in ((2, "fp8jit"), (3, "heuristic")):
            ratios = [expected_best(p)[1] / p[variant] for (shape, m), p in truth.items()
                      if 24 <= m <= 512 and (shapes is None or shape in shapes)]
            value, count = table[suite][column].split()
            assert float(value) == pytest.approx(geomean(ratios), abs=6e-4), (suite, variant)
            assert count == f"({len(ratios)})"


def test_heuristic_against_primary(run):
    report, rows, truth = run
    ratios = {key: p["fp8jit"] / p["heuristic"] for key, p in truth.items()}
    text = "\n".join(section(report, "## (d)"))
    assert f"Geometric mean {geomean(list(ratios.values())):.3f}" in text
    below = sorted((r, key) for key, r in ratios.items() if r < 0.80)
    assert [key for _, key in below] == [("ma.a", 24)]
    listed = table_rows(section(report, "## (d)"))[-1]
    assert listed[1:3] == ["ma.a", "24"] and listed[-1] == "0.750"


def test_decode_worst_percentage_of_copy(run):
    report, rows, truth = run
    assert float(rows[("ma.big", 1)]["fp8jit_auto_weight_pct_copy"]) == pytest.approx(95.0, rel=1e-5)
    table = {r[1]: r for r in table_rows(section(report, "## (e)"))}
    assert set(table) == {"ma.big"}  # the only weight of >= 64 MiB
    assert table["ma.big"][4] == "90.0% (M=16)"
    assert "**MISSED**" in "\n".join(section(report, "## (e)"))


def test_best_anchor_counts_per_m(run):
    report, rows, truth = run
    table = {int(r[0]): r for r in table_rows(section(report, "## (f)"))}
    for m in MS:
        names = [expected_best(p)[0] for (shape, mm), p in truth.items() if mm == m]
        assert table[m][1:4] == [str(names.count(a)) for a in ("cublas", "triton", "cutlass")]


def test_unreadable_input_exits_2(tmp_path):
    result = run_tool("--fp8jit", f"auto={tmp_path / 'absent.csv'}")
    assert result.returncode == 2 and "absent.csv" in result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("shape,M,N,K\nx,1,16,32\n")
    result = run_tool("--fp8jit", f"auto={bad}")
    assert result.returncode == 2 and "fp8jit_us" in result.stderr
