"""The installed package: what `pip install .` put where, the wheel's tag, the library's run-time
dependencies, `python -m fp8jit`, and the shipped tables found by the packaged command."""
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest

import fp8jit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(fp8jit VERSION ([0-9.]+)", f.read()).group(1)


def test_the_library_and_the_command_are_inside_the_package():
    package = os.path.dirname(fp8jit.__file__)
    assert fp8jit.LIBRARY_PATH == os.path.join(package, "lib", "libfp8jit.so")
    assert os.path.isfile(fp8jit.LIBRARY_PATH)
    assert os.access(fp8jit.COMMAND_PATH, os.X_OK)
    tables = os.listdir(os.path.join(package, "share", "fp8jit", "tuned"))
    assert sorted(tables) == sorted(t for t in os.listdir(os.path.join(ROOT, "tuned"))
                                    if t.endswith(".csv"))


def test_versions_agree():
    assert fp8jit.version() == project_version()
    assert importlib.metadata.version("fp8jit") == project_version()


def test_the_wheel_serves_every_cpython():
    """py3-none-<platform>: no CPython ABI in the tag, no extension module in the package."""
    wheel = importlib.metadata.distribution("fp8jit").read_text("WHEEL")
    tags = re.findall(r"^Tag: (.*)$", wheel, re.M)
    assert tags and all(t.startswith("py3-none-") for t in tags), wheel
    package = os.path.dirname(fp8jit.__file__)
    for dirpath, _, files in os.walk(package):
        for f in files:
            assert not re.search(r"\.(cpython|abi3)[^/]*\.so$", f), os.path.join(dirpath, f)


def test_importing_fp8jit_needs_neither_torch_nor_numpy():
    code = "import sys, fp8jit; fp8jit.version(); print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_library_needs_only_libc_at_run_time():
    """libstdc++ and libgcc are linked in; vendor libraries (CUDA, HIP, NVRTC) are dlopen'ed."""
    try:
        dyn = subprocess.run(["readelf", "-d", fp8jit.LIBRARY_PATH], capture_output=True,
                             text=True, check=True).stdout
    except FileNotFoundError:
        pytest.skip("readelf is not installed (binutils)")
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", dyn))
    allowed = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
               "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libstdc++.so.6", "libgcc_s.so.1"}
    assert needed and needed <= allowed, f"unexpected run-time dependencies: {needed - allowed}"


def test_python_m_fp8jit_runs_the_command():
    out = subprocess.run([sys.executable, "-m", "fp8jit", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "warmup" in out.stdout and "cache" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "fp8jit", "explain", "1", "24", "64",
                          "--target", "sm_90a"], capture_output=True, text=True)
    assert bad.returncode == 2, "an N that is not a multiple of 16 is bad input (exit 2)"
    assert "N = 24" in bad.stderr


def test_the_packaged_command_reads_the_packaged_tables(monkeypatch):
    monkeypatch.delenv("FP8JIT_TUNED_TABLES", raising=False)
    out = subprocess.run([sys.executable, "-m", "fp8jit", "explain", "1", "4096", "4096",
                          "--target", "sm_90a", "--cu", "132"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    tables_line = next(line for line in out.stdout.splitlines() if line.startswith("tables"))
    share = os.path.join(os.path.dirname(fp8jit.__file__), "share", "fp8jit", "tuned")
    for table in os.listdir(share):
        assert os.path.join(share, table) in tables_line, tables_line


def test_fp8jit_library_names_another_library(tmp_path):
    """FP8JIT_LIBRARY replaces the package's library (a build tree's, say); a missing one is an
    ImportError that names the variable."""
    other = tmp_path / "libfp8jit.so"
    other.write_bytes(open(fp8jit.LIBRARY_PATH, "rb").read())
    code = "import fp8jit; print(fp8jit.LIBRARY_PATH); print(fp8jit.version())"
    env = dict(os.environ, FP8JIT_LIBRARY=str(other))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(other), project_version()]
    env["FP8JIT_LIBRARY"] = str(tmp_path / "missing.so")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "missing.so is missing: FP8JIT_LIBRARY names a file that does not exist" in out.stderr
