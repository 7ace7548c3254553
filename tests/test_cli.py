"""The fxsim command: explain, table, formats, errors.  Expected values are
worked out by hand in the comments."""
import pytest

from fxsim.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_table_lists_every_fp4_code(capsys):
    code, out, _ = run(capsys, "table", "float4_e2m1fn")
    rows = [line for line in out.splitlines() if "0x" in line]
    assert code == 0 and len(rows) == 16
    # 0x7 = 0 11 1: exponent 3 - bias 1 = 2, significand 1.5 -> 6
    assert rows[7].split()[-1] == "6" and "0 11 1" in rows[7]
    # 0x9 = 1 00 1: subnormal, -0.5
    assert "subnormal" in rows[9] and "-1/2" in rows[9]


def test_explain_a_tie_at_the_top_of_e4m3(capsys):
    # 464 lies half-way between 448 (0x7e, significand 1.110) and 480 (beyond
    # max; 0x7f is NaN): nearest_even picks the even significand, 448.
    code, out, _ = run(capsys, "explain", "464", "--format", "float8_e4m3fn")
    assert code == 0
    assert "a tie" in out and "480" in out and "outside the finite range" in out
    assert "result     0x7e" in out


def test_explain_jam_in_twos_complement(capsys):
    # -2 is 11111110 in s8.0; jamming forces the last bit: 11111111 = -1
    code, out, _ = run(capsys, "explain", "-2", "--format", "s8.0", "--rounding", "jam")
    assert code == 0 and "result     0xff" in out and "= -1" in out


def test_explain_stochastic_needs_r(capsys):
    # 0.3 in s8.4: t = 4.8, f = 0.8; R = 4: floor(0.8 * 16) = 12, so r >= 4 rounds up
    _, out_up, _ = run(capsys, "explain", "0.3", "-f", "s8.4", "-r", "stochastic", "--r", "4",
                       "--random-bits", "4")
    _, out_down, _ = run(capsys, "explain", "0.3", "-f", "s8.4", "-r", "stochastic", "--r", "3",
                         "--random-bits", "4")
    assert "result     0x5" in out_up and "result     0x4" in out_down
    code, _, err = run(capsys, "explain", "0.3", "-f", "s8.4", "-r", "stochastic")
    assert code == 2 and "needs the random integer" in err


def test_errors_are_reported_not_raised(capsys):
    code, _, err = run(capsys, "table", "z8.8")
    assert code == 2 and "unknown format" in err
    code, _, err = run(capsys, "table", "float16")
    assert code == 2 and "at most 12-bit" in err


def test_formats_and_help(capsys):
    code, out, _ = run(capsys, "formats")
    assert code == 0 and "float8_e4m3fn" in out and "448" in out
    code, out, _ = run(capsys)
    assert code == 0 and "explain" in out and "bench" in out
    with pytest.raises(SystemExit):
        main(["explain", "--help"])


def test_readme_tour_runs():
    """The README's Python examples run as written."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    exec(compile("\n".join(blocks), "README.md", "exec"), {})


def test_tour_runs(capsys):
    from fxsim import tour
    assert tour.run() == 0
    out = capsys.readouterr().out
    assert "7. OCP MX" in out and "2**-20, exact" in out and "-416.0" in out


def test_vectors_reads_text_numbers_exactly(tmp_path):
    """``fxsim vectors`` (as a user runs it) rounds each number of a .csv/.txt
    once: the codes against Python's Fraction arithmetic, s8.0 nearest_even
    (round() of a Fraction ties to even)."""
    import subprocess
    import sys
    from fractions import Fraction

    numbers = ["0.50000000000000000001", "0.49999999999999999999", "-0.50000000000000000001",
               "1.49999999999999999999", "-2.50000000000000000001", "5.0000000000000000001e-1"]
    (tmp_path / "x.csv").write_text(", ".join(numbers[:3]) + "\n" + ", ".join(numbers[3:]) + "\n")
    (tmp_path / "y.txt").write_text("\n".join(numbers) + "\n")
    want = [f"{round(Fraction(t)) & 0xFF:02x}" for t in numbers]
    assert want == ["01", "00", "ff", "01", "fd", "01"]
    for name in ("x.csv", "y.txt"):
        p = subprocess.run([sys.executable, "-m", "fxsim.cli", "vectors", name, "-f", "s8.0",
                            "--write", "memh", "--out", "vec"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0 and not p.stderr, p.stderr
        assert "6 rounded" in p.stdout, p.stdout
        stem = name.split(".")[0]
        assert (tmp_path / "vec" / f"{stem}.memh").read_text().split() == want
