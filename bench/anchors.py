#!/usr/bin/env python3
"""fp8jit against its anchors: joins the CSVs of one device run and says which targets are met.

    python3 bench/anchors.py --fp8jit LABEL=BENCH.csv[,BENCH2.csv] [--fp8jit LABEL2=...]
                             [--compare COMPARE.csv[,...]] [--cutlass CUTLASS.csv[,...]]
                             [--suite NAME=SHAPES.csv ...] [--primary LABEL] [--heuristic LABEL]
                             [--count-torch] [--exclude-inaccurate] [--cublas-from LABEL]
                             [--out REPORT.md] [--csv JOINED.csv]

Inputs (no GPU needed), joined per (shape, M); shape is the name `model.layer` of the shape files:
  --fp8jit LABEL=FILES  `fp8jit bench --csv` output (shape,M,N,K,...,fp8jit_us,cublas_us,
                        fp8jit_err,cublas_err,copy_tbps,...): one fp8jit variant per label (e.g.
                        autotuned=, heuristic=); a label may take several files (commas, or the
                        option repeated), e.g. one per shape file. Each bench run also measures
                        cuBLASLt: the anchor's time is the fastest of the runs that have the point
                        (--cublas-from LABEL: that run's only).
  --compare FILES       bench/compare.py --csv output: torch_us, triton_us (and their errors).
  --cutlass FILES       cutlass_ptpc --csv output (model,layer,M,N,K,copies,us,...,rel_err,config):
                        vLLM's CUTLASS kernel.
  --suite NAME=FILE     a shape file; the points of its weights form the suite NAME (by shape name;
                        by N,K for bare 'N,K' lines). Points of no suite are in suite 'other'.

Per point: each variant's time, each anchor's time, the best anchor (the fastest of cuBLASLt,
Triton and CUTLASS; torch._scaled_mm runs the same cuBLASLt and is shown but not counted unless
--count-torch), the ratio best anchor time / fp8jit time (> 1: fp8jit is faster) per variant, and
accuracy failures (an error > --tol or NaN, of any implementation). An anchor with an accuracy
failure still counts (its time is what its users get) unless --exclude-inaccurate. A time that is
missing (the source has no row for the point, or an empty field: not run) or failed (NaN) is shown
as such; a ratio over a best anchor chosen while an anchor that ran elsewhere in the run lacks the
point is marked '*'. Nothing is dropped silently: the report counts every source's points.

Summaries, for the primary variant (--primary, default the first label) and the heuristic one
(--heuristic, default the second label):
  (a) every point >= --min-ratio (0.97) x the best anchor; the points below, worst first;
  (b) geometric mean of the ratio over --geomean-m (24:512) per suite and overall;
  (c) geometric mean of the ratio per M and suite;
  (d) heuristic against primary: every point primary_us / heuristic_us >= --heuristic-min (0.80),
      geometric mean >= --heuristic-geomean (0.92), over every point both have;
  (e) decode: at M <= --decode-max-m (16), every weight of N*K >= --big-weight-mib (64) MiB read at
      >= --decode-pct (92)% of the run's copy bandwidth (N*K bytes / fp8jit_us against the bench
      CSV's copy_tbps), each such weight's worst %;
  (f) per M, how often each anchor is the best.
Output: a markdown report on stdout (and --out FILE), the joined rows with --csv FILE.
Exit status 0, also when targets are missed; 2 when an input cannot be read (a missing file, no
header, a required column missing), an output cannot be written or an argument is bad.
"""
import argparse
import csv
import math
import sys

# Required columns of each input.
BENCH_COLUMNS = ("shape", "M", "N", "K", "fp8jit_us", "cublas_us", "fp8jit_err", "cublas_err",
                 "copy_tbps")
COMPARE_COLUMNS = ("shape", "M", "N", "K", "torch_us", "triton_us", "torch_err", "triton_err")
CUTLASS_COLUMNS = ("model", "layer", "M", "N", "K", "us", "rel_err")
# The anchors, in the order of the report; torch is counted only with --count-torch.
ANCHORS = ("cublas", "torch", "triton", "cutlass")
ANCHOR_NAMES = {"cublas": "cuBLASLt", "torch": "torch._scaled_mm", "triton": "Triton",
                "cutlass": "CUTLASS"}
