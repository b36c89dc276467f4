"""Fast, exact decoding of lm-eval sample lines.

A sample line written by lm-eval 0.4.13 (``json.dumps(sample,
ensure_ascii=False)``) has its keys in a fixed order::

    {"doc_id": 3, "doc": {...}, "target": "2", "arguments": {...huge...},
     "resps": [...], "filtered_resps": [...], "filter": "none",
     "metrics": ["acc"], "doc_hash": "<64 hex>", "prompt_hash": "<64 hex>",
     "target_hash": "<64 hex>", "acc": 1.0}

medpair needs only the *head* (``doc_id``, ``doc``) and the *tail* (from
``filter`` on).  The middle -- the rendered prompts, repeated once per answer
choice -- is most of the bytes, so the fast path decodes head and tail and
skips the middle.

Why the fast path is exact for a valid line (each step falls back to a full
``json.loads`` of the line when its check fails):

* Head: ``p`` is the first ``, "target": `` in the line.  If
  ``line[:p] + "}"`` decodes to an object with exactly the keys ``doc_id`` and
  ``doc``, position ``p`` is outside every string and at depth 1 (a prefix
  that ends inside a string or deeper cannot be closed by one ``}``), so these
  are the line's own ``doc_id`` and ``doc``.
* Tail: ``q`` is the last ``, "filter": ``.  The quote before ``filter`` is
  preceded by a space, so it is not an escaped quote inside a string: it opens
  a key.  ``"{" + line[q+2:]`` decodes only if that key is at depth 1 (the
  rest of a valid line closes exactly as many levels as were open), so the
  decoded tail holds the line's own ``filter``, ``metrics``, hashes and metric
  values.  The tail is decoded in three checked pieces (the ``filter`` /
  ``metrics`` prefix, three 64-character hex hashes at fixed offsets, the
  metric values) because the first and last pieces repeat across lines and
  are cached; each piece decodes alone, so their concatenation decodes too.
* Cross-check: the head's ``doc`` must hash (lm-eval's own rule, sha256 of
  ``json.dumps(doc, indent=2, ensure_ascii=False)``) to the tail's
  ``doc_hash``.  A line glued from two records (a crashed write followed by
  more output) fails this and goes to the full parse, which rejects it.

The answer the model gave (for the answer distribution of the report) is
read from ``filtered_resps``, the last key of the middle: ``f`` is the last
``, "filtered_resps": `` before ``q``; the quote before the key is preceded by
a space, so it opens a key, and ``"{" + line[f+2:q] + "}"`` decodes only if
that key is at depth 1.  When the check fails the answer is unknown (the
scores are unaffected).

The rest of the middle is never decoded, so damage inside it (not at a record boundary)
goes unnoticed on the fast path; ``full_parse=True`` decodes every byte.
Lines with duplicate top-level keys (undefined behaviour in RFC 8259) are out
of scope.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ANSWER_NONE", "ANSWER_UNKNOWN", "OPTION_LETTERS", "Interner", "LogFormatError", "ReadStats",
           "SampleColumns", "SampleLineReader", "answer_of"]

logger = logging.getLogger(__name__)

_HEAD_PREFIX = b'{"doc_id": '
_TARGET_KEY = b', "target": '
_FILTER_KEY = b', "filter": '
_DOCHASH_KEY = b', "doc_hash": "'
_PH_KEY = b'", "prompt_hash": "'
_TH_KEY = b'", "target_hash": "'
_FRESPS_KEY = b', "filtered_resps": '
_HASH_LEN = 64
"""Length of a hex sha256 digest (lm-eval's ``doc_hash``, ``prompt_hash`` and ``target_hash``)."""
_PH_STEP = _HASH_LEN + len(_PH_KEY)
"""From the start of ``doc_hash``'s value to the start of ``prompt_hash``'s."""
_TH_STEP = _HASH_LEN + len(_TH_KEY)
"""From the start of ``prompt_hash``'s value to the start of ``target_hash``'s."""
_TAIL_KEYS = frozenset(("filter", "metrics", "doc_hash", "prompt_hash", "target_hash"))
_CACHE_LIMIT = 200_000
#: Option letters, by option index.
OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: ``answer`` code of a response that names no option (an unparseable generation).
ANSWER_NONE = -1
#: ``answer`` code when the line does not tell (not multiple choice, or an unexpected response shape).
ANSWER_UNKNOWN = -2


class LogFormatError(ValueError):
    """A sample line that is not valid lm-eval output (message names file:line)."""


class Interner:
    """Maps strings to dense integer codes (first come, first numbered)."""

    __slots__ = ("codes", "values")

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.values: list[str] = []

    def code(self, value: str) -> int:
        """Return the code of ``value``, adding it when new."""
        c = self.codes.get(value)
        if c is None:
            c = len(self.values)
            self.codes[value] = c
            self.values.append(value)
        return c


@dataclass
class ReadStats:
    """Counters of one reading pass (for logs and tests)."""

    lines: int = 0
    fast: int = 0
    full: int = 0
    skipped_values: int = 0
    """Metric values that are neither numbers nor NaN/None (e.g. corpus-level tuples): no row."""
    nan_values: int = 0
    """Metric values that are NaN or None: kept as rows with a NaN score."""
    truncated: int = 0
    truncated_at: list[str] = field(default_factory=list)
    """``<file name>:<line>`` of every malformed last line that was skipped."""


class SampleColumns:
    """Growing per-row columns (one entry per sample line × metric).

    ``head`` indexes :attr:`SampleLineReader.heads` (doc_id, item, role,
    cluster, doc_hash codes of the line), ``fm`` indexes
    :attr:`SampleLineReader.fms` (filter, metric codes), ``answer`` is the
    option the response chose (:func:`answer_of`).
    """

    def __init__(self) -> None:
        self.head = array("q")
        self.fm = array("q")
        self.score = array("d")
        self.line = array("q")
        self.answer = array("b")

    def __len__(self) -> int:
        return len(self.score)


def _doc_hash(doc: Any) -> bytes:
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest().encode("ascii")


def _is_nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _gold(doc: dict) -> tuple[int, int]:
    """(gold option index, number of options) of a multiple-choice doc, else (-1, 0)."""
    options, gold = doc.get("options"), doc.get("answer_idx")
    if isinstance(options, list) and isinstance(gold, int) and not isinstance(gold, bool) and 0 <= gold < len(options):
        return gold, len(options)
    return -1, 0


def _loglik(value: Any) -> float:
    """A log-likelihood as lm-eval logs it: a number, or its string form."""
    if isinstance(value, bool):
        raise ValueError("not a log-likelihood")
    return float(value)


def _cache_put(cache: dict, key: bytes, value: Any) -> Any:
    """Store ``value`` under ``key`` (emptying ``cache`` first when it is full) and return it."""
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def _hashes_end(line: bytes, key_at: int, doc_hash: bytes) -> int:
    """Where the metric values start, after the three hashes whose ``doc_hash`` key is at ``key_at``.

    Returns -1 unless the line's ``doc_hash`` equals ``doc_hash`` and the ``prompt_hash`` and
    ``target_hash`` keys and hex values sit at their fixed offsets (see the module docstring).
    """
    doc_at = key_at + len(_DOCHASH_KEY)
    prompt_at = doc_at + _PH_STEP
    target_at = prompt_at + _TH_STEP
    closing = target_at + _HASH_LEN
    if (
        line[doc_at : doc_at + _HASH_LEN] == doc_hash  # == lm-eval's hash of this head's doc
        and line[doc_at + _HASH_LEN : prompt_at] == _PH_KEY
        and line[prompt_at + _HASH_LEN : target_at] == _TH_KEY
        and line[closing : closing + 1] == b'"'
        and (line[prompt_at : prompt_at + _HASH_LEN] + line[target_at:closing]).isalnum()
    ):
        return closing + 1
    return -1


def answer_of(filtered: Any, n_options: int) -> int:
    """The option index a logged response chose, :data:`ANSWER_NONE` or :data:`ANSWER_UNKNOWN`.

    ``filtered`` is a sample's ``filtered_resps``: for option scoring, one
    (log-likelihood, is-greedy) pair per option (the highest log-likelihood
    is the answer, the first on ties, as lm-eval's ``acc``); for generation,
    one string, the extracted option letter (anything else names no option).
    """
    if n_options <= 0 or not isinstance(filtered, list) or not filtered:
        return ANSWER_UNKNOWN
    if len(filtered) == 1 and isinstance(filtered[0], str):
        letter = filtered[0].strip()
        pos = OPTION_LETTERS.find(letter) if len(letter) == 1 else -1
        return pos if 0 <= pos < n_options else ANSWER_NONE
    if len(filtered) != n_options or not all(isinstance(r, list) and r for r in filtered):
        return ANSWER_UNKNOWN
    try:
        lls = [_loglik(r[0]) for r in filtered]
    except (TypeError, ValueError):
        return ANSWER_UNKNOWN
    return max(range(n_options), key=lambda i: (lls[i], -i))


class SampleLineReader:
    """Reads sample files into :class:`SampleColumns`, sharing string codes.

    ``items``, ``roles``, ``clusters``, ``hashes``, ``filters`` and
    ``metrics`` intern the string values; code -1 means "absent" (a doc
    without ``role`` or ``cluster``).  ``heads`` lists the distinct
    (doc_id, item, role, cluster, doc_hash) code tuples, ``fms`` the distinct
    (filter, metric) code pairs.
    """

    def __init__(self, *, full_parse: bool = False) -> None:
        self.full_parse = full_parse
        self.cols = SampleColumns()
        self.items = Interner()
        self.roles = Interner()
        self.clusters = Interner()
        self.hashes = Interner()
        self.filters = Interner()
        self.metrics = Interner()
        self.heads: list[tuple[int, int, int, int, int]] = []
        self.golds: list[tuple[int, int]] = []
        """Per head code: (gold option index, number of options), (-1, 0) when the doc has none."""
        self._head_codes: dict[tuple[int, int, int, int, int], int] = {}
        self.fms: list[tuple[int, int]] = []
        self._fm_codes: dict[tuple[int, int], int] = {}
        self.stats = ReadStats()
        # head bytes -> (head code, expected doc_hash) | None
        self._head_cache: dict[bytes, tuple[int, bytes] | None] = {}
        # filter/metrics bytes -> (filter code, metric names, {values bytes -> rows | None}) | None
        self._prefix_cache: dict[bytes, tuple[int, tuple[str, ...], dict] | None] = {}

    # -- interning ------------------------------------------------------------
    def _head_code(self, key: tuple[int, int, int, int, int], doc: dict) -> int:
        c = self._head_codes.get(key)
        if c is None:
            c = self._head_codes[key] = len(self.heads)
            self.heads.append(key)
            self.golds.append(_gold(doc))
        return c

    def _fm_code(self, flt: int, metric: str) -> int:
        key = (flt, self.metrics.code(metric))
        c = self._fm_codes.get(key)
        if c is None:
            c = self._fm_codes[key] = len(self.fms)
            self.fms.append(key)
        return c

    def _rows(self, flt: int, metrics: tuple[str, ...],
              values: dict[str, Any]) -> tuple[tuple[tuple[int, float], ...], int, int]:
        """((fm code, score) per numeric or NaN metric, non-numeric values, NaN values)."""
        rows = []
        skipped = nans = 0
        for m in metrics:
            v = values[m]
            if _is_nan(v):
                rows.append((self._fm_code(flt, m), math.nan))
                nans += 1
            elif isinstance(v, (int, float)):
                rows.append((self._fm_code(flt, m), float(v)))
            else:
                skipped += 1
        return tuple(rows), skipped, nans

    # -- pieces ---------------------------------------------------------------
    def _doc_fields(self, doc_id: Any, doc: Any) -> tuple[int, int, int, int] | str:
        """(doc_id, item, role, cluster) codes of a doc, or an error text."""
        if not isinstance(doc_id, int) or isinstance(doc_id, bool):
            return "doc_id is not an integer"
        if not isinstance(doc, dict):
            return "doc is not an object"
        key = doc.get("item_key")
        if key is None:
            return 'doc has no "item_key" (is this a medpair task?)'
        role = doc.get("role")
        cluster = doc.get("cluster")
        return (
            doc_id,
            self.items.code(str(key)),
            -1 if role is None else self.roles.code(str(role)),
            -1 if cluster is None else self.clusters.code(str(cluster)),
        )

    def _decode_head(self, head: bytes) -> tuple[int, bytes] | None:
        try:
            obj = json.loads(head + b"}")
        except ValueError:
            return None
        if not isinstance(obj, dict) or len(obj) != 2 or "doc_id" not in obj or "doc" not in obj:
            return None
        fields = self._doc_fields(obj["doc_id"], obj["doc"])
        if isinstance(fields, str):
            return None  # the full parse reports it
        expected = _doc_hash(obj["doc"])
        return self._head_code((*fields, self.hashes.code(expected.decode("ascii"))), obj["doc"]), expected

    def _decode_prefix(self, pre: bytes) -> tuple[int, tuple[str, ...], dict] | None:
        try:
            obj = json.loads(b"{" + pre[2:] + b"}")
        except ValueError:
            return None
        if not isinstance(obj, dict) or set(obj) != {"filter", "metrics"}:
            return None
        flt, mets = obj["filter"], obj["metrics"]
        if not isinstance(flt, str) or not isinstance(mets, list) or not all(isinstance(m, str) for m in mets):
            return None
        return self.filters.code(flt), tuple(mets), {}

    def _decode_values(self, rest: bytes, flt: int, metrics: tuple[str, ...]):
        """Rows of the metric values after ``target_hash``, or None (unsure)."""
        try:
            obj = json.loads(b"{" + (rest[2:] if rest.startswith(b", ") else rest))
        except ValueError:
            return None
        if (not isinstance(obj, dict) or not _TAIL_KEYS.isdisjoint(obj) or "doc_id" in obj or "doc" in obj
                or not all(m in obj for m in metrics)):
            return None
        return self._rows(flt, metrics, obj)

    def _answer(self, line: bytes, p: int, q: int, head: int) -> int:
        """The answer of a line from its ``filtered_resps`` (see the module docstring), or unknown."""
        n_options = self.golds[head][1]
        if not n_options:
            return ANSWER_UNKNOWN
        f = line.rfind(_FRESPS_KEY, p, q)
        if f < 0:
            return ANSWER_UNKNOWN
        try:
            obj = json.loads(b"{" + line[f + 2 : q] + b"}")
        except ValueError:
            return ANSWER_UNKNOWN
        if not isinstance(obj, dict) or len(obj) != 1 or "filtered_resps" not in obj:
            return ANSWER_UNKNOWN
        return answer_of(obj["filtered_resps"], n_options)

    def _full(self, line: bytes, lineno: int, answers: bool = True) -> str | None:
        """Decode ``line`` completely and append its rows; return an error text or None."""
        try:
            obj = json.loads(line)
        except ValueError as exc:
            return f"invalid JSON ({exc})"
        if not isinstance(obj, dict):
            return "not a JSON object"
        missing = [k for k in ("doc_id", "doc", "filter", "metrics", "doc_hash") if k not in obj]
        if missing:
            return f"not an lm-eval sample line (no {', '.join(missing)})"
        fields = self._doc_fields(obj["doc_id"], obj["doc"])
        if isinstance(fields, str):
            return fields
        flt, mets, doc_hash = obj["filter"], obj["metrics"], obj["doc_hash"]
        if not isinstance(flt, str) or not isinstance(doc_hash, str) or not isinstance(mets, list):
            return "filter, metrics or doc_hash has the wrong type"
        metrics = tuple(str(m) for m in mets)
        absent = [m for m in metrics if m not in obj]
        if absent:
            return f"metric(s) listed but absent: {', '.join(absent)}"
        head = self._head_code((*fields, self.hashes.code(doc_hash)), obj["doc"])
        rows, skipped, nans = self._rows(self.filters.code(flt), metrics, obj)
        self.stats.skipped_values += skipped
        self.stats.nan_values += nans
        answer = answer_of(obj.get("filtered_resps"), self.golds[head][1]) if answers else ANSWER_UNKNOWN
        cols = self.cols
        for fm_code, score in rows:
            cols.head.append(head)
            cols.fm.append(fm_code)
            cols.score.append(score)
            cols.line.append(lineno)
            cols.answer.append(answer)
        return None

    # -- files ----------------------------------------------------------------
    def _fast_line(self, line: bytes, answers: bool) -> tuple[int, int, tuple] | None:
        """(head code, answer, value rows) of a line decoded on the fast path, or None when unsure.

        See the module docstring for why the result is exact; the head, the ``filter`` /
        ``metrics`` prefix and the metric values are cached by their bytes.
        """
        target_at = line.find(_TARGET_KEY)
        if target_at <= 0:
            return None
        head_bytes = line[:target_at]
        head = self._head_cache.get(head_bytes, False)
        if head is False:
            head = _cache_put(self._head_cache, head_bytes, self._decode_head(head_bytes))
        if head is None:
            return None
        filter_at = line.rfind(_FILTER_KEY, target_at)
        hash_key_at = line.find(_DOCHASH_KEY, filter_at) if filter_at > 0 else -1
        if hash_key_at <= 0:
            return None
        prefix_bytes = line[filter_at:hash_key_at]
        prefix = self._prefix_cache.get(prefix_bytes, False)
        if prefix is False:
            prefix = _cache_put(self._prefix_cache, prefix_bytes, self._decode_prefix(prefix_bytes))
        if prefix is None:
            return None
        values_at = _hashes_end(line, hash_key_at, head[1])
        if values_at < 0:
            return None
        rest = line[values_at:]
        values = prefix[2].get(rest, False)
        if values is False:
            values = _cache_put(prefix[2], rest, self._decode_values(rest, prefix[0], prefix[1]))
        if values is None:
            return None
        answer = self._answer(line, target_at, filter_at, head[0]) if answers else ANSWER_UNKNOWN
        return head[0], answer, values

    def _count_pass(self, path: Path, lines: int, fast: int, skipped: int, nans: int,
                    pending: tuple[int, str] | None) -> None:
        """Add one file's counters to :attr:`stats`; log a skipped malformed last line."""
        counts = self.stats
        counts.lines += lines
        counts.fast += fast
        counts.skipped_values += skipped
        counts.nan_values += nans
        if pending is not None:
            counts.truncated += 1
            counts.truncated_at.append(f"{Path(path).name}:{pending[0]}")
            logger.warning(
                "%s:%d: skipping a malformed last line (truncated by a crashed run?): %s",
                path, pending[0], pending[1][:200],
            )

    def read_file(self, path: Path, answers: bool = True) -> int:
        """Append the rows of one samples file; return how many were added.

        ``answers=False`` skips reading the responses' answers (they are then
        :data:`ANSWER_UNKNOWN`): the report needs them for test items only.

        Raises :class:`LogFormatError` for a malformed line followed by more
        lines; a malformed *last* line (a run that crashed while writing) is
        skipped with a warning.
        """
        cols = self.cols
        start_rows = len(cols)
        add_head, add_fm, add_score, add_line = cols.head.append, cols.fm.append, cols.score.append, cols.line.append
        add_answer = cols.answer.append
        use_fast = not self.full_parse
        pending: tuple[int, str] | None = None
        lineno = n_fast = skipped = nans = 0
        with open(path, "rb", buffering=1 << 20) as handle:
            for line in handle:  # the trailing newline stays: JSON whitespace, and part of cache keys only
                lineno += 1
                if use_fast and pending is None and line.startswith(_HEAD_PREFIX):
                    fast = self._fast_line(line, answers)
                    if fast is not None:
                        head, answer, (rows, n_skipped, n_nans) = fast
                        for fm_code, score in rows:
                            add_head(head)
                            add_fm(fm_code)
                            add_score(score)
                            add_line(lineno)
                            add_answer(answer)
                        skipped += n_skipped
                        nans += n_nans
                        n_fast += 1
                        continue
                # ---- full parse: unsure, malformed, blank, or --strict-json ----
                if not line.strip():
                    continue  # blank lines carry nothing (lm-eval writes none)
                if pending is not None:
                    raise LogFormatError(f"{path}:{pending[0]}: malformed sample line: {pending[1]}")
                err = self._full(line, lineno, answers)
                if err is not None:
                    pending = (lineno, err)
                else:
                    self.stats.full += 1
        self._count_pass(path, lineno, n_fast, skipped, nans, pending)
        return len(cols) - start_rows
