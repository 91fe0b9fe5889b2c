"""fp8jit.Context: the new C functions (packed size, packing into the caller's memory, the GEMM on
caller-packed bytes, plans, host memory of an emulated device) on NumPy arrays under the CPU
emulator, checked against a float64 reference."""
import numpy as np
import pytest

import fp8jit
from fp8ref import (aiter_shuffle, bf16_to_float, float_to_bf16, fp8_format_of, random_fp8,
                    reference_gemm, relative_error)

POISON = 0xFFFF  # NaN in bf16 and fp16


def nbytes(x):
    return (x.ctypes.data, x.nbytes)


class Problem:
    """Random operands of one GEMM as NumPy arrays (fp8 as bytes, bf16/fp16 as 16-bit words)."""

    def __init__(self, ctx, rng, m, n, k, out_dtype="bf16", bias=True):
        self.fmt = ctx.fp8_format
        self.m, self.n, self.k, self.out_dtype = m, n, k, out_dtype
        self.a = random_fp8(rng, (m, k), self.fmt)
        self.w = random_fp8(rng, (n, k), self.fmt)
        self.sa = rng.uniform(0.01, 0.1, m).astype(np.float32)
        self.sw = rng.uniform(0.01, 0.1, n).astype(np.float32)
        values = rng.uniform(-1, 1, n).astype(np.float32)
        if not bias:
            self.bias = None
        elif out_dtype == "bf16":
            self.bias = float_to_bf16(values)
        else:
            self.bias = values.astype(np.float16).view(np.uint16)
        self.packed = np.empty(ctx.packed_weight_bytes(n, k), dtype=np.uint8)
        self.out = np.full((m, n), POISON, dtype=np.uint16)

    def bias_values(self):
        if self.bias is None:
            return None
        return bf16_to_float(self.bias) if self.out_dtype == "bf16" else self.bias.view(np.float16)

    def out_values(self):
        if self.out_dtype == "bf16":
            return bf16_to_float(self.out)
        return self.out.view(np.float16).astype(np.float64)

    def reference(self):
        return reference_gemm(self.a, self.sa, self.w, self.sw, self.bias_values(), self.fmt)

    def ranges(self):
        arrays = [self.a, self.w, self.sa, self.sw, self.packed, self.out]
        return [nbytes(x) for x in arrays + ([self.bias] if self.bias is not None else [])]

    def pack(self, ctx):
        ctx.pack_weight_into(self.w.ctypes.data, self.n, self.k, self.packed.ctypes.data,
                             self.packed.nbytes)

    def gemm(self, ctx):
        ctx.gemm_packed(self.a.ctypes.data, self.sa.ctypes.data, self.packed.ctypes.data,
                        self.sw.ctypes.data, self.n, self.k,
                        self.bias.ctypes.data if self.bias is not None else 0,
                        self.out.ctypes.data, self.m, self.out_dtype)


@pytest.fixture
def ctx(emu):
    context = fp8jit.Context()
    yield context
    context.close()


def test_context_reports_the_emulated_target_and_its_fp8_format(ctx, emu):
    assert ctx.target == emu
    assert ctx.emulated
    assert ctx.fp8_format == fp8_format_of(emu)


