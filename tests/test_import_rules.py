"""Imports point one way (workers -> webapp -> training), and the web process never loads torch.

The direction is import-linter's layers contract in pyproject.toml; the torch rule is checked by
importing every webapp module in a fresh interpreter, since an import inside a function is
fine when only a worker ever calls it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

IMPORT_ALL = """
import importlib, os, pkgutil, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings")
import django
django.setup()
import webapp
names = [m.name for m in pkgutil.walk_packages(webapp.__path__, "webapp.")]
for name in names:
    importlib.import_module(name)
import training.data, training.prompts
heavy = sorted(m for m in ("torch", "transformers", "trl", "workers") if m in sys.modules)
print(len(names), ",".join(heavy))
"""


def test_layers_contract_holds():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_the_web_process_imports_neither_torch_nor_the_workers():
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    count, heavy = result.stdout.split()[0], result.stdout.strip().partition(" ")[2]
    assert int(count) > 40  # every module of the web app was imported, not a handful
    assert heavy == "", f"importing the web app loaded {heavy}"
