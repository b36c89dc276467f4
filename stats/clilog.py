"""Logging that a command sets up for its own run and puts back as it was when it returns.

The ``medpair`` commands print their log messages the way :func:`logging.basicConfig` would, but
they are also called as functions (by tests, notebooks, other tools): :func:`command_logging` keeps
their logging configuration to the block that runs the command.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

__all__ = ["command_logging"]


@contextmanager
def command_logging(fmt: str, level: int = logging.WARNING, levels: Mapping[str, int] | None = None) -> Iterator[bool]:
    """Inside the block: a stderr handler on the root logger when it has none, and ``levels`` set.

    Parameters
    ----------
    fmt:
        Format of the handler's messages (as ``logging.basicConfig(format=...)``).
    level:
        The root logger's level while the handler is installed (only then: a root logger that
        already has handlers is somebody else's configuration and is left alone).
    levels:
        Logger name -> level, set for the block whether or not the handler was installed.

    Yields whether the handler was installed. On exit the handler is removed and every level the
    block changed is restored.
    """
    root = logging.getLogger()
    root_level = root.level
    handler = None
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(handler)
        root.setLevel(level)
    loggers = {name: logging.getLogger(name) for name in (levels or {})}
    before = {name: logger.level for name, logger in loggers.items()}
    for name, logger in loggers.items():
        logger.setLevel(levels[name])  # type: ignore[index]
    try:
        yield handler is not None
    finally:
        for name, logger in loggers.items():
            logger.setLevel(before[name])
        if handler is not None:
            root.removeHandler(handler)
            root.setLevel(root_level)
