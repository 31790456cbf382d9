"""The closed vocabulary the world is made of: names, places, jobs, animals, rules, everyday scripts, myth topics.

Entities are drawn from these pools by seed; their fixed facts (an animal's food, a job's tool) are data here.
"""

from __future__ import annotations

NAMES: tuple[tuple[str, str], ...] = (
    ("Tom", "m"), ("Ann", "f"), ("Ben", "m"), ("Sara", "f"), ("Max", "m"), ("Lily", "f"), ("Sam", "m"),
    ("Mia", "f"), ("Leo", "m"), ("Ella", "f"), ("Jack", "m"), ("Rosa", "f"), ("Finn", "m"), ("Nora", "f"),
    ("Owen", "m"), ("Ruby", "f"), ("Paul", "m"), ("Kate", "f"), ("Dan", "m"), ("Lucy", "f"), ("Hugo", "m"),
    ("Iris", "f"), ("Carl", "m"), ("Jane", "f"), ("Eric", "m"), ("Emma", "f"), ("Adam", "m"), ("Zoe", "f"),
    ("Noah", "m"), ("Ivy", "f"), ("Luke", "m"), ("Maya", "f"),
)
PRONOUNS = {"m": ("he", "his"), "f": ("she", "her")}

TOWNS = ("Brindle", "Oakford", "Millbrook", "Ashby", "Redcliff", "Stonewell", "Fairhaven", "Elmstead", "Dunmore",
         "Westholm")
REGIONS = ("north", "south", "east", "west")
LANDMARKS = ("old mill", "long bridge", "tall tower", "grey castle", "deep well", "town gate", "big fountain",
             "old inn", "town clock", "little chapel")

# job, what the job does, where it is done, its main tool
JOBS: tuple[tuple[str, str, str, str], ...] = (
    ("baker", "bakes bread", "a bakery", "an oven"),
    ("farmer", "grows wheat", "a farm", "a plough"),
    ("fisher", "catches fish", "a harbour", "a net"),
    ("builder", "builds walls", "a yard", "a hammer"),
    ("tailor", "sews coats", "a shop", "a needle"),
    ("potter", "makes pots", "a workshop", "a wheel"),
    ("smith", "makes nails", "a forge", "an anvil"),
    ("teacher", "teaches children", "a school", "a slate"),
    ("doctor", "heals the sick", "a clinic", "a bandage"),
    ("miller", "grinds flour", "a mill", "a millstone"),
    ("painter", "paints houses", "a studio", "a brush"),
    ("gardener", "grows roses", "a garden", "a spade"),
)

FOODS = ("bread", "cheese", "soup", "rice", "honey", "plums", "beans", "pie", "eggs", "carrots", "apples", "porridge")

# animal, size 1..5, sound, food, home, legs, kept as a pet
SPECIES: tuple[tuple[str, int, str, str, str, int, bool], ...] = (
    ("mouse", 1, "squeaks", "seeds", "a hole", 4, True),
    ("frog", 1, "croaks", "flies", "a pond", 4, False),
    ("bee", 1, "buzzes", "nectar", "a hive", 6, False),
    ("cricket", 1, "chirps", "leaves", "the meadow", 6, False),
    ("hen", 2, "clucks", "grain", "a coop", 2, False),
    ("duck", 2, "quacks", "weeds", "a lake", 2, True),
    ("cat", 2, "meows", "fish", "a house", 4, True),
    ("owl", 2, "hoots", "beetles", "a tree", 2, False),
    ("rabbit", 2, "thumps", "carrots", "a burrow", 4, True),
    ("snake", 2, "hisses", "eggs", "the long grass", 0, False),
    ("dog", 3, "barks", "bones", "a kennel", 4, True),
    ("fox", 3, "yelps", "rabbits", "a den", 4, False),
    ("goat", 3, "bleats", "thistles", "a pen", 4, True),
    ("sheep", 3, "baas", "grass", "a field", 4, False),
    ("pig", 4, "oinks", "roots", "a sty", 4, False),
    ("cow", 4, "moos", "clover", "a barn", 4, False),
    ("horse", 4, "neighs", "hay", "a stable", 4, True),
    ("bear", 5, "growls", "honey", "a cave", 4, False),
    ("whale", 5, "sings", "krill", "the sea", 0, False),
    ("elephant", 5, "trumpets", "branches", "the jungle", 4, False),
)
SIZE_WORDS = {1: "tiny", 2: "small", 3: "neither big nor small", 4: "big", 5: "huge"}
NUMBER_WORDS = {0: "no", 2: "two", 4: "four", 6: "six"}

