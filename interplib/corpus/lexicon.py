"""The words of the story corpus: names with genders, nouns with plurals, verbs with their
inflections, adjectives, and a table of real countries with their capitals.

Everything here is data plus the few written rules that inflect it (:func:`plural`,
:func:`third_person`, :func:`past`, :func:`gerund`, :func:`article`). The story grammar
(:mod:`interplib.corpus.grammar`) draws from these lists; the tests check the rules and the facts.

The text is plain ASCII (``Bogota``, not ``Bogotá``), so the tokenizer never meets an accent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pandas as pd

__all__ = [
    "GIRL_NAMES",
    "BOY_NAMES",
    "FAMILY",
    "PRONOUNS",
    "ANIMALS",
    "FOODS",
    "MASS_FOODS",
    "THINGS",
    "PLACES",
    "PEOPLE",
    "plural",
    "ADJECTIVES",
    "HABITS",
    "INTRANSITIVE",
    "TRANSITIVE",
    "third_person",
    "past",
    "gerund",
    "ADVERBS",
    "VOWEL_SOUND_EXCEPTIONS",
    "CONSONANT_SOUND_EXCEPTIONS",
    "article",
    "Country",
    "COUNTRIES",
    "fact_table",
    "NAMES",
    "word_types",
]


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words; ``_`` stands for a space inside one entry (``ice_cream``)."""
    return tuple(w.replace("_", " ") for w in text.split())


# --------------------------------------------------------------------------- characters
GIRL_NAMES = _words("""
Mia Lily Emma Anna Lucy Sara Ella Zoe Amy Rosa Nora Lena Ruby Hannah Grace Chloe Olivia Ava
Isla Maya Clara Alice Julia Eva Molly Daisy Poppy Holly Ivy Rose Hazel Violet Stella Luna
Willow Freya Elsa Heidi Greta Ingrid Astrid Nina Tina Lola Paula Maria Elena Carmen Lucia
Marta Ines Beatriz Aisha Fatima Layla Yara Noor Amira Leila Zara Priya Anika Meera Kavya
Sakura Yuki Hana Mei Lin Suki Keiko Nadia Olga Irina Katya Vera Dasha Ada Iris Edith Mabel
Harriet Florence Matilda Beatrice Eleanor Penelope Josephine Charlotte Abigail Madeline
Gabriella Annabelle Genevieve Rosalind Ophelia Cordelia Imogen Esme Tilly Milly Josie Katie
Jenny Sally Polly Betty Dolly Wendy Cindy Mandy Peggy Kitty Abby Gemma Jade Amber Pearl
Opal Coral Wren Robin Fern Juniper Maple Sunny Bella Gina Tessa Vanessa Rebecca Rachel
Naomi Ruth Esther Miriam Leah Talia Dina Ayla Elif Defne Ebru Selin Asha Zuri Imani Amara
Nia Ama Efua Kemi Precious Blessing Joy Hope Faith Mercy Gloria Dora Flora Cora
""")

BOY_NAMES = _words("""
Tom Ben Max Sam Leo Jack Tim Finn Noah Liam Oscar Hugo Felix Theo Oliver Harry Charlie George
Arthur Alfie Henry Jacob Ethan Lucas Mason Logan Owen Ryan Dylan Nathan Adam Daniel David
Peter Paul Mark Luke John James Simon Andrew Joseph Michael Robert Edward Frank Walter
Albert Ernest Harold Stanley Arnold Gerald Bernard Leonard Ronald Reginald Cuthbert Bartholomew
Ignatius Montgomery Percival Archibald Ferdinand Maximilian Sebastian Benedict Ambrose
Rupert Jasper Milo Otto Emil Anton Lars Sven Erik Nils Bjorn Hans Karl Fritz Pablo Diego
Carlos Mateo Javier Miguel Rafael Marco Luca Matteo Enzo Paolo Omar Ali Hassan Yusuf Karim
Tariq Samir Rami Ravi Arjun Rohan Vikram Kiran Hiroshi Kenji Taro Yuto Ren Kai Chen Wei
Jin Ivan Dmitri Boris Pavel Sasha Kofi Kwame Tunde Jabari Baraka Juma Obi Emeka Chidi Tobi
Bobby Billy Danny Freddie Teddy Eddie Johnny Jimmy Timmy Tommy Sammy Benny Ricky Mikey
Rex Buster Bruno Rocky Duke Bear Ziggy Toby Basil Percy Rufus Digby Barnaby Hamish Angus
Duncan Callum Fergus Ewan Rory Seamus Declan Aidan Cormac Niall Ronan Eamon Darragh
""")

