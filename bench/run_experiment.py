#!/usr/bin/env python3
"""Runs the device experiments whose results live under bench/results/, one subcommand per kind.

Every subcommand writes into --out (default $OUT, else ./exp-out): a device.txt (nvidia-smi), one
.log per command with its exit status appended ("rc=N"), and the CSVs the commands write; it then
prints a summary. --dry-run prints the commands instead of running them (no GPU needed).

  device    record the GPU (name, driver, memory, clocks, UUID) in device.txt
  bench     `fp8jit bench` for one or more binaries ("variants"), interleaved over --passes
  tune      `fp8jit tune`, optionally followed by a bench with the new rows over the tables
  tests     the GPU test selection of tests/fp8jit_tests, with the gemm-check tally
  sanitize  scripts/gpu-sanitize (compute-sanitizer) with the forced config kinds
  ncu       Nsight Compute on one kernel of a one-shape bench
  suite     bench (all shapes, all M) + tests (+ sanitize with --sanitize): a "final" run
  summary   per-M geomeans (and per-point times) of bench CSVs already written
  trace     summarise the %globaltimer stamps printed by a trace patch (main or sk)

A variant is NAME=BINARY[,key=value...]: BINARY is an fp8jit executable (or a build directory
holding one); keys: pdl=0|1 (FP8JIT_PDL), tables=A.csv:B.csv (FP8JIT_TUNED_TABLES; `none`: the
heuristic alone; the word `shipped` in the list stands for tuned/*.csv), min-calls=N (passed to
bench), cache=DIR (FP8JIT_CACHE_DIR; default one directory per variant under /tmp), and any
FP8JIT_* variable. Without --variant the binary is BUILD/fp8jit, named `build`.

Examples:
  bench/run_experiment.py suite --sanitize
  bench/run_experiment.py bench --m 256,1024 --passes 2 --variant main=abv/main \\
      --variant wg2=abv/wg2 --baseline main
  bench/run_experiment.py bench --m 256,1024,4096,8192 --passes 2 --sample-smi \\
      --variant calls1=build-gpu/fp8jit,min-calls=1 --variant calls8=build-gpu/fp8jit,min-calls=8
  bench/run_experiment.py tune --m 16 --candidates 24 --bench-after 1,16
  bench/run_experiment.py ncu --shape 6144,4096 --m 1024 --kernel fp8gemm --source-counters
  bench/run_experiment.py summary bench/results/h100-suite-shipped-table/final/bench.csv
"""
import argparse
import csv
import glob
import gzip
import math
import os
import shlex
import shutil
import statistics as st
import subprocess
import sys
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------------------------
# Running commands


class Runner:
    def __init__(self, out, dry_run, timeout):
        self.out, self.dry_run, self.timeout = os.path.abspath(out), dry_run, timeout
        if not dry_run:
            os.makedirs(self.out, exist_ok=True)

    def path(self, name):
        return os.path.join(self.out, name)

    def run(self, name, cmd, env=None, timeout=None):
        """Runs cmd with stdout and stderr in OUT/name.log, appends "rc=N"; returns N."""
        env_s = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted((env or {}).items()))
        line = (env_s + " " if env_s else "") + " ".join(shlex.quote(c) for c in cmd)
        print(f"== {name}: {line}", flush=True)
        if self.dry_run:
            return 0
        full_env = dict(os.environ, **(env or {}))
        log = self.path(name + ".log")
        with open(log, "w") as f:
            try:
                rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=full_env,
                                    cwd=REPO, timeout=timeout or self.timeout).returncode
            except subprocess.TimeoutExpired:
                rc = 124
            except OSError as e:
                f.write(f"failed to start: {e}\n")
                rc = 127
        with open(log, "a") as f:
            f.write(f"rc={rc}\n")
        return rc

    def device(self):
        q = "name,driver_version,memory.total,clocks.max.sm,power.limit,uuid"
        cmd = ["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader"]
        print("== device.txt: " + " ".join(cmd))
        if self.dry_run or os.path.exists(self.path("device.txt")):
            return
        try:
            text = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired) as e:
            text = f"nvidia-smi failed: {e}\n"
        with open(self.path("device.txt"), "w") as f:
            f.write(text)

    def tail(self, name, pattern=None, n=12):
        if self.dry_run:
            return
        try:
            lines = open(self.path(name + ".log"), errors="replace").read().splitlines()
        except OSError:
            return
        if pattern:
            lines = [x for x in lines if any(p in x for p in pattern)]
        for x in lines[-n:]:
            print("   " + x)


