"""fp8jit.torch: pack_weight, prepare and torch.ops.fp8jit.scaled_mm / scaled_mm_out on torch CPU
tensors under the CPU emulator (eagerly, under torch.compile(fullgraph=True), and through
torch.library.opcheck), and on CUDA where torch has it; the operand forms vLLM passes; the
errors that name the tensor."""
import gc

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (scripts/setup-python installs it)")
import fp8jit  # noqa: E402
import fp8jit.torch as ft  # noqa: E402

FP8 = {"emu-sm89": torch.float8_e4m3fn, "emu-gfx942": torch.float8_e4m3fnuz}


def fp8_tensor(shape, dtype, device="cpu", generator=None):
    """Random fp8 values of magnitude 2^-3 .. 2^3 (never zero, never NaN), both signs."""
    mag = torch.exp2(torch.empty(shape).uniform_(-3, 3, generator=generator))
    sign = torch.where(torch.rand(shape, generator=generator) < 0.5, -1.0, 1.0)
    return (mag * sign).to(dtype).to(device)


def reference(a, a_scale, w_nk, w_scale, bias):
    """float64 a_scale[m] * w_scale[n] * (A . W^T) + bias from torch's own fp8 -> float casts."""
    out = a.double() @ w_nk.double().t()
    out = out * a_scale.double().reshape(-1, 1) * w_scale.double().reshape(1, -1)
    if bias is not None:
        out = out + bias.double()
    return out


def rel_err(got, ref):
    return float((got.double() - ref).norm() / ref.norm())


@pytest.fixture
def gen():
    g = torch.Generator().manual_seed(20240607)
    return g


# ---- eager, on the emulator -------------------------------------------------------------------

@pytest.mark.parametrize("m,n,k", [(1, 64, 128), (37, 48, 80), (130, 32, 64)])
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float16])
def test_scaled_mm_matches_float64(emu, gen, m, n, k, out_dtype):
    fp8 = FP8[emu]
    w = fp8_tensor((n, k), fp8, generator=gen)
    w_scale = torch.empty(n, 1).uniform_(0.01, 0.1, generator=gen)
    a = fp8_tensor((m, k), fp8, generator=gen)
    a_scale = torch.empty(m, 1).uniform_(0.01, 0.1, generator=gen)
    bias = torch.empty(n).uniform_(-1, 1, generator=gen).to(out_dtype)
    pw = ft.pack_weight(w, w_scale)
    out = torch.full((m, n), float("nan"), dtype=out_dtype)  # poisoned
    ft.scaled_mm(a, a_scale, pw, bias, out_dtype=out_dtype, out=out)
    assert not out.isnan().any(), "an output element was not written"
    assert rel_err(out, reference(a, a_scale, w, w_scale, bias)) < 1e-2
    fresh = ft.scaled_mm(a, a_scale, pw, bias, out_dtype=out_dtype)
    assert fresh.dtype == out_dtype and fresh.shape == (m, n)
    assert torch.equal(fresh, out)


def test_the_operand_forms_vllm_passes(emu, gen):
    """The weight as vLLM keeps it ([K, N], the transposed view of a row-major [N, K]), scales
    as [M, 1] / [M] / per-tensor and [N, 1] / [1, N] / [N] / per-tensor, no bias."""
    fp8 = FP8[emu]
    m, n, k = 9, 32, 96
    w = fp8_tensor((n, k), fp8, generator=gen)
    a = fp8_tensor((m, k), fp8, generator=gen)
    sa = torch.empty(m).uniform_(0.01, 0.1, generator=gen)
    sw = torch.empty(n).uniform_(0.01, 0.1, generator=gen)
    a_forms = {"[M, 1]": (sa.reshape(m, 1), sa), "[M]": (sa, sa),
               "per-tensor": (sa[:1].reshape(()), sa[:1].expand(m))}
    w_forms = {"[N, 1]": (sw.reshape(n, 1), sw), "[1, N]": (sw.reshape(1, n), sw), "[N]": (sw, sw),
               "per-tensor": (sw[3:4].clone(), sw[3:4].expand(n))}
    for w_name, (w_arg, w_ref) in w_forms.items():
        pw = ft.pack_weight(w.t(), w_arg)  # the [K, N] view
        assert pw.k == k and pw.packed.shape == (n, 96) and pw.scale.shape == (n,)
        for a_name, (a_arg, a_ref) in a_forms.items():
            out = ft.scaled_mm(a, a_arg, pw)
            err = rel_err(out, reference(a, a_ref, w, w_ref, None))
            assert err < 1e-2, f"a_scale {a_name}, w_scale {w_name}: relative error {err}"