# Words that name a person or family member, with the pronoun set they take.
FAMILY = {"Mom": "f", "Dad": "m", "Grandma": "f", "Grandpa": "m"}

PRONOUNS = {
    # gender -> subject, object, possessive, reflexive
    "f": ("she", "her", "her", "herself"),
    "m": ("he", "him", "his", "himself"),
    "p": ("they", "them", "their", "themselves"),
}

# --------------------------------------------------------------------------- nouns
# Plurals follow `plural` unless listed in IRREGULAR_PLURALS.
ANIMALS = _words("""
dog cat bird fish rabbit bunny duck frog mouse horse cow pig sheep goat hen chicken puppy kitten
bear fox wolf owl lion tiger elephant monkey giraffe zebra deer squirrel turtle snail bee
butterfly ladybug ant spider worm snake lizard crab whale dolphin shark seal penguin parrot
pony donkey goose swan robin crow eagle hawk bat hamster hedgehog badger otter beaver raccoon
moose camel kangaroo koala panda sloth gorilla cheetah leopard rhino hippo crocodile alligator
octopus jellyfish starfish seahorse lobster flamingo peacock ostrich pelican toucan hummingbird
woodpecker caterpillar dragonfly grasshopper beetle firefly moth chipmunk skunk porcupine
armadillo platypus lemur meerkat walrus narwhal orca iguana chameleon tortoise salamander
mole vole weasel ferret lamb calf foal piglet duckling gosling chick cub tadpole
hippopotamus rhinoceros orangutan chimpanzee dachshund poodle retriever stingray barracuda
buffalo bison yak llama alpaca antelope gazelle hyena jackal coyote lynx cougar panther jaguar
wombat wallaby possum mongoose marmot hare shrew gerbil guinea_pig canary finch sparrow
pigeon dove magpie raven swallow seagull puffin albatross heron stork crane kingfisher
vulture condor falcon buzzard nightingale mockingbird cockatoo macaw budgie gecko newt toad
cricket wasp hornet scorpion centipede earwig slug clam oyster mussel shrimp squid eel
salmon trout goldfish catfish tuna sardine anchovy piranha manatee
""")

FOODS = _words("""
apple banana orange pear grape cherry peach plum lemon lime mango melon strawberry blueberry
raspberry kiwi pineapple coconut apricot fig carrot potato tomato onion pea bean pepper cucumber
pumpkin cookie cake cupcake muffin pie sandwich pancake waffle donut pretzel biscuit cracker
candy lollipop sweet egg sausage burger pizza taco noodle dumpling bun roll bagel croissant
olive nut almond peanut walnut radish turnip beet cabbage lettuce mushroom zucchini eggplant
avocado papaya pomegranate tangerine nectarine cranberry gooseberry watermelon cantaloupe
marshmallow gingerbread cinnamon_roll jellybean toffee brownie scone tart omelet
""")

MASS_FOODS = _words("""
milk bread soup rice honey jam cheese butter juice tea water porridge pasta cereal yogurt
popcorn chocolate ice_cream lemonade cocoa salad toast spaghetti broccoli spinach corn oatmeal
""")

