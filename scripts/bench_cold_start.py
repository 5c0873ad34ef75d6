"""Cold start of ``python -m src.predict``: the onnx-int8 and torch backends against their imports.

    python scripts/bench_cold_start.py [--run RUN] [--repeats 5] [--top 15]

Without --run, one tiny run (the tests' smoke settings: model=tiny, trainer=cpu_smoke,
data.max_samples=96) is trained into a temporary folder with ``src.train.train`` and its ONNX
files are written with ``python -m src.export --run-dir RUN --onnx --int8``. Each of these is
then run --repeats times in fresh processes, in an order shuffled per repetition so that drift
in the machine's load falls on all of them alike:

  (a) python -c "import onnxruntime, tokenizers"
  (b) python -m src.predict --backend onnx-int8 --run-dir RUN data/raw/article.txt
  (c) python -c "import torch, transformers"
  (d) python -m src.predict --backend torch --run-dir RUN data/raw/article.txt
  (e) python -c "import torch, transformers.modeling_utils", what loading any transformers
      model imports (``import transformers`` alone is lazy and imports almost none of it)

It prints the median and min-max wall time of each, the ratios b/a, d/c and d/e, the targets
(b <= 1.0 s, d/c <= 1.3), where (b)'s imports go (``python -X importtime``: the top cumulative
imports and the self time by top-level package) and, for both backends, the median time of each
phase of a prediction measured inside a fresh process: imports, loading the models, loading
the speakers (actor list, tagger), segmentation, attribution, scoring and writing the rows.

The wall times are only comparable on an otherwise idle machine; the 1-minute load average is
printed at the start and at the end, and a load above the core count means the machine was
shared while it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARTICLE = ROOT / "data" / "raw" / "article.txt"
SMOKE = ("model=tiny", "trainer=cpu_smoke", "data.max_samples=96")  # as tests/conftest.py
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
TARGET_ONNX_S = 1.0
TARGET_TORCH_RATIO = 1.3
UNWANTED = ("torch", "transformers")  # what the onnx path must not import


def predict_command(backend: str, run: Path) -> list[str]:
    return [sys.executable, "-m", "src.predict", "--backend", backend, "--run-dir", str(run),
            "--format", "jsonl", str(ARTICLE)]


def commands(run: Path) -> dict[str, list[str]]:
    return {
        "a": [sys.executable, "-c", "import onnxruntime, tokenizers"],
        "b": predict_command("onnx-int8", run),
        "c": [sys.executable, "-c", "import torch, transformers"],
        "d": predict_command("torch", run),
        "e": [sys.executable, "-c", "import torch, transformers.modeling_utils"],
    }


def load_average() -> str:
    try:
        load = os.getloadavg()
    except OSError:
        return "unknown"
    shared = " (shared: above the core count)" if load[0] > (os.cpu_count() or 1) else ""
    return "{:.2f} {:.2f} {:.2f}".format(*load) + shared


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def tiny_run(folder: Path) -> Path:
    """A trained tiny run in ``folder`` with both ONNX files of each model."""
    from hydra import compose, initialize_config_dir

    from src.core.config import CONFIG_DIR
    from src.train import train

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={folder}", *SMOKE])
    train(cfg)
    subprocess.run([sys.executable, "-m", "src.export", "--run-dir", str(folder), "--onnx",
                    "--int8"], cwd=ROOT, env=ENV, check=True, capture_output=True)
    return folder


def import_times(stderr: str) -> list[tuple[int, int, int, str]]:
    """(depth, self µs, cumulative µs, module) of each line of ``-X importtime`` output."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((depth, int(self_us), int(cumulative_us), name.strip()))
    return rows


def report_imports(run: Path, top: int) -> None:
    command = predict_command("onnx-int8", run)
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, check=True)
    rows = import_times(done.stderr)
    print(f"\n(b)'s imports (python -X importtime, one run): {len(rows)} modules, "
          f"{sum(r[1] for r in rows) / 1e6:.3f} s in all")
    print(f"  top {top} cumulative (depth <= 1):")
    for depth, _, cumulative, name in sorted((r for r in rows if r[0] <= 1),
                                             key=lambda r: -r[2])[:top]:
        print(f"    {cumulative / 1e6:6.3f} s  {'  ' * depth}{name}")
    packages: dict[str, int] = defaultdict(int)
    for _, self_us, _, name in rows:
        packages[name.split(".")[0]] += self_us
    print("  self time by top-level package:")
    for name, total in sorted(packages.items(), key=lambda item: -item[1])[:top]:
        print(f"    {total / 1e6:6.3f} s  {name}")
    found = [name for name in UNWANTED if any(r[3].split(".")[0] == name for r in rows)]
    print(f"  torch or transformers imported: {', '.join(found) or 'neither'}")


