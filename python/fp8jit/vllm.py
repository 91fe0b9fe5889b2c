"""fp8jit as a vLLM linear kernel: the FP8 W8A8 layer with dynamic per-token activation scales x
per-channel weight scales (PTPC), the weight packed once at load time, one fp8jit GEMM per call
with the bias fused in its epilogue.

The kernel has the interface of vLLM's FP8ScaledMMLinearKernel
(vllm/model_executor/kernels/linear/scaled_mm/ScaledMMLinearKernel.py) and its rules mirror
vLLM's AiterPreshuffledPerTokenFp8ScaledMMLinearKernel, less its "tuned config required" gate:
fp8jit tunes or models any (N, K). `register()` is the vLLM plugin (entry point group
`vllm.general_plugins`, declared in pyproject.toml): it puts the kernel first in vLLM's FP8
kernel choices for CUDA and ROCm, where vLLM still asks it is_supported / can_implement and falls
through to its own kernels when it says no. `VLLM_DISABLED_KERNELS=Fp8jitScaledMMLinearKernel`
turns it off.

Without vLLM this module imports all the same: the kernel then derives from a stand-in with
vLLM's method names, and register() logs why it does nothing.
"""
import logging
import os
import threading

import torch

from . import _lib
from . import torch as ft

logger = logging.getLogger(__name__)

# The compile targets fp8jit has kernels for; an emulated one runs on the CPU (tests).
SUPPORTED_ARCHS = ("sm_90a", "sm_89", "gfx942", "gfx950")
EMULATED_ARCHS = ("emu-sm89", "emu-gfx942", "emu-gfx950")
# NVIDIA compute capabilities (x10, as vLLM passes them) of those targets.
SUPPORTED_CAPABILITIES = (89, 90)

# vLLM's largest fp8 magnitude per encoding: e4m3fn's 448, and 224 rather than e4m3fnuz's 240,
# which vLLM uses on ROCm for accuracy (quant_utils.get_fp8_min_max).
_FP8_MAX = {torch.float8_e4m3fn: 448.0, torch.float8_e4m3fnuz: 224.0}
_OUT_DTYPES = (torch.bfloat16, torch.float16)


class _StandInFP8ScaledMMLinearKernel:
    """The part of vLLM's FP8ScaledMMLinearKernel this module relies on, for when vLLM is not
    importable: the constructor (config, layer_param_names) and the method names, nothing else."""

    @classmethod
    def is_supported(cls, compute_capability=None):
        raise NotImplementedError

    @classmethod
    def can_implement(cls, c):
        raise NotImplementedError

    def __init__(self, c, layer_param_names):
        self.config = c
        self.layer_param_names = layer_param_names

    def input_quant_key(self):
        return None

    def process_weights_after_loading(self, layer):
        pass

    def _get_layer_params(self, layer):
        w, w_s, x_s, x_s_ub = self.layer_param_names
        return (getattr(layer, w), getattr(layer, w_s), getattr(layer, x_s, None),
                getattr(layer, x_s_ub, None))

    def apply_weights(self, layer, x, bias=None):
        raise NotImplementedError

    def apply_scaled_mm(self, *, A, B, out_dtype, As, Bs, bias, output_shape):
        raise NotImplementedError

    def get_output_padding(self):
        return None


try:
    from vllm.model_executor.kernels.linear.scaled_mm.ScaledMMLinearKernel import (
        FP8ScaledMMLinearKernel as _KernelBase)
    VLLM_IMPORT_ERROR = None
except Exception as e:  # not installed, or it fails to import on this machine
    _KernelBase = _StandInFP8ScaledMMLinearKernel
    VLLM_IMPORT_ERROR = f"{type(e).__name__}: {e}"