THINGS = _words("""
ball kite doll teddy toy car truck train boat plane bike box hat cap coat scarf glove sock shoe
boot bag basket bucket spade shovel rope stick stone rock shell leaf flower tree bush feather
book pencil crayon paper picture map key lock door window chair table bed pillow blanket lamp
candle clock cup plate bowl spoon fork knife pot pan kettle jar bottle button ribbon bell drum
whistle flute guitar piano trumpet violin balloon bubble puzzle block brick robot rocket
wagon sled swing slide ladder tent umbrella mirror comb brush towel soap bath tub sink broom
mop bench fence gate bridge tower castle crown ring necklace bracelet wand sword shield
helmet mask cape jacket sweater dress skirt shirt apron pocket purse wallet coin jewel gem
treasure chest letter card gift present note song poem story dream star moon cloud rainbow
seed pinecone pebble marble yoyo compass telescope magnet ruler eraser notebook
backpack suitcase lantern torch flashlight camera radio phone computer tablet
sandcastle snowman snowball icicle puddle raindrop sunflower daisy tulip rose daffodil
dandelion acorn nest web hive
harmonica xylophone tambourine accordion trombone saxophone clarinet
thermometer microscope kaleidoscope boomerang trampoline wheelbarrow lighthouse windmill
encyclopedia dictionary calculator refrigerator typewriter parachute submarine helicopter
skateboard scooter tricycle unicycle caravan carousel spaceship hourglass
spinning_top jigsaw rattle pinwheel paintbrush easel canvas chalk chalkboard
sticker stamp envelope parcel package postcard diary journal album scrapbook bookmark
magazine newspaper calendar poster flag banner badge medal trophy ribbon_bow bow arrow
bucket_hat sunhat bonnet beret beanie hood mitten slipper sandal sneaker raincoat
nightgown vest tie belt buckle zipper shoelace handkerchief
teapot teacup saucer mug jug pitcher ladle whisk rolling_pin oven stove toaster blender
sieve funnel tray napkin tablecloth placemat lunchbox thermos
hammer nail screw wrench saw drill toolbox screwdriver bolt hinge
pillowcase quilt mattress cushion sofa couch armchair stool cupboard wardrobe drawer shelf
bookshelf curtain carpet rug doormat chimney fireplace staircase balcony porch doorbell
doorknob mailbox wheel engine anchor sail oar paddle raft canoe kayak yacht ferry tugboat
tractor bulldozer crane_truck fire_engine ambulance taxi bus tram carriage chariot
cart trolley sleigh hot_air_balloon glider kite_string fishing_rod net trap cage kennel
hutch stable saddle horseshoe lasso
crystal diamond ruby emerald sapphire pearl_necklace locket brooch tiara scepter throne
goblet chalice potion cauldron broomstick spellbook crystal_ball magic_lamp genie_bottle
feather_duster watering_can flowerpot seed_packet hose rake hoe pitchfork scarecrow
snowflake hailstone thunderstorm tornado whirlwind sunbeam moonbeam shadow echo
labyrinth maze riddle secret_map treasure_map
""")

PLACES = _words("""
park garden forest wood field farm barn house home kitchen bedroom room school classroom
library shop store market bakery town village city street road path river lake pond sea
beach ocean island hill mountain valley cave meadow jungle desert zoo playground yard pool
palace museum station harbor airport hospital church cafe restaurant
orchard vineyard greenhouse attic cellar basement garage treehouse cottage cabin igloo
swamp marsh bog creek stream waterfall canyon cliff glacier volcano prairie savanna tundra
plain plateau lagoon reef bay harbor_town fishing_village campsite clearing grove thicket
hedge tunnel burrow den lair hollow well fountain square alley lane avenue bridge_town
farmhouse windmill_farm bakery_shop toy_shop bookshop pet_shop candy_shop flower_shop
post_office fire_station police_station train_station bus_stop supermarket theater circus
fairground aquarium planetarium observatory gallery stadium gym kindergarten nursery
""")

PEOPLE = _words("""
girl boy child baby friend teacher doctor nurse farmer baker cook chef king queen prince
princess pirate knight wizard witch fairy giant dragon elf ghost monster clown sailor pilot
driver firefighter police_officer painter singer dancer gardener fisherman shopkeeper
neighbor mailman scientist astronaut explorer inventor magician librarian zookeeper
carpenter plumber mechanic builder tailor potter weaver blacksmith shepherd cowboy
lifeguard ranger detective juggler acrobat ballerina musician drummer photographer
veterinarian dentist pharmacist archaeologist geologist mathematician
""")

SPECIAL_NOUNS = _words(
    """hour unicorn uniform"""
)  # sound rules: "an hour", "a unicorn", "a uniform"

