"""The ``fxsim`` command: teach, list, benchmark, demonstrate.

Argument parsing only; the work happens in the modules it calls.  Every
expected failure (a missing or unreadable file, an unwritable --out, a bad
value, format or mode, a missing optional dependency, an unreachable
scheduler, a closed pipe, Ctrl-C) is turned into one line on stderr by
:func:`main`, in one place: exit status 2 (130 on Ctrl-C), no traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys

from . import formats as _formats
from .modes import Overflow, Rounding


class CommandError(Exception):
    """An expected failure; :func:`main` prints its message and exits with status 2."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``fxsim bench: argument --size: ...``), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def whole_number(least: int):
    """An argparse type: a whole number >= least (also used by ``fxsim train``'s options)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value
    parse.__name__ = f"whole number >= {least}"
    return parse


_positive, _nonnegative = whole_number(1), whole_number(0)


def _input_file(path: str, what: str) -> str:
    """Check that ``path`` is a readable file before any work is done."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CommandError(f"cannot read {what} {path!r}: no such file (check the path)") from None
    except NotADirectoryError:
        raise CommandError(f"cannot read {what} {path!r}: a part of the path is a file, "
                           "not a directory (check the path)") from None
    except PermissionError:
        raise CommandError(f"cannot read {what} {path!r}: permission denied on its directory") from None
    if stat.S_ISDIR(mode):
        raise CommandError(f"cannot read {what} {path!r}: it is a directory; give a file")
    if not os.access(path, os.R_OK):
        raise CommandError(f"cannot read {what} {path!r}: permission denied "
                           "(check the file's permissions)")
    return path


def _out_dir(path: str) -> str:
    """Create --out (and its parents) now, so that an unwritable path fails
    before the work rather than after it."""
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise CommandError(f"cannot write into --out {path!r}: it is a file, not a directory; "
                           "give a directory (it is created if missing)") from None
    except NotADirectoryError:
        parent = os.path.dirname(os.path.normpath(path))
        while parent and not os.path.isfile(parent):
            parent = os.path.dirname(parent)
        where = f"{parent!r} is a file" if parent else "a part of the path is a file"
        raise CommandError(f"cannot create --out {path!r}: {where}, not a directory; "
                           "give a directory path") from None
    except OSError as err:
        raise CommandError(f"cannot create --out {path!r}: {err.strerror or err}; "
                           "choose a directory you can write to") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CommandError(f"cannot write into --out {path!r}: permission denied; "
                           "choose a directory you can write to")
    return path


def _read(reader, path: str, *args, **kwargs):
    """``reader(path, ...)``, its complaints about the contents naming the file."""
    import zipfile

    try:
        return reader(path, *args, **kwargs)
    except UnicodeDecodeError as err:
        raise CommandError(f"cannot read {path!r}: not a text file of codes or numbers (byte "
                           f"0x{err.object[err.start]:02x} at offset {err.start} is not "
                           f"{err.encoding})") from None
    except (zipfile.BadZipFile, EOFError) as err:
        raise CommandError(f"cannot read {path!r}: not a valid {os.path.splitext(path)[1] or 'data'} "
                           f"file ({err or 'truncated'})") from None
    except ValueError as err:
        if "pickled" in str(err):  # numpy's guess for a file that is not .npy/.npz at all
            raise CommandError(f"cannot read {path!r}: not a NumPy {os.path.splitext(path)[1]} file "
                               "of numbers (or it holds Python objects, which fxsim does not load)") from None
        if path not in str(err):
            raise CommandError(f"cannot read {path!r}: {err}") from None
        raise

_FORMAT_HELP = ("a format: a preset (float8_e4m3fn, bfloat16, int8, ...), fixed point 'sW.F'/'uW.F' "
                "(W bits, F after the point, e.g. s16.8), or a float 'eXmY[bB][fn|fnuz|fnu|finite][_nosub]' "
                "(e.g. e4m3fn, e5m2, e4m3b11fnuz)")


def _unprefixed(err, name):
    """``err`` without the ``name: `` its message starts with (main adds ``fxsim COMMAND: ``)."""
    text = str(err)
    return type(err)(text[len(name) + 2:] if text.startswith(name + ": ") else text)


def _cmd_explain(args) -> int:
    from .explain import explain
    try:
        text = explain(args.value, args.format, args.rounding, args.overflow, r=args.r,
                       random_bits=args.random_bits)
    except ValueError as err:
        raise _unprefixed(err, "explain") from None
    print(text)
    return 0