def test_pack_weight_returns_tensors_of_torchs_allocator(emu, gen):
    fp8 = FP8[emu]
    w = fp8_tensor((48, 48), fp8, generator=gen)
    w_scale = torch.full((48, 1), 0.5)
    pw = ft.pack_weight(w, w_scale)
    assert isinstance(pw, ft.PackedWeight)
    assert pw.packed.dtype == torch.uint8 and pw.packed.shape == (48, 64)  # K 48 -> 64
    assert pw.scale.dtype == torch.float32 and pw.scale.shape == (48,)
    for t in (pw.packed, pw.scale):
        assert t.device == w.device and t.is_contiguous()
        assert t.untyped_storage().nbytes() == t.numel() * t.element_size()
    # The weight's own copy of the scales: changing the caller's later does not reach it.
    w_scale.fill_(2.0)
    assert torch.all(pw.scale == 0.5)
    # The padding columns of a K % 32 == 16 weight are zeros; the weight's bytes all occur.
    if emu == "emu-gfx942":
        import numpy as np
        from fp8ref import aiter_shuffle
        expected = aiter_shuffle(w.view(torch.uint8).numpy())
        assert np.array_equal(pw.packed.numpy(), expected)


def test_m_zero_returns_an_empty_output(emu, gen):
    fp8 = FP8[emu]
    pw = ft.pack_weight(fp8_tensor((32, 64), fp8, generator=gen), torch.ones(32))
    out = ft.scaled_mm(torch.empty(0, 64, dtype=fp8), torch.empty(0, 1), pw)
    assert out.shape == (0, 32) and out.dtype == torch.bfloat16


def test_prepare_makes_the_plan_that_later_calls_use(emu, gen):
    fp8 = FP8[emu]
    m, n, k = 20, 32, 64
    w = fp8_tensor((n, k), fp8, generator=gen)
    w_scale = torch.empty(n, 1).uniform_(0.01, 0.1, generator=gen)
    bias = torch.empty(n).uniform_(-1, 1, generator=gen).to(torch.bfloat16)
    pw = ft.pack_weight(w, w_scale)
    ft.prepare(pw, torch.bfloat16, bias=True)
    assert len(ft._plans) == 1
    (plan,) = ft._plans.values()
    calls = []
    real_gemm = plan.gemm

    def counting(*args):  # records M (the next-to-last argument) of each call through the plan
        calls.append(args[-2])
        return real_gemm(*args)

    plan.gemm = counting
    for mm in (1, 5, m):
        a = fp8_tensor((mm, k), fp8, generator=gen)
        a_scale = torch.empty(mm, 1).uniform_(0.01, 0.1, generator=gen)
        out = ft.scaled_mm(a, a_scale, pw, bias)
        assert rel_err(out, reference(a, a_scale, w, w_scale, bias)) < 1e-2
    assert calls == [1, 5, m], "the calls did not go through the prepared plan"
    del plan.gemm  # back to the class's method: nothing here keeps the plan alive
    plan = real_gemm = None
    # The plan goes with its weight.
    del pw
    gc.collect()
    assert not ft._plans


OPCHECKS = ("test_faketensor", "test_aot_dispatch_static", "test_aot_dispatch_dynamic")


def test_opcheck_fake_and_dispatch(emu, gen):
    """torch's own check of a custom op: the fake (meta) implementation against the real one, and
    tracing with dynamic shapes. NOTE: not its test_schema, which compares the inputs before and
    after with arithmetic that torch lacks for fp8 on the CPU."""
    fp8 = FP8[emu]
    pw = ft.pack_weight(fp8_tensor((32, 64), fp8, generator=gen), torch.rand(32, 1) + 0.5)
    a = fp8_tensor((5, 64), fp8, generator=gen)
    a_scale = torch.rand(5, 1) + 0.5
    bias = torch.randn(32).to(torch.float16)
    torch.library.opcheck(torch.ops.fp8jit.scaled_mm.default,
                          (a, a_scale, pw.packed, pw.scale, bias, torch.float16), test_utils=OPCHECKS)
    out = torch.empty(5, 32, dtype=torch.bfloat16)
    torch.library.opcheck(torch.ops.fp8jit.scaled_mm_out.default,
                          (a, a_scale, pw.packed, pw.scale, None, out), test_utils=OPCHECKS)


