"""No tracebacks from fxsim: every expected failure of every command is one
line on stderr, ``fxsim COMMAND: ...``, and exit status 2 (130 on Ctrl-C);
a closed pipe ends quietly.  Most cases run ``python -m fxsim.cli`` in a
subprocess (as a user would) and fail before any kernel is compiled."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import fxsim
from fxsim import cli

FXSIM = [sys.executable, "-m", "fxsim.cli"]


def fx(*argv, cwd=None, timeout=120, prefix=FXSIM):
    """Run fxsim; return (exit status, stdout, stderr)."""
    p = subprocess.run([*prefix, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def fails(*argv, cwd=None, command=None, code=2, **kw):
    """Run fxsim, check the failure is one line on stderr without a traceback; return that line."""
    rc, out, err = fx(*argv, cwd=cwd, **kw)
    assert "Traceback" not in out + err, err
    assert rc == code, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    command = argv[0] if command is None else command  # "" for the top-level parser
    assert lines[0].startswith(f"fxsim {command}: " if command else "fxsim: "), lines[0]
    return lines[0]


@pytest.fixture
def work(tmp_path):
    """A directory holding a regular file, a small CSV of numbers and a memh file."""
    (tmp_path / "afile").write_text("not a directory\n")
    (tmp_path / "x.csv").write_text("1\n2.5\n-3\n")
    (tmp_path / "x.memh").write_text("01\n02\n")
    return tmp_path


# ----------------------------------------------------------- missing or unreadable inputs
def test_vectors_missing_input(work):
    line = fails("vectors", "/nonexistent.csv", "--format", "s8.0", "--out", "D", cwd=work)
    assert "/nonexistent.csv" in line and "no such file" in line
    assert not (work / "D").exists()  # nothing created on a failed input


def test_diff_missing_golden_or_dut(work):
    line = fails("diff", "missing.memh", "other.memh", cwd=work)
    assert "GOLDEN 'missing.memh'" in line and "no such file" in line
    line = fails("diff", "x.memh", "other.memh", "--format", "s8.0", cwd=work)
    assert "DUT 'other.memh'" in line and "no such file" in line
    line = fails("diff", "missing.memh", "x.memh", "--format", "s8.0", cwd=work)
    assert "GOLDEN 'missing.memh'" in line


def test_directory_given_as_a_file(work):
    line = fails("vectors", str(work), "--format", "s8.0", "--out", "D", cwd=work)
    assert "is a directory" in line and "give a file" in line
    line = fails("diff", "x.memh", str(work), "--format", "s8.0", cwd=work)
    assert "DUT" in line and "is a directory" in line


def test_unreadable_file(work):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading the file")
    secret = work / "secret.csv"
    secret.write_text("1\n")
    secret.chmod(0)
    try:
        line = fails("vectors", "secret.csv", "--format", "s8.0", "--out", "D", cwd=work)
        assert "permission denied" in line
        line = fails("diff", "secret.csv", "x.memh", "--format", "s8.0", cwd=work)
        assert "permission denied" in line
    finally:
        secret.chmod(0o600)


def test_diff_unreadable_contents_and_format(work):
    (work / "bad.memh").write_text("01\ngg\n")
    line = fails("diff", "x.memh", "bad.memh", "--format", "s8.0", cwd=work)
    assert "bad.memh" in line and "'gg' is not a base-16 code" in line
    (work / "binary.memh").write_bytes(b"01\n\xff\xfe\n")
    line = fails("diff", "x.memh", "binary.memh", "--format", "s8.0", cwd=work)
    assert "binary.memh" in line and "not a text file" in line
    (work / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    line = fails("diff", "junk.npz", "x.memh", cwd=work)
    assert "junk.npz" in line and "not a valid .npz" in line
    line = fails("diff", "x.memh", "x.memh", "--format", "z8.8", cwd=work)
    assert "unknown format 'z8.8'" in line and "x.memh" not in line
    line = fails("diff", "x.memh", "x.memh", cwd=work)
    assert "give its format" in line


def test_diff_exit_status_0_identical_1_mismatch(work):
    (work / "y.memh").write_text("01\n03\n")
    rc, out, err = fx("diff", "x.memh", "x.memh", "--format", "s8.0", cwd=work)
    assert rc == 0 and not err
    rc, out, err = fx("diff", "x.memh", "y.memh", "--format", "s8.0", cwd=work)
    assert rc == 1 and "Traceback" not in out + err


# ----------------------------------------------------------- unwritable --out
@pytest.mark.parametrize("command", [
    ["vectors", "x.csv", "--format", "s8.0"],
    ["demo", "--samples", "4"],
    ["analyze", "--quick", "--only", "range_bn"],
])
def test_unwritable_out(work, command):
    if command[0] == "analyze":
        command = [*command, "--scheduler", "synchronous"]
    line = fails(*command, "--out", "afile/sub", cwd=work)
    assert "--out 'afile/sub'" in line and "'afile' is a file, not a directory" in line
    line = fails(*command, "--out", "afile", cwd=work)
    assert "--out 'afile'" in line and "it is a file, not a directory" in line


# ----------------------------------------------------------- fxsim analyze
# An unreachable scheduler on the loopback address: should a check below not
# fire, the command still fails in seconds instead of running the studies.
NOWHERE = ["--scheduler", "tcp://127.0.0.1:1"]


def test_analyze_unreachable_scheduler_fails_fast(work):
    # port 1 on the loopback address: nothing listens there
    line = fails("analyze", "--scheduler", "tcp://127.0.0.1:1", "--only", "range_bn",
                 "--out", "out", cwd=work, timeout=20)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in line
    assert "leave out --scheduler" in line
    assert not (work / "out").exists()


def test_analyze_bad_scheduler_address_and_study(work):
    line = fails("analyze", "--scheduler", "tcp://127.0.0.1:port", "--out", "out", cwd=work)
    assert "is not a number" in line
    line = fails("analyze", "--only", "nosuchstudy", *NOWHERE, "--out", "out", cwd=work)
    assert "unknown study 'nosuchstudy'" in line and "range_bn" in line


_BLOCK = textwrap.dedent("""
    import sys

    blocked = sys.argv.pop(1)

    class Blocker:  # as if the package were not installed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == blocked:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, Blocker())
    from fxsim.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("missing", ["dask", "matplotlib"])