MIB = 1 << 20


class InputError(Exception):
    """An input that cannot be read: exit status 2."""


# ---- reading --------------------------------------------------------------------------------------
def number(text):
    """A float, None for an empty or absent field; 'nan', 'inf' are kept. Bad text is None too
    (a truncated last line of a killed run must not stop the report) and is counted by the caller."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def read_rows(path, required):
    """The rows of a CSV file with a header as dicts; lines starting with '#' are skipped."""
    try:
        with open(path, newline="") as f:
            lines = [line for line in f if line.strip() and not line.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}")
    if not lines:
        raise InputError(f"{path}: no header line")
    reader = csv.DictReader(lines)
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path}: no column {', '.join(missing)} (header: {lines[0].strip()})")
    return list(reader)


class Source:
    """One implementation's measurements: key (shape, M) -> {'us', 'err', ...}."""

    def __init__(self, name, files):
        self.name, self.files = name, list(files)
        self.points, self.shapes = {}, {}  # shapes: name -> (N, K)
        self.duplicates = self.malformed = 0

    def add(self, shape, m, n, k, **values):
        if m is None or not math.isfinite(m) or m != int(m):
            self.malformed += 1  # no M: the row cannot be placed
            return
        key = (shape, int(m))
        if key in self.points:
            self.duplicates += 1  # the first row read is kept
            return
        self.points[key] = values
        if n is not None and k is not None and math.isfinite(n) and math.isfinite(k):
            self.shapes.setdefault(shape, (int(n), int(k)))

    def us(self, key):
        point = self.points.get(key)
        return None if point is None else point.get("us")

    def err(self, key):
        point = self.points.get(key)
        return None if point is None else point.get("err")


def count_bad_numbers(row, columns):
    return sum(1 for c in columns if (row.get(c) or "").strip() and number(row.get(c)) is None)


def load_bench(label, paths):
    """An fp8jit variant and the cuBLASLt times of its runs."""
    variant, cublas = Source(f"fp8jit {label}", paths), Source(f"cuBLASLt ({label} run)", paths)
    for path in paths:
        for row in read_rows(path, BENCH_COLUMNS):
            shape, m, n, k = row["shape"], number(row["M"]), number(row["N"]), number(row["K"])
            bad = count_bad_numbers(row, BENCH_COLUMNS[1:])
            variant.malformed += bad
            variant.add(shape, m, n, k, us=number(row["fp8jit_us"]), err=number(row["fp8jit_err"]),
                        copy_tbps=number(row["copy_tbps"]))
            cublas.add(shape, m, n, k, us=number(row["cublas_us"]), err=number(row["cublas_err"]))
    return variant, cublas


def load_compare(paths):
    torch_src, triton_src = Source("torch._scaled_mm", paths), Source("Triton", paths)
    for path in paths:
        for row in read_rows(path, COMPARE_COLUMNS):
            shape, m, n, k = row["shape"], number(row["M"]), number(row["N"]), number(row["K"])
            torch_src.malformed += count_bad_numbers(row, COMPARE_COLUMNS[1:])
            torch_src.add(shape, m, n, k, us=number(row["torch_us"]), err=number(row["torch_err"]))
            triton_src.add(shape, m, n, k, us=number(row["triton_us"]), err=number(row["triton_err"]),
                           config=(row.get("triton_config") or "").strip())
    # compare.py writes empty fields for an implementation it did not run: no point, not a failure.
    for src in (torch_src, triton_src):
        src.points = {key: p for key, p in src.points.items()
                      if not (p["us"] is None and p["err"] is None)}
    return torch_src, triton_src


