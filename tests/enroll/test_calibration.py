"""The genuine part of the threshold with few photos: blended with the backbone's prior (made-up
scores; the logic is the subject here, test_few_photos.py runs the clips)."""

from __future__ import annotations

import numpy as np
import pytest

from enroll.calibration import FIRM_PHOTOS, GENUINE_PRIOR, genuine_part
from enroll.training import TrainResult, threshold_lines


def test_few_genuine_scores_lean_on_the_prior_and_enough_of_them_stand_alone():
    prior = GENUINE_PRIOR["facenet"][0.01]
    four = genuine_part(np.array([0.84, 0.86, 0.9, 0.92]), 0.01, "facenet")
    assert four["own"] == pytest.approx(np.quantile([0.84, 0.86, 0.9, 0.92], 0.01))
    assert four["weight"] == 4 / FIRM_PHOTOS and prior < four["value"] < four["own"]
    assert four["value"] == pytest.approx(0.2 * four["own"] + 0.8 * prior)
    many = genuine_part(np.linspace(0.7, 0.95, FIRM_PHOTOS), 0.01, "facenet")
    assert many["weight"] == 1.0 and many["value"] == many["own"]
    other = genuine_part(np.array([0.84, 0.9]), 0.01, "vgg16")  # no measured prior: the photos alone
    assert other["prior"] is None and other["value"] == other["own"]
    between = genuine_part(np.array([0.84, 0.9]), 0.015, "facenet")["prior"]
    assert GENUINE_PRIOR["facenet"][0.01] < between < GENUINE_PRIOR["facenet"][0.02]


def test_training_says_how_many_photos_would_firm_the_threshold_up():
    blend = genuine_part(np.array([0.84, 0.86, 0.9, 0.92]), 0.01, "facenet")
    result = TrainResult(None, ["a", "b"], {}, [], blend["value"], {}, genuine_blend=blend)
    [line] = threshold_lines(result)
    assert "rests on 4 photos" in line and f"{FIRM_PHOTOS - 4} more photos ({FIRM_PHOTOS} in all)" in line
    firm = genuine_part(np.linspace(0.7, 0.95, FIRM_PHOTOS), 0.01, "facenet")
    assert threshold_lines(TrainResult(None, [], {}, [], 0.7, {}, genuine_blend=firm)) == []
