"""The FinOps Foundation's focus-validator (2.2.1) on a CSV, offline, as one JSON object per run.

Run it with the validator's own Python 3.12 virtualenv (``make focus-validator`` builds
``.venv-focus``), never with the tap's::

    .venv-focus/bin/python scripts/check_focus.py --data-file rows.csv --version 1.3

It prints ``{"version", "model_version", "rows", "rules": {rule id: {"status", "message",
"violations", "must_satisfy", "error"}}}`` on stdout: ``status`` is ``pass``, ``fail`` or
``skip``, ``error`` DuckDB's when the rule's query could not run (a column it reads is missing).
The validator's own console report and logs go to stderr: it exits 0 whatever fails, and its
report is for people. This JSON is what tests/support/focus.py reads.

What it does around the validator's Python API (``focus_validator.validator.Validator``):

- The requirements models come from ``tests/fixtures/focus/`` (``model-1.2.0.1.json``, as the
  validator ships it, and ``model-1.3.json``, built from the spec's ``releases/1.3`` sources), with
  downloads blocked: the validator would otherwise ask GitHub for every version but 1.2.
- It runs in a scratch folder holding ``focus_validator/rules/currency_codes.csv``, the path the
  validator opens relative to the working directory.
- It fixes how 2.2.1 reads a rule's column from a FOCUS 1.3 rule id: see ``fix_rule_columns``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import inspect
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import textwrap
import typing as t
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "focus"
VERSIONS = ("1.2", "1.3")
#: FOCUS 1.3's dataset prefix of a rule id (Cost and Usage, Contract Commitment), and the
#: "Object" that ends the entity of the rules of a JSON column's properties.
DATASET_PREFIX = re.compile(r"^(?:CAU|CCT)-")
OBJECT_ENTITY = re.compile(r"^(\w+)Object-O-")


#: What Datadog supports and our rows carry, as the models' ApplicabilityCriteria name it: the
#: rules of the conditional columns that depend on one run only when it is claimed
#: (docs/focus.md says why each, and why none of the others).
DATADOG_CRITERIA = (
    "ACCOUNT_NAMING_SUPPORTED",  # the parent organization's name
    "SUB_ACCOUNT_SUPPORTED",  # child organizations
    "MULTIPLE_PRICING_CATEGORIES_SUPPORTED",  # committed and on-demand
    "USAGE_MEASUREMENT_SUPPORTED",  # billable usage
    "REGION_SUPPORTED",  # the org's region (US1, EU1, ...), when the answer names it
    "TAGGING_SUPPORTED",  # tags exist in Datadog (cost by tag is the cost_attribution stream)
)


def column_first(rule_id: str) -> str:
    """A FOCUS 1.3 rule id as 2.2.1 reads it, the rule's column first.

    ``CAU-ServiceName-C-000-M`` -> ``ServiceName-C-000-M``;
    ``CAU-ContractAppliedObject-O-010-M`` -> ``ContractApplied-O-010-M``. FOCUS 1.2's ids are
    already so, and are returned as they are.
    """
    return OBJECT_ENTITY.sub(r"\1-O-", DATASET_PREFIX.sub("", rule_id))


#: Each method of focus_to_duckdb_converter that reads a column from a rule id, and its reads:
#: (the rule id, what is done with it). Each must occur in 2.2.1's source, or the fix fails loudly.
READS_OF_THE_COLUMN: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("CompositeBaseRuleGenerator", "generateSql"): (
        ("self.rule_id", '.split("-")[0]'),
        ("failed_rule_id", '.startswith("CostAndUsage-D-")'),
        ("failed_rule_id", '.split("-")[0]'),
    ),
    ("FocusToDuckDBSchemaConverter", "_apply_non_applicable_skips"): (
        ("rule_id", '.split("-")[0]'),
    ),
    ("FocusToDuckDBSchemaConverter", "_apply_nested_child_non_applicable_marking"): (
        ("child_rule_id", '.split("-")[0]'),
    ),
}


def fix_rule_columns() -> None:
    """Make focus-validator 2.2.1 read a rule's column past a FOCUS 1.3 dataset prefix.

    2.2.1 takes the column a rule checks from the first dash-separated part of the rule's id
    (``rule_id.split("-")[0]``), inline, in three methods of
    ``focus_validator/config_objects/focus_to_duckdb_converter.py``:
    ``CompositeBaseRuleGenerator.generateSql`` (a composite rule is failed with a failed
    presence or base rule of its column), and ``FocusToDuckDBSchemaConverter``'s
    ``_apply_non_applicable_skips`` and ``_apply_nested_child_non_applicable_marking`` (every
    rule of a column whose presence rule does not apply is skipped). FOCUS 1.2's ids start
    with the column (``ServiceName-C-000-M``); FOCUS 1.3's start with the dataset
    (``CAU-ServiceName-C-000-M``), so every 1.3 rule reads as column ``CAU``: the rules of
    columns absent from the data run instead of being skipped, and fail (about 180 failures
    that say nothing about the rows).

    The rules of a JSON column's properties, new in 1.3 (``CAU-ContractAppliedObject-O-010-M``,
    checking the column ``ContractApplied``), read as column ``ContractAppliedObject`` even past
    the prefix, which no presence rule names: with ``ContractApplied`` absent they run and fail
    on the missing column too (53 failures on our rows).

    There is no function to patch: each method is recompiled from its own source with each
    read applied to ``column_first(rule_id)`` instead, in the module's namespace. 1.2's ids
    are already column first, so 1.2 runs exactly as before.
    """
    from focus_validator.config_objects import focus_to_duckdb_converter as converter  # noqa: PLC0415

    namespace = vars(converter)
    namespace["column_first"] = column_first
    for (class_name, method_name), reads in READS_OF_THE_COLUMN.items():
        cls = namespace[class_name]
        source = textwrap.dedent(inspect.getsource(getattr(cls, method_name)))
        for rule_id, use in reads:
            if rule_id + use not in source:
                msg = f"focus-validator changed: {class_name}.{method_name} has no {rule_id + use}"
                raise RuntimeError(msg)
            source = source.replace(rule_id + use, f"column_first({rule_id}){use}")
        code = compile(source, inspect.getsourcefile(cls) or "<focus-validator>", "exec")
        scope: dict[str, t.Any] = {}
        exec(code, namespace, scope)  # noqa: S102
        setattr(cls, method_name, scope[method_name])


def status(entry: dict[str, t.Any]) -> str:
    """pass, fail or skip, as the validator's console report decides it."""
    details = entry.get("details") or {}
    if details.get("skipped"):
        return "skip"
    return "pass" if entry.get("ok") else "fail"