@pytest.mark.parametrize("n,k", [(16, 32), (48, 48), (64, 144), (4096, 4080)])
def test_packed_weight_bytes_is_n_times_k_rounded_up_to_32(ctx, n, k):
    assert ctx.packed_weight_bytes(n, k) == n * ((k + 31) // 32 * 32)


@pytest.mark.parametrize("n,k,bad", [(24, 64, "N = 24"), (32, 40, "K = 40"), (0, 64, "N = 0"),
                                     (32, -16, "K = -16")])
def test_packed_weight_bytes_names_the_value_and_the_rule(ctx, n, k, bad):
    with pytest.raises(fp8jit.InvalidArgumentError, match=bad) as info:
        ctx.packed_weight_bytes(n, k)
    assert isinstance(info.value, ValueError)
    assert info.value.status == "INVALID_ARGUMENT"


@pytest.mark.parametrize("m,n,k,out_dtype,bias", [
    (1, 64, 128, "bf16", True),
    (7, 32, 48, "bf16", False),     # K % 32 == 16: packed with 16 zero columns more
    (37, 80, 96, "fp16", True),
    (129, 16, 64, "bf16", True),
])
def test_gemm_on_caller_packed_bytes_matches_float64(ctx, rng, m, n, k, out_dtype, bias):
    p = Problem(ctx, rng, m, n, k, out_dtype, bias)
    with ctx.host_memory(*p.ranges()):
        p.pack(ctx)
        p.gemm(ctx)
    got = p.out_values()
    assert not np.isnan(got).any(), "an output element was not written (still the poison)"
    err = relative_error(got, p.reference())
    assert err < 1e-2, f"relative error {err}"


def test_gfx942_packs_aiters_shuffle(rng, monkeypatch):
    """emu-gfx942 packs in aiter16x16: byte for byte aiter's shuffle_weight, re-implemented here
    from its view/permute, the K % 32 == 16 weight with its zero columns."""
    monkeypatch.setenv("FP8JIT_TARGET", "emu-gfx942")
    ctx = fp8jit.Context()
    for n, k in ((32, 64), (48, 80)):
        w = random_fp8(rng, (n, k), ctx.fp8_format)
        packed = np.full(ctx.packed_weight_bytes(n, k), 0xAB, dtype=np.uint8)  # poisoned
        with ctx.host_memory(nbytes(w), nbytes(packed)):
            ctx.pack_weight_into(w.ctypes.data, n, k, packed.ctypes.data, packed.nbytes)
        np.testing.assert_array_equal(packed.reshape(n, -1), aiter_shuffle(w))
    ctx.close()


def test_plan_runs_every_m_without_compiling_again(ctx, rng):
    n, k = 32, 64
    p = Problem(ctx, rng, 40, n, k, "bf16", bias=True)
    with ctx.host_memory(*p.ranges()):
        p.pack(ctx)
        plan = ctx.plan(p.packed.ctypes.data, p.sw.ctypes.data, n, k, "bf16", has_bias=True)
        for m in (1, 3, 17, 40):
            p.out.fill(POISON)
            plan.gemm(p.a.ctypes.data, p.sa.ctypes.data, p.bias.ctypes.data, p.out.ctypes.data, m)
            got = p.out_values()
            assert not np.isnan(got[:m]).any()
            assert np.isnan(got[m:]).all(), "rows past M were written"
            err = relative_error(got[:m], p.reference()[:m])
            assert err < 1e-2, f"M = {m}: relative error {err}"
        # The plan was made with a bias: a call without one breaks its rule.
        with pytest.raises(fp8jit.InvalidArgumentError, match="with bias"):
            plan.gemm(p.a.ctypes.data, p.sa.ctypes.data, 0, p.out.ctypes.data, 1)
    plan.close()


def test_unregistered_host_memory_is_a_fault_not_a_silent_access(ctx, rng):
    """The emulator checks every access: without registration the caller's arrays are outside
    every allocation, and the launch reports it instead of touching them."""
    p = Problem(ctx, rng, 5, 32, 64, "bf16", bias=False)
    with ctx.host_memory(nbytes(p.w), nbytes(p.packed)):
        p.pack(ctx)
    with pytest.raises(fp8jit.DriverError, match="outside every allocation"):
        p.gemm(ctx)
    # Registered but one byte short of 'a' (whose loads every target checks): still a fault.
    # 'a' sits inside a larger array whose guard bytes are not registered, so that no other
    # registered array adjoins it.
    guarded = np.zeros(p.a.size + 512, dtype=np.uint8)
    guarded[256:256 + p.a.size] = p.a.reshape(-1)
    p.a = guarded[256:256 + p.a.size].reshape(p.a.shape)
    ranges = [r for r in p.ranges() if r[0] != p.a.ctypes.data]
    with ctx.host_memory(*ranges, (p.a.ctypes.data, p.a.nbytes - 1)):
        with pytest.raises(fp8jit.DriverError, match="outside every allocation"):
            p.gemm(ctx)
    with ctx.host_memory(*ranges, nbytes(p.a)):
        p.gemm(ctx)  # the whole of it: no fault


def test_pack_into_too_small_a_buffer_names_the_size(ctx, rng):
    w = random_fp8(rng, (32, 48), ctx.fp8_format)
    packed = np.empty(32 * 64, dtype=np.uint8)
    with ctx.host_memory(nbytes(w), nbytes(packed)):
        with pytest.raises(fp8jit.InvalidArgumentError, match="packed_bytes = 1536 is less than the 2048"):
            ctx.pack_weight_into(w.ctypes.data, 32, 48, packed.ctypes.data, 32 * 48)


def test_null_and_misaligned_pointers_are_named(ctx):
    with pytest.raises(fp8jit.InvalidArgumentError, match="'packed'"):
        ctx.gemm_packed(16, 16, 0, 16, 32, 64, 0, 16, 1)
    with pytest.raises(fp8jit.InvalidArgumentError, match="'sw'"):
        ctx.plan(16, 0, 32, 64)
    buf = np.zeros(4096, dtype=np.uint8)
    with pytest.raises(fp8jit.InvalidArgumentError, match="w = .* must be 16-byte aligned"):
        ctx.pack_weight_into(buf.ctypes.data + 8, 16, 32, buf.ctypes.data + 1024, 1024)
    with pytest.raises(ValueError, match="out_dtype 'fp32'"):
        ctx.gemm_packed(16, 16, 16, 16, 32, 64, 0, 16, 1, "fp32")
