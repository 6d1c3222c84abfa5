"""Built-in word lists: names, places, phone number plans, products.

Plain lists instead of Faker: vectorised picks from small arrays generate a million contacts in
seconds, and the output cannot change when a Faker release reshuffles its locales.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_NAMES_EN = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
    "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Margaret", "Steven", "Sandra",
    "Andrew", "Ashley", "Joshua", "Emily", "Kevin", "Donna", "Brian", "Michelle", "George", "Carol",
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Amelia", "Harper", "Ethan",
    "Chloe", "Grace", "Zoe", "Leo", "Isla", "Jack", "Freya", "Ruby", "Oscar", "Mia",
]
FIRST_NAMES_ES = [
    "María", "José", "Lucía", "Javier", "Sofía", "Carlos", "Valentina", "Alejandro", "Camila", "Diego",
    "Isabella", "Mateo", "Martina", "Sebastián", "Daniela", "Andrés", "Paula", "Jorge", "Elena", "Raúl",
]
FIRST_NAMES_PT = ["João", "Ana", "Pedro", "Beatriz", "Lucas", "Mariana", "Gabriel", "Larissa", "Rafael", "Júlia"]
FIRST_NAMES_DE = ["Lukas", "Anna", "Felix", "Lea", "Jonas", "Hannah", "Paul", "Lena", "Maximilian", "Marie"]
FIRST_NAMES_FR = ["Louis", "Camille", "Hugo", "Chloé", "Arthur", "Léa", "Jules", "Manon", "Gabriel", "Inès"]
FIRST_NAMES_JA = ["Haruto", "Yui", "Sota", "Aoi", "Yuto", "Hina", "Ren", "Sakura", "Kaito", "Mei"]
FIRST_NAMES_NL = ["Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Finn", "Sophie", "Levi", "Anna"]
FIRST_NAMES_IT = ["Francesco", "Giulia", "Alessandro", "Sofia", "Lorenzo", "Aurora", "Matteo", "Ginevra", "Leonardo", "Alice"]

LAST_NAMES_EN = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
    "O'Brien", "Murphy", "Kelly", "Walsh", "Evans", "Hughes", "Edwards", "Wood", "Patel", "Nguyen",
]
LAST_NAMES_ES = ["García", "Martínez", "López", "González", "Rodríguez", "Fernández", "Sánchez", "Pérez", "Gómez", "Díaz"]
LAST_NAMES_PT = ["Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Carvalho", "Almeida", "Ferreira", "Ribeiro"]
LAST_NAMES_DE = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann"]
LAST_NAMES_FR = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"]
LAST_NAMES_JA = ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato"]
LAST_NAMES_NL = ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer"]
LAST_NAMES_IT = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco"]


@dataclass(frozen=True)
class Country:
    code: str
    language: str
    timezone: str
    cities: tuple[tuple[str, str], ...]  # (city, region)
    phone_prefix: str  # E.164 prefix of a mobile range
    phone_first: str  # allowed first digit after the prefix
    phone_rest: int  # random digits after that
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


def _c(code, language, tz, cities, prefix, first, rest, fn, ln) -> Country:
    return Country(code, language, tz, tuple(cities), prefix, first, rest, tuple(fn), tuple(ln))


# Mobile ranges checked with `phonenumbers.is_valid_number` (tests re-check a sample).
COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in [
        _c("US", "en", "America/New_York", [("New York", "NY"), ("Chicago", "IL"), ("Austin", "TX"), ("Seattle", "WA"),
           ("Denver", "CO"), ("Miami", "FL"), ("Los Angeles", "CA"), ("Atlanta", "GA")], "+1212", "23456789", 6,
           FIRST_NAMES_EN, LAST_NAMES_EN),
        _c("CA", "en", "America/Toronto", [("Toronto", "ON"), ("Vancouver", "BC"), ("Montreal", "QC"), ("Calgary", "AB")],
           "+1416", "23456789", 6, FIRST_NAMES_EN, LAST_NAMES_EN),
        _c("GB", "en", "Europe/London", [("London", "England"), ("Manchester", "England"), ("Edinburgh", "Scotland"),
           ("Bristol", "England"), ("Cardiff", "Wales")], "+447400", "0123456789", 5, FIRST_NAMES_EN, LAST_NAMES_EN),
        _c("IE", "en", "Europe/Dublin", [("Dublin", "Leinster"), ("Cork", "Munster"), ("Galway", "Connacht")],
           "+35385", "0123456789", 6, FIRST_NAMES_EN, LAST_NAMES_EN),
        _c("AU", "en", "Australia/Sydney", [("Sydney", "NSW"), ("Melbourne", "VIC"), ("Brisbane", "QLD"), ("Perth", "WA")],
           "+6141", "0123456789", 6, FIRST_NAMES_EN, LAST_NAMES_EN),
        _c("ES", "es", "Europe/Madrid", [("Madrid", "Madrid"), ("Barcelona", "Cataluña"), ("Valencia", "Valencia"),
           ("Sevilla", "Andalucía")], "+346", "0123456789", 7, FIRST_NAMES_ES, LAST_NAMES_ES),
        _c("MX", "es", "America/Mexico_City", [("Ciudad de México", "CDMX"), ("Guadalajara", "Jalisco"),
           ("Monterrey", "Nuevo León"), ("Puebla", "Puebla")], "+5255", "0123456789", 7, FIRST_NAMES_ES, LAST_NAMES_ES),
        _c("BR", "pt", "America/Sao_Paulo", [("São Paulo", "SP"), ("Rio de Janeiro", "RJ"), ("Belo Horizonte", "MG"),
           ("Curitiba", "PR")], "+55119", "0123456789", 7, FIRST_NAMES_PT, LAST_NAMES_PT),
        _c("DE", "de", "Europe/Berlin", [("Berlin", "Berlin"), ("München", "Bayern"), ("Hamburg", "Hamburg"),
           ("Köln", "Nordrhein-Westfalen")], "+49151", "0123456789", 7, FIRST_NAMES_DE, LAST_NAMES_DE),
        _c("FR", "fr", "Europe/Paris", [("Paris", "Île-de-France"), ("Lyon", "Auvergne-Rhône-Alpes"),
           ("Marseille", "Provence-Alpes-Côte d'Azur"), ("Lille", "Hauts-de-France")], "+3361", "0123456789", 6,
           FIRST_NAMES_FR, LAST_NAMES_FR),
        _c("NL", "nl", "Europe/Amsterdam", [("Amsterdam", "Noord-Holland"), ("Rotterdam", "Zuid-Holland"),
           ("Utrecht", "Utrecht")], "+3161", "0123456789", 6, FIRST_NAMES_NL, LAST_NAMES_NL),
        _c("IT", "it", "Europe/Rome", [("Roma", "Lazio"), ("Milano", "Lombardia"), ("Napoli", "Campania")],
           "+39312", "0123456789", 6, FIRST_NAMES_IT, LAST_NAMES_IT),
        _c("JP", "ja", "Asia/Tokyo", [("Tokyo", "Tokyo"), ("Osaka", "Osaka"), ("Yokohama", "Kanagawa"),
           ("Sapporo", "Hokkaido")], "+8190", "123456789", 7, FIRST_NAMES_JA, LAST_NAMES_JA),
    ]
}

# A tenant's audience is mostly local with a tail abroad: home country weight, then the rest.
HOME_SHARE = 0.7

EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me", "aol.com", "gmx.de"]

TAGS_BY_TYPE: dict[str, list[str]] = {
    "church": ["youth", "choir", "small-group", "newcomer", "prayer-team", "online", "family"],
    "ecommerce": ["newsletter", "vip", "wholesale", "gift-buyer", "sale-hunter", "mobile-app", "loyalty"],
    "saas": ["beta", "api-user", "admin", "champion", "at-risk", "webinar", "trial-extended"],
    "nonprofit": ["monthly-giver", "event-attendee", "volunteer", "advocate", "major-donor", "newsletter"],
}

SOURCES = ["signup", "import", "api", "checkout", "event", "referral"]

PRODUCTS_BY_TYPE: dict[str, list[tuple[str, str, float]]] = {
    # (sku, name, base unit price in USD)
    "ecommerce": [("TSHIRT-01", "Organic T-shirt", 24.0), ("HOODIE-02", "Fleece Hoodie", 59.0),
                  ("MUG-03", "Ceramic Mug", 14.0), ("CAP-04", "Baseball Cap", 19.0), ("BAG-05", "Canvas Tote", 29.0),
                  ("SOCK-06", "Wool Socks", 12.0), ("JACKET-07", "Rain Jacket", 129.0), ("BOTTLE-08", "Steel Bottle", 22.0)],
    "saas": [("PLAN-BASIC", "Basic plan (month)", 19.0), ("PLAN-PRO", "Pro plan (month)", 49.0),
             ("SEAT-ADD", "Extra seat", 9.0), ("ADDON-API", "API add-on", 29.0)],
    "nonprofit": [("DON-GEN", "General donation", 25.0), ("DON-PROG", "Programme donation", 50.0),
                  ("EVENT-TIX", "Gala ticket", 75.0), ("MERCH-01", "Supporter pin", 5.0)],
    "church": [("TITHE", "Tithe", 40.0), ("OFFER-MIS", "Missions offering", 20.0), ("BLDG-FUND", "Building fund", 50.0),
               ("RETREAT", "Retreat registration", 90.0)],
}

# Units of tenant currency per US dollar (rounded), and the currency's minor units.
CURRENCY_RATE = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CAD": 1.36, "AUD": 1.52, "BRL": 5.0, "JPY": 150.0}
CURRENCY_DECIMALS = {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "BRL": 2, "JPY": 0}

BOT_USER_AGENTS = [
    "Mozilla/5.0 (compatible; Barracuda Sentinel; +http://www.barracuda.com)",
    "Mozilla/5.0 (compatible; Mimecast-Link-Scanner/1.0)",
    "Proofpoint URL Defense/1.0",
]
HUMAN_USER_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
]
APPLE_MPP_USER_AGENT = "Mozilla/5.0"  # Apple Mail Privacy Protection prefetch: a machine open
