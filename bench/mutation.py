"""Mutation testing of the core, bounded: how many single-line mutants of each module its own tests kill.

    python -m bench.mutation [--sample 40] [--modules registry nightly ...] [--jobs 2] [--seed 0]
    python -m bench.mutation --modules hot --survivors-of earlier.json   # the same sample's survivors only

Each module is mutated by cosmic-ray in its own copy of the working tree (the tree itself is never touched) and
judged by the tests of that module only. A module has hundreds of mutants and its tests take seconds to a minute
per mutant, so a seeded random sample of `--sample` mutants per module is run (`--sample 0`: all of them); the
score is the share killed, with a timeout counted as killed. Survivors are listed (operator, line, function) to
tell equivalent mutants from gaps in the tests. `make mutation` runs it; `make test` does not.

`--survivors-of` (an earlier run's `--out` JSON, same seed, sample and code) runs only that run's survivors: tests
added since can only kill more, so a mutant killed then is killed now, and the score is the earlier run's kills
plus the survivors killed now, over the same sample, in a fraction of the time.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    name: str
    paths: tuple[str, ...]  # files or packages to mutate
    tests: tuple[str, ...]  # the module's own tests
    timeout_s: float  # per mutant: a mutant that hangs the tests is killed by this
    max_sample: int = 1_000_000  # most mutants run however large --sample (a minute of tests per mutant)


TARGETS = (  # the longest first: with two jobs the others run beside it
    Target("nightly", ("training/nightly.py",), ("tests/training/test_nightly.py",), 400, 20),
    Target("ranking", ("recommender/ranking",), ("tests/recommender/ranking",), 120),
    Target("hot", ("recommender/hot",), ("tests/recommender/hot",), 120),
    Target("shelf_rate", ("recommender/shelf_rate.py",), ("tests/recommender/test_shelf_rate.py",), 60),
    Target("registry", ("recommender/registry.py",), ("tests/recommender/test_registry.py",), 60),
)


def copy_tree(dest: Path) -> None:
    """The working tree's tracked files as they are on disk (uncommitted edits included)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


_ANNOTATIONS: dict[Path, list[tuple[tuple[int, int], tuple[int, int]]]] = {}


def in_annotation(path: Path, pos: tuple[int, int]) -> bool:
    """Is a mutation inside a type annotation? Every module mutated has `from __future__ import annotations`, so
    annotations are never evaluated and their mutants (`str | None` to `str % None`) are equivalent: left out."""
    if path not in _ANNOTATIONS:
        spans = []
        for node in ast.walk(ast.parse(path.read_text())):
            notes = [getattr(node, "annotation", None), getattr(node, "returns", None)]
            spans += [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in notes if n is not None]
        _ANNOTATIONS[path] = spans
    return any(start <= tuple(pos) < end for start, end in _ANNOTATIONS[path])


def test_command(target: Target) -> list[str]:
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *target.tests]


def environment(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}


def _mutant_id(module_path: str, line: int, operator: str, occurrence: int, definition: str | None) -> str:
    return f"{module_path}:{line} {operator} (occurrence {occurrence}) in {definition}"


