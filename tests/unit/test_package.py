"""What a publish ships is the app and nothing else.

The package is built as Core Tools builds it: the files of the working tree less those that
.funcignore matches (with gitignore semantics, through pathspec). It must hold function_app.py,
host.json, requirements.txt and the app's packages only, every module of those packages, and
function_app must import from that folder alone.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pathspec
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("jobs_api", "dispatcher", "status_collector", "retention", "shared")
# host.json is also read at run time, from the app root (shared/host_config.py).
ROOT_FILES = frozenset({"function_app.py", "host.json", "requirements.txt"})
DEV_FOLDERS = ("tests", "local", "bench", "infra")

PROBE = """
import json, sys
import function_app
functions = len(function_app.app.get_functions())
modules = {name: module.__file__ for name, module in list(sys.modules.items()) if getattr(module, "__file__", None)}
print(json.dumps({"functions": functions, "path": sys.path, "modules": modules}))
"""


@dataclass(frozen=True)
class Package:
    folder: Path
    files: frozenset[str]  # paths relative to the folder, with "/"


def funcignore() -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines((ROOT / ".funcignore").read_text().splitlines())


def git_files(*options: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", *options], cwd=ROOT, capture_output=True, check=True,
                            timeout=60).stdout.decode()
    return sorted({name for name in listed.split("\0") if name})


def top(path: str) -> str:
    return path.split("/", 1)[0]


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Package:
    # Tracked files plus new ones not yet added: a publish takes the working tree as it is.
    candidates = [name for name in git_files("--cached", "--others", "--exclude-standard") if (ROOT / name).is_file()]
    spec = funcignore()
    folder = tmp_path_factory.mktemp("package")
    kept = [name for name in candidates if not spec.match_file(name)]
    for name in kept:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, folder / name)
    return Package(folder, frozenset(kept))


def test_the_package_holds_the_app_and_nothing_else(package: Package):
    dev = sorted(name for name in package.files if top(name) in DEV_FOLDERS)
    assert not dev, f"development files in the package, add them to .funcignore: {dev}"
    not_app = sorted(name for name in package.files if name not in ROOT_FILES
                     and not (top(name) in PACKAGES and name.endswith(".py")))
    assert not not_app, (f"files in the package that are not the app, add them to .funcignore: {not_app} "
                         "(a file the app reads at run time belongs in ROOT_FILES here instead)")
    tests = sorted(name for name in package.files if Path(name).name.startswith("test_") or name.endswith("conftest.py"))
    assert not tests, f"tests inside the app's packages: {tests}"
    assert ROOT_FILES <= package.files, f"left out of the package: {sorted(ROOT_FILES - package.files)}"


def test_every_module_of_the_app_is_shipped(package: Package):
    modules = {path.relative_to(ROOT).as_posix() for name in PACKAGES for path in (ROOT / name).rglob("*.py")
               if "__pycache__" not in path.parts}
    assert {f"{name}/__init__.py" for name in PACKAGES} <= modules
    missing = sorted(modules - package.files)
    assert not missing, f"modules of the app left out of the package (by .funcignore, or not known to git): {missing}"


def test_what_git_ignores_in_the_working_tree_stays_out_too():
    # .venv/, node_modules/, caches: not in git, but a publish from the folder would see them.
    spec = funcignore()
    shipped = [name for name in git_files("--others", "--ignored", "--exclude-standard", "--directory")
               if not spec.match_file(name)]
    assert not shipped, f"ignored by git but not by .funcignore: {shipped}"


def function_count() -> int:
    """The functions of function_app.py, from a private copy: get_functions() runs once per app."""
    spec = importlib.util.spec_from_file_location("_package_function_app", ROOT / "function_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return len(module.app.get_functions())


def test_function_app_imports_from_the_package_alone(package: Package):
    # -E -s: no PYTHON* variables, no user site; with -c the working directory (the package)
    # heads sys.path. The venv's interpreter brings what requirements.txt installs; -B writes
    # no bytecode into the package.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    result = subprocess.run([sys.executable, "-E", "-s", "-B", "-c", PROBE], cwd=package.folder, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"function_app does not import from the package alone:\n{result.stderr[-3000:]}"
    probe = json.loads(result.stdout.strip().splitlines()[-1])

    assert probe["functions"] == function_count() > 0

    folder, root, venv = package.folder.resolve(), ROOT.resolve(), Path(sys.prefix).resolve()
    assert not [entry for entry in probe["path"] if entry and Path(entry).resolve() == root], probe["path"]
    files = {name: Path(file).resolve() for name, file in probe["modules"].items()}
    app = {name: file for name, file in files.items() if name.split(".")[0] in {"function_app", *PACKAGES}}
    assert "function_app" in app and all(any(name == p or name.startswith(p + ".") for name in app) for p in PACKAGES)
    outside = sorted(f"{name}: {file}" for name, file in app.items() if not file.is_relative_to(folder))
    assert not outside, "app modules loaded from outside the package:\n" + "\n".join(outside)
    dev = sorted(name for name in files if name.split(".")[0] in DEV_FOLDERS)
    assert not dev, f"development modules loaded by function_app: {dev}"
    from_repo = sorted(f"{name}: {file}" for name, file in files.items()
                       if file.is_relative_to(root) and not (file.is_relative_to(venv) or file.is_relative_to(folder)))
    assert not from_repo, "modules loaded from the repository rather than the package:\n" + "\n".join(from_repo)
