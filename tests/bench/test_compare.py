"""The parts of bench/compare.py that run without a GPU: the autotuner's timing budget falls back
by what triton.autotune accepts, shape files, --impls, the quantiles of the bounded do_bench.
Triton is replaced by a stub whose autotune has the signature of one Triton release or another.

    python3 -m pytest tests/bench
"""
import importlib.util
import os
import statistics
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPARE = os.path.join(ROOT, "bench", "compare.py")


def stub_triton(autotune):
    """A module with what compare.py uses at import: Config, jit, autotune, language.constexpr."""
    triton = types.ModuleType("triton")
    language = types.ModuleType("triton.language")
    language.constexpr = object
    triton.language = language
    triton.jit = lambda fn: fn
    triton.autotune = autotune
    triton.Config = lambda kwargs, num_warps, num_stages: types.SimpleNamespace(
        kwargs=kwargs, num_warps=num_warps, num_stages=num_stages)
    return triton, language


def load_compare(monkeypatch, autotune):
    triton, language = stub_triton(autotune)
    monkeypatch.setitem(sys.modules, "triton", triton)
    monkeypatch.setitem(sys.modules, "triton.language", language)
    spec = importlib.util.spec_from_file_location("compare_under_test", COMPARE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recording(signature):
    """An autotune with the keyword arguments of `signature`; records what it was given."""
    calls = []

    def autotune(configs, key, **kwargs):
        unknown = set(kwargs) - set(signature)
        if unknown:
            raise TypeError(f"autotune() got an unexpected keyword argument '{sorted(unknown)[0]}'")
        calls.append(kwargs)
        return lambda fn: ("tuned", fn, kwargs)

    return autotune, calls


@pytest.mark.parametrize("signature, expect", [
    (("prune_configs_by", "warmup", "rep", "do_bench"), "do_bench"),  # Triton 3.1 and later
    (("prune_configs_by", "warmup", "rep"), "warmup"),                # Triton 3.0
    (("prune_configs_by",), "default"),                               # older still
])
def test_autotune_budget_falls_back_by_signature(monkeypatch, signature, expect):
    autotune, calls = recording(signature)
    compare = load_compare(monkeypatch, autotune)
    assert len(compare.TRITON_CONFIGS) == 6
    (_, fn, given), how = compare.autotuned_triton_gemm(5.0, 1 << 20)
    assert fn is compare.fp8_ptpc_gemm
    if expect == "do_bench":
        assert set(given) == {"do_bench"} and "5 ms per config" in how
    elif expect == "warmup":
        assert given == {"warmup": 1, "rep": 5} and "no do_bench" in how
    else:
        assert given == {} and "neither" in how


def test_autotune_budget_zero_keeps_the_default(monkeypatch):
    autotune, calls = recording(("do_bench",))
    compare = load_compare(monkeypatch, autotune)
    (_, _, given), how = compare.autotuned_triton_gemm(0, 1 << 20)
    assert given == {} and "default" in how


def test_quantile_interpolates_like_torch(monkeypatch):
    compare = load_compare(monkeypatch, recording(())[0])
    values = sorted([3.0, 1.0, 4.0, 1.5, 9.0, 2.6])
    assert compare.quantile(values, 0.5) == pytest.approx(statistics.median(values))
    # values = 1.0, 1.5, 2.6, 3.0, 4.0, 9.0: q = 0.3 lies at 1.5 of the 5 steps, between 1.5 and 2.6
    assert compare.quantile(values, 0.3) == pytest.approx(1.5 + 0.5 * (2.6 - 1.5))
    assert compare.quantile(values, 0.0) == 1.0 and compare.quantile(values, 1.0) == 9.0


def test_shapes_from_several_files(monkeypatch, tmp_path):
    compare = load_compare(monkeypatch, recording(())[0])
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("# c\nmodel,layer,N,K\nm,x,4096,1024\nm,y,2048,512  # tail\n")
    b.write_text("model,layer,N,K\nm,y,2048,512\nq,z,128,256\n256,512\n")
    assert compare.read_shapes([str(a), str(b)]) == [
        ("m.x", 4096, 1024), ("m.y", 2048, 512), ("q.z", 128, 256), ("n256_k512", 256, 512)]
    b.write_text("model,layer,N,K\nm,y,1024,512\n")
    with pytest.raises(SystemExit) as e:
        compare.read_shapes([str(a), str(b)])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        compare.read_shapes([str(tmp_path / "absent.csv")])
    assert e.value.code == 2


def test_impls(monkeypatch):
    compare = load_compare(monkeypatch, recording(())[0])
    assert compare.parse_impls("triton,torch") == ["torch", "triton"]
    for bad in ("", "torch,cublas"):
        with pytest.raises(SystemExit) as e:
            compare.parse_impls(bad)
        assert e.value.code == 2
