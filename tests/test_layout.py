"""The layout rules the code relies on, checked on the source text.

- Compiled code lives only in ``fxsim/_kernels/``, whose modules import only
  numpy, numba, llvmlite, a few standard modules and each other: the on-disk
  cache key of ``fxsim._kernels.jit`` hashes exactly those files.
- No fxsim module uses another module's underscore names (modules inside
  ``fxsim/_kernels/`` are the engine's private parts and may share theirs).
- No module in fxsim/ grows past ~700 lines.
- Every ``reference/*.py`` imports only the standard library (the oracle
  shares nothing with the code it checks).
"""
import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "fxsim"
KERNELS = PKG / "_kernels"
MAX_LINES = 700
KERNEL_STDLIB = {"__future__", "typing", "contextlib", "hashlib", "os", "pathlib", "math"}


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """(absolute module, imported names) of every import statement."""
    tree = ast.parse(path.read_text())
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module, [a.name for a in node.names], {a.asname or a.name: a.name
                                                                     for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, [], {(a.asname or a.name.split(".")[0]): a.name}


def _uses_numba(path):
    return any(module.split(".")[0] in ("numba", "llvmlite") for _, module, _, _ in _imports(path))


def private_uses(path):
    """``file:line name`` for every use of another fxsim module's underscore
    name in ``path`` (``from .x import _y``, ``x._y`` with ``x`` an fxsim
    module imported here, ``import fxsim._private``)."""
    in_kernels = KERNELS in path.parents
    found, modules = [], {}
    for line, module, names, aliases in _imports(path):
        if not module.startswith("fxsim"):
            continue
        for alias, name in aliases.items():
            full = f"{module}.{name}" if names else name
            modules[alias] = full
            parts = full.split(".")[1:]
            private = [p for p in parts if p.startswith("_") and not p.startswith("__")]
            if private and not (private == ["_kernels"] or in_kernels):
                found.append(f"{path.relative_to(ROOT)}:{line} {full}")
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not node.attr.startswith("__") and not in_kernels):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {modules[node.value.id]}.{node.attr}")
    return found


SOURCES = sorted(PKG.rglob("*.py"))


def test_numba_only_in_kernels():
    offenders = [str(p.relative_to(ROOT)) for p in SOURCES
                 if _uses_numba(p) and KERNELS not in p.parents]
    assert offenders == [], f"Numba used outside fxsim/_kernels/: {offenders}"


@pytest.mark.parametrize("path", sorted(KERNELS.glob("*.py")), ids=lambda p: p.name)
def test_kernel_modules_import_only_numba_numpy_and_each_other(path):
    for line, module, _, _ in _imports(path):
        top = module.split(".")[0]
        if top == "fxsim":
            assert module == "fxsim._kernels" or module.startswith("fxsim._kernels."), \
                f"{path.name}:{line} imports {module}, outside the hashed kernel package"
        else:
            assert top in {"numpy", "numba", "llvmlite"} | KERNEL_STDLIB, \
                f"{path.name}:{line} imports {module}"


def test_no_module_uses_another_modules_private_names():
    found = [use for p in SOURCES for use in private_uses(p)]
    assert found == [], "\n".join(found)


def test_the_private_name_check_would_catch_a_violation(tmp_path, monkeypatch):
    bad = PKG / "nn" / "_layout_probe.py"  # never written: parsed from a string
    text = ("from ..ops import _plan\nfrom .. import codec\nfrom .._kernels import core\n"
            "codec._index(1)\ncore.round_code\n")
    monkeypatch.setattr(pathlib.Path, "read_text", lambda self: text)
    assert private_uses(bad) == ["fxsim/nn/_layout_probe.py:1 fxsim.ops._plan",
                                 "fxsim/nn/_layout_probe.py:4 fxsim.codec._index"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_modules_stay_small(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines; split it by responsibility"


@pytest.mark.parametrize("path", sorted((ROOT / "reference").glob("*.py")), ids=lambda p: p.name)
def test_reference_imports_only_the_standard_library(path):
    for line, module, names, _ in _imports(path):
        top = module.split(".")[0]
        if module.startswith("reference") or (not top):
            continue  # relative imports inside reference/
        assert top in sys.stdlib_module_names, f"reference/{path.name}:{line} imports {module}"
