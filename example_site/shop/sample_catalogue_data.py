"""Hand-written phrase banks for the demo catalogue (see ``sample_catalogue.py``).

Everything here was written for this project: the titles, people, brands, premises and
personas are invented, and the generator composes descriptions from these pieces with a
seeded ``random.Random`` so the catalogue is the same on every run for a given seed.

Conventions:

* Film and book entries are ``(title, "mood mood", plot)``. For most genres the plot is a verb
  phrase in the third person ("finds a dead drop ..."), and the generator puts a protagonist in
  front of it. For genres whose ``subject_included`` is true the plot is a whole clause.
* Text inside ``{braces}`` is filled by ``str.format`` from the item's attributes.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------

PROTAGONISTS = [
    "a retired cartographer",
    "a shy night-shift engineer",
    "a widowed beekeeper",
    "a teenage radio enthusiast",
    "an ageing jazz drummer",
    "a small-town librarian",
    "a quiet archivist",
    "a failed novelist",
    "an elderly watchmaker",
    "a travelling nurse",
    "a glass-blower",
    "a young cellist",
]
# Used when a plot says "her" or "she".
FEMALE_PROTAGONISTS = [
    "a young widow called Nell",
    "a retired schoolteacher named Edith",
    "a translator named Iris",
    "a sharp-tongued lawyer called Maeve",
    "a café owner named June",
    "a junior doctor called Ruth",
    "a wedding florist named Rosa",
    "a marine biologist called Thea",
]

CITIES = [
    "London",
    "Manchester",
    "Edinburgh",
    "Dublin",
    "Berlin",
    "Munich",
    "Paris",
    "Lyon",
    "Amsterdam",
    "Copenhagen",
    "Stockholm",
    "Oslo",
    "Madrid",
    "Barcelona",
    "Lisbon",
    "Zurich",
    "Vienna",
    "Milan",
    "Toronto",
    "Vancouver",
    "Seattle",
    "Boston",
    "Denver",
    "Melbourne",
    "Wellington",
]
ZH_CITIES = ["Shanghai", "Beijing", "Chengdu", "Hangzhou", "Shenzhen", "Guangzhou", "Taipei", "Singapore"]

DEVICES = ["desktop", "mobile", "tablet"]
DEVICE_WEIGHTS = [0.38, 0.52, 0.10]

# Share of sessions starting in each hour of the day (UTC, roughly a European evening peak).
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 4, 6, 5, 4, 4, 5, 5, 4, 4, 5, 6, 8, 10, 11, 10, 7, 3]

# ---------------------------------------------------------------------------------------------
# Films
# ---------------------------------------------------------------------------------------------

FILM_MOOD_PHRASES = {
    "cosy": [
        "A cosy {g} that feels like a warm blanket on a rainy evening.",
        "Gentle, warm-hearted and unhurried, it's a cosy {g} made for a quiet night in.",
        "Put the kettle on: this is a cosy {g} that never raises its voice.",
        "Comforting and low-stakes, it's the cosy {g} to put on when the week has been long.",
        "Kind characters and small stakes make it a genuinely cosy {g}.",
    ],
    "tense": [
        "A tense, tightly wound {g} that keeps you on the edge of your seat.",
        "The tension builds scene by scene in this tense, nerve-shredding {g}.",
        "Taut, tense and suspenseful, it's a {g} best watched with the lights on.",
        "Every quiet moment in this tense {g} feels like a trap about to spring.",
    ],
    "uplifting": [
        "An uplifting, big-hearted {g} that leaves you smiling.",
        "Hopeful and uplifting, it's a feel-good {g} in the best sense.",
        "You come out of this uplifting {g} feeling a little braver than before.",
        "Warm, optimistic and quietly moving, it's an uplifting {g} for any evening.",
    ],
    "melancholic": [
        "A bittersweet, melancholic {g} that lingers long after the credits.",
        "Quiet and wistful, it's a melancholic {g} about loss and what comes after.",
        "Bring tissues: this melancholic {g} aches in all the right places.",
        "Beautifully sad, it's a slow, melancholic {g} for a reflective evening.",
    ],
    "funny": [
        "A genuinely funny {g} with a joke in almost every scene.",
        "Laugh-out-loud funny, it's a {g} that works best with friends and snacks.",
        "Silly and funny in the best way, it's a light-hearted {g} for when you need a laugh.",
        "Sharp dialogue and great comic timing make it a properly funny {g}.",
    ],
    "whimsical": [
        "A whimsical, playful {g} full of odd little details.",
        "Charming and whimsical, it's a {g} that feels like a storybook come to life.",
        "Dreamy and whimsical, this {g} delights children and grown-ups alike.",
        "Whimsical, colourful and a little bit magical, it's a {g} to get lost in.",
    ],
    "thought-provoking": [
        "A thought-provoking {g} that asks big questions without easy answers.",
        "Clever and thought-provoking, it's the kind of {g} you'll argue about afterwards.",
        "Smart and patient, it's a thought-provoking {g} that rewards close attention.",
        "It's a thought-provoking {g} that stays with you for days.",
    ],
    "dark": [
        "A dark, unsettling {g} that doesn't flinch.",
        "Grim and atmospheric, it's a dark {g} for viewers with strong nerves.",
        "Bleak and brooding, it's a dark {g} with a genuinely disturbing final act.",
        "Shadowy and menacing, this dark {g} is not for the faint-hearted.",
    ],
}

FILM_DETAILS = [
    "Directed by {director}, it runs {runtime_minutes} minutes.",
    "{director} directs; the film runs {runtime_minutes} minutes and came out in {year}.",
    "Released in {year}, {director}'s film runs {runtime_minutes} minutes.",
    "It was directed by {director} in {year} and is {runtime_minutes} minutes long.",
]

FILM_PREMISE_TEMPLATES = [
    "{title} follows {who} who {plot}.",
    "In {title}, {who} {plot}.",
    "{title} tells the story of {who} who {plot}.",
]
FILM_SUBJECT_TEMPLATES = [
    "In {title}, {plot}.",
    "{title}: {plot}.",
]

FILM_GENRES = {
    "science fiction": {
        "noun": "science-fiction film",
        "zh_noun": "科幻片",
        "who": [
            "a ship's engineer",
            "a lonely xenobiologist",
            "a rookie pilot",
            "a retired cartographer",
            "a station botanist",
            "a teenage radio enthusiast",
            "a weary cargo captain",
        ],
        "runtime": (95, 150),
        "age_ratings": ["PG", "12", "12", "15"],
        "flavour": [
            "The spaceships look lived-in and the science is handled with care.",
            "It's sci-fi with a human heart: the future is a backdrop for a story about people.",
            "Expect sweeping shots of distant planets and a haunting electronic score.",
            "A smart slice of science fiction that trusts its audience.",
        ],
        "audience": [
            "Perfect for sci-fi fans who like their space stories thoughtful.",
            "A must for anyone who loves science fiction and stargazing.",
            "A great pick for a sci-fi movie night.",
        ],
        "titles": [
            (
                "The Long Orbit",
                "cosy thought-provoking",
                "wakes from cryosleep to find the colony ship has quietly changed course",
            ),
            (
                "Lantern Ship",
                "cosy uplifting",
                "runs the only tea shop on an orbital station at the edge of the solar system",
            ),
            (
                "Quiet Signals from Vega",
                "thought-provoking melancholic",
                "decodes a radio message from a star that should have died long ago",
            ),
            (
                "Saltwater Moon",
                "tense thought-provoking",
                "is sent to map an ocean hidden beneath the ice of a distant moon",
            ),
            (
                "The Cartographer of Mars",
                "uplifting cosy",
                "must finish the first hand-drawn map of Mars before the supply ship leaves",
            ),
            (
                "Parallax Garden",
                "cosy melancholic",
                "tends the last greenhouse on a generation ship and befriends the robot that waters it",
            ),
            ("Echoes Below Europa", "tense dark", "leads a drilling crew that hears knocking from beneath the ice"),
            (
                "Last Train to Tycho",
                "funny cosy",
                "misses the final lunar shuttle and has to cross the Moon on a rattling maintenance train",
            ),
            (
                "The Glass Android",
                "thought-provoking melancholic",
                "must decide whether a household android can legally be called a person",
            ),
            (
                "Meridian Drift",
                "tense",
                "tries to get the crew home after a routine jump leaves them in the wrong century",
            ),
            (
                "A Small Light in Orbit",
                "cosy uplifting",
                "repairs satellites from a one-person station and starts leaving notes for the next shift",
            ),
            (
                "Stationkeeping",
                "thought-provoking tense",
                "discovers that the station's AI has been rewriting the logbooks",
            ),
            (
                "Chasing the Comet",
                "uplifting funny",
                "joins a scrappy amateur crew racing to land a homemade probe on a passing comet",
            ),
        ],
    },
    "comedy": {
        "noun": "comedy",
        "who": [
            "a hapless pastry chef",
            "a nervous first-time mayor",
            "a semi-retired stunt double",
            "an overconfident estate agent",
            "a grumpy goat farmer",
            "a small-town radio DJ",
            "a recently divorced accountant",
        ],
        "zh_noun": "喜剧片",
        "runtime": (84, 115),
        "age_ratings": ["PG", "PG", "12"],
        "flavour": [
            "The ensemble cast has terrific chemistry.",
            "The jokes land thanks to a sharp script and perfect timing.",
            "It's the kind of comedy that gets funnier on a second watch.",
            "Physical comedy and clever wordplay sit happily side by side.",
        ],
        "audience": [
            "Ideal for a relaxed movie night with friends.",
            "A great pick when you just want to laugh.",
            "Fun for the whole family, with jokes for the grown-ups too.",
        ],
        "titles": [
            (
                "My Aunt's Terrible Bakery",
                "funny cosy",
                "inherits a failing seaside bakery without knowing how to bake a single loaf",
            ),
            (
                "Wedding on the Wrong Island",
                "funny uplifting",
                "has three days to rescue a wedding after all the guests land on the wrong island",
            ),
            (
                "The Substitute Mayor",
                "funny whimsical",
                "accidentally becomes mayor of a village after a clerical error",
            ),
            (
                "Two Left Feet in Lisbon",
                "funny uplifting",
                "enters a ballroom contest in Lisbon to save the local community hall",
            ),
            ("Goat Rodeo", "funny whimsical", "tries to return a stolen prize goat before the county fair"),
            ("The Great Sofa Escape", "funny cosy", "tries to carry a sofa across town on the hottest day of the year"),
            (
                "Accidental Ambassadors",
                "funny",
                "is mistaken for a diplomat and sent to negotiate a trade deal about cheese",
            ),
            (
                "Uncle Bertie's Last Heist",
                "funny cosy",
                "helps a retired uncle plan one last, extremely polite museum heist",
            ),
            (
                "Fancy Dress",
                "funny",
                "turns up to a black-tie gala in a dinosaur costume and has to bluff through the night",
            ),
            (
                "Parking Wars of Little Dunmore",
                "funny whimsical",
                "starts a village-wide feud over a single parking space",
            ),
            (
                "Sheep Happens",
                "funny cosy",
                "has to herd two hundred runaway sheep through a market town on festival day",
            ),
        ],
    },
    "drama": {
        "noun": "drama",
        "who": [
            "a widowed beekeeper",
            "a young cellist",
            "an overworked junior doctor",
            "a former boxer",
            "a quiet archivist",
            "a failed novelist",
            "a single parent of three",
        ],
        "zh_noun": "剧情片",
        "runtime": (95, 150),
        "age_ratings": ["12", "12", "15"],
        "flavour": [
            "The performances are quietly extraordinary.",
            "It's a character-driven drama with beautifully written dialogue.",
            "The film takes its time, and the emotional payoff is worth it.",
            "Small gestures carry huge weight in this carefully observed story.",
        ],
        "audience": [
            "For viewers who love slow-burning, emotional stories.",
            "A good choice for a quiet, reflective evening.",
            "Fans of character-driven dramas will be deeply moved.",
        ],
        "titles": [
            (
                "The Orchard Keepers",
                "melancholic uplifting",
                "returns home to run the family orchard after their father's stroke",
            ),
            (
                "Winter in Harrowgate",
                "melancholic",
                "spends one last winter caring for a mother who no longer recognises them",
            ),
            (
                "What the River Carried",
                "thought-provoking melancholic",
                "rebuilds a life in a new city after losing everything in a flood",
            ),
            (
                "A House on Fennick Street",
                "melancholic cosy",
                "reconnects with an estranged brother while clearing out their childhood home",
            ),
            (
                "The Ferryman's Daughter",
                "uplifting thought-provoking",
                "takes over a river ferry and slowly learns the stories of its passengers",
            ),
            ("Paper Lanterns", "uplifting cosy", "fights to keep a small-town music school open for one more year"),
            (
                "Second Violin",
                "uplifting melancholic",
                "learns to play the violin again after an accident ends a promising career",
            ),
            (
                "All the Quiet Fields",
                "thought-provoking melancholic",
                "faces a hard choice between a job abroad and the farm that raised them",
            ),
            ("The Night Nurse", "thought-provoking", "starts over as a night nurse on the busiest ward in the city"),
            (
                "Tidewater",
                "melancholic thought-provoking",
                "returns to a fishing town that is slowly being swallowed by the sea",
            ),
            (
                "Borrowed Light",
                "uplifting",
                "teaches photography to teenagers in a youth centre that is about to close",
            ),
        ],
    },
    "thriller": {
        "noun": "thriller",
        "who": [
            "a burned-out analyst",
            "a night-shift taxi driver",
            "a junior accountant",
            "a disgraced detective",
            "an ex-soldier",
            "a crime reporter",
        ],
        "zh_noun": "惊悚片",
        "runtime": (95, 132),
        "age_ratings": ["15", "15", "18"],
        "flavour": [
            "The twists are genuinely surprising.",
            "The plot is a clockwork puzzle with no wasted scenes.",
            "A pulsing score and rain-soaked streets set the mood.",
            "It keeps you guessing right until the final reveal.",
        ],
        "audience": [
            "Essential viewing for fans of twisty crime thrillers.",
            "Great for anyone who loves a mystery they can try to solve.",
            "For viewers who like their suspense sharp and their endings unpredictable.",
        ],
        "titles": [
            (
                "Dead Drop at Kingsgate",
                "tense",
                "finds a dead drop meant for someone else and is pulled into a spy ring",
            ),
            ("The Ninth Witness", "tense dark", "is the only witness to a murder that officially never happened"),
            ("Cold Harbour", "dark tense", "uncovers a money-laundering scheme hidden in a shipping company's books"),
            ("Signal Loss", "tense", "tracks a hacker who is switching off the city's lights one district at a time"),
            ("The Cartel Accountant", "dark tense", "tries to walk away from a career keeping the books for a cartel"),
            ("Blind Corner", "tense", "has twelve hours to find a missing child in a city locked down by a storm"),
            ("Undertow", "dark tense", "goes undercover on an oil rig where crew members keep disappearing"),
            (
                "The Vanishing Ledger",
                "tense thought-provoking",
                "follows the trail of a stolen ledger that could bring down a government",
            ),
            (
                "Night Shift at Pier 9",
                "tense dark",
                "realises the smugglers using the docks at night know exactly who they are",
            ),
            ("Redline", "tense", "is framed for murder and must clear their name before dawn"),
            (
                "The Stranger in Carriage Four",
                "tense",
                "realises the stranger on the night train knows far too much about them",
            ),
        ],
    },
    "animation": {
        "noun": "animated film",
        "zh_noun": "动画片",
        "runtime": (78, 100),
        "age_ratings": ["U", "U", "PG"],
        "subject_included": True,
        "flavour": [
            "The hand-drawn animation is gorgeous.",
            "Bright colours and catchy songs make it a hit with younger viewers.",
            "It's a family film that adults enjoy just as much as kids.",
            "Every frame looks like a page from a picture book.",
        ],
        "audience": [
            "A lovely pick for a family movie night.",
            "Perfect for kids, and for grown-ups who still love cartoons.",
            "Ideal for a cosy Sunday afternoon with children.",
        ],
        "titles": [
            (
                "Pip and the Cloud Whale",
                "whimsical uplifting",
                "a little girl called Pip befriends a whale that swims through the clouds and helps it find its family",
            ),
            (
                "The Lighthouse Mouse",
                "cosy whimsical",
                "a brave little mouse keeps the lighthouse lamp burning when the keeper falls ill",
            ),
            (
                "Moss & Button",
                "whimsical funny",
                "two button-eyed rag dolls sneak out of a toy shop for one night of adventure",
            ),
            (
                "Captain Kettle",
                "funny whimsical",
                "a runaway kettle sails down the river in a teacup to find its way home",
            ),
            (
                "The Paper Fox",
                "melancholic whimsical",
                "an origami fox comes to life and searches the city for the child who folded it",
            ),
            (
                "Sprocket's Big Adventure",
                "funny uplifting",
                "a tin robot with a squeaky wheel builds a rocket out of junk to visit the Moon",
            ),
            (
                "Starling Street",
                "cosy uplifting",
                "a curious young starling brings a quarrelling street of neighbours together",
            ),
            (
                "The Snow Giant's Lullaby",
                "cosy melancholic",
                "a snow giant's daughter has one winter night to sing the mountains to sleep",
            ),
            ("Tumbleweed Town", "funny", "a shy hedgehog becomes the unlikely sheriff of a desert town"),
        ],
    },
    "documentary": {
        "noun": "documentary",
        "zh_noun": "纪录片",
        "runtime": (75, 110),
        "age_ratings": ["U", "PG", "12"],
        "subject_included": True,
        "flavour": [
            "The photography is breathtaking.",
            "It's patient, respectful filmmaking that lets its subjects speak.",
            "You'll learn something new in almost every scene.",
            "Intimate interviews sit alongside stunning wide shots.",
        ],
        "audience": [
            "For curious viewers who love nature and real stories.",
            "A great watch for anyone who likes to learn something new.",
            "Recommended for documentary lovers and armchair travellers.",
        ],
        "titles": [
            (
                "Deep Blue Cathedral",
                "thought-provoking",
                "a team of divers films the creatures that live in the total darkness of the deep sea",
            ),
            (
                "The Bread Makers",
                "cosy uplifting",
                "a family of bakers shows how they have made bread by hand for four generations",
            ),
            (
                "Forty Days on the Ice",
                "tense thought-provoking",
                "a scientific crew spends forty days camped on the Antarctic ice",
            ),
            (
                "Street Kitchens at Dawn",
                "uplifting cosy",
                "the camera follows the street cooks who feed a city before sunrise",
            ),
            (
                "Voices of the Rainforest",
                "thought-provoking",
                "rangers explain how they are protecting the rainforest they grew up in",
            ),
            (
                "The Last Shepherds",
                "melancholic thought-provoking",
                "the last nomadic shepherds of a high mountain range move their flocks for the final time",
            ),
            (
                "Chasing the Ultra",
                "uplifting tense",
                "a handful of trail runners race 170 kilometres around a mountain range in under two days",
            ),
            (
                "The Coffee Trail",
                "thought-provoking uplifting",
                "the film traces a single coffee bean from a hillside farm to a city espresso bar",
            ),
            (
                "Mountain Light",
                "uplifting tense",
                "two climbers spend a season chasing the perfect light on the world's great rock walls",
            ),
        ],
    },
    "romance": {
        "noun": "romance",
        "zh_noun": "爱情片",
        "who": [
            "a wedding photographer",
            "a bookshop owner",
            "a burned-out lawyer",
            "a travelling nurse",
            "a café owner",
            "a translator",
            "a piano teacher",
        ],
        "runtime": (90, 122),
        "age_ratings": ["PG", "12", "12"],
        "flavour": [
            "The leads have sparkling chemistry.",
            "It's a love story with real warmth and wit.",
            "Sun-drenched locations make it feel like a holiday.",
            "The romance builds slowly, which makes the ending all the sweeter.",
        ],
        "audience": [
            "Perfect for a date night or a cosy evening in.",
            "For anyone who loves a good love story.",
            "A sweet pick for fans of romantic comedies and happy endings.",
        ],
        "titles": [
            (
                "Letters from Positano",
                "cosy uplifting",
                "finds old love letters hidden in a rented villa and sets out to learn who wrote them",
            ),
            (
                "Summer at the Lavender Inn",
                "cosy funny",
                "spends a summer running a lavender inn with a charming, infuriating co-owner",
            ),
            (
                "The Bookshop on Marlow Lane",
                "cosy",
                "falls for the stranger whose notes keep turning up in second-hand books",
            ),
            ("Two Tickets to Kyoto", "uplifting melancholic", "swaps apartments with a stranger for a month in Kyoto"),
            (
                "Love in the Time of Layovers",
                "funny cosy",
                "keeps bumping into the same stranger on every delayed flight",
            ),
            ("Sunday Mornings", "melancholic cosy", "meets an old flame again while restoring a seaside cinema"),
            (
                "The Wedding Planner's Sister",
                "funny uplifting",
                "agrees to a fake relationship to survive a sister's wedding",
            ),
            (
                "Rain Check",
                "funny cosy",
                "keeps postponing a first date until a storm traps them both in the same café",
            ),
            ("Stargazing for Two", "cosy uplifting", "falls for the astronomer who runs the village stargazing club"),
        ],
    },
    "horror": {
        "noun": "horror film",
        "who": [
            "a sceptical priest",
            "a teenage babysitter",
            "a paranormal podcaster",
            "a single parent",
            "a night-shift caretaker",
            "a newly widowed writer",
        ],
        "zh_noun": "恐怖片",
        "runtime": (86, 115),
        "age_ratings": ["15", "18", "18"],
        "flavour": [
            "The sound design will make your skin crawl.",
            "It relies on dread rather than cheap jump scares.",
            "The creaking old house is almost a character in its own right.",
            "There's one scare in the second half that audiences still talk about.",
        ],
        "audience": [
            "For horror fans who enjoy a slow-building scare.",
            "Watch it with friends, and maybe with the lights on.",
            "A treat for anyone who loves ghost stories.",
        ],
        "titles": [
            (
                "The Hollow Choir",
                "dark tense",
                "joins a village choir whose hymns seem to wake something beneath the church",
            ),
            (
                "Lights Out at Greywater",
                "tense",
                "is trapped overnight in a power cut with something that hates the light",
            ),
            ("Something in the Orchard", "dark", "returns to an orchard where the apples grow in the shape of faces"),
            (
                "The Tenant Upstairs",
                "tense",
                "moves into a flat where someone upstairs never stops pacing, although that flat is empty",
            ),
            ("Bone Lake", "dark tense", "goes camping at a lake where the water is never quite still"),
            ("Static", "tense", "hears a voice in the static of an old baby monitor"),
            (
                "The Dollmaker's House",
                "dark",
                "inherits a dollmaker's house where the dolls rearrange themselves every night",
            ),
            (
                "Nightwalkers of Ashby",
                "dark tense",
                "investigates why the people of Ashby walk onto the moors every night in their sleep",
            ),
            (
                "Below the Floorboards",
                "tense dark",
                "finds a door beneath the floorboards that was nailed shut from the inside",
            ),
        ],
    },
}

# (title, genre, moods, premise) — Chinese-language films with hand-written premises.
ZH_FILMS = [
    (
        "星际归途",
        "science fiction",
        "cosy uplifting",
        "一名在空间站工作了十年的维修工程师终于踏上返回地球的漫长旅程，途中与一台老旧的导航机器人结下了深厚的友谊。",
    ),
    (
        "银河快递",
        "science fiction",
        "funny cosy",
        "一位快递员驾驶着破旧的货运飞船在银河系各个殖民地之间奔波，每一个包裹背后都藏着一个温暖的故事。",
    ),
    ("茶馆里的猫", "comedy", "funny cosy", "老城区一家快要关门的茶馆，因为一只会“算命”的橘猫突然变得门庭若市。"),
    (
        "长江边的夏天",
        "drama",
        "melancholic uplifting",
        "少年在长江边的小镇度过了最后一个暑假，他和外公一起修补渔船，也慢慢读懂了家人的沉默。",
    ),
    (
        "北风之歌",
        "drama",
        "thought-provoking melancholic",
        "一位退休的音乐老师回到东北老家，想在冬天结束之前为村里的孩子们组建一支合唱团。",
    ),
    (
        "雾城追凶",
        "thriller",
        "tense dark",
        "一场大雾笼罩山城，刑警要在七十二小时内追查一桩离奇的失踪案，真相却指向了他自己的过去。",
    ),
    (
        "月亮上的兔子",
        "animation",
        "whimsical cosy",
        "一只住在月亮上的小兔子偷偷溜到人间，想在中秋节之前找到传说中最好吃的月饼。",
    ),
    (
        "山村的味道",
        "documentary",
        "cosy thought-provoking",
        "镜头走进西南山区的村庄，记录村民们一年四季的饭菜，以及食物背后的家族记忆。",
    ),
    (
        "雨巷情书",
        "romance",
        "cosy melancholic",
        "江南小镇的邮递员不断收到寄往同一条雨巷的匿名情书，她决定找出写信的人。",
    ),
    ("老宅夜话", "horror", "dark tense", "一家人搬进祖传的老宅，每到午夜，阁楼里就会传出有人低声讲故事的声音。"),
]

ZH_FILM_MOOD_PHRASES = {
    "cosy": ["温暖治愈，适合在安静的夜晚窝在沙发里慢慢看。", "节奏舒缓、氛围温馨，是一部让人放松的{g}。"],
    "tense": ["节奏紧凑，悬念层层递进，让人屏住呼吸。", "紧张刺激的{g}，直到最后一刻都猜不到结局。"],
    "uplifting": ["积极向上，看完让人心里充满力量。", "一部温暖励志的{g}，适合和家人一起观看。"],
    "melancholic": ["带着淡淡的忧伤，余味悠长。", "细腻而感伤的{g}，看完久久不能平静。"],
    "funny": ["笑点密集，轻松幽默，适合朋友聚会时一起看。", "一部让人捧腹的{g}，烦恼一扫而空。"],
    "whimsical": ["充满奇思妙想，童趣十足。", "画面梦幻、想象力丰富，大人小孩都会喜欢这部{g}。"],
    "thought-provoking": ["引人深思，值得反复回味。", "一部有深度的{g}，看完会让人思考很多。"],
    "dark": ["基调阴郁黑暗，胆小的观众请谨慎观看。", "氛围压抑诡异，是一部真正让人脊背发凉的{g}。"],
}
ZH_FILM_DETAILS = [
    "由{director}执导，片长{runtime_minutes}分钟。",
    "{year}年上映，导演{director}，片长约{runtime_minutes}分钟。",
]

# (name, genres) — invented film directors.
DIRECTORS = [
    ("Mara Ellison", ["science fiction", "drama"]),
    ("Tobias Venn", ["science fiction", "thriller"]),
    ("Ines Calloway", ["comedy", "romance"]),
    ("Ruben Okafor", ["drama", "documentary"]),
    ("Hana Sørlie", ["horror", "thriller"]),
    ("Declan Moor", ["comedy"]),
    ("Priya Raman", ["romance", "drama"]),
    ("Lucas Ferreira", ["thriller", "horror"]),
    ("Yuki Tanabe", ["animation", "science fiction"]),
    ("Odile Marchetti", ["animation", "comedy"]),
    ("Samuel Achterberg", ["documentary"]),
    ("Nadia Koval", ["horror"]),
    ("Felix Brandt", ["science fiction", "documentary"]),
    ("Amara Quist", ["drama", "romance"]),
    ("Jonah Whitlock", ["comedy", "animation"]),
    ("Celeste Arroyo", ["documentary", "drama"]),
    ("Viktor Lund", ["thriller"]),
    ("Elena Rusu", ["romance", "comedy"]),
]
ZH_DIRECTORS = [
    ("林晓舟", ["science fiction", "drama", "animation"]),
    ("陈默", ["thriller", "horror"]),
    ("周雨桐", ["romance", "comedy", "animation"]),
    ("王一川", ["documentary", "drama", "science fiction"]),
]

# ---------------------------------------------------------------------------------------------
# Books
# ---------------------------------------------------------------------------------------------

BOOK_MOOD_PHRASES = {
    "cosy": [
        "A cosy {g} to curl up with on a rainy weekend.",
        "Warm and comforting, it's a cosy {g} with a cup-of-tea feel.",
        "Gentle and charming, it's the cosy {g} you'll want to press on your friends.",
    ],
    "tense": [
        "A tense, page-turning {g} you'll finish in one sitting.",
        "Short chapters and cliffhangers make this tense {g} impossible to put down.",
        "Taut, tense and gripping, it's a {g} that keeps you reading past midnight.",
    ],
    "uplifting": [
        "An uplifting {g} that restores your faith in people.",
        "Hopeful and generous, it's an uplifting {g} for gloomy days.",
        "Warm-hearted and uplifting, it's a {g} that leaves you feeling lighter.",
    ],
    "melancholic": [
        "A melancholic, beautifully written {g} about memory and loss.",
        "Quietly sad and deeply human, it's a melancholic {g} to savour slowly.",
        "Wistful and melancholic, this {g} lingers for weeks.",
    ],
    "funny": [
        "A funny, sparkling {g} with laugh-out-loud dialogue.",
        "Witty and light, it's a funny {g} that makes a perfect holiday read.",
        "Genuinely funny, this {g} is as charming as it is clever.",
    ],
    "whimsical": [
        "A whimsical {g} full of strange, delightful inventions.",
        "Playful and whimsical, it's a {g} that reads like a fairy tale for grown-ups.",
        "Whimsical and inventive, this {g} is a joy to get lost in.",
    ],
    "thought-provoking": [
        "A thought-provoking {g} that changes how you see the world.",
        "Clever and thought-provoking, it's a {g} made for book clubs.",
        "It's a thought-provoking {g} packed with ideas worth arguing about.",
    ],
    "dark": [
        "A dark, atmospheric {g} with a chilling undercurrent.",
        "Bleak and unflinching, it's a dark {g} for readers with strong stomachs.",
        "Dark and brooding, this {g} pulls no punches.",
    ],
}

BOOK_DETAILS = [
    "At {pages} pages, it's {length}.",
    "Published in {year}, it runs to {pages} pages.",
    "This {format} edition has {pages} pages.",
    "{author}'s book was published in {year} and runs to {pages} pages.",
]
BOOK_LENGTH_WORDS = [
    (250, "a quick read"),
    (450, "a satisfying, medium-length read"),
    (10_000, "a long, immersive read"),
]

BOOK_FICTION_TEMPLATES = [
    "{title} follows {who} who {plot}.",
    "In {author}'s {title}, {who} {plot}.",
    "{title} is a {g} about {who} who {plot}.",
]
BOOK_NONFICTION_TEMPLATES = [
    "In {title}, {author} {plot}.",
    "{title} is a {g} in which {author} {plot}.",
    "{author}'s {title} {plot}.",
]

BOOK_GENRES = {
    "crime": {
        "noun": "crime novel",
        "who": [
            "a disgraced detective",
            "a retired inspector",
            "a young constable",
            "a crime reporter",
            "a sharp-eyed pathologist",
            "a small-town librarian",
            "a private investigator",
        ],
        "zh_noun": "推理小说",
        "pages": (260, 470),
        "fiction": True,
        "flavour": [
            "The detective is flawed, funny and impossible not to root for.",
            "The clues are all there, if you're sharp enough to spot them.",
            "The setting is drawn so vividly you can smell the rain.",
            "Its final twist recasts everything that came before.",
        ],
        "audience": [
            "A treat for readers who love a classic whodunnit.",
            "Perfect for fans of police procedurals and detective fiction.",
            "Ideal for anyone who likes to solve the mystery before the detective does.",
        ],
        "titles": [
            (
                "The Ledger of Saint Agnes",
                "dark tense",
                "investigates the death of a convent bookkeeper who knew where the money went",
            ),
            (
                "Nine Bells for Inspector Hale",
                "cosy tense",
                "must solve a murder in a sleepy cathedral town before the bells ring in the new year",
            ),
            ("A Quiet Murder in Wexley", "cosy", "looks into the poisoning of the village's least popular gardener"),
            (
                "The Drowned Alibi",
                "dark tense",
                "realises the suspect's perfect alibi depends on a man who drowned a week earlier",
            ),
            (
                "Cold Case on Copper Street",
                "tense",
                "reopens a thirty-year-old case after a bone turns up in a builder's skip",
            ),
            ("The Glasshouse Killings", "dark", "hunts a killer who leaves orchids at every crime scene"),
            ("Black Tide", "dark tense", "follows a smuggling ring along a storm-battered northern coast"),
            (
                "The Magistrate's Silence",
                "tense thought-provoking",
                "discovers that a respected judge has been hiding evidence for decades",
            ),
            (
                "Murder at the Midnight Market",
                "cosy funny",
                "runs a noodle stall and solves a murder between the evening and the morning rush",
            ),
            (
                "The Widow's Key",
                "tense",
                "inherits the key to a safe-deposit box that three different people are willing to kill for",
            ),
        ],
    },
    "fantasy": {
        "noun": "fantasy novel",
        "who_female": [
            "a young witch",
            "an exiled princess",
            "a fisherman's daughter",
            "a runaway apprentice girl",
        ],
        "who": [
            "a runaway apprentice",
            "a disgraced knight",
            "a young witch",
            "a thief with a conscience",
            "a lighthouse keeper's child",
            "a reluctant hedge wizard",
            "an exiled princess",
        ],
        "zh_noun": "奇幻小说",
        "pages": (320, 720),
        "fiction": True,
        "flavour": [
            "The magic system is clever and never feels like a cheat.",
            "A richly imagined world with a map you'll keep flipping back to.",
            "The dragons are terrifying, and the politics more so.",
            "It's the first of a trilogy, but it stands perfectly on its own.",
        ],
        "audience": [
            "For readers who love epic fantasy and long series.",
            "A must for anyone who grew up on fairy tales and dragons.",
            "Perfect for fans of magic, quests and found families.",
        ],
        "titles": [
            (
                "The Salt Crown",
                "dark",
                "claims a crown carved from sea salt and finds that it dissolves the wearer's memories",
            ),
            (
                "A Song for the Ninth Dragon",
                "uplifting whimsical",
                "sets out to sing the last dragon back to sleep before it wakes the mountains",
            ),
            (
                "The Lantern Thief",
                "whimsical funny",
                "steals enchanted lanterns from a city of wizards to pay off a debt",
            ),
            (
                "Empire of Ash and Honey",
                "dark tense",
                "rises from beekeeper to rebel leader in an empire built on volcanic ash",
            ),
            (
                "The Clockwork Oracle",
                "whimsical thought-provoking",
                "is apprenticed to a clockwork oracle that only ever tells half the truth",
            ),
            ("Where the Moss Kings Sleep", "cosy whimsical", "wanders a forest where every tree remembers an old king"),
            (
                "Daughter of the Tidewitch",
                "dark",
                "must choose between her mother's sea magic and the village that fears it",
            ),
            (
                "The Starless Archive",
                "thought-provoking whimsical",
                "catalogues a library of books that haven't been written yet",
            ),
            ("The Ember Road", "uplifting tense", "escorts a dying fire spirit across a frozen kingdom"),
        ],
    },
    "science fiction": {
        "noun": "science-fiction novel",
        "who": [
            "a ship's engineer",
            "a lonely xenobiologist",
            "a rookie pilot",
            "a station botanist",
            "a retired astronaut",
            "a young cartographer",
        ],
        "zh_noun": "科幻小说",
        "pages": (280, 560),
        "fiction": True,
        "flavour": [
            "The science is rigorous but never gets in the way of the story.",
            "It's big-idea sci-fi with characters you genuinely care about.",
            "The world-building is dense, strange and utterly convincing.",
        ],
        "audience": [
            "For sci-fi readers who like space stories with real ideas.",
            "A must for fans of science fiction and first contact stories.",
            "Perfect for readers who love smart, character-driven sci-fi.",
        ],
        "titles": [
            (
                "The Weight of Small Planets",
                "thought-provoking melancholic",
                "runs a tiny research outpost on an asteroid and receives a message from Earth that changes everything",
            ),
            ("Ninety Days to Ceres", "tense", "has ninety days to stop a mutiny on a mining ship bound for Ceres"),
            (
                "The Gardener of Station Nine",
                "cosy uplifting",
                "grows tomatoes and friendships on a space station nobody else wants to work on",
            ),
            (
                "Protocol Lumen",
                "tense thought-provoking",
                "uncovers why every AI on Earth went silent at the same moment",
            ),
            (
                "Children of the Long Dark",
                "dark thought-provoking",
                "grows up on a generation ship that has forgotten where it is going",
            ),
            ("The Memory Tax", "thought-provoking dark", "lives in a city where people pay their taxes in memories"),
            (
                "Halcyon Relay",
                "tense",
                "staffs a relay station that picks up a distress call from a ship that doesn't exist yet",
            ),
            (
                "A Map of Quiet Stars",
                "cosy melancholic",
                "delivers letters between lonely outposts at the edge of the galaxy",
            ),
        ],
    },
    "literary fiction": {
        "noun": "literary novel",
        "who_female": [
            "a retired teacher called Edith",
            "a young botanist named Iris",
            "a widowed seamstress",
            "a piano teacher called Agnes",
        ],
        "who": [
            "a retired teacher",
            "an ageing watchmaker",
            "a young botanist",
            "a widowed beekeeper",
            "a lonely archivist",
            "a piano teacher",
        ],
        "zh_noun": "文学小说",
        "pages": (210, 420),
        "fiction": True,
        "flavour": [
            "The prose is luminous and precise.",
            "Every character feels like someone you've met.",
            "It's a novel about small moments that turn out to be enormous.",
            "The writing is so good you'll read some sentences twice.",
        ],
        "audience": [
            "A perfect choice for book clubs.",
            "For readers who love quiet, beautifully written novels.",
            "Ideal for a slow weekend with a pot of tea.",
        ],
        "titles": [
            (
                "The Year of Small Mercies",
                "uplifting melancholic",
                "spends a year looking after a neighbour's allotment and the neighbour's secrets",
            ),
            (
                "Salt and Linen",
                "melancholic",
                "returns to the island where her grandmother ran a laundry for the fishing fleet",
            ),
            (
                "The Lighthouse Years",
                "melancholic thought-provoking",
                "looks back on three decades of marriage spent tending a remote lighthouse",
            ),
            (
                "A Field Guide to Leaving",
                "thought-provoking",
                "catalogues the birds of a valley while deciding whether to leave it for good",
            ),
            (
                "The Piano Tuner's Wife",
                "melancholic",
                "discovers her late husband's second life through the pianos he tuned",
            ),
            (
                "Harbour Lights",
                "cosy uplifting",
                "opens a café in a harbour town and gets tangled in the lives of its regulars",
            ),
            (
                "Everything We Kept",
                "melancholic thought-provoking",
                "sorts through a family home with three siblings who remember it very differently",
            ),
            (
                "The Apricot Summer",
                "uplifting cosy",
                "spends one long summer with a grandfather who grows the best apricots in the valley",
            ),
            (
                "Winter Lessons",
                "thought-provoking",
                "teaches in a village school that will close when the last pupil leaves",
            ),
        ],
    },
    "romance": {
        "noun": "romance novel",
        "who_female": [
            "a wedding photographer called Lou",
            "a bookshop owner named Hattie",
            "a burned-out lawyer called Maeve",
            "a pastry chef named June",
        ],
        "who": [
            "a wedding photographer",
            "a bookshop owner",
            "a burned-out lawyer",
            "a café owner",
            "a translator",
            "a pastry chef",
        ],
        "zh_noun": "爱情小说",
        "pages": (260, 400),
        "fiction": True,
        "flavour": [
            "The banter is fizzing and the slow burn is worth every page.",
            "It's a grown-up love story with plenty of heart.",
            "The small-town setting is so charming you'll want to move there.",
        ],
        "audience": [
            "Perfect for a beach holiday or a lazy Sunday.",
            "For anyone who loves an enemies-to-lovers story.",
            "A sweet read for fans of romantic comedies.",
        ],
        "titles": [
            (
                "Love, Unscheduled",
                "funny cosy",
                "keeps missing the same train, and the same handsome commuter, every morning",
            ),
            (
                "The Matchmaker of Bell Street",
                "funny uplifting",
                "runs a matchmaking agency while swearing she'll never fall in love herself",
            ),
            ("Meet Me at the Night Market", "cosy uplifting", "falls for the rival food-stall owner across the aisle"),
            (
                "Second Chances in Seabrook",
                "cosy melancholic",
                "runs into her first love after moving back to her seaside hometown",
            ),
            (
                "The Florist Next Door",
                "cosy funny",
                "trades insults, and then flowers, with the florist who moved in next door",
            ),
            (
                "Snowed In with You",
                "funny cosy",
                "gets snowed in at a mountain lodge with the one colleague she can't stand",
            ),
            (
                "A Recipe for Falling",
                "cosy uplifting",
                "enters a televised baking contest and falls for the judge's nephew",
            ),
        ],
    },
    "history": {
        "noun": "history book",
        "zh_noun": "历史读物",
        "pages": (280, 620),
        "fiction": False,
        "flavour": [
            "It wears its scholarship lightly and reads like a novel.",
            "Maps, letters and photographs bring the period to life.",
            "It's full of surprising stories you won't have heard before.",
        ],
        "audience": [
            "For history lovers and curious readers.",
            "A great gift for anyone who loves narrative history.",
            "Ideal for readers who enjoy big, sweeping non-fiction.",
        ],
        "titles": [
            (
                "The Silk Ledger",
                "thought-provoking",
                "traces ten centuries of trade along the silk routes through the account books of merchants",
            ),
            (
                "Iron and Steam",
                "thought-provoking",
                "tells the story of the railways that reshaped the nineteenth century",
            ),
            (
                "The Cartographers' War",
                "tense thought-provoking",
                "shows how rival map-makers shaped the borders of modern Europe",
            ),
            (
                "Queens of the Northern Sea",
                "uplifting",
                "recovers the forgotten women who ran the trading ports of the north",
            ),
            (
                "Bread and Empire",
                "thought-provoking",
                "explains how grain, bakers and bread riots changed the course of empires",
            ),
            (
                "The Year Without a Summer",
                "dark thought-provoking",
                "recounts the volcanic winter of 1816 and the famine and art it produced",
            ),
            (
                "Lamplighters",
                "cosy thought-provoking",
                "writes a history of the night, from candle-makers to the first electric streetlights",
            ),
        ],
    },
    "cookbook": {
        "noun": "cookbook",
        "zh_noun": "菜谱",
        "pages": (180, 330),
        "fiction": False,
        "flavour": [
            "Every recipe is photographed, and the ingredients are easy to find.",
            "The instructions are clear enough for beginners and interesting enough for keen cooks.",
            "It's the kind of cookbook that ends up splattered with sauce, which is the highest compliment.",
        ],
        "audience": [
            "It makes a thoughtful gift for someone who loves cooking.",
            "A lovely present for a keen home cook.",
            "Great for anyone who wants to cook more at home.",
        ],
        "titles": [
            ("Weeknight Pasta", "", "collects eighty pasta recipes that are on the table in under thirty minutes"),
            (
                "The Cast Iron Kitchen",
                "",
                "shows how to cook, bake and care for cast iron pans, with a hundred recipes from cornbread to steak",
            ),
            ("Salt, Smoke & Fire", "", "teaches barbecue, smoking and open-fire cooking for the back garden"),
            ("Everyday Dumplings", "", "folds, steams and pan-fries dumplings from across Asia, step by step"),
            ("Small Plates for Slow Evenings", "cosy", "gathers tapas-style recipes for long dinners with friends"),
            ("The Sourdough Year", "", "guides home bakers through a year of sourdough loaves, from starter to rye"),
            ("Green Bowl", "uplifting", "offers colourful vegetarian bowls, salads and grains for every season"),
            ("One-Pan Suppers", "cosy", "shares comforting one-pan and one-pot dinners for busy households"),
            (
                "Spice Routes at Home",
                "",
                "brings the spice blends of India, Morocco and the Levant into everyday cooking",
            ),
        ],
    },
    "travel": {
        "noun": "travel book",
        "zh_noun": "旅行读物",
        "pages": (200, 360),
        "fiction": False,
        "flavour": [
            "It's funny, observant and full of practical tips.",
            "You can almost feel the weather on every page.",
            "Hand-drawn maps and route notes make it useful as well as beautiful.",
        ],
        "audience": [
            "A great read for armchair travellers and hikers alike.",
            "Perfect for anyone planning their next adventure.",
            "For readers who love slow travel and long walks.",
        ],
        "titles": [
            (
                "Walking the Alpine Huts",
                "uplifting",
                "hikes from hut to hut across the Alps and shares route notes, maps and mountain food",
            ),
            (
                "A Slow Boat Down the Mekong",
                "cosy thought-provoking",
                "drifts down the Mekong by cargo boat, village by village",
            ),
            (
                "Trail Notes: 1,000 Miles on Foot",
                "uplifting",
                "describes running and hiking a thousand miles of wild trails in a single summer",
            ),
            (
                "The Island Railways",
                "cosy",
                "rides the small railways of remote islands, from tropical branch lines to arctic tracks",
            ),
            ("Coffee Towns", "cosy", "visits the towns where the world's coffee is grown, roasted and obsessed over"),
            (
                "Ninety Miles of Coastline",
                "melancholic uplifting",
                "walks a wild stretch of coastline over one stormy autumn",
            ),
        ],
    },
    "popular science": {
        "noun": "popular-science book",
        "zh_noun": "科普读物",
        "pages": (220, 380),
        "fiction": False,
        "flavour": [
            "Complex ideas are explained with wit and clear diagrams.",
            "It's the rare science book that's genuinely hard to put down.",
            "Every chapter ends with something you'll want to tell a friend.",
        ],
        "audience": [
            "For curious minds of all ages.",
            "A great gift for anyone who loves science.",
            "Ideal for readers who like to learn how things work.",
        ],
        "titles": [
            (
                "The Hidden Kingdom of Fungi",
                "thought-provoking",
                "explores the vast underground networks of fungi that connect forests",
            ),
            (
                "Why Runners Get Faster",
                "uplifting",
                "explains the science of training, from lactate thresholds to recovery and running shoes",
            ),
            (
                "The Secret Physics of the Kitchen",
                "funny thought-provoking",
                "uses everyday cooking to explain heat, chemistry and why bread rises",
            ),
            (
                "Starlight",
                "thought-provoking",
                "tells a short history of the universe through the light of twelve stars",
            ),
            (
                "The Sleeping Brain",
                "thought-provoking",
                "reveals what the brain is doing while we sleep and why it matters",
            ),
            (
                "The Ocean Within",
                "thought-provoking uplifting",
                "dives into the chemistry and biology that link our bodies to the sea",
            ),
        ],
    },
}

# (title, genre, moods, description) — Chinese-language books.
ZH_BOOKS = [
    (
        "雾港谜案",
        "crime",
        "tense dark",
        "港口城市接连发生三起命案，一位刚调来的年轻女警发现，所有线索都指向二十年前的一场沉船事故。",
    ),
    ("山海旧梦", "fantasy", "whimsical", "少年在古籍中发现一张通往山海之间的地图，从此踏上寻找上古神兽的奇幻旅程。"),
    (
        "星河尽头",
        "science fiction",
        "thought-provoking melancholic",
        "人类第一艘星际移民船在航行百年后抵达目的地，船上的人却发现那里早已有人在等候。",
    ),
    ("小城岁月", "literary fiction", "melancholic cosy", "以一座江南小城为背景，讲述三代人在半个世纪里的悲欢离合。"),
    (
        "在咖啡馆遇见你",
        "romance",
        "cosy uplifting",
        "街角的一家咖啡馆里，两个陌生人因为一本借错的书开始了一段温柔的爱情。",
    ),
    ("丝路商旅史", "history", "thought-provoking", "通过商人的账本与书信，讲述丝绸之路上一千年的贸易往来与文化交流。"),
    (
        "家常菜一百道",
        "cookbook",
        "cosy",
        "收录一百道简单易做的中式家常菜，从红烧肉到番茄炒蛋，步骤清晰，新手也能轻松上手。",
    ),
    ("徒步川西", "travel", "uplifting", "作者用一个夏天徒步穿越川西高原，记录雪山、草甸、村落和沿途的徒步路线。"),
    (
        "时间的形状",
        "popular science",
        "thought-provoking",
        "用通俗的语言讲解时间、相对论与宇宙的起源，适合对物理感兴趣的普通读者。",
    ),
]
ZH_BOOK_MOOD_PHRASES = {
    "cosy": "文字温暖舒缓，适合在周末午后泡一壶茶慢慢读。",
    "tense": "情节紧凑、悬念迭起，一翻开就停不下来。",
    "uplifting": "读来令人振奋，给人继续前行的勇气。",
    "melancholic": "笔调细腻而感伤，读后余味悠长。",
    "whimsical": "想象力天马行空，充满东方神话色彩。",
    "thought-provoking": "内容扎实、发人深省，值得反复阅读。",
    "dark": "基调冷峻黑暗，人性刻画入木三分。",
    "funny": "语言幽默风趣，读来十分轻松。",
}
ZH_BOOK_DETAILS = ["全书共{pages}页，{year}年出版。", "作者{author}，{year}年出版，共{pages}页。"]

# (name, genres) — invented authors.
AUTHORS = [
    ("Harriet Vale", ["crime"]),
    ("Owen Lockhart", ["crime"]),
    ("Margot Keane", ["crime", "literary fiction"]),
    ("Isaac Thorne", ["fantasy"]),
    ("Lyra Ashdown", ["fantasy"]),
    ("Rowan Adeyemi", ["fantasy", "science fiction"]),
    ("Kit Halloran", ["science fiction"]),
    ("Selma Novak", ["science fiction", "literary fiction"]),
    ("Ada Finch", ["literary fiction"]),
    ("Benedict Rowe", ["literary fiction", "history"]),
    ("Clara Moss", ["romance"]),
    ("Jules Devereux", ["romance"]),
    ("Ewan Gallagher", ["history"]),
    ("Rosa Delgado", ["cookbook"]),
    ("Tomas Lindqvist", ["cookbook"]),
    ("Bea Okonkwo", ["cookbook", "travel"]),
    ("Anders Holm", ["travel"]),
    ("Freya Castellanos", ["travel", "popular science"]),
    ("Miriam Shah", ["popular science"]),
    ("Leo Brightwater", ["popular science", "history"]),
]
ZH_AUTHORS = [
    ("苏念", ["crime", "romance", "literary fiction"]),
    ("林远", ["science fiction", "popular science", "fantasy"]),
    ("何知秋", ["history", "literary fiction"]),
    ("叶晚晴", ["cookbook", "travel"]),
]
BOOK_FORMATS = ["paperback", "paperback", "hardback", "ebook"]

# ---------------------------------------------------------------------------------------------
# Outdoor and running gear
# ---------------------------------------------------------------------------------------------

# brand -> (usual price tier, gear types it makes)
GEAR_BRANDS = {
    "Northridge": ("premium", ["hiking_boot", "tent", "backpack", "rain_jacket", "sleeping_bag", "trail_shoe"]),
    "Kestrel": (
        "mid-range",
        ["trail_shoe", "road_shoe", "running_jacket", "running_socks", "hydration_vest", "running_tights"],
    ),
    "Vanta": ("budget", ["trail_shoe", "road_shoe", "running_socks", "running_tights", "headlamp", "backpack"]),
    "Fjellmark": ("premium", ["tent", "sleeping_bag", "backpack", "rain_jacket", "hiking_boot"]),
    "Tarn & Tor": ("mid-range", ["hiking_boot", "backpack", "rain_jacket", "tent", "headlamp", "sleeping_bag"]),
    "Redfern": ("budget", ["hiking_boot", "tent", "rain_jacket", "sleeping_bag", "headlamp", "trail_shoe"]),
    "Solvik": ("premium", ["road_shoe", "trail_shoe", "running_jacket", "hydration_vest", "running_socks"]),
}

GEAR_MODELS = [
    "Ridgeline",
    "Scree",
    "Talus",
    "Switchback",
    "Cadence",
    "Tempo",
    "Stratus",
    "Cirrus",
    "Basin",
    "Ember",
    "Glide",
    "Arete",
    "Moraine",
    "Cairn",
    "Fell",
    "Skyline",
    "Torrent",
    "Drift",
    "Pace",
    "Boulder",
    "Heath",
    "Lynx",
    "Harrier",
    "Vireo",
    "Tundra",
    "Zephyr",
    "Gully",
    "Corrie",
    "Beacon",
    "Flint",
    "Kite",
    "Swift",
    "Bracken",
    "Larch",
    "Shale",
    "Bothy",
]
GEAR_SUFFIXES = ["", "", "2", "3", "4", "Pro", "Lite", "Max", "XT"]

GEAR_COLORS = [
    "black",
    "slate grey",
    "forest green",
    "ocean blue",
    "burnt orange",
    "sunset red",
    "sand",
    "moss",
    "navy",
    "volt yellow",
    "plum",
    "glacier white",
]

GEAR_TIER_PHRASES = {
    "budget": [
        "At ${price} it's a cheap, budget-friendly option that doesn't cut corners.",
        "Priced at just ${price}, it's one of the most affordable {plural} we sell.",
        "Great value at ${price}, and ideal if you're shopping on a budget.",
        "An inexpensive pick at ${price} that still feels well made.",
    ],
    "mid-range": [
        "At ${price} it sits in the middle of the range, with good value for the quality.",
        "Mid-priced at ${price}, it balances performance and value.",
        "At ${price}, it's a dependable mid-range choice.",
    ],
    "premium": [
        "At ${price} it's a premium choice, with materials and build quality to match.",
        "A high-end option at ${price}, made to last for years.",
        "Premium-priced at ${price}, it's for people who want the very best {plural}.",
    ],
}
TIER_WORDS = {
    "budget": ["budget-friendly", "affordable", "great-value", "inexpensive"],
    "mid-range": ["well-made", "mid-range", "dependable", "versatile"],
    "premium": ["premium", "high-end", "beautifully made", "top-of-the-range"],
}
WEIGHT_PHRASES = [
    "It weighs about {weight_grams} g.",
    "At around {weight_grams} g, it's {lightness}.",
    "Weight: roughly {weight_grams} g, which is {lightness} for its kind.",
]
LIGHTNESS = ["impressively light", "reasonably light", "solid rather than featherweight"]

# Gear types. ``extra`` says how to draw extra attributes: name -> list of choices (a list of
# per-tier lists when keyed by tier). ``flag_features`` replaces the feature sentence when the
# named boolean attribute is true.
GEAR_TYPES = {
    "trail_shoe": {
        "count": 10,
        "category": "running shoes",
        "terrain": "trail",
        "noun": "trail running shoe",
        "plural": "trail running shoes",
        "title_noun": "Trail Running Shoe",
        "weight": (230, 340),
        "price": {"budget": (49, 75), "mid-range": (95, 135), "premium": (150, 195)},
        "extra": {"drop_mm": [4, 6, 8], "lug_depth_mm": [3.5, 4, 5], "waterproof": [False, False, True]},
        "openers": [
            "The {title} is {a_tier} trail running shoe built for {terrain_phrase}.",
            "Made for {terrain_phrase}, the {title} is {a_tier} trail shoe with a grippy, aggressive outsole.",
            "{A_tier} trail running shoe, the {title} is at home on {terrain_phrase}.",
        ],
        "terrain_phrases": [
            "muddy forest trails",
            "rocky mountain paths",
            "technical, root-strewn singletrack",
            "loose gravel and scree",
            "wet moorland and fell running",
            "dusty summer trails",
        ],
        "features": [
            "Deep {lug_depth_mm} mm lugs give confident grip in mud and on wet rock.",
            "A flexible rock plate protects your feet from sharp stones.",
            "The sticky rubber outsole grips well on slippery roots and wet slabs.",
            "A gusseted tongue keeps grit and small stones out of the shoe.",
            "It stays stable and planted on steep, off-camber descents.",
            "Firm cushioning and a {drop_mm} mm drop give great feel for the trail underfoot.",
        ],
        "flag_features": {"waterproof": "A waterproof membrane keeps feet dry through puddles and wet grass."},
        "audience": [
            "A good pick for trail runners training for their first ultra.",
            "Ideal for weekend runners who want to swap the road for the hills.",
            "Great for muddy winter trail races.",
        ],
    },
    "road_shoe": {
        "count": 10,
        "category": "running shoes",
        "terrain": "road",
        "noun": "road running shoe",
        "plural": "road running shoes",
        "title_noun": "Road Running Shoe",
        "weight": (195, 300),
        "price": {"budget": (45, 70), "mid-range": (100, 140), "premium": (160, 250)},
        "extra": {
            "drop_mm": [6, 8, 10],
            "cushioning": ["plush", "balanced", "firm"],
            "carbon_plate": {"budget": [False], "mid-range": [False], "premium": [True, True, False]},
        },
        "openers": [
            "The {title} is {a_tier} road running shoe for {terrain_phrase}.",
            "Built for {terrain_phrase}, the {title} is {a_tier} road shoe with {cushioning} cushioning.",
            "{A_tier} road running shoe, the {title} is made for {terrain_phrase}.",
        ],
        "terrain_phrases": [
            "daily miles on tarmac",
            "city streets and park loops",
            "tempo runs and race day",
            "long, steady marathon training",
            "easy recovery runs on the road",
        ],
        "features": [
            "A responsive foam midsole gives a smooth, bouncy ride.",
            "The breathable engineered-mesh upper keeps feet cool on hot days.",
            "Its {drop_mm} mm drop suits heel and midfoot strikers alike.",
            "Durable rubber in high-wear zones means it lasts for hundreds of kilometres.",
            "It's {cushioning} underfoot without ever feeling sluggish.",
        ],
        "flag_features": {"carbon_plate": "A full-length carbon plate adds snap for race-day speed."},
        "audience": [
            "Great for runners training for a half or full marathon.",
            "A dependable daily trainer for commuters who run to work.",
            "Ideal for new runners building up to their first 10K.",
        ],
    },
    "hiking_boot": {
        "count": 10,
        "category": "hiking boots",
        "terrain": "mountain",
        "noun": "hiking boot",
        "plural": "hiking boots",
        "title_noun": "Hiking Boot",
        "weight": (450, 820),
        "price": {"budget": (55, 85), "mid-range": (110, 170), "premium": (190, 290)},
        "extra": {"waterproof": [True, True, True, False], "ankle": ["mid", "mid", "high"]},
        "openers": [
            "The {title} is {a_tier} hiking boot for {terrain_phrase}.",
            "Made for {terrain_phrase}, the {title} is {a_tier} {ankle}-cut hiking boot.",
            "{A_tier} hiking boot, the {title} is built for {terrain_phrase}.",
        ],
        "terrain_phrases": [
            "long days in the mountains",
            "rocky alpine paths",
            "muddy hill walks",
            "multi-day treks with a heavy pack",
            "boggy moorland and river crossings",
        ],
        "features": [
            "A lugged rubber outsole bites into mud, scree and wet rock.",
            "A supportive {ankle}-cut collar keeps ankles stable on uneven ground.",
            "A stiff midsole makes carrying a heavy pack much less tiring.",
            "Leather and suede uppers soften nicely and last for years.",
            "A protective toe cap shrugs off rocks and roots.",
        ],
        "flag_features": {
            "waterproof": "A waterproof, breathable membrane keeps feet dry in rain and shallow streams."
        },
        "audience": [
            "Perfect for hillwalkers and backpackers.",
            "A solid choice for your first multi-day trek.",
            "Ideal for hikers who walk in all weathers.",
        ],
    },
    "tent": {
        "count": 8,
        "category": "tents",
        "terrain": "camp",
        "noun": "tent",
        "plural": "tents",
        "title_noun": "Tent",
        "title_pattern": "{brand} {model} {capacity_persons}P Tent",
        "weight": (900, 4200),
        "price": {"budget": (60, 110), "mid-range": (160, 280), "premium": (350, 650)},
        "extra": {"capacity_persons": [1, 2, 2, 3, 4], "season": ["3-season", "3-season", "4-season"]},
        "weight_by": "capacity_persons",
        "openers": [
            "The {title} is {a_tier} {capacity_persons}-person, {season} tent for {terrain_phrase}.",
            "{A_tier} {season} tent that sleeps {capacity_persons}, the {title} is made for {terrain_phrase}.",
        ],
        "terrain_phrases": [
            "wild camping in the hills",
            "festival weekends and family campsites",
            "lightweight backpacking trips",
            "exposed, windy mountain pitches",
            "bikepacking and canoe trips",
        ],
        "features": [
            "It pitches in minutes thanks to colour-coded poles.",
            "Two porches give plenty of room for boots and wet gear.",
            "A low, aerodynamic shape sheds wind and rain.",
            "Mesh panels cut condensation on warm nights.",
            "The fly and inner pitch together, so the inside stays dry in the rain.",
        ],
        "audience": [
            "Great for couples who like to camp in the wild.",
            "A reliable shelter for your first backpacking trip.",
            "Ideal for hikers who want to cut pack weight.",
        ],
    },
    "backpack": {
        "count": 10,
        "category": "backpacks",
        "terrain": "trail",
        "noun": "backpack",
        "plural": "backpacks",
        "title_noun": "Backpack",
        "title_pattern": "{brand} {model} {volume_litres} Backpack",
        "weight": (450, 2300),
        "price": {"budget": (35, 60), "mid-range": (90, 150), "premium": (170, 290)},
        "extra": {"volume_litres": [18, 22, 28, 35, 40, 45, 55, 65]},
        "weight_by": "volume_litres",
        "openers": [
            "The {title} is {a_tier} {volume_litres}-litre backpack for {terrain_phrase}.",
            "With {volume_litres} litres of space, the {title} is {a_tier} pack built for {terrain_phrase}.",
        ],
        "terrain_phrases_by": [
            (28, ["day hikes and fast-packing", "day walks and city commutes", "summit days and short hikes"]),
            (45, ["weekend hut-to-hut trips", "overnight hikes", "two-day treks"]),
            (999, ["multi-day treks and wild camping", "week-long expeditions", "long-distance trails"]),
        ],
        "features": [
            "An adjustable back system spreads the load onto your hips.",
            "Hip-belt pockets keep snacks and a phone within reach.",
            "A built-in rain cover tucks away in the base.",
            "It's hydration-bladder compatible, with a port for the drinking tube.",
            "Side stretch pockets hold bottles you can reach on the move.",
        ],
        "audience": [
            "Great for hikers who like to travel light.",
            "A versatile pack for everything from day walks to weekend trips.",
            "Ideal for long-distance walkers.",
        ],
    },
    "rain_jacket": {
        "count": 5,
        "category": "rain jackets",
        "terrain": "all-terrain",
        "noun": "waterproof rain jacket",
        "plural": "rain jackets",
        "title_noun": "Rain Jacket",
        "weight": (260, 560),
        "price": {"budget": (40, 70), "mid-range": (120, 200), "premium": (260, 420)},
        "extra": {
            "waterproof_rating_mm": {"budget": [10000], "mid-range": [15000, 20000], "premium": [20000, 28000]},
            "packable": [True, False],
        },
        "openers": [
            "The {title} is {a_tier} waterproof jacket for {terrain_phrase}.",
            "Built for {terrain_phrase}, the {title} is {a_tier} rain jacket rated to {waterproof_rating_mm} mm.",
        ],
        "terrain_phrases": [
            "wet hill walks",
            "stormy days in the mountains",
            "city commutes in the rain",
            "long-distance treks in changeable weather",
        ],
        "features": [
            "Taped seams and a {waterproof_rating_mm} mm rating keep heavy rain out.",
            "Pit zips dump heat on steep climbs.",
            "A helmet-compatible hood cinches down in strong wind.",
            "The breathable fabric stops you boiling inside on the uphill.",
        ],
        "flag_features": {"packable": "It packs down into its own pocket."},
        "audience": [
            "A must-have for anyone hiking in rainy climates.",
            "Great for hillwalkers who never trust the forecast.",
            "Ideal for year-round outdoor adventures.",
        ],
    },
    "running_jacket": {
        "count": 3,
        "category": "rain jackets",
        "terrain": "trail",
        "noun": "running rain jacket",
        "plural": "running jackets",
        "title_noun": "Running Jacket",
        "weight": (90, 220),
        "price": {"budget": (35, 55), "mid-range": (90, 140), "premium": (180, 260)},
        "extra": {"waterproof_rating_mm": [10000, 15000, 20000], "reflective": [True, False]},
        "openers": [
            "The {title} is {a_tier}, ultralight running jacket for {terrain_phrase}.",
            "{A_tier} packable rain jacket for runners, the {title} is made for {terrain_phrase}.",
        ],
        "terrain_phrases": [
            "wet trail runs",
            "winter training runs",
            "mountain races with mandatory kit lists",
            "rainy morning runs",
        ],
        "features": [
            "It weighs so little you forget it's in your vest until the rain starts.",
            "A stretchy, breathable fabric moves with you at running pace.",
            "It stuffs into its own chest pocket, smaller than a banana.",
        ],
        "flag_features": {"reflective": "Reflective details keep you visible on dark winter runs."},
        "audience": [
            "Perfect for trail runners who need a jacket for race kit lists.",
            "A great companion for your running shoes on wet days.",
            "Ideal for runners who train through the winter.",
        ],
    },
    "running_socks": {
        "count": 3,
        "category": "running apparel",
        "terrain": "trail",
        "noun": "pair of running socks",
        "plural": "running socks",
        "title_noun": "Running Socks",
        "title_pattern": "{brand} {model} Running Socks ({pack_size}-pack)",
        "weight": (30, 60),
        "price": {"budget": (9, 14), "mid-range": (16, 24), "premium": (26, 38)},
        "extra": {"pack_size": [1, 2, 3], "cushion": ["light", "medium"], "merino": [True, False]},
        "openers": [
            "The {title} are {a_tier} running socks for {terrain_phrase}.",
            "Made for {terrain_phrase}, the {title} are {a_tier} socks that stay put.",
        ],
        "terrain_phrases": [
            "long trail runs",
            "road miles in hot weather",
            "muddy cross-country races",
            "everyday training",
        ],
        "features": [
            "Seamless toes and a snug arch band prevent blisters.",
            "{Cushion}-cushion padding protects heels and forefoot.",
            "Quick-drying fabric wicks away sweat and puddle water.",
        ],
        "flag_features": {"merino": "Merino wool keeps feet warm and odour-free."},
        "audience": [
            "The perfect match for a new pair of running shoes.",
            "A great stocking-filler for runners.",
            "Ideal for ultra runners who spend hours on their feet.",
        ],
    },
    "running_tights": {
        "count": 2,
        "category": "running apparel",
        "terrain": "road",
        "noun": "pair of running tights",
        "plural": "running tights",
        "title_noun": "Running Tights",
        "weight": (140, 260),
        "price": {"budget": (22, 35), "mid-range": (45, 70), "premium": (80, 120)},
        "extra": {"thermal": [True, False]},
        "openers": [
            "The {title} are {a_tier} running tights for {terrain_phrase}.",
            "Made for {terrain_phrase}, the {title} are {a_tier} tights with a comfortable, high waist.",
        ],
        "terrain_phrases": ["cold winter runs", "long training runs", "the trail and the road", "early-morning runs"],
        "features": [
            "A zipped back pocket holds keys and a phone.",
            "Flat seams stop chafing on long runs.",
            "Reflective strips keep you visible after dark.",
        ],
        "flag_features": {"thermal": "Brushed thermal fabric keeps legs warm when it's freezing."},
        "audience": ["Ideal for runners who train all winter.", "A great partner for your road running shoes."],
    },
    "hydration_vest": {
        "count": 3,
        "category": "running apparel",
        "terrain": "trail",
        "noun": "running hydration vest",
        "plural": "hydration vests",
        "title_noun": "Hydration Vest",
        "title_pattern": "{brand} {model} {capacity_litres} Hydration Vest",
        "weight": (180, 360),
        "price": {"budget": (35, 55), "mid-range": (80, 120), "premium": (140, 190)},
        "extra": {"capacity_litres": [5, 8, 12]},
        "openers": [
            "The {title} is {a_tier} {capacity_litres}-litre hydration vest for {terrain_phrase}.",
            "Made for {terrain_phrase}, the {title} is {a_tier} running vest that carries everything you need.",
        ],
        "terrain_phrases": ["ultra-marathons", "long mountain runs", "trail races with mandatory kit"],
        "features": [
            "Two soft flasks sit on the chest so you can drink without breaking stride.",
            "It hugs the body without bouncing, even when full.",
            "Plenty of front pockets hold gels, a phone and a running jacket.",
        ],
        "audience": [
            "Essential kit for trail and ultra runners.",
            "A great upgrade for runners stepping up to longer distances.",
        ],
    },
    "sleeping_bag": {
        "count": 5,
        "category": "sleeping bags",
        "terrain": "camp",
        "noun": "sleeping bag",
        "plural": "sleeping bags",
        "title_noun": "Sleeping Bag",
        "weight": (600, 1900),
        "price": {"budget": (35, 65), "mid-range": (110, 190), "premium": (260, 480)},
        "extra": {"comfort_temp_c": [-10, -5, 0, 3, 5, 8], "fill": ["down", "synthetic"]},
        "openers": [
            "The {title} is {a_tier} {fill} sleeping bag rated to {comfort_temp_c}°C for {terrain_phrase}.",
            "Made for {terrain_phrase}, the {title} is {a_tier} {fill} bag with a comfort rating of {comfort_temp_c}°C.",
        ],
        "terrain_phrases": [
            "summer backpacking",
            "cold spring nights in the hills",
            "winter camping",
            "festival and car camping",
        ],
        "features": [
            "A draught collar and zip baffle keep warm air in.",
            "It compresses small enough to fit in a daypack.",
            "The {fill} fill lofts quickly and keeps you warm through the night.",
            "A roomy footbox lets you sleep in comfort.",
        ],
        "audience": ["Perfect for backpackers and wild campers.", "A cosy pick for your next camping trip."],
    },
    "headlamp": {
        "count": 5,
        "category": "headlamps",
        "terrain": "trail",
        "noun": "head torch",
        "plural": "head torches",
        "title_noun": "Headlamp",
        "title_pattern": "{brand} {model} {lumens} Headlamp",
        "weight": (50, 160),
        "price": {"budget": (15, 28), "mid-range": (35, 60), "premium": (75, 130)},
        "extra": {"lumens": [200, 350, 500, 800, 1200], "rechargeable": [True, True, False]},
        "openers": [
            "The {title} is {a_tier} {lumens}-lumen head torch for {terrain_phrase}.",
            "{A_tier} head torch with {lumens} lumens, the {title} is made for {terrain_phrase}.",
        ],
        "terrain_phrases": ["night runs on the trail", "camping and evening hikes", "early alpine starts"],
        "features": [
            "A red-light mode keeps your night vision intact.",
            "The strap stays put even when you're running.",
            "A reactive beam adjusts its brightness automatically.",
        ],
        "flag_features": {"rechargeable": "It charges over USB-C and lasts all night on the low setting."},
        "audience": ["A must for winter runners and campers.", "Ideal for anyone who heads out before sunrise."],
    },
}

# (gear type, title, brand, tier, description, attribute overrides) — Chinese-language listings.
ZH_GEAR = [
    (
        "trail_shoe",
        "山岚 轻量越野跑鞋",
        "Vanta",
        "budget",
        "专为山地越野设计的轻量跑鞋，深齿大底在泥地和碎石路面上抓地力出色。",
        {"waterproof": False},
    ),
    (
        "road_shoe",
        "轻羽 城市路跑鞋",
        "Kestrel",
        "mid-range",
        "中底缓震柔软回弹，鞋面透气，适合日常路跑和半程马拉松训练。",
        {},
    ),
    (
        "hiking_boot",
        "云径 防水徒步鞋",
        "Tarn & Tor",
        "mid-range",
        "采用防水透气内衬和耐磨橡胶大底，脚踝支撑稳定，适合多日山地徒步。",
        {"waterproof": True},
    ),
    (
        "tent",
        "星野 双人三季帐篷",
        "Redfern",
        "budget",
        "搭建简单，可容纳两人，春夏秋三季露营都很合适，防风又防雨。",
        {"capacity_persons": 2, "season": "3-season"},
    ),
    (
        "rain_jacket",
        "雨行 户外防水冲锋衣",
        "Fjellmark",
        "premium",
        "三层防水面料配合压胶工艺，适合雨天徒步和高山露营。",
        {},
    ),
    (
        "backpack",
        "远山 40升登山背包",
        "Northridge",
        "premium",
        "40升容量，背负系统贴合舒适，适合两到三天的登山徒步。",
        {"volume_litres": 40},
    ),
]
ZH_TIER_PHRASES = {
    "budget": "价格亲民，只要{price}美元，性价比很高。",
    "mid-range": "售价{price}美元，价格适中，品质可靠。",
    "premium": "售价{price}美元，高端做工，用料考究。",
}
ZH_WEIGHT_PHRASE = "重量约{weight_grams}克。"

# ---------------------------------------------------------------------------------------------
# Home and kitchen
# ---------------------------------------------------------------------------------------------

# brand -> (usual price tier, categories it makes)
HOME_BRANDS = {
    "Hearthwell": ("mid-range", ["cookware", "bakeware", "kitchen tools", "storage"]),
    "Copperleaf": ("premium", ["cookware", "tea sets", "tableware"]),
    "Aokiri": ("premium", ["knives", "tea sets", "kitchen tools"]),
    "Maison Ondine": ("premium", ["tableware", "tea sets", "bakeware"]),
    "Oakhollow": ("budget", ["kitchen tools", "storage", "tableware", "bakeware"]),
    "Crema Lab": ("mid-range", ["coffee makers", "storage", "tableware"]),
    "Dapple Home": (
        "budget",
        ["cookware", "coffee makers", "storage", "knives", "kitchen tools", "bakeware", "tea sets"],
    ),
    "Qinghe": ("mid-range", ["tea sets", "tableware", "cookware"]),
}
HOME_LINES = [
    "Heritage",
    "Atelier",
    "Everyday",
    "Nordic",
    "Artisan",
    "Classic",
    "Studio",
    "Harvest",
    "Origin",
    "Fieldstone",
    "Hearth",
    "Pro",
    "Signature",
    "Essentials",
]

# Typical mid-range price (USD) of each product; budget and premium listings scale it.
HOME_BASE_PRICES = {
    "cast iron skillet": 45,
    "Dutch oven": 95,
    "saucepan": 45,
    "wok": 40,
    "sauté pan": 120,
    "non-stick frying pan": 35,
    "stockpot": 60,
    "grill pan": 45,
    "chef's knife": 85,
    "santoku knife": 75,
    "paring knife": 25,
    "bread knife": 35,
    "knife block set": 150,
    "whetstone": 40,
    "espresso machine": 350,
    "French press": 35,
    "moka pot": 35,
    "pour-over dripper set": 35,
    "burr grinder": 90,
    "gooseneck kettle": 60,
    "cold brew maker": 30,
    "filter coffee machine": 80,
    "tea set": 55,
    "cast iron teapot": 50,
    "glass teapot with infuser": 28,
    "matcha set": 40,
    "gongfu tea set": 60,
    "temperature-control kettle": 70,
    "loaf tin": 15,
    "springform cake tin": 20,
    "proofing basket": 18,
    "baking stone": 40,
    "muffin tray": 16,
    "bread cloche": 60,
    "baking sheet set": 28,
    "wooden spoon set": 20,
    "digital kitchen scale": 25,
    "grater": 18,
    "mortar and pestle": 30,
    "chopping board": 60,
    "spatula set": 15,
    "pepper mill": 30,
    "dinner set": 90,
    "mug set": 35,
    "pasta bowl set": 45,
    "serving platter": 40,
    "napkin set": 30,
    "espresso cup set": 35,
    "wine glass set": 45,
    "storage jar set": 30,
    "coffee canister": 28,
    "spice rack": 35,
    "bread bin": 40,
    "lunch box": 30,
    "food wrap set": 18,
    # the Chinese listings, by title
    "铸铁珐琅炖锅": 95,
    "手工紫砂茶具套装": 70,
    "大马士革钢主厨刀": 85,
    "手冲咖啡壶套装": 60,
    "竹制蒸笼（两层）": 25,
    "青瓷餐具四件套": 45,
    "不粘煎锅 28厘米": 35,
}
HOME_TIER_FACTORS = {"budget": (0.45, 0.7), "mid-range": (0.85, 1.2), "premium": (1.6, 2.5)}
HOME_COUNTS = {
    "cookware": 12,
    "knives": 8,
    "coffee makers": 8,
    "tea sets": 7,
    "bakeware": 7,
    "kitchen tools": 8,
    "tableware": 7,
    "storage": 6,
}

# category -> [(noun, [materials], [variants], [uses], [features])]
HOME_PRODUCTS = {
    "cookware": [
        (
            "cast iron skillet",
            ["cast iron"],
            ["24 cm", "26 cm", "30 cm"],
            ["searing steaks", "crispy potatoes", "skillet cornbread", "shakshuka"],
            ["It comes pre-seasoned and only gets better with use.", "It goes from hob to oven to table."],
        ),
        (
            "Dutch oven",
            ["enamelled cast iron"],
            ["4.5 L", "5.5 L"],
            ["slow-cooked stews", "no-knead bread", "braised short ribs", "big pots of chilli"],
            [
                "The heavy lid locks in moisture for tender braises.",
                "It looks good enough to bring straight to the table.",
            ],
        ),
        (
            "saucepan",
            ["stainless steel"],
            ["16 cm", "18 cm", "20 cm"],
            ["silky sauces", "porridge", "boiling eggs", "reheating soup"],
            ["A tri-ply base heats evenly without hot spots.", "Measuring marks inside save you a jug."],
        ),
        (
            "wok",
            ["carbon steel"],
            ["30 cm", "32 cm", "36 cm"],
            ["fast stir-fries", "fried rice", "smoky noodles"],
            ["It heats up in seconds for proper wok hei.", "It's light enough to toss with one hand."],
        ),
        (
            "sauté pan",
            ["copper"],
            ["24 cm", "28 cm"],
            ["delicate sauces", "sautéed greens", "pan-fried fish"],
            [
                "Copper responds instantly when you turn the heat up or down.",
                "It's as beautiful hanging on the wall as it is on the hob.",
            ],
        ),
        (
            "non-stick frying pan",
            ["hard-anodised aluminium"],
            ["20 cm", "24 cm", "28 cm"],
            ["fried eggs", "pancakes", "fluffy omelettes"],
            ["Eggs slide straight off the non-stick surface.", "It's dishwasher-safe for easy weeknight clean-up."],
        ),
        (
            "stockpot",
            ["stainless steel"],
            ["8 L", "12 L"],
            ["homemade stock", "batch-cooked soups", "pasta for a crowd"],
            ["Sturdy handles make it easy to lift even when full.", "A glass lid lets you check without losing heat."],
        ),
        (
            "grill pan",
            ["cast iron"],
            ["26 cm", "28 cm"],
            ["charred vegetables", "griddled chicken", "steaks with proper grill marks"],
            ["Raised ridges give you barbecue-style stripes indoors.", "It holds heat beautifully for a hard sear."],
        ),
    ],
    "knives": [
        (
            "chef's knife",
            ["Damascus steel", "stainless steel", "carbon steel"],
            ["20 cm", "21 cm", "24 cm"],
            ["chopping vegetables", "carving roasts", "finely slicing herbs"],
            [
                "It's so well balanced it feels like an extension of your hand.",
                "The edge is hand-sharpened to a keen 15 degrees.",
            ],
        ),
        (
            "santoku knife",
            ["Damascus steel", "stainless steel"],
            ["17 cm", "18 cm"],
            ["paper-thin slices of fish", "dicing onions", "fine vegetable prep"],
            [
                "A hollow-ground edge stops food from sticking to the blade.",
                "The light blade makes long prep sessions easy.",
            ],
        ),
        (
            "paring knife",
            ["stainless steel", "carbon steel"],
            ["9 cm", "10 cm"],
            ["peeling fruit", "trimming vegetables", "detailed garnish work"],
            ["The short, nimble blade gives precise control.", "A comfortable handle stays secure even when wet."],
        ),
        (
            "bread knife",
            ["stainless steel"],
            ["23 cm", "25 cm"],
            ["crusty sourdough", "soft brioche", "ripe tomatoes"],
            [
                "Deep serrations glide through crust without crushing the crumb.",
                "It's long enough for the biggest loaves.",
            ],
        ),
        (
            "knife block set",
            ["stainless steel"],
            ["5-piece", "7-piece"],
            ["everyday chopping", "carving roast chicken", "slicing crusty bread"],
            [
                "Every knife you need lives in one tidy wooden block.",
                "The blades are forged from a single piece of steel.",
            ],
        ),
        (
            "whetstone",
            ["synthetic stone"],
            ["1000/6000-grit"],
            ["keeping knives razor sharp", "restoring dull blades"],
            [
                "A non-slip base keeps it steady while you sharpen.",
                "The two grits take a blade from dull to mirror-polished.",
            ],
        ),
    ],
    "coffee makers": [
        (
            "espresso machine",
            ["stainless steel"],
            ["single-boiler", "dual-boiler"],
            ["rich espresso", "silky flat whites", "café-style cappuccinos"],
            ["The steam wand makes properly textured milk for latte art.", "It heats up in under a minute."],
        ),
        (
            "French press",
            ["borosilicate glass"],
            ["350 ml", "1 L"],
            ["rich, full-bodied coffee", "cold brew overnight"],
            [
                "A double mesh filter keeps the grounds out of your cup.",
                "It's simple, robust and needs no paper filters.",
            ],
        ),
        (
            "moka pot",
            ["aluminium", "stainless steel"],
            ["3-cup", "6-cup"],
            ["strong stovetop espresso", "Italian-style morning coffee"],
            ["It works on gas, electric and (in steel) induction hobs.", "A classic design that lasts for decades."],
        ),
        (
            "pour-over dripper set",
            ["ceramic"],
            ["2-cup", "4-cup"],
            ["clean, bright filter coffee", "slow weekend brewing"],
            ["Spiral ribs inside give an even extraction.", "It comes with a glass server and a box of filters."],
        ),
        (
            "burr grinder",
            ["stainless steel"],
            ["manual", "electric"],
            ["grinding fresh beans", "dialling in espresso"],
            [
                "Conical burrs give a consistent grind.",
                "Forty grind settings cover everything from espresso to cold brew.",
            ],
        ),
        (
            "gooseneck kettle",
            ["stainless steel"],
            ["0.9 L", "1 L"],
            ["precise pour-over brewing", "making tea at the right temperature"],
            [
                "The slim spout gives total control over your pour.",
                "A built-in thermometer shows the water temperature.",
            ],
        ),
        (
            "cold brew maker",
            ["borosilicate glass"],
            ["1 L", "1.5 L"],
            ["smooth cold brew", "iced coffee on summer mornings"],
            [
                "Just add ground coffee and water, then leave it in the fridge overnight.",
                "A fine mesh filter lifts straight out.",
            ],
        ),
        (
            "filter coffee machine",
            ["stainless steel"],
            ["10-cup", "12-cup"],
            ["coffee for the whole household", "slow Sunday breakfasts"],
            ["A programmable timer has coffee ready when you wake up.", "A thermal carafe keeps coffee hot for hours."],
        ),
    ],
    "tea sets": [
        (
            "tea set",
            ["porcelain"],
            ["4-piece", "6-piece"],
            ["afternoon tea", "quiet mornings with loose-leaf tea"],
            ["The fine porcelain is light and almost translucent.", "The teapot pours without a single drip."],
        ),
        (
            "cast iron teapot",
            ["cast iron"],
            ["0.8 L", "1.2 L"],
            ["green tea", "long, slow pots of oolong"],
            ["The enamelled interior won't rust or taint the tea.", "It keeps tea hot for a long time."],
        ),
        (
            "glass teapot with infuser",
            ["borosilicate glass"],
            ["600 ml", "1 L"],
            ["watching blooming teas unfurl", "herbal infusions"],
            ["A removable infuser lets you control the strength.", "It's heat-proof and safe on a warmer."],
        ),
        (
            "matcha set",
            ["ceramic"],
            ["4-piece"],
            ["whisking matcha", "a calm morning ritual"],
            [
                "It includes a bamboo whisk, scoop, bowl and whisk holder.",
                "The hand-glazed bowl is just the right shape for whisking.",
            ],
        ),
        (
            "gongfu tea set",
            ["porcelain"],
            ["8-piece", "10-piece"],
            ["brewing oolong", "sharing tea with friends"],
            [
                "It comes with a draining tray, gaiwan, pitcher and cups.",
                "Small cups make every infusion a little ceremony.",
            ],
        ),
        (
            "temperature-control kettle",
            ["stainless steel"],
            ["1.7 L"],
            ["delicate green teas", "pour-over coffee"],
            [
                "Six presets heat water to the perfect temperature for each tea.",
                "A keep-warm mode holds the temperature for an hour.",
            ],
        ),
    ],
    "bakeware": [
        (
            "loaf tin",
            ["carbon steel"],
            ["450 g", "900 g"],
            ["sandwich loaves", "banana bread"],
            ["A non-stick coating releases loaves cleanly.", "Heavy-gauge steel bakes evenly with no burnt corners."],
        ),
        (
            "springform cake tin",
            ["carbon steel"],
            ["20 cm", "23 cm"],
            ["cheesecakes", "tall celebration cakes"],
            ["A leak-proof base keeps batter where it belongs.", "The clip-release side makes unmoulding easy."],
        ),
        (
            "proofing basket",
            ["rattan"],
            ["round", "oval"],
            ["sourdough loaves", "rustic country bread"],
            ["It gives your loaves that classic spiral flour pattern.", "A linen liner is included for wetter doughs."],
        ),
        (
            "baking stone",
            ["cordierite"],
            ["33 cm", "38 cm"],
            ["crisp pizza bases", "crusty bread"],
            ["It soaks up heat for a blistered, crisp crust.", "It's safe up to 300°C and in the barbecue."],
        ),
        (
            "muffin tray",
            ["carbon steel"],
            ["6-cup", "12-cup"],
            ["muffins", "cupcakes", "Yorkshire puddings"],
            [
                "Deep cups give muffins a tall, bakery-style dome.",
                "Rolled edges make it easy to grip with oven gloves.",
            ],
        ),
        (
            "bread cloche",
            ["stoneware"],
            ["28 cm"],
            ["crackly-crusted sourdough", "artisan bread at home"],
            ["The domed lid traps steam for an open crumb and shiny crust.", "It doubles as a beautiful serving dish."],
        ),
        (
            "baking sheet set",
            ["aluminium"],
            ["3-piece"],
            ["cookies", "roast vegetables", "sheet-pan dinners"],
            ["The sheets never warp, even at high heat.", "They nest together for easy storage."],
        ),
    ],
    "kitchen tools": [
        (
            "wooden spoon set",
            ["olive wood"],
            ["3-piece", "5-piece"],
            ["stirring risotto", "everyday cooking"],
            ["Each spoon is carved from a single piece of wood.", "Wood is gentle on non-stick and enamel pans."],
        ),
        (
            "digital kitchen scale",
            ["stainless steel"],
            ["5 kg", "10 kg"],
            ["precise baking", "weighing coffee beans"],
            ["It weighs in one-gram steps with a tare button.", "The slim design slides into a drawer."],
        ),
        (
            "grater",
            ["stainless steel"],
            ["fine", "coarse"],
            ["zesting lemons", "grating parmesan", "grating fresh ginger"],
            ["Razor-sharp etched teeth make light work of zest.", "A soft-grip handle stays comfortable."],
        ),
        (
            "mortar and pestle",
            ["granite"],
            ["15 cm", "18 cm"],
            ["grinding spices", "pesto", "curry pastes"],
            ["The heavy granite doesn't slide around the worktop.", "An unpolished interior grips seeds as you grind."],
        ),
        (
            "chopping board",
            ["walnut", "oak"],
            ["40 cm", "45 cm"],
            ["carving roasts", "everyday chopping", "serving cheese"],
            ["End-grain construction is kind to knife edges.", "A juice groove catches drips from roasts and fruit."],
        ),
        (
            "spatula set",
            ["silicone"],
            ["3-piece", "4-piece"],
            ["scraping bowls", "folding batter", "stirring sauces"],
            ["Heat-resistant to 250°C.", "One-piece construction means nowhere for food to hide."],
        ),
        (
            "pepper mill",
            ["beech wood", "walnut"],
            ["18 cm", "22 cm"],
            ["freshly ground pepper", "seasoning at the table"],
            ["A ceramic mechanism adjusts from fine to coarse.", "It's easy to refill from the top."],
        ),
    ],
    "tableware": [
        (
            "dinner set",
            ["stoneware"],
            ["12-piece", "16-piece"],
            ["everyday meals", "dinner parties"],
            ["Reactive glazes make every piece slightly different.", "It's dishwasher- and microwave-safe."],
        ),
        (
            "mug set",
            ["ceramic"],
            ["set of 2", "set of 4"],
            ["morning coffee", "big mugs of tea"],
            ["Generous handles fit the whole hand.", "Each mug holds a proper 350 ml."],
        ),
        (
            "pasta bowl set",
            ["stoneware"],
            ["set of 4"],
            ["pasta", "salads", "noodle soups"],
            ["Wide rims make every dish look restaurant-plated.", "They stack neatly in the cupboard."],
        ),
        (
            "serving platter",
            ["porcelain"],
            ["36 cm", "40 cm"],
            ["Sunday roasts", "sharing plates", "cheese boards"],
            ["It's big enough for a whole roast chicken.", "A classic white glaze suits any table."],
        ),
        (
            "napkin set",
            ["linen"],
            ["set of 4", "set of 6"],
            ["dinner parties", "everyday table setting"],
            ["Stonewashed linen gets softer with every wash.", "No ironing needed: the rumpled look is the point."],
        ),
        (
            "espresso cup set",
            ["porcelain"],
            ["set of 4", "set of 6"],
            ["after-dinner espresso", "macchiatos"],
            ["Thick walls keep espresso hot.", "Each cup comes with a matching saucer."],
        ),
        (
            "wine glass set",
            ["crystal glass"],
            ["set of 4"],
            ["a good bottle of red", "celebrations"],
            ["Thin, laser-cut rims feel lovely to drink from.", "They're surprisingly sturdy and dishwasher-safe."],
        ),
    ],
    "storage": [
        (
            "storage jar set",
            ["borosilicate glass"],
            ["set of 3", "set of 6"],
            ["storing pasta", "a tidy pantry"],
            ["Airtight bamboo lids keep food fresh.", "You can see exactly what's inside at a glance."],
        ),
        (
            "coffee canister",
            ["stainless steel"],
            ["500 g", "1 kg"],
            ["keeping coffee beans fresh", "storing loose-leaf tea"],
            ["A one-way valve lets CO2 out without letting air in.", "A date dial tracks when you opened the beans."],
        ),
        (
            "spice rack",
            ["bamboo"],
            ["12-jar", "20-jar"],
            ["organising spices", "a tidy worktop"],
            ["Blank labels let you name every jar yourself.", "Tiered shelves show every jar at once."],
        ),
        (
            "bread bin",
            ["enamelled steel"],
            ["large"],
            ["keeping sourdough fresh", "a tidy worktop"],
            ["A wooden lid doubles as a chopping board.", "Air vents stop bread going soggy."],
        ),
        (
            "lunch box",
            ["stainless steel"],
            ["2-tier", "3-tier"],
            ["packed lunches", "leftovers for work"],
            ["The tiers keep sauces and salads apart.", "It's leak-proof and plastic-free."],
        ),
        (
            "food wrap set",
            ["beeswax cotton"],
            ["set of 3", "set of 5"],
            ["wrapping sandwiches", "covering bowls"],
            ["A reusable, plastic-free alternative to cling film.", "Warm hands mould the wraps to any shape."],
        ),
    ],
}

MATERIAL_PHRASES = {
    "cast iron": "Cast iron holds heat like nothing else and lasts for generations.",
    "enamelled cast iron": "Enamelled cast iron spreads heat gently and needs no seasoning.",
    "stainless steel": "Stainless steel is tough, hygienic and easy to keep looking new.",
    "carbon steel": "Carbon steel is tough, conducts heat well and lasts for years.",
    "synthetic stone": "The synthetic stone cuts quickly and stays flat for years.",
    "copper": "Copper gives the most precise heat control of any cookware.",
    "hard-anodised aluminium": "Hard-anodised aluminium is light and heats up fast.",
    "Damascus steel": "The layered Damascus steel has a striking rippled pattern and holds a fine edge.",
    "ceramic": "The ceramic is hand-glazed in soft, earthy colours.",
    "borosilicate glass": "Borosilicate glass copes with boiling water and won't stain.",
    "aluminium": "Aluminium heats fast and evenly.",
    "porcelain": "Fine porcelain is delicate to look at but tough in daily use.",
    "rattan": "Natural rattan wicks moisture from the dough's surface.",
    "cordierite": "Cordierite stone survives big temperature changes without cracking.",
    "stoneware": "Hand-thrown stoneware gives it a warm, rustic character.",
    "olive wood": "Olive wood is dense, naturally antibacterial and beautifully grained.",
    "granite": "Solid granite is heavy enough to crush even the toughest spices.",
    "walnut": "Walnut's dark grain makes it as nice to look at as it is to use.",
    "oak": "Solid oak is hard-wearing and easy to oil.",
    "silicone": "Food-grade silicone won't scratch your pans.",
    "beech wood": "Smooth beech wood feels warm in the hand.",
    "linen": "Pure linen is breathable, absorbent and long-lasting.",
    "crystal glass": "Lead-free crystal glass gives a bright, clear sparkle.",
    "bamboo": "Bamboo is light, renewable and naturally resistant to moisture.",
    "enamelled steel": "Enamelled steel is light, sturdy and easy to wipe clean.",
    "beeswax cotton": "Organic cotton coated in beeswax and tree resin clings gently to food.",
    "clay": "Unglazed clay absorbs the aroma of the tea over the years.",
}

# How the price sentences name a home category in the plural ("the most affordable ... we sell").
HOME_PLURALS = {
    "cookware": "pots and pans",
    "knives": "knives",
    "coffee makers": "coffee makers",
    "tea sets": "tea sets",
    "bakeware": "baking tins and trays",
    "kitchen tools": "kitchen tools",
    "tableware": "pieces of tableware",
    "storage": "storage pieces",
}

HOME_OPENERS = [
    "The {title} is {a_tier} {noun} for {use1} and {use2}.",
    "Perfect for {use1}, the {title} is {a_tier} {noun} made from {material}.",
    "{A_tier} {material} {noun}, the {title} is ideal for {use1}.",
]

HOME_GIFT_PHRASES = {
    "cookware": [
        "It makes a thoughtful gift for someone who loves cooking.",
        "A lovely present for a keen home cook.",
        "Wrap it up for the friend who's always in the kitchen.",
    ],
    "knives": [
        "A perfect gift for someone who loves cooking.",
        "A special present for a serious home cook.",
    ],
    "coffee makers": ["A great gift for coffee lovers.", "The perfect present for a coffee-obsessed friend."],
    "tea sets": ["A lovely gift for tea lovers.", "A beautiful present for anyone who enjoys a quiet cup of tea."],
    "bakeware": ["A lovely gift for keen bakers.", "A great present for someone who loves baking."],
    "kitchen tools": [
        "A handy gift for anyone who loves to cook.",
        "A great stocking-filler for food lovers.",
    ],
    "tableware": ["A lovely housewarming gift.", "A thoughtful wedding or housewarming present."],
    "storage": ["A handy gift for anyone setting up a new kitchen.", "A practical housewarming present."],
}

# (category, title, brand, material, tier, description) — Chinese-language listings.
ZH_HOME = [
    (
        "cookware",
        "铸铁珐琅炖锅",
        "Hearthwell",
        "enamelled cast iron",
        "mid-range",
        "厚实的铸铁锅身受热均匀、保温持久，炖肉、煲汤、烤面包都得心应手。",
    ),
    (
        "tea sets",
        "手工紫砂茶具套装",
        "Qinghe",
        "clay",
        "premium",
        "宜兴紫砂手工制作，一壶四杯，适合冲泡乌龙茶和普洱茶。",
    ),
    (
        "knives",
        "大马士革钢主厨刀",
        "Aokiri",
        "Damascus steel",
        "premium",
        "多层大马士革钢锻造，刀刃锋利持久，切肉切菜都轻松利落。",
    ),
    (
        "coffee makers",
        "手冲咖啡壶套装",
        "Crema Lab",
        "stainless steel",
        "mid-range",
        "包含细口手冲壶、滤杯和分享壶，在家也能冲出咖啡馆水准的手冲咖啡。",
    ),
    (
        "cookware",
        "竹制蒸笼（两层）",
        "Qinghe",
        "bamboo",
        "budget",
        "天然竹子编制，两层设计，蒸包子、饺子和各式点心都很方便。",
    ),
    (
        "tableware",
        "青瓷餐具四件套",
        "Qinghe",
        "porcelain",
        "mid-range",
        "青瓷风格，釉色温润如玉，包括饭碗、汤碗、盘子和汤勺。",
    ),
    (
        "cookware",
        "不粘煎锅 28厘米",
        "Dapple Home",
        "hard-anodised aluminium",
        "budget",
        "不粘涂层，少油也不粘锅，煎蛋、煎饺轻松出锅，适合日常家用。",
    ),
]
ZH_GIFT_PHRASE = "送给爱下厨、爱生活的朋友再合适不过。"

# ---------------------------------------------------------------------------------------------
# Cross-department pairs: (title of one item, title of another) — resolved to ids by title.
# Gear/home items are matched by type instead (see the generator).
# ---------------------------------------------------------------------------------------------

TITLE_PAIRS = [
    ("The Cast Iron Kitchen", "cookware:cast iron skillet"),
    ("The Cast Iron Kitchen", "cookware:grill pan"),
    ("Everyday Dumplings", "竹制蒸笼（两层）"),
    ("Everyday Dumplings", "cookware:wok"),
    ("The Sourdough Year", "bakeware:proofing basket"),
    ("The Sourdough Year", "bakeware:bread cloche"),
    ("Weeknight Pasta", "tableware:pasta bowl set"),
    ("One-Pan Suppers", "cookware:Dutch oven"),
    ("Spice Routes at Home", "kitchen tools:mortar and pestle"),
    ("家常菜一百道", "cookware:wok"),
    ("Why Runners Get Faster", "trail_shoe"),
    ("Why Runners Get Faster", "road_shoe"),
    ("Trail Notes: 1,000 Miles on Foot", "trail_shoe"),
    ("Walking the Alpine Huts", "hiking_boot"),
    ("徒步川西", "云径 防水徒步鞋"),
    ("Chasing the Ultra", "hydration_vest"),
    ("The Coffee Trail", "coffee makers:burr grinder"),
    ("Coffee Towns", "coffee makers:pour-over dripper set"),
    ("The Bread Makers", "bakeware:bread cloche"),
    ("The Secret Physics of the Kitchen", "kitchen tools:digital kitchen scale"),
]

# Type-level pairs inside a department: items of the first type pair with items of the second.
TYPE_PAIRS = [
    ("trail_shoe", "running_socks"),
    ("trail_shoe", "running_jacket"),
    ("trail_shoe", "hydration_vest"),
    ("road_shoe", "running_socks"),
    ("road_shoe", "running_tights"),
    ("hiking_boot", "rain_jacket"),
    ("hiking_boot", "backpack"),
    ("tent", "sleeping_bag"),
    ("tent", "headlamp"),
    ("coffee makers", "storage"),
    ("tea sets", "tableware"),
    ("knives", "kitchen tools"),
]

# ---------------------------------------------------------------------------------------------
# Personas. ``types`` are gear type keys or home categories; ``genres`` film or book genres.
# ---------------------------------------------------------------------------------------------

PERSONAS = [
    {
        "key": "cosy_scifi_cook",
        "count": 6,
        "lang": "en",
        "departments": {"films": 0.55, "home": 0.3, "books": 0.15},
        "genres": ["science fiction", "animation", "cookbook"],
        "moods": ["cosy", "uplifting", "whimsical"],
        "types": ["cookware", "kitchen tools", "bakeware"],
        "favourites": ["Hearthwell", "Yuki Tanabe", "Mara Ellison"],
        "price_tier": None,
        "profiles": [
            "Sci-fi fan who likes cosy films and cooking.",
            "I love gentle, cosy science fiction (more tea on a spaceship than laser battles) and I cook most evenings.",
            "Big fan of feel-good sci-fi movies and animated films; weekends are for slow-cooked stews in my cast iron pot.",
            "Cosy space stories, warm blankets and trying new recipes in the kitchen.",
            "Into thoughtful, comforting science-fiction films and home cooking with good pans.",
        ],
        "extras": [
            "Always on the lookout for a new cookbook.",
            "Would love a proper Dutch oven.",
            "Prefers films that are kind rather than scary.",
            "Reads the odd sci-fi novel too.",
        ],
    },
    {
        "key": "budget_trail_runner",
        "count": 6,
        "lang": "en",
        "departments": {"outdoor": 0.85, "books": 0.15},
        "genres": ["travel", "popular science"],
        "moods": ["uplifting"],
        "types": ["trail_shoe", "running_socks", "running_jacket", "hydration_vest", "headlamp"],
        "favourites": ["Vanta", "Redfern"],
        "price_tier": "budget",
        "profiles": [
            "Trail runner on a budget.",
            "I run muddy trails most weekends and want grippy shoes that don't cost a fortune.",
            "Training for my first trail ultra; looking for cheap but tough kit: shoes, socks and a light rain jacket.",
            "Off-road runner (hills and forests), always hunting for affordable trail running gear.",
            "Weekend fell and trail runner who needs good grip at a low price.",
        ],
        "extras": [
            "Runs early in the morning, so a head torch helps.",
            "Loves reading about the science of running.",
            "Likes Vanta and Redfern kit for the price.",
            "Goes through a pair of shoes every few months.",
        ],
    },
    {
        "key": "premium_road_runner",
        "count": 5,
        "lang": "en",
        "departments": {"outdoor": 0.88, "films": 0.12},
        "genres": ["documentary"],
        "moods": ["uplifting"],
        "types": ["road_shoe", "running_socks", "running_tights", "running_jacket"],
        "favourites": ["Solvik", "Kestrel"],
        "price_tier": "premium",
        "profiles": [
            "Marathon runner who trains on the road and doesn't mind paying for quality shoes.",
            "Road runner chasing a sub-3 marathon; interested in carbon-plated racing shoes and premium running kit.",
            "I run 60 km a week on tarmac and care about cushioning, fit and the best road running shoes.",
            "City runner: half marathons, tempo sessions and top-end running gear.",
        ],
        "extras": [
            "Fan of Solvik and Kestrel.",
            "Watches running documentaries for motivation.",
            "Needs warm tights for winter training.",
        ],
    },
    {
        "key": "crime_reader",
        "count": 6,
        "lang": "en",
        "departments": {"books": 0.72, "films": 0.28},
        "genres": ["crime", "thriller"],
        "moods": ["dark", "tense"],
        "types": [],
        "favourites": ["Harriet Vale", "Owen Lockhart", "Viktor Lund"],
        "price_tier": None,
        "profiles": [
            "Crime novel reader.",
            "I read a crime novel a week: twisty detectives, cold cases and dark thrillers.",
            "Loves murder mysteries, from cosy village whodunnits to grim noir, and the odd thriller film.",
            "Big reader of detective fiction; on the sofa with a tense thriller movie at weekends.",
            "Whodunnits, police procedurals and suspenseful crime films are my thing.",
        ],
        "extras": [
            "Prefers books with a strong detective.",
            "Likes a film night with a good twist.",
            "Reads mostly paperbacks on the commute.",
        ],
    },
    {
        "key": "hiker_camper",
        "count": 6,
        "lang": "en",
        "departments": {"outdoor": 0.75, "films": 0.13, "books": 0.12},
        "genres": ["documentary", "travel"],
        "moods": ["uplifting", "thought-provoking"],
        "types": ["hiking_boot", "tent", "backpack", "sleeping_bag", "rain_jacket", "headlamp"],
        "favourites": ["Tarn & Tor", "Northridge", "Fjellmark"],
        "price_tier": "mid-range",
        "profiles": [
            "Hiker and wild camper who spends weekends in the mountains.",
            "I go on multi-day treks and need reliable boots, a light tent and a comfortable backpack.",
            "Hillwalker and backpacker; loves nature documentaries and travel writing too.",
            "Outdoor enthusiast: hut-to-hut hiking, camping under the stars and good waterproofs.",
        ],
        "extras": ["Looking to upgrade to a lighter tent.", "Enjoys books about long walks.", "Camps in all seasons."],
    },
    {
        "key": "coffee_enthusiast",
        "count": 5,
        "lang": "en",
        "departments": {"home": 0.8, "books": 0.1, "films": 0.1},
        "genres": ["travel", "documentary"],
        "moods": ["cosy", "thought-provoking"],
        "types": ["coffee makers", "tableware", "storage"],
        "favourites": ["Crema Lab"],
        "price_tier": None,
        "profiles": [
            "Coffee lover who brews pour-over every morning.",
            "Home barista: espresso machine, burr grinder and always looking for better coffee gear.",
            "I'm obsessed with coffee: French press, moka pot, nice mugs and anything about coffee-growing regions.",
            "Specialty coffee fan who likes beautiful cups and clever brewing gadgets.",
        ],
        "extras": [
            "Would watch any documentary about coffee farms.",
            "Keeps beans in airtight canisters.",
            "Fan of Crema Lab gear.",
        ],
    },
    {
        "key": "tea_and_literature",
        "count": 5,
        "lang": "en",
        "departments": {"books": 0.5, "home": 0.35, "films": 0.15},
        "genres": ["literary fiction", "history", "drama"],
        "moods": ["melancholic", "thought-provoking", "cosy"],
        "types": ["tea sets", "tableware"],
        "favourites": ["Maison Ondine", "Ada Finch"],
        "price_tier": None,
        "profiles": [
            "Reader of literary fiction who drinks a lot of tea.",
            "Quiet evenings with a pot of loose-leaf tea, a melancholic novel and sometimes a slow drama film.",
            "Loves beautifully written literary novels, history books and handmade tea sets.",
            "Book club member, tea collector and fan of thoughtful, character-driven dramas.",
        ],
        "extras": ["Prefers porcelain teaware.", "Enjoys history when it reads like a novel."],
    },
    {
        "key": "horror_fan",
        "count": 5,
        "lang": "en",
        "departments": {"films": 0.75, "books": 0.25},
        "genres": ["horror", "thriller", "crime", "fantasy"],
        "moods": ["dark", "tense"],
        "types": [],
        "favourites": ["Nadia Koval", "Hana Sørlie"],
        "price_tier": None,
        "profiles": [
            "Horror film fan.",
            "I love horror movies, the darker the better, plus tense thrillers and gothic fiction.",
            "Midnight-movie horror fan: ghost stories, haunted houses and slow-burning dread.",
            "Watches scary films every Friday night and reads dark crime and fantasy.",
        ],
        "extras": ["Prefers atmosphere over jump scares.", "Always up for a creepy book."],
    },
    {
        "key": "family_animation",
        "count": 5,
        "lang": "en",
        "departments": {"films": 0.6, "home": 0.25, "books": 0.15},
        "genres": ["animation", "comedy", "fantasy"],
        "moods": ["whimsical", "funny", "uplifting", "cosy"],
        "types": ["bakeware", "tableware"],
        "favourites": ["Odile Marchetti", "Jonah Whitlock"],
        "price_tier": "budget",
        "profiles": [
            "Parent of two young kids; family movie nights with animated films every weekend.",
            "We watch cartoons and funny family films together and bake at the weekend.",
            "Looking for whimsical animated movies and comedies the whole family enjoys, plus easy baking gear.",
            "Mum of three: animation, silly comedies, fairy-tale books and muffins.",
        ],
        "extras": ["Likes films under 100 minutes for the little ones.", "Bakes birthday cakes at home."],
    },
    {
        "key": "romance_lover",
        "count": 5,
        "lang": "en",
        "departments": {"books": 0.55, "films": 0.45},
        "genres": ["romance", "comedy"],
        "moods": ["cosy", "funny", "uplifting"],
        "types": [],
        "favourites": ["Clara Moss", "Ines Calloway"],
        "price_tier": None,
        "profiles": [
            "Romantic comedy lover.",
            "I adore romance novels and feel-good romantic films with happy endings.",
            "Big fan of cosy love stories, funny rom-coms and summer romance reads.",
            "Reads romance on holiday and watches rom-coms on date night.",
        ],
        "extras": ["Prefers funny over tragic.", "Loves stories set in small seaside towns."],
    },
    {
        "key": "fantasy_scifi_reader",
        "count": 5,
        "lang": "en",
        "departments": {"books": 0.75, "films": 0.25},
        "genres": ["fantasy", "science fiction", "animation"],
        "moods": ["whimsical", "thought-provoking", "tense"],
        "types": [],
        "favourites": ["Isaac Thorne", "Lyra Ashdown", "Kit Halloran"],
        "price_tier": None,
        "profiles": [
            "Fantasy and science-fiction reader.",
            "Epic fantasy, dragons and big-idea science fiction novels; the occasional sci-fi film.",
            "I read a lot of fantasy and sci-fi books, and love clever animated films too.",
            "Speculative-fiction fan: magic systems, space stations and strange worlds.",
        ],
        "extras": ["Always in the middle of a series.", "Likes books with maps at the front."],
    },
    {
        "key": "serious_home_chef",
        "count": 5,
        "lang": "en",
        "departments": {"home": 0.75, "books": 0.25},
        "genres": ["cookbook"],
        "moods": [],
        "types": ["knives", "cookware", "kitchen tools"],
        "favourites": ["Aokiri", "Copperleaf"],
        "price_tier": "premium",
        "profiles": [
            "Serious home cook who invests in premium knives and cookware.",
            "Passionate home chef: Japanese-style knives, copper pans and good cookbooks.",
            "I cook every day and want professional-quality kitchen gear that lasts a lifetime.",
            "Food lover who likes beautiful, high-end cookware and very sharp knives.",
        ],
        "extras": ["Sharpens knives on a whetstone.", "Collects cookbooks."],
    },
    {
        "key": "documentary_history",
        "count": 4,
        "lang": "en",
        "departments": {"films": 0.5, "books": 0.5},
        "genres": ["documentary", "history", "popular science"],
        "moods": ["thought-provoking"],
        "types": [],
        "favourites": ["Samuel Achterberg", "Ewan Gallagher"],
        "price_tier": None,
        "profiles": [
            "Documentary and history buff.",
            "I watch documentaries about nature and science and read popular-history books.",
            "Curious about everything: history, science writing and thought-provoking documentaries.",
            "Non-fiction fan: documentaries, history and popular science.",
        ],
        "extras": ["Particularly likes ocean documentaries.", "Reads about the history of food."],
    },
    {
        "key": "home_baker",
        "count": 4,
        "lang": "en",
        "departments": {"home": 0.7, "books": 0.3},
        "genres": ["cookbook"],
        "moods": [],
        "types": ["bakeware", "kitchen tools", "storage"],
        "favourites": ["Hearthwell", "Oakhollow"],
        "price_tier": None,
        "profiles": [
            "Home baker who makes sourdough every weekend.",
            "I bake bread and cakes and love good tins, proofing baskets and baking books.",
            "Keen baker: sourdough, cakes and pastries, always looking for better bakeware.",
            "Weekend baker who loves cookbooks and kitchen gadgets.",
        ],
        "extras": ["Has a very lively sourdough starter.", "Bakes for the whole street at Christmas."],
    },
    {
        "key": "zh_film_fan",
        "count": 4,
        "lang": "zh",
        "departments": {"films": 0.75, "books": 0.25},
        "genres": ["science fiction", "drama", "romance", "literary fiction"],
        "moods": ["cosy", "uplifting", "melancholic"],
        "types": [],
        "favourites": ["林晓舟", "周雨桐"],
        "price_tier": None,
        "profiles": [
            "喜欢看国产电影，尤其是科幻片和温暖治愈的剧情片。",
            "电影爱好者，爱看中文电影和爱情片，也喜欢读中文小说。",
            "周末喜欢窝在家里看电影，偏爱科幻和文艺片。",
            "喜欢有温度的华语电影和好看的中文书。",
        ],
        "extras": ["最近在找好看的科幻小说。", "不太喜欢恐怖片。"],
    },
    {
        "key": "zh_home_cook",
        "count": 2,
        "lang": "zh",
        "departments": {"home": 0.7, "books": 0.3},
        "genres": ["cookbook"],
        "moods": [],
        "types": ["cookware", "tea sets", "tableware"],
        "favourites": ["Qinghe"],
        "price_tier": None,
        "profiles": [
            "喜欢在家做饭，想买好用的炒锅和蒸笼。",
            "爱下厨也爱喝茶，喜欢中式家常菜和精致的茶具。",
            "家庭主厨，关注厨具和菜谱，平时喜欢研究家常菜。",
        ],
        "extras": ["想找一套好看的餐具。", "喜欢喝乌龙茶。"],
    },
    {
        "key": "zh_hiker",
        "count": 2,
        "lang": "zh",
        "departments": {"outdoor": 0.85, "films": 0.15},
        "genres": ["documentary"],
        "moods": ["uplifting"],
        "types": ["hiking_boot", "tent", "backpack", "trail_shoe", "rain_jacket"],
        "favourites": ["Tarn & Tor", "Redfern"],
        "price_tier": "budget",
        "profiles": [
            "徒步爱好者，周末经常去爬山露营。",
            "喜欢户外徒步和越野跑，需要防水的鞋子和轻便的帐篷。",
            "户外运动爱好者，喜欢登山、露营和看自然纪录片。",
        ],
        "extras": ["计划去川西徒步。", "预算有限，喜欢性价比高的装备。"],
    },
]

# Which persona keys contribute one cold user each (profile, no events).
COLD_PERSONAS = ["cosy_scifi_cook", "crime_reader", "hiker_camper", "coffee_enthusiast", "zh_film_fan"]
