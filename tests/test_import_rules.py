"""The package's import rule, checked on the source: each module imports only
its own layer and the layers below it (model -> stage graph -> studies ->
report), and the studies and the stage graph never import each other.

Each top-level package's docstring states the same rule in words.
"""

import ast
from pathlib import Path

import pytest

import captum_contrastive

PACKAGE = Path(captum_contrastive.__file__).parent

#: Layers from the bottom up; a module may import its own layer and those
#: listed before it, except the pairs of :data:`SEPARATED`.
LAYERS: dict[str, tuple[str, ...]] = {
    "foundation": (
        "atomic_files",
        "captum_warnings",
        "devices",
        "environment",
        "fingerprint",
        "freed_memory",
        "palette",
        "plugins",
        "random_streams",
        "row_chunks",
        "typed_json",
        "version",
        "visualization",
    ),
    "attribution": ("attr", "guided", "methods", "applicability"),
    "measures": ("metrics", "attacks"),
    "models": ("presets",),
    "studies": ("studies", "plots", "integrations"),
    "stages": ("pipeline",),
    "units": ("pipeline.units",),
    "orchestration": ("pipeline.runner", "pipeline.shared_work"),
    "report": ("pipeline.report", "report_html"),
    "entry": (
        "",
        "__main__",
        "cli",
        "pipeline.__init__",
        "pipeline.cli",
        "profiling",
        "gpu_check",
    ),
}
ORDER = list(LAYERS)
#: (importer, imported) layers that must not depend on each other although
#: the order would allow it: the stage graph knows no study.
SEPARATED = {("stages", "studies")}
#: Imports across the rule that are allowed, each with its reason.
EXCEPTIONS = {
    ("pipeline.study_registry", "pipeline.units"): (
        "the registry loads the built-in study units the first time it is "
        "asked for the studies, as a plug-in loader does; the units register "
        "themselves, and nothing else of the stage layer imports them"
    ),
}


def layer_of(module: str) -> str:
    """The layer of a module path relative to the package (``"pipeline.cache"``),
    by its longest listed prefix."""
    best, found = -1, None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + ".") or prefix == "":
                if len(prefix) > best:
                    best, found = len(prefix), layer
    assert found is not None, module
    return found


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__" and parts[:-1] != ["pipeline"]:
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(dotted: str, package: Path) -> bool:
    base = package.joinpath(*dotted.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imported_modules(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """``(line, module relative to the package)`` of every package import in
    ``path``, at any depth (imports inside functions count too; those under
    ``if TYPE_CHECKING:`` do not)."""
    found = []
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue  # annotations only: no import when the code runs
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [
                f"{node.module}.{alias.name}"
                if _is_module(f"{node.module}.{alias.name}"[19:], package)
                else node.module
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            if name == "captum_contrastive" or name.startswith("captum_contrastive."):
                found.append((node.lineno, name[19:]))
    return found


def violations(package: Path = PACKAGE) -> list[str]:
    """Every import of a module in ``package`` that breaks the rule."""
    found = []
    for path in sorted(package.rglob("*.py")):
        importer = module_name(path, package)
        own = layer_of(importer)
        for line, module in imported_modules(path, package):
            other = layer_of(module)
            too_high = ORDER.index(other) > ORDER.index(own)
            excepted = (importer, module) in EXCEPTIONS
            if (too_high or (own, other) in SEPARATED) and not excepted:
                found.append(
                    f"{path.relative_to(package.parent)}:{line}: {importer} ({own}) "
                    f"imports {module} ({other})"
                )
    return found


def test_every_module_imports_only_its_layer_and_below():
    assert violations() == []


@pytest.mark.parametrize(
    ("importer", "source", "broken"),
    [
        ("studies/recovery.py", "from captum_contrastive.pipeline import stages", True),
        (
            "pipeline/cache.py",
            "from captum_contrastive.studies import localization",
            True,
        ),
        ("pipeline/cache.py", "import captum_contrastive.pipeline.units.base", True),
        ("metrics/ranking.py", "def f():\n    import captum_contrastive.plots", True),
        (
            "pipeline/units/road.py",
            "from captum_contrastive.studies import localization",
            False,
        ),
        ("pipeline/report.py", "from captum_contrastive.pipeline import units", False),
        (
            "pipeline/cache.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from captum_contrastive.pipeline.units import base",
            False,
        ),
    ],
)
def test_the_check_finds_an_import_across_the_rule(tmp_path, importer, source, broken):
    """A package of empty modules with one import: the check flags it exactly
    when it crosses the rule (so an empty list means something)."""
    package = tmp_path / "captum_contrastive"
    for name in (
        "studies/recovery.py",
        "studies/localization.py",
        "pipeline/stages.py",
        "pipeline/cache.py",
        "pipeline/units/base.py",
        "pipeline/units/road.py",
        "pipeline/report.py",
        "metrics/ranking.py",
        "plots/style.py",
    ):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text("")
    for folder in [package, *[p for p in package.rglob("*") if p.is_dir()]]:
        (folder / "__init__.py").touch()
    (package / importer).write_text(source + "\n")
    found = violations(package)
    assert bool(found) == broken, found
    if broken:
        assert importer in found[0]


def test_every_top_level_package_states_what_it_may_import():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "may import" in doc, f"{init.parent.name}'s docstring"