def build_dir(args):
    return args.build if os.path.isabs(args.build) else os.path.join(REPO, args.build)


def expand_tables(spec):
    """`shipped` in a colon list stands for the repository's tuned/*.csv."""
    if spec is None or spec == "none":
        return spec
    parts = []
    for p in spec.split(":"):
        parts += sorted(glob.glob(os.path.join(REPO, "tuned", "*.csv"))) if p == "shipped" else [p]
    return ":".join(parts)


def shapes_file(args, runner):
    """--shapes FILE, or --shape N,K ... written to OUT/shapes.txt, or None (the model preset)."""
    if getattr(args, "shapes", None):
        return args.shapes
    if getattr(args, "shape", None):
        path = runner.path("shapes.txt")
        if not runner.dry_run:
            with open(path, "w") as f:
                f.write("".join(s + "\n" for s in args.shape))
        return path
    return None


class Variant:
    def __init__(self, spec):
        name, _, rest = spec.partition("=")
        if not name or not rest:
            raise SystemExit(f"bad --variant '{spec}': expected NAME=BINARY[,key=value...]")
        binary, *opts = rest.split(",")
        # Paths are relative to the repository root, where every command runs.
        if os.path.isdir(os.path.join(REPO, binary)):
            binary = os.path.join(binary, "fp8jit")
        self.name, self.binary, self.env, self.args = name, binary, {}, []
        self.env["FP8JIT_CACHE_DIR"] = f"/tmp/fp8jit-exp-cache/{name}"
        for o in opts:
            k, _, v = o.partition("=")
            if k == "pdl":
                self.env["FP8JIT_PDL"] = v
            elif k == "tables":
                self.env["FP8JIT_TUNED_TABLES"] = expand_tables(v)
            elif k == "min-calls":
                self.args += ["--min-calls", v]
            elif k == "cache":
                self.env["FP8JIT_CACHE_DIR"] = v
            elif k.startswith("FP8JIT_"):
                self.env[k] = v
            else:
                raise SystemExit(f"bad --variant option '{o}' in '{spec}'")


def common_env(args):
    env = {}
    if getattr(args, "tables", None):
        env["FP8JIT_TUNED_TABLES"] = expand_tables(args.tables)
    if getattr(args, "pdl", None) is not None:
        env["FP8JIT_PDL"] = str(args.pdl)
    return env


def bench_args(args, shapes):
    a = ["bench"]
    if shapes:
        a += ["--shapes", shapes]
    elif args.model:
        a += ["--model", args.model]
    if args.m:
        a += ["--m", args.m]
    if args.reps:
        a += ["--reps", str(args.reps)]
    if args.min_calls:
        a += ["--min-calls", str(args.min_calls)]
    return a


# ---------------------------------------------------------------------------------------------
# Summaries of bench CSVs


def load_bench(path):
    return list(csv.DictReader(open(path)))


def geomeans(rows):
    by_m = {}
    for r in rows:
        by_m.setdefault(int(r["M"]), []).append(float(r["cublas_us"]) / float(r["fp8jit_us"]))
    return {m: math.exp(sum(map(math.log, v)) / len(v)) for m, v in sorted(by_m.items())}


