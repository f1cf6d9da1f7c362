"""Campaign demo: a few simulated weeks of checks and resolutions, and the report they make.

    .venv/bin/python bench/campaign_demo.py [--days 14] [--seed 7] [--out-dir docs/screenshots]

What it does, against the real node (``--opensearch-url``, default ``MOCHINUSHI_OPENSEARCH_URL``
or http://127.0.0.1:9200), with an alias, a reference index and a report index of unique scratch
names that are deleted at the end:

1. indexes a synthetic extract (``relevance.synth``, ``--records`` people-records, seed
   ``--seed``) and keeps its checks' request bodies as what people type;
2. runs two API apps (two replicas behind a proxy on 127.0.0.1, which forwards the client's
   address) with partner keys for two municipal offices, a welfare office and two pension
   offices, and staff keys of the two pension offices; their clock is the simulated one;
3. walks the clock day by day from ``--start`` over ``--days`` days (Japan time). Each day the
   web gets a seeded number of checks (most on the campaign's first days, fewer at weekends),
   each from an address of its own, a few of them mistyped (a name in romaji, 2月30日: 422);
   one Saturday a community centre runs its visitors' checks from one address, which meets the
   public limit. The offices check on weekdays only, during office hours. Pension-office staff
   resolve a share of the numbers issued (90 % of their own, the same day; 40-70 % of the
   others', 1-12 days later, on a weekday); numbers due after the last day stay open;
4. closes the apps (the report is flushed at shutdown; they also flush every second), checks
   that the report adds up to exactly what the simulation did, then runs
   ``mochinushi report`` (a subprocess, its environment pointing at the scratch report index):
   ``--by channel --format table --plot <out-dir>/campaign.png`` and ``--by office --format
   csv``, and writes both outputs to ``bench/results/campaign_report.txt``.

The same seed gives the same file (what is random is drawn from ``--seed``; the searches are
deterministic). The public limit is 10/hour per process instead of the default 30/minute and
the partner and staff limits are off: the limiter counts in real time, in which the whole
campaign takes about a minute, so a per-minute limit would only measure the script's speed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import io
import ipaddress
import itertools
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages are importable
    sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from opensearchpy import OpenSearch  # noqa: E402
from opensearchpy.exceptions import NotFoundError  # noqa: E402

from analyzers.readings import default_reading_dictionary  # noqa: E402
from indexer import lifecycle  # noqa: E402
from indexer.build import BuildOptions, build_index  # noqa: E402
from mochinushi.settings import Settings  # noqa: E402
from relevance.synth import SynthConfig, generate, write_synth_set  # noqa: E402
from search_api.app import create_app  # noqa: E402
from search_api.report import COUNTERS, JST  # noqa: E402

RESULT_PATH = ROOT / "bench" / "results" / "campaign_report.txt"
CHECKS_PATH = "/v1/existence-checks"
PROXY = ("127.0.0.1", 50000)
"""The apps' peer: the proxy in front of both replicas (trusted to forward the address)."""

# office id -> (kind, mean checks per weekday at full pace)
OFFICES: dict[str, tuple[str, float]] = {
    "city-kita": ("municipal", 14.0),
    "city-minami": ("municipal", 8.0),
    "welfare-chuo": ("welfare", 5.0),
    "pension-01": ("pension_office", 10.0),
    "pension-02": ("pension_office", 6.0),
}
STAFF_OFFICES = ("pension-01", "pension-02")
RESOLVED_SHARE = {"web": 0.40, "municipal": 0.65, "welfare": 0.70, "pension_office": 0.90}
"""Of the numbers a channel issues, the share that people take to a pension office."""
WEB_BASE, WEB_LAUNCH, WEB_DECAY_DAYS = 16.0, 70.0, 3.5
"""Web checks per day: ``WEB_BASE + WEB_LAUNCH * exp(-day / WEB_DECAY_DAYS)``."""
WEEKEND_WEB = 0.7
COMMUNITY_CHECKS = 24
"""Checks run from the community centre's one address on its Saturday."""
SHARED = "203.0.113.40"
"""The community centre's address; every other person's is one of their own."""
PUBLIC_LIMIT = "10/hour"
INVALID_WEB, INVALID_OFFICE = 0.04, 0.01


def partner_key(office: str) -> str:
    return f"{office}-partner-key-campaign-demo"


