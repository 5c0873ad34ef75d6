import src.audit
from src.audit import audit
from src.data.io import read_jsonl

SPEAKERS = {"russia": "لافروف", "regime": "الجعفري", "opposition": "الائتلاف", "none": "المرصد"}
WORDS = {"positive": "رحب بشدة بالاتفاق الجديد", "negative": "أدان بشدة القصف العنيف",
         "neutral": "أعلن موعد الجولة المقبلة"}


def test_a_flipped_label_is_ranked_first():
    records = []
    for i in range(72):
        stance = list(SPEAKERS)[i % 4]
        sentiment = list(WORDS)[i % 3]
        records.append({"id": f"r-{i}", "group": f"r-{i}", "speaker": SPEAKERS[stance],
                        "text": f"وقال {SPEAKERS[stance]} إنه {WORDS[sentiment]} رقم {i}",
                        "stance": stance, "sentiment": sentiment})
    assert records[4]["stance"] == "russia"
    records[4]["stance"] = "none"  # its text quotes Lavrov
    flagged = audit(records, folds=3)
    first = next(f for f in flagged if f["task"] == "stance")
    assert (first["id"], first["given"], first["suggested"]) == ("r-4", "none", "russia")
    assert not any(f["task"] == "sentiment" for f in flagged)


def review_row(task: str, id_: str, **extra) -> dict:
    return {"task": task, "rank": 1, "id": id_, "text": "نص", "speaker": None, "given": "none",
            "suggested": "russia", "given_probability": 0.1, **extra}


def test_a_rerun_keeps_the_recorded_decisions(write_jsonl, monkeypatch):
    out = write_jsonl("label_issues.jsonl", [
        review_row("stance", "r-1", decision="kept: attributed"),
        review_row("sentiment", "r-1", decision="relabelled positive → neutral: numbers only"),
        review_row("stance", "r-2", decision="kept: no longer flagged"),
    ])
    rerun = [review_row("stance", "r-3"), review_row("sentiment", "r-1"),
             review_row("stance", "r-1", rank=2)]
    monkeypatch.setattr(src.audit, "audit", lambda records, folds: [dict(r) for r in rerun])
    assert src.audit.main(["--out", str(out)]) == 0
    rows = read_jsonl(out)
    assert [(r["task"], r["id"], r.get("decision")) for r in rows] == [
        ("stance", "r-3", None),
        ("sentiment", "r-1", "relabelled positive → neutral: numbers only"),
        ("stance", "r-1", "kept: attributed"),
    ]
    assert rows[2]["rank"] == 2  # everything but the decision comes from the new run