def summarise(files, baseline=None):
    """files: {label: [csv paths of its passes]}. Prints per-M geomeans of cuBLASLt / fp8jit per
    pass, per-point fp8jit us, and with a baseline label the geomean of each label's best time
    over the baseline's best (< 1: faster)."""
    data = {label: [load_bench(p) for p in paths] for label, paths in files.items()}
    ms = sorted({int(r["M"]) for runs in data.values() for rows in runs for r in rows})
    print("geomean cuBLASLt time / fp8jit time per M (one column per pass):")
    print("  %-24s " % "variant" + " ".join("%14s" % f"M={m}" for m in ms))
    for label, runs in data.items():
        g = [geomeans(rows) for rows in runs]
        cells = ["/".join("%.3f" % x[m] for x in g if m in x) or "-" for m in ms]
        print("  %-24s " % label + " ".join("%14s" % c for c in cells))
    points = []
    for runs in data.values():
        for rows in runs:
            for r in rows:
                if (r["shape"], r["M"]) not in points:
                    points.append((r["shape"], r["M"]))
    best = {label: {} for label in data}
    if len(files) > 1 or any(len(v) > 1 for v in files.values()):
        print("fp8jit us per point (one value per pass):")
        print("  %-20s %6s " % ("shape", "M") + " ".join("%20s" % label for label in data))
        for pt in points:
            cells = []
            for label, runs in data.items():
                t = [float(r["fp8jit_us"]) for rows in runs for r in rows if (r["shape"], r["M"]) == pt]
                if t:
                    best[label][pt] = min(t)
                cells.append("/".join("%.2f" % x for x in t) or "-")
            print("  %-20s %6s " % pt + " ".join("%20s" % c for c in cells))
    if baseline:
        if baseline not in data:
            raise SystemExit(f"--baseline {baseline}: no such variant")
        for label in data:
            common = [p for p in best[label] if p in best[baseline]]
            if common:
                g = math.exp(sum(math.log(best[label][p] / best[baseline][p]) for p in common) / len(common))
                print(f"  {label}: geomean fp8jit time against {baseline} (best of passes) {g:.3f}")


def tests_tally(runner, name):
    if runner.dry_run:
        return
    try:
        lines = open(runner.path(name + ".log"), errors="replace").read().splitlines()
    except OSError:
        return
    checks = [x for x in lines if x.startswith("gemm-check")]
    bad = [x for x in checks if not x.rstrip().endswith(" ok")]
    pdl = [x for x in lines if x.startswith("pdl-order") and x.rstrip().endswith(" ok")]
    print(f"   gemm-checks {len(checks)}, not ok {len(bad)}; pdl-order ok {len(pdl)}")
    for x in lines:
        if x.startswith("overhead:"):
            print("   " + x)
            break
    for x in lines[-4:]:
        print("   " + x)


# ---------------------------------------------------------------------------------------------
# Subcommands


def cmd_device(args, runner):
    runner.device()


def cmd_bench(args, runner):
    runner.device()
    shapes = shapes_file(args, runner)
    variants = [Variant(v) for v in args.variant] or \
        [Variant(f"build={os.path.join(build_dir(args), 'fp8jit')}")]
    smi = None
    if args.sample_smi and not runner.dry_run:
        q = "timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active"
        smi = subprocess.Popen(["nvidia-smi", f"--query-gpu={q}", "--format=csv", "-lms", "500"],
                               stdout=open(runner.path("smi.csv"), "w"), stderr=subprocess.STDOUT)
    files = {v.name: [] for v in variants}
    try:
        for p in range(1, args.passes + 1):
            for v in variants:
                parts = [args.name, v.name if len(variants) > 1 or v.name != "build" else None,
                         str(p) if args.passes > 1 else None]
                stem = "-".join(x for x in parts if x)
                csv_path = runner.path(stem + ".csv")
                env = dict(common_env(args), **v.env)
                rc = runner.run(stem, [v.binary] + bench_args(args, shapes) + v.args + ["--csv", csv_path], env)
                runner.tail(stem, ["geomean", "inaccurate"])
                if rc == 0 and not runner.dry_run:
                    files[v.name].append(csv_path)
    finally:
        if smi:
            smi.terminate()
    files = {k: v for k, v in files.items() if v}
    if files:
        summarise(files, args.baseline)


