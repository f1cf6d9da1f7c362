"""The campaign report: daily counts per channel and office, kept in OpenSearch.

What is counted, per day (Japan time), channel (``web`` or a partner kind) and office (a partner
office id, ``-`` for none): checks, found, not_found, unavailable (503), invalid (422),
rate_limited, reference numbers issued, numbers resolved (the first resolution of each number,
under the channel and office that issued it), and how many days after issue each was resolved
(for the median). Counts only: no name, date, address, employer or record id ever reaches the
report index.

How several API processes add up: each process counts in memory and flushes every
``MOCHINUSHI_REPORT_FLUSH_SECONDS`` (and at shutdown) with one ``_bulk`` of scripted ``update``
upserts whose increments travel in ``params`` (``retry_on_conflict``), so concurrent flushes from
any number of processes add instead of overwriting. Increments a flush could not deliver are put
back and sent with the next one. The index is of its own (``MOCHINUSHI_REPORT_INDEX``, strict
mapping, created on demand), so reindexing the records never touches it.

Documents: ``kind: counts`` (one per day, channel and office, the counters as fields) and
``kind: resolutions`` (one per day, channel, office and ``days`` between issue and resolution,
with a ``resolutions`` count), from which the median is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError

from search_api.logs import log_event

__all__ = [
    "COUNTERS",
    "JST",
    "CampaignRecorder",
    "ReportRow",
    "campaign_report",
    "ensure_report_index",
    "report_csv",
    "report_mapping",
    "report_table",
]

JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")
COUNTERS: Final[tuple[str, ...]] = (
    "checks",
    "found",
    "not_found",
    "unavailable",
    "invalid",
    "rate_limited",
    "tokens_issued",
    "tokens_resolved",
)
OUTCOME_COUNTERS: Final = frozenset(
    {"found", "not_found", "unavailable", "invalid", "rate_limited"}
)
NO_OFFICE: Final = "-"
By = Literal["channel", "office"]

_SCRIPT: Final = (
    "for (e in params.inc.entrySet()) {"
    " def v = ctx._source[e.getKey()];"
    " ctx._source[e.getKey()] = (v == null ? 0 : v) + e.getValue(); }"
)

Key = tuple[str, str, str]  # day, channel, office


def report_mapping() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "kind": {"type": "keyword"},
        "day": {"type": "date", "format": "yyyy-MM-dd"},
        "channel": {"type": "keyword"},
        "office": {"type": "keyword"},
        "days": {"type": "integer"},
        "resolutions": {"type": "long"},
    }
    properties.update({name: {"type": "long"} for name in COUNTERS})
    return {"dynamic": "strict", "properties": properties}


async def ensure_report_index(client: AsyncOpenSearch, index: str, timeout: float = 10.0) -> None:
    """The report index and a template for it (an auto-created index gets the strict mapping)."""
    body = {
        "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
        "mappings": report_mapping(),
    }
    params = {"request_timeout": timeout}
    await client.indices.put_index_template(
        name=index,
        body={"index_patterns": [index], "priority": 1000, "template": body},
        params=params,
    )
    if not await client.indices.exists(index=index, params=params):
        try:
            await client.indices.create(index=index, body=body, params=params)
        except RequestError as error:
            if error.error != "resource_already_exists_exception":
                raise


def jst_day(moment: dt.datetime) -> str:
    return moment.astimezone(JST).date().isoformat()


@dataclass
class CampaignRecorder:
    """Counts in memory, flushed to the report index (see the module docstring)."""

    client: AsyncOpenSearch
    index: str
    flush_seconds: float = 5.0
    timeout: float = 10.0
    logger: logging.Logger | None = None
    _counts: dict[Key, Counter[str]] = field(default_factory=dict)
    _resolutions: Counter[tuple[str, str, str, int]] = field(default_factory=Counter)
    _task: asyncio.Task[None] | None = None
    _ready: bool = False
    _lock: asyncio.Lock | None = None

    # -- counting (synchronous, never fails a request) --------------------------------------

    def _count(self, moment: dt.datetime, channel: str, office: str | None, name: str) -> None:
        key = (jst_day(moment), channel, office or NO_OFFICE)
        self._counts.setdefault(key, Counter())[name] += 1
        self._start()

    def check(self, outcome: str, channel: str, office: str | None, moment: dt.datetime) -> None:
        if outcome not in OUTCOME_COUNTERS:
            raise ValueError("unknown check outcome")
        self._count(moment, channel, office, outcome)
        self._count(moment, channel, office, "checks")

    def issued(self, channel: str, office: str | None, moment: dt.datetime) -> None:
        self._count(moment, channel, office, "tokens_issued")

    def resolved(
        self, channel: str, office: str | None, issued_at: dt.datetime, moment: dt.datetime
    ) -> None:
        self._count(moment, channel, office, "tokens_resolved")
        days = max(0, (moment - issued_at).days)
        self._resolutions[(jst_day(moment), channel, office or NO_OFFICE, days)] += 1

    def pending(self) -> int:
        return sum(sum(c.values()) for c in self._counts.values()) + sum(self._resolutions.values())

    # -- flushing -----------------------------------------------------------------------------

    def _start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # counted; flushed by the next flush or at shutdown
        self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                # Shielded: cancelled at shutdown mid-request, the flush still completes (and
                # releases its lock) instead of putting back increments the cluster may already
                # have applied, which the final flush would then send a second time.
                await asyncio.shield(self.flush())
            except Exception as error:  # kept in memory, sent with the next flush
                self._failed(error)

    async def flush(self) -> int:
        """Send what was counted; return how many documents were updated. On failure the
        increments that were not delivered are kept for the next flush."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            counts, self._counts = self._counts, {}
            resolutions, self._resolutions = self._resolutions, Counter()
            if not counts and not resolutions:
                return 0
            actions: list[tuple[str, dict[str, Any], dict[str, int], Any]] = []
            for (day, channel, office), counter in counts.items():
                inc = {name: int(n) for name, n in counter.items() if n}
                doc: dict[str, Any] = {
                    "kind": "counts",
                    "day": day,
                    "channel": channel,
                    "office": office,
                }
                doc_id = f"c|{day}|{channel}|{office}"
                actions.append((doc_id, {**doc, **inc}, inc, (day, channel, office)))
            for (day, channel, office, days), n in resolutions.items():
                doc = {
                    "kind": "resolutions",
                    "day": day,
                    "channel": channel,
                    "office": office,
                    "days": days,
                }
                doc_id = f"r|{day}|{channel}|{office}|{days}"
                inc = {"resolutions": int(n)}
                actions.append((doc_id, {**doc, **inc}, inc, (day, channel, office, days)))
            body: list[dict[str, Any]] = []
            for doc_id, upsert, inc, _key in actions:
                body.append({"update": {"_id": doc_id, "retry_on_conflict": 10}})
                body.append(
                    {
                        "script": {"source": _SCRIPT, "lang": "painless", "params": {"inc": inc}},
                        "upsert": upsert,
                    }
                )
            failed: list[int] = list(range(len(actions)))
            try:
                if not self._ready:
                    await ensure_report_index(self.client, self.index, self.timeout)
                    self._ready = True
                response = await self.client.bulk(
                    body=body, index=self.index, params={"request_timeout": self.timeout}
                )
                items = response.get("items", [])
                failed = [
                    i
                    for i, item in enumerate(items)
                    if int(item.get("update", {}).get("status", 500)) >= 300
                ]
                if len(items) != len(actions):
                    failed = list(range(len(actions)))
            finally:
                self._put_back(actions, failed, counts, resolutions)
            if failed:
                raise RuntimeError(f"{len(failed)} report updates failed")
            return len(actions)

    def _put_back(
        self,
        actions: Sequence[tuple[str, dict[str, Any], dict[str, int], Any]],
        failed: Iterable[int],
        counts: Mapping[Key, Counter[str]],
        resolutions: Mapping[tuple[str, str, str, int], int],
    ) -> None:
        for i in failed:
            key = actions[i][3]
            if len(key) == 3:
                self._counts.setdefault(key, Counter()).update(counts[key])
            else:
                self._resolutions[key] += resolutions[key]

    def _failed(self, error: Exception) -> None:
        if self.logger is not None:
            log_event(
                self.logger,
                "report.flush_failed",
                level=logging.WARNING,
                error_kind=type(error).__name__,
            )

    async def close(self) -> None:
        """At shutdown: stop the timer and flush what is left (once more on failure)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for _ in range(2):
            try:
                await self.flush()
                return
            except Exception as error:
                self._failed(error)


# --- reading the report ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    day: str
    channel: str
    office: str | None
    counts: dict[str, int]
    median_days: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "channel": self.channel,
            **({"office": self.office} if self.office is not None else {}),
            **self.counts,
            "median_days_to_resolution": self.median_days,
        }


def _median(histogram: Mapping[int, int]) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    ordered = sorted(histogram.items())

    def nth(n: int) -> int:
        seen = 0
        for days, count in ordered:
            seen += count
            if seen > n:
                return days
        return ordered[-1][0]

    if total % 2:
        return float(nth(total // 2))
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


async def _all_docs(
    client: AsyncOpenSearch, index: str, first: dt.date, last: dt.date, timeout: float
) -> list[dict[str, Any]]:
    query = {
        "bool": {
            "filter": [
                {"range": {"day": {"gte": first.isoformat(), "lte": last.isoformat()}}},
            ]
        }
    }
    docs: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"query": query, "size": 1000, "sort": [{"_id": "asc"}]}
        if after is not None:
            body["search_after"] = after
        try:
            response = await client.search(
                index=index, body=body, params={"request_timeout": timeout}
            )
        except NotFoundError:
            return []
        hits = response["hits"]["hits"]
        docs.extend(hit["_source"] for hit in hits)
        if len(hits) < 1000:
            return docs
        after = hits[-1]["sort"]


async def campaign_report(
    client: AsyncOpenSearch,
    index: str,
    first: dt.date,
    last: dt.date,
    by: By = "channel",
    timeout: float = 30.0,
) -> list[ReportRow]:
    """Rows per day and channel (``by="channel"``) or per day, channel and office, in order."""
    if last < first:
        raise ValueError("the report's last day is before its first")
    try:
        await client.indices.refresh(index=index, params={"request_timeout": timeout})
    except NotFoundError:
        return []
    counts: dict[tuple[str, str, str | None], Counter[str]] = {}
    histograms: dict[tuple[str, str, str | None], Counter[int]] = {}
    for doc in await _all_docs(client, index, first, last, timeout):
        office = doc.get("office") if by == "office" else None
        key = (str(doc["day"]), str(doc["channel"]), office if office != NO_OFFICE else None)
        if doc.get("kind") == "resolutions":
            histograms.setdefault(key, Counter())[int(doc["days"])] += int(doc["resolutions"])
        else:
            counter = counts.setdefault(key, Counter())
            for name in COUNTERS:
                counter[name] += int(doc.get(name) or 0)
    keys = sorted(set(counts) | set(histograms), key=lambda k: (k[0], k[1], k[2] or ""))
    return [
        ReportRow(
            day=day,
            channel=channel,
            office=office if by == "office" else None,
            counts={
                name: int(counts.get((day, channel, office), Counter())[name]) for name in COUNTERS
            },
            median_days=_median(histograms.get((day, channel, office), Counter())),
        )
        for day, channel, office in keys
    ]


def _columns(by: By) -> list[str]:
    return ["day", "channel", *(["office"] if by == "office" else []), *COUNTERS, "median_days"]


def _cells(row: ReportRow, by: By) -> list[str]:
    median = "" if row.median_days is None else f"{row.median_days:g}"
    return [
        row.day,
        row.channel,
        *([row.office or NO_OFFICE] if by == "office" else []),
        *(str(row.counts[name]) for name in COUNTERS),
        median,
    ]


def report_csv(rows: Sequence[ReportRow], by: By) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_columns(by))
    for row in rows:
        writer.writerow(_cells(row, by))
    return out.getvalue()


def report_table(rows: Sequence[ReportRow], by: By) -> str:
    """A plain-text table (aligned columns), for a terminal or a log of the run."""
    table = [_columns(by), *(_cells(row, by) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i >= len(table[0]) - len(COUNTERS) - 1 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in table
    )


def plot_report(rows: Sequence[ReportRow], path: str) -> None:
    """Checks and resolutions per day by channel, two panels, into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = sorted({row.day for row in rows})
    channels = sorted({row.channel for row in rows})
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for channel in channels:
        for axis, name in ((top, "checks"), (bottom, "tokens_resolved")):
            per_day = {d: 0 for d in days}
            for row in rows:
                if row.channel == channel:
                    per_day[row.day] += row.counts[name]
            axis.plot(days, [per_day[d] for d in days], marker="o", label=channel)
    top.set_ylabel("checks")
    bottom.set_ylabel("numbers resolved")
    top.set_title("Campaign: checks and resolutions per day, by channel")
    top.legend(loc="upper left")
    bottom.tick_params(axis="x", labelrotation=45)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
