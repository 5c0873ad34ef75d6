"""Speakers on the real articles of a test file, and the stance they decide.

The real statements (``source: "real"``) carry their gold speaker, its span, whether it is
inherited, and the cue span (GUIDELINES §8.1). Each article is read in order by every speaker
source (the rule attributor; the run's tagger when it has one) and scored on:

- speaker and cue spans, exact and overlap (``src.evaluation.metrics.span_scores``);
- statement-level speaker accuracy: a statement is right when gold and prediction both have no
  speaker, or when the predicted speaker (named in the statement or inherited) equals the gold
  one after ``MATCHING`` normalisation;
- camp linking: the gold speaker, linked in its article's context, against the gold stance;
- stance macro-F1 of the model alone, the actor rule alone and each source's combined decision
  (``src.inference.speakers.decide``), with paired bootstrap intervals against the best single
  system.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from functools import partial

import numpy as np

from src.evaluation.metrics import (
    bootstrap_interval,
    classification_metrics,
    macro_f1_from_counts,
    span_scores,
)
from src.inference.speakers import RESOLUTIONS, UNRESOLVED, Article, Reading, Speakers, decide
from src.text.attribution import MATCHING, ActorList
from src.text.speaker_words import is_joint, is_relay
from src.text.tagged import Span, Tagged

SPAN_FIELDS = ("article_id", "index", "speaker_span", "speaker_inherited", "cue_span")
SINGLE = ("model", "actor rule")


def real_articles(records: list[dict]) -> list[list[int]]:
    """Positions of the real statements that carry spans, by article, in article order."""
    articles: dict[str, list[int]] = {}
    for position, record in enumerate(records):
        if record.get("source") == "real" and all(name in record for name in SPAN_FIELDS):
            articles.setdefault(record["article_id"], []).append(position)
    return [sorted(positions, key=lambda p: records[p]["index"]) for positions in
            articles.values()]


def same_speaker(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return MATCHING(a).strip() == MATCHING(b).strip()


def _span(value) -> tuple[int, int] | None:
    return None if value is None else (int(value[0]), int(value[1]))


def gold_spans(record: dict) -> Tagged:
    """The record's own speaker and cue spans as a tagger would give them."""
    speaker, cue = _span(record["speaker_span"]), _span(record["cue_span"])
    return Tagged(None if speaker is None else Span(*speaker, 1.0),
                  None if cue is None else Span(*cue, 1.0))


def read_articles(speakers: Speakers, texts: list[str], articles: list[list[int]]
                  ) -> dict[int, Reading]:
    readings = {}
    for positions in articles:
        for position, reading in zip(positions, speakers([texts[p] for p in positions]),
                                     strict=True):
            readings[position] = reading
    return readings


def gold_readings(actors: ActorList, records: list[dict], articles: list[list[int]]
                  ) -> dict[int, Reading]:
    """Every gold speaker linked in its article's context: a named speaker at its gold span,
    an inherited one as the statement it continues was linked (or, when no earlier statement
    names it so, as a phrase in the article's context)."""
    readings = {}
    for positions in articles:
        article = Article(actors)
        for position in positions:
            record = records[position]
            text = record["text"]
            span, cue = _span(record["speaker_span"]), _span(record["cue_span"])
            cut = None if cue is None else text[cue[0]:cue[1]]
            if span is not None:
                reading = article.link(text, span, cue)
            elif record["speaker"]:
                source = next((earlier for earlier in reversed(article.readings)
                               if same_speaker(earlier.speaker, record["speaker"])), None)
                reading = (article.link_phrase(record["speaker"]) if source is None else
                           replace(source, speaker_span=None, inherited=True, unresolved=None,
                                   resolution="inherited" if source.camp else None))
                reading = replace(reading, cue=cut, cue_span=cue)
            else:
                reading = Reading(cue=cut, cue_span=cue)
            readings[position] = article.add(text, reading)
    return readings


def slices_of(records: list[dict], positions: list[int], actors: ActorList
              ) -> dict[str, list[int]]:
    """Named subsets of the real statements, by their gold annotation."""
    def where(test) -> list[int]:
        return [p for p in positions if test(records[p])]

    slices = {
        "attributed": where(lambda r: r["speaker"] is not None and not r["speaker_inherited"]),
        "continuation (inherited)": where(lambda r: bool(r["speaker_inherited"])),
        "relayed": where(lambda r: r["speaker"] is not None
                         and is_relay(r["text"], _span(r["cue_span"]))),
        "joint speaker": where(lambda r: r["speaker"] is not None
                               and is_joint(r["speaker"], actors)),
        "narration (no speaker)": where(lambda r: r["speaker"] is None),
    }
    for outlet in sorted({records[p].get("outlet") or "?" for p in positions}):
        slices[f"outlet {outlet}"] = where(lambda r, o=outlet: (r.get("outlet") or "?") == o)
    return slices


