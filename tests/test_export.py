import shutil

import pytest

from src import export


def run(capsys, *args):
    code = export.main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("option", ["--run-dir", "--model"])
def test_dry_run_lists_one_repository_per_task(capsys, tiny_run, option):
    run_dir, _ = tiny_run
    code, out, _ = run(capsys, option, run_dir, "--push-to-hub", "org/qawl", "--dry-run")
    assert code == 0
    assert "org/qawl-stance" in out and "org/qawl-sentiment" in out
    assert "model.safetensors" in out and "README.md" in out


def test_single_task_folder_keeps_the_name(capsys, tiny_run):
    run_dir, _ = tiny_run
    code, out, _ = run(capsys, "--run-dir", run_dir / "stance", "--push-to-hub", "org/qawl",
                       "--dry-run")
    assert code == 0 and "-> org/qawl:" in out


def test_the_newest_run_is_the_default(capsys, tiny_run, monkeypatch):
    monkeypatch.setattr(export, "newest_run", lambda: tiny_run[0])
    code, out, err = run(capsys, "--push-to-hub", "org/qawl", "--dry-run")
    assert code == 0 and f"using model {tiny_run[0]}" in err
    assert f"{tiny_run[0] / 'stance'} -> org/qawl-stance" in out


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda run_dir, tmp: ["--run-dir", tmp / "absent", "--push-to-hub", "org/x"],
         "no such folder"),
        (lambda run_dir, tmp: ["--run-dir", tmp, "--push-to-hub", "org/x"],
         "neither a model folder nor a run"),
        (lambda run_dir, tmp: ["--run-dir", run_dir, "--push-to-hub", "qawl"],
         "expected ORG/NAME"),
    ],
)
def test_bad_arguments_exit_2(capsys, tiny_run, tmp_path, make_args, message):
    code, _, err = run(capsys, *make_args(tiny_run[0], tmp_path))
    assert code == 2 and message in err


def test_incomplete_folder_is_refused(capsys, tiny_run, tmp_path):
    copy = tmp_path / "stance"
    shutil.copytree(tiny_run[0] / "stance", copy)
    (copy / "model.safetensors").unlink()
    code, _, err = run(capsys, "--run-dir", copy, "--push-to-hub", "org/x", "--dry-run")
    assert code == 2 and "missing model.safetensors" in err


def test_push_refuses_offline(capsys, tiny_run, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(capsys, "--run-dir", tiny_run[0], "--push-to-hub", "org/x")
    assert code == 2 and "HF_HUB_OFFLINE" in err


def test_dry_run_lists_the_onnx_files_the_push_sends(capsys, tiny_run, tmp_path):
    folder = tmp_path / "stance"
    shutil.copytree(tiny_run[0] / "stance", folder)
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"onnx")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    code, out, _ = run(capsys, "--run-dir", folder, "--push-to-hub", "org/x", "--dry-run")
    assert code == 0 and "onnx/model.onnx" in out and "config.json" in out
    assert ".git" not in out  # upload_folder leaves it out too


def test_an_onnx_failure_is_not_an_upload_failure(capsys, tiny_run, monkeypatch):
    from src.inference import onnx_export

    def fails(folder, int8):
        raise RuntimeError("unsupported operator aten::foo\n(the exporter's long report)")

    monkeypatch.setattr(onnx_export, "export_onnx", fails)
    code, _, err = run(capsys, "--run-dir", tiny_run[0] / "stance", "--onnx")
    assert code == 2 and "upload" not in err
    assert err == (f"error: {tiny_run[0] / 'stance'}: ONNX export failed: RuntimeError: "
                   "unsupported operator aten::foo\n")


def test_a_hub_error_is_an_upload_failure(capsys, tiny_run, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    def refused(self, repo_id, **kwargs):
        raise PermissionError(f"403 Forbidden: no write access to {repo_id}")

    monkeypatch.setattr(constants, "is_offline_mode", lambda: False)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", refused)
    code, _, err = run(capsys, "--run-dir", tiny_run[0] / "stance", "--push-to-hub", "org/x")
    assert code == 2
    assert err == (f"error: {tiny_run[0] / 'stance'} -> org/x: upload failed: PermissionError: "
                   "403 Forbidden: no write access to org/x\n")
