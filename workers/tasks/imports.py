"""imports: import a stored file into a project (webapp.datasets.import_jobs.run_import does the work)."""

from __future__ import annotations

from workers.celery_app import app


@app.task(name="workers.tasks.imports.run_import_job")
def run_import_job(job_id: int) -> None:
    from webapp.datasets.import_jobs import run_import

    run_import(job_id)
