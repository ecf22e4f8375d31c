"""A seeded stochastic grammar of simple children's stories, with known ground truth.

Every story has an opening (a character, often "Once upon a time, there was a little girl
named ..."), a setting, a problem, a dialogue, zero or more episodes (a trip or a school
lesson that states facts about countries, a packed list or a song that is later repeated
word for word, a game), and a resolution. Each part picks one of several frames, and frames
nest noun phrases, prepositional phrases and lists, so the text is not a handful of templates.

The grammar keeps rules that a model can learn and a test can check; they are written down,
checked and measured in :mod:`interplib.corpus.rules`. Speed comes from drawing random
choices in batches with numpy (``_Pool``), not one call per word: a story costs a few dozen
list look-ups and f-strings.

Functions:

* :func:`stories`: story strings, forever (deterministic for a seed);
* :func:`sample`: the first ``n`` stories;
* :func:`words`: a text's words and punctuation marks, the unit of the rules' checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np

from interplib.corpus import lexicon as L

__all__ = [
    "Char",
    "cap",
    "Grammar",
    "words",
    "stories",
    "sample",
]

BATCH = 1 << 14


class _Pool:
    """Endless draws from ``items`` with Zipf weights ``1/(rank+shift)^s`` (list order = rank),
    pre-drawn ``BATCH`` at a time from the shared generator."""

    def __init__(
        self, items, rng: np.random.Generator, s: float = 1.0, shift: float = 2.0
    ):
        self.items = list(items)
        ranks = np.arange(len(self.items), dtype=np.float64)
        w = 1.0 / (ranks + shift) ** s
        self.p = w / w.sum()
        self.rng = rng
        self._it = self._stream()
        self.next = self._it.__next__

    def _stream(self):
        items, n, p, rng = self.items, len(self.items), self.p, self.rng
        while True:
            idx = rng.choice(n, size=BATCH, p=p).tolist()
            yield from [items[i] for i in idx]


class _Uniform:
    """Endless uniform floats in [0, 1), pre-drawn in batches."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.next = self._stream().__next__

    def _stream(self):
        while True:
            yield from self.rng.random(BATCH).tolist()


@dataclass(frozen=True)
class Char:
    """A story character: a name (or "Mia and Tom") and a pronoun set f, m or p (plural)."""

    name: str
    g: str

    @property
    def he(self):
        return L.PRONOUNS[self.g][0]

    @property
    def him(self):
        return L.PRONOUNS[self.g][1]

    @property
    def his(self):
        return L.PRONOUNS[self.g][2]

    @property
    def plural(self):
        return self.g == "p"


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


