"""Synthetic unmatched-records extract with ground truth, for measuring owner recall and false
"found" rates per error pattern.

WHY: the real ledger cannot leave the pension service, and a toy set with one clean record per
person measures nothing: the easy records were merged long ago, so what is left is dominated by
keying errors, and blocking on a birth date sees hundreds of different people. This package
builds an extract (records with the fields of ``RECORD_FIELDS``) plus existence-check request
bodies whose answers are known:

* ``owner`` checks: the person has one or more records; the expected record is degraded by one
  (sometimes two) error patterns (``ERROR_TAGS``), ~15 % are clean. ``tags`` name the patterns
  of the expected record; ``owner_record_ids`` lists all of the owner's records (expected
  first). For strict per-pattern recall compare ``expected_record_id`` with the staff
  endpoint's ``record_ids``.
* hard negatives with no record (``expected_record_id`` None): ``sibling``, ``namesake`` and
  ``random``, each filtered so that no record is plausibly theirs. ``near_record_id`` names the
  record a hard negative was built next to, for diagnosing false "found" answers.

Modules, in the order a set is built:

* ``population`` — true birth dates, and the production per-date crowd (``density``);
* ``names`` (with the reviewed tables of ``names_data``) — names, readings and people;
* ``draft``, then ``kana_errors``, ``kanji_errors``, ``date_errors`` — a record being keyed and
  the keying errors; ``patterns`` — which errors a record gets, and the pipeline;
* ``records``, ``references``, ``checks`` — what lands in the extract and what people type;
* ``owners``, ``negatives`` — the two sides of the checks, and the negative filter;
* ``generator``, ``stats``, ``writer``, ``cli`` — putting it together and writing it out;
* ``kana``, ``dates``, ``sampling`` — kana and date arithmetic, weighted draws.
"""

from relevance.synth.checks import KINDS
from relevance.synth.cli import main
from relevance.synth.config import SynthConfig, SynthSet
from relevance.synth.dates import KeyedDate, dates_close
from relevance.synth.generator import generate
from relevance.synth.kana import fold_kana_loose, fold_kanji
from relevance.synth.names import name_tables
from relevance.synth.patterns import ALL_TAGS, CLEAN, ERROR_TAGS
from relevance.synth.records import RECORD_FIELDS
from relevance.synth.writer import write_synth_set

__all__ = [
    "ALL_TAGS",
    "CLEAN",
    "ERROR_TAGS",
    "KINDS",
    "RECORD_FIELDS",
    "KeyedDate",
    "SynthConfig",
    "SynthSet",
    "dates_close",
    "fold_kana_loose",
    "fold_kanji",
    "generate",
    "main",
    "name_tables",
    "write_synth_set",
]
