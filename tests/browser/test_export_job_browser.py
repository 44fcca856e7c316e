"""A project admin starts an export on the export page in real Chromium and watches its progress
bar reach done and the download link appear (export.js polling the progress JSON, no page reload),
then downloads the file; a real Celery worker writes it."""

from __future__ import annotations

import pytest
from datasets import load_dataset

from tests import platform_factories as factories
from tests.browser.pages import login
from webapp.datasets.models import ExportJob
from webapp.projects.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_admin_starts_an_export_and_downloads_it_when_the_bar_is_full(
    transactional_db, settings, live_server, page, start_worker, tmp_path
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = factories.project_with_comparisons(5)
    factories.judge_all(project, "b", username="alice")
    factories.make_member(project, "ann", Role.ADMIN)
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    login(page, live_server, f"/p/{project.slug}/export/")
    page.select_option("#id_fmt", "trl")
    with page.expect_navigation():
        page.click("[data-testid=start-export]")
    job = ExportJob.objects.get()
    row = page.locator(f"tr[data-job='{job.pk}']")
    # No worker yet: the page shows the job queued, its bar empty, no link.
    assert row.locator("[data-role=status]").text_content() == "queued"
    assert row.locator("[data-testid=download]").count() == 0

    start_worker()
    row.locator("[data-testid=download]").wait_for(timeout=180_000)  # drawn by export.js
    assert row.locator("[data-role=status]").text_content() == "done"
    assert row.locator("progress").evaluate("bar => bar.value") == 100
    assert "5 pairs" in row.locator("[data-role=text]").text_content()
    assert row.locator("[data-testid=card]").count() == 1
    page.screenshot(path=str(tmp_path / "export-done.png"))

    with page.expect_download() as download:
        row.locator("[data-testid=download]").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    dataset = load_dataset("json", data_files=str(saved), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(dataset) == 5 and dataset[0]["chosen"][0]["content"].startswith("a much longer answer")
    assert not refused, refused
