"""README.md's role × action table is the one the permission checks use (roles.ACTIONS)."""

from __future__ import annotations

import re
from pathlib import Path

from webapp.projects import roles

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_is_the_rendered_table():
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- roles table: [^\n]*-->\n(.*?)<!-- end of roles table -->", text, re.S)
    assert found, "README.md has lost its roles table markers"
    assert found.group(1) == roles.markdown_table(), "run `python -m webapp.projects.roles` and paste it in"


def test_every_action_has_a_cell_for_every_identity():
    for key, action in roles.ACTIONS.items():
        assert set(action.cells) == set(roles.IDENTITIES), key
        assert all(cell in (True, False, roles.WITH_EXPORT_PERMISSION) for cell in action.cells.values()), key