def speaker_accuracy(readings: dict[int, Reading], records: list[dict], positions) -> float:
    right = [same_speaker(readings[p].speaker, records[p]["speaker"]) for p in positions]
    return float(np.mean(right)) if right else float("nan")


def attribution_scores(readings: dict[int, Reading], records: list[dict],
                       positions: list[int]) -> dict:
    return {
        "speaker_accuracy": speaker_accuracy(readings, records, positions),
        "speaker_span": span_scores([readings[p].speaker_span for p in positions],
                                    [_span(records[p]["speaker_span"]) for p in positions]),
        "cue_span": span_scores([readings[p].cue_span for p in positions],
                                [_span(records[p]["cue_span"]) for p in positions]),
        "resolutions": dict(Counter(readings[p].resolution or "unresolved" for p in positions
                                    if readings[p].speaker is not None)),
        "unresolved": _unresolved(readings, positions),
    }


def _unresolved(readings: dict[int, Reading], positions) -> dict[str, int]:
    counts = Counter(readings[p].unresolved for p in positions)
    return {kind: counts[kind] for kind in UNRESOLVED}


def camp_linking(gold: dict[int, Reading], records: list[dict], positions: list[int]) -> dict:
    """Each gold speaker's camp (``none`` when unresolved) against the gold stance."""
    named = [p for p in positions if records[p]["speaker"] is not None]
    right = [(gold[p].camp or "none") == records[p]["stance"] for p in named]
    return {"n": len(named), "accuracy": float(np.mean(right)) if right else float("nan"),
            "resolutions": dict(Counter(gold[p].resolution or "unresolved" for p in named)),
            "unresolved": _unresolved(gold, named)}


def stance_systems(labels: list[str], positions: list[int], model: np.ndarray | None,
                   actor_rule: np.ndarray, readings: dict[str, dict[int, Reading]]
                   ) -> dict[str, np.ndarray]:
    """Each system's stance label index on ``positions``: the model alone, the actor rule
    alone, and every speaker source's combined decision."""
    systems = {"actor rule": np.asarray([actor_rule[p] for p in positions])}
    if model is None:
        return systems
    systems = {"model": np.asarray([model[p] for p in positions]), **systems}
    for source, by_position in readings.items():
        decided = [decide(by_position[p].camp, labels[model[p]],
                          clutter=by_position[p].clutter)[0] for p in positions]
        systems[f"{source} + combined"] = np.asarray([labels.index(s) for s in decided])
    return systems


def compare(labels: list[str], y_true: np.ndarray, systems: dict[str, np.ndarray],
            resamples: int, seed: int, paired) -> dict:
    """Macro-F1 with its interval for every system, each against the best single system."""
    macro_f1 = partial(macro_f1_from_counts, n_labels=len(labels))
    scores = {name: {**classification_metrics(labels, y_true, predicted),
                     "macro_f1_ci95": bootstrap_interval(y_true, predicted, macro_f1,
                                                         resamples=resamples, seed=seed)}
              for name, predicted in systems.items()}
    best = max((name for name in SINGLE if name in systems),
               key=lambda name: scores[name]["macro_f1"])
    for name, predicted in systems.items():
        if name != best:
            scores[name]["vs_best_single"] = paired(y_true, predicted, systems[best],
                                                    len(labels), resamples, seed)
    return {"best_single": best, "systems": scores}


def evaluate_speakers(actors: ActorList, records: list[dict], articles: list[list[int]],
                      labels: list[str],
                      model: np.ndarray | None, actor_rule: np.ndarray,
                      readings: dict[str, dict[int, Reading]], gold: dict[int, Reading],
                      resamples: int, seed: int, paired) -> dict:
    """The speaker section of the evaluation; ``readings`` per speaker source, ``model`` and
    ``actor_rule`` as indices into ``labels`` over all ``records`` (``model`` None without a
    stance model)."""
    positions = [p for article in articles for p in article]
    result = {
        "statements": len(positions), "articles": len(articles),
        "attribution": {source: attribution_scores(by_position, records, positions)
                        for source, by_position in readings.items()},
        "camp_linking": camp_linking(gold, records, positions),
    }
    stance_labels = list(labels)
    systems = stance_systems(stance_labels, positions, model, actor_rule, readings)
    y_true = np.asarray([stance_labels.index(records[p]["stance"]) for p in positions])
    result["stance"] = compare(stance_labels, y_true, systems, resamples, seed, paired)
    index = {position: i for i, position in enumerate(positions)}
    result["slices"] = {}
    for name, members in slices_of(records, positions, actors).items():
        if not members:
            continue
        rows = [index[p] for p in members]
        result["slices"][name] = {
            "n": len(members),
            "speaker_accuracy": {source: speaker_accuracy(by_position, records, members)
                                 for source, by_position in readings.items()},
            "stance": {system: classification_metrics(stance_labels, y_true[rows],
                                                      predicted[rows])
                       for system, predicted in systems.items()},
        }
    return result


