"""Evaluate trained models on the test split: ``python -m src.evaluate [run_dir=RUN]``.

    python -m src.evaluate                          # the newest run, data=qawl's test split
    python -m src.evaluate run_dir=RUN backend=onnx # after src.export --run-dir RUN --onnx
    python -m src.evaluate run_dir=RUN data.files.test=mine.csv
    python -m src.evaluate -m run_dir=RUN_A,RUN_B   # a report per run, and summary.md

``run_dir`` is a run folder, one model folder, or a folder of runs (a training multirun: each
run evaluated, then their mean ± std); null, the default, takes the newest run. The test and
train splits come from the ``data`` config group, as in training. Writes ``report.md``,
``metrics.json``, ``predictions.jsonl`` and plots into its output folder
(``src.evaluation.report``).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from src.core.config import CONFIG_DIR
from src.core.errors import reported


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
@reported(exits=True)
def main(cfg: DictConfig) -> None:
    # Imported here, so that --help does not wait for scikit-learn.
    from src.evaluation.report import evaluate

    evaluate(cfg)
    print(f"report: {Path(cfg.paths.output_dir) / 'report.md'}")


if __name__ == "__main__":
    main()
