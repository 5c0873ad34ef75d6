"""What the Trainer shows while a task trains: one bar, or one line per epoch in a log.

:class:`TaskProgress` takes the place of the Trainer's own printing (a metric dict per log
step, or its bar with those dicts under it). Its bar, on stderr, counts the task's steps and
carries the last epoch, training loss and dev score. When stderr is not a terminal (CI, a pipe,
a log file) a bar would be redrawn into the log over and over, so each epoch is one line there
instead. The metric dicts come back when transformers logs at info or below (``log_level=info``).
"""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm
from transformers import PrinterCallback, ProgressCallback, TrainerCallback
from transformers.utils import logging as transformers_logging


class TaskProgress(TrainerCallback):
    """Progress of one task's training, shown by the main process of a torchrun job only."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.bar: tqdm | None = None
        self.loss: float | None = None
        self.echo_logs = transformers_logging.get_verbosity() <= logging.INFO

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            # disable=None: no bar unless stderr is a terminal; the epochs are lines then.
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.task,
                            unit="step", file=sys.stderr, disable=None, dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            self.loss = logs["loss"]
        if self.echo_logs:
            tqdm.write(str({key: f"{value:.4g}" if isinstance(value, float) else value
                            for key, value in logs.items() if key != "total_flos"}))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        # After training, the Trainer's evaluations are the dev and test scores of the export,
        # which the command's summary reports.
        if self.bar is None:
            return
        name = (args.metric_for_best_model or "loss").removeprefix("eval_")
        parts = [f"epoch {state.epoch:g}/{state.num_train_epochs}"]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4f}")
        if metrics and f"eval_{name}" in metrics:
            parts.append(f"dev {name} {metrics[f'eval_{name}']:.4f}")
        if self.bar.disable:
            print(f"{self.task}: " + "  ".join(parts), file=sys.stderr, flush=True)
        else:
            self.bar.set_postfix_str("  ".join(parts))

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def show_progress(trainer, task: str) -> None:
    """Put :class:`TaskProgress` in place of ``trainer``'s own printing, whichever of its two
    ``disable_tqdm`` chose."""
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(TaskProgress(task))