def _f(value: float) -> str:
    return "—" if value != value else f"{value:.3f}"


def report_lines(result: dict, sources_note: str) -> list[str]:
    lines = ["## speakers (real articles)", "",
             f"{result['statements']} real statements of {result['articles']} articles, each "
             f"article read in order. {sources_note}", "",
             "**Statement-level speaker accuracy**: a statement is right when gold and "
             "prediction both have no speaker, or when the predicted speaker, named in the "
             "statement or inherited from an earlier one, equals the gold speaker after the "
             "attribution module's MATCHING normalisation (diacritics removed; alef, alef "
             "maksura and ta marbuta folded). **Spans** are scored as BBC's Citron scores "
             "them: exact (same character offsets) and overlap (at least one shared character), "
             "precision over predicted spans and recall over gold spans; an inherited speaker "
             "has no gold span. Proportional is Citron's own overlap measure (shared characters "
             "over predicted and over gold characters).", "",
             "| source | speaker accuracy | speaker exact P / R / F1 | speaker overlap F1 | "
             "speaker proportional F1 | cue exact F1 | cue overlap F1 |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for source, scores in result["attribution"].items():
        span, cue = scores["speaker_span"], scores["cue_span"]
        exact = span["exact"]
        lines.append(f"| {source} | {_f(scores['speaker_accuracy'])} | {_f(exact['precision'])}"
                     f" / {_f(exact['recall'])} / {_f(exact['f1'])} | "
                     f"{_f(span['overlap']['f1'])} | {_f(span['proportional']['f1'])} | "
                     f"{_f(cue['exact']['f1'])} | {_f(cue['overlap']['f1'])} |")
    linking = result["camp_linking"]
    lines += ["", f"**Camp linking**: each of the {linking['n']} gold speakers, linked in its "
              "article's context, gives a camp (none when unresolved), compared with the gold "
              f"stance: accuracy {_f(linking['accuracy'])}.", "",
              "Statements by how their speaker's camp was found (unresolved: no camp, named or "
              "inherited), then the phrases named in their statement that nothing resolved, by "
              "why.", "",
              "| speakers | " + " | ".join([*RESOLUTIONS, "unresolved",
                                              *(f"unresolved phrases: {k}"
                                                for k in UNRESOLVED)]) + " |",
              "| --- |" + " --- |" * (len(RESOLUTIONS) + 1 + len(UNRESOLVED))]
    rows = [("gold", linking), *result["attribution"].items()]
    for name, scores in rows:
        found = scores["resolutions"]
        counts = [found.get(k, 0) for k in (*RESOLUTIONS, "unresolved")]
        counts += [scores["unresolved"][k] for k in UNRESOLVED]
        lines.append(f"| {name} | " + " | ".join(map(str, counts)) + " |")
    stance = result["stance"]
    lines += ["", f"**Stance** on the real statements; intervals are 95 % bootstrap, and each "
              f"system is compared with the best single one ({stance['best_single']}) by "
              "paired bootstrap.", "",
              "| system | macro-F1 [95 % CI] | accuracy | difference from the best single "
              "[95 % CI] |", "| --- | --- | --- | --- |"]
    for name, scores in stance["systems"].items():
        low, high = scores["macro_f1_ci95"]
        versus = scores.get("vs_best_single")
        difference = ("—" if versus is None else
                      f"{versus['difference']:+.3f} [{versus['ci95'][0]:+.3f}, "
                      f"{versus['ci95'][1]:+.3f}]")
        lines.append(f"| {name} | {_f(scores['macro_f1'])} [{_f(low)}, {_f(high)}] | "
                     f"{_f(scores['accuracy'])} | {difference} |")
    sources = list(result["attribution"])
    systems = list(stance["systems"])
    lines += ["", "| slice | n | " + " | ".join(f"speaker accuracy ({s})" for s in sources)
              + " | " + " | ".join(f"stance macro-F1 ({s})" for s in systems) + " |",
              "| --- | --- |" + " --- |" * (len(sources) + len(systems))]
    for name, entry in result["slices"].items():
        lines.append(f"| {name} | {entry['n']} | "
                     + " | ".join(_f(entry["speaker_accuracy"][s]) for s in sources) + " | "
                     + " | ".join(_f(entry["stance"][s]["macro_f1"]) for s in systems) + " |")
    lines.append("")
    return lines