IRREGULAR_PLURALS = {
    "mouse": "mice",
    "goose": "geese",
    "sheep": "sheep",
    "fish": "fish",
    "deer": "deer",
    "moose": "moose",
    "child": "children",
    "man": "men",
    "woman": "women",
    "tooth": "teeth",
    "foot": "feet",
    "wolf": "wolves",
    "leaf": "leaves",
    "knife": "knives",
    "loaf": "loaves",
    "shelf": "shelves",
    "scarf": "scarves",
    "elf": "elves",
    "calf": "calves",
    "thief": "thieves",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "hero": "heroes",
    "mango": "mangoes",
    "volcano": "volcanoes",
    "echo": "echoes",
    "person": "people",
    "octopus": "octopuses",
    "cactus": "cacti",
    "goldfish": "goldfish",
    "catfish": "catfish",
    "jellyfish": "jellyfish",
    "starfish": "starfish",
    "shrimp": "shrimp",
    "salmon": "salmon",
    "trout": "trout",
    "squid": "squid",
    "fairy": "fairies",
    "police officer": "police officers",
    "fisherman": "fishermen",
    "snowman": "snowmen",
    "bookshelf": "bookshelves",
    "tornado": "tornadoes",
    "buffalo": "buffaloes",
    "mailman": "mailmen",
    "ox": "oxen",
    "torch": "torches",
    "hippopotamus": "hippopotamuses",
    "rhinoceros": "rhinoceroses",
    "walrus": "walruses",
}


def plural(noun: str) -> str:
    """The plural of a noun: irregulars from the table, else -es after s/x/z/ch/sh, -ies after
    consonant + y, else -s. For two-word nouns the last word is inflected."""
    if noun in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[noun]
    if " " in noun:
        head, last = noun.rsplit(" ", 1)
        return f"{head} {plural(last)}"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


# --------------------------------------------------------------------------- adjectives
ADJECTIVES = _words("""
big small little tiny huge tall short long round soft hard warm cold hot cool wet dry clean
dirty new old young happy sad glad angry scared brave kind nice good bad funny silly shy
quiet loud fast slow strong weak bright dark shiny sparkly fluffy furry fuzzy smooth rough
sticky sweet sour salty yummy tasty fresh ripe juicy crunchy pretty beautiful lovely cute
ugly gentle friendly clever smart wise curious busy lazy sleepy tired hungry thirsty proud
lonely grumpy cheerful jolly merry calm careful careless lucky special magic secret strange
odd wild tame heavy light empty full deep shallow wide narrow thick thin sharp dull golden
silver wooden colorful striped spotted red blue green yellow orange purple pink brown black
white gray
excited worried nervous surprised gloomy hopeful thankful grateful playful helpful
wonderful terrible horrible marvelous fantastic amazing enormous gigantic miniature massive
delicate elegant graceful clumsy mighty fierce noble humble honest polite rude greedy selfish
generous patient stubborn famous ordinary unusual mysterious magical invisible
ancient modern rusty dusty muddy sandy snowy rainy sunny windy cloudy foggy stormy frosty
icy chilly cozy comfy squishy wobbly bumpy crooked curly messy neat tidy fancy plain
adventurous courageous ambitious energetic enthusiastic imaginative inquisitive mischievous
magnificent extraordinary spectacular tremendous ridiculous delightful peculiar
awesome super great grand fine perfect lively sparkling glowing twinkly dazzling glittery
shimmering gleaming spotless speckled dotted checkered bouncy springy stretchy
slippery slimy soggy crispy creamy cheesy chewy frozen melted broken torn
wrinkled crumpled tangled knotted dented cracked chipped faded patched
jumbo giant mini teeny weeny
peaceful restless sleepless fearless thoughtful cheeky sneaky sly
bashful timid daring bold gallant heroic loyal faithful trusty reliable sensible sincere
tender loving caring grumbly mumbly rumbly tumbly
fragrant smelly stinky noisy rowdy shaggy scruffy bald hairy feathery scaly
spiky prickly thorny leafy grassy rocky pebbly hilly bushy woolly silky velvety
""")

# Adjective before noun: each noun class has habitual adjectives (strong adjective-noun bigrams).
HABITS = {
    "girl": ("little", "brave", "kind"),
    "boy": ("little", "brave", "curious"),
    "dog": ("big", "friendly", "fluffy"),
    "cat": ("little", "fluffy", "lazy"),
    "bird": ("little", "blue", "tiny"),
    "tree": ("tall", "old", "big"),
    "ball": ("red", "big", "round"),
    "house": ("little", "old", "cozy"),
    "forest": ("dark", "deep", "big"),
    "cake": ("big", "yummy", "sweet"),
    "castle": ("old", "tall", "magic"),
    "river": ("long", "wide", "cold"),
}