def load_cutlass(paths):
    src = Source("CUTLASS", paths)
    for path in paths:
        for row in read_rows(path, CUTLASS_COLUMNS):
            shape = f"{row['model'].strip()}.{row['layer'].strip()}"
            src.malformed += count_bad_numbers(row, CUTLASS_COLUMNS[2:])
            src.add(shape, number(row["M"]), number(row["N"]), number(row["K"]), us=number(row["us"]),
                    err=number(row["rel_err"]), config=(row.get("config") or "").strip())
    return src


def read_suite(path):
    """(names in file order, {(N, K)} of bare 'N,K' lines) of a shape file."""
    names, bare = [], set()
    try:
        with open(path) as f:
            lines = f.readlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}")
    for line in lines:
        fields = [x.strip() for x in line.split("#", 1)[0].split(",")]
        if len(fields) < 2:
            continue
        try:
            n, k = int(fields[-2]), int(fields[-1])
        except ValueError:
            continue  # the header
        if len(fields) > 2:
            names.append(".".join(fields[:-2]))
        else:
            bare.add((n, k))
    if not names and not bare:
        raise InputError(f"{path}: no 'model,layer,N,K' or 'N,K' rows")
    return names, bare


def split_assignment(text, option):
    label, sep, value = text.partition("=")
    if not sep or not label.strip() or not value.strip():
        raise InputError(f"{option} takes NAME=FILE[,FILE...] (got '{text}')")
    return label.strip(), [x for x in value.split(",") if x.strip()]


# ---- arithmetic ---------------------------------------------------------------------------------
def finite(x):
    return x is not None and x == x and 0 < x < math.inf


def geomean(values):
    values = [v for v in values if finite(v)]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def inaccurate(err, tol):
    """An error that fails the check: above tol, NaN or infinite (None: not measured)."""
    return err is not None and not err <= tol


def weight_pct_of_copy(n, k, us, copy_tbps):
    """The weight (N*K bytes) read in `us` as a percentage of the copy bandwidth."""
    if not finite(us) or not finite(copy_tbps):
        return None
    return 100.0 * (n * k / (us * 1e-6)) / (copy_tbps * 1e12)


# ---- joining ------------------------------------------------------------------------------------
class Point:
    """One (shape, M) with every source's figures and what they decide."""

    def __init__(self, shape, m, n, k, suite):
        self.shape, self.m, self.n, self.k, self.suite = shape, m, n, k, suite
        self.fp8jit = {}     # label -> (us, err, weight % of copy)
        self.anchor = {}     # anchor -> (us, err) or None (missing)
        self.detail = {}     # anchor -> config text
        self.best, self.best_us, self.incomplete = None, None, []
        self.ratio = {}      # label -> best_us / us
        self.failures = []   # names of implementations with an accuracy failure


def choose_cublas(key, cublas_by_label, cublas_from):
    """cuBLASLt's (us, err) at a point: the named run's, or the fastest run's (its error)."""
    runs = cublas_by_label if cublas_from is None else {cublas_from: cublas_by_label[cublas_from]}
    seen = [(src.us(key), src.err(key)) for src in runs.values() if key in src.points]
    if not seen:
        return None
    timed = [x for x in seen if finite(x[0])]
    return min(timed) if timed else seen[0]