def phases(run: Path, backend: str) -> None:
    """Runs in a fresh process: prints the seconds of each phase of one prediction as JSON."""
    started = time.perf_counter()
    import io

    from src.inference.formats import write_rows
    from src.inference.rows import models_for, rows_for, score, speakers_for
    from src.inference.statements import find_statements, read_text
    from src.text.segmentation import split_statements

    marks = {"imports": time.perf_counter()}
    models, _ = models_for(run, None, None, backend)
    marks["loading"] = time.perf_counter()
    speakers = speakers_for(run, None, backend)
    marks["speakers"] = time.perf_counter()
    text = read_text(str(ARTICLE), "utf-8")
    spans = split_statements(text)
    marks["segmentation"] = time.perf_counter()
    statements = find_statements(str(ARTICLE), text, lambda _: spans, speakers)
    marks["attribution"] = time.perf_counter()
    scores = score(statements, models, 32)
    marks["scoring"] = time.perf_counter()
    write_rows(rows_for(statements, models, scores, False), "jsonl", io.StringIO(), False)
    marks["writing"] = time.perf_counter()
    seconds, previous = {}, started
    for name, mark in marks.items():
        seconds[name], previous = mark - previous, mark
    seconds["imported"] = [name for name in UNWANTED if name in sys.modules]
    print(json.dumps(seconds))


def report_phases(run: Path, repeats: int) -> None:
    print(f"\nphases inside one prediction (median of {repeats} fresh processes, seconds):")
    for backend in ("onnx-int8", "torch"):
        found = []
        for _ in range(repeats):
            done = subprocess.run([sys.executable, __file__, "--run", str(run), "--phases",
                                   backend], cwd=ROOT, env=ENV, capture_output=True, text=True,
                                  check=True)
            found.append(json.loads(done.stdout.splitlines()[-1]))
        names = [name for name in found[0] if name != "imported"]
        medians = {name: statistics.median(f[name] for f in found) for name in names}
        print(f"  {backend:9}  " + "  ".join(f"{name} {medians[name]:.3f}" for name in names)
              + f"  (sum {sum(medians.values()):.3f}; torch/transformers imported: "
              f"{', '.join(found[0]['imported']) or 'neither'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path,
                        help="a run folder with onnx/ files (default: train a tiny one)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--top", type=int, default=15, help="import rows to show")
    parser.add_argument("--phases", help=argparse.SUPPRESS)  # the child of report_phases
    args = parser.parse_args()
    if args.phases:
        phases(args.run, args.phases)
        return

    print(f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), Python "
          f"{sys.version.split()[0]}; load average at the start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="qawl-cold-start-") as scratch:
        run = args.run or tiny_run(Path(scratch) / "run")
        runs = commands(run)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for name in runs:  # a first, unmeasured run of each warms the file cache
            wall(runs[name])
        for _ in range(args.repeats):
            for name in random.sample(list(runs), len(runs)):
                times[name].append(wall(runs[name]))
        median = {name: statistics.median(found) for name, found in times.items()}
        print(f"\nwall time, median (min-max) of {args.repeats} fresh processes:")
        for name, command in runs.items():
            shown = " ".join(Path(part).name if part == sys.executable else part
                             for part in command).replace(str(run), "RUN")
            print(f"  ({name}) {median[name]:6.3f} s ({min(times[name]):.3f}-"
                  f"{max(times[name]):.3f})  {shown}")
        print(f"\nb/a = {median['b'] / median['a']:.2f}   d/c = {median['d'] / median['c']:.2f}"
              f"   d/e = {median['d'] / median['e']:.2f}")
        print(f"target (b) <= {TARGET_ONNX_S} s: "
              f"{'met' if median['b'] <= TARGET_ONNX_S else 'missed'}; target d/c <= "
              f"{TARGET_TORCH_RATIO}: "
              f"{'met' if median['d'] / median['c'] <= TARGET_TORCH_RATIO else 'missed'}")
        report_imports(run, args.top)
        report_phases(run, args.repeats)
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