def quantize_per_token(x, fp8_dtype, scale_ub=None):
    """Dynamic per-token FP8 quantization as vLLM's QuantFP8 does it natively: per row, the scale
    is absmax / fp8_max (absmax first clamped to `scale_ub` when given), at least
    1 / (fp8_max * 512); the row is multiplied by the scale's reciprocal, clamped to +-fp8_max and
    cast. x: [M, K] (bf16, fp16 or fp32). Returns (q [M, K] fp8_dtype, scale [M, 1] float32).
    Plain torch ops: under torch.compile inductor fuses them into one kernel."""
    fp8_max = _FP8_MAX[fp8_dtype]
    x_max = x.abs().amax(dim=-1).unsqueeze(-1).to(torch.float32)
    if scale_ub is not None:
        x_max = x_max.clamp(max=scale_ub)
    scale = (x_max / fp8_max).clamp(min=1.0 / (fp8_max * 512.0))
    q = (x.to(torch.float32) * scale.reciprocal()).clamp(-fp8_max, fp8_max).to(fp8_dtype)
    return q, scale


def _emulating():
    """Whether FP8JIT_TARGET names an emulated device (emu-*): then the layers run on the CPU
    emulator, also on a machine with a GPU."""
    return os.environ.get("FP8JIT_TARGET", "").startswith("emu-")


def _device():
    """The device the layers run on: the current GPU, else the CPU (fp8jit's emulator)."""
    if torch.cuda.is_available() and not _emulating():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _on_gpu_platform():
    """Whether the layers run on CUDA or ROCm (vLLM's platform, or without vLLM torch's), not on
    fp8jit's CPU emulator."""
    if _emulating():
        return False
    if VLLM_IMPORT_ERROR is None:
        from vllm.platforms import current_platform
        return current_platform.is_cuda() or current_platform.is_rocm()
    return torch.cuda.is_available()


# (device, target) -> (ok, reason) of the probe; guarded by _probe_lock.
_probed = {}
_probe_lock = threading.Lock()


def _probe(ctx, device):
    """Packs a [16, 32] weight of ones and runs one M = 1 GEMM with a bias: proves that fp8jit's
    toolchain (NVRTC, hiprtc or clang; the host compiler for the emulator) builds kernels for
    this device and that they run. About a second the first time (two kernels compiled), nothing
    once they are in the disk cache; once per process and device."""
    key = (str(device), ctx.target)
    with _probe_lock:
        if key not in _probed:
            fp8 = ft._FP8_DTYPES[ctx.fp8_format]
            try:
                pw = ft.pack_weight(torch.ones(16, 32, device=device).to(fp8),
                                    torch.ones(16, device=device))
                a = torch.ones(1, 32, device=device).to(fp8)
                bias = torch.full((16,), 0.5, dtype=torch.bfloat16, device=device)
                out = ft.scaled_mm(a, torch.ones(1, 1, device=device), pw, bias)
                got = out.float().cpu()
                if torch.equal(got, torch.full((1, 16), 32.5)):
                    _probed[key] = (True, None)
                else:
                    _probed[key] = (False, f"fp8jit's probe GEMM on {ctx.target} gave "
                                           f"{got.flatten()[:4].tolist()}... where 32.5 was due")
            except _lib.Error as e:
                first = str(e).splitlines()[0] if str(e) else type(e).__name__
                _probed[key] = (False, f"fp8jit cannot build or run a kernel for {ctx.target}: "
                                       f"{first}")
    return _probed[key]


def _fp8_dtype_of(device):
    return ft._FP8_DTYPES[ft.context(device).fp8_format]


def _replace_parameter(layer, name, tensor):
    """The layer's parameter `name` now holds `tensor` (no gradient): through vLLM's
    replace_parameter where vLLM is (it keeps the Parameter object and its loader attributes for
    weight reloading), else as a new Parameter."""
    if VLLM_IMPORT_ERROR is None:
        from vllm.model_executor.utils import replace_parameter
        replace_parameter(layer, name, tensor)
    else:
        setattr(layer, name, torch.nn.Parameter(tensor, requires_grad=False))