def join(args, variants, cublas_by_label, torch_src, triton_src, cutlass_src, suites):
    sources = list(variants.values()) + list(cublas_by_label.values()) + \
        [s for s in (torch_src, triton_src, cutlass_src) if s is not None]
    shapes, notes = {}, []
    for src in sources:
        for name, nk in src.shapes.items():
            if name in shapes and shapes[name] != nk:
                notes.append(f"shape {name} is {shapes[name][0]}x{shapes[name][1]} in one source and "
                             f"{nk[0]}x{nk[1]} in {src.name} ({', '.join(src.files)}); the first is used")
            shapes.setdefault(name, nk)
    keys = set()
    for src in sources:
        keys.update(src.points)

    def suite_of(shape):
        n, k = shapes.get(shape, (None, None))
        for name, (names, bare) in suites.items():
            if shape in names or (n, k) in bare:
                return name
        return "other"

    order = {}  # shapes in suite-file order, then in order of appearance
    for names, _ in suites.values():
        for name in names:
            order.setdefault(name, len(order))
    for src in sources:
        for shape, _ in src.points:
            order.setdefault(shape, len(order))
    suite_rank = {name: i for i, name in enumerate(list(suites) + ["other"])}

    counted = ["cublas", "triton", "cutlass"] + (["torch"] if args.count_torch else [])
    ran = {"cublas": bool(cublas_by_label), "torch": torch_src is not None and bool(torch_src.points),
           "triton": triton_src is not None and bool(triton_src.points),
           "cutlass": cutlass_src is not None and bool(cutlass_src.points)}
    points = []
    for shape, m in sorted(keys, key=lambda key: (suite_rank[suite_of(key[0])], order[key[0]], key[1])):
        key = (shape, m)
        n, k = shapes.get(shape, (0, 0))
        p = Point(shape, m, n, k, suite_of(shape))
        for label, src in variants.items():
            point = src.points.get(key)
            if point is None:
                p.fp8jit[label] = None
            else:
                p.fp8jit[label] = (point["us"], point["err"],
                                   weight_pct_of_copy(n, k, point["us"], point["copy_tbps"]))
                if inaccurate(point["err"], args.tol):
                    p.failures.append(f"fp8jit {label}")
        p.anchor["cublas"] = choose_cublas(key, cublas_by_label, args.cublas_from)
        for label, src in cublas_by_label.items():
            if inaccurate(src.err(key), args.tol):
                p.failures.append(f"cuBLASLt ({label} run)")
        for name, src in (("torch", torch_src), ("triton", triton_src), ("cutlass", cutlass_src)):
            point = src.points.get(key) if src is not None else None
            p.anchor[name] = None if point is None else (point["us"], point["err"])
            if point is not None and point.get("config"):
                p.detail[name] = point["config"]
            if point is not None and inaccurate(point["err"], args.tol):
                p.failures.append(ANCHOR_NAMES[name])
        candidates = []
        for name in counted:
            value = p.anchor[name]
            if value is None or not finite(value[0]):
                if ran[name]:
                    p.incomplete.append(name)
                continue
            if args.exclude_inaccurate and inaccurate(value[1], args.tol):
                continue
            candidates.append((value[0], name))
        if candidates:
            p.best_us, p.best = min(candidates)
            for label, value in p.fp8jit.items():
                if value is not None and finite(value[0]):
                    p.ratio[label] = p.best_us / value[0]
        points.append(p)
    return points, notes


# ---- the report ---------------------------------------------------------------------------------
def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def fmt_us(value):
    """A time, 'missing' (no row or not run) or 'failed' (NaN)."""
    if value is None or value[0] is None:
        return "missing"
    return f"{value[0]:.2f}" if finite(value[0]) else "failed"


def fmt_ratio(x, star=False):
    return "—" if x is None else f"{x:.3f}" + ("*" if star else "")


def fmt_gm(values):
    gm = geomean(values)
    return "—" if gm is None else f"{gm:.3f} ({len([v for v in values if finite(v)])})"


def verdict(ok):
    return "**met**" if ok else "**MISSED**"


def source_lines(variants, cublas_by_label, others, grid, tol):
    rows = []
    for src in list(variants.values()) + list(cublas_by_label.values()) + others:
        if src is None:
            continue
        timed = sum(1 for p in src.points.values() if finite(p["us"]))
        failed = sum(1 for p in src.points.values() if p["us"] is not None and not finite(p["us"]))
        bad = sum(1 for p in src.points.values() if inaccurate(p["err"], tol))
        rows.append([src.name, ", ".join(src.files), len(src.points), timed, failed, bad,
                     grid - len(src.points), src.duplicates, src.malformed])
    return table(["source", "files", "points", "timed", "failed (NaN)", f"err > {tol:g} or NaN",
                  f"missing of {grid}", "duplicates (first kept)", "unparsable values or rows"], rows)


