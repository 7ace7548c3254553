"""``fxsim warmup`` and the compile notice of ``fxsim._kernels.jit``: a kernel family
that really compiles says so once on stderr; one loaded from the on-disk
cache says nothing."""
import os
import subprocess
import sys
import types

import pytest

import fxsim
import fxsim.warmup
from fxsim._kernels import jit as _jit

NOTICE = "fxsim: compiling {} kernels for this machine, once (cached in "


def test_run_quiet_returns_0_and_prints_nothing(capfd):
    assert fxsim.warmup.run(quiet=True) == 0
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_run_reports_each_step_and_the_total(capsys):
    assert fxsim.warmup.run() == 0  # warm now: loads from the cache
    out, err = capsys.readouterr()
    lines = err.splitlines()
    n = len(fxsim.warmup.STEPS)
    assert out == "" and len(lines) == n + 1
    for i, ((name, _, _), line) in enumerate(zip(fxsim.warmup.STEPS, lines)):
        assert line.startswith(f"[{i + 1}/{n}] {name} ... ") and " s" in line
    assert lines[-1].startswith("fxsim warmup: every kernel family ready in ")
    assert _jit.cache_dir() in lines[-1]


def _add_in_fresh_process(cache_home):
    """Exact fixed-point addition of codes in a new process: one small kernel
    of the elementwise family (``fixed_exact``, compiled in about a second), nothing
    else compiled."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "FXSIM_QUIET_COMPILE")}
    env["XDG_CACHE_HOME"] = str(cache_home)  # fxsim's own choice of cache dir, under here
    code = ("import fxsim; "
            "print((fxsim.from_bits([1, 2], 's8.4') + fxsim.from_bits([3, 250], 's8.4')).bits.tolist())")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[4, 508]"  # s9.4: 1 + 3, 2 + (250 - 256) = -4 -> 2**9 - 4
    return p.stderr


def test_compile_notice_only_when_compiling(tmp_path):
    first = _add_in_fresh_process(tmp_path)  # an empty cache: compiles
    lines = [line for line in first.splitlines() if line.startswith("fxsim: compiling")]
    assert len(lines) == 1, first
    assert lines[0].startswith(NOTICE.format("elementwise") + str(tmp_path / "fxsim" / "numba-")), lines
    assert lines[0].endswith(")")
    second = _add_in_fresh_process(tmp_path)  # the same cache: loaded, not compiled
    assert "compiling" not in second, second


def _fake_compile(module):
    """The start and end of a Numba compile event for a function of ``module``."""
    func = types.SimpleNamespace(__module__=module)
    data = {"dispatcher": types.SimpleNamespace(py_func=func)}
    start = types.SimpleNamespace(data=data)
    return start, start


def test_notice_once_per_family_nested_and_silenced(monkeypatch, capfd):
    notices = _jit._CompileNotices()
    monkeypatch.delenv("FXSIM_QUIET_COMPILE", raising=False)
    outer, inner = _fake_compile("fxsim._kernels.fake"), _fake_compile("fxsim._kernels.core")
    notices.on_start(outer[0])
    notices.on_start(inner[0])   # a function the kernel calls: part of the same compile
    notices.on_end(inner[1])
    notices.on_end(outer[1])
    notices.on_start(outer[0])   # a second kernel of the family: no second line
    notices.on_end(outer[1])
    other = _fake_compile("somepackage.kernels")  # not fxsim's
    notices.on_start(other[0])
    notices.on_end(other[1])
    err = capfd.readouterr().err
    assert err == NOTICE.format("fake") + _jit.cache_dir() + ")\n"
    assert notices.compiles == {"fake": 2} and notices.depth == 0



def test_quiet_compiles_silences_the_notice(monkeypatch, capfd):
    notices = _jit._CompileNotices()
    monkeypatch.setattr(_jit, "_notices", notices)  # what quiet_compiles() switches
    monkeypatch.delenv("FXSIM_QUIET_COMPILE", raising=False)
    start, end = _fake_compile("fxsim._kernels.fake")
    with _jit.quiet_compiles():
        notices.on_start(start)
        notices.on_end(end)
    assert capfd.readouterr().err == ""
    assert _jit.compile_counts() == {"fake": 1}  # still counted (warmup reports it)
    notices.on_start(start)  # outside: announced (not announced before)
    notices.on_end(end)
    assert "compiling fake kernels" in capfd.readouterr().err


@pytest.mark.parametrize("value, shown", [("0", True), ("", True), ("1", False)])
def test_quiet_variable(monkeypatch, capfd, value, shown):
    notices = _jit._CompileNotices()
    monkeypatch.setenv("FXSIM_QUIET_COMPILE", value)
    start, end = _fake_compile("fxsim._kernels.convert")
    notices.on_start(start)
    notices.on_end(end)
    assert ("compiling convert kernels" in capfd.readouterr().err) == shown