# --------------------------------------------------------------------------- verbs
# Activity verbs used intransitively ("Mia liked to dance").
INTRANSITIVE = _words("""
play run jump dance sing swim walk climb hop skip laugh smile cry sleep nap rest read draw
paint write cook bake fly sail ride skate ski explore wander hide shout whisper giggle
wave clap march race dive splash float paddle fish hike camp dig build count spin twirl
stretch bounce wiggle tiptoe crawl roll slide swing knit sew garden study listen watch
snore yawn sneeze cough hum whistle sparkle glow shine twinkle rumble tumble stumble
grumble mumble chuckle scamper scurry gallop trot waddle flutter glide soar hover
splutter somersault cartwheel juggle skateboard rollerskate toboggan
snorkel surf kayak canoe travel wonder worry hurry
""")

# Verbs with an object ("Mia found a red ball").
TRANSITIVE = _words("""
find see like love hold carry take bring make want need share give hug kiss pick drop throw
catch kick push pull open close fix clean wash fill empty hide keep lose miss help chase
follow feed water plant paint draw build buy sell borrow lend visit grab touch smell taste
wrap decorate collect count polish mend stack sort
fold unfold tie untie pour stir mix sweep scrub rinse dry peel chop slice
measure weigh compare discover invent imagine remember forget admire examine inspect
sketch trace color glue tape unwrap unpack pack load unload
""")

IRREGULAR_PAST = {
    "run": "ran",
    "swim": "swam",
    "sing": "sang",
    "fly": "flew",
    "ride": "rode",
    "draw": "drew",
    "write": "wrote",
    "read": "read",
    "sleep": "slept",
    "dig": "dug",
    "build": "built",
    "spin": "spun",
    "swing": "swung",
    "find": "found",
    "see": "saw",
    "hold": "held",
    "take": "took",
    "bring": "brought",
    "make": "made",
    "give": "gave",
    "throw": "threw",
    "catch": "caught",
    "hide": "hid",
    "keep": "kept",
    "lose": "lost",
    "buy": "bought",
    "sell": "sold",
    "lend": "lent",
    "feed": "fed",
    "slide": "slid",
    "sew": "sewed",
    "dive": "dived",
    "sweep": "swept",
    "forget": "forgot",
    "shine": "shone",
    "go": "went",
    "eat": "ate",
    "drink": "drank",
    "say": "said",
    "get": "got",
    "come": "came",
    "know": "knew",
    "think": "thought",
    "tell": "told",
    "have": "had",
    "do": "did",
    "sit": "sat",
    "put": "put",
    "cut": "cut",
    "win": "won",
    "begin": "began",
}
# Verbs whose last consonant doubles before -ed/-ing (stop -> stopped, stopping).
DOUBLING = frozenset(
    [
        "hop",
        "skip",
        "clap",
        "hug",
        "drop",
        "grab",
        "stop",
        "jog",
        "nod",
        "plan",
        "tap",
        "pat",
        "hum",
        "dig",
        "swim",
        "run",
        "sit",
        "get",
        "put",
        "cut",
        "shop",
        "nap",
        "trip",
        "wrap",
        "zip",
        "drum",
        "chat",
        "beg",
        "rub",
        "scrub",
        "spin",
        "win",
        "begin",
        "slip",
        "grin",
        "knit",
        "swap",
        "mop",
        "pop",
        "trot",
        "chop",
        "stir",
        "unwrap",
        "forget",
    ]
)


def third_person(verb: str) -> str:
    """``she ___``: -es after s/x/z/ch/sh/o, -ies after consonant + y, else -s."""
    if verb in ("have",):
        return "has"
    if verb.endswith(("s", "x", "z", "ch", "sh", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def past(verb: str) -> str:
    """Simple past: the irregular table, else -d after e, -ied after consonant + y, doubled
    consonant + ed for the DOUBLING verbs, else -ed."""
    if verb in IRREGULAR_PAST:
        return IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    if verb in DOUBLING:
        return verb + verb[-1] + "ed"
    return verb + "ed"


def gerund(verb: str) -> str:
    """The -ing form.

    -ie -> -ying, a silent final e drops (not after e/o/y), doubling verbs double.
    """
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "oe", "ye")) and verb != "be":
        return verb[:-1] + "ing"
    if verb in DOUBLING:
        return verb + verb[-1] + "ing"
    return verb + "ing"


