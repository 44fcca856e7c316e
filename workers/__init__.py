"""Celery app for prefloop: `celery -A workers worker -Q default,generate,train`."""

from workers.celery_app import app

__all__ = ["app"]
