import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

# No test may reach a model hub; everything they need is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
# make test runs one pytest-xdist worker a core: each worker, and what it spawns, takes its share
# of the cores, not all of them (torch reads this when it is first imported).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))
# A fresh datasets cache: a folder loaded by name is cached by name, so edits would go unseen.
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="qawl-datasets-")

from src.core.config import CONFIG_DIR  # noqa: E402 (after the environment above)
from src.core.paths import PROJECT_ROOT  # noqa: E402

# The tiny model on a slice of the data: seconds per task.
SMOKE = ("model=tiny", "trainer=cpu_smoke", "data.max_samples=96")


def make_cfg(output_dir: Path, *overrides: str):
    """The real training config, composed with overrides and writing into ``output_dir``."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=[f"paths.output_dir={output_dir}", *overrides])


def run_module(*args: str, env: dict | None = None, cwd: Path = PROJECT_ROOT):
    """Run ``python *args`` as a user would, capturing its output."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One trained tiny run (both tasks) shared by the tests that only read it."""
    from src.train import train

    run_dir = tmp_path_factory.mktemp("tiny_run")
    return run_dir, train(make_cfg(run_dir, *SMOKE))


def record(**overrides) -> dict:
    base = {"id": "a-1", "text": "قال المتحدث إن المفاوضات ستستأنف الأسبوع المقبل في جنيف",
            "stance": "none", "sentiment": "neutral", "speaker": "المتحدث",
            "source": "authored", "derived_from": None, "group": "a-1", "split": "train"}
    return {**base, **overrides}


@pytest.fixture
def write_jsonl(tmp_path):
    """Write records (dicts, or raw strings for broken lines) to a JSONL file in tmp_path."""

    def write(name: str, rows: list) -> Path:
        path = tmp_path / name
        lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)
                 for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


def command(capsys, main, *args: str) -> subprocess.CompletedProcess:
    """An argparse command's ``main`` run in this process, as ``run_module`` would run it: its
    exit code and what it printed. A bug still raises, so a traceback fails the test; spawning
    a process costs 5-10 s here, and only the commands' own start-up tests need one."""
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)