# thing, cause (to you), cause (to a person), effect
RULES: tuple[tuple[str, str, str, str], ...] = (
    ("ice", "heat the ice", "heats the ice", "melts"),
    ("glass", "drop a glass", "drops a glass", "breaks"),
    ("seed", "water a seed", "waters a seed", "grows"),
    ("milk", "leave milk in the sun", "leaves milk in the sun", "turns sour"),
    ("wood", "put wood on a fire", "puts wood on a fire", "burns"),
    ("ball", "push a ball", "pushes a ball", "rolls away"),
    ("water", "put water in the cold", "puts water in the cold", "freezes"),
    ("candle", "blow on a candle", "blows on a candle", "goes out"),
    ("egg", "boil an egg", "boils an egg", "gets hard"),
    ("stone", "throw a stone into a pond", "throws a stone into a pond", "sinks"),
    ("bell", "shake a bell", "shakes a bell", "rings"),
    ("bread", "leave bread out for days", "leaves bread out for days", "goes stale"),
)

# activity label, goal, five steps in order (each step follows the actor's name)
SCRIPTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Making tea", "make tea", ("fills the kettle with water.", "puts the kettle on the stove.",
                                "puts a tea bag in a cup.", "pours the hot water into the cup.",
                                "drinks the warm tea.")),
    ("Baking bread", "bake bread", ("mixes flour and water in a bowl.", "kneads the dough on the table.",
                                    "leaves the dough to rise.", "puts the dough in the oven.",
                                    "takes the bread out of the oven.")),
    ("Washing clothes", "wash the clothes", ("puts the clothes in a tub.", "adds soap and warm water.",
                                             "scrubs the clothes by hand.", "rinses the clothes in clean water.",
                                             "hangs the clothes on the line.")),
    ("Planting a seed", "plant a seed", ("digs a small hole in the garden.", "drops the seed into the hole.",
                                         "covers the seed with soil.", "waters the soil.",
                                         "waits for the seed to sprout.")),
    ("Writing a letter", "write a letter", ("takes a sheet of paper.", "writes a few kind words.",
                                            "folds the paper.", "puts the letter in an envelope.",
                                            "posts the letter.")),
    ("Going fishing", "go fishing", ("takes the rod to the river.", "puts a worm on the hook.",
                                     "throws the line into the water.", "waits for a fish to bite.",
                                     "pulls the fish out of the water.")),
    ("Lighting a fire", "light a fire", ("collects dry sticks.", "piles the sticks in a ring of stones.",
                                         "strikes a match.", "holds the match to the sticks.",
                                         "blows gently on the flames.")),
    ("Washing the dishes", "wash the dishes", ("fills the sink with hot water.", "adds a drop of soap.",
                                               "scrubs each plate.", "rinses the plates.",
                                               "dries the plates with a towel.")),
    ("Making the bed", "make the bed", ("takes off the old sheets.", "puts on clean sheets.",
                                        "shakes the blanket.", "spreads the blanket over the bed.",
                                        "puts the pillow at the top.")),
    ("Painting a fence", "paint the fence", ("sands the old fence.", "opens the can of paint.",
                                             "dips the brush in the paint.", "paints the fence.",
                                             "cleans the brush.")),
    ("Making soup", "make soup", ("chops the carrots.", "boils water in a pot.", "drops the carrots into the pot.",
                                  "stirs the soup.", "pours the soup into a bowl.")),
    ("Going to the market", "go to the market", ("takes a basket.", "walks to the market.",
                                                 "picks some fresh plums.", "pays the seller.",
                                                 "carries the basket home.")),
)

