import pytest

from src.data import build, validate
from src.data.build import (
    CARD,
    assign_splits,
    counts_markdown,
    load_annotations,
    pinned_splits,
    real_markdown,
)
from src.data.io import read_jsonl
from src.data.paths import SPLIT_FILES
from src.data.schema import FIELDS, REAL_FIELDS, SPLITS
from tests.conftest import record


def run(capsys, *args):
    code = validate.main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, out + err


def test_project_dataset_passes_with_all_targets(capsys):
    code, output = run(capsys)
    assert code == 0, output
    assert "MISSED" not in output
    assert "no problems" in output


@pytest.fixture(scope="module")
def built():
    return assign_splits(load_annotations(), pinned_splits())


def test_committed_splits_are_what_the_builder_makes(built):
    for split in SPLITS:
        assert read_jsonl(SPLIT_FILES[split]) == [r for r in built if r["split"] == split]


def test_relabels_keep_splits_and_only_new_groups_are_drawn(built):
    records = load_annotations()
    pinned = pinned_splits()
    fresh = {r["id"]: r["split"] for r in assign_splits(records)}
    flipped = [dict(r, sentiment="neutral" if r["sentiment"] != "neutral" else "negative")
               if r["source"] == "authored" and i % 7 == 0 else r for i, r in enumerate(records)]
    new = [dict(record(), id=f"new-{i}", text=f"نص جديد رقم {i} للتجربة", family=None,
                derived_from=None, source="authored") for i in range(40)]
    rebuilt = {r["id"]: r["split"] for r in assign_splits(flipped + new, pinned)}
    assert all(rebuilt[r["id"]] == r["split"] for r in built)
    assert {rebuilt[f"new-{i}"] for i in range(40)} >= {"train", "dev"}
    # Without the pins a relabel redraws the stratified folds: what the pins protect against.
    redrawn = {r["id"]: r["split"] for r in assign_splits(flipped)}
    assert redrawn != fresh


def test_new_groups_can_all_go_to_one_split_and_the_pinned_ones_stay(built):
    new = [dict(record(), id=f"new-{i}", text=f"نص جديد رقم {i} للتجربة", family=None,
                derived_from=None, source="authored") for i in range(40)]
    rebuilt = {r["id"]: r["split"]
               for r in assign_splits(load_annotations() + new, pinned_splits(), "train")}
    assert all(rebuilt[r["id"]] == r["split"] for r in built)
    assert {rebuilt[f"new-{i}"] for i in range(40)} == {"train"}


def test_build_refuses_to_reshuffle_and_place_new_groups_at_once(capsys):
    before = {split: path.read_bytes() for split, path in SPLIT_FILES.items()}
    with pytest.raises(SystemExit) as exit_:
        build.main(["--reshuffle", "--new-groups", "train"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "not allowed with argument" in err
    assert "Traceback" not in err
    assert {split: path.read_bytes() for split, path in SPLIT_FILES.items()} == before


def test_data_card_counts_are_current(built):
    card = CARD.read_text(encoding="utf-8")
    assert counts_markdown(built) in card
    assert real_markdown(built, load_annotations()) in card


def test_seed_groups_are_in_test_and_groups_never_cross_splits(built):
    splits_of = {}
    for r in built:
        splits_of.setdefault(r["group"], set()).add(r["split"])
        if r["source"] == "seed" or r["derived_from"]:
            assert r["split"] == "test", r["id"]
    assert all(len(s) == 1 for s in splits_of.values())
    assert all(list(r) == list(FIELDS + REAL_FIELDS if r["source"] == "real" else FIELDS)
               for r in built)


@pytest.mark.parametrize(
    ("rows", "line", "expected"),
    [
        ([record(stance="turkey")], 1, "unknown stance 'turkey'"),
        ([record(sentiment="happy")], 1, "unknown sentiment 'happy'"),
        ([{k: v for k, v in record().items() if k != "speaker"}], 1, "missing field 'speaker'"),
        ([record(), record(id="a-1", text="نص آخر مختلف تماما عن الأول")], 2, "duplicate id"),
        ([record(), record(id="a-2")], 2, "duplicate text"),
        ([record(split="valid")], 1, "unknown split 'valid'"),
        ([record(text="  ")], 1, "'text' must be a non-empty string"),
        ([record(source="seed", id="seed-01", group="seed-01")], 1, "belong in test"),
    ],
)
def test_broken_file_is_reported_with_file_and_line(capsys, write_jsonl, rows, line, expected):
    path = write_jsonl("broken.jsonl", rows)
    code, output = run(capsys, "--no-targets", path)
    assert code == 1
    assert f"{path}:{line}:" in output
    assert expected in output


def test_group_leaking_across_split_files(capsys, write_jsonl):
    train = write_jsonl("train.jsonl", [record(group="g")])
    test = write_jsonl("test.jsonl", [record(id="a-2", text="نص مختلف عن الأول في الاختبار",
                                             split="test", group="g")])
    code, output = run(capsys, "--no-targets", train, test)
    assert code == 1
    assert "group 'g' crosses splits" in output
    assert f"{test}:1" in output


def test_near_duplicate_across_splits_is_leakage(capsys, write_jsonl):
    text = "قال المتحدث باسم الائتلاف الوطني إن قوات النظام قصفت الأحياء السكنية في المدينة"
    path = write_jsonl("pairs.jsonl", [record(text=text),
                                       record(id="a-2", group="a-2", split="test",
                                              text=text.replace("المدينة", "المدينه"))])
    code, output = run(capsys, "--no-targets", path)
    assert code == 1
    assert "near-duplicate" in output and "across splits" in output


def test_small_file_misses_targets(capsys, write_jsonl):
    code, output = run(capsys, write_jsonl("small.jsonl", [record()]))
    assert code == 1
    assert "MISSED" in output


def one_error(capsys, *args) -> str:
    """The one ``error:`` line of a validate run that could not read its input (exit 2)."""
    assert validate.main([*map(str, args)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_unreadable_input_is_one_message(capsys, tmp_path):
    bad = tmp_path / "latin.jsonl"
    bad.write_bytes("نص".encode("cp1256"))
    assert f"error: {bad}: not UTF-8" in one_error(capsys, bad)
    assert "no such file" in one_error(capsys, tmp_path / "absent.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a-1"}\n{not json\n', encoding="utf-8")
    assert f"error: {broken}:2: not valid JSON" in one_error(capsys, broken)


def test_directory_is_one_message(capsys, tmp_path):
    assert one_error(capsys, tmp_path) == (f"error: {tmp_path}: is a directory "
                                           "(expected a JSONL file)\n")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (record(stance=["regime"]), "'stance' is a list (expected one of regime, russia"),
        (record(split={"name": "train"}), "'split' is an object (expected one of train, dev"),
        (record(speaker=["المتحدث"]), "'speaker' is a list (expected a string or null)"),
        ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply (expected a JSON object)"),
    ],
)
def test_value_that_cannot_be_counted_is_one_message(capsys, write_jsonl, row, expected):
    path = write_jsonl("odd.jsonl", [record(id="a-0", text="نص أول"), row])
    assert f"error: {path}:2: {expected}" in one_error(capsys, "--no-targets", path)
