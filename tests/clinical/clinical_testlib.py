"""Helpers of the clinical tests: the fixtures' note markers, and finding note text in a file."""

from __future__ import annotations

import sys
from pathlib import Path

from medpair_testlib import REPO

FIXTURES = REPO / "tests" / "fixtures"
sys.path.insert(0, str(FIXTURES))

from make_clinical_fixtures import CANARY, FINDINGS  # noqa: E402

NOTE_SENTENCES = tuple(FINDINGS)


def note_text_in(path: Path) -> list[str]:
    """The note fragments (the fixtures' marker, their sentences) found in a file's bytes."""
    return note_text_in_bytes(path.read_bytes())


def note_text_in_bytes(data: bytes) -> list[str]:
    """The note fragments (the fixtures' marker, their sentences) found in some bytes."""
    found = [CANARY] if CANARY.encode() in data else []
    found += [s for s in NOTE_SENTENCES if s.encode() in data]
    return found