def report(args, points, notes, variants, cublas_by_label, torch_src, triton_src, cutlass_src,
           primary, heuristic, suite_names):
    lines = []
    add = lines.append
    labels = list(variants)
    counted = ["cublas", "triton", "cutlass"] + (["torch"] if args.count_torch else [])
    add("# fp8jit against its anchors")
    add("")
    add(f"Primary variant: **{primary}**" + (f"; heuristic variant: **{heuristic}**" if heuristic else
                                             "; no heuristic variant") +
        f". Best anchor: the fastest of {', '.join(ANCHOR_NAMES[a] for a in counted)}"
        + ("" if args.count_torch else " (torch._scaled_mm runs the same cuBLASLt: shown, not counted)")
        + (", anchors with an accuracy failure left out" if args.exclude_inaccurate else
           ", an anchor with an accuracy failure still counted")
        + ("; cuBLASLt: the fastest of the bench runs that have the point" if args.cublas_from is None
           else f"; cuBLASLt: the {args.cublas_from} run's") + ".")
    add("Ratio = best anchor time / fp8jit time (> 1: fp8jit is faster). '*': an anchor that ran "
        "in this run lacks the point (missing or failed), so the best anchor is of the others.")
    add("")
    add("## Sources")
    add("")
    lines += source_lines(variants, cublas_by_label, [torch_src, triton_src, cutlass_src], len(points),
                          args.tol)
    absent = [name for name, src in (("torch._scaled_mm and Triton (--compare)", torch_src),
                                     ("CUTLASS (--cutlass)", cutlass_src)) if src is None]
    if absent:
        add("")
        add(f"Not given: {', '.join(absent)}; the best anchor is of the others.")
    add("")
    for label, src in variants.items():
        bws = sorted({round(p["copy_tbps"], 4) for p in src.points.values() if finite(p["copy_tbps"])})
        add(f"- copy bandwidth of the {label} run: "
            + (", ".join(f"{b:.3f} TB/s" for b in bws) if bws else "not in its CSV"))
    for note in notes:
        add(f"- {note}")
    add("")

    # (a) every point >= min_ratio x the best anchor
    decided = [p for p in points if primary in p.ratio]
    undecided = [p for p in points if primary not in p.ratio]
    below = sorted((p for p in decided if p.ratio[primary] < args.min_ratio),
                   key=lambda p: p.ratio[primary])
    add(f"## (a) Every point at >= {args.min_ratio:g}x the best anchor ({primary})")
    add("")
    add(f"{verdict(not below and not undecided)}: {len(decided)} of {len(points)} points have a "
        f"ratio, {len(below)} below {args.min_ratio:g}x, {len(undecided)} without a ratio "
        f"(fp8jit or every anchor missing or failed); "
        f"{sum(1 for p in decided if p.incomplete)} decided with an anchor missing (*).")
    if decided:
        worst = min(decided, key=lambda p: p.ratio[primary])
        add(f"Lowest ratio: {worst.ratio[primary]:.3f} ({worst.shape}, M={worst.m}, against "
            f"{ANCHOR_NAMES[worst.best]}).")
    if below:
        add("")
        lines += table(["suite", "shape", "M", "N", "K", f"{primary} µs", "best anchor", "anchor µs",
                        "ratio"],
                       [[p.suite, p.shape, p.m, p.n, p.k, fmt_us(p.fp8jit[primary]),
                         ANCHOR_NAMES[p.best], f"{p.best_us:.2f}",
                         fmt_ratio(p.ratio[primary], bool(p.incomplete))] for p in below])
    if undecided:
        add("")
        add("Without a ratio: " + ", ".join(f"{p.shape} M={p.m}" for p in undecided) + ".")
    add("")

    # (b) geomean over the M range, per suite and overall
    lo, hi = args.geomean_m
    add(f"## (b) Geometric mean of the ratio over {lo} <= M <= {hi}")
    add("")
    rows = []
    for suite in suite_names + ["all"]:
        sel = [p for p in points if lo <= p.m <= hi and (suite == "all" or p.suite == suite)]
        row = [suite, len(sel)]
        for label in labels:
            row.append(fmt_gm([p.ratio.get(label) for p in sel]))
        rows.append(row)
    lines += table(["suite", "points"] + [f"{label} (points with a ratio)" for label in labels], rows)
    add("")

    # (c) geomean per M and suite
    add("## (c) Geometric mean of the ratio per M")
    add("")
    columns = [(suite, label) for suite in suite_names + ["all"] for label in labels]
    rows = []
    for m in sorted({p.m for p in points}):
        row = [m]
        for suite, label in columns:
            row.append(fmt_gm([p.ratio.get(label) for p in points
                               if p.m == m and (suite == "all" or p.suite == suite)]))
        rows.append(row)
    lines += table(["M"] + [f"{suite}: {label}" for suite, label in columns], rows)
    add("")

    # (d) heuristic against primary
    add(f"## (d) {heuristic or 'heuristic'} against {primary}: {primary} µs / "
        f"{heuristic or 'heuristic'} µs")
    add("")
    if heuristic is None:
        add("No heuristic variant given (a second --fp8jit label, or --heuristic).")
    else:
        pairs = []
        for p in points:
            a, b = p.fp8jit.get(primary), p.fp8jit.get(heuristic)
            if a is not None and b is not None and finite(a[0]) and finite(b[0]):
                pairs.append((a[0] / b[0], p))
        missing = len(points) - len(pairs)
        worst = sorted((x for x in pairs if x[0] < args.heuristic_min), key=lambda x: x[0])
        gm = geomean([x[0] for x in pairs])
        add(f"Every point >= {args.heuristic_min:g}: {verdict(pairs and not worst)} "
            f"({len(worst)} below of {len(pairs)}; {missing} points lack one of the two). "
            f"Geometric mean {('—' if gm is None else f'{gm:.3f}')} >= {args.heuristic_geomean:g}: "
            f"{verdict(gm is not None and gm >= args.heuristic_geomean)}.")
        add("")
        rows = []
        for suite in suite_names + ["all"]:
            sel = [(r, p) for r, p in pairs if suite == "all" or p.suite == suite]
            low = min(sel, key=lambda x: x[0]) if sel else None
            rows.append([suite, fmt_gm([r for r, _ in sel]),
                         "—" if low is None else f"{low[0]:.3f} ({low[1].shape}, M={low[1].m})"])
        lines += table(["suite", "geomean (points)", "lowest"], rows)
        if worst:
            add("")
            lines += table(["suite", "shape", "M", f"{primary} µs", f"{heuristic} µs", "ratio"],
                           [[p.suite, p.shape, p.m, fmt_us(p.fp8jit[primary]), fmt_us(p.fp8jit[heuristic]),
                             f"{r:.3f}"] for r, p in worst])
    add("")

    # (e) decode: big weights at small M against the copy bandwidth
    big = args.big_weight_mib * MIB
    add(f"## (e) Decode: weights of >= {args.big_weight_mib:g} MiB at M <= {args.decode_max_m}, "
        f">= {args.decode_pct:g}% of the copy bandwidth")
    add("")
    weights = {}
    for p in points:
        if p.n * p.k >= big and p.m <= args.decode_max_m:
            weights.setdefault((p.suite, p.shape, p.n, p.k), []).append(p)
    rows, ok, unknown = [], True, 0
    for (suite, shape, n, k), sel in weights.items():
        row = [suite, shape, f"{n * k / MIB:.0f}", ",".join(str(p.m) for p in sel)]
        for label in labels:
            pcts = [(p.fp8jit[label][2], p.m) for p in sel
                    if p.fp8jit.get(label) is not None and p.fp8jit[label][2] is not None]
            lacking = len(sel) - len(pcts)
            if not pcts:
                row.append("missing")
                if label == primary:
                    ok, unknown = False, unknown + 1
                continue
            pct, m = min(pcts)
            row.append(f"{pct:.1f}% (M={m})" + (f", {lacking} missing" if lacking else ""))
            if label == primary and (pct < args.decode_pct or lacking):
                ok = False
        rows.append(row)
    if not weights:
        add("No such point.")
    else:
        add(f"{verdict(ok)} for {primary}: {len(weights)} weights"
            + (f", {unknown} without a figure" if unknown else "") + ". Worst % of copy per weight:")
        add("")
        lines += table(["suite", "weight", "MiB", "M"] + [f"{label} worst" for label in labels], rows)
    add("")

    # (f) which anchor is best, per M
    add("## (f) Best anchor per M (points)")
    add("")
    rows = []
    for m in sorted({p.m for p in points}):
        sel = [p for p in points if p.m == m]
        rows.append([m] + [sum(1 for p in sel if p.best == a) for a in counted] +
                    [sum(1 for p in sel if p.best is None)])
    lines += table(["M"] + [ANCHOR_NAMES[a] for a in counted] + ["none"], rows)
    add("")

    # accuracy failures
    failing = [p for p in points if p.failures]
    add(f"## Accuracy failures (error > {args.tol:g} or NaN)")
    add("")
    add("None." if not failing else
        "; ".join(f"{p.shape} M={p.m}: {', '.join(p.failures)}" for p in failing) + ".")
    add("")

    # every point
    add("## All points")
    add("")
    headers = ["suite", "shape", "M"] + [f"{label} µs" for label in labels] + \
        [f"{ANCHOR_NAMES[a]} µs" for a in ANCHORS] + ["best"] + [f"ratio {label}" for label in labels] + \
        ["accuracy"]
    rows = []
    for p in points:
        rows.append([p.suite, p.shape, p.m] + [fmt_us(p.fp8jit[label]) for label in labels] +
                    [fmt_us(p.anchor[a]) for a in ANCHORS] +
                    [ANCHOR_NAMES[p.best] if p.best else "—"] +
                    [fmt_ratio(p.ratio.get(label), bool(p.incomplete)) for label in labels] +
                    ["; ".join(p.failures) or "ok"])
    lines += table(headers, rows)
    return lines


