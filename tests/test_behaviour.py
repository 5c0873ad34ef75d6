import random

import numpy as np

from src.data.schema import SENTIMENTS, STANCES
from src.evaluation.behaviour import PERTURBATIONS, invariance, negation, speaker_swap
from src.text.attribution import Attribution

TEXT = 'وقال المتحدث إن "الأمن عاد إلى المدينة" في الساعة 10 مساء الخميس الماضي'


def test_each_perturbation_changes_only_spelling():
    rng = random.Random(0)
    changed = {name: perturb(TEXT, rng) for name, perturb in PERTURBATIONS.items()}
    assert changed["alef/hamza"].count("أ") == 0 and "الامن" in changed["alef/hamza"]
    assert "«الأمن عاد إلى المدينة»" in changed["quotation marks"]
    assert "١٠" in changed["eastern digits"]
    assert "المدينه" in changed["ta-marbuta"]
    assert "إلي " in changed["ya/alef-maksura"]
    assert "\u0640" in changed["tatweel"]
    stripped = "".join(c for c in changed["diacritics"] if c not in "\u064e\u064f\u0650\u0652")
    assert stripped == TEXT and changed["diacritics"] != TEXT


def test_invariance_counts_only_changed_statements():
    texts = [TEXT, "نص بلا همزة ولا أرقام"]

    def hamza_sensitive(batch):
        return np.array([int("أ" in t) for t in batch])

    results = invariance(hamza_sensitive, texts)
    assert results["alef/hamza"] == {"n": 2, "failures": 2, "failure_rate": 1.0}
    assert results["diacritics"]["failures"] == 0
    assert results["eastern digits"]["n"] == 1


def test_speaker_swap_expects_the_new_camp():
    labels = list(STANCES)

    def by_name(batch):
        return np.array([labels.index("russia") if "لافروف" in t else
                         labels.index("regime") if "الجعفري" in t else
                         labels.index("opposition") for t in batch])

    found = Attribution("زاخاروفا", "russia", None, feminine=False)
    result = speaker_swap(by_name, labels, ["وقال زاخاروفا إن الهدنة صامدة"], [found])
    assert result == {"n": 2, "failures": 0, "failure_rate": 0.0}
    feminine = Attribution("زاخاروفا", "russia", None, feminine=True)
    assert speaker_swap(by_name, labels, ["وقالت زاخاروفا"], [feminine])["n"] == 0


def test_negation_pairs_flip_polarity():
    labels = list(SENTIMENTS)
    perfect = negation(lambda batch: np.array([labels.index("negative")] * len(batch)), labels)
    assert perfect["n"] == 40 and perfect["failures"] == 20
