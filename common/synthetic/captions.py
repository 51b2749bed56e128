"""Absolute captions of garments and scenes, and relative captions phrased from attribute differences."""
from __future__ import annotations

import numpy as np

from common.synthetic.attributes import Garment, differences

NOUNS = {"dress": "dress", "shirt": "shirt", "toptee": "top", "jacket": "jacket", "pants": "pants",
         "skirt": "skirt", "sneaker": "sneaker", "boot": "boot", "heel": "high heel", "flat": "flat shoe"}
PATTERN_ADJ = {"solid": "plain", "striped": "striped", "dotted": "polka dot", "checked": "checkered"}
PATTERN_NOUN = {"solid": "plain fabric", "striped": "stripes", "dotted": "dots", "checked": "checks"}
NECK_PHRASE = {"round": "a round neck", "v-neck": "a v-neck"}

# Words a caption must contain to mention that an attribute takes a value (tests use this).
MENTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "pattern": {"solid": ("plain", "solid", "no pattern", "remove the"), "striped": ("stripe",), "dotted": ("dot",),
                "checked": ("check",)},
    "sleeve": {"sleeveless": ("sleeveless", "no sleeves", "remove the sleeves"), "short": ("short",), "long": ("long",)},
    "neckline": {"round": ("round",), "v-neck": ("v-neck",)},
    "length": {"short": ("short",), "long": ("long",)},
}


def mention_words(name: str, value: str) -> tuple[str, ...]:
    """Words of which at least one appears in any caption that states `name` = `value`."""
    if name == "color":
        return (value,)
    if name == "category":
        return (NOUNS[value],)
    return MENTIONS[name][value]


def canonical_caption(g: Garment) -> str:
    """The one fixed absolute caption of a garment (used for text->image evaluation)."""
    words = ["a"]
    if g.get("length"):
        words.append(g.get("length"))
    if g.get("sleeve") == "sleeveless":
        words.append("sleeveless")
    words += [PATTERN_ADJ[g.get("pattern")], g.get("color"), NOUNS[g.category]]
    extras = []
    if g.get("sleeve") in ("short", "long"):
        extras.append(f"{g.get('sleeve')} sleeves")
    if g.get("neckline"):
        extras.append(NECK_PHRASE[g.get("neckline")])
    if extras:
        words += ["with", " and ".join(extras)]
    return " ".join(words)


def varied_caption(g: Garment, rng: np.random.Generator) -> str:
    """An absolute caption with randomly chosen wording and order (same facts as `canonical_caption`)."""
    pattern = g.get("pattern")
    adjectives = [g.get("color")]
    if pattern != "solid" or rng.random() < 0.5:
        adjectives.insert(int(rng.integers(2)), PATTERN_ADJ[pattern] if pattern != "solid" else "solid")
    if g.get("length"):
        adjectives.insert(0, g.get("length"))
    extras = []
    sleeve = g.get("sleeve")
    if sleeve == "sleeveless":
        if rng.random() < 0.5:
            adjectives.insert(0, "sleeveless")
        else:
            extras.append("no sleeves")
    elif sleeve:
        extras.append(f"{sleeve} sleeves")
    if g.get("neckline"):
        extras.append(NECK_PHRASE[g.get("neckline")])
    rng.shuffle(extras)
    opener = ["a", "a photo of a", "an image of a", "a picture of a"][int(rng.integers(4))]
    text = f"{opener} {' '.join(adjectives)} {NOUNS[g.category]}"
    if extras:
        text += " with " + " and ".join(extras)
    return text


SCENE_OPENERS = ("", "a photo of ", "an image of ", "a picture of ")
ADD_PHRASES = ("add a {}", "with a {}", "also has a {}", "and a {} too", "plus a {}")


def scene_caption(garments: list[Garment], rng: np.random.Generator) -> str:
    """A COCO-style caption listing a scene's garments in random order, each by its category and sometimes its
    colour ("a photo of a red shirt, a skirt and a boot")."""
    mentions = [f"a {g.get('color')} {NOUNS[g.category]}" if rng.random() < 0.5 else f"a {NOUNS[g.category]}"
                for g in (garments[int(i)] for i in rng.permutation(len(garments)))]
    listed = mentions[0] if len(mentions) == 1 else ", ".join(mentions[:-1]) + " and " + mentions[-1]
    return SCENE_OPENERS[int(rng.integers(len(SCENE_OPENERS)))] + listed


def add_phrase(g: Garment, rng: np.random.Generator) -> str:
    """A short phrase saying that garment `g` is added to a scene ("also has a jacket")."""
    return ADD_PHRASES[int(rng.integers(len(ADD_PHRASES)))].format(NOUNS[g.category])