ADVERBS = _words("""
quickly slowly happily sadly quietly loudly carefully gently softly bravely proudly
kindly calmly eagerly sleepily merrily cheerfully patiently politely suddenly finally
together again away outside inside
""")

# --------------------------------------------------------------------------- the a/an rule
VOWEL_SOUND_EXCEPTIONS = frozenset(
    {"hour", "hourglass", "honest", "heir", "honor"}
)  # "an hour"
CONSONANT_SOUND_EXCEPTIONS = frozenset(
    {
        "unicorn",
        "uniform",
        "unicycle",
        "useful",  # "a unicorn"
        "unique",
        "university",
        "one",
        "europe",
        "european",
        "ukulele",
        "uganda",
        "ugandan",
        "uruguay",
        "uruguayan",
        "ukraine",
        "ukrainian",
        "united",
    }
)


def article(word: str) -> str:
    """``a`` or ``an`` before ``word``, by its first sound.

    Rule: ``an`` when the word starts with a vowel letter (a, e, i, o, u), else ``a``; except
    that words in VOWEL_SOUND_EXCEPTIONS (silent h: "an hour") take ``an`` and words in
    CONSONANT_SOUND_EXCEPTIONS ("you"/"w" sound: "a unicorn") take ``a``.
    """
    w = word.lower().split(" ", 1)[0]
    stems = (
        w,
        w[:-1],
        w[:-2],
    )  # plurals follow their singular: "unicorns", "hourglasses"
    if any(s in VOWEL_SOUND_EXCEPTIONS for s in stems):
        return "an"
    if any(s in CONSONANT_SOUND_EXCEPTIONS for s in stems):
        return "a"
    return "an" if w[:1] in "aeiou" else "a"


# --------------------------------------------------------------------------- world facts
@dataclass(frozen=True)
class Country:
    """One row of the fact table. ``the`` marks names said with an article ("the Netherlands")."""

    name: str
    capital: str
    continent: str
    language: str  # an official or main spoken language
    adjective: str  # "Irish food", "the Irish flag"
    the: bool = False

    @property
    def ref(self) -> str:
        """The name as used mid-sentence, as in ``the Netherlands`` or ``Ireland``."""
        return f"the {self.name}" if self.the else self.name

    @property
    def Ref(self) -> str:
        """The name at the start of a sentence, as in ``The Netherlands``."""
        return f"The {self.name}" if self.the else self.name


