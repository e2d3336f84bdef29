"""Faces and people in the DB: detection results, assignments, and what the household decides.

Face data is biometric, so it lives only here (encodings and crops are BLOBs in the DB, never files),
and ``forget_person`` removes encodings and crops for good: the rows keep only a box (useful for
framing collages), a tombstone keeps the forgotten cluster's centroid so the faces job does not
create that person again, and VACUUM plus a WAL checkpoint clear the freed pages from disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import date
from itertools import islice
from typing import Any

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.errors import UserError
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import sidecars as store_sidecars

ENCODING_DIM = 128
#: items.faces_scanned: 0 = to do, 1 = done, 2 = skipped (reason in kv "faces_skipped:<item id>").
SCANNED, SKIPPED = 1, 2
FACE_FIELDS = ("id", "item_id", "top", "left", "bottom", "right", "det_score", "size_px", "person_id",
               "assigned_by", "ignored")

__all__ = [
    "face_crop", "faces_for_item", "forget_person", "list_faces", "list_people", "merge_people", "move_face",
    "name_person", "people_for_items", "people_names", "person", "person_faces", "person_media", "save_detection",
    "todo_items",
]


# -- the faces job ---------------------------------------------------------------------------------
def todo_items(db: Database, disabled_roots: Iterable[str] = (), limit: int | None = None) -> list[tuple[int, str]]:
    """Present photos (and screenshots: PNGs without camera EXIF land there) not yet scanned for faces.

    Returns (item id, absolute path), leaving out items under a root in ``disabled_roots`` or removed.
    """
    left_out = root_left_out(db, disabled_roots)
    ids = (row[0] for row in db.execute(
        """SELECT id FROM items WHERE faces_scanned = 0 AND kind IN ('photo', 'screenshot') AND state = 'present'
           ORDER BY taken_at_utc DESC, id"""))
    out: list[tuple[int, str]] = []
    while chunk := list(islice(ids, 500)):  # newest first; paths asked for a chunk at a time, as a limit may stop early
        paths = store_items.primary_paths(db, chunk)
        for item_id in chunk:
            if item_id not in paths:
                continue  # every file of it is missing
            root, relpath = paths[item_id][0]
            if left_out(root):
                continue
            out.append((item_id, os.path.join(root, relpath)))
            if limit is not None and len(out) >= limit:
                return out
    return out


def root_left_out(db: Database, disabled_roots: Iterable[str] = ()):
    """root -> whether the faces job leaves its photos out: it is under a ``disabled_roots`` entry, or removed."""
    disabled = [os.path.abspath(os.path.expanduser(str(r))).rstrip(os.sep)
                for r in [*disabled_roots, *store_items.removed_roots(db)]]
    return lambda root: any((root.rstrip(os.sep) + os.sep).startswith(d + os.sep) for d in disabled)


def save_detection(db: Database, item_id: int, faces: list[dict[str, Any]], skipped: str | None = None) -> list[int]:
    """Store one photo's faces (replacing automatic ones from an earlier scan) and mark it scanned."""
    with db.atomic():
        db.execute("DELETE FROM faces WHERE item_id = ? AND (assigned_by IS NULL OR assigned_by = 'auto')", [item_id])
        # Faces the user placed survive a rescan; the same face found again is not stored twice.
        kept = db.execute("SELECT top, left, bottom, right FROM faces WHERE item_id = ?", [item_id]).fetchall()
        faces = [f for f in faces
                 if all(_iou((f["top"], f["left"], f["bottom"], f["right"]), k) < 0.5 for k in kept)]
        ids = []
        for face in faces:
            cur = db.execute(
                """INSERT INTO faces (item_id, top, left, bottom, right, det_score, size_px, encoding, crop)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [item_id, face["top"], face["left"], face["bottom"], face["right"], face["det_score"],
                 face["size_px"], face["encoding"], face["crop"]],
            )
            ids.append(cur.lastrowid)
        db.execute("UPDATE items SET faces_scanned = ?, face_count = ? WHERE id = ?",
                   [SKIPPED if skipped else SCANNED, len(faces) + len(kept), item_id])
        if skipped:
            db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       [f"faces_skipped:{item_id}", skipped])
    return ids


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def skipped_items(db: Database) -> list[dict[str, Any]]:
    rows = db.execute("SELECT id FROM items WHERE faces_scanned = ?", [SKIPPED]).fetchall()
    return [{"item_id": r[0], "reason": store_items.kv_get(db, f"faces_skipped:{r[0]}")} for r in rows]


def _decode(blobs: list[bytes]) -> np.ndarray:
    if not blobs:
        return np.empty((0, ENCODING_DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), ENCODING_DIM)


def encodings(db: Database, where: str, params: list[Any] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(face ids, item ids, person ids or -1, encodings) for faces matching ``where`` that still have an encoding."""
    rows = db.execute(
        f"SELECT id, item_id, COALESCE(person_id, -1), encoding FROM faces WHERE encoding IS NOT NULL AND ({where}) "
        "ORDER BY id", params or []).fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    items = np.array([r[1] for r in rows], dtype=np.int64)
    people = np.array([r[2] for r in rows], dtype=np.int64)
    return ids, items, people, _decode([r[3] for r in rows])


def people_in_items(db: Database, item_ids: Iterable[int], *, with_ignored: bool = True) -> dict[int, set[int]]:
    """item -> people already present in it (a person gets at most one face per photo).

    ``with_ignored=False`` leaves out faces of a forgotten person (name offers must not count them).
    """
    out: dict[int, set[int]] = {}
    ids = sorted(set(int(i) for i in item_ids))
    extra = "" if with_ignored else " AND ignored = 0"
    for lo in range(0, len(ids), 500):
        chunk = ids[lo:lo + 500]
        for item_id, person_id in db.execute(
                f"SELECT item_id, person_id FROM faces WHERE person_id IS NOT NULL{extra} AND item_id IN "
                f"({','.join('?' * len(chunk))})", chunk):
            out.setdefault(item_id, set()).add(person_id)
    return out


def set_people(db: Database, face_ids: Iterable[int], person_ids: Iterable[int]) -> None:
    with db.atomic():
        db.conn.executemany("UPDATE faces SET person_id = ?, assigned_by = 'auto' WHERE id = ? AND person_id IS NULL",
                       [(int(p), int(f)) for f, p in zip(face_ids, person_ids, strict=True)])


def create_person(db: Database, face_ids: Iterable[int]) -> int:
    """A new (unnamed) person from a cluster found by the faces job; the biggest, clearest face is the cover."""
    ids = [int(f) for f in face_ids]
    with db.atomic():
        person_id = db.execute("INSERT INTO people (created_at) VALUES (?)", [store_items.now_iso()]).lastrowid
        db.conn.executemany("UPDATE faces SET person_id = ?, assigned_by = 'auto' WHERE id = ?", [(person_id, f) for f in ids])
        _refresh_cover(db, person_id)
    return person_id


def ignore_faces(db: Database, face_ids: Iterable[int]) -> int:
    """Faces that match a forgotten person: keep the box, drop the encoding and the crop."""
    rows = [(int(f),) for f in face_ids]
    with db.atomic():
        db.conn.executemany("UPDATE faces SET ignored = 1, encoding = NULL, crop = NULL, person_id = NULL, "
                       "assigned_by = NULL WHERE id = ?", rows)
    return len(rows)


def tombstones(db: Database) -> np.ndarray:
    return _decode([r[0] for r in db.execute("SELECT centroid FROM person_tombstones ORDER BY id")])


def watermark(db: Database) -> int:
    return int(store_items.kv_get(db, "faces.assigned_upto", "0") or 0)


def set_watermark(db: Database, face_id: int) -> None:
    store_items.kv_set(db, "faces.assigned_upto", str(int(face_id)))


def _refresh_cover(db: Database, person_id: int) -> None:
    row = db.execute(
        "SELECT id FROM faces WHERE person_id = ? ORDER BY (assigned_by = 'user') DESC, "
        "COALESCE(size_px, 0) * (1 + COALESCE(det_score, 0)) DESC, id LIMIT 1", [person_id]).fetchone()
    db.execute("UPDATE people SET cover_face_id = ? WHERE id = ?", [row[0] if row else None, person_id])


# -- reading -----------------------------------------------------------------------------------------
PEOPLE_SQL = """
SELECT p.id, p.name, p.birthday, p.cover_face_id,
       COUNT(f.id) AS face_count, COUNT(DISTINCT f.item_id) AS item_count
FROM people p LEFT JOIN faces f ON f.person_id = p.id
{where}
GROUP BY p.id
ORDER BY (p.name IS NULL), COUNT(f.id) DESC, p.id
"""


def _person_row(row: tuple) -> dict[str, Any]:
    pid, name, birthday, cover, face_count, item_count = row
    return {"id": pid, "name": name, "birthday": birthday, "face_count": face_count,
            "cover_face_id": cover, "item_count": item_count}


def list_people(db: Database) -> list[dict[str, Any]]:
    """Everyone, named people first, then by how often they appear."""
    return [_person_row(r) for r in db.execute(PEOPLE_SQL.format(where=""))]


def person(db: Database, person_id: int) -> dict[str, Any] | None:
    row = db.execute(PEOPLE_SQL.format(where="WHERE p.id = ?"), [person_id]).fetchone()
    return _person_row(row) if row else None


def _face_rows(db: Database, where: str, params: list[Any], limit: int | None = None) -> list[dict[str, Any]]:
    sql = (f"SELECT f.id, f.item_id, f.top, f.left, f.bottom, f.right, f.det_score, f.size_px, f.person_id, "
           f"f.assigned_by, f.ignored, p.name FROM faces f LEFT JOIN people p ON p.id = f.person_id "
           f"WHERE {where} ORDER BY f.id")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    out = []
    for row in db.execute(sql, params):
        face = dict(zip(FACE_FIELDS, row[:-1], strict=True))
        face["ignored"] = bool(face["ignored"])
        face["person_name"] = row[-1]
        out.append(face)
    return out


def person_faces(db: Database, person_id: int, limit: int | None = None) -> list[dict[str, Any]]:
    return _face_rows(db, "f.person_id = ?", [person_id], limit)


def faces_for_item(db: Database, item_id: int) -> list[dict[str, Any]]:
    """Face boxes of one item, normalised 0..1 to the displayed image (orientation applied)."""
    return _face_rows(db, "f.item_id = ?", [item_id])


def list_faces(db: Database, person_id: int | None = None) -> list[dict[str, Any]]:
    """Every face (or one person's) with the absolute path of its photo, for `homeroll faces --json`."""
    faces = _face_rows(db, "f.person_id = ?", [person_id]) if person_id is not None else _face_rows(db, "1", [])
    paths = store_items.item_paths(db, [f["item_id"] for f in faces])
    for face in faces:
        face["path"] = paths.get(face["item_id"])
    return faces


def face_crop(db: Database, face_id: int) -> bytes | None:
    """The small JPEG of one face, for the TUI."""
    row = db.execute("SELECT crop FROM faces WHERE id = ?", [face_id]).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


def people_for_items(db: Database, item_ids: Iterable[int]) -> dict[int, list[int]]:
    """item -> ids of the people recognised in it."""
    return {k: sorted(v) for k, v in people_in_items(db, item_ids).items()}


def people_names(db: Database) -> dict[int, str | None]:
    """person id -> name (None when unnamed), without the face counts ``list_people`` pays for."""
    return dict(db.execute("SELECT id, name FROM people").fetchall())


def person_media(db: Database, person_id: int) -> list[str]:
    """Absolute paths of every present photo this person appears in, oldest first."""
    rows = db.execute(
        """SELECT DISTINCT f.item_id, i.taken_at_utc FROM faces f JOIN items i ON i.id = f.item_id
           WHERE f.person_id = ? AND i.state = 'present' ORDER BY i.taken_at_utc, f.item_id""", [person_id]).fetchall()
    paths = store_items.item_paths(db, [r[0] for r in rows])
    return [paths[r[0]] for r in rows if r[0] in paths]


def cover_path(db: Database, face_id: int | None) -> str | None:
    if face_id is None:
        return None
    row = db.execute("SELECT item_id FROM faces WHERE id = ?", [face_id]).fetchone()
    return store_items.item_paths(db, [row[0]]).get(row[0]) if row else None


# -- what the household decides ------------------------------------------------------------------------
_BIRTHDAY = re.compile(r"^(?:(\d{4})-)?(\d{2})-(\d{2})$")


def check_birthday(value: str) -> str:
    match = _BIRTHDAY.match(value.strip())
    if match:
        year, month, day = match.groups()
        try:
            date(int(year) if year else 2000, int(month), int(day))  # 2000 is a leap year: 02-29 is fine
            return value.strip()
        except ValueError:
            pass
    raise UserError(f"birthday {value!r} is not a date: use MM-DD or YYYY-MM-DD")


def _require_person(db: Database, person_id: int) -> None:
    if db.execute("SELECT 1 FROM people WHERE id = ?", [person_id]).fetchone() is None:
        raise UserError(f"no person with id {person_id} (see `homeroll people`)")


def name_person(db: Database, person_id: int, name: str | None, birthday: str | None = None) -> None:
    """Name a person (None or '' clears the name); a birthday, if given, must be MM-DD or YYYY-MM-DD."""
    _require_person(db, person_id)
    name = name.strip() if name else None
    bday = check_birthday(birthday) if birthday else None
    with db.atomic():
        db.execute("UPDATE people SET name = ? WHERE id = ?", [name or None, person_id])
        if bday is not None:
            db.execute("UPDATE people SET birthday = ? WHERE id = ?", [bday, person_id])


def merge_people(db: Database, keep_id: int, other_id: int) -> None:
    """The user says two people are one: every face of ``other_id`` moves to ``keep_id``."""
    if keep_id == other_id:
        raise UserError("cannot merge a person with itself")
    _require_person(db, keep_id)
    _require_person(db, other_id)
    with db.atomic():
        keep = db.execute("SELECT name, birthday FROM people WHERE id = ?", [keep_id]).fetchone()
        other = db.execute("SELECT name, birthday FROM people WHERE id = ?", [other_id]).fetchone()
        db.execute("UPDATE people SET name = ?, birthday = ? WHERE id = ?",
                   [keep[0] or other[0], keep[1] or other[1], keep_id])
        db.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", [keep_id, other_id])
        db.execute("DELETE FROM people WHERE id = ?", [other_id])
        store_sidecars.drop_declines(db, other_id)
        _refresh_cover(db, keep_id)


def move_face(db: Database, face_id: int, person_id: int | None) -> int:
    """Move one face to a person (None = a new person); returns the target person's id."""
    row = db.execute("SELECT person_id FROM faces WHERE id = ?", [face_id]).fetchone()
    if row is None:
        raise UserError(f"no face with id {face_id} (see `homeroll faces --json`)")
    previous = row[0]
    if person_id is not None:
        _require_person(db, person_id)
    with db.atomic():
        if person_id is None:
            person_id = db.execute("INSERT INTO people (created_at) VALUES (?)", [store_items.now_iso()]).lastrowid
        db.execute("UPDATE faces SET person_id = ?, assigned_by = 'user', ignored = 0 WHERE id = ?", [person_id, face_id])
        _refresh_cover(db, person_id)
        if previous is not None and previous != person_id:
            left = db.execute("SELECT COUNT(*) FROM faces WHERE person_id = ?", [previous]).fetchone()[0]
            named = db.execute("SELECT name FROM people WHERE id = ?", [previous]).fetchone()[0]
            if left == 0 and not named:
                db.execute("DELETE FROM people WHERE id = ?", [previous])
                store_sidecars.drop_declines(db, previous)
            else:
                _refresh_cover(db, previous)
    return person_id


def forget_person(db: Database, person_id: int) -> dict[str, int]:
    """Delete a person's encodings and crops for good; keep a tombstone (the centroid) and the bare boxes."""
    _require_person(db, person_id)
    rows = db.execute("SELECT encoding, crop FROM faces WHERE person_id = ?", [person_id]).fetchall()
    vectors = _decode([r[0] for r in rows if r[0] is not None])
    crops = sum(1 for r in rows if r[1] is not None)
    with db.atomic():
        if len(vectors):
            centroid = vectors.mean(axis=0).astype(np.float32)
            db.execute("INSERT INTO person_tombstones (centroid, created_at) VALUES (?, ?)",
                       [centroid.tobytes(), store_items.now_iso()])
        db.execute("UPDATE faces SET encoding = NULL, crop = NULL, person_id = NULL, assigned_by = NULL, ignored = 1 "
                   "WHERE person_id = ?", [person_id])
        db.execute("DELETE FROM people WHERE id = ?", [person_id])
        store_sidecars.drop_declines(db, person_id)
    vacuum(db)
    return {"faces_deleted": len(rows), "crops_deleted": crops}


def vacuum(db: Database) -> None:
    """Rewrite the DB file so deleted face data leaves no trace in free pages or the WAL.

    VACUUM cannot run inside a transaction, so this must be called after the deleting one committed. A
    caller's open transaction is an error, never committed here: a hidden commit would make a forget
    that then fails look undone while the delete was already written.
    """
    if db.conn.in_transaction:
        raise RuntimeError("store.faces.vacuum called inside an open transaction; commit or roll back first")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# -- what a people update reads --------------------------------------------------------------------
def last_face_id(db: Database) -> int:
    """The newest face's id (0 with none): the watermark a people update moves to."""
    return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM faces").fetchone()[0])


def unassigned_encodings(db: Database, after_id: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``encodings`` of the faces that belong to nobody and are not ignored, with ids above ``after_id``."""
    return encodings(db, "person_id IS NULL AND ignored = 0 AND id > ?", [after_id])


def assigned_encodings(db: Database) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``encodings`` of every face that belongs to a person: what a new face is matched against."""
    return encodings(db, "person_id IS NOT NULL")


def unassigned_count(db: Database) -> int:
    """Faces still waiting for a person (not ignored)."""
    return int(db.execute("SELECT COUNT(*) FROM faces WHERE person_id IS NULL AND ignored = 0").fetchone()[0])