class Fp8jitScaledMMLinearKernel(_KernelBase):
    """vLLM's FP8 W8A8 linear layer on fp8jit: per-token activation scales (computed per call) x
    per-channel weight scales, bf16 or fp16 output, N and K multiples of 16. The layer's weight is
    replaced by fp8jit's packed bytes (uint8 [N, K rounded up to 32], torch-allocated) and its
    weight_scale by a float32 [N]; a call is one quantization (fused by torch.compile) and one
    fp8jit GEMM with the bias in its epilogue."""

    @classmethod
    def is_supported(cls, compute_capability=None):
        if not _on_gpu_platform():
            device = torch.device("cpu")
            try:
                ctx = ft.context(device)  # only an emulated device opens on the CPU
            except (ValueError, _lib.Error):
                return False, ("requires CUDA or ROCm (or fp8jit's CPU emulator: "
                               "FP8JIT_TARGET=emu-sm89, emu-gfx942 or emu-gfx950)")
        else:
            if (torch.version.hip is None and compute_capability is not None
                    and compute_capability not in SUPPORTED_CAPABILITIES):
                return False, (f"requires compute capability 89 or 90 (sm_89, sm_90a), got "
                               f"{compute_capability}")
            device = _device()
            try:
                ctx = ft.context(device)
            except (ValueError, _lib.Error) as e:
                return False, f"fp8jit cannot open {device}: {e}"
        arch = ctx.target.split(":")[0]
        if arch not in SUPPORTED_ARCHS + EMULATED_ARCHS:
            return False, (f"requires one of {', '.join(SUPPORTED_ARCHS)}; this device is "
                           f"{arch}")
        return _probe(ctx, device)

    @classmethod
    def can_implement(cls, c):
        act = c.activation_quant_key.scale
        weight = c.weight_quant_key.scale
        if not (act.group_shape.is_per_token() and weight.group_shape.is_per_channel()):
            return False, "requires per token activation scales and per channel weight scales"
        if act.static:
            return False, "requires dynamic per token activation scales (computed per call)"
        if getattr(c, "weight_shape", None) is None:
            return False, "weight_shape is required for fp8jit kernels"
        n, k = c.weight_shape
        if not (n % 16 == 0 and k % 16 == 0):
            return False, (f"requires N and K dimensions divisible by 16, received N={n} and "
                           f"K={k}")
        if not (0 < n < 2**31 and 0 < k < 2**31):
            return False, f"requires 0 < N, K < 2^31, received N={n} and K={k}"
        out_dtype = c.out_dtype if c.out_dtype is not None else getattr(c, "input_dtype", None)
        if out_dtype not in _OUT_DTYPES:
            return False, f"requires bfloat16 or float16 output dtype, got {out_dtype}"
        # NOTE: no "tuned configuration required" rule (aiter's kernel has one): fp8jit takes a
        # tuned row where its tables have one for (N, K, M) and otherwise its cost model's pick,
        # or measures candidates itself with FP8JIT_AUTOTUNE=1, so every shape is served.
        return True, None

    def __init__(self, c, layer_param_names):
        for rule in (self.can_implement(c), self.is_supported()):
            if not rule[0]:
                raise ValueError(f"{type(self).__name__} cannot serve this layer: it {rule[1]}")
        super().__init__(c, layer_param_names)
        self._fp8_dtype = _fp8_dtype_of(_device() if _on_gpu_platform() else torch.device("cpu"))

    def _out_dtype(self, x_dtype=None):
        c = self.config
        if c.out_dtype is not None:
            return c.out_dtype
        return x_dtype if x_dtype is not None else getattr(c, "input_dtype", None)

    def process_weights_after_loading(self, layer):
        """Packs the layer's weight once (vLLM keeps it as the [K, N] view of a row-major [N, K];
        [N, K] itself is taken too) into torch-allocated tensors that replace the weight and
        its scales, and resolves the kernel of every M now, so that no compile or module load
        happens during a CUDA-graph capture."""
        w_name, s_name = self.layer_param_names[:2]
        w, w_s, _, _ = self._get_layer_params(layer)
        n, k = self.config.weight_shape
        if tuple(w.shape) == (k, n) and not w.is_contiguous() and w.t().is_contiguous():
            w = w.t()  # [N, K] row-major, without a copy
        if tuple(w.shape) != (n, k):
            raise ValueError(f"layer parameter '{w_name}' has shape {list(w.shape)}: the config's "
                             f"weight_shape is (N, K) = ({n}, {k}), so it must be [{n}, {k}] or "
                             f"the [{k}, {n}] transposed view of one")
        packed = ft.pack_weight(w, w_s)
        _replace_parameter(layer, w_name, packed.packed)
        _replace_parameter(layer, s_name, packed.scale)
        # NOTE: the plan is keyed by the layer's own tensors (it is dropped when they are freed),
        # not by `packed`, which dies with this frame.
        live = ft.PackedWeight(getattr(layer, w_name), getattr(layer, s_name), packed.k)
        out_dtype = self._out_dtype()
        if out_dtype in _OUT_DTYPES:
            ft.prepare(live, out_dtype, bias=getattr(layer, "bias", None) is not None)

    def apply_weights(self, layer, x, bias=None):
        """out[..., N] = the layer on x[..., K]: x quantized per token to fp8 (quantize_per_token,
        clamped to the layer's input_scale_ub when it has one), then one fp8jit GEMM with the
        bias fused."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"'x' must be a torch.Tensor (this kernel quantizes the activation "
                            f"itself: input_quant_key() is None), got {type(x).__name__}")
        w, w_s, _, x_s_ub = self._get_layer_params(layer)
        x_2d = x.reshape(-1, x.shape[-1])
        a, a_scale = quantize_per_token(x_2d, self._fp8_dtype, x_s_ub)
        return self.apply_scaled_mm(A=a, B=w, out_dtype=self._out_dtype(x.dtype), As=a_scale,
                                    Bs=w_s, bias=bias,
                                    output_shape=[*x.shape[:-1], w.shape[0]])

    def apply_scaled_mm(self, *, A, B, out_dtype, As, Bs, bias, output_shape):
        """One fp8jit GEMM: A [M, K] fp8, As [M, 1], B the packed weight, Bs [N], bias [N]."""
        if bias is not None and bias.dtype != out_dtype:
            bias = bias.to(out_dtype)
        out = ft._call(A, As, B, Bs, bias, out_dtype)  # torch.ops.fp8jit.scaled_mm
        return out.view(output_shape)


def register():
    """The vLLM plugin (entry point `fp8jit` of the group `vllm.general_plugins`): puts
    Fp8jitScaledMMLinearKernel first in vLLM's FP8 kernel choices for CUDA and ROCm. vLLM runs it
    in every process, maybe more than once; a second call changes nothing. Returns whether the
    kernel is registered; without vLLM it logs why not and does nothing."""
    if VLLM_IMPORT_ERROR is not None:
        logger.info("fp8jit: the vLLM kernel is not registered: vLLM is not importable (%s)",
                    VLLM_IMPORT_ERROR)
        return False
    try:
        from vllm.model_executor.kernels import linear
        from vllm.platforms import PlatformEnum
        choices = linear._POSSIBLE_FP8_KERNELS
    except (ImportError, AttributeError) as e:
        logger.warning("fp8jit: the vLLM kernel is not registered: this vLLM has no FP8 kernel "
                       "list where fp8jit expects it (%s: %s)", type(e).__name__, e)
        return False
    for platform in (PlatformEnum.CUDA, PlatformEnum.ROCM):
        kernels = choices.setdefault(platform, [])
        if Fp8jitScaledMMLinearKernel not in kernels:
            kernels.insert(0, Fp8jitScaledMMLinearKernel)
    logger.info("fp8jit: registered %s first among vLLM's FP8 kernels for CUDA and ROCm",
                Fp8jitScaledMMLinearKernel.__name__)
    return True
