"""The vocabulary: signs said, signs learned as `unknown`, signs left out; one-line errors."""

from __future__ import annotations

import pytest

from tinysign.config import Config
from tinysign.data.manifest import Clip
from tinysign.data.vocabulary import assign_classes, choose_vocabulary
from tinysign.errors import TinysignError

SIGNS = ["apple", "bread", "cat", "dog", "egg", "fish", "goat", "hat", "ice", "jam"]


def test_default_share_draws_unknown_signs_by_seed():
    vocab = choose_vocabulary(SIGNS, Config(unknown_share=0.2, seed=1))
    assert len(vocab.unknown) == 2 and len(vocab.signs) == 8 and not vocab.outside
    assert set(vocab.signs) | set(vocab.unknown) == set(SIGNS)
    assert vocab == choose_vocabulary(SIGNS, Config(unknown_share=0.2, seed=1))  # deterministic
    assert vocab.classes(rest=True) == [*vocab.signs, "unknown", "rest"]


def test_named_vocabulary_and_unknown_leave_the_rest_out():
    config = Config(vocabulary=("cat", "dog", "egg"), unknown_signs=("fish", "goat"))
    vocab = choose_vocabulary(SIGNS, config)
    assert vocab.signs == ("cat", "dog", "egg") and vocab.unknown == ("fish", "goat")
    assert set(vocab.outside) == set(SIGNS) - {"cat", "dog", "egg", "fish", "goat"}
    clips = [Clip(f"c{i}", sign, f"/v/{i}.mp4", f"v{i}") for i, sign in enumerate(["cat", "fish", "jam"])]
    kept, dropped = assign_classes(clips, vocab)
    assert [(c.label, c.sign) for c in kept] == [("cat", "cat"), ("unknown", "fish")]
    assert [(d.clip_id, d.reason) for d in dropped] == [("c2", "outside_vocabulary")]


def test_vocabulary_alone_makes_every_other_sign_unknown():
    vocab = choose_vocabulary(SIGNS, Config(vocabulary=("apple", "bread")))
    assert vocab.unknown == tuple(SIGNS[2:]) and not vocab.outside


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (Config(vocabulary=tuple(SIGNS)), "no sign is left to learn `unknown`"),
        (Config(vocabulary=("apple", "kiwi")), "vocabulary: 'kiwi' not among the kept signs"),
        (Config(unknown_signs=("apple",), vocabulary=("apple",)), "in both vocabulary and unknown_signs"),
        (Config(unknown_signs=tuple(SIGNS)), "the vocabulary is empty"),
    ],
)
def test_impossible_vocabularies_are_one_line_errors(config, message):
    with pytest.raises(TinysignError, match=message):
        choose_vocabulary(SIGNS, config)


def test_no_unknown_when_the_share_is_zero_or_two_signs_cannot_spare_one():
    assert choose_vocabulary(SIGNS, Config(unknown_share=0)).unknown == ()
    assert choose_vocabulary(SIGNS[:2], Config()).unknown == ()
    assert len(choose_vocabulary(SIGNS[:3], Config(unknown_share=0.01)).unknown) == 1


def test_a_sign_named_rest_is_refused():
    with pytest.raises(TinysignError, match="named 'rest'"):
        choose_vocabulary([*SIGNS, "rest"], Config())
