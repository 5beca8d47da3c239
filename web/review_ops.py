"""The Review page's operations, each the code of the ``face-enroll review`` or ``correct`` option it
stands for, on the last review's clusters (``clusters.json``).

Each cluster has a ``version``: a digest of the face ids it holds. An action on a cluster names
the version its page showed, and runs under the desk's change lock (:meth:`web.desk.Desk.changing`)
after checking that the cluster still holds those faces; else it is :class:`web.jobs.Stale` (409)
and nothing is written. So two browsers naming one cluster at once enroll it once: the second
finds it gone, or changed, and says so.
"""

from __future__ import annotations

import hashlib

from facecore.errors import UsageError
from facecore.faces import UNKNOWN
from facecore.facestore import StoredFace

from enroll.review import forget_cluster, review, saved_clusters

from .desk import Desk
from .files import valid_face_id
from .jobs import Gone, Stale

__all__ = ["clusters", "regroup", "face_path", "name", "discard", "merge", "correct", "undo", "named_faces",
           "corrections", "ungrouped", "version_of"]

NAMED_SHOWN = 48  # named kept faces shown, newest first


def version_of(face_ids: list[str]) -> str:
    """A cluster's version: a digest of the ids of the faces it holds (in any order)."""
    return hashlib.sha256(",".join(sorted(face_ids)).encode()).hexdigest()[:16]


def _face(f: StoredFace) -> dict:
    return {"id": f.id, "time": f.time, "source": f.source, "name": f.name, "score": round(f.score, 3),
            "confidence": round(float(f.confidence), 3)}


def clusters(desk: Desk) -> list[dict]:
    """The last review's clusters (a review is made first when there is none), most faces first:
    ``id``, ``version``, ``faces`` (best first, those still kept), ``sources``, ``first_seen``,
    ``last_seen``."""
    try:
        saved = saved_clusters(desk.config)
    except UsageError:  # no review yet: group the kept strangers now
        regroup(desk)
        saved = saved_clusters(desk.config)
    kept = {f.id: f for f in desk.store().faces()}
    out = []
    for number, ids in saved.items():
        faces = sorted((kept[i] for i in ids if i in kept), key=lambda f: -f.score)
        if faces:
            out.append({"id": int(number), "version": version_of(ids), "faces": [_face(f) for f in faces],
                        "sources": sorted({f.source for f in faces}), "first_seen": min(f.time for f in faces),
                        "last_seen": max(f.time for f in faces)})
    return sorted(out, key=lambda c: (-len(c["faces"]), c["id"]))


def ungrouped(desk: Desk) -> int:
    """How many strangers' faces were kept since the last grouping (in no cluster of it)."""
    try:
        grouped = {i for ids in saved_clusters(desk.config).values() for i in ids}
    except UsageError:
        grouped = set()
    return sum(f.name == UNKNOWN and f.id not in grouped for f in desk.store().faces())


def regroup(desk: Desk) -> int:
    """``face-enroll review``: group the kept strangers afresh (new numbers); how many clusters."""
    with desk.changing():
        return len(review(desk.config, models=desk.models).clusters)


def named_faces(desk: Desk) -> list[dict]:
    """The newest kept faces that have a name (face-live's, or given since), for "not NAME"."""
    faces = [f for f in desk.store().faces() if f.name != UNKNOWN]
    return [_face(f) for f in faces[::-1][:NAMED_SHOWN]]


def corrections(desk: Desk) -> list[dict]:
    """The counter-examples made of kept faces (``face-enroll list --corrections``), for undoing them:
    ``person`` it is not, ``face`` id, ``when`` (ISO 8601, UTC)."""
    from enroll.corrections import list_corrections

    return [{"person": c.person, "face": c.face, "when": c.when.isoformat(timespec="seconds")}
            for c in list_corrections(desk.data) if c.face]


def face_path(desk: Desk, face_id: str):
    """The picture of the kept face ``face_id`` (an id, never a path; ``Gone`` when not kept)."""
    store = desk.store()
    if not valid_face_id(face_id) or face_id not in store.ids():
        raise Gone(f"no kept face {face_id!r}")
    return store.image_path(face_id)


