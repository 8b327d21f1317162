"""Which signs the device says, which it learns as ``unknown``, and which it never sees.

A live device must stay silent on signs it does not know, so it learns them as one class,
``unknown`` (like ``_unknown_`` in keyword spotting), beside the vocabulary it says:

* ``vocabulary`` and ``unknown_signs`` both given: exactly those; any other sign is left out
  (``outside_vocabulary`` drop rows — e.g. signs kept back to test what a device does on signs it never saw);
* only ``vocabulary``: every other sign is ``unknown``;
* only ``unknown_signs``: every other sign is the vocabulary;
* neither: ``unknown_share`` of the signs (drawn by ``seed``, at least one) are ``unknown``, the rest
  the vocabulary — except with fewer than 3 signs, which cannot spare one.

A clip of an unknown sign keeps its gloss as ``sign`` and gets the class ``unknown``. The class list
puts the vocabulary first (sorted), then ``unknown``, then ``rest`` (no sign at all, cut from the still
frames around every clip's sign at extraction, when ``rest_class`` is on).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tinysign.config import REST_LABEL, SILENT_LABELS, UNKNOWN_LABEL, Config
from tinysign.data.hashing import stable_hash
from tinysign.data.manifest import Clip, Drop, Found
from tinysign.errors import TinysignError


@dataclass(frozen=True)
class Vocabulary:
    """The signs said, the signs learned as ``unknown`` and the signs left out."""

    signs: tuple[str, ...]
    unknown: tuple[str, ...]
    outside: tuple[str, ...]

    def classes(self, rest: bool) -> list[str]:
        """The class list: vocabulary (sorted), ``unknown`` if any sign is, ``rest`` if learned."""
        return [*self.signs, *([UNKNOWN_LABEL] if self.unknown else []), *([REST_LABEL] if rest else [])]


def choose_vocabulary(signs: list[str], config: Config) -> Vocabulary:
    """The :class:`Vocabulary` of the ``signs`` present (see the module docstring); one-line errors."""
    present = set(signs)
    clash = sorted(present & set(SILENT_LABELS))
    if clash:
        raise TinysignError(
            f"a sign is named {clash[0]!r}, the name of a class every model learns; rename it in the metadata"
        )
    for key in ("vocabulary", "unknown_signs"):
        named = getattr(config, key)
        absent = [sign for sign in named if sign not in present]
        if absent:
            raise TinysignError(
                f"{key}: {', '.join(map(repr, absent[:3]))} not among the kept signs "
                f"({', '.join(sorted(present)[:8])}{', ...' if len(present) > 8 else ''})"
            )
    both = sorted(set(config.vocabulary) & set(config.unknown_signs))
    if both:
        raise TinysignError(
            f"{both[0]!r} is in both vocabulary and unknown_signs: a sign is one or the other"
        )
    unknown = set(config.unknown_signs)
    if config.vocabulary:
        vocabulary = set(config.vocabulary)
        unknown = unknown or present - vocabulary
    elif unknown:
        vocabulary = present - unknown
    else:
        count = 0
        if config.unknown_share > 0 and len(present) >= 3:
            count = min(max(round(config.unknown_share * len(present)), 1), len(present) - 1)
        unknown = set(sorted(present, key=lambda sign: stable_hash(config.seed, "unknown", sign))[:count])
        vocabulary = present - unknown
    if not vocabulary:
        raise TinysignError("the vocabulary is empty: name at least one sign the device should say")
    if config.vocabulary and not unknown and config.unknown_share > 0:
        raise TinysignError(
            f"the vocabulary covers every sign ({len(present)}): no sign is left to learn `unknown` from; "
            "name unknown_signs, or --set unknown_share=0 to train without it"
        )
    return Vocabulary(
        tuple(sorted(vocabulary)), tuple(sorted(unknown)), tuple(sorted(present - vocabulary - unknown))
    )


def assign_classes(clips: list[Clip], vocabulary: Vocabulary) -> Found:
    """Clips of vocabulary signs keep their label, unknown signs become ``unknown`` (their gloss kept as
    ``sign``), signs left out are ``outside_vocabulary`` drop rows."""
    kept, drops = [], []
    for clip in clips:
        if clip.label in vocabulary.signs:
            kept.append(replace(clip, sign=clip.label))
        elif clip.label in vocabulary.unknown:
            kept.append(replace(clip, label=UNKNOWN_LABEL, sign=clip.label))
        else:
            detail = "neither in vocabulary nor in unknown_signs (kept back on purpose)"
            drops.append(Drop(clip.clip_id, clip.label, clip.path, "outside_vocabulary", detail))
    return kept, drops