def test_analyze_names_the_missing_extra(work, missing):
    line = fails("analyze", *NOWHERE, "--out", "out", cwd=work, command="analyze",
                 prefix=[sys.executable, "-c", _BLOCK, missing])
    assert f"'{missing}'" in line and "pip install 'fxsim[analysis]'" in line


def test_missing_extra_in_process(monkeypatch, capsys):
    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "matplotlib":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    monkeypatch.setattr(sys, "meta_path", [Blocker(), *sys.meta_path])
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    assert cli.main(["analyze", *NOWHERE]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fxsim analyze: needs the Python package 'matplotlib'")
    assert "pip install 'fxsim[analysis]'" in err


# ----------------------------------------------------------- fxsim bench
@pytest.mark.parametrize("args, text", [
    (["--size", "0"], "argument --size: must be at least 1, got 0"),
    (["--size", "-3"], "argument --size: must be at least 1, got -3"),
    (["--repeat", "0"], "argument --repeat: must be at least 1, got 0"),
    (["--size", "many"], "argument --size: expected a whole number, got 'many'"),
])
def test_bench_bad_numbers(args, text):
    assert text in fails("bench", *args)


def test_bench_only_matching_nothing():
    line = fails("bench", "--only", "nosuchrow")
    assert "'nosuchrow'" in line and "fxsim bench --list" in line


def test_bench_list_names_every_row():
    rc, out, err = fx("bench", "--list")
    assert rc == 0 and not err
    assert "decode float8_e4m3fn -> f64" in out and "startup" in out and "matmul" in out


def test_bench_targets_only_on_request():
    # one cheap row (a single encode kernel) on 1000 elements; no timing is asserted
    row = ["--only", "numpy clip", "--size", "1000", "--repeat", "1"]
    rc, out, err = fx("bench", *row)
    assert rc == 0 and "Traceback" not in err
    assert "encode f64 -> s16.8" in out and "numpy clip" in out and "x" in out.splitlines()[-1]
    assert "NOT met" not in out and "target" not in out
    rc, out, err = fx("bench", *row, "--targets")
    assert rc == 0 and "target" in out and "met" in out.splitlines()[-1]


# ----------------------------------------------------------- bad values, formats, modes
def test_bad_values_formats_and_modes(work):
    assert "unknown format 'z8.8'" in fails("table", "z8.8")
    assert "at most 12-bit" in fails("table", "float16")
    assert "unknown format" in fails("explain", "1", "--format", "s8.x")
    line = fails("explain", "1", "--format", "s8.0", "--rounding", "sideways")
    assert "argument --rounding/-r: invalid choice: 'sideways'" in line
    (work / "big.csv").write_text("1e6\n")
    line = fails("vectors", "big.csv", "-f", "s8.0", "-o", "raise", "--out", "D", cwd=work)
    assert "overflows format s8.0" in line  # an OverflowError from the library
    (work / "nan.csv").write_text("nan\n")
    assert "NaN" in fails("vectors", "nan.csv", "-f", "s8.0", "--out", "D", cwd=work)
    assert "unknown kind 'foo'" in fails("vectors", "x.csv", "-f", "s8.0", "--write", "foo",
                                         "--out", "D", cwd=work)
    (work / "words.csv").write_text("one,two\n")
    assert "not a table of numbers" in fails("vectors", "words.csv", "-f", "s8.0", "--out", "D",
                                             cwd=work)
    assert "must be at least 1" in fails("demo", "--samples", "0")
    line = fails("nosuchcommand", command="")
    assert line.startswith("fxsim: ") and "invalid choice: 'nosuchcommand'" in line


@pytest.mark.parametrize("error", [TypeError("bad operand"), OverflowError("too big"),
                                   ValueError("bad value")])
def test_library_errors_become_one_line(monkeypatch, capsys, error):
    import fxsim.explain

    def table(fmt):
        raise error
    monkeypatch.setattr(fxsim.explain, "table", table)
    assert cli.main(["table", "e4m3fn"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"fxsim table: {error}\n" and not captured.out


def test_os_errors_name_the_file(monkeypatch, capsys):
    import fxsim.explain

    def table(fmt):
        raise PermissionError(13, "Permission denied", "/some/file")
    monkeypatch.setattr(fxsim.explain, "table", table)
    assert cli.main(["table", "e4m3fn"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fxsim table: '/some/file': Permission denied; check the permissions")


def test_an_unexpected_bug_still_shows_its_traceback(monkeypatch):
    import fxsim.explain

    def table(fmt):
        raise KeyError("a bug")
    monkeypatch.setattr(fxsim.explain, "table", table)
    with pytest.raises(KeyError):
        cli.main(["table", "e4m3fn"])


# ----------------------------------------------------------- closed pipe, Ctrl-C
def test_closed_pipe_is_quiet():
    # a 12-bit table is ~200 kB, more than a pipe holds: the writer must meet the closed pipe
    p = subprocess.Popen([*FXSIM, "table", "s12.4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline().startswith(b"s12.4")
    p.stdout.close()
    err = p.stderr.read()
    rc = p.wait(timeout=60)
    p.stderr.close()
    assert err == b"" and rc in (0, 141)


@pytest.mark.skipif(not os.path.exists("/bin/bash"), reason="the closed-pipe test runs a shell pipeline through /bin/bash, absent here")
def test_closed_pipe_in_a_shell():
    cmd = " ".join(FXSIM) + " table float8_e4m3fn | head -n 1; " + " ".join(FXSIM) + " formats | head -n 1"
    p = subprocess.run(["/bin/bash", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert p.stdout.startswith("float8_e4m3fn: ") and p.stderr == ""


def test_keyboard_interrupt_in_process(monkeypatch, capsys):
    import fxsim.explain

    def table(fmt):
        raise KeyboardInterrupt
    monkeypatch.setattr(fxsim.explain, "table", table)
    assert cli.main(["table", "e4m3fn"]) == 130
    assert capsys.readouterr().err == "fxsim table: interrupted\n"


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT, which Windows does not deliver to a child process")
def test_ctrl_c_exits_130(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([*FXSIM, "demo", "--out", str(tmp_path / "d")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().startswith("fxsim demo:")  # main() is running: building the model
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (out, err)
    assert "Traceback" not in out + err and err.strip().splitlines()[-1] == "fxsim demo: interrupted"


# ----------------------------------------------------------- --version, --help
def test_version():
    rc, out, err = fx("--version")
    assert rc == 0 and out == f"fxsim {fxsim.__version__}\n"


def test_help_teaches_exit_status_and_new_commands():
    rc, out, _ = fx("--help")
    assert rc == 0 and "Exit status" in out and "warmup" in out and "--version" in out
    rc, out, _ = fx("bench", "--help")
    assert rc == 0 and "--targets" in out and "--list" in out and "baseline time / fxsim time" in out
