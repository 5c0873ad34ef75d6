"""Evaluate trained models on the test split: ``python -m src.evaluate [run_dir=RUN]``.

    python -m src.evaluate                          # the newest run, on its own test split
    python -m src.evaluate run_dir=RUN backend=onnx # after src.export --run-dir RUN --onnx
    python -m src.evaluate run_dir=RUN data.files.test=mine.csv   # the run's columns, your file
    python -m src.evaluate run_dir=RUN data=qawl    # the project's splits, whatever RUN used
    python -m src.evaluate -m run_dir=RUN_A,RUN_B   # a report per run, and summary.md

``run_dir`` is a run folder, one model folder, or a folder of runs (a training multirun: each
run evaluated, then their mean ± std); null, the default, takes the newest run. The test and
train splits, the text column and the label mapping are the run's (its ``config.yaml``), with
the ``data.*`` keys of the command line over them; ``data=NAME`` chooses a data group instead,
as does a model folder outside a run. Writes ``report.md``, ``metrics.json``,
``predictions.jsonl`` and plots into its output folder (``src.evaluation.report``).
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
    from hydra.core.hydra_config import HydraConfig

    # Imported here, so that --help does not wait for scikit-learn.
    from src.evaluation.report import evaluate

    # The data keys given on the command line win over the run's config; main called with a
    # config of its own (Hydra's pass-through) had no command line.
    evaluate(cfg, HydraConfig.get().overrides.task if HydraConfig.initialized() else ())
    print(f"report: {Path(cfg.paths.output_dir) / 'report.md'}")


if __name__ == "__main__":
    main()
