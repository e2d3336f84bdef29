"""The plan of a synthetic camera roll: which events happen on which days, and every shot they produce.

Everything random comes from one ``random.Random(seed)`` in a fixed order, so a seed always gives the same
roll; ``camera_roll.generate`` writes the shots into a DB and fills in the ground truth's item ids.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

# name: (lat, lon, city, region, country, country_code, tz)
CITIES = {
    "berlin": (52.5200, 13.4050, "Berlin", "Berlin", "Germany", "DE", "Europe/Berlin"),
    "potsdam": (52.3906, 13.0645, "Potsdam", "Brandenburg", "Germany", "DE", "Europe/Berlin"),
    "hamburg": (53.5511, 9.9937, "Hamburg", "Hamburg", "Germany", "DE", "Europe/Berlin"),
    "norderstedt": (53.7064, 10.0105, "Norderstedt", "Schleswig-Holstein", "Germany", "DE", "Europe/Berlin"),
    "leipzig": (51.3397, 12.3731, "Leipzig", "Saxony", "Germany", "DE", "Europe/Berlin"),
    "luebeck": (53.8655, 10.6866, "Lübeck", "Schleswig-Holstein", "Germany", "DE", "Europe/Berlin"),
    "munich": (48.1351, 11.5820, "Munich", "Bavaria", "Germany", "DE", "Europe/Berlin"),
    "lisbon": (38.7223, -9.1393, "Lisbon", "Lisbon", "Portugal", "PT", "Europe/Lisbon"),
    "sintra": (38.8029, -9.3817, "Sintra", "Lisbon", "Portugal", "PT", "Europe/Lisbon"),
    "tokyo": (35.6762, 139.6503, "Tokyo", "Tokyo", "Japan", "JP", "Asia/Tokyo"),
    "kyoto": (35.0116, 135.7681, "Kyoto", "Kyoto", "Japan", "JP", "Asia/Tokyo"),
    "osaka": (34.6937, 135.5023, "Osaka", "Osaka", "Japan", "JP", "Asia/Tokyo"),
    "new_york": (40.7128, -74.0060, "New York", "New York", "United States", "US", "America/New_York"),
}

# destination: (cities with their share of days, days, expected title words, domestic)
DESTINATIONS = {
    "lisbon": ([("lisbon", 3), ("sintra", 2)], 5, ["Lisbon", "Sintra"], False),
    "japan": ([("tokyo", 4), ("kyoto", 3), ("osaka", 2)], 9, ["Japan"], False),
    "new_york": ([("new_york", 6)], 6, ["New York"], False),
    "munich": ([("munich", 3)], 3, ["Munich"], True),
}

PEOPLE = {"Anna": "2017-05-14", "Ben": "1985-09-03", "Clara": "03-21"}


@dataclass
class TruthTrip:
    start: date
    end: date
    words: list[str]
    domestic: bool
    item_ids: list[int] = field(default_factory=list)


@dataclass
class Truth:
    seed: int
    home_country: str = "DE"
    move_date: date | None = None
    trips: list[TruthTrip] = field(default_factory=list)
    day_outs: list[date] = field(default_factory=list)
    commute_days: list[date] = field(default_factory=list)
    gatherings: list[date] = field(default_factory=list)
    holidays: list[tuple[date, str]] = field(default_factory=list)
    birthdays: list[tuple[str, date]] = field(default_factory=list)
    bursts: list[list[int]] = field(default_factory=list)
    screenshots: list[int] = field(default_factory=list)
    messenger: list[int] = field(default_factory=list)
    people: dict[str, int] = field(default_factory=dict)
    unnamed_person: int | None = None
    items: int = 0
    faces: int = 0
    first_day: date | None = None
    last_day: date | None = None


@dataclass
class Shot:
    local: datetime
    tz: str
    city: str | None          # None = no GPS
    kind: str = "photo"
    quality: float = 0.5
    phash: int = 0
    people: tuple[str, ...] = ()
    messenger: bool = False
    burst: int | None = None  # burst number
    trip: int | None = None   # trip number
    jitter_km: float = 1.0


class Roll:
    """Plans the shots of ``years`` from ``start``: fixed days first, then trips, days out, parties, ordinary days."""

    def __init__(self, seed: int, start: date, years: int, density: float) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.end = date(start.year + years, start.month, start.day) - timedelta(days=1)
        self.density = density
        self.shots: list[Shot] = []
        self.busy: set[date] = set()
        self.truth = Truth(seed=seed, first_day=start, last_day=self.end)
        self.move = date(start.year + years // 2, 7, 1) if years >= 2 else None
        self.truth.move_date = self.move
        self.bursts = 0

    # -- helpers ------------------------------------------------------------------------------------
    def home(self, day: date) -> str:
        return "hamburg" if self.move and day >= self.move else "berlin"

    def work(self, day: date) -> str:
        return "norderstedt" if self.move and day >= self.move else "potsdam"

    def n(self, lo: int, hi: int) -> int:
        return max(1, round(self.rng.randint(lo, hi) * self.density))

    def hash(self) -> int:
        return self.rng.getrandbits(64) | 1

    def at(self, day: date, hour: float) -> datetime:
        return datetime(day.year, day.month, day.day) + timedelta(seconds=int(hour * 3600))

    def faces(self, p: float = 0.3) -> tuple[str, ...]:
        who = []
        for name, chance in (("Anna", p), ("Ben", p * 0.7), ("Clara", p * 0.3), ("?", p * 0.2)):
            if self.rng.random() < chance:
                who.append(name)
        return tuple(who)

    def burst(self, local: datetime, tz: str, city: str | None, trip: int | None = None,
              people: tuple[str, ...] = ()) -> None:
        self.bursts += 1
        base = self.hash()
        for i in range(self.rng.randint(4, 8)):
            flipped = base
            for _ in range(self.rng.randint(0, 3)):
                flipped ^= 1 << self.rng.randrange(64)
            self.shots.append(Shot(local + timedelta(milliseconds=350 * i), tz, city, quality=self.rng.uniform(0.5, 0.9),
                                   phash=flipped, people=people, burst=self.bursts, trip=trip))

    def session(self, day: date, hour: float, hours: float, count: int, city: str | None, tz: str, *,
                gps_share: float = 0.9, people_p: float = 0.3, trip: int | None = None, bursts: int = 0,
                jitter_km: float = 1.0) -> None:
        times = sorted(self.rng.uniform(hour, hour + hours) for _ in range(count))
        for t in times:
            local = self.at(day, t)
            located = city if self.rng.random() < gps_share else None
            kind = "video" if self.rng.random() < 0.05 else "photo"
            self.shots.append(Shot(local, tz, located, kind=kind, quality=self.rng.uniform(0.2, 0.95),
                                   phash=self.hash(), people=self.faces(people_p), trip=trip, jitter_km=jitter_km))
        for _ in range(bursts):
            local = self.at(day, self.rng.uniform(hour, hour + hours))
            self.burst(local, tz, city if self.rng.random() < gps_share else None, trip, self.faces(people_p))

    def free(self, day: date, margin: int = 1) -> bool:
        return all(day + timedelta(days=k) not in self.busy for k in range(-margin, margin + 1))

    def reserve(self, first: date, last: date) -> None:
        d = first
        while d <= last:
            self.busy.add(d)
            d += timedelta(days=1)

    # -- events -------------------------------------------------------------------------------------
    def plan(self) -> None:
        for year in range(self.start.year, self.end.year + 1):
            # holidays and birthdays first: they are fixed in the calendar
            self.holidays(year)
            self.birthdays(year)
            self.trips(year)
            self.day_outs(year)
            self.parties(year)
        self.ordinary_days()

    def holidays(self, year: int) -> None:
        for d, hour, hours, count, name in ((date(year, 12, 24), 15.5, 6, 30, "Christmas Eve"),
                                            (date(year, 12, 31), 20.5, 4.2, 22, "New Year's Eve")):
            if self.start <= d and d + timedelta(days=1) <= self.end:
                city = self.home(d)
                self.session(d, hour, hours, self.n(count, count + 10), city, "Europe/Berlin", people_p=0.5,
                             bursts=1)
                self.truth.holidays.append((d, name))
                self.reserve(d - timedelta(days=1), d + timedelta(days=1))

    def birthdays(self, year: int) -> None:
        for name in ("Anna", "Ben"):
            month, day = map(int, PEOPLE[name][-5:].split("-"))
            d = date(year, month, day)
            if not (self.start <= d <= self.end) or not self.free(d, 2):
                continue
            city = self.home(d)
            self.session(d, 14, 4, self.n(28, 40), city, "Europe/Berlin", people_p=0.3, bursts=2)
            # the birthday person is on most party photos
            for shot in self.shots[-45:]:
                if shot.local.date() == d and self.rng.random() < 0.6 and name not in shot.people:
                    shot.people = (*shot.people, name)
            self.truth.birthdays.append((name, d))
            self.reserve(d - timedelta(days=2), d + timedelta(days=2))

    def trips(self, year: int) -> None:
        rng = self.rng
        chosen = rng.sample(sorted(DESTINATIONS), 3)
        months = sorted(rng.sample([3, 4, 6, 7, 8, 10], 3))
        for dest, month in zip(chosen, months, strict=True):
            cities, days, words, domestic = DESTINATIONS[dest]
            first = date(year, month, rng.randint(2, 14))
            last = first + timedelta(days=days - 1)
            if first < self.start or last > self.end or not self.free(first, 3) or not self.free(last, 3):
                continue
            if self.move and first <= self.move <= last + timedelta(days=3):
                continue
            self.trip(first, days, cities, words, domestic)

    def free_day(self, year: int, first_month: int, weekdays: tuple[int, ...], attempts: int) -> date | None:
        """A random day of the year on one of ``weekdays``, clear of every other event, or None."""
        for _attempt in range(attempts):
            d = date(year, self.rng.randint(first_month, 11), self.rng.randint(1, 28))
            if d.weekday() in weekdays and self.free(d, 3) and self.start <= d <= self.end:
                return d
        return None

    def day_outs(self, year: int) -> None:
        """Two weekends a year away from everything."""
        for _ in range(2):
            d = self.free_day(year, 2, (5, 6), 20)
            if d is None:
                continue
            target = "luebeck" if self.home(d) == "hamburg" else "leipzig"
            self.session(d, 8.0, 0.5, 2, self.home(d), "Europe/Berlin")
            self.session(d, 10.5, 6.5, self.n(15, 25), target, "Europe/Berlin", gps_share=0.85, bursts=1,
                         jitter_km=3)
            self.session(d, 20.0, 1.0, 2, self.home(d), "Europe/Berlin")
            self.truth.day_outs.append(d)
            self.reserve(d - timedelta(days=1), d + timedelta(days=1))

    def parties(self, year: int) -> None:
        """Four parties at home a year, on Saturdays."""
        for _ in range(4):
            d = self.free_day(year, 1, (5,), 30)
            if d is None:
                continue
            self.session(d, 15, 3.5, self.n(30, 50), self.home(d), "Europe/Berlin", people_p=0.5, bursts=2)
            self.truth.gatherings.append(d)
            self.reserve(d - timedelta(days=1), d + timedelta(days=1))

    def trip(self, first: date, days: int, cities: list[tuple[str, int]], words: list[str], domestic: bool) -> None:
        number = len(self.truth.trips)
        truth = TruthTrip(first, first + timedelta(days=days - 1), words, domestic)
        self.truth.trips.append(truth)
        self.reserve(first - timedelta(days=1), truth.end + timedelta(days=1))
        # the morning of departure at home (with GPS), then the destination
        home = self.home(first)
        self.session(first, 7.0, 1.0, 2, home, "Europe/Berlin")
        schedule = [city for city, share in cities for _ in range(share)]
        skip = self.rng.randrange(2, days - 1) if days >= 7 else None  # one day without photos
        for i in range(days):
            if i == skip:
                continue
            city = schedule[min(i * len(schedule) // days, len(schedule) - 1)]
            tz = CITIES[city][6]
            start_hour = 13.0 if i == 0 else 9.0
            self.session(first + timedelta(days=i), start_hour, 10.0 if i else 8.0, self.n(15, 30), city, tz,
                         gps_share=0.8, people_p=0.3, trip=number, bursts=1 if i % 2 == 0 else 0, jitter_km=4)
        # back home: the next day has GPS photos at home
        self.session(truth.end + timedelta(days=1), 18.0, 2.0, 3, self.home(truth.end), "Europe/Berlin")

    def extras(self) -> None:
        """Screenshots and messenger images with perfect quality scores on any day: they must never be picked."""
        rng = self.rng
        day = self.start
        while day <= self.end:
            if rng.random() < 0.15:
                self.shots.append(Shot(self.at(day, rng.uniform(8, 22)), "Europe/Berlin", None, kind="screenshot",
                                       quality=0.99, phash=self.hash()))
            if rng.random() < 0.15 or day in self.busy and rng.random() < 0.5:
                self.shots.append(Shot(self.at(day, rng.uniform(8, 22)), "Europe/Berlin", None, messenger=True,
                                       quality=0.99, phash=self.hash(), people=self.faces(0.4)))
            day += timedelta(days=1)

    def ordinary_days(self) -> None:
        d = self.start
        while d <= self.end:
            if d not in self.busy:
                if self.rng.random() < 0.55:
                    for _ in range(self.rng.randint(1, 2)):
                        self.session(d, self.rng.uniform(8, 20), 1.0, self.n(1, 5), self.home(d), "Europe/Berlin",
                                     gps_share=0.85, people_p=0.25)
                if d.weekday() < 5 and self.rng.random() < 0.2:
                    self.session(d, 12.0, 1.0, self.n(1, 2), self.work(d), "Europe/Berlin", gps_share=1.0,
                                 people_p=0.05)
                    self.truth.commute_days.append(d)
            d += timedelta(days=1)
