"""Logging set-up for the service's processes."""

import logging
import os


def configure_logging() -> None:
    level = os.environ.get("JOBTRAIL_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
