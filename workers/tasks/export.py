"""export: write a web export job's file (webapp.datasets.jobs.run_export does the work)."""

from __future__ import annotations

from workers.celery_app import app


@app.task(name="workers.tasks.export.run_export_job")
def run_export_job(job_id: int) -> None:
    from webapp.datasets.jobs import run_export

    run_export(job_id)
