"""The schema as sqlite-utils Migrations. Never edit a step that has shipped: add a new one.

All dates are text: ``taken_at_local`` is the wall-clock time where the photo was taken
(``YYYY-MM-DDTHH:MM:SS[.ffffff]``), ``utc_offset_min`` its offset (0 is a real offset, NULL is
unknown), ``taken_at_utc`` the same instant in UTC for ordering.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("homeroll")


def step_names() -> list[str]:
    """Every schema step this version knows, in order: a DB that has applied one not in it comes from a newer
    homeroll. sqlite-utils has no public list of a set's steps, but on an empty DB every step is pending."""
    return list(step_summaries())


def step_summaries() -> dict[str, str]:
    """Each step's name and what it is for (its docstring's opening phrase), in order: `setup --upgrade`
    lists the ones a DB has yet to apply."""
    empty = Database(memory=True)
    try:
        steps = migrations.pending(empty)
    finally:
        empty.close()
    return {step.name: _opening(step.fn.__doc__) for step in steps}


def _opening(doc: str | None) -> str:
    """A docstring's first sentence or phrase (up to its first ": " or ". "), on one line."""
    text = " ".join((doc or "").split("\n\n")[0].split())
    for stop in (": ", ". "):
        text = text.split(stop)[0]
    return text.rstrip(".") or "(no description)"


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE places (
            id INTEGER PRIMARY KEY,
            city TEXT, region TEXT, country TEXT, country_code TEXT,
            source TEXT NOT NULL DEFAULT 'geonames',
            UNIQUE (city, region, country_code, source)
        );
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,                 -- photo | video | screenshot
            format TEXT,                        -- JPEG, HEIF, PNG, WEBP, AVIF, MPO, MP4, MOV…
            size INTEGER,
            taken_at_local TEXT,
            utc_offset_min INTEGER,
            tz_name TEXT,
            taken_at_source TEXT,
            taken_at_utc TEXT,
            lat REAL, lon REAL,
            place_id INTEGER REFERENCES places(id),
            width INTEGER, height INTEGER,      -- displayed (orientation applied)
            orientation INTEGER,
            camera TEXT,
            duration REAL,
            is_messenger INTEGER NOT NULL DEFAULT 0,
            live_video INTEGER NOT NULL DEFAULT 0,
            sharpness REAL, exposure REAL, quality REAL,
            phash TEXT,
            thumb TEXT,                         -- path relative to the data dir
            faces_scanned INTEGER NOT NULL DEFAULT 0,
            face_count INTEGER NOT NULL DEFAULT 0,
            indexed_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'present' -- present | missing
        );
        CREATE INDEX items_taken ON items (taken_at_utc);
        CREATE INDEX items_faces_todo ON items (faces_scanned) WHERE faces_scanned = 0;
        CREATE TABLE paths (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            root TEXT NOT NULL,
            relpath TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT 'primary', -- primary | live (the MOV half of a Live Photo)
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            seen_at TEXT NOT NULL,
            missing_since TEXT,
            UNIQUE (root, relpath)
        );
        CREATE INDEX paths_item ON paths (item_id);
        CREATE TABLE skipped (
            root TEXT NOT NULL,
            relpath TEXT NOT NULL,
            reason TEXT NOT NULL,
            size INTEGER, mtime_ns INTEGER,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (root, relpath)
        );
        CREATE TABLE geocode_cache (
            key TEXT PRIMARY KEY,               -- provider:lat:lon rounded
            place_id INTEGER REFERENCES places(id),
            fetched_at TEXT NOT NULL
        );
        CREATE TABLE roots (
            path TEXT PRIMARY KEY,
            state TEXT NOT NULL DEFAULT 'online', -- online | offline | missing
            watcher TEXT,                       -- inotify | polling | none
            st_dev INTEGER,
            last_scan_at TEXT,
            note TEXT
        );
        CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT);

        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT,
            birthday TEXT,                      -- MM-DD or YYYY-MM-DD
            cover_face_id INTEGER,
            created_at TEXT NOT NULL
        );
        CREATE TABLE faces (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            top REAL NOT NULL, left REAL NOT NULL, bottom REAL NOT NULL, right REAL NOT NULL,
            det_score REAL,
            size_px INTEGER,
            encoding BLOB,                      -- 128 float32
            person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
            assigned_by TEXT,                   -- auto | user
            crop BLOB,                          -- small JPEG for the TUI
            ignored INTEGER NOT NULL DEFAULT 0  -- belonged to a forgotten person
        );
        CREATE INDEX faces_item ON faces (item_id);
        CREATE INDEX faces_person ON faces (person_id);
        CREATE TABLE person_tombstones (
            id INTEGER PRIMARY KEY,
            centroid BLOB NOT NULL,             -- mean of the forgotten cluster, nothing else
            created_at TEXT NOT NULL
        );

        CREATE TABLE memories (
            id INTEGER PRIMARY KEY,
            stable_key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            user_title TEXT,
            start TEXT NOT NULL, "end" TEXT NOT NULL,
            place TEXT,
            people TEXT,                        -- JSON list of names
            score REAL,
            reason TEXT,
            status TEXT NOT NULL DEFAULT 'suggested', -- suggested | approved | rejected | exported
            cover_item INTEGER REFERENCES items(id),
            user_cover_item INTEGER REFERENCES items(id),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            decided_at TEXT
        );
        CREATE INDEX memories_status ON memories (status);
        CREATE TABLE memory_items (
            memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            picked INTEGER NOT NULL DEFAULT 0,
            rank INTEGER,
            removed_by_user INTEGER NOT NULL DEFAULT 0,
            offered INTEGER NOT NULL DEFAULT 0, -- new since approval: offered, not inserted
            PRIMARY KEY (memory_id, item_id)
        );
        CREATE INDEX memory_items_item ON memory_items (item_id);
        CREATE TABLE exports (
            id INTEGER PRIMARY KEY,
            memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            sidecar TEXT,
            layout TEXT, size TEXT, style TEXT,
            created_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m002_sidecars_and_precision(db: Database) -> None:
    """Dates from XMP, IPTC, sidecars and folder names: how precise each date is, and the files beside a photo.

    - ``items.taken_at_precision``: time | day | month | year. A folder named "1998 Summer holiday"
      dates its scans to the year only; selection keeps those out of day-based memories.
    - ``sidecars``: every ``.xmp`` and Google Takeout ``.json`` the walk saw, with the photo it belongs
      to (NULL for an orphan) and a per-file note when it could not be read. A changed row re-reads
      its photo.
    - ``albums``: a Takeout album folder's own ``metadata.json`` title (title hints for memories).
    - ``name_hints``: people named in a Takeout sidecar, offered (never applied) on the people screen.
    """
    db.executescript(
        """
        ALTER TABLE items ADD COLUMN taken_at_precision TEXT NOT NULL DEFAULT 'time';
        CREATE TABLE sidecars (
            root TEXT NOT NULL,
            relpath TEXT NOT NULL,
            kind TEXT NOT NULL,                 -- xmp | takeout | album
            media_relpath TEXT,                 -- the photo it belongs to; NULL: no such photo
            size INTEGER, mtime_ns INTEGER,
            note TEXT,                          -- why it was not used, if it was not
            seen_at TEXT NOT NULL,
            PRIMARY KEY (root, relpath)
        );
        CREATE INDEX sidecars_media ON sidecars (root, media_relpath);
        CREATE TABLE albums (
            root TEXT NOT NULL,
            folder TEXT NOT NULL,               -- relpath of the folder
            title TEXT NOT NULL,
            source TEXT NOT NULL,               -- takeout
            PRIMARY KEY (root, folder)
        );
        CREATE TABLE name_hints (
            item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            source TEXT NOT NULL,               -- takeout
            PRIMARY KEY (item_id, name, source)
        );
        """
    )


@migrations()
def m003_decision_log(db: Database) -> None:
    """Who made each decision about a memory: a household shares one DB, and "approved" alone
    cannot say whether alice or bob approved it, or whether the service exported it.

    - ``memory_decisions``: one row per household decision (approved | rejected | renamed | removed_item |
      cover | exported), with when (``at``, the DB's clock), who (``by``: the Unix user, ``"alice (as
      homeroll)"`` through sudo) and what (``detail``: the new title, the item id). Written by
      store/decisions.py in the same transaction as the change; the selection's own updates are not
      decisions. Rows go with their memory. Decisions made before this step have no row, so their
      ``decided_by`` is unknown (null), never guessed.

    Only a new, empty table and its index: nothing is rewritten, so it costs the same on a 100k-item DB.
    """
    db.executescript(
        """
        CREATE TABLE memory_decisions (
            id INTEGER PRIMARY KEY,             -- the order they were made in, whatever the clock said
            memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            "by" TEXT NOT NULL,                 -- the Unix user; "alice (as homeroll)" through sudo
            action TEXT NOT NULL,               -- approved | rejected | renamed | removed_item | cover | exported
            detail TEXT                         -- the new title, the item id
        );
        CREATE INDEX memory_decisions_memory ON memory_decisions (memory_id);
        """
    )


@migrations()
def m004_export_outputs(db: Database) -> None:
    """Exports of several kinds: a memory can leave a collage, a video and an album folder in the share.

    - ``exports.output``: collage | video | album, one row per file (or folder) a memory's export left,
      each with the memory's sidecar; a re-export replaces exactly these. Every earlier row is a collage.

    One column with a default: SQLite adds it without rewriting the table.
    """
    db.execute("ALTER TABLE exports ADD COLUMN output TEXT NOT NULL DEFAULT 'collage'")


@migrations()
def m005_household_say(db: Database) -> None:
    """What the household says before a memory exists: hidden people, excluded periods and places, its own
    occasions, and which suggestions a notification already told about.

    - ``people.hidden_at`` / ``hidden_by``: a hidden person (NULL: shown). Their faces stay; no new memory
      shows them or names them (store/hiding.py, memories/hidden.py).
    - ``exclusions``: a period (local dates, both ends included) or a place (a circle around a point, or a
      named place) that no new memory takes photos from, with who said so and why (store/exclusions.py).
    - ``occasions``: the family's own days: one-off or yearly, added by hand or imported from an ICS file
      (``uid``: the event's UID, so a re-import updates instead of duplicating) (store/occasions.py).
    - ``notifications``: the suggestions a digest has told about, so each is told about once (store/notify.py).

    Two columns with no default and new, empty tables: nothing is rewritten, so it costs the same on 100k items.
    """
    db.executescript(
        """
        ALTER TABLE people ADD COLUMN hidden_at TEXT;
        ALTER TABLE people ADD COLUMN hidden_by TEXT;
        CREATE TABLE exclusions (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                 -- period | place
            start TEXT, "end" TEXT,             -- period: local dates YYYY-MM-DD, both included
            lat REAL, lon REAL, radius_km REAL, -- place: a circle
            place_name TEXT,                    -- place: a named place (a stored place's city, region or country)
            reason TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL            -- the Unix user, as in memory_decisions
        );
        CREATE TABLE occasions (
            id INTEGER PRIMARY KEY,
            uid TEXT UNIQUE,                    -- the ICS event's UID; NULL for one added by hand
            title TEXT NOT NULL,
            date TEXT NOT NULL,                 -- YYYY-MM-DD: the (first) day; for a yearly one, the first year
            days INTEGER NOT NULL DEFAULT 1,
            yearly INTEGER NOT NULL DEFAULT 0,
            people TEXT,                        -- JSON list of person names
            source TEXT NOT NULL,               -- cli | tui | ics:<file name>
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT
        );
        CREATE TABLE notifications (
            memory_id INTEGER PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
            sent_at TEXT NOT NULL
        );
        """
    )
