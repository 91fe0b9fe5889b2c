"""References for the Python tests, written independently of fp8jit: fp8 and bf16 decoding,
random operands, aiter's weight shuffle, the float64 GEMM."""
import numpy as np


def fp8_format_of(target):
    return "e4m3fnuz" if "gfx942" in target else "e4m3fn"


def decode_fp8(bytes_, fmt):
    """float64 values of e4m3fn (bias 7) or e4m3fnuz (bias 8) bytes (no NaN among them)."""
    b = np.asarray(bytes_, dtype=np.uint8).astype(np.int64)
    sign = np.where(b >> 7, -1.0, 1.0)
    exp = (b >> 3) & 0xF
    man = (b & 7).astype(np.float64)
    bias = 7 if fmt == "e4m3fn" else 8
    value = np.where(exp == 0, np.ldexp(man / 8.0, 1 - bias), np.ldexp(1.0 + man / 8.0, exp - bias))
    return sign * value


def random_fp8(rng, shape, fmt):
    """Random fp8 bytes with magnitudes between 2^-3 and 2^3 in either format: never zero, never
    NaN, both signs."""
    bias = 7 if fmt == "e4m3fn" else 8
    exp = rng.integers(bias - 3, bias + 3, size=shape)
    man = rng.integers(0, 8, size=shape)
    sign = rng.integers(0, 2, size=shape)
    return (sign << 7 | exp << 3 | man).astype(np.uint8)


def bf16_to_float(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def float_to_bf16(values):
    """bf16 bits of float32 values, rounded to nearest even."""
    u = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def relative_error(got, ref):
    got = np.asarray(got, dtype=np.float64)
    return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))


def aiter_shuffle(w):
    """aiter's shuffle_weight(w, layout=(16, 16)) for 1-byte elements: the [N, K] bytes viewed as
    [N/16, 16, K/32, 2, 16] and permuted to [N/16, K/32, 2, 16, 16]. K is first padded with zero
    columns to a multiple of 32, as fp8jit packs a K % 32 == 16 weight."""
    n, k = w.shape
    kp = (k + 31) // 32 * 32
    padded = np.zeros((n, kp), dtype=np.uint8)
    padded[:, :k] = w
    return padded.reshape(n // 16, 16, kp // 32, 2, 16).transpose(0, 2, 3, 1, 4).reshape(n, kp)


def reference_gemm(a, sa, w, sw, bias, fmt):
    """float64 sa[m] * sw[n] * sum_k A[m, k] W[n, k] + bias[n] from fp8 bytes and float scales."""
    acc = decode_fp8(a, fmt) @ decode_fp8(w, fmt).T
    out = np.asarray(sa, np.float64).reshape(-1, 1) * np.asarray(sw, np.float64).reshape(1, -1) * acc
    if bias is not None:
        out = out + np.asarray(bias, np.float64).reshape(1, -1)
    return out
