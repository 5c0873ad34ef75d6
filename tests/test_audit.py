from src.audit import audit

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