def test_torch_compile_fullgraph(emu, gen):
    """A quantize-GEMM-activation block under torch.compile(fullgraph=True): one graph around the
    op (inductor), then a second M without a new failure."""
    fp8 = FP8[emu]
    n, k = 48, 64
    w = fp8_tensor((n, k), fp8, generator=gen)
    w_scale = torch.empty(n, 1).uniform_(0.01, 0.1, generator=gen)
    pw = ft.pack_weight(w.t(), w_scale)
    fmax = torch.finfo(fp8).max

    def block(x):
        # Dynamic per-token quantization, as vLLM does it, then the GEMM and a SiLU.
        scale = x.abs().amax(dim=1, keepdim=True).clamp(min=1e-6) / fmax
        q = (x / scale).clamp(-fmax, fmax).to(fp8)
        return torch.nn.functional.silu(ft.scaled_mm(q, scale, pw)), q, scale

    compiled = torch.compile(block, fullgraph=True)
    torch._dynamo.reset()
    for m in (3, 17):
        x = torch.randn(m, k, generator=gen)
        y, q, scale = compiled(x)
        ref = torch.nn.functional.silu(reference(q, scale, w, w_scale, None))
        assert y.dtype == torch.bfloat16 and y.shape == (m, n)
        assert rel_err(y, ref) < 2e-2


def test_torch_compile_out_variant(emu, gen):
    fp8 = FP8[emu]
    pw = ft.pack_weight(fp8_tensor((32, 64), fp8, generator=gen), torch.rand(32) + 0.5)
    a = fp8_tensor((4, 64), fp8, generator=gen)
    a_scale = torch.rand(4) + 0.5

    def f(a, a_scale, out):
        ft.scaled_mm(a, a_scale, pw, out=out)
        return out * 2

    out = torch.full((4, 32), float("nan"), dtype=torch.bfloat16)
    got = torch.compile(f, fullgraph=True, backend="aot_eager")(a, a_scale, out)
    assert not out.isnan().any(), "the mutation of 'out' was lost"
    assert torch.equal(got, out * 2)