def cmd_tune(args, runner):
    runner.device()
    shapes = shapes_file(args, runner)
    fp8jit = os.path.join(build_dir(args), "fp8jit")
    env = common_env(args)
    env.setdefault("FP8JIT_CACHE_DIR", "/tmp/fp8jit-exp-cache/tune")
    sfx = f"-{args.name}" if args.name else ""
    out_csv = runner.path(f"tuned{sfx}.csv")
    cmd = [fp8jit, "tune", "--m", args.m, "--candidates", str(args.candidates), "--reps", str(args.reps),
           "--out", out_csv] + (["--shapes", shapes] if shapes else ["--model", args.model])
    runner.run(f"tune{sfx}", cmd, env)
    runner.tail(f"tune{sfx}", n=20)
    if args.bench_after:
        tables = env.get("FP8JIT_TUNED_TABLES") or expand_tables("shipped")
        tables = out_csv if tables == "none" else f"{tables}:{out_csv}"
        benv = dict(env, FP8JIT_TUNED_TABLES=tables)
        bcmd = [fp8jit, "bench"] + (["--shapes", shapes] if shapes else ["--model", args.model])
        if args.bench_after != "all":
            bcmd += ["--m", args.bench_after]
        bench_csv = runner.path(f"bench-tuned{sfx}.csv")
        if runner.run(f"bench-tuned{sfx}", bcmd + ["--csv", bench_csv], benv) == 0 and not runner.dry_run:
            summarise({"with the new rows": [bench_csv]})


def cmd_tests(args, runner):
    runner.device()
    exe = args.binary or os.path.join(build_dir(args), "tests", "fp8jit_tests")
    env = {"FP8JIT_CACHE_DIR": "/tmp/fp8jit-exp-cache/tests"}
    env.update(common_env(args))
    runner.run(args.name, [exe, args.select] + (["-s"] if args.verbose else []), env)
    tests_tally(runner, args.name)


def cmd_sanitize(args, runner):
    runner.device()
    env = {"OUT": runner.out, "FP8JIT_BUILD_DIR": args.build, "FP8JIT_TUNED_TABLES": args.tables or "none",
           "FP8JIT_CACHE_DIR": "/tmp/fp8jit-exp-cache/sanitize",
           "FP8JIT_SANITIZE_TIMEOUT": str(args.tool_timeout)}
    if args.tools:
        env["FP8JIT_SANITIZE_TOOLS"] = args.tools
    if args.tests:
        env["FP8JIT_SANITIZE_TESTS"] = args.tests
    runner.run("sanitize", [os.path.join(REPO, "scripts", "gpu-sanitize")], env,
               timeout=args.tool_timeout * 3 + 120)
    runner.tail("sanitize", ["sanitize ", "rc="], n=5)


NCU_SECTIONS = "SpeedOfLight,MemoryWorkloadAnalysis,SchedulerStats,WarpStateStats,Occupancy,LaunchStats"


