"""prefloop's settings with one more URL, the bare JSON view the annotate load is compared to."""

from webapp.config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.load.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}  # noqa: F405