def csv_value(x):
    if x is None:
        return ""
    if isinstance(x, float):
        return "nan" if x != x else f"{x:.6g}"
    return str(x)


def write_joined(path, points, labels, primary, heuristic):
    header = ["suite", "shape", "M", "N", "K"]
    for label in labels:
        header += [f"fp8jit_{label}_us", f"fp8jit_{label}_err", f"fp8jit_{label}_weight_pct_copy",
                   f"ratio_{label}"]
    for a in ANCHORS:
        header += [f"{a}_us", f"{a}_err"]
    header += ["triton_config", "cutlass_config", "best_anchor", "best_anchor_us", "anchors_missing"]
    if heuristic:
        header.append(f"{primary}_over_{heuristic}")
    header.append("accuracy_failures")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for p in points:
            row = [p.suite, p.shape, p.m, p.n, p.k]
            for label in labels:
                v = p.fp8jit[label] or (None, None, None)
                row += [v[0], v[1], v[2], p.ratio.get(label)]
            for a in ANCHORS:
                v = p.anchor[a] or (None, None)
                row += [v[0], v[1]]
            row += [p.detail.get("triton", ""), p.detail.get("cutlass", ""), p.best or "",
                    p.best_us, ";".join(p.incomplete)]
            if heuristic:
                a, b = p.fp8jit[primary], p.fp8jit[heuristic]
                row.append(a[0] / b[0] if a and b and finite(a[0]) and finite(b[0]) else None)
            row.append(";".join(p.failures))
            w.writerow([csv_value(x) for x in row])