def cmd_ncu(args, runner):
    runner.device()
    shapes = shapes_file(args, runner)
    if not shapes:
        raise SystemExit("ncu: give --shape N,K or --shapes FILE (one weight)")
    fp8jit = args.binary or os.path.join(build_dir(args), "fp8jit")
    sections = args.sections.split(",") + (["SourceCounters"] if args.source_counters else [])
    name = args.name or f"ncu-{args.kernel.strip('^').replace('(?!', 'not-').strip(')')}-m{args.m}"
    cmd = [args.ncu, "--kernel-name", f"regex:{args.kernel}", "--launch-skip", str(args.launch_skip),
           "--launch-count", "1"]
    for s in sections:
        cmd += ["--section", s]
    rep = runner.path(name)
    if args.source_counters:
        cmd += ["--import-source", "no", "-o", rep]
    cmd += [fp8jit, "bench", "--shapes", shapes, "--m", str(args.m), "--reps", "1", "--min-calls", "1"]
    env = dict(common_env(args), FP8JIT_CACHE_DIR="/tmp/fp8jit-exp-cache/ncu")
    runner.run(name, cmd, env)
    if args.source_counters:
        runner.run(name + "-details", [args.ncu, "-i", rep + ".ncu-rep", "--page", "details"])
        runner.run(name + "-sass", [args.ncu, "-i", rep + ".ncu-rep", "--page", "source", "--csv",
                                    "--print-source", "sass"])
        if not runner.dry_run:
            sass = runner.path(name + "-sass.log")
            if os.path.exists(sass):
                with open(sass, "rb") as f, gzip.open(runner.path(name + "-sass.csv.gz"), "wb") as g:
                    shutil.copyfileobj(f, g)
                os.remove(sass)
            if os.path.exists(rep + ".ncu-rep"):
                os.remove(rep + ".ncu-rep")
    runner.tail(name, ["Duration", "DRAM Throughput", "Compute (SM) Throughput", "Grid Size",
                       "Registers Per Thread", "rc="], n=10)


def cmd_suite(args, runner):
    args.variant, args.passes, args.baseline, args.sample_smi = [], 1, None, False
    args.name = "bench"
    cmd_bench(args, runner)
    args.name, args.select, args.binary, args.verbose = "gpu-tests", "[gpu]~[slow]", None, False
    cmd_tests(args, runner)
    if args.sanitize:
        args.tools, args.tests, args.tables = None, None, "none"
        cmd_sanitize(args, runner)


def cmd_summary(args, runner):
    files = {}
    for item in args.csv:
        label, _, path = item.rpartition("=")
        files.setdefault(label or os.path.basename(path), []).append(path)
    summarise(files, args.baseline)


# --- trace: the stamps printed by maintrace.patch ("SKP"/"SKC" lines) or sktrace.patch ("SKT").


def launches(rows, key):
    rows = sorted(rows, key=key)
    out, cur = [], []
    for r in rows:
        if cur and key(r) - key(cur[0]) > 3000 and key(r) > max(x[-1] for x in cur):
            out.append(cur)
            cur = []
        cur.append(r)
    if cur:
        out.append(cur)
    return out


def open_log(path):
    return gzip.open(path, "rt", errors="replace") if path.endswith(".gz") else open(path, errors="replace")