def validate(
    data_file: Path, version: str, models: Path, criteria: str | None = None
) -> dict[str, t.Any]:
    """Every rule of ``version``'s model on ``data_file``, as JSON-ready data."""
    from focus_validator.validator import Validator  # noqa: PLC0415

    fix_rule_columns()
    currency_codes = importlib.resources.files("focus_validator") / "rules" / "currency_codes.csv"
    with tempfile.TemporaryDirectory(prefix="focus-validator-") as scratch:
        rules = Path(scratch, "focus_validator", "rules")
        rules.mkdir(parents=True)
        with importlib.resources.as_file(currency_codes) as codes:
            shutil.copyfile(codes, rules / "currency_codes.csv")
        here = Path.cwd()
        os.chdir(scratch)
        try:
            validator = Validator(
                data_filename=str(data_file),
                output_destination=None,
                output_type="console",
                rule_set_path=str(models),
                rules_version=version,
                rules_block_remote_download=True,
                focus_dataset="CostAndUsage",
                applicability_criteria=criteria or None,
            )
            with contextlib.redirect_stdout(sys.stderr):
                results = validator.validate()
        finally:
            os.chdir(here)
    rules_out = {}
    for rule_id, entry in sorted(results.by_rule_id.items()):
        details = entry.get("details") or {}
        rule = results.rules.get(rule_id)
        criteria = getattr(rule, "validation_criteria", None)
        rules_out[rule_id] = {
            "status": status(entry),
            "message": str(details.get("message") or details.get("reason") or ""),
            "violations": details.get("violations"),
            "must_satisfy": getattr(criteria, "must_satisfy", None),
            "error": details.get("error"),
        }
    return {
        "version": version,
        "model_version": results.model_version,
        "rows": results.data_row_count,
        "rules": rules_out,
    }


def main() -> None:
    """Parse the arguments, validate, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-file", type=Path, required=True, help="a CSV of FOCUS rows")
    parser.add_argument("--version", choices=VERSIONS, required=True, help="the FOCUS version")
    parser.add_argument("--models", type=Path, default=MODELS, help="folder of model-*.json")
    parser.add_argument(
        "--applicability-criteria",
        default=",".join(DATADOG_CRITERIA),
        help="what the provider supports, comma-separated (the model's ApplicabilityCriteria, "
        "such as SUB_ACCOUNT_SUPPORTED): the rules that depend on one run only if it is named; "
        "default: what Datadog supports (DATADOG_CRITERIA); '' for none",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = validate(
        args.data_file.resolve(), args.version, args.models.resolve(), args.applicability_criteria
    )
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
