import shutil

import pytest

from src import export


def run(capsys, *args):
    code = export.main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_lists_one_repository_per_task(capsys, tiny_run):
    run_dir, _ = tiny_run
    code, out, _ = run(capsys, run_dir, "--push-to-hub", "org/qawl", "--dry-run")
    assert code == 0
    assert "org/qawl-stance" in out and "org/qawl-sentiment" in out
    assert "model.safetensors" in out and "README.md" in out


def test_single_task_folder_keeps_the_name(capsys, tiny_run):
    run_dir, _ = tiny_run
    code, out, _ = run(capsys, run_dir / "stance", "--push-to-hub", "org/qawl", "--dry-run")
    assert code == 0 and "-> org/qawl:" in out


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda run_dir, tmp: [tmp / "absent", "--push-to-hub", "org/x"], "no such folder"),
        (lambda run_dir, tmp: [tmp, "--push-to-hub", "org/x"], "neither a model folder nor a run"),
        (lambda run_dir, tmp: [run_dir, "--push-to-hub", "qawl"], "expected ORG/NAME"),
    ],
)
def test_bad_arguments_exit_2(capsys, tiny_run, tmp_path, make_args, message):
    code, _, err = run(capsys, *make_args(tiny_run[0], tmp_path))
    assert code == 2 and message in err


def test_incomplete_folder_is_refused(capsys, tiny_run, tmp_path):
    copy = tmp_path / "stance"
    shutil.copytree(tiny_run[0] / "stance", copy)
    (copy / "model.safetensors").unlink()
    code, _, err = run(capsys, copy, "--push-to-hub", "org/x", "--dry-run")
    assert code == 2 and "missing model.safetensors" in err


def test_push_refuses_offline(capsys, tiny_run, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(capsys, tiny_run[0], "--push-to-hub", "org/x")
    assert code == 2 and "HF_HUB_OFFLINE" in err
