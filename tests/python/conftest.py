"""Fixtures of the Python package's tests (tests/python).

They run the installed package (`pip install .`; scripts/test does it) on the CPU emulator
(FP8JIT_TARGET=emu-sm89 / emu-gfx942: "device memory" is host memory, so NumPy arrays and torch
CPU tensors are the operands) and, where torch has CUDA, on the GPU. References are computed in
float64 from the fp8 bytes by this file's own decoders (or torch's fp8 casts), on fresh random
data; outputs are poisoned before each call.
"""
import os
import shutil
import tempfile

import numpy as np
import pytest

EMU_TARGETS = ("emu-sm89", "emu-gfx942")


@pytest.fixture(scope="session", autouse=True)
def private_cache():
    """A kernel cache of the tests' own unless the caller chose one (scripts/test does)."""
    if os.environ.get("FP8JIT_CACHE_DIR"):
        yield os.environ["FP8JIT_CACHE_DIR"]
        return
    path = tempfile.mkdtemp(prefix="fp8jit-pytest-cache-")
    os.environ["FP8JIT_CACHE_DIR"] = path
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        del os.environ["FP8JIT_CACHE_DIR"]


def _reset_torch_state():
    """Forgets the fp8jit.torch contexts and plans, so that the next call opens the device that
    FP8JIT_TARGET now names."""
    import sys
    ft = sys.modules.get("fp8jit.torch")
    if ft is not None:
        ft._forget_devices()


@pytest.fixture(params=EMU_TARGETS)
def emu(request, monkeypatch):
    """Runs the test on each emulated target: FP8JIT_TARGET set, fresh fp8jit.torch state."""
    if shutil.which(os.environ.get("CXX", "g++")) is None and shutil.which("c++") is None:
        pytest.skip("no host C++ compiler: the emulator builds its kernels with one")
    monkeypatch.setenv("FP8JIT_TARGET", request.param)
    _reset_torch_state()
    yield request.param
    _reset_torch_state()


@pytest.fixture
def no_emu(monkeypatch):
    monkeypatch.delenv("FP8JIT_TARGET", raising=False)
    _reset_torch_state()
    yield
    _reset_torch_state()


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name (printed, so that a failure can be replayed)."""
    seed = int(os.environ.get("FP8JIT_TEST_SEED", "0")) or (hash(request.node.nodeid) & 0xFFFFFFFF)
    print(f"seed {seed} (FP8JIT_TEST_SEED={seed} replays it)")
    return np.random.default_rng(seed)


@pytest.fixture
def emu_sm89(monkeypatch):
    """The emulator of one target (emu-sm89), for tests too slow to run on each."""
    if shutil.which(os.environ.get("CXX", "g++")) is None and shutil.which("c++") is None:
        pytest.skip("no host C++ compiler: the emulator builds its kernels with one")
    monkeypatch.setenv("FP8JIT_TARGET", "emu-sm89")
    _reset_torch_state()
    yield "emu-sm89"
    _reset_torch_state()
