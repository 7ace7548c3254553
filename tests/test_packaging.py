"""Packaging: setup.cfg lists every subpackage of fxsim (it lists them
rather than finding them, so that the repository's ``analysis/`` folder ships
as ``fxsim.studies`` and no top-level ``analysis`` package is installed)."""
import configparser
import pathlib

import fxsim
import fxsim.studies

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _options():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    packages = cfg["options"]["packages"].split()
    package_dir = dict(line.split("=", 1) for line in cfg["options"]["package_dir"].split("\n")
                       if line.strip())
    return packages, {k.strip(): v.strip() for k, v in package_dir.items()}


def test_every_fxsim_subpackage_is_listed():
    packages, package_dir = _options()
    on_disk = {"fxsim"} | {
        "fxsim." + ".".join(p.parent.relative_to(ROOT / "fxsim").parts)
        for p in (ROOT / "fxsim").rglob("__init__.py") if p.parent != ROOT / "fxsim"}
    on_disk |= {"fxsim.studies"}
    assert set(packages) == on_disk
    assert package_dir == {"fxsim.studies": "analysis"}
    assert "analysis" not in packages


def test_studies_are_the_analysis_folder():
    assert pathlib.Path(fxsim.studies.__file__).resolve() == ROOT / "analysis" / "__init__.py"
    assert fxsim.studies.STUDIES