def main_trace(path):
    """Per point: the middle launch's per-block stamps, in us from its first block entry."""
    rows = []
    print("point                    launches blocks  span | consumer_start first_step (min..max)"
          " main_end | epilogue median (max) | producer_first_copy")
    for line in open_log(path):
        f = line.split()
        if f and f[0] in ("SKC", "SKP"):
            rows.append((f[0], [int(x) for x in f[1:]]))
        elif f and f[0].startswith("llama"):
            C = [r for t, r in rows if t == "SKC"]
            P = [r for t, r in rows if t == "SKP"]
            rows = []
            if not C:
                continue
            la = launches([c[:6] + [c[6]] for c in C], key=lambda r: r[1])
            L = la[len(la) // 2]
            base, end = min(r[1] for r in L), max(r[6] for r in L)
            first = [r[3] - base for r in L]
            prod = [p[2] - base for p in P if base - 1000 <= p[1] <= end]
            med = lambda v: st.median(v) / 1e3  # noqa: E731
            print("%-24s %8d %6d %6.2f | %5.2f %5.2f (%.2f..%.2f) %7.2f | %5.2f (%5.2f) | %5.2f" % (
                f[0] + " " + f[1], len(la), len(L), (end - base) / 1e3, med([r[2] - base for r in L]),
                med(first), min(first) / 1e3, max(first) / 1e3, med([r[4] - base for r in L]),
                med([r[6] - r[5] for r in L]), max(r[6] - r[5] for r in L) / 1e3,
                med(prod) if prod else -1))


def sk_trace(path, blocks=132):
    """The middle launch's stream-K stamps per block, in us from the blocks' median start."""
    rows = [[int(x) for x in ln.split()[1:]] for ln in open_log(path) if ln.startswith("SKT")]
    L = [rows[i:i + blocks] for i in range(0, len(rows), blocks)]
    g = sorted(L[len(L) // 2], key=lambda r: r[0])
    base = st.median(r[1] for r in g)  # (a line of another launch can fall into a group)
    rel = lambda t: "%6.2f" % ((t - base) / 1e3) if t else "     -"  # noqa: E731
    print("launch %d of %d; us from the blocks' median start" % (len(L) // 2, len(L)))
    print("block  start  save0  flag  wait0  wait1    end  pieces first(tile,k0,k1) last(tile,k0,k1)")
    for r in g:
        b, t0, tp, tf, tw0, tw1, te, n, ft, fk0, fk1, lt, lk0, lk1 = r
        print("%5d %s %s %s %s %s %s %3d  (%d,%d,%d) (%d,%d,%d)" % (
            b, rel(t0), rel(tp), rel(tf), rel(tw0), rel(tw1), rel(te), n, ft, fk0, fk1, lt, lk0, lk1))


def cmd_trace(args, runner):
    (main_trace if args.mode == "main" else lambda p: sk_trace(p, args.blocks))(args.log)


# ---------------------------------------------------------------------------------------------


def add_shape_options(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--shapes", help="file of N,K lines (default: --model)")
    g.add_argument("--shape", action="append", metavar="N,K", help="one weight shape (repeatable)")
    p.add_argument("--model", default="all", help="model preset when no shapes are given (default all)")


def add_table_options(p):
    p.add_argument("--tables", help="FP8JIT_TUNED_TABLES for every command (`shipped`, `none`, A.csv:B.csv)")
    p.add_argument("--pdl", type=int, choices=(0, 1), help="FP8JIT_PDL for every command")


def parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="\n".join(__doc__.splitlines()[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT", "exp-out"), help="output directory")
    ap.add_argument("--build", default="build-gpu", help="build directory (default build-gpu)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per command (default 600)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    ap.add_argument("--tar", metavar="FILE", help="pack --out into FILE (.tgz) at the end")
    sub = ap.add_subparsers(dest="cmd", required=True)

    sub.add_parser("device", help="record the GPU in device.txt").set_defaults(fn=cmd_device)

    b = sub.add_parser("bench", help="fp8jit bench, variants interleaved over passes")
    add_shape_options(b)
    add_table_options(b)
    b.add_argument("--variant", action="append", default=[], metavar="NAME=BINARY[,k=v...]")
    b.add_argument("--passes", type=int, default=1, help="interleaved passes over the variants")
    b.add_argument("--m", help="token counts (default: bench's)")
    b.add_argument("--reps", type=int, help="timed repetitions per GEMM")
    b.add_argument("--min-calls", type=int, help="back-to-back calls per timed region")
    b.add_argument("--name", default="bench", help="file name prefix (default bench)")
    b.add_argument("--baseline", help="variant to compare the others' best times with")
    b.add_argument("--sample-smi", action="store_true", help="sample clocks and power into smi.csv")
    b.set_defaults(fn=cmd_bench)

    t = sub.add_parser("tune", help="fp8jit tune (then optionally a bench with the new rows)")
    add_shape_options(t)
    add_table_options(t)
    t.add_argument("--m", required=True, help="token counts to tune")
    t.add_argument("--candidates", type=int, default=16)
    t.add_argument("--reps", type=int, default=10)
    t.add_argument("--name", help="tune-NAME.log, tuned-NAME.csv (default tune.log, tuned.csv)")
    t.add_argument("--bench-after", metavar="M|all", help="bench these M with the new rows over the tables")
    t.set_defaults(fn=cmd_tune)

    x = sub.add_parser("tests", help="the GPU tests with the gemm-check tally")
    add_table_options(x)
    x.add_argument("--select", default="[gpu]~[slow]", help="Catch2 selection (default [gpu]~[slow])")
    x.add_argument("--binary", help="test executable (default BUILD/tests/fp8jit_tests)")
    x.add_argument("--name", default="gpu-tests")
    x.add_argument("-s", dest="verbose", action="store_true", help="pass -s (print passing checks)")
    x.set_defaults(fn=cmd_tests)

    s = sub.add_parser("sanitize", help="scripts/gpu-sanitize")
    s.add_argument("--tools", help="FP8JIT_SANITIZE_TOOLS (default: memcheck racecheck initcheck)")
    s.add_argument("--tests", help="FP8JIT_SANITIZE_TESTS (default [sanitize])")
    s.add_argument("--tables", default="none", help="FP8JIT_TUNED_TABLES (default none: forced kinds only)")
    s.add_argument("--tool-timeout", type=int, default=300, help="FP8JIT_SANITIZE_TIMEOUT (default 300)")
    s.set_defaults(fn=cmd_sanitize)

    n = sub.add_parser("ncu", help="Nsight Compute on one kernel of a one-shape bench")
    add_shape_options(n)
    add_table_options(n)
    n.add_argument("--m", type=int, required=True)
    n.add_argument("--kernel", default="fp8gemm", help="kernel-name regex (cuBLASLt: '^(?!fp8)' or nvjet)")
    n.add_argument("--launch-skip", type=int, default=2)
    n.add_argument("--sections", default=NCU_SECTIONS, help="comma-separated ncu sections")
    n.add_argument("--source-counters", action="store_true",
                   help="add SourceCounters; export details and the per-SASS samples (csv.gz)")
    n.add_argument("--ncu", default=shutil.which("ncu") or "/usr/local/cuda/bin/ncu")
    n.add_argument("--binary", help="fp8jit executable (default BUILD/fp8jit)")
    n.add_argument("--name", help="log name (default ncu-KERNEL-mM)")
    n.set_defaults(fn=cmd_ncu)

    u = sub.add_parser("suite", help="full bench + GPU tests (+ --sanitize)")
    add_shape_options(u)
    u.add_argument("--tables", help="FP8JIT_TUNED_TABLES (default: the binary's shipped tables)")
    u.add_argument("--pdl", type=int, choices=(0, 1))
    u.add_argument("--m", help="token counts (default: bench's, 1..8192)")
    u.add_argument("--reps", type=int)
    u.add_argument("--min-calls", type=int)
    u.add_argument("--sanitize", action="store_true", help="then compute-sanitizer, all three tools")
    u.add_argument("--tool-timeout", type=int, default=300)
    u.set_defaults(fn=cmd_suite)

    m = sub.add_parser("summary", help="geomeans of bench CSVs already written")
    m.add_argument("csv", nargs="+", metavar="[LABEL=]FILE", help="CSV of fp8jit bench; equal labels are passes")
    m.add_argument("--baseline", help="label to compare the others' best times with")
    m.set_defaults(fn=cmd_summary)

    r = sub.add_parser("trace", help="summarise %%globaltimer stamps of a trace patch")
    r.add_argument("mode", choices=("main", "sk"))
    r.add_argument("log", help="bench log with the printed stamps (.gz allowed)")
    r.add_argument("--blocks", type=int, default=132, help="blocks per launch (sk; default 132)")
    r.set_defaults(fn=cmd_trace)
    return ap


def main():
    args = parser().parse_args()
    local = args.cmd in ("summary", "trace")
    runner = None if local else Runner(args.out, args.dry_run, args.timeout)
    args.fn(args, runner)
    if args.tar and runner and not args.dry_run:
        with tarfile.open(args.tar, "w:gz") as tf:
            tf.add(runner.out, arcname=os.path.basename(runner.out))
        print(f"packed {args.out} into {args.tar}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