def _numbers(text: str, flag: str):
    from .exact import parse_number
    items = [t for t in text.split(",")]
    if not text.strip() or any(not t.strip() for t in items):
        raise ValueError(f"{flag}: give comma-separated numbers, e.g. {flag} 1.5,-2,0.25; got {text!r}")
    return [parse_number(t) for t in items]


def _order(text: str):
    from .linalg_units import UNITS
    if text in ("sequential", "pairwise") or text in UNITS:
        return text
    try:
        block = int(text)
    except ValueError:
        block = 0
    if block < 1:
        raise ValueError(f"--order: 'sequential', 'pairwise', a block size >= 1 or a matrix unit "
                         f"({', '.join(UNITS)}), got {text!r}")
    return block


def _cmd_explain_dot(args) -> int:
    from .explain_dot import explain_dot
    a, b = _numbers(args.a, "--a"), _numbers(args.b, "--b")
    c = None if args.c is None else _numbers(args.c, "--c")[0]
    try:
        text = explain_dot(a, b, args.format, args.format_b, acc=args.acc, order=_order(args.order),
                           c=c, rounding=args.rounding, overflow=args.overflow, step=args.step)
    except (ValueError, OverflowError) as err:
        raise _unprefixed(err, "explain_dot") from None
    print(text)
    return 0


def _cmd_table(args) -> int:
    from .explain import table
    print(table(args.format))
    return 0


def _cmd_formats(args) -> int:
    print(f"{'name':20} {'definition':52} {'bits':>4}  {'max':>12}  overflow")
    for name, fmt in _formats.PRESETS.items():
        print(f"{name:20} {fmt!r:52} {fmt.width:>4}  {fmt.max:>12.6g}  {fmt.default_overflow.value}")
    from .aliases import listing
    print("\naliases (fxsim.format also takes numpy/ml_dtypes/torch dtypes):")
    for line in listing():
        print(line)
    return 0


def _cmd_bench(args) -> int:
    from .bench import list_rows, run
    if args.list:
        return list_rows(args.size)
    return run(size=args.size, only=args.only, repeat=args.repeat, targets=args.targets)


def _cmd_demo(args) -> int:
    from .demo import run
    _out_dir(args.out)
    return run(args.out, samples=args.samples, seed=args.seed)


def _cmd_tour(args) -> int:
    from .tour import run
    return run()


def _cmd_warmup(args) -> int:
    from .warmup import run
    return run()


_WRITERS = ("memh", "memb", "coe", "npz", "sv")


def _cmd_vectors(args) -> int:
    from . import io
    from .array import QArray
    from .codec import encode

    _input_file(args.input, "INPUT")
    fmt = _formats.format(args.format)
    kinds = [k.strip() for k in args.write.split(",") if k.strip()]
    bad = [k for k in kinds if k not in _WRITERS]
    if bad or not kinds:
        raise ValueError(f"--write: unknown kind {bad[0] if bad else args.write!r}; "
                         f"choose from {', '.join(_WRITERS)}")
    if args.address is not None and "coe" in kinds:
        raise ValueError("--address: .coe files have no addresses; leave coe out of --write")
    values = _read(io.read_values, args.input)
    stochastic = Rounding(args.rounding).is_stochastic
    if stochastic and args.seed is None:
        raise ValueError(f"--rounding {args.rounding} needs --seed N (the seed of the random bits, "
                         "so that the vectors can be reproduced)")
    rng = args.seed if stochastic else None
    if rng is None and args.seed is not None:
        raise ValueError(f"--seed is for the stochastic modes; rounding {args.rounding} draws no random bits")
    codes = encode(values, fmt, args.rounding, args.overflow, rng=rng)
    q = QArray(codes, fmt)
    name = args.name or os.path.splitext(os.path.basename(args.input))[0]
    packing = {"lanes": args.lanes, "lane_order": args.lane_order, "header": args.header}
    _out_dir(args.out)
    written = []
    for kind in kinds:
        path = os.path.join(args.out, f"{name}.{kind}")
        if kind == "npz":
            io.write_npz(path, {name: q}, rounding=args.rounding, overflow=args.overflow,
                         seeds=None if rng is None else {name: args.seed},
                         extra={"source": os.path.basename(args.input)})
        elif kind == "coe":
            io.write_coe(path, q, args.radix, **packing)
        elif kind == "sv":  # a package of one localparam table (small arrays only)
            import re
            ident = re.sub(r"\W", "_", name).upper()
            ident = ident if re.match(r"[A-Z_]", ident) else "T_" + ident
            io.write_sv_package(path, {ident: q}, f"{ident.lower()}_pkg")
        else:
            getattr(io, f"write_{kind}")(path, q, address=args.address, **packing)
        written.append(path)
    rounded, worst = _rounding_errors(values, codes, fmt)
    print(f"encoded {values.size} values of {args.input} (shape {values.shape}) into {fmt.name} "
          f"({fmt!r}), rounding {args.rounding}: {values.size - rounded} exact, {rounded} rounded, "
          f"max |error| {worst:.6g} (as float64)")
    for path in written:
        print(f"  wrote {path}")
    return 0


