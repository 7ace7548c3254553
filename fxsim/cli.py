"""The ``fxsim`` command: teach, list, benchmark, demonstrate.

Argument parsing only; the work happens in the modules it calls.
"""
from __future__ import annotations

import argparse
import sys

from . import formats as _formats
from .modes import Overflow, Rounding

_FORMAT_HELP = ("a format: a preset (float8_e4m3fn, bfloat16, int8, ...), fixed point 'sW.F'/'uW.F' "
                "(W bits, F after the point, e.g. s16.8), or a float 'eXmY[bB][fn|fnuz|fnu|finite][_nosub]' "
                "(e.g. e4m3fn, e5m2, e4m3b11fnuz)")


def _cmd_explain(args) -> int:
    from .explain import explain
    print(explain(args.value, args.format, args.rounding, args.overflow, r=args.r,
                  random_bits=args.random_bits))
    return 0


def _cmd_table(args) -> int:
    from .explain import table
    print(table(args.format))
    return 0


def _cmd_formats(args) -> int:
    print(f"{'name':20} {'definition':52} {'bits':>4}  {'max':>12}  overflow")
    for name, fmt in _formats.PRESETS.items():
        print(f"{name:20} {fmt!r:52} {fmt.width:>4}  {fmt.max:>12.6g}  {fmt.default_overflow.value}")
    return 0


def _cmd_bench(args) -> int:
    from .bench import run
    return run(size=args.size, only=args.only, repeat=args.repeat)


def _cmd_demo(args) -> int:
    from .demo import run
    return run(args.out, samples=args.samples, seed=args.seed)


def _cmd_tour(args) -> int:
    from .tour import run
    return run()


_WRITERS = ("memh", "memb", "coe", "npz")


def _cmd_vectors(args) -> int:
    import os

    import numpy as np

    from . import io
    from .array import QArray
    from .codec import decode, encode

    fmt = _formats.format(args.format)
    kinds = [k.strip() for k in args.write.split(",") if k.strip()]
    bad = [k for k in kinds if k not in _WRITERS]
    if bad or not kinds:
        raise ValueError(f"--write: unknown kind {bad[0] if bad else args.write!r}; "
                         f"choose from {', '.join(_WRITERS)}")
    values = io.read_values(args.input)
    rng = args.seed if Rounding(args.rounding).value.startswith("stochastic") else None
    if rng is None and args.seed is not None:
        raise ValueError(f"--seed is for the stochastic modes; rounding {args.rounding} draws no random bits")
    codes = encode(values, fmt, args.rounding, args.overflow, rng=rng)
    q = QArray(codes, fmt)
    name = args.name or os.path.splitext(os.path.basename(args.input))[0]
    os.makedirs(args.out, exist_ok=True)
    written = []
    for kind in kinds:
        path = os.path.join(args.out, f"{name}.{kind}")
        if kind == "npz":
            io.write_npz(path, {name: q}, rounding=args.rounding, overflow=args.overflow,
                         seeds=None if rng is None else {name: args.seed},
                         extra={"source": os.path.basename(args.input)})
        elif kind == "coe":
            io.write_coe(path, q)
        else:
            getattr(io, f"write_{kind}")(path, q)
        written.append(path)
    decoded = np.asarray(decode(codes, fmt), dtype=np.float64)
    finite = np.isfinite(values) & np.isfinite(decoded)
    rounded = int(np.count_nonzero(finite & (decoded != values)))
    worst = float(np.max(np.abs(decoded[finite] - values[finite]))) if finite.any() else 0.0
    print(f"encoded {values.size} values of {args.input} (shape {values.shape}) into {fmt.name} "
          f"({fmt!r}), rounding {args.rounding}: {values.size - rounded} exact, {rounded} rounded, "
          f"max |error| {worst:.6g} (as float64)")
    for path in written:
        print(f"  wrote {path}")
    return 0


def _cmd_diff(args) -> int:
    from . import io

    # an .npz names its own format, which then also reads the other file
    first, second = (args.golden, args.dut) if args.golden.lower().endswith(".npz") or args.format \
        else (args.dut, args.golden)
    a = io.read_codes(first, args.format, array=args.array)
    b = io.read_codes(second, args.format or a.fmt, array=args.array)
    golden, dut = (a, b) if first == args.golden else (b, a)
    if golden.shape != dut.shape and golden.size == dut.size:
        # text files are flat: read them in the other file's shape
        if dut.ndim == 1:
            dut = dut.reshape(golden.shape)
        elif golden.ndim == 1:
            golden = golden.reshape(dut.shape)
    report = io.diff(golden, dut, limit=args.limit)
    print(report)
    return 0 if report.ok else 1