# name | capital | continent | language | adjective   (ASCII spellings; "*" = said with "the")
_FACTS = """
Ireland|Dublin|Europe|English|Irish
United Kingdom*|London|Europe|English|British
France|Paris|Europe|French|French
Germany|Berlin|Europe|German|German
Spain|Madrid|Europe|Spanish|Spanish
Portugal|Lisbon|Europe|Portuguese|Portuguese
Italy|Rome|Europe|Italian|Italian
Netherlands*|Amsterdam|Europe|Dutch|Dutch
Belgium|Brussels|Europe|Dutch|Belgian
Switzerland|Bern|Europe|German|Swiss
Austria|Vienna|Europe|German|Austrian
Poland|Warsaw|Europe|Polish|Polish
Czechia|Prague|Europe|Czech|Czech
Slovakia|Bratislava|Europe|Slovak|Slovak
Hungary|Budapest|Europe|Hungarian|Hungarian
Romania|Bucharest|Europe|Romanian|Romanian
Bulgaria|Sofia|Europe|Bulgarian|Bulgarian
Greece|Athens|Europe|Greek|Greek
Serbia|Belgrade|Europe|Serbian|Serbian
Croatia|Zagreb|Europe|Croatian|Croatian
Slovenia|Ljubljana|Europe|Slovene|Slovenian
Bosnia and Herzegovina|Sarajevo|Europe|Bosnian|Bosnian
Albania|Tirana|Europe|Albanian|Albanian
North Macedonia|Skopje|Europe|Macedonian|Macedonian
Montenegro|Podgorica|Europe|Montenegrin|Montenegrin
Denmark|Copenhagen|Europe|Danish|Danish
Norway|Oslo|Europe|Norwegian|Norwegian
Sweden|Stockholm|Europe|Swedish|Swedish
Finland|Helsinki|Europe|Finnish|Finnish
Iceland|Reykjavik|Europe|Icelandic|Icelandic
Estonia|Tallinn|Europe|Estonian|Estonian
Latvia|Riga|Europe|Latvian|Latvian
Lithuania|Vilnius|Europe|Lithuanian|Lithuanian
Ukraine|Kyiv|Europe|Ukrainian|Ukrainian
Belarus|Minsk|Europe|Belarusian|Belarusian
Moldova|Chisinau|Europe|Romanian|Moldovan
Russia|Moscow|Europe|Russian|Russian
Malta|Valletta|Europe|Maltese|Maltese
China|Beijing|Asia|Chinese|Chinese
Japan|Tokyo|Asia|Japanese|Japanese
South Korea|Seoul|Asia|Korean|Korean
Mongolia|Ulaanbaatar|Asia|Mongolian|Mongolian
India|New Delhi|Asia|Hindi|Indian
Pakistan|Islamabad|Asia|Urdu|Pakistani
Bangladesh|Dhaka|Asia|Bengali|Bangladeshi
Nepal|Kathmandu|Asia|Nepali|Nepalese
Bhutan|Thimphu|Asia|Dzongkha|Bhutanese
Thailand|Bangkok|Asia|Thai|Thai
Vietnam|Hanoi|Asia|Vietnamese|Vietnamese
Laos|Vientiane|Asia|Lao|Lao
Cambodia|Phnom Penh|Asia|Khmer|Cambodian
Myanmar|Naypyidaw|Asia|Burmese|Burmese
Malaysia|Kuala Lumpur|Asia|Malay|Malaysian
Philippines*|Manila|Asia|Filipino|Filipino
Iran|Tehran|Asia|Persian|Iranian
Iraq|Baghdad|Asia|Arabic|Iraqi
Saudi Arabia|Riyadh|Asia|Arabic|Saudi
Jordan|Amman|Asia|Arabic|Jordanian
Syria|Damascus|Asia|Arabic|Syrian
Lebanon|Beirut|Asia|Arabic|Lebanese
Qatar|Doha|Asia|Arabic|Qatari
Oman|Muscat|Asia|Arabic|Omani
Bahrain|Manama|Asia|Arabic|Bahraini
United Arab Emirates*|Abu Dhabi|Asia|Arabic|Emirati
Afghanistan|Kabul|Asia|Pashto|Afghan
Uzbekistan|Tashkent|Asia|Uzbek|Uzbek
Kazakhstan|Astana|Asia|Kazakh|Kazakh
Kyrgyzstan|Bishkek|Asia|Kyrgyz|Kyrgyz
Tajikistan|Dushanbe|Asia|Tajik|Tajik
Turkmenistan|Ashgabat|Asia|Turkmen|Turkmen
Egypt|Cairo|Africa|Arabic|Egyptian
Morocco|Rabat|Africa|Arabic|Moroccan
Algeria|Algiers|Africa|Arabic|Algerian
Tunisia|Tunis|Africa|Arabic|Tunisian
Libya|Tripoli|Africa|Arabic|Libyan
Ethiopia|Addis Ababa|Africa|Amharic|Ethiopian
Kenya|Nairobi|Africa|Swahili|Kenyan
Uganda|Kampala|Africa|English|Ugandan
Tanzania|Dodoma|Africa|Swahili|Tanzanian
Rwanda|Kigali|Africa|Kinyarwanda|Rwandan
Nigeria|Abuja|Africa|English|Nigerian
Ghana|Accra|Africa|English|Ghanaian
Senegal|Dakar|Africa|French|Senegalese
Mali|Bamako|Africa|Bambara|Malian
Cameroon|Yaounde|Africa|French|Cameroonian
Angola|Luanda|Africa|Portuguese|Angolan
Mozambique|Maputo|Africa|Portuguese|Mozambican
Zambia|Lusaka|Africa|English|Zambian
Zimbabwe|Harare|Africa|English|Zimbabwean
Namibia|Windhoek|Africa|English|Namibian
Madagascar|Antananarivo|Africa|Malagasy|Malagasy
Somalia|Mogadishu|Africa|Somali|Somali
Gabon|Libreville|Africa|French|Gabonese
Malawi|Lilongwe|Africa|English|Malawian
Sierra Leone|Freetown|Africa|English|Sierra Leonean
Liberia|Monrovia|Africa|English|Liberian
Guinea|Conakry|Africa|French|Guinean
Eritrea|Asmara|Africa|Tigrinya|Eritrean
Togo|Lome|Africa|French|Togolese
Mauritania|Nouakchott|Africa|Arabic|Mauritanian
United States*|Washington|North America|English|American
Canada|Ottawa|North America|English|Canadian
Mexico|Mexico City|North America|Spanish|Mexican
Cuba|Havana|North America|Spanish|Cuban
Jamaica|Kingston|North America|English|Jamaican
Dominican Republic*|Santo Domingo|North America|Spanish|Dominican
Honduras|Tegucigalpa|North America|Spanish|Honduran
Nicaragua|Managua|North America|Spanish|Nicaraguan
Costa Rica|San Jose|North America|Spanish|Costa Rican
El Salvador|San Salvador|North America|Spanish|Salvadoran
Colombia|Bogota|South America|Spanish|Colombian
Venezuela|Caracas|South America|Spanish|Venezuelan
Ecuador|Quito|South America|Spanish|Ecuadorian
Peru|Lima|South America|Spanish|Peruvian
Chile|Santiago|South America|Spanish|Chilean
Argentina|Buenos Aires|South America|Spanish|Argentine
Uruguay|Montevideo|South America|Spanish|Uruguayan
Paraguay|Asuncion|South America|Spanish|Paraguayan
Brazil|Brasilia|South America|Portuguese|Brazilian
Guyana|Georgetown|South America|English|Guyanese
Suriname|Paramaribo|South America|Dutch|Surinamese
Australia|Canberra|Oceania|English|Australian
New Zealand|Wellington|Oceania|English|New Zealand
Fiji|Suva|Oceania|English|Fijian
Papua New Guinea|Port Moresby|Oceania|English|Papua New Guinean
Samoa|Apia|Oceania|Samoan|Samoan
"""


