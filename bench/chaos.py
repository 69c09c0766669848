"""Chaos benchmark of the render farm: faults injected mid-render, many trials, figures.

Run as root from the repository root: `python -m bench.chaos [--trials N] [--scenario NAME]...`.
It starts everything itself: a private Postgres and Redis under var/ (bench.private_services),
a 64 MB tmpfs as the artifact disk, two emulated GPU backends with a worker each, a CPU worker,
beat, the progress sink and the web app; the partition scenario adds a GPU node and its ComfyUI
on a second host (a network namespace joined by a veth pair; the farm's Postgres and Redis also
listen on the veth address). Namespaces, mounts and processes are removed on the way out, also
after a failure or Ctrl-C. The farm's recovery clocks are shortened (bench.chaos_rig: the
stage lease and the lost-message grace 6 s, the sweep every 2 s) so 20 trials of every
scenario fit in about half an hour here.

Each trial is a scene job of two 64x64 scenes (keyframe, animate, interpolate; every GPU stage
held about a second by the emulator); trials of a scenario run back to back on the one farm.
The fault is injected at a random moment of a render: once one of the job's GPU stages is
executing on a backend, after a random part of its render time (the scenarios are in
bench.chaos_faults).

Per scenario: trials; right (jobs that ended in the expected terminal state, with the
scenario's own checks); duplicates (prompt ids of the job submitted more than once, to one
backend or over several, counted by the emulators' /emulator/stats); lost (published outputs
missing, or differing from their Asset rows' sha256 or frame count); recovery median and worst:
seconds from the fault to the job's terminal state (disk full: to the retried job's success).
Bar: every trial right, no duplicate, nothing lost; otherwise exit 1. JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import sys
import time

from bench.chaos_faults import SCENARIOS, Trial
from bench.chaos_rig import Rig, running_rig

log = logging.getLogger(__name__)

MAX_MISSES = 5  # trials in a row whose job ended before the fault could land


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: trials per scenario and which scenarios."""
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--trials", type=int, default=20, help="trials per scenario")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="run this scenario (repeatable; default: all)",
    )
    parser.add_argument("--seed", type=int, default=21)
    return parser.parse_args(argv)


def run_scenario(rig: Rig, name: str, trials: int) -> list[Trial]:
    """`trials` trials of one scenario, back to back."""
    scenario = SCENARIOS[name]
    results: list[Trial] = []
    misses = 0
    while len(results) < trials:
        trial = scenario(rig)
        if trial is None:
            misses += 1
            if misses > MAX_MISSES:
                raise RuntimeError(f"{name}: the fault found no render to land in")
            continue
        misses = 0
        results.append(trial)
        log.warning(
            "%s trial %d: right=%s duplicates=%d lost=%d recover_s=%.1f %s",
            name,
            len(results),
            trial.right,
            trial.duplicates,
            trial.lost,
            trial.recover_s,
            trial.note,
        )
    return results


def figures_of(trials: list[Trial]) -> dict:
    """The scenario's figures."""
    times = [t.recover_s for t in trials]
    return {
        "trials": len(trials),
        "right": sum(t.right for t in trials),
        "duplicates": sum(t.duplicates for t in trials),
        "lost": sum(t.lost for t in trials),
        "recover_median_s": round(statistics.median(times), 2),
        "recover_worst_s": round(max(times), 2),
        "notes": sorted({t.note for t in trials if t.note})[:3],
    }


def met(figures: dict) -> bool:
    """Whether a scenario met the bar."""
    return (
        figures["right"] == figures["trials"]
        and figures["duplicates"] == 0
        and figures["lost"] == 0
    )


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios; print figures, JSON last; exit 1 when a bar is missed."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    if os.geteuid() != 0:
        sys.exit("bench.chaos mounts a tmpfs and makes a network namespace: run it as root")
    # Ctrl-C and SIGTERM unwind through the rig's clean-up like any failure.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    names = args.scenario or list(SCENARIOS)
    started = time.monotonic()
    figures: dict[str, dict] = {}
    with running_rig(far_host="partitioned" in names, seed=args.seed) as rig:
        for name in names:
            if name == "partitioned":
                rig.start_far_node()
            try:
                figures[name] = figures_of(run_scenario(rig, name, args.trials))
            finally:
                if name == "partitioned":
                    rig.stop_far_node()
            print(name, json.dumps(figures[name]), flush=True)
    summary = {
        "scenarios": figures,
        "all_met": all(met(f) for f in figures.values()),
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    print(json.dumps(summary))
    return 0 if summary["all_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