def staff_key(office: str) -> str:
    return f"{office}-staff-key-campaign-demo"


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Clock:
    """The apps' clock: the simulated moment of the event being sent."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass(order=True)
class Event:
    at: dt.datetime
    seq: int
    kind: str = field(compare=False)  # "check" or "resolve"
    data: dict[str, Any] = field(compare=False, default_factory=dict)


@dataclass
class Tally:
    """What the simulation did, per (day, channel, office): the report must say the same."""

    counts: dict[tuple[str, str, str], Counter[str]] = field(default_factory=dict)
    open_numbers: Counter[str] = field(default_factory=Counter)

    def add(self, at: dt.datetime, channel: str, office: str, name: str) -> None:
        key = (at.astimezone(JST).date().isoformat(), channel, office)
        self.counts.setdefault(key, Counter())[name] += 1

    def totals(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {}
        for (_day, channel, _office), counter in self.counts.items():
            out.setdefault(channel, Counter()).update(counter)
        return out


def jst(day: dt.date, minutes: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), JST) + dt.timedelta(minutes=minutes)


def mistyped(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    """A submission the API refuses with 422: a name in romaji, or a date that does not exist."""
    broken = json.loads(json.dumps(body))
    if rng.random() < 0.5:
        broken["given_name_kana"] = "Hanako"
    else:
        broken["birth_date"] = "昭和13年2月30日"
    return broken


def plan_checks(
    rng: random.Random, start: dt.date, days: int, bodies: Iterator[dict[str, Any]]
) -> list[Event]:
    """Every check of the campaign, with its moment, channel, office and client address."""
    events: list[Event] = []
    seq = 0
    people = (ipaddress.ip_address("100.64.0.1") + n for n in itertools.count())
    saturdays = [d for d in range(days) if (start + dt.timedelta(days=d)).weekday() == 5]
    community_day = saturdays[0] if saturdays else None
    for d in range(days):
        day = start + dt.timedelta(days=d)
        weekend = day.weekday() >= 5
        web_mean = WEB_BASE + WEB_LAUNCH * math.exp(-d / WEB_DECAY_DAYS)
        for _ in range(poisson(rng, web_mean * (WEEKEND_WEB if weekend else 1.0))):
            body = next(bodies)
            if rng.random() < INVALID_WEB:
                body = mistyped(rng, body)
            check = {"body": body, "channel": "web", "office": "-", "address": str(next(people))}
            events.append(Event(jst(day, rng.uniform(7 * 60, 23 * 60)), seq, "check", check))
            seq += 1
        if d == community_day:
            for i in range(COMMUNITY_CHECKS):
                check = {"body": next(bodies), "channel": "web", "office": "-", "address": SHARED}
                events.append(Event(jst(day, 13 * 60 + 4 * i), seq, "check", check))
                seq += 1
        if weekend:
            continue
        ramp = min(1.0, 0.4 + d / 5)  # offices pick up as the letters arrive
        for office, (kind, mean) in OFFICES.items():
            for _ in range(poisson(rng, mean * ramp)):
                body = next(bodies)
                if rng.random() < INVALID_OFFICE:
                    body = mistyped(rng, body)
                check = {"body": body, "channel": kind, "office": office}
                events.append(Event(jst(day, rng.uniform(9 * 60, 17 * 60)), seq, "check", check))
                seq += 1
    return events


def resolution_moment(
    rng: random.Random, issued: dt.datetime, channel: str
) -> tuple[dt.datetime, str | None]:
    """When a found number is taken to a pension office, and which one (None: the issuer)."""
    if channel == "pension_office":  # resolved by the issuing office, at the counter
        return issued + dt.timedelta(minutes=rng.uniform(10, 90)), None
    later = rng.choices(range(1, 13), weights=[12, 11, 9, 8, 7, 6, 5, 4, 3, 3, 2, 2])[0]
    day = issued.astimezone(JST).date() + dt.timedelta(days=later)
    while day.weekday() >= 5:  # pension offices are closed at weekends
        day += dt.timedelta(days=1)
    return jst(day, rng.uniform(9 * 60, 17 * 60)), rng.choice(STAFF_OFFICES)


def demo_settings(opensearch_url: str, alias: str, refs: str, report: str) -> Settings:
    partners = ",".join(f"{o}:{kind}:{partner_key(o)}" for o, (kind, _) in OFFICES.items())
    return Settings(
        opensearch_url=opensearch_url,
        alias=alias,
        reference_index=refs,
        report_index=report,
        staff_api_keys=",".join(f"{o}:{staff_key(o)}" for o in STAFF_OFFICES),
        partner_keys=partners,
        token_secret="k1:campaign-demo-token-secret-0001",
        rate_limit=PUBLIC_LIMIT,
        partner_rate_limit="off",
        staff_rate_limit="off",
        forwarded_allow_ips=PROXY[0],
        report_flush_seconds=1.0,
        dev_mode=False,
        opensearch_timeout_seconds=15.0,
    )


def simulate(
    apps: list[TestClient],
    clock: Clock,
    events: list[Event],
    rng: random.Random,
    last_day: dt.date,
) -> Tally:
    """Send every event in time order; schedule resolutions as numbers are issued."""
    tally = Tally()
    queue = list(events)
    heapq.heapify(queue)
    seq = len(events)
    while queue:
        event = heapq.heappop(queue)
        clock.now = event.at.astimezone(dt.UTC)
        app = rng.choice(apps)  # the proxy's pick of a replica
        data = event.data
        channel, office = data["channel"], data["office"]
        if event.kind == "check":
            headers = (
                {"X-Forwarded-For": data["address"]}
                if channel == "web"
                else {"Authorization": f"Bearer {partner_key(office)}"}
            )
            response = app.post(CHECKS_PATH, json=data["body"], headers=headers)
            status = response.status_code
            outcome = {200: "", 422: "invalid", 429: "rate_limited", 503: "unavailable"}[status]
            if status == 200:
                answer = response.json()
                outcome = "found" if answer["found"] else "not_found"
            tally.add(event.at, channel, office, "checks")
            tally.add(event.at, channel, office, outcome)
            if outcome != "found":
                continue
            tally.add(event.at, channel, office, "tokens_issued")
            if rng.random() >= RESOLVED_SHARE[channel]:
                continue
            at, by = resolution_moment(rng, event.at, channel)
            if at.astimezone(JST).date() > last_day:
                tally.open_numbers[channel] += 1
                continue
            # one dict for the number's resolve events (the first one marks it done)
            number = {
                "channel": channel,
                "office": office,
                "number": answer["reference_token"],
                "by": by or office,
            }
            heapq.heappush(queue, Event(at, seq, "resolve", number))
            seq += 1
            if rng.random() < 0.1:  # a second look later that day: still one resolution
                again = at + dt.timedelta(minutes=rng.uniform(5, 60))
                heapq.heappush(queue, Event(again, seq, "resolve", number))
                seq += 1
        else:
            headers = {"Authorization": f"Bearer {staff_key(data['by'])}"}
            response = app.get(f"/v1/reference-tokens/{data['number']}", headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"staff resolution answered {response.status_code}")
            if data.get("done"):
                continue
            data["done"] = True
            tally.add(event.at, channel, office, "tokens_resolved")
    return tally


def report_counts(
    url: str, report: str, first: dt.date, last: dt.date
) -> dict[tuple[str, str, str], dict[str, int]]:
    """The counters per (day, channel, office), straight from the report index."""
    client = OpenSearch(hosts=[url], timeout=30)
    client.indices.refresh(index=report)
    query = {"range": {"day": {"gte": first.isoformat(), "lte": last.isoformat()}}}
    hits = client.search(index=report, body={"query": query, "size": 10_000})["hits"]["hits"]
    return {
        (doc["day"], doc["channel"], doc["office"]): {
            name: int(doc[name]) for name in COUNTERS if doc.get(name)
        }
        for doc in (hit["_source"] for hit in hits)
        if doc["kind"] == "counts"
    }


def mochinushi(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI as a user would; its standard output."""
    program = Path(sys.executable).parent / "mochinushi"
    command = [str(program)] if program.exists() else [sys.executable, "-m", "mochinushi.cli"]
    done = subprocess.run(
        [*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"mochinushi {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def scratch_names(client: OpenSearch) -> Iterator[tuple[str, str, str]]:
    """An alias, a reference index and a report index no one else uses; deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    alias, refs, report = f"demo-{tag}-records", f"demo-{tag}-refs", f"demo-{tag}-campaign"
    try:
        yield alias, refs, report
    finally:
        for name in client.indices.get(index=f"{alias}-*", expand_wildcards="all"):
            client.indices.delete(index=name)
        with suppress(NotFoundError):
            client.delete(index=lifecycle.LOCK_INDEX, id=alias, refresh=True)
        for name in (refs, report):
            client.indices.delete(index=name, ignore_unavailable=True)
            if client.indices.exists_index_template(name=name):
                client.indices.delete_index_template(name=name)


def display_path(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14, help="days of campaign to simulate")
    parser.add_argument("--seed", type=int, default=7, help="seed of everything drawn")
    parser.add_argument("--out-dir", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--start", default="2026-12-01", help="first day (Japan time)")
    parser.add_argument("--records", type=int, default=20_000, help="synthetic records")
    parser.add_argument(
        "--opensearch-url",
        default=os.environ.get("MOCHINUSHI_OPENSEARCH_URL", "http://127.0.0.1:9200"),
    )
    args = parser.parse_args()
    if args.days < 1:
        parser.error("--days must be at least 1")
    start = dt.date.fromisoformat(args.start)
    last = start + dt.timedelta(days=args.days - 1)
    out_dir = args.out_dir if args.out_dir.is_absolute() else ROOT / args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = out_dir / "campaign.png"
    began = time.monotonic()

    rng = random.Random(args.seed)
    # Enough bodies for any draw: the plan takes them in order from the synthetic checks.
    expected = args.days * (WEB_BASE + sum(m for _, m in OFFICES.values())) + WEB_LAUNCH * 5
    config = SynthConfig(records=args.records, checks=int(expected * 1.5) + 200, seed=args.seed)
    synth = generate(config)
    bodies = iter([dict(check["request"]) for check in synth.checks])
    events = plan_checks(rng, start, args.days, bodies)

    client = OpenSearch(hosts=[args.opensearch_url], timeout=120)
    with scratch_names(client) as (alias, refs, report), tempfile.TemporaryDirectory() as work:
        write_synth_set(synth, Path(work))
        summary = build_index(
            client,
            Path(work) / "records.jsonl",
            BuildOptions(alias=alias, seed=args.seed),
            default_reading_dictionary(),
        )
        indexed = time.monotonic()
        print(f"indexed {summary.indexed:,} synthetic records in {indexed - began:.0f} s")

        clock = Clock(jst(start, 0).astimezone(dt.UTC))
        settings = demo_settings(args.opensearch_url, alias, refs, report)
        with ExitStack() as stack:
            apps = [
                stack.enter_context(
                    TestClient(
                        create_app(settings, clock=clock, log_stream=io.StringIO()), client=PROXY
                    )
                )
                for _ in range(2)
            ]
            tally = simulate(apps, clock, events, rng, last)
        # leaving the apps flushed what they had counted
        simulated = time.monotonic()
        checks = sum(c["checks"] for c in tally.totals().values())
        print(f"{checks:,} checks over {args.days} days in {simulated - indexed:.0f} s")

        got = report_counts(args.opensearch_url, report, start, last)
        want = {key: dict(+counter) for key, counter in tally.counts.items()}
        if got != want:
            wrong = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
            raise RuntimeError(f"the report differs from what was done on {wrong[:5]}")

        env = {
            **os.environ,
            "MOCHINUSHI_OPENSEARCH_URL": args.opensearch_url,
            "MOCHINUSHI_REPORT_INDEX": report,
        }
        span = ["--from", start.isoformat(), "--to", last.isoformat()]
        runs = [
            ["report", *span, "--by", "channel", "--format", "table", "--plot", display_path(plot)],
            ["report", *span, "--by", "office", "--format", "csv"],
        ]
        outputs = [(run, mochinushi(run, env)) for run in runs]

    opened = ", ".join(f"{c} {n}" for c, n in sorted(tally.open_numbers.items()))
    lines = [
        f"# bench/campaign_demo.py --days {args.days} --seed {args.seed} --start {start}",
        f"# {summary.indexed:,} synthetic records (relevance.synth, seed {args.seed}); "
        f"{checks:,} checks from the web and {len(OFFICES)} offices; two API apps; "
        "pension-office staff resolving numbers days later.",
        "# The report's counts per day, channel and office equal what the simulation did.",
        f"# Numbers a pension office would see after {last} (not in the report): {opened}.",
    ]
    for run, output in outputs:
        lines += ["", "$ mochinushi " + " ".join(run), output.rstrip("\n")]
    RESULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULT_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8")
    took = time.monotonic() - began
    print(f"wrote {display_path(RESULT_PATH)} and {display_path(plot)} in {took:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
