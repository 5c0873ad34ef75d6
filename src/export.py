"""ONNX copies of a run's models, and publishing them on the Hugging Face Hub.

    python -m src.export [--run-dir RUN] --onnx [--int8]
    python -m src.export [--run-dir RUN] --push-to-hub ORG/NAME [--task stance] [--private]
                         [--dry-run]

The run is the newest under outputs/train/runs unless --run-dir (or --model) names a run folder
or one model folder. --onnx writes ``onnx/model.onnx`` into each transformers model folder of the
run (and, with --int8, the dynamically quantised ``onnx/model_quantized.onnx``), which
``python -m src.predict --backend onnx`` (or ``onnx-int8``) and ``python -m src.evaluate
backend=onnx`` use. With --push-to-hub each task folder of the run becomes its own model
repository, ``ORG/NAME-stance`` and ``ORG/NAME-sentiment`` (or ``ORG/NAME`` when one task is
exported), so that ``pipeline("text-classification", model="ORG/NAME-stance")`` works as it does
on the folder. Given both, the ONNX files are written first and uploaded too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from src.core.errors import ExportError, ModelError, reported, warn
from src.data.schema import TASKS
from src.models import layout
from src.models.layout import newest_run

# Beside what each kind of export needs (src.models.layout.REQUIRED).
COMMON_FILES = (layout.CARD, layout.NORMALIZATION, layout.METRICS)


def task_folders(run_dir: Path, tasks: tuple[str, ...]) -> dict[str, Path]:
    """The complete classifier folders of ``run_dir`` (a run folder, or one model folder) for
    ``tasks``, by the task each model saved. A run's task folder that is broken or incomplete
    is left out with a warning when another of ``tasks`` can go; alone, it is refused."""
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir}: no such folder")
    if layout.is_model_folder(run_dir) or not layout.is_run_folder(run_dir):
        try:
            candidates = layout.model_folders(run_dir)
        except ModelError as err:
            raise ExportError(str(err)) from None
    else:
        candidates = layout.task_folders(run_dir, tasks)
    if not candidates:
        raise ExportError(f"{run_dir}: no model folder for {', '.join(tasks)} (expected a run "
                          "folder from python -m src.train, or one of its task folders)")
    problems = {}
    for task, folder in candidates.items():
        try:
            if not layout.is_model_folder(run_dir):
                layout.check_task(folder, task)
        except ModelError as err:
            problems[task] = str(err)
            continue
        missing = [*layout.missing_files(folder),
                   *(name for name in COMMON_FILES if not (folder / name).is_file())]
        if missing:
            problems[task] = f"{folder}: incomplete model folder, missing {', '.join(missing)}"
    usable = {task: folder for task, folder in candidates.items() if task not in problems}
    if not usable:
        raise ExportError("; ".join(problems.values()))
    for task, problem in problems.items():
        warn(f"{problem}; leaving {task} out: exporting {' and '.join(usable)} only")
    return usable


def repo_ids(name: str, folders: dict[str, Path]) -> dict[str, str]:
    if name.count("/") != 1 or not all(name.split("/")):
        raise ExportError(f"--push-to-hub {name}: expected ORG/NAME")
    if len(folders) == 1:
        return {task: name for task in folders}
    return {task: f"{name}-{task}" for task in folders}


def uploaded_files(folder: Path) -> list[str]:
    """The files ``upload_folder`` sends of ``folder``, sub-folders (``onnx/``) included, as it
    chooses them: every file but those of its ignore patterns (``.git/``, the hub's cache)."""
    from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

    files = [p.relative_to(folder).as_posix() for p in sorted(folder.glob("**/*")) if p.is_file()]
    return list(filter_repo_objects(files, ignore_patterns=DEFAULT_IGNORE_PATTERNS))


def push(folder: Path, repo_id: str, private: bool) -> str:
    from huggingface_hub import HfApi, constants

    if constants.is_offline_mode():
        raise ExportError("cannot push: HF_HUB_OFFLINE is set (unset it on a machine with access)")
    api = HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id,
                                   commit_message="Upload Qawl model")
    except Exception as err:  # the hub's: authentication, network, permissions
        raise ExportError(f"{folder} -> {repo_id}: upload failed: {type(err).__name__}: "
                          f"{err}") from err
    return commit.commit_url


def write_onnx(folders: dict[str, Path], int8: bool) -> None:
    from src.inference.onnx_export import export_onnx

    for folder in folders.values():
        if layout.kind_of(folder) != "transformers":
            raise ExportError(f"{folder}: a scikit-learn model; --onnx exports transformers "
                              "models only")
    for folder in folders.values():
        try:
            written = export_onnx(folder, int8)
        except Exception as err:  # the exporter's and the quantiser's: an operator, a shape
            # Their reports run to pages; the first line names the cause.
            cause = str(err).splitlines()[0] if str(err) else ""
            raise ExportError(f"{folder}: ONNX export failed: {type(err).__name__}: "
                              f"{cause}") from err
        for path in written:
            print(f"{path} ({path.stat().st_size / 2**20:.1f} MiB)")


@reported
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", "--model", dest="run_dir", type=Path, metavar="DIR",
                        help="a run folder (stance/, sentiment/) or one model folder "
                             "(default: the newest run under outputs/train/runs)")
    parser.add_argument("--onnx", action="store_true",
                        help="write onnx/model.onnx into each transformers model folder")
    parser.add_argument("--int8", action="store_true",
                        help="with --onnx: also onnx/model_quantized.onnx (dynamic int8)")
    parser.add_argument("--push-to-hub", metavar="ORG/NAME",
                        help="repository name; one repository per task gets a -TASK suffix")
    parser.add_argument("--task", choices=(*TASKS, "both"), default="both")
    parser.add_argument("--private", action="store_true", help="create private repositories")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be uploaded, upload nothing")
    args = parser.parse_args(argv)
    if not (args.onnx or args.push_to_hub):
        parser.error("nothing to do: give --onnx, --push-to-hub ORG/NAME, or both")
    if args.int8 and not args.onnx:
        parser.error("--int8 goes with --onnx")
    tasks = TASKS if args.task == "both" else (args.task,)
    run_dir = args.run_dir
    if run_dir is None:
        run_dir = newest_run()
        print(f"using model {run_dir}", file=sys.stderr)
    folders = task_folders(run_dir, tasks)
    if args.onnx:
        write_onnx(folders, args.int8)
    for task, repo_id in (repo_ids(args.push_to_hub, folders).items()
                          if args.push_to_hub else ()):
        folder = folders[task]
        if args.dry_run:
            print(f"{folder} -> {repo_id}: {', '.join(uploaded_files(folder))}")
        else:
            print(f"{folder} -> {push(folder, repo_id, args.private)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