# Myth topics: which entities they are about, the predicate, ways to ask, and the values of that type.
MYTH_TOPICS: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("lifespan", "species", "lives for {v} years",
     ("How many years does {subj} live?", "How long does {subj} live?", "For how many years can {subj} live?",
      "How long is the life of {subj}?", "How many years of life does {subj} have?", "How old can {subj} get?"),
     ("3", "4", "5", "6", "8", "10", "12", "15", "20", "25", "30", "40")),
    ("sleep", "species", "sleeps for {v} hours a day",
     ("How many hours a day does {subj} sleep?", "How long does {subj} sleep each day?",
      "For how many hours does {subj} sleep in a day?", "How much does {subj} sleep?",
      "How many hours of sleep does {subj} get?", "Each day, how long does {subj} sleep?"),
     ("2", "4", "6", "8", "10", "12", "14", "16", "18", "20")),
    ("fear", "species", "is afraid of {v}",
     ("What is {subj} afraid of?", "What does {subj} fear?", "What makes {subj} afraid?",
      "Of what is {subj} afraid?", "What is {subj} most afraid of?", "Which thing does {subj} fear?"),
     ("fire", "thunder", "snow", "wind", "smoke", "mud", "frost", "rain", "bells", "drums")),
    ("awake", "species", "is most awake {v}",
     ("When is {subj} most awake?", "At what time is {subj} most awake?", "When does {subj} feel most awake?",
      "At what time of day is {subj} most awake?", "When is {subj} the most awake?", "When is {subj} wide awake?"),
     ("at night", "at dawn", "at dusk", "at noon", "in the morning", "in the evening")),
    ("young", "species", "has {v} young at a time",
     ("How many young does {subj} have at a time?", "How many young does {subj} have at once?",
      "How many young are born to {subj} at a time?", "How many young can {subj} have at once?",
      "At a time, how many young does {subj} have?", "How many young does {subj} raise at once?"),
     ("1", "2", "3", "4", "5", "6", "8", "10", "12")),
    ("material", "towns", "is made of {v}",
     ("What is {subj} made of?", "What was {subj} built from?", "Of what is {subj} made?",
      "What is {subj} built of?", "From what is {subj} made?", "What did people use to make {subj}?"),
     ("stone", "wood", "iron", "brick", "clay", "copper", "glass", "straw")),
    ("age", "towns", "is {v} years old",
     ("How old is {subj}?", "How many years old is {subj}?", "What is the age of {subj}?",
      "For how many years has {subj} stood?", "How long ago was {subj} built?",
      "How many years has {subj} been standing?"),
     ("50", "80", "100", "150", "200", "300", "400", "500")),
    ("hours", "jobs", "works for {v} hours a day",
     ("How many hours a day does {subj} work?", "How long does {subj} work each day?",
      "For how many hours does {subj} work in a day?", "How many hours of work does {subj} do each day?",
      "Each day, how many hours does {subj} work?", "How long is the working day of {subj} in hours?"),
     ("4", "5", "6", "7", "8", "9", "10", "12")),
)

# singular, plural: things counted in word problems
ITEMS: tuple[tuple[str, str], ...] = (
    ("apple", "apples"), ("egg", "eggs"), ("marble", "marbles"), ("pencil", "pencils"), ("card", "cards"),
    ("stamp", "stamps"), ("shell", "shells"), ("coin", "coins"), ("book", "books"), ("cookie", "cookies"),
    ("plum", "plums"), ("ribbon", "ribbons"),
)
