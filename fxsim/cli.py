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
    return run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fxsim",
        description="fxsim: bit-exact reference simulator of low-precision arithmetic. "
                    "Every result is the exact value rounded once into its format.",
        epilog="Examples:\n"
               "  fxsim explain 464 --format float8_e4m3fn      # a tie at the top of E4M3\n"
               "  fxsim explain -2 --format s8.0 --rounding jam  # von Neumann rounding\n"
               "  fxsim table float4_e2m1fn                      # every FP4 code\n"
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

    p = sub.add_parser("demo", help="a tour of fxsim at work (what `make demo` runs)")
    p.set_defaults(func=_cmd_demo)
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