def run_target(target: Target, work: Path, sample: int, seed: int, earlier: dict | None = None) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    tree = work / target.name
    tree.mkdir(parents=True)
    copy_tree(tree)
    env = environment(tree)
    started = time.perf_counter()
    baseline = subprocess.run(test_command(target), cwd=tree, env=env, capture_output=True, text=True)
    if baseline.returncode != 0:
        raise SystemExit(f"{target.name}: the tests fail before any mutation:\n{baseline.stdout[-3000:]}")
    config = tree / "cosmic-ray.toml"
    config.write_text("[cosmic-ray]\n"
                      f"module-path = {json.dumps(list(target.paths))}\n"
                      f"timeout = {target.timeout_s}\n"
                      "excluded-modules = []\n"
                      f"test-command = {json.dumps(' '.join(test_command(target)))}\n"
                      "[cosmic-ray.distributor]\nname = \"local\"\n")
    session = tree / "session.sqlite"
    cosmic_ray = [sys.executable, "-m", "cosmic_ray.cli"]
    subprocess.run([*cosmic_ray, "init", str(config), str(session)], cwd=tree, env=env, check=True)
    with use_db(str(session), WorkDB.Mode.open) as db:
        inert = [w.job_id for w in db.work_items if in_annotation(tree / w.mutations[0].module_path,
                                                                   w.mutations[0].start_pos)]
        db.set_multiple_results(inert, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        skip = set(inert)
        items = sorted((w for w in db.work_items if w.job_id not in skip),
                       key=lambda w: (w.mutations[0].module_path, w.mutations[0].operator_name,
                                      w.mutations[0].occurrence))
        total = len(items)
        sample = min(sample, target.max_sample) if sample else 0
        chosen = {w.job_id for w in (random.Random(seed).sample(items, sample) if 0 < sample < total else items)}
        if earlier is not None:  # only the earlier run's survivors: the rest of the sample was killed then
            if earlier["mutants"] != total:
                raise SystemExit(f"{target.name}: {total} mutants now, {earlier['mutants']} in the earlier run: "
                                 "the code changed, the sample is not the same")
            wanted = set(earlier["survivors"])
            chosen = {w.job_id for w in items if w.job_id in chosen and _mutant_id(
                w.mutations[0].module_path, w.mutations[0].start_pos[0], w.mutations[0].operator_name,
                w.mutations[0].occurrence, w.mutations[0].definition_name) in wanted}
            if len(chosen) != len(wanted):
                raise SystemExit(f"{target.name}: {len(wanted) - len(chosen)} of the earlier survivors are not in "
                                 "this sample (another seed or sample size?)")
        if len(chosen) < total:
            db.set_multiple_results([w.job_id for w in items if w.job_id not in chosen],
                                    WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    subprocess.run([*cosmic_ray, "exec", str(config), str(session)], cwd=tree, env=env, check=True)
    result = {**summarise(target, session), "mutants": total, "in_annotations": len(inert),
              "seconds": round(time.perf_counter() - started)}
    if earlier is not None:  # the whole sample: killed then, or killed now
        killed = earlier["killed"] + result["killed"]
        result.update(run=earlier["run"], killed=killed, timeouts=earlier["timeouts"] + result["timeouts"],
                      score=killed / earlier["run"], rerun_of_survivors=len(chosen))
    return result


def summarise(target: Target, session: Path) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    killed, timeouts, survivors, incompetent = 0, 0, [], 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.test_outcome == TestOutcome.KILLED or result.worker_outcome == WorkerOutcome.ABNORMAL:
                killed += 1
                timeouts += result.output == "timeout"
            elif result.test_outcome == TestOutcome.SURVIVED:
                m = item.mutations[0]
                survivors.append(_mutant_id(m.module_path, m.start_pos[0], m.operator_name, m.occurrence,
                                            m.definition_name))
            else:
                incompetent += 1
    run = killed + len(survivors)
    return {"module": target.name, "run": run, "killed": killed, "timeouts": timeouts, "incompetent": incompetent,
            "score": killed / run if run else math.nan, "survivors": sorted(survivors)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="+", choices=[t.name for t in TARGETS], default=[t.name for t in TARGETS])
    parser.add_argument("--sample", type=int, default=40, help="mutants run per module (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="modules run at once (each runs its mutants in turn)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--survivors-of", type=Path, help="an earlier run's --out JSON (same seed, sample and "
                        "code): run only its survivors, and score the whole sample")
    args = parser.parse_args(argv)
    targets = [t for t in TARGETS if t.name in args.modules]
    earlier = {r["module"]: r for r in json.loads(args.survivors_of.read_text())} if args.survivors_of else {}
    if args.survivors_of and not all(t.name in earlier for t in targets):
        raise SystemExit(f"{args.survivors_of} has no run of {[t.name for t in targets if t.name not in earlier]}")
    with tempfile.TemporaryDirectory(prefix="xuanpin-mutation-") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda t: run_target(t, Path(tmp), args.sample, args.seed, earlier.get(t.name)),
                                targets))
    print(f"\n{'module':<12}{'mutants':>9}{'run':>6}{'killed':>8}{'score':>8}{'seconds':>9}")
    for r in results:
        print(f"{r['module']:<12}{r['mutants']:>9}{r['run']:>6}{r['killed']:>8}{r['score']:>8.0%}{r['seconds']:>9}")
    for r in results:
        if r["survivors"]:
            print(f"\nsurvivors in {r['module']}:")
            print("\n".join(f"  {s}" for s in r["survivors"]))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
