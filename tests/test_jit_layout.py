"""The rule fxsim._jit's cache key relies on: compiled code lives only in the
top-level ``fxsim/_*.py`` modules, and those import nothing else from fxsim
(so a hash of them covers everything a kernel can see)."""
import ast
import pathlib

PKG = pathlib.Path(__file__).resolve().parents[1] / "fxsim"
NUMBA_MARKERS = ("njit", "intrinsic", "register_jitable", "overload", "prange", "vectorize(")


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield 0, a.name, []


def _uses_numba(path):
    return any(line.startswith(("from numba", "import numba", "from llvmlite"))
               for line in path.read_text().splitlines())


def test_numba_code_only_in_underscore_modules():
    offenders = []
    for path in PKG.rglob("*.py"):
        if _uses_numba(path) and not (path.parent == PKG and path.name.startswith("_")):
            offenders.append(str(path.relative_to(PKG)))
    assert offenders == [], f"Numba used outside fxsim/_*.py: {offenders}"


def test_kernel_modules_import_only_kernel_modules():
    kernels = [p for p in sorted(PKG.glob("_*.py")) if _uses_numba(p)]
    assert {"_round.py", "_jit.py", "_arith.py"} <= {p.name for p in kernels}
    for path in kernels:
        for level, module, names in _imports(path):
            if level == 0:
                assert module.split(".")[0] in {"numpy", "numba", "llvmlite", "__future__", "typing",
                                                "contextlib", "hashlib", "os", "pathlib", "math"}, \
                    f"{path.name} imports {module}"
            else:
                targets = [module] if module else names
                for t in targets:
                    assert t.startswith("_"), f"{path.name} imports fxsim.{t}, outside the hashed kernel modules"


def test_rule_would_catch_a_violation(tmp_path):
    # the checker itself: a kernel module importing fxsim.modes is flagged
    bad = tmp_path / "_bad.py"
    bad.write_text("from .modes import Rounding\nfrom numba import njit\n")
    found = [(lvl, mod) for lvl, mod, _ in _imports(bad)]
    assert (1, "modes") in found