def _check(desk: Desk, number: int, version: str) -> list[str]:
    """The face ids of cluster ``number`` when its version is still ``version``; else ``Stale``."""
    try:
        saved = saved_clusters(desk.config)
    except UsageError:
        saved = {}
    ids = saved.get(str(number))
    if ids is None:
        raise Stale(f"cluster {number} is no longer in the review (named, merged or discarded in another window, "
                    f"or grouped again): reload the page")
    if version_of(ids) != version:
        raise Stale(f"cluster {number} changed since this page showed it (another window acted on it, or the "
                    f"faces were grouped again): reload the page and check it again")
    return ids


def name(desk: Desk, number: int, version: str, person: str, only: list[str] | None = None,
         force: bool = False) -> dict:
    """``review --name NUMBER PERSON [--only FACES] [--force]``, then a retraining (background job).
    ``{"name", "named", "saved", "rejected", "left", "lines"}``."""
    from enroll.naming import name_cluster
    from enroll.people import person_folder

    from .people_ops import retrain

    with desk.changing():
        _check(desk, number, version)
        person = person_folder(desk.data, person).name
        named = name_cluster(desk.config, desk.store(), desk.data, number, person, ",".join(only) if only else None,
                             None, force, models=desk.models)
    lines = [f"cluster {number} ({len(named.faces)} faces) is now {person}: {len(named.result.saved)} of them added "
             f"to {person}'s photos" + (f"; {len(named.rest)} left in the cluster" if named.rest else "")]
    lines += [f"not added: {reason}" for _, reason in named.result.rejected]
    _retrain_after(desk, lines, retrain)
    return {"name": person, "named": [f.id for f in named.faces], "saved": len(named.result.saved),
            "rejected": len(named.result.rejected), "left": [f.id for f in named.rest], "lines": lines}


def _retrain_after(desk: Desk, lines: list, retrain) -> None:
    from .jobs import Busy

    try:
        retrain(desk)
        lines.append("retraining: see its progress on the People page")
    except Busy as exc:
        lines.append(f"not retrained now ({exc}); retrain from the People page when it is done")


def discard(desk: Desk, number: int, version: str) -> dict:
    """``review --discard NUMBER``: delete the cluster's faces (their CSV rows stay, the snapshot cell
    emptied)."""
    from facecore.retention import drop_faces

    with desk.changing():
        ids = _check(desk, number, version)
        gone = drop_faces(desk.store(), desk.config.log.path or None, ids, desk.root)
        forget_cluster(desk.config, number)
    return {"discarded": number, "faces": gone, "lines": [f"discarded cluster {number}: {gone} faces deleted"]}


def merge(desk: Desk, a: int, version_a: str, b: int, version_b: str, force: bool = False) -> dict:
    """``review --merge A B [--force]``: cluster ``b``'s faces join cluster ``a``."""
    from enroll.regroup import join_clusters

    with desk.changing():
        _check(desk, a, version_a), _check(desk, b, version_b)
        merged = join_clusters(desk.config, desk.store(), a, b, force)
    return {"cluster": a, "version": version_of([f.id for f in merged.faces]), "faces": len(merged.faces),
            "lines": [f"cluster {b} joined cluster {a}: {len(merged.faces)} faces"]}


def correct(desk: Desk, face_id: str, not_name: str | None = None, is_name: str | None = None) -> dict:
    """``correct FACE --not NAME`` or ``--is NAME``, then a retraining (background job)."""
    from enroll.review_cli import is_them, not_them

    from .people_ops import retrain

    if (not_name is None) == (is_name is None):
        raise UsageError("say either that the face is NAME or that it is not NAME")
    face_path(desk, face_id)
    lines = []
    with desk.changing():
        store = desk.store()
        face = store.find(face_id)
        how = not_them if not_name is not None else is_them
        person = how(desk.config, desk.data, store, face, not_name if not_name is not None else is_name,
                     desk.detector(), say=lines.append)
    _retrain_after(desk, lines, retrain)
    return {"face": face_id, "name": person, "not": not_name is not None, "lines": lines}


def undo(desk: Desk, face_id: str) -> dict:
    """``correct FACE --undo``: delete the counter-examples made of the kept face ``face_id``, then a
    retraining."""
    from enroll.corrections import find_corrections

    from .people_ops import retrain

    if not valid_face_id(face_id):
        raise Gone(f"no kept face {face_id!r}")
    lines = []
    with desk.changing():
        for c in find_corrections(desk.data, face_id, desk.store(), desk.root):
            c.path.unlink()
            lines.append(f"undone: {face_id} is no longer a counter-example of {c.person}")
    _retrain_after(desk, lines, retrain)
    return {"face": face_id, "lines": lines}