def parse_m_range(text):
    lo, sep, hi = text.partition(":")
    try:
        lo, hi = int(lo), int(hi)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO:HI (got '{text}')")
    if not sep or lo > hi:
        raise argparse.ArgumentTypeError(f"expected LO:HI with LO <= HI (got '{text}')")
    return lo, hi


def main(argv=None):
    doc = __doc__.splitlines()
    p = argparse.ArgumentParser(description=doc[0], epilog="\n".join(doc[2:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fp8jit", action="append", required=True, metavar="LABEL=FILES",
                   help="fp8jit bench CSVs of one variant (repeat for more variants)")
    p.add_argument("--compare", action="append", default=[], metavar="FILES",
                   help="bench/compare.py CSVs (torch, triton)")
    p.add_argument("--cutlass", action="append", default=[], metavar="FILES",
                   help="cutlass_ptpc CSVs")
    p.add_argument("--suite", action="append", default=[], metavar="NAME=FILE",
                   help="a shape file whose weights form a suite (repeat)")
    p.add_argument("--primary", help="the variant the targets are judged on (default: the first)")
    p.add_argument("--heuristic", help="the variant of (d) (default: the second, if any)")
    p.add_argument("--count-torch", action="store_true",
                   help="count torch._scaled_mm as an anchor of its own")
    p.add_argument("--exclude-inaccurate", action="store_true",
                   help="leave anchors with an accuracy failure out of the best anchor")
    p.add_argument("--cublas-from", metavar="LABEL",
                   help="take cuBLASLt from this variant's run only (default: the fastest run)")
    p.add_argument("--tol", type=float, default=1e-2, help="accuracy limit (default 1e-2)")
    p.add_argument("--min-ratio", type=float, default=0.97, help="(a) (default 0.97)")
    p.add_argument("--geomean-m", type=parse_m_range, default=(24, 512), help="(b) (default 24:512)")
    p.add_argument("--heuristic-min", type=float, default=0.80, help="(d) (default 0.80)")
    p.add_argument("--heuristic-geomean", type=float, default=0.92, help="(d) (default 0.92)")
    p.add_argument("--decode-max-m", type=int, default=16, help="(e) (default 16)")
    p.add_argument("--big-weight-mib", type=float, default=64, help="(e) (default 64)")
    p.add_argument("--decode-pct", type=float, default=92, help="(e) (default 92)")
    p.add_argument("--out", help="also write the report to this file")
    p.add_argument("--csv", help="write the joined rows to this CSV file")
    args = p.parse_args(argv)

    try:
        files = {}
        for text in args.fp8jit:
            label, paths = split_assignment(text, "--fp8jit")
            files.setdefault(label, []).extend(paths)
        variants, cublas_by_label = {}, {}
        for label, paths in files.items():
            variants[label], cublas_by_label[label] = load_bench(label, paths)
        split = lambda values: [x for v in values for x in v.split(",") if x.strip()]
        torch_src = triton_src = cutlass_src = None
        if args.compare:
            torch_src, triton_src = load_compare(split(args.compare))
        if args.cutlass:
            cutlass_src = load_cutlass(split(args.cutlass))
        suites = {}
        for text in args.suite:
            name, paths = split_assignment(text, "--suite")
            if name in suites or name in ("all", "other") or len(paths) != 1:
                raise InputError(f"--suite takes a new NAME (not all or other) and one FILE (got '{text}')")
            suites[name] = read_suite(paths[0])
    except InputError as e:
        print(f"anchors.py: {e}", file=sys.stderr)
        return 2
    labels = list(variants)
    primary = args.primary or labels[0]
    heuristic = args.heuristic or (labels[1] if len(labels) > 1 and labels[1] != primary else None)
    for name, label in (("--primary", primary), ("--heuristic", heuristic),
                        ("--cublas-from", args.cublas_from)):
        if label is not None and label not in variants:
            print(f"anchors.py: {name} {label} is not a --fp8jit label ({', '.join(labels)})",
                  file=sys.stderr)
            return 2

    points, notes = join(args, variants, cublas_by_label, torch_src, triton_src, cutlass_src, suites)
    suite_names = list(suites) + (["other"] if any(p.suite == "other" for p in points) else [])
    text = "\n".join(report(args, points, notes, variants, cublas_by_label, torch_src, triton_src,
                            cutlass_src, primary, heuristic, suite_names)) + "\n"
    sys.stdout.write(text)
    try:
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
        if args.csv:
            write_joined(args.csv, points, labels, primary, heuristic)
    except OSError as e:
        print(f"anchors.py: cannot write: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
