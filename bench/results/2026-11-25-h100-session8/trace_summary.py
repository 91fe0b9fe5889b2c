#!/usr/bin/env python3
"""Summarise the %globaltimer stamps that the patched kernels print (maintrace.patch: lines
"SKP block entry first_copy last_copy tiles" from the producer, "SKC block entry consumer_start
first_step main_loop_end epilogue_start end" from consumer thread 0; sktrace.patch: "SKT ...").
Usage: trace_summary.py main LOG | trace_summary.py sk LOG. Times in us from the launch's first
block entry; each point's middle launch (launches split where block entries jump by > 3 us)."""
import statistics as st
import sys


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


def main_trace(path):
    point, rows = None, []
    print("point                    launches blocks  span | consumer_start first_step (min..max)"
          " main_end | epilogue median (max) | producer_first_copy")
    for line in open(path):
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
            us = lambda v: v / 1e3
            med = lambda v: st.median(v) / 1e3
            first = [r[3] - base for r in L]
            prod = [p[2] - base for p in P if base - 1000 <= p[1] <= end]
            print("%-24s %8d %6d %6.2f | %5.2f %5.2f (%.2f..%.2f) %7.2f | %5.2f (%5.2f) | %5.2f" % (
                f[0] + " " + f[1], len(la), len(L), us(end - base), med([r[2] - base for r in L]),
                med(first), us(min(first)), us(max(first)), med([r[4] - base for r in L]),
                med([r[6] - r[5] for r in L]), us(max(r[6] - r[5] for r in L)),
                med(prod) if prod else -1))


def sk_trace(path):
    rows = [[int(x) for x in l.split()[1:]] for l in open(path) if l.startswith("SKT")]
    L = [rows[i:i + 132] for i in range(0, len(rows), 132)]
    g = sorted(L[len(L) // 2], key=lambda r: r[0])
    base = st.median(r[1] for r in g)  # (a line of another launch can fall into a group of 132)
    rel = lambda t: "%6.2f" % ((t - base) / 1e3) if t else "     -"  # noqa: E731
    print("launch %d of %d; us from the blocks' median start" % (len(L) // 2, len(L)))
    print("block  start  save0  flag  wait0  wait1    end  pieces first(tile,k0,k1) last(tile,k0,k1)")
    for r in g:
        b, t0, tp, tf, tw0, tw1, te, n, ft, fk0, fk1, lt, lk0, lk1 = r
        print("%5d %s %s %s %s %s %s %3d  (%d,%d,%d) (%d,%d,%d)" % (
            b, rel(t0), rel(tp), rel(tf), rel(tw0), rel(tw1), rel(te), n, ft, fk0, fk1, lt, lk0, lk1))


if __name__ == "__main__":
    {"main": main_trace, "sk": sk_trace}[sys.argv[1]](sys.argv[2])