def _rounding_errors(values, codes, fmt):
    """How many finite ``values`` the ``codes`` do not hold exactly, and the
    largest such error (as float64).  ``values`` read from a text file may be
    an object array of exact values: a Fraction that is not dyadic is never
    a code's value; a dyadic one is compared with the code's exact value."""
    import math
    from fractions import Fraction

    import numpy as np

    from . import exact
    from .codec import decode

    decoded = np.asarray(decode(codes, fmt), dtype=np.float64)
    if values.dtype != object:
        finite = np.isfinite(values) & np.isfinite(decoded)
        rounded = int(np.count_nonzero(finite & (decoded != values)))
        worst = float(np.max(np.abs(decoded[finite] - values[finite]))) if finite.any() else 0.0
        return rounded, worst
    rounded, worst = 0, 0.0
    flat_codes = np.reshape(codes, -1)
    for i, (value, held) in enumerate(zip(values.reshape(-1).tolist(), decoded.reshape(-1).tolist())):
        if not math.isfinite(held) or (isinstance(value, float) and not math.isfinite(value)):
            continue
        if isinstance(value, float):
            differs = value != held
        else:
            den = value.denominator
            differs = den & (den - 1) != 0 or value != exact.code_value(flat_codes[i], fmt)
        if differs:
            rounded += 1
            try:
                error = abs(float(value) - held) or float(abs(Fraction(value) - Fraction(held)))
            except OverflowError:  # a Fraction beyond float64's range
                error = math.inf
            worst = max(worst, error)
    return rounded, worst


def _cmd_diff(args) -> int:
    from . import io
    from .diff import diff

    _input_file(args.golden, "GOLDEN")
    _input_file(args.dut, "DUT")
    if args.format:
        _formats.format(args.format)  # a bad --format is named as such, not as a file's fault
    # an .npz names its own format, which then also reads the other file
    first, second = (args.golden, args.dut) if args.golden.lower().endswith(".npz") or args.format \
        else (args.dut, args.golden)
    # the DUT's file may hold x/z digits: read as unknown bits, counted as mismatches
    packing = {"lanes": args.lanes, "lane_order": args.lane_order}
    a = _read(io.read_codes, first, args.format, array=args.array, with_unknown=True, **packing)
    b = _read(io.read_codes, second, args.format or a[0].fmt, array=args.array, with_unknown=True,
              **packing)
    (golden, known), (dut, unknown) = (a, b) if first == args.golden else (b, a)
    if known.any():
        raise ValueError(f"GOLDEN {args.golden!r} holds x/z digits (unknown bits); golden codes "
                         f"must all be known (format {golden.fmt.name})")
    if golden.shape != dut.shape and golden.size == dut.size:
        # text files are flat: read them in the other file's shape
        if dut.ndim == 1:
            dut, unknown = dut.reshape(golden.shape), unknown.reshape(golden.shape)
        elif golden.ndim == 1:
            golden = golden.reshape(dut.shape)
    report = diff(golden, dut, limit=args.limit, unknown=unknown)
    print(report)
    return 0 if report.ok else 1


def _cmd_train(args) -> int:
    from .train import command
    return command.run(args, out_dir=_out_dir)


