"""A project admin uploads the real HH-RLHF file (larger than PREFLOOP_IMPORT_JOB_BYTES here) on the
import page in real Chromium: the page shows the job queued, then import.js (polling the progress
JSON, no page reload) shows it done with its counts once a real Celery worker imported it."""

from __future__ import annotations

import pytest

from tests import platform_factories as factories
from tests.browser.pages import login
from tests.datasets.import_files import HH_PAIRS, hh_file
from webapp.annotation.models import Judgment
from webapp.datasets.models import ImportJob
from webapp.projects.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_admin_uploads_a_large_file_and_watches_its_job_end(
    transactional_db, settings, live_server, page, start_worker, tmp_path
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PREFLOOP_IMPORT_JOB_BYTES = 100_000  # the HH file (742 kB) is a job
    project = factories.make_project("hh")
    factories.make_member(project, "ann", Role.ADMIN)
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    login(page, live_server, f"/p/{project.slug}/prompts/import/")
    page.check("[data-testid=kind-preferences] input")
    page.select_option("#id_format", "hh")
    page.set_input_files("#id_file", str(hh_file()))
    with page.expect_navigation():
        page.click("[data-testid=import-prompts]")
    job = ImportJob.objects.get()
    row = page.locator(f"tr[data-job='{job.pk}']")
    assert row.locator("[data-role=status]").text_content() == "queued"  # no worker yet
    assert Judgment.objects.count() == 0

    start_worker()
    row.locator("[data-role=status]:text('done')").wait_for(timeout=180_000)  # drawn by import.js
    assert row.locator("progress").evaluate("bar => bar.value") == 100
    text = row.locator("[data-role=text]").text_content()
    assert text == f"imported {HH_PAIRS:,} judged pairs (hh) of {HH_PAIRS:,} prompts", text
    assert Judgment.objects.filter(source="hh:harmless-base-test.jsonl.gz").count() == HH_PAIRS
    page.screenshot(path=str(tmp_path / "import-done.png"))
    assert not refused, refused