class Grammar:
    """The story grammar for one seed; :meth:`story` returns the next story.

    Pronoun discipline: ``self.last`` is the most recently named character; a sentence may
    open with a pronoun for character ``c`` only when ``c`` is ``self.last`` (:meth:`S`), and
    frames never put a pronoun after a different character's name.
    """

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.u = _Uniform(rng).next
        self.girl = _Pool(L.GIRL_NAMES, rng).next
        self.boy = _Pool(L.BOY_NAMES, rng).next
        self.animal = _Pool(L.ANIMALS, rng).next
        self.food = _Pool(L.FOODS, rng).next
        self.mass = _Pool(L.MASS_FOODS, rng).next
        self.thing = _Pool(L.THINGS, rng).next
        self.place = _Pool(L.PLACES, rng).next
        self.person = _Pool(
            L.PEOPLE[L.PEOPLE.index("teacher") :], rng
        ).next  # jobs and roles, not "girl"
        self.adj = _Pool(L.ADJECTIVES, rng).next
        self.feel = _Pool(
            (
                "happy",
                "sad",
                "scared",
                "excited",
                "worried",
                "proud",
                "angry",
                "surprised",
                "lonely",
                "curious",
                "brave",
                "tired",
                "nervous",
            ),
            rng,
        ).next
        self.intrans = _Pool(L.INTRANSITIVE, rng).next
        self.trans = _Pool(
            [
                v
                for v in L.TRANSITIVE
                if v not in ("want", "need", "like", "love", "miss", "lose")
            ],
            rng,
        ).next
        self.adv = _Pool(L.ADVERBS, rng).next
        self.country = _Pool(
            L.COUNTRIES, rng, s=0.0
        ).next  # uniform: every fact equally often
        self.family = _Pool(tuple(L.FAMILY), rng, s=0.5).next
        names = {w.lower() for n in L.NAMES for w in n.split()}
        chant = sorted(
            w for w in L.word_types() - names if w.isalpha() and 2 < len(w) < 9
        )
        self.chant = _Pool(chant, rng, s=0.0).next  # uniform: only copying predicts it
        self.last: Char | None = None

    # ------------------------------------------------------------------ words and phrases
    def pick(self, options):
        return options[int(self.u() * len(options))]

    def adj_for(self, noun: str) -> str:
        habit = L.HABITS.get(noun)
        if habit is not None and self.u() < 0.6:
            return habit[int(self.u() * 3)]
        return self.adj()

    def a(self, noun: str, p_adj: float = 0.6) -> str:
        """``a``/``an`` + optional adjective + noun, the article agreeing with the next word."""
        phrase = f"{self.adj_for(noun)} {noun}" if self.u() < p_adj else noun
        return f"{L.article(phrase)} {phrase}"

    def some_food(self) -> str:
        """ "some honey", "a juicy pear", "three apples": mass, singular or plural food."""
        r = self.u()
        if r < 0.4:
            return f"some {self.mass()}"
        if r < 0.7:
            return self.a(self.food())
        return f"{self.pick(('two', 'three', 'some', 'many'))} {L.plural(self.food())}"

    def where(self) -> str:
        """A prepositional phrase, sometimes nested: "in the park near the big river"."""
        pp = f"{self.pick(('in', 'near', 'behind', 'by'))} the {self.place()}"
        if self.u() < 0.25:
            pp += f" near the {self.adj()} {self.place()}"
        return pp

    def listing(self, k: int) -> str:
        items = [self.a(self.thing(), 0.7) for _ in range(k)]
        return ", ".join(items[:-1]) + " and " + items[-1]

    # ------------------------------------------------------------------ characters and pronouns
    def new_char(self, gender: str | None = None) -> Char:
        g = gender or ("f" if self.u() < 0.5 else "m")
        return Char(self.girl() if g == "f" else self.boy(), g)

    def S(self, c: Char) -> str:
        """The subject opening a sentence: the pronoun if ``c`` was just named, else the name."""
        word = cap(c.he) if self.last == c else c.name
        self.last = c
        return word

    def s(self, c: Char) -> str:
        """The subject inside a sentence ("Every day, she ...").

        A pronoun if the character was just named, else the name.
        """
        word = c.he if self.last == c else c.name
        self.last = c
        return word

    def N(self, c: Char) -> str:
        self.last = c
        return c.name

    def V(self, c: Char, verb: str) -> str:
        """Present tense agreeing with the subject: "she plays", "they play"."""
        return verb if c.plural else L.third_person(verb)

    def was(self, c: Char) -> str:
        return "were" if c.plural else "was"

    def is_(self, c: Char) -> str:
        return "are" if c.plural else "is"

    def has(self, c: Char) -> str:
        return "have" if c.plural else "has"

    # ------------------------------------------------------------------ story parts
    def opening(self, hero: Char, kind: str) -> str:
        r = self.u()
        adj = self.adj_for(kind)
        if hero.plural:
            return (
                f"Once upon a time, {self.N(hero)} were best friends. "
                if r < 0.5
                else f"There once were two friends, {self.N(hero)}. "
            )
        if r < 0.45:
            lead = "little " if kind in ("girl", "boy") else ""
            np_ = f"{adj} {lead}{kind}" if self.u() < 0.5 else f"{lead}{kind}"
            return f"Once upon a time, there was {L.article(np_)} {np_} named {self.N(hero)}. "
        if r < 0.6:
            return (
                f"Once upon a time, in {self.a(self.pick(('village', 'town', 'forest', 'farm')))}, "
                f"there lived {L.article(kind)} {kind} named {self.N(hero)}. "
            )
        if r < 0.75:
            return f"One day, a little {kind} named {self.N(hero)} woke up early. "
        if r < 0.9:
            return (
                f"There once was {L.article(adj)} {adj} {kind} named {self.N(hero)}. "
            )
        return f"{self.N(hero)} was {L.article(adj)} {adj} {kind} who loved to {self.intrans()}. "

    def present_opening(self, hero: Char, kind: str) -> str:
        """The present-tense frame: "This is Mia. She is a little girl." """
        name = self.N(hero)
        if hero.plural:
            return f"This is {name}. {self.S(hero)} are best friends. "
        lead = "little " if kind in ("girl", "boy") else ""
        return (
            f"{self.pick(('This is', 'Meet', 'Say hello to'))} {name}. "
            f"{self.S(hero)} is a {lead}{kind}. "
            if lead
            else f"This is {name}. {self.S(hero)} is {L.article(kind)} {kind}. "
        )

    def setting(self, hero: Char, present: bool) -> str:
        """Where the hero lives and what they like; in the present tense for ``present`` stories."""
        out = []
        past = not present
        if self.u() < 0.5:
            lives = "lived" if past else ("live" if hero.plural else "lives")
            out.append(
                f"{self.S(hero)} {lives} in {self.a('house', 0.8)} {self.where()}."
            )
        else:
            verb = self.intrans()
            out.append(
                f"Every day, {self.s(hero)} "
                f"{L.past(verb) if past else self.V(hero, verb)} {self.where()}."
            )
        r = self.u()
        if r < 0.4:
            likes = "liked" if past else self.V(hero, "like")
            if self.u() < 0.6:
                out.append(f"{self.S(hero)} {likes} to {self.intrans()} {self.adv()}.")
            else:
                out.append(
                    f"{self.S(hero)} {likes} to eat {self.some_food()} for "
                    f"{self.pick(('breakfast', 'lunch', 'dinner', 'a snack'))}."
                )
        elif r < 0.7:
            was = self.was(hero) if past else self.is_(hero)
            out.append(
                f"{cap(hero.his)} favorite toy {'was' if past else 'is'} "
                f"{self.a(self.thing(), 0.8)}."
                if self.last == hero
                else f"{self.N(hero)} {was} very {self.feel()}."
            )
        elif r < 0.85 or hero.plural:
            has = "had" if past else self.has(hero)
            out.append(
                f"{self.S(hero)} {has} {self.a(self.animal(), 0.7)} called "
                f"{self.pick(('Spot', 'Fluffy', 'Patch', 'Button', 'Pip', 'Biscuit'))}."
            )
        else:
            who = (
                f"{cap(hero.his)} {self.pick(('mom', 'dad'))}"
                if self.last == hero
                else f"{self.N(hero)}'s {self.pick(('mom', 'dad'))}"
            )
            out.append(f"{who} {'was' if past else 'is'} {self.a(self.person(), 0.3)}.")
        if present:
            out.append(
                f"Today, {self.s(hero)} {self.is_(hero)} {L.gerund(self.intrans())} {self.where()}."
            )
        return " ".join(out)

    def problem(self, hero: Char) -> str:
        thing = self.thing()
        self.lost = self.mood = None
        if self.u() < 0.3:
            weather = self.pick(
                (
                    "sunny",
                    "rainy",
                    "windy",
                    "snowy",
                    "cloudy",
                    "cold",
                    "warm",
                    "icy",
                    "autumn",
                    "bright",
                    "foggy",
                    "hot",
                    "early",
                )
            )
            when = f"It was {L.article(weather)} {weather} morning. That day,"
        else:
            when = "One day,"
        r = self.u()
        if r < 0.35:
            s = (
                f"{when} {self.N(hero)} found {self.a(thing)} {self.where()}. "
                f"It was very {self.adj()}."
            )
        elif r < 0.65:
            self.lost = (
                f"{self.adj_for(thing)} {thing}"  # found again in the resolution
            )
            self.mood = self.pick(("sad", "worried", "upset", "unhappy"))
            s = (
                f"{when} {self.N(hero)} lost {hero.his} {self.lost}. "
                f"{self.S(hero)} {self.was(hero)} very {self.mood}."
            )
        elif r < 0.85:
            s = (
                f"{when} {self.N(hero)} wanted to {self.trans()} {self.a(thing)}, "
                f"but it was too {self.adj()}."
            )
        else:
            s = (
                f"{when} {self.N(hero)} {self.was(hero)} busy {L.gerund(self.trans())} "
                f"{self.pick(('two', 'three', 'four', 'many', 'some'))} {L.plural(thing)}. "
                f"Then {self.s(hero)} saw {self.pick(('five', 'six', 'many', 'some'))} "
                f"{L.plural(self.animal())} {self.where()}."
            )
        return s

    def dialogue(self, hero: Char, friend: Char) -> str:
        r = self.u()
        me, i = ("us", "We") if hero.plural else ("me", "I")
        if r < 0.4:
            out = (
                f'"{self.pick(("Hello", "Hi", "Oh no", "Look"))}, '
                f'{friend.name}!" said {hero.name}. '
                f'"Can you help {me} {self.trans()} {self.a(self.thing())}?" '
                f'"Yes, I can help you," said {self.N(friend)}.'
            )
        elif r < 0.7:
            out = (
                f'{self.N(friend)} came by and asked, "Why are you so {self.mood or self.feel()}?" '
                f'{self.N(hero)} said, "{i} want to {self.intrans()} {self.where()}."'
            )
        else:
            out = (
                f'"Let us {self.intrans()} together!" said {self.N(friend)}. '
                f"{self.N(hero)} smiled and said, "
                f'"That is a {self.pick(("great", "good", "fun", "wonderful"))} idea!"'
            )
        return out

    # -- episodes: facts, copying, play
    def fact(self, c: L.Country, capital: bool | None = None) -> str:
        """One statement of a fact about ``c`` in one of seven phrasings;
        ``capital`` restricts it to the capital facts (True) or the other facts (False)."""
        r = self.u()
        if capital is True:
            r *= 0.7
        elif capital is False:
            r = 0.7 + 0.3 * r
        if r < 0.30:
            return f"{c.capital} is the capital city of {c.ref}."
        if r < 0.42:
            return f"The capital city of {c.ref} is {c.capital}."
        if r < 0.54:
            return f"The capital of {c.ref} is {c.capital}."
        if r < 0.64:
            return f"{c.capital} is the capital of {c.ref}."
        if r < 0.70:
            return f"{c.capital} is a city in {c.ref}."
        if r < 0.85:
            return f"{c.Ref} is a country in {c.continent}."
        return f"People in {c.ref} speak {c.language}."

    def episode_trip(self, hero: Char) -> str:
        c = self.country()
        out = [f"One summer, {self.N(hero)} went on a trip to {c.ref}."]
        r = self.u()
        if r < 0.5:
            out.append(
                f"{self.S(hero)} visited {c.capital}, the capital city of {c.ref}."
            )
        else:
            out.append(self.fact(c, capital=True))
        out.append(self.fact(c, capital=False))
        if self.u() < 0.5:
            out.append(
                f"{self.S(hero)} ate some {c.adjective} food and saw {L.article(c.adjective)} "
                f"{c.adjective} flag."
            )
        else:
            out.append(
                f"In {c.capital}, {self.N(hero)} {self.was(hero)} very {self.feel()}."
            )
        return " ".join(out)

    def episode_school(self, hero: Char) -> str:
        c = self.country()
        r = self.u()
        if r < 0.5:
            q = f'"What is the capital city of {c.ref}?"'
            a = f'"{c.capital} is the capital city of {c.ref}."'
        else:
            q = f'"What is the capital of {c.ref}?"'
            a = f'"The capital of {c.ref} is {c.capital}."'
        out = [
            f"At school, the teacher asked, {q}",
            f"{self.N(hero)} said, {a}",
            '"Well done!" said the teacher.',
        ]
        # the next sentence names the hero again rather than say "she" after the teacher
        self.last = None
        if self.u() < 0.5:
            out.append(self.fact(c))
        return " ".join(out)

    def episode_map(self, hero: Char, friend: Char) -> str:
        c = self.country()
        return (
            f"{self.N(friend)} showed {self.N(hero)} a big map. {self.fact(c)} "
            f'"I want to go to {c.capital} one day," said {self.N(hero)}.'
        )

    def episode_list(self, hero: Char) -> str:
        """A list said twice, word for word (in-context copying)."""
        items = self.listing(3 + int(self.u() * 3))
        later = "After an hour" if self.u() < 0.3 else f"When {hero.he} came home"
        return (
            f"{self.S(hero)} packed {hero.his} bag with {items}. "
            f"{self.S(hero)} went to the {self.place()} and {L.past(self.intrans())} "
            f"all day. {later}, {self.s(hero)} unpacked {items}."
        )

    def episode_song(self, hero: Char) -> str:
        """A chant of uniformly random words, repeated (only copying can predict the repeat)."""
        words = " ".join(self.chant() for _ in range(3 + int(self.u() * 4)))
        bird = self.animal()
        return (
            f'{L.article(bird).capitalize()} {bird} sang a funny song: "{words}." '
            f'{self.N(hero)} laughed and sang it back: "{words}."'
        )

    def episode_meet(self, hero: Char) -> str:
        """A nested noun phrase: "a shy owl that was singing in the park near the old tower"."""
        animal = self.animal()
        return (
            f"On the way, {self.N(hero)} met {self.a(animal)} that was {L.gerund(self.intrans())} "
            f'{self.where()}. The {animal} said, "Hello! Do you want to {self.intrans()} with me?" '
            f"There were {self.pick(('two', 'three', 'many', 'some'))} {L.plural(self.thing())} "
            f"and {self.pick(('two', 'three', 'many', 'some'))} {L.plural(self.place())} nearby."
        )

    def episode_play(self, hero: Char, friend: Char) -> str:
        pair = Char(f"{hero.name} and {friend.name}", "p")
        return (
            f"{self.N(pair)} {L.past(self.intrans())} {self.where()}. "
            f"{self.S(pair)} {self.was(pair)} {self.adj()} and {self.feel()}. "
            f"{self.S(pair)} {self.V(pair, 'like')} to {self.intrans()} {self.adv()}."
        )

    def resolution(self, hero: Char, friend: Char) -> str:
        r = self.u()
        pair = Char(f"{hero.name} and {friend.name}", "p")
        if self.lost is not None and self.u() < 0.6:
            out = (
                f"{self.N(pair)} looked everywhere. At last, {self.N(friend)} found "
                f"{self.N(hero)}'s {self.lost} {self.where()}. {self.S(hero)} "
                f"{self.was(hero)} so happy!"
            )
        elif r < 0.4:
            out = (
                f"In the end, {self.N(pair)} {L.past(self.trans())} "
                f"{self.a(self.thing())} together. "
                f"{self.S(pair)} ate {self.some_food()} and {self.was(pair)} very happy."
            )
        elif r < 0.7:
            out = (
                f"{self.N(hero)} said thank you to {self.N(friend)}. "
                f"From that day on, {self.N(hero)} always {L.past(self.intrans())} {self.adv()}."
            )
        elif r < 0.85 and not hero.plural:
            out = (
                f"{self.N(hero)} {L.past(self.trans())} {self.a(self.thing())} "
                f"with {self.N(friend)}. "
                f"When {self.s(hero)} grows up, {hero.he} wants to be {self.a(self.person(), 0.2)}."
            )
        else:
            out = (
                f"{self.N(hero)} learned to be "
                f"{self.pick(('kind', 'brave', 'patient', 'careful', 'helpful'))}. "
                f"{self.S(hero)} {self.was(hero)} "
                f"{self.pick(('happy', 'proud', 'glad'))} and {self.feel()}."
            )
        return out + (" The end." if self.u() < 0.3 else "")

    def story(self) -> str:
        """The next story: an opening, a setting, a problem, a dialogue, episodes, a resolution."""
        self.last = None
        r = self.u()
        if r < 0.75:
            hero = self.new_char()
            kind = (
                ("girl" if hero.g == "f" else "boy")
                if self.u() < 0.7
                else self.animal()
            )
        else:
            hero = self.new_char()
            kind = self.animal()
        friend = self.new_char()
        while friend.name == hero.name:
            friend = self.new_char()
        if self.u() < 0.08:  # a pair of heroes: "they" and plural verbs throughout
            hero, kind = Char(f"{hero.name} and {friend.name}", "p"), "friends"
            fam = self.family()
            friend = Char(fam, L.FAMILY[fam])
        present = self.u() < 0.3
        opening = (
            self.present_opening(hero, kind) if present else self.opening(hero, kind)
        )
        paras = [
            opening + self.setting(hero, present),
            self.problem(hero),
            self.dialogue(hero, friend),
        ]
        if self.u() < 0.3:
            paras.append(self.episode_meet(hero))
        r = self.u()
        if r < 0.45:
            pick = self.u()
            paras.append(
                self.episode_trip(hero)
                if pick < 0.45
                else self.episode_school(hero)
                if pick < 0.8
                else self.episode_map(hero, friend)
            )
        r = self.u()
        if r < 0.25:
            paras.append(
                self.episode_list(hero) if self.u() < 0.5 else self.episode_song(hero)
            )
        elif r < 0.5 and not hero.plural:
            paras.append(self.episode_play(hero, friend))
        paras.append(self.resolution(hero, friend))
        return "\n".join(paras)


WORD_RE = re.compile(r"[A-Za-z]+|[^\sA-Za-z]")


def words(text: str) -> list[str]:
    """Words and punctuation marks, in order (the unit of the agreement checks)."""
    return WORD_RE.findall(text)


def stories(seed: int = 0) -> Iterator[str]:
    """Stories forever, deterministic for ``seed`` (a generator: take what you need)."""
    g = Grammar(seed)
    while True:
        yield g.story()


def sample(n: int, seed: int = 0) -> list[str]:
    """The first ``n`` stories of ``stories(seed)``."""
    return list(islice(stories(seed), n))
