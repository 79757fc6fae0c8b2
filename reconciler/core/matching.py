"""Which Jellyfin item is the request's: by its ids, and of the copy (HD or 4K) it asks for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.models import JellyfinItem, ShokoFile, normalise_provider_key


@dataclass(frozen=True)
class MatchIds:
    """Ids a Jellyfin item may carry for this request, in the order they are tried."""

    tmdb: int | None = None
    tvdb: int | None = None
    shoko_file: tuple[int, ...] = ()
    shoko_episode: tuple[int, ...] = ()
    shoko_series: tuple[int, ...] = ()
    anidb: tuple[int, ...] = ()

    def pairs(self) -> list[tuple[str, str]]:
        """(normalised ProviderId key, value) pairs, most trusted first."""
        pairs: list[tuple[str, str]] = []
        if self.tmdb is not None:
            pairs.append(("tmdb", str(self.tmdb)))
        if self.tvdb is not None:
            pairs.append(("tvdb", str(self.tvdb)))
        pairs += [("shoko file", str(v)) for v in self.shoko_file]
        pairs += [("shoko episode", str(v)) for v in self.shoko_episode]
        pairs += [("shoko series", str(v)) for v in self.shoko_series]
        pairs += [("anidb", str(v)) for v in self.anidb]
        return pairs


@dataclass(frozen=True)
class JellyfinMatch:
    item: JellyfinItem
    key: str  # the ProviderId key that matched, e.g. "Tmdb", "Shoko File"



# A version whose video is at least this wide is a 4K copy (3840 and DCI 4096, cropped
# scope 3840x1600 included; 2560 QHD is not).
FOUR_K_WIDTH = 3200


def plays_copy(item: JellyfinItem, is4k: bool, files_4k: Sequence[str] = ()) -> bool:
    """The item (a film or episode) plays the copy a request of this quality asks for: a 4K
    request needs a version whose video is 4K; an HD one a version that is not, or an item
    whose versions' widths are unknown (not read: no 4K server is configured). While Jellyfin
    knows no width (0: not probed yet), an item whose file is one a 4K server imported
    (`files_4k`, compared by folder and file name: the servers and Jellyfin may mount the media
    at different roots) is the 4K copy."""
    if item.type not in ("Movie", "Episode"):
        return True
    if any(item.video_widths):
        if is4k:
            return any(w >= FOUR_K_WIDTH for w in item.video_widths)
        return any(0 < w < FOUR_K_WIDTH for w in item.video_widths)
    four_k_file = any(same_file(item.path, f) for f in files_4k)
    return four_k_file if is4k else not four_k_file


def same_file(a: str | None, b: str | None) -> bool:
    """The same file seen from two mounts: the same folder and file name."""
    if not a or not b:
        return False
    tail_a = [p.lower() for p in a.replace("\\", "/").split("/") if p][-2:]
    tail_b = [p.lower() for p in b.replace("\\", "/").split("/") if p][-2:]
    return len(tail_a) == 2 and tail_a == tail_b



def match_item(
    items: Iterable[JellyfinItem], ids: MatchIds, item_type: str, is4k: bool | None = None,
    files_4k: Sequence[str] = (),
) -> JellyfinMatch | None:
    """The first playable item of `item_type` carrying one of `ids`, trying ids in order
    (`is4k`: only an item playing that copy, `plays_copy`)."""
    candidates = [i for i in items if i.type == item_type
                  and (is4k is None or plays_copy(i, is4k, files_4k))]
    for key, value in ids.pairs():
        for item in candidates:
            if item_type in ("Movie", "Episode") and not item.is_playable:
                continue
            if item_type == "Movie" and key in _BROAD_FILM_KEYS and _another_film(item, ids):
                continue
            for k, v in item.provider_ids.items():
                if normalise_provider_key(k) == key and str(v).strip() == value:
                    return JellyfinMatch(item=item, key=k)
    return None


# A Shoko series or AniDB anime can hold several films (Shokofin writes the same `Shoko Series`
# on each): a match by these alone must not take a sibling film for the requested one.
_BROAD_FILM_KEYS = frozenset({"shoko series", "anidb"})
_EXACT_FILM_KEYS = ("tmdb", "shoko file", "shoko episode")


def _another_film(item: JellyfinItem, ids: MatchIds) -> bool:
    """The item names another film by an exact id (TMDB, Shoko file or episode) of ours.

    Shokofin's TMDB library structure writes `Shoko Episode = "T<TMDB film id>"` on a film (its
    TMDB-built episode: `IdPrefix.TmdbMovie`), which names no Shoko episode: another film when
    that TMDB id is not ours; ours when it is, whatever other exact ids it carries (a merged
    item carries its primary version's `Shoko File`, maybe another file of the film); nothing
    either way when ours is unknown. `t<id>` (a TMDB episode) says nothing about a film."""
    ours: dict[str, set[str]] = {}
    for key, value in ids.pairs():
        ours.setdefault(key, set()).add(value)
    if ids.tmdb is not None and any(
            normalise_provider_key(k) == "shoko episode" and str(v).strip() == f"T{ids.tmdb}"
            for k, v in item.provider_ids.items()):
        return False
    for k, v in item.provider_ids.items():
        key = normalise_provider_key(k)
        value = str(v).strip()
        if key == "shoko episode" and value[:1] in _TMDB_PREFIXES:
            if value[:1] == _TMDB_FILM and ids.tmdb is not None and value[1:] != str(ids.tmdb):
                return True
            continue
        if key in _EXACT_FILM_KEYS and key in ours and value and value not in ours[key]:
            return True
    return False


# Shokofin's prefixes of a `Shoko Episode` built from TMDB (`IdPrefix`): a film, a show's episode.
_TMDB_FILM = "T"
_TMDB_PREFIXES = frozenset({_TMDB_FILM, "t"})


def film_match_ids(tmdb_id: int | None, shoko: ShokoFile | None) -> MatchIds:
    """The ids a film's Jellyfin item may carry: its TMDB id, then (Shokofin) the Shoko file,
    episode and series ids, then AniDB ids. Shokofin 4.2.x writes only the Shoko File, Episode
    and Series ids on a film; current Shokofin also writes the AniDB *anime* id (and `Tmdb`
    only with "Add TMDB IDs" on); an older Shokofin wrote the AniDB *episode* id, so both AniDB
    ids are tried."""
    if shoko is None:
        return MatchIds(tmdb=tmdb_id)
    return MatchIds(
        tmdb=tmdb_id,
        shoko_file=(shoko.id,) if shoko.matched else (),
        shoko_episode=shoko.episode_ids,
        shoko_series=shoko.series_ids,
        anidb=tuple(dict.fromkeys(shoko.anidb_episode_ids + shoko.anidb_series_ids)),
    )


def match_episode(
    episodes: Sequence[JellyfinItem], season: int, number: int, shoko_episode_ids: Iterable[int],
    shoko_file_ids: Iterable[int] = (), is4k: bool | None = None,
) -> JellyfinMatch | None:
    """A playable episode: by its Shoko file id (the file Shoko matched for this episode), by
    its Shoko episode id when known, else by season and number (`is4k`: only an episode
    playing that copy, `plays_copy`)."""
    playable = [e for e in episodes if e.type == "Episode" and e.is_playable
                and (is4k is None or plays_copy(e, is4k))]
    files = {str(i) for i in shoko_file_ids}
    if files:
        for item in playable:
            for k, v in item.provider_ids.items():
                if normalise_provider_key(k) == "shoko file" and _id_parts(v) & files:
                    return JellyfinMatch(item=item, key=k)
    wanted = {str(i) for i in shoko_episode_ids}
    if wanted:
        for item in playable:
            for k, v in item.provider_ids.items():
                if normalise_provider_key(k) == "shoko episode" and str(v) in wanted:
                    return JellyfinMatch(item=item, key=k)
    for item in playable:
        if wanted and _other_shoko_episode(item, wanted):
            continue  # Shokofin's numbering differs: that number is another episode
        if item.covers_episode(season, number):
            return JellyfinMatch(item=item, key="season/episode")
    return None


def shoko_file_ids(shoko: ShokoFile | None) -> tuple[int, ...]:
    """The Shoko file id a Shokofin episode of this file carries (`Shoko File`): Shokofin
    presents only files Shoko knows, and the id names exactly one file."""
    return (shoko.id,) if shoko is not None else ()


def _id_parts(value: object) -> set[str]:
    return {part.strip() for part in str(value).split(",")} - {""}


def _other_shoko_episode(item: JellyfinItem, wanted: set[str]) -> bool:
    """The item carries a Shoko episode id, and not one of ours. Only plain integers count:
    recent Shokofin writes `t<id>` / `T<id>` (episodes built from TMDB data), which name no
    Shoko episode and so say nothing against a match by season and number."""
    ids = {part for k, v in item.provider_ids.items()
           if normalise_provider_key(k) == "shoko episode" for part in _id_parts(v)
           if part.isdigit()}
    return bool(ids) and not ids & wanted
