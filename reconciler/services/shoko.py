"""Shoko Server: which imported anime files it has matched to AniDB/TMDB, found by the tail of
the file's path and by the request's TMDB ids."""

from __future__ import annotations

from reconciler.errors import NotFound
from reconciler.models import ShokoFile
from reconciler.services.http import ServiceClient, require
from reconciler.services.parse import Fields

# Cross-references, asked for both ways: Shoko 5.x takes `includeXRefs` (default true on
# PathEndsWith), Shoko 6 `include=XRefs`; each ignores the parameter it does not know.
XREFS = {"include": "XRefs", "includeXRefs": True}


def _ids(f: Fields | None, key: str) -> tuple[int, ...]:
    if f is None:
        return ()
    value = f.obj.get(key)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, int) and not isinstance(v, bool))
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    return ()


def parse_file(obj: object) -> ShokoFile:
    f = Fields("shoko", "/api/v3/File", obj)
    locations = [Fields("shoko", "/api/v3/File Locations", loc) for loc in f.array("Locations")]
    relative = next((loc.opt_text("RelativePath") for loc in locations
                     if loc.opt_text("RelativePath")), None) or ""
    series_ids: list[int] = []
    episode_ids: list[int] = []
    anidb_series: list[int] = []
    anidb_episodes: list[int] = []
    tmdb_movies: list[int] = []
    tmdb_shows: list[int] = []
    pending = False
    for xref in f.array("SeriesIDs"):
        xf = Fields("shoko", "/api/v3/File SeriesIDs", xref)
        sid = xf.sub("SeriesID")
        if sid is not None:
            # Null until Shoko has created its series from the AniDB anime (FileCrossReference
            # `int? ID`): keep the AniDB ids, wait for the Shoko one.
            shoko_series = sid.opt_int("ID")
            if shoko_series is None:
                pending = True
            else:
                series_ids.append(shoko_series)
            anidb_series += _ids(sid, "AniDB")
            tmdb = sid.sub("TMDB")
            tmdb_movies += _ids(tmdb, "Movie")
            tmdb_shows += _ids(tmdb, "Show")
        for ep in xf.array("EpisodeIDs"):
            ef = Fields("shoko", "/api/v3/File EpisodeIDs", ep)
            shoko_episode = ef.opt_int("ID")
            if shoko_episode is None:
                pending = True
            else:
                episode_ids.append(shoko_episode)
            anidb_episodes += _ids(ef, "AniDB")
            tmdb = ef.sub("TMDB")
            tmdb_movies += _ids(tmdb, "Movie")
    return ShokoFile(
        id=f.integer("ID"),
        relative_path=relative,
        series_ids=tuple(dict.fromkeys(series_ids)),
        episode_ids=tuple(dict.fromkeys(episode_ids)),
        anidb_series_ids=tuple(dict.fromkeys(anidb_series)),
        anidb_episode_ids=tuple(dict.fromkeys(anidb_episodes)),
        tmdb_movie_ids=tuple(dict.fromkeys(tmdb_movies)),
        tmdb_show_ids=tuple(dict.fromkeys(tmdb_shows)),
        imported=f.time("Imported"),
        pending_metadata=pending,
    )


def path_tail(path: str, parts: int = 2) -> str:
    """The last `parts` components of a path: Shoko and the *arr mount the library at
    different roots, so only the tail (folder and file name) is comparable."""
    pieces = _pieces(path)
    return "/".join(pieces[-parts:])


def _pieces(path: str) -> list[str]:
    return [p for p in path.replace("\\", "/").split("/") if p]


def in_its_folders(file: ShokoFile, path: str) -> bool:
    """The Shoko file lies in the *arr file's own folder or the one above it (a show's folder
    over its season folders), by name: a file of the same name elsewhere is another file."""
    theirs = _pieces(file.relative_path)
    ours = [p.lower() for p in _pieces(path)[-3:-1]]
    return len(theirs) >= 2 and theirs[-2].lower() in ours


class ShokoClient(ServiceClient):
    name = "shoko"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"apikey": api_key}

    async def init_status(self) -> dict[str, object]:
        return dict(require(self.name, await self.get("/api/v3/Init/Status"), dict,
                            "/api/v3/Init/Status"))

    async def files_by_path(self, path: str) -> list[ShokoFile]:
        """Files whose path ends with the tail of `path`: folder and file name, else the file
        name alone when exactly one file in the *arr file's folders has it.

        Shoko's `PathEndsWith` is a plain case-insensitive `EndsWith` on each file's full path,
        its `/` and `\\` made the server's separator (5.3.3 `FileController.cs` 1430-1435,
        6.0-dev 1355-1360): no folder boundary. So the tail is sent with its leading separator,
        or "Show - 01.mkv" would also find "Other Show - 01.mkv"."""
        for parts in (2, 1):
            tail = path_tail(path, parts)
            if not tail:
                continue
            data = require(self.name, await self.get("/api/v3/File/PathEndsWith", {
                "path": "/" + tail, **XREFS, "limit": 10,
            }), list, "/api/v3/File/PathEndsWith")
            files = [parse_file(obj) for obj in data]
            if parts == 1:
                # The file name alone: a file of that name in another folder is another file,
                # and generic names repeat across shows (no answer is better than another
                # show's file).
                files = [f for f in files if in_its_folders(f, path)]
                return files if len(files) == 1 else []
            if files:
                return files
        return []

    async def files_by_tmdb_movie(self, tmdb_id: int) -> list[ShokoFile]:
        """Files Shoko linked to a TMDB film, with their cross-references; none while Shoko has
        not stored that film (404). Shoko answers one page, `{Total, List}`, and takes
        `include=XRefs` here (not `includeXRefs`); a film has a few files, so its default page
        of 100 holds them."""
        what = "/api/v3/Tmdb/Movie/{id}/Shoko/File"
        try:
            data = await self.get(f"/api/v3/Tmdb/Movie/{tmdb_id}/Shoko/File",
                                  {"include": "XRefs"})
        except NotFound:
            return []
        page = Fields(self.name, what, require(self.name, data, dict, what))
        if not isinstance(page.obj.get("List"), list):
            raise page.bad("List", "is missing or not a list")
        return [parse_file(obj) for obj in page.array("List")]

    async def series_by_tmdb_show(self, tmdb_id: int) -> list[tuple[int, tuple[int, ...]]]:
        """(Shoko series id, AniDB ids) of the series linked to a TMDB show."""
        try:
            data = await self.get(f"/api/v3/Tmdb/Show/{tmdb_id}/Shoko/Series")
        except NotFound:
            return []
        out = []
        for obj in require(self.name, data, list, "/api/v3/Tmdb/Show/{id}/Shoko/Series"):
            f = Fields(self.name, "/api/v3/Tmdb/Show/{id}/Shoko/Series", obj)
            ids = f.sub("IDs")
            if ids is None:
                continue
            out.append((ids.integer("ID"), _ids(ids, "AniDB")))
        return out