def _cmd_analyze(args) -> int:
    import importlib

    # the 'analysis' extra first, so that a missing one is named before any work
    for module in ("dask", "matplotlib") + (("distributed",) if args.scheduler else ()):
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ModuleNotFoundError(str(err), name=module) from None
    from .studies.run import run_all, select
    from .studies.sweep import check_scheduler

    select(args.only)
    check_scheduler(args.scheduler)
    _out_dir(args.out)
    run_all(args.out, quick=args.quick, scheduler=args.scheduler, only=args.only,
            workers=args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="fxsim",
        description="fxsim: bit-exact reference simulator of low-precision arithmetic. "
                    "Every result is the exact value rounded once into its format.",
        epilog="Examples:\n"
               "  fxsim explain 464 --format float8_e4m3fn      # a tie at the top of E4M3\n"
               "  fxsim explain -2 --format s8.0 --rounding jam  # von Neumann rounding\n"
               "  fxsim explain-dot --a 1.5,2,-3 --b 0.5,0.25,4 -f e4m3fn --acc e5m2  # matmul, step by step\n"
               "  fxsim table float4_e2m1fn                      # every FP4 code\n"
               "  fxsim vectors x.npy -f e4m3fn --out vec         # golden vectors (memh + npz)\n"
               "  fxsim diff vec/x.memh dut.memh -f e4m3fn       # first mismatching bits\n"
               "  fxsim demo                                     # a quantized CNN, golden vectors\n"
               "  fxsim analyze --quick                          # the numerical studies\n"
               "  fxsim train bnn-mlp                            # a binary MLP, bit-exactly\n"
               "  fxsim bench --size 1000000                     # kernels beside their baselines\n"
               "  fxsim warmup                                   # compile the kernels once, up front\n"
               "\n"
               "Each command has its own help: fxsim COMMAND --help.\n"
               "Exit status: 0 success; 1 `fxsim diff` found mismatches (or a demo check failed);\n"
               "2 a usage error or bad input (a missing file, an unwritable --out, an unknown\n"
               "format or mode, a missing optional package, ...), explained in one line on\n"
               "stderr; 130 interrupted (Ctrl-C); 141 the output pipe closed early (| head).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fxsim {__version__}",
                        help="print fxsim's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("explain", help="show how one value is rounded into a format",
                       description="Show the fields, the exact value, the two neighbouring codes, "
                                   "the distance to each and the decision the rounding mode made. "
                                   "VALUE is read exactly: 0.1 means one tenth (not the float64 "
                                   "nearest to it); also -1/3, 1e-3, 0x1.8p3 (a float64 in hex), "
                                   "inf, nan.")
    p.add_argument("value", metavar="VALUE")
    p.add_argument("--format", "-f", required=True, help=_FORMAT_HELP)
    p.add_argument("--rounding", "-r", default="nearest_even", choices=[m.value for m in Rounding],
                   metavar="MODE", help="rounding mode (default nearest_even): "
                   + ", ".join(m.value for m in Rounding))
    p.add_argument("--overflow", "-o", default=None, choices=[m.value for m in Overflow],
                   metavar="POLICY", help="overflow policy (default: the format's): wrap, saturate, "
                   "raise (fixed); ieee, saturate, nan, raise (float)")
    p.add_argument("--r", type=int, default=None,
                   help="the random integer a stochastic mode uses, in [0, 2**random-bits)")
    p.add_argument("--random-bits", type=_positive, default=32, help="R, bits of randomness (default 32)")
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("explain-dot", help="show a dot product of matmul step by step",
                       description="Show c + a . b as fxsim.matmul computes it with an accumulator "
                                   "format and an order: every step's exact product(s), the running "
                                   "sum before, the exact sum, the sum after rounding into the "
                                   "accumulator, and why it rounded that way. The sums shown are "
                                   "matmul's own. Values are read exactly and rounded (nearest_even) "
                                   "into --format (a) and --format-b (b; default --format).",
                       epilog="Examples:\n"
                              "  fxsim explain-dot --a 1.5,2,-3 --b 0.5,0.25,4 -f e4m3fn --acc float16\n"
                              "  fxsim explain-dot --a 100,100,27 --b 1,1,1 -f int8 --acc int8 -o wrap\n"
                              "  fxsim explain-dot --a 1,2,3,4 --b 1,1,1,1 -f e4m3fn --acc e5m2 --order 2",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", required=True, metavar="X,X,...", help="the first vector (comma-separated)")
    p.add_argument("--b", required=True, metavar="X,X,...", help="the second vector (comma-separated)")
    p.add_argument("--format", "-f", required=True, help="format of a; " + _FORMAT_HELP)
    p.add_argument("--format-b", default=None, help="format of b (default: --format)")
    p.add_argument("--acc", default=None, help="the accumulator's format (required unless --order "
                   "names a matrix unit)")
    p.add_argument("--order", default="sequential", metavar="ORDER",
                   help="sequential (default), pairwise, a block size B (blocks of B products "
                        "summed exactly, then added), or a hardware matrix unit (ada_fp8, hopper_fp8, "
                        "b200_fp8: one block step; --step picks the block)")
    p.add_argument("--c", default=None, metavar="X", help="an addend, rounded into --acc first")
    p.add_argument("--rounding", "-r", default="nearest_even", choices=[m.value for m in Rounding],
                   metavar="MODE", help="the accumulator's rounding (default nearest_even; "
                   "deterministic modes)")
    p.add_argument("--overflow", "-o", default=None, choices=[m.value for m in Overflow],
                   metavar="POLICY", help="the accumulator's overflow policy (default: its format's)")
    p.add_argument("--step", type=_nonnegative, default=None,
                   help="show only this step (numbered from 0 as in the full listing)")
    p.set_defaults(func=_cmd_explain_dot)

    p = sub.add_parser("table", help="list every code of a small format",
                       description="List every code of a format of at most 12 bits: bits (grouped "
                                   "by field), hex, class and exact value.")
    p.add_argument("format", metavar="FORMAT", help=_FORMAT_HELP)
    p.set_defaults(func=_cmd_table)

    p = sub.add_parser("formats", help="list the preset formats")
    p.set_defaults(func=_cmd_formats)

    p = sub.add_parser("bench", help="time the kernels beside their baselines",
                       description="Time each kernel and its baseline in the same run and print "
                                   "the ratio (baseline time / fxsim time: above 1 means fxsim is "
                                   "faster). Peers (ml_dtypes, APyTypes) are used when installed. "
                                   "Timings depend on the machine and its load; compare ratios "
                                   "from the same run.",
                       epilog="Examples:\n"
                              "  fxsim bench --list                        # the rows, without timing\n"
                              "  fxsim bench --only e4m3fn --size 1000000  # rows naming e4m3fn\n"
                              "  fxsim bench --only matmul --targets       # with the project's goals",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=_positive, default=10_000_000,
                   help="elements per array of the elementwise rows (default 1e7)")
    p.add_argument("--repeat", type=_positive, default=5, help="best of this many runs (default 5)")
    p.add_argument("--only", default=None, metavar="TEXT",
                   help="run only rows whose kernel or baseline name contains TEXT (see --list)")
    p.add_argument("--list", action="store_true", help="list the rows' names and exit (nothing is timed)")
    p.add_argument("--targets", action="store_true",
                   help="also show the speed-ups the project aims for and whether this machine meets them")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("vectors", help="encode numbers from a .npy/.csv file into golden vectors",
                       description="Encode every number of INPUT (.npy, or .csv/.txt of numbers) into "
                                   "--format, each rounded once, and write the codes for a testbench: "
                                   "$readmemh text (.memh, one zero-padded hex code per line, row-major), "
                                   "$readmemb (.memb), Xilinx .coe, and/or .npz with a JSON manifest "
                                   "(format fields, rounding, overflow, seed, shape).",
                       epilog="Examples:\n"
                              "  fxsim vectors weights.npy --format float8_e4m3fn --out vec\n"
                              "  fxsim vectors x.csv -f s8.4 -r stochastic --seed 7 --write memh,coe --out vec",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="a .npy array or a .csv/.txt table of numbers "
                   "(text read exactly: 0.1 is one tenth, not the float64 nearest to it)")
    p.add_argument("--format", "-f", required=True, help=_FORMAT_HELP)
    p.add_argument("--rounding", "-r", default="nearest_even", choices=[m.value for m in Rounding],
                   metavar="MODE", help="rounding mode (default nearest_even)")
    p.add_argument("--overflow", "-o", default=None, choices=[m.value for m in Overflow],
                   metavar="POLICY", help="overflow policy (default: the format's)")
    p.add_argument("--seed", type=int, default=None, help="seed of the random bits (stochastic modes)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write into (created)")
    p.add_argument("--name", default=None, help="base name of the files (default: INPUT's name)")
    p.add_argument("--write", default="memh,npz", metavar="KINDS",
                   help="comma-separated: memh, memb, coe, npz, sv (a SystemVerilog package "
                        "with one localparam table, at most 4096 codes) (default memh,npz)")
    p.add_argument("--lanes", type=_positive, default=1,
                   help="codes packed per memory word in memh/memb/coe (default 1); e.g. 16 FP8 "
                        "lanes for a 128-bit bus")
    p.add_argument("--lane-order", default="lsb", choices=["lsb", "msb"],
                   help="lsb (default): lane 0 in the least significant bits of a word; msb: in the most")
    p.add_argument("--address", type=_nonnegative, default=None,
                   help="write an @address line first in memh/memb (in words; written in hex)")
    p.add_argument("--header", action="store_true",
                   help="start memh/memb/coe with comment lines naming fxsim's version, the format, "
                        "the shape and the lane packing (readers and $readmemh skip them)")
    p.add_argument("--radix", type=int, default=16, choices=[2, 10, 16],
                   help="radix of the .coe file (default 16)")
    p.set_defaults(func=_cmd_vectors)

    p = sub.add_parser("diff", help="compare golden codes with a device's; exit 1 on any mismatch",
                       description="Compare two files of codes (.memh/.hex/.mem, .memb, .coe, .npy, or "
                                   "fxsim .npz) element by element. Prints how many differ and the first "
                                   "--limit of them: index, both codes, both values, the fields the "
                                   "differing bits fall in, and the distance in ULPs (units in the last "
                                   "place: adjacent values differ by 1). x/z digits in the DUT's file "
                                   "(unknown bits) count as mismatches (field 'unknown'). Exit status 0 "
                                   "if identical, 1 on any mismatch, 2 on bad input.",
                       epilog="Example:\n"
                              "  fxsim diff demo-out/conv2.memh dut/conv2.memh --format s32.0",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("golden", metavar="GOLDEN")
    p.add_argument("dut", metavar="DUT")
    p.add_argument("--format", "-f", default=None,
                   help=_FORMAT_HELP + "; required unless both files are .npz")
    p.add_argument("--array", default=None, help="the array to compare in .npz files holding several")
    p.add_argument("--limit", type=_nonnegative, default=10, help="mismatches to list (default 10)")
    p.add_argument("--lanes", type=_positive, default=1,
                   help="codes packed per memory word in text files (default 1)")
    p.add_argument("--lane-order", default="lsb", choices=["lsb", "msb"],
                   help="lsb (default): lane 0 in the least significant bits of a word; msb: in the most")
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser("analyze", help="run the numerical studies and write a report with figures",
                       description="Run the studies of fxsim.studies (analysis/ in the source; Range-BN scale correction, "
                                   "quantization noise, accumulation error, integer BN) as Dask "
                                   "tasks and write report.md, PNG figures and numbers.json into "
                                   "--out. Numbers are reproducible: every random draw is seeded "
                                   "from its task's parameters.",
                       epilog="Examples:\n"
                              "  fxsim analyze --quick                     # a few minutes on 2 cores\n"
                              "  fxsim analyze --only range_bn --out rb    # one study\n"
                              "  dask scheduler &  dask worker tcp://HOST:8786 &\n"
                              "  fxsim analyze --scheduler tcp://HOST:8786 # on a cluster",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="analysis-out", help="output directory (default analysis-out)")
    p.add_argument("--quick", action="store_true",
                   help="smaller sweeps and sample counts (minutes, not tens of minutes)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a dask.distributed scheduler address (tcp://host:8786); default: "
                        "Dask's local multiprocessing scheduler")
    p.add_argument("--workers", type=_positive, default=None,
                   help="local worker processes (default: one per core)")
    p.add_argument("--only", default=None, metavar="STUDY[,STUDY]",
                   help="run only these studies: range_bn, quant_noise, accumulation, integer_bn")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("train", help="train a preset network with the papers' arithmetic, bit-exactly")
    from .train import command as train_command
    train_command.add_arguments(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("demo", help="a quantized CNN run bit-exactly, with golden vectors (`make demo`)",
                       description="Build a small binary CNN in the seed papers' style (8-bit input "
                                   "layer by bit planes x binary weights, XNOR-popcount convolutions "
                                   "with McDonnell's scaled sign, BN folded into integer thresholds, "
                                   "an int8 requantized classifier), run it bit-exactly on sample "
                                   "images generated from --seed, check every layer against numpy "
                                   "integers and the float model, and write every layer's golden "
                                   "vectors (.memh per array, golden.npz + manifest.json) into --out.")
    p.add_argument("--out", default="demo-out", help="output directory (default demo-out)")
    p.add_argument("--samples", type=_positive, default=256, help="sample images to run (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and images (default 0)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("tour", help="a short tour of formats, rounding and arithmetic (for teaching)")
    p.set_defaults(func=_cmd_tour)

    p = sub.add_parser("warmup", help="compile every kernel family once for this machine (with a progress "
                                      "bar); later calls start fast",
                       description="Compile every kernel family once for this machine and cache the "
                                   "machine code (under ~/.cache/fxsim, or NUMBA_CACHE_DIR), with a "
                                   "progress bar; later calls start fast. `make demo` and `make test` "
                                   "run it first.")
    p.set_defaults(func=_cmd_warmup)
    return parser


#: optional dependencies and the extra (setup.cfg) that installs them
_EXTRAS = {"dask": "analysis", "distributed": "analysis", "matplotlib": "analysis",
           "ml_dtypes": "peers", "apytypes": "peers", "gmpy2": "peers",
           "sklearn": "train", "mnist1d": "train", "requests": "train"}


def _import_message(err: ImportError) -> str:
    name = err.name or ""
    top = name.split(".")[0]
    if top in _EXTRAS:
        extra = _EXTRAS[top]
        return (f"needs the Python package {top!r}, which is not importable ({err}); install "
                f"fxsim's {extra!r} extra: pip install 'fxsim[{extra}]' (in a source checkout: "
                f"pip install -e '.[{extra}]')")
    if top == "fxsim":
        return (f"this fxsim installation is incomplete ({err}); reinstall it (in a source "
                "checkout: pip install -e '.[analysis]')")
    return f"a package fxsim needs is not importable ({err}); install it, or reinstall fxsim"


_OS_HINTS = {FileNotFoundError: "check the path", IsADirectoryError: "give a file, not a directory",
             NotADirectoryError: "a part of the path is a file, not a directory",
             PermissionError: "check the permissions, or choose another path"}


def _os_message(err: OSError) -> str:
    if err.strerror is None:  # raised with a message of its own
        return str(err)
    what = err.strerror
    if err.filename is not None:
        what = f"{err.filename!r}: {what}"
        if getattr(err, "filename2", None) is not None:
            what += f" (and {err.filename2!r})"
    hint = _OS_HINTS.get(type(err)) or ("free some disk space" if err.errno == errno.ENOSPC else None)
    return f"{what}; {hint}" if hint else what


def _quiet_stdout() -> None:
    """After a closed pipe (``fxsim table e4m3fn | head``): point stdout at
    /dev/null, so that the interpreter's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured by pytest)
        pass


def main(argv=None) -> int:
    """Run one ``fxsim`` command; the exit status (0, 1 for `fxsim diff`
    mismatches, 2 for any expected error, 130 on Ctrl-C, 141 on a closed pipe)."""
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            code = 0
        else:
            code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows up here, not at exit
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return 128 + 13  # as if killed by SIGPIPE, like other Unix tools
    except KeyboardInterrupt:
        message, code = "interrupted", 130
    except CommandError as err:
        message, code = str(err), 2
    except ImportError as err:
        message, code = _import_message(err), 2
    except OSError as err:
        message, code = _os_message(err), 2
    except (ValueError, OverflowError, TypeError) as err:
        message, code = str(err) or type(err).__name__, 2
    command = getattr(args, "command", None)
    prefix = f"fxsim {command}: " if command else "fxsim: "
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _quiet_stdout()
    print(prefix + " ".join(message.split("\n")), file=sys.stderr)
    return code


def run() -> None:
    """The ``fxsim`` console script: :func:`main`, then exit with its status.

    After Ctrl-C the status must be 130.  CPython turns the exit into death
    by SIGINT (status -2 to a parent) whenever it recorded the
    KeyboardInterrupt as unhandled somewhere along the way, even though
    :func:`main` caught it and reported it; so an interrupted run flushes
    its streams and leaves with ``os._exit(130)`` (nothing else is left to
    clean up: every result file is written and closed before it returns)."""
    code = main()
    if code == 130:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed stream has nothing to flush
                stream.flush()
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    run()