def attribute_phrase(name: str, old: str | None, new: str, rng: np.random.Generator) -> str:
    """A short phrase saying that attribute `name` becomes `new` (was `old`)."""
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    if name == "category":
        return pick([f"is a {NOUNS[new]}", f"is a {NOUNS[new]} instead", f"change it to a {NOUNS[new]}"])
    if name == "color":
        return pick([f"is {new}", f"is {new} instead of {old}", f"change the color to {new}", f"make it {new}",
                     f"in {new}", f"has a {new} color"])
    if name == "pattern":
        if new == "solid":
            return pick(["is plain", f"remove the {PATTERN_NOUN[old]}", "has no pattern", "is solid colored"])
        if old == "solid":
            return pick([f"is {PATTERN_ADJ[new]}", f"has {PATTERN_NOUN[new]}", f"add {PATTERN_NOUN[new]}"])
        return pick([f"change the {PATTERN_NOUN[old]} to {PATTERN_NOUN[new]}", f"has {PATTERN_NOUN[new]}",
                     f"is {PATTERN_ADJ[new]}", f"{PATTERN_NOUN[new]} instead of {PATTERN_NOUN[old]}"])
    if name == "sleeve":
        if new == "sleeveless":
            return pick(["is sleeveless", "has no sleeves", "remove the sleeves"])
        longer = old == "short" and new == "long"
        return pick([f"has {new} sleeves", f"with {new} sleeves"]
                    + ([f"make the sleeves longer"] if longer else [])
                    + ([f"make the sleeves shorter"] if (old, new) == ("long", "short") else []))
    if name == "neckline":
        return pick([f"has {NECK_PHRASE[new]}", f"with {NECK_PHRASE[new]} instead",
                     f"change the neckline to {'round' if new == 'round' else 'a v-neck'}"])
    if name == "length":
        return pick([f"is {new}", f"is {new}er", f"make it {new}er", f"is a {new} one"])
    raise ValueError(f"captions: unknown attribute {name!r}")


def _join(phrases: list[str], rng: np.random.Generator) -> str:
    if len(phrases) == 1:
        return phrases[0]
    if len(phrases) == 2 and phrases[1].startswith(("has ", "with ")) and rng.random() < 0.5:
        rest = phrases[1][4:] if phrases[1].startswith("has ") else phrases[1][5:]
        return f"{phrases[0]} with {rest}"
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def change_phrases(reference: Garment, target: Garment, rng: np.random.Generator) -> list[str]:
    """One short phrase per changed attribute, in random order."""
    diff = differences(reference, target)
    if not diff:
        raise ValueError(f"relative caption: {reference.key} and {target.key} are identical")
    names = list(diff)
    rng.shuffle(names)
    return [attribute_phrase(n, *diff[n], rng) for n in names]


def relative_caption(reference: Garment, target: Garment, rng: np.random.Generator) -> str:
    """A modification text naming only what changes from `reference` to `target`."""
    return _join(change_phrases(reference, target, rng), rng)


def relative_caption_pair(reference: Garment, target: Garment, rng: np.random.Generator) -> list[str]:
    """Two annotator-style captions (FashionIQ): both full, or the changes split between the two."""
    phrases = change_phrases(reference, target, rng)
    if len(phrases) >= 2 and rng.random() < 0.5:
        cut = int(rng.integers(1, len(phrases)))
        return [_join(phrases[:cut], rng), _join(phrases[cut:], rng)]
    return [_join(phrases, rng), relative_caption(reference, target, rng)]


ATTRIBUTE_WORDS = {"sleeve": {"sleeveless": "sleeveless", "short": "short-sleeve", "long": "long-sleeve"},
                   "neckline": {"round": "round neck", "v-neck": "v-neck"}, "pattern": PATTERN_ADJ}


def attribute_words(g: Garment, names: list[str]) -> str:
    """The values of some attributes as readable words ("red striped long-sleeve")."""
    return " ".join(ATTRIBUTE_WORDS.get(n, {}).get(g.get(n), g.get(n)) for n in names)


def words_caption(g: Garment) -> str:
    """Fashion200k-style caption: attribute words only, one word per attribute."""
    words = [g.get("color"), {"solid": "plain", "striped": "striped", "dotted": "dotted", "checked": "checkered"}[g.get("pattern")]]
    if g.get("sleeve"):
        words.append({"sleeveless": "sleeveless", "short": "shortsleeve", "long": "longsleeve"}[g.get("sleeve")])
    if g.get("neckline"):
        words.append({"round": "roundneck", "v-neck": "vneck"}[g.get("neckline")])
    if g.get("length"):
        words.append({"short": "mini", "long": "maxi"}[g.get("length")])
    return " ".join(words + [NOUNS[g.category].replace(" ", "")])