def _parse_facts(text: str) -> tuple[Country, ...]:
    rows = []
    for line in text.strip().splitlines():
        name, capital, continent, language, adjective = line.split("|")
        rows.append(
            Country(
                name.rstrip("*"),
                capital,
                continent,
                language,
                adjective,
                the=name.endswith("*"),
            )
        )
    return tuple(rows)


COUNTRIES: tuple[Country, ...] = _parse_facts(_FACTS)


def fact_table() -> pd.DataFrame:
    """The fact table as a DataFrame: country, capital, continent, language, adjective."""
    return pd.DataFrame(
        [
            dict(
                country=c.name,
                capital=c.capital,
                continent=c.continent,
                language=c.language,
                adjective=c.adjective,
            )
            for c in COUNTRIES
        ]
    )


# --------------------------------------------------------------------------- whole lexicon
NAMES = {**{n: "f" for n in GIRL_NAMES}, **{n: "m" for n in BOY_NAMES}}


@cache
def word_types() -> frozenset[str]:
    """Every lowercase word the grammar can emit from the lists (inflections included)."""
    words: set[str] = set()
    for n in NAMES:
        words.update(n.lower().split())
    for noun in ANIMALS + FOODS + THINGS + PLACES + PEOPLE + SPECIAL_NOUNS:
        words.update(noun.split())
        words.update(plural(noun).split())
    for w in MASS_FOODS + ADJECTIVES + ADVERBS:
        words.update(w.split())
    for v in INTRANSITIVE + TRANSITIVE:
        words.update({v, third_person(v), past(v), gerund(v)})
    for c in COUNTRIES:
        for field in (c.name, c.capital, c.continent, c.language, c.adjective):
            words.update(field.lower().split())
    return frozenset(w.lower() for w in words)
