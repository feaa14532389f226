"""Validation figures (issue [B]): the slowest inputs we know of, from file bytes to the last error.

    python bench/definition_validation.py [--repeat 5]

Prints, per input, its size and the median time of `read -> parse -> validate` (what `byte workflow validate`
and the Workflows editor do on every rerun). Every figure must stay well under a second.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from byte_core.demo import WORKFLOW_DIR  # noqa: E402
from byte_core.workflow.definition import validate_definition  # noqa: E402
from byte_core.workflow.source import MAX_BYTES, parse_bytes  # noqa: E402

REVIEW = json.loads((WORKFLOW_DIR / "application_review.json").read_text())


def with_value(value) -> bytes:
    data = json.loads(json.dumps(REVIEW))
    data["steps"][1]["config"]["description"] = "short"
    data["steps"].insert(1, {"id": "note", "order": 1.5, "type": "set_variable", "name": "Note",
                             "config": {"name": "note", "value": value}})
    for i, step in enumerate(data["steps"]):
        step["order"] = i + 1
    return json.dumps(data).encode()


def chain(count: int, branchy: bool) -> bytes:
    steps = [{"id": "s0", "order": 0, "type": "trigger", "name": "Start"}]
    for i in range(1, count):
        if branchy and i % 2 == 0:
            targets = [f"s{j}" for j in range(i + 1, min(count, i + 40))]
            steps.append({"id": f"s{i}", "order": i, "type": "condition", "name": f"Route {i}",
                          "config": {"field": "{{ s0.trigger_type }}",
                                     "branches": [{"if": t, "then_goto": t} for t in targets] or
                                     [{"if": "x", "then_goto": "s0"}]}})
        else:
            steps.append({"id": f"s{i}", "order": i, "type": "set_variable", "name": f"Set {i}",
                          "config": {"name": f"v{i}", "value": f"{{{{ s0.source }}}} {i}"}})
    return json.dumps({"name": "Large", "steps": steps}).encode()


INPUTS = {
    "demo: application review": json.dumps(REVIEW).encode(),
    "'{{' + 6,000 spaces in a value": with_value("{{" + " " * 6000),
    "~1 MiB of '{{}}' in a value": with_value("{{}}" * ((MAX_BYTES - 8000) // 4)),
    "~1 MiB of '}}{{' in a value": with_value("}}{{" * ((MAX_BYTES - 8000) // 4)),
    "500-step chain": chain(500, branchy=False),
    "500 steps, ~10,000 branches": chain(500, branchy=True),
    "nested 100,000 levels": b"[" * 100_000 + b"]" * 100_000,
    "1 MiB + 1 byte": b" " * (MAX_BYTES + 1),
    "UTF-16 demo": json.dumps(REVIEW).encode("utf-16"),
}


def measure(raw: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    data, errors = parse_bytes(raw)
    if not errors:
        errors = validate_definition(data)
    return time.perf_counter() - started, len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    measure(INPUTS["demo: application review"])  # imports and model building out of the figures
    print(f"{'input':<34} {'bytes':>10} {'errors':>7} {'median ms':>10} {'max ms':>8}")
    for label, raw in INPUTS.items():
        runs = [measure(raw) for _ in range(args.repeat)]
        times = [t * 1000 for t, _ in runs]
        print(f"{label:<34} {len(raw):>10,} {runs[0][1]:>7} {statistics.median(times):>10.1f} {max(times):>8.1f}")


if __name__ == "__main__":
    main()