def _cmd_analyze(args) -> int:
    try:
        from analysis.run import run_all
    except ImportError as err:
        raise ValueError("the studies live in the analysis/ package of an fxsim source checkout and need "
                         "its extra: run `pip install -e '.[analysis]'` in the checkout "
                         f"(or `make demo` once) ({err})") from None
    run_all(args.out, quick=args.quick, scheduler=args.scheduler, only=args.only,
            workers=args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fxsim",
        description="fxsim: bit-exact reference simulator of low-precision arithmetic. "
                    "Every result is the exact value rounded once into its format.",
        epilog="Examples:\n"
               "  fxsim explain 464 --format float8_e4m3fn      # a tie at the top of E4M3\n"
               "  fxsim explain -2 --format s8.0 --rounding jam  # von Neumann rounding\n"
               "  fxsim table float4_e2m1fn                      # every FP4 code\n"
               "  fxsim vectors x.npy -f e4m3fn --out vec         # golden vectors (memh + npz)\n"
               "  fxsim diff vec/x.memh dut.memh -f e4m3fn       # first mismatching bits\n"
               "  fxsim demo                                     # a quantized CNN, golden vectors\n"
               "  fxsim analyze --quick                          # the numerical studies\n"
               "  fxsim bench --size 1000000                     # kernels beside their baselines",
        formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument("--random-bits", type=int, default=32, help="R, bits of randomness (default 32)")
    p.set_defaults(func=_cmd_explain)

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
                                   "faster). Peers (ml_dtypes, APyTypes) are used when installed.")
    p.add_argument("--size", type=int, default=10_000_000, help="elements per array (default 1e7)")
    p.add_argument("--repeat", type=int, default=5, help="best of this many runs (default 5)")
    p.add_argument("--only", default=None, help="run only rows whose name contains this text")
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
    p.add_argument("input", metavar="INPUT", help="a .npy array or a .csv/.txt table of numbers")
    p.add_argument("--format", "-f", required=True, help=_FORMAT_HELP)
    p.add_argument("--rounding", "-r", default="nearest_even", choices=[m.value for m in Rounding],
                   metavar="MODE", help="rounding mode (default nearest_even)")
    p.add_argument("--overflow", "-o", default=None, choices=[m.value for m in Overflow],
                   metavar="POLICY", help="overflow policy (default: the format's)")
    p.add_argument("--seed", type=int, default=None, help="seed of the random bits (stochastic modes)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write into (created)")
    p.add_argument("--name", default=None, help="base name of the files (default: INPUT's name)")
    p.add_argument("--write", default="memh,npz", metavar="KINDS",
                   help="comma-separated: memh, memb, coe, npz (default memh,npz)")
    p.set_defaults(func=_cmd_vectors)

    p = sub.add_parser("diff", help="compare golden codes with a device's; exit 1 on any mismatch",
                       description="Compare two files of codes (.memh/.hex/.mem, .memb, .coe, .npy, or "
                                   "fxsim .npz) element by element. Prints how many differ and the first "
                                   "--limit of them: index, both codes, both values, the fields the "
                                   "differing bits fall in, and the distance in ULPs (units in the last "
                                   "place: adjacent values differ by 1). Exit status 0 if identical, 1 "
                                   "on any mismatch, 2 on bad input.",
                       epilog="Example:\n"
                              "  fxsim diff demo-out/conv2.memh dut/conv2.memh --format s32.0",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("golden", metavar="GOLDEN")
    p.add_argument("dut", metavar="DUT")
    p.add_argument("--format", "-f", default=None,
                   help=_FORMAT_HELP + "; required unless both files are .npz")
    p.add_argument("--array", default=None, help="the array to compare in .npz files holding several")
    p.add_argument("--limit", type=int, default=10, help="mismatches to list (default 10)")
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser("analyze", help="run the numerical studies and write a report with figures",
                       description="Run the studies of analysis/ (Range-BN scale correction, "
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
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: one per core)")
    p.add_argument("--only", default=None, metavar="STUDY[,STUDY]",
                   help="run only these studies: range_bn, quant_noise, accumulation, integer_bn")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("demo", help="a quantized CNN run bit-exactly, with golden vectors (`make demo`)",
                       description="Build a small binary CNN in the seed papers' style (8-bit input "
                                   "layer by bit planes x binary weights, XNOR-popcount convolutions "
                                   "with McDonnell's scaled sign, BN folded into integer thresholds, "
                                   "an int8 requantized classifier), run it bit-exactly on sample "
                                   "images generated from --seed, check every layer against numpy "
                                   "integers and the float model, and write every layer's golden "
                                   "vectors (.memh per array, golden.npz + manifest.json) into --out.")
    p.add_argument("--out", default="demo-out", help="output directory (default demo-out)")
    p.add_argument("--samples", type=int, default=256, help="sample images to run (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and images (default 0)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("tour", help="a short tour of formats, rounding and arithmetic (for teaching)")
    p.set_defaults(func=_cmd_tour)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, OverflowError) as err:
        print(f"fxsim {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