def test_eager_calls_skip_the_dispatcher_and_modes_still_see_the_op(emu, gen, monkeypatch):
    """Eagerly, ft.scaled_mm calls the op's kernel directly (the dispatcher's round trip into
    Python is host time on every call); under a torch dispatch mode (a profiler, a fake or
    flop-counting mode) the call goes through torch.ops.fp8jit so that the mode sees it."""
    from torch.utils._python_dispatch import TorchDispatchMode

    fp8 = FP8[emu]
    w = fp8_tensor((32, 64), fp8, generator=gen)
    w_scale = torch.rand(32) + 0.5
    pw = ft.pack_weight(w, w_scale)
    a = fp8_tensor((4, 64), fp8, generator=gen)
    a_scale = torch.rand(4, 1) + 0.5
    ref = reference(a, a_scale, w, w_scale, None)

    class Seen(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.append(str(func))
            return func(*args, **(kwargs or {}))

    with Seen() as seen:
        got = ft.scaled_mm(a, a_scale, pw)
        ft.scaled_mm(a, a_scale, pw, out=torch.empty_like(got))
    assert "fp8jit.scaled_mm.default" in seen.ops and "fp8jit.scaled_mm_out.default" in seen.ops
    assert rel_err(got, ref) < 1e-2

    def no_dispatcher(*args):
        raise AssertionError("an eager call went through the dispatcher")

    monkeypatch.setattr(ft, "_scaled_mm_op", no_dispatcher)
    monkeypatch.setattr(ft, "_scaled_mm_out_op", no_dispatcher)
    assert torch.equal(ft.scaled_mm(a, a_scale, pw), got)
    out = torch.full_like(got, float("nan"))
    ft.scaled_mm(a, a_scale, pw, out=out)
    assert torch.equal(out, got)


def test_operands_that_are_not_tensors_are_named_on_the_fast_path_too(emu, gen, monkeypatch):
    """A GPU call that has passed the checks once takes the fast path, which reads tensor
    attributes without asking first; an operand that is not a tensor (a float scale, a
    PackedWeight made by hand from a list) must still be a TypeError naming it, not an
    AttributeError. The emulator's device stands in for the GPU's fast-path entry."""
    fp8 = FP8[emu]
    pw = ft.pack_weight(fp8_tensor((32, 64), fp8, generator=gen), torch.rand(32) + 0.5)
    a = fp8_tensor((4, 64), fp8, generator=gen)
    monkeypatch.setitem(ft._fast_devices, -1, ft._fast_entry(ft.context("cpu"), fp8))
    with pytest.raises(TypeError, match="'a_scale' must be a torch.Tensor"):
        ft.scaled_mm(a, 0.5, pw)
    with pytest.raises(TypeError, match="'bias' must be a torch.Tensor"):
        ft.scaled_mm(a, torch.ones(4), pw, bias=[0.0] * 32)
    with pytest.raises(TypeError, match="'w_packed' must be a torch.Tensor"):
        ft.scaled_mm(a, torch.ones(4), ft.PackedWeight([[0] * 64] * 32, pw.scale, 64))
    with pytest.raises(TypeError, match="'a_scale' must be a torch.Tensor"):
        ft.scaled_mm(a, 0.5, pw, out=torch.empty(4, 32, dtype=torch.bfloat16))


# ---- errors name the tensor ------------------------------------------------------------------

def test_errors_name_the_tensor_and_the_rule(emu, gen):
    fp8 = FP8[emu]
    other = torch.float8_e4m3fnuz if fp8 == torch.float8_e4m3fn else torch.float8_e4m3fn
    w = fp8_tensor((32, 64), fp8, generator=gen)
    pw = ft.pack_weight(w, torch.ones(32))
    a = fp8_tensor((4, 64), fp8, generator=gen)
    sa = torch.ones(4, 1)

    def raises(exc, pattern, fn, *args, **kwargs):
        with pytest.raises(exc, match=pattern):
            fn(*args, **kwargs)

    raises(TypeError, "tensor 'a' is torch.float32", ft.scaled_mm, a.float(), sa, pw)
    raises(TypeError, f"tensor 'a' is {other}, but {emu} consumes {fp8}", ft.scaled_mm,
           a.to(torch.float32).to(other), sa, pw)
    raises(ValueError, r"tensor 'a' has shape \[4, 64, 1\]", ft.scaled_mm, a.unsqueeze(2), sa, pw)
    raises(ValueError, r"tensor 'a' has shape \[4, 32\]: its K must be the weight's, 64",
           ft.scaled_mm, a[:, :32].contiguous(), sa, pw)
    wide = fp8_tensor((64, 4), fp8, generator=gen)
    raises(ValueError, "tensor 'a' of shape .* has strides .*must be contiguous", ft.scaled_mm,
           wide.t(), sa, pw)
    flat = fp8_tensor((4 * 64 + 8,), fp8, generator=gen)
    raises(ValueError, "tensor 'a' starts at .* not 16-byte aligned", ft.scaled_mm,
           flat[8:].view(4, 64), sa, pw)
    raises(TypeError, "tensor 'a_scale' is torch.float16", ft.scaled_mm, a, sa.half(), pw)
    raises(ValueError, r"tensor 'a_scale' has shape \[1, 4\]: per-token scales must be \[4\], "
           r"\[4, 1\] or one element", ft.scaled_mm, a, sa.reshape(1, 4), pw)
    raises(TypeError, "tensor 'bias' is torch.float16, must be torch.bfloat16", ft.scaled_mm,
           a, sa, pw, torch.zeros(32, dtype=torch.float16))
    raises(ValueError, r"tensor 'bias' has shape \[31\]: it must be \[32\]", ft.scaled_mm,
           a, sa, pw, torch.zeros(31, dtype=torch.bfloat16))
    raises(ValueError, "tensor 'bias' is on meta, must be on cpu", ft.scaled_mm,
           a, sa, pw, torch.zeros(32, dtype=torch.bfloat16, device="meta"))
    raises(TypeError, "out_dtype torch.float32 is neither", ft.scaled_mm, a, sa, pw,
           out_dtype=torch.float32)
    raises(ValueError, r"tensor 'out' has shape \[4, 31\]: it must be \[4, 32\]", ft.scaled_mm,
           a, sa, pw, out=torch.empty(4, 31, dtype=torch.bfloat16))
    raises(TypeError, "'weight' must be an fp8jit.torch.PackedWeight", ft.scaled_mm, a, sa, w)
    raises(ValueError, r"tensor 'w_packed' has shape \[32, 32\]: for 'a' of K = 64 it must be "
           r"\[N, 64\]", torch.ops.fp8jit.scaled_mm, a, sa, pw.packed[:, :32], pw.scale)

    raises(TypeError, f"tensor 'w' is torch.bfloat16, but {emu} consumes", ft.pack_weight,
           w.to(torch.bfloat16), torch.ones(32))
    raises(ValueError, r"tensor 'w' of shape \[32, 32\] has strides \(128, 4\)", ft.pack_weight,
           fp8_tensor((32, 128), fp8, generator=gen)[:, ::4], torch.ones(32))
    raises(ValueError, r"tensor 'w' of shape \[N, K\] = \[24, 64\] cannot be packed: .*N = 24 "
           "must be a multiple of 16", ft.pack_weight, fp8_tensor((24, 64), fp8, generator=gen),
           torch.ones(24))
    raises(ValueError, r"tensor 'w_scale' has shape \[2, 16\]: per-channel scales must be \[32\], "
           r"\[32, 1\], \[1, 32\] or one element", ft.pack_weight, w, torch.ones(2, 16))
    raises(TypeError, "'weight' must be an fp8jit.torch.PackedWeight", ft.prepare, w)


def test_cpu_tensors_without_an_emulated_target_are_refused(no_emu):
    w = torch.zeros(32, 64).to(torch.float8_e4m3fn)
    with pytest.raises(ValueError, match="tensor 'w' is on cpu: .*FP8JIT_TARGET=emu-"):
        ft.pack_weight(w, torch.ones(32))


# ---- CUDA ------------------------------------------------------------------------------------

def _cuda_or_skip():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA: torch.cuda.is_available() is False on this machine")
    try:
        ctx = ft.context("cuda")
    except (fp8jit.Error, ValueError) as e:
        pytest.skip(f"no CUDA device fp8jit can open: {e}")
    return ctx


def test_cuda_eager_and_graph_capture(no_emu):
    """On the GPU: eager calls on torch's current (non-default) stream, then a CUDA graph captured
    after prepare() and replayed on fresh inputs, each against float64."""
    ctx = _cuda_or_skip()
    fp8 = torch.float8_e4m3fnuz if ctx.fp8_format == "e4m3fnuz" else torch.float8_e4m3fn
    dev = torch.device("cuda")
    gen = torch.Generator().manual_seed(7)
    n, k = 4096, 2048
    w = fp8_tensor((n, k), fp8, dev, gen)
    w_scale = torch.empty(n, 1).uniform_(0.01, 0.1, generator=gen).to(dev)
    bias = torch.empty(n).uniform_(-1, 1, generator=gen).to(torch.bfloat16).to(dev)
    pw = ft.pack_weight(w.t(), w_scale)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        for m in (1, 37, 1000):
            a = fp8_tensor((m, k), fp8, dev, gen)
            a_scale = torch.empty(m, 1).uniform_(0.01, 0.1, generator=gen).to(dev)
            out = ft.scaled_mm(a, a_scale, pw, bias)
            assert rel_err(out, reference(a, a_scale, w, w_scale, bias)) < 1e-2
    torch.cuda.synchronize()

    ft.prepare(pw, torch.bfloat16, bias=True)
    m = 64
    a = fp8_tensor((m, k), fp8, dev, gen)
    a_scale = torch.empty(m, 1).uniform_(0.01, 0.1, generator=gen).to(dev)
    out = torch.empty(m, n, dtype=torch.bfloat16, device=dev)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        ft.scaled_mm(a, a_scale, pw, bias, out=out)
    for _ in range(2):
        a.copy_(fp8_tensor((m, k), fp8, dev, gen))
        a_scale.uniform_(0.01, 0.1)
        out.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        assert not out.isnan().any()
        assert rel_err(out, reference(a, a_scale, w, w_scale, bias)) < 1e-2


def test_cuda_compile_with_cuda_graphs(no_emu):
    ctx = _cuda_or_skip()
    fp8 = torch.float8_e4m3fnuz if ctx.fp8_format == "e4m3fnuz" else torch.float8_e4m3fn
    dev = torch.device("cuda")
    gen = torch.Generator().manual_seed(8)
    n, k = 2048, 1024
    w = fp8_tensor((n, k), fp8, dev, gen)
    w_scale = torch.empty(n, 1).uniform_(0.01, 0.1, generator=gen).to(dev)
    pw = ft.pack_weight(w, w_scale)
    ft.prepare(pw, torch.bfloat16)
    f = torch.compile(lambda a, s: ft.scaled_mm(a, s, pw), fullgraph=True, mode="reduce-overhead")
    for m in (8, 8, 8, 32):
        a = fp8_tensor((m, k), fp8, dev, gen)
        a_scale = torch.empty(m, 1).uniform_(0.01, 0.1, generator=gen).to(dev)
        out = f(a, a_scale).clone()
        assert rel_err(out, reference(a, a_scale, w, w_scale, None)) < 1e-2


def test_the_gpu_fast_path_agrees_with_the_checked_path(emu, gen, monkeypatch):
    """_run's fast path (taken on GPUs) on the emulator: the operands' memory registered by hand
    as the checked path would, the fast path must launch the same GEMM for the common operand
    forms and decline (leaving it to the checks) for every other form."""
    fp8 = FP8[emu]
    m, n, k = 6, 32, 48
    w = fp8_tensor((n, k), fp8, generator=gen)
    w_scale = torch.empty(n, 1).uniform_(0.01, 0.1, generator=gen)
    pw = ft.pack_weight(w, w_scale)
    a = fp8_tensor((m, k), fp8, generator=gen)
    a_scale = torch.empty(m, 1).uniform_(0.01, 0.1, generator=gen)
    bias = torch.empty(n).uniform_(-1, 1, generator=gen).to(torch.bfloat16)
    ctx = ft.context("cpu")
    entry = ft._fast_entry(ctx, fp8)
    ref = reference(a, a_scale, w, pw.scale, bias)
    for with_plan in (False, True):
        if with_plan:
            ft.prepare(pw, torch.bfloat16, bias=True)
        out = torch.full((m, n), float("nan"), dtype=torch.bfloat16)
        operands = (a, a_scale, pw.packed, pw.scale, bias, out)
        with ctx.host_memory(*[(t.data_ptr(), t.numel() * t.element_size()) for t in operands]):
            assert ft._run_fast(entry, -1, *operands)
        assert rel_err(out, ref) < 1e-2, f"plan: {with_plan}"

    out = torch.empty(m, n, dtype=torch.bfloat16)
    declined = {
        "per-tensor a_scale": (a, a_scale[:1], pw.packed, pw.scale, bias, out),
        "[1, N] w_scale": (a, a_scale, pw.packed, pw.scale.reshape(1, n), bias, out),
        "fp16 bias for bf16 out": (a, a_scale, pw.packed, pw.scale, bias.half(), out),
        "bias of N - 16": (a, a_scale, pw.packed, pw.scale, bias[:n - 16], out),
        "a of another fp8": (a.float().to(torch.float8_e5m2), a_scale, pw.packed, pw.scale, bias,
                             out),
        "a not contiguous": (fp8_tensor((k, m), fp8, generator=gen).t(), a_scale, pw.packed,
                             pw.scale, bias, out),
        "out of another shape": (a, a_scale, pw.packed, pw.scale, bias, out[:, :16]),
        "M = 0": (a[:0], a_scale[:0], pw.packed, pw.scale, bias, out[:0]),
        "float32 out": (a, a_scale, pw.packed, pw.scale, None, out.float()),
        "misaligned a": (torch.cat([a.view(torch.uint8).reshape(-1), torch.zeros(8, dtype=torch.uint8)])[8:]
                         .view(fp8).reshape(m, k), a_scale, pw.packed, pw.scale, bias, out),
    }
    for what, operands in declined.items():
        assert not ft._run_fast(entry, -1, *operands), f"the fast path took {what}"

    # Into a new output (the op's form): the same GEMM, the output allocated by torch; and the
    # same refusals for every form that is not the output's.
    new_out = torch.full((m, n), float("nan"), dtype=torch.bfloat16)

    def empty(*shape, dtype, device):
        assert shape == (m, n) and dtype == torch.bfloat16 and device == a.device
        return new_out

    operands = (a, a_scale, pw.packed, pw.scale, bias)
    with ctx.host_memory(*[(t.data_ptr(), t.numel() * t.element_size())
                           for t in operands + (new_out,)]):
        monkeypatch.setattr(torch, "empty", empty)
        got = ft._new_fast(entry, -1, *operands, torch.bfloat16)
        monkeypatch.undo()
    assert got is new_out and rel_err(got, ref) < 1e-2
    for what, operands in declined.items():
        if what != "out of another shape":  # (the new output has the right one)
            assert ft._new_fast(entry, -1, *operands[:5], operands[5].dtype) is None, \
                f"the fast path into a new output took {what}"
