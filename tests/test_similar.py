"""The "me too" matcher against the labelled pairs (tests/matching_pairs.py; docs/matching.md)."""

from __future__ import annotations

from bot.items.similar import THRESHOLD, best_matches, fold, similarity
from tests.matching_pairs import PAIRS


def test_precision_and_recall_meet_the_aim_on_the_labelled_pairs() -> None:
    suggested = [similarity(pair.first, pair.second) >= THRESHOLD for pair in PAIRS]
    right = sum(1 for hit, pair in zip(suggested, PAIRS, strict=True) if hit and pair.same)
    precision = right / sum(suggested)
    recall = right / sum(pair.same for pair in PAIRS)
    assert len(PAIRS) >= 80
    assert precision >= 0.9, f"precision {precision:.2f}"
    assert recall >= 0.6, f"recall {recall:.2f}"


def test_folding_drops_case_accents_and_punctuation() -> None:
    assert fold("Le paiement ÉCHOUE à la caisse!") == "le paiement echoue a la caisse"
    assert fold("Rückerstattung (São Paulo)") == "ruckerstattung sao paulo"


def test_best_matches_are_the_closest_few_above_the_threshold() -> None:
    candidates = [
        (1, "Refund not received after 10 days"),
        (2, "refund policy unclear"),
        (3, "refund still not received"),
        (4, "The lobby plant is wilting"),
    ]
    found = best_matches("refund not recieved", candidates, limit=3)
    assert [match.key for match in found] == [3, 1]
    assert all(match.score >= THRESHOLD for match in found)
    assert best_matches("refund not recieved", candidates, limit=1)[0].key == 3
