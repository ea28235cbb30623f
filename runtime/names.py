"""Random container names in docker's style: an adjective and a notable scientist or engineer."""

from __future__ import annotations

import os

ADJECTIVES = ("admiring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "brave", "busy", "charming",
              "clever", "compassionate", "competent", "confident", "cool", "cranky", "dazzling", "determined",
              "eager", "ecstatic", "elastic", "elegant", "epic", "festive", "focused", "friendly", "funny", "gallant",
              "gifted", "goofy", "gracious", "happy", "hopeful", "hungry", "infallible", "inspiring", "jolly",
              "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "nervous", "nice",
              "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical",
              "priceless", "quirky", "quizzical", "relaxed", "reverent", "romantic", "serene", "sharp", "silly",
              "sleepy", "stoic", "strange", "sweet", "tender", "thirsty", "trusting", "upbeat", "vibrant",
              "vigilant", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen")
SURNAMES = ("albattani", "allen", "archimedes", "babbage", "banach", "bardeen", "bartik", "bhabha", "blackwell",
            "bohr", "booth", "borg", "bose", "cannon", "carson", "cerf", "chandrasekhar", "curie", "darwin",
            "dijkstra", "einstein", "elion", "engelbart", "euclid", "euler", "fermat", "fermi", "feynman",
            "franklin", "galileo", "gauss", "goldberg", "goodall", "hamilton", "hawking", "heisenberg", "hertz",
            "hodgkin", "hopper", "hypatia", "jackson", "jang", "jennings", "johnson", "kalam", "keller", "kepler",
            "knuth", "lamport", "leakey", "lovelace", "lumiere", "mccarthy", "mclean", "meitner", "mendel",
            "morse", "napier", "newton", "nobel", "noether", "pascal", "pasteur", "perlman", "pike", "poincare",
            "ramanujan", "ritchie", "shannon", "shockley", "sinoussi", "stallman", "swartz", "tesla", "thompson",
            "torvalds", "turing", "wilson", "wozniak", "wright", "yalow", "yonath")


def random_name() -> str:
    first, second = os.urandom(2)  # not the secrets module: `berth run` loads less
    return f"{ADJECTIVES[first % len(ADJECTIVES)]}_{SURNAMES[second % len(SURNAMES)]}"
