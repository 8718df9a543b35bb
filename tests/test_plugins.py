"""Plug-in modules named in $CAPTUM_CONTRASTIVE_PLUGINS (or entry points) are
imported once, before the command line reads its options."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from captum_contrastive import plugins
from captum_contrastive.cli import main
from captum_contrastive.plugins import PLUGINS_VARIABLE, PluginError, load_plugins

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def plugin_folder(tmp_path, monkeypatch):
    """A folder on the path with a module that counts its imports."""
    (tmp_path / "counted_plugin.py").write_text(
        "import builtins\n"
        "builtins.counted_plugin_imports = "
        "getattr(builtins, 'counted_plugin_imports', 0) + 1\n"
    )
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('no weights')\n")
    (tmp_path / "missing_dependency_plugin.py").write_text("import no_such_dep_\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "_loaded", [])
    yield tmp_path
    for name in ("counted_plugin", "broken_plugin", "missing_dependency_plugin"):
        sys.modules.pop(name, None)


def test_named_modules_are_imported_once(plugin_folder):
    import builtins

    environ = {PLUGINS_VARIABLE: " counted_plugin , "}
    assert plugins.plugin_modules(environ)["counted_plugin"] == f"${PLUGINS_VARIABLE}"
    assert load_plugins(environ) == ["counted_plugin"]
    assert load_plugins(environ) == []
    assert builtins.counted_plugin_imports == 1
    del builtins.counted_plugin_imports


@pytest.mark.parametrize(
    ("module", "cause"),
    [
        ("no_such_plugin", "was not found: No module named 'no_such_plugin'"),
        ("no_such_package.study", "was not found: No module named"),
        ("broken_plugin", "raised RuntimeError while it was imported at "),
        ("missing_dependency_plugin", "raised ModuleNotFoundError while it"),
    ],
)
def test_a_plugin_that_fails_is_named_with_its_cause(plugin_folder, module, cause):
    with pytest.raises(PluginError, match=f"'{module}'.*{PLUGINS_VARIABLE}") as error:
        load_plugins({PLUGINS_VARIABLE: module})
    assert cause in str(error.value)


def test_a_plugin_that_raises_is_located_at_its_own_line(plugin_folder):
    """Not at the package's line that raised on its behalf (a registration)."""
    (plugin_folder / "twice_plugin.py").write_text(
        "from captum_contrastive.methods import register_method\n"
        "register_method('saliency')(lambda settings: None)\n"
    )
    with pytest.raises(PluginError) as error:
        load_plugins({PLUGINS_VARIABLE: "twice_plugin"})
    message = str(error.value)
    assert f"{plugin_folder / 'twice_plugin.py'}:2: " in message
    assert "method 'saliency' is registered twice" in message
    assert "PYTHONPATH" not in message  # it was found; the path is not the cause
    sys.modules.pop("twice_plugin", None)


def test_the_command_line_says_which_plugin_failed(plugin_folder, monkeypatch, capsys):
    monkeypatch.setenv(PLUGINS_VARIABLE, "no_such_plugin")
    assert main(["run", "--help"]) == 2
    error = capsys.readouterr().err
    assert "plug-in module 'no_such_plugin'" in error and "PYTHONPATH" in error


def test_a_plugin_study_is_a_command_and_a_study():
    """The documentation's example study, named in the variable, is a command
    of ``captum-contrastive`` and a choice of ``--studies``."""
    environ = {
        **os.environ,
        PLUGINS_VARIABLE: "map_entropy_study",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "docs" / "examples"), str(ROOT)]),
    }
    command = [sys.executable, "-m", "captum_contrastive", "map-entropy", "--help"]
    found = subprocess.run(command, env=environ, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert "usage: captum-contrastive map-entropy" in found.stdout
    assert "map-entropy" in found.stdout.split("--studies", 1)[1]
