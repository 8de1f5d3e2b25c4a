"""Current Vietnamese provinces and wards (since 1/7/2025), found from what people type.

Wraps the `vietnam_provinces` package: 34 provinces and 3,321 wards (xã, phường, đặc khu), plus
the pre-2025 provinces, districts and wards with the old-to-new mapping. The package's own
`search` drops words such as "thanh" or "phuong" anywhere in the query ("ben thanh" finds nine
wards), so this module builds its own index on folded names (see `bot.vn.text.fold`).

The index is built once, lazily, on the first call that needs it (any call except one with
empty or over-long text). Measured on the development machine (CPython 3.11): the first call
takes about 0.27 s, half of it importing the package's data modules (0.14 s) and half building
the index; calling `popular_provinces()` at start-up pays it early. Later calls take 3-10 µs
for an exact, alias, old ward or old district name and 40-60 µs for a prefix search over the
wards of a big province; 0.15 ms at worst for 200 characters of noise (the most we read).

Names are returned exactly as in the data ("Thành phố Hồ Chí Minh", "Phường Bến Thành"); the
`formerly` field of a ward found through an old name carries the old names, also from the data.
No user-facing text here: handlers translate.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from typing import TYPE_CHECKING, TypeAlias

from bot.vn.text import fold

if TYPE_CHECKING:
    from vietnam_provinces.legacy import District as LegacyDistrict
    from vietnam_provinces.legacy import Ward as LegacyWard

DATA_VERSION: str = version("vietnam-provinces")

_MAX_INPUT = 200  # characters; longer text is not a place name
_POPULAR = (79, 1, 48, 92, 31)  # HCM, Hà Nội, Đà Nẵng, Cần Thơ, Hải Phòng
# HCMC's lowest-coded ward is in old Bình Dương; Bến Thành is the one every citizen knows.
_EXAMPLE_WARDS = {79: 26743}
_PROVINCE_TYPES = ("thanh pho", "tinh", "thu do", "tp", "t p")
_PROVINCE_ALIASES: dict[str, int] = {
    "hcm": 79,
    "tphcm": 79,
    "tp hcm": 79,
    "ho chi minh": 79,
    "sai gon": 79,
    "saigon": 79,
    "sg": 79,
    "hn": 1,
    "ha noi": 1,
    "hanoi": 1,
    "hue": 46,
    "tt hue": 46,
    "thua thien hue": 46,
    "brvt": 79,
    "vung tau": 79,
    "ba ria vung tau": 79,
}
# Ward-level abbreviations, applied word by word after folding ("P.5, Q.3" -> "p 5 q 3").
_ABBREVIATIONS = {
    "p": "phuong",
    "f": "phuong",
    "x": "xa",
    "tt": "thi tran",
    "dk": "dac khu",
    "q": "quan",
    "h": "huyen",
    "tx": "thi xa",
    "tp": "thanh pho",
}
_WARD_TYPES = ("phuong", "xa", "thi tran", "dac khu")
_GLUED_NUMBER = re.compile(r"\b([pqf])(\d+)\b")  # p1, q10, f5
_LEADING_ZEROS = re.compile(r"\b0+(\d)")  # "phuong 05" -> "phuong 5"
_T_P = re.compile(r"\bt p\b")  # "T.P." folds to "t p"


_Successors: TypeAlias = "tuple[LegacyWard, list[WardRef]]"  # an old ward, where it went


@dataclass(frozen=True)
class ProvinceRef:
    """A current province or centrally-run city.

    Attributes:
        code: The province code, e.g. 79.
        name: The name exactly as in the data, e.g. "Thành phố Hồ Chí Minh".
    """

    code: int
    name: str


@dataclass(frozen=True)
class WardRef:
    """A current ward (xã, phường or đặc khu) and its province.

    Attributes:
        code: The ward code, e.g. 26743.
        name: The name exactly as in the data, e.g. "Phường Bến Thành".
        province_code: The code of its current province.
        province_name: The name of its current province, as in the data.
        formerly: Set only when the ward was found through an old name: the old ward and its old
            district ("Phường Phạm Ngũ Lão, Quận 1"), or the old district alone ("Quận 1").
        guessed: Found only by a partial match of the name (rule 4 of `find_wards`), so worth
            confirming with the citizen even when it is the only result.
    """

    code: int
    name: str
    province_code: int
    province_name: str
    formerly: str | None = None
    guessed: bool = False


@dataclass(frozen=True)
class _Named:
    """A folded name to match by word prefixes, and what it stands for."""

    words: tuple[str, ...]
    glued: str  # the words without spaces, for "contains"
    kind: str  # the folded division type ("phuong"...), "" for provinces
    code: int
    rank: int = 0  # 1 for an old province name: after the current names


@dataclass(frozen=True)
class _OldWard:
    """A current ward found through the name of one old ward."""

    ref: WardRef  # with `formerly` = "old ward, old district"
    kind: str  # the folded type of the old ward ("phuong", "xa", "thi tran")
    district: int  # the old district code


@dataclass
class _Index:
    provinces: dict[int, ProvinceRef] = field(default_factory=dict)
    wards: dict[int, WardRef] = field(default_factory=dict)
    # folded name without type -> province codes, best first (current names, aliases, old names)
    province_exact: dict[str, list[int]] = field(default_factory=dict)
    province_named: list[_Named] = field(default_factory=list)  # current names, then old ones
    # (province code, folded name without type) -> [(ward code, folded type)]
    ward_exact: dict[tuple[int, str], list[tuple[int, str]]] = field(default_factory=dict)
    # (province code, folded old ward name without type) -> old wards, by old code
    ward_old: dict[tuple[int, str], list[_OldWard]] = field(default_factory=dict)
    # (province code, folded old district name, with or without type) -> old district codes
    district_codes: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    # (province code, folded old district name...) -> current wards with `formerly`, best first
    ward_district: dict[tuple[int, str], list[WardRef]] = field(default_factory=dict)
    ward_named: dict[int, list[_Named]] = field(default_factory=dict)


def example_ward(province_code: int) -> WardRef:
    """A ward of the province to show in a prompt's example (the first phường, else the first).

    Raises:
        KeyError: an unknown province.
    """
    index = _index()
    if province_code in _EXAMPLE_WARDS:
        return index.wards[_EXAMPLE_WARDS[province_code]]
    codes = sorted(entry.code for entry in index.ward_named[province_code])
    wards = [index.wards[code] for code in codes]
    return next((w for w in wards if w.name.startswith("Phường ")), wards[0])


def province(code: int) -> ProvinceRef:
    """Return the current province with this code.

    Raises:
        KeyError: if no current province has this code.
    """
    return _index().provinces[code]


def ward(code: int) -> WardRef:
    """Return the current ward with this code (`formerly` is None).

    Raises:
        KeyError: if no current ward has this code.
    """
    return _index().wards[code]


def popular_provinces() -> list[ProvinceRef]:
    """The provinces to offer as buttons: HCM, Hà Nội, Đà Nẵng, Cần Thơ, Hải Phòng."""
    provinces = _index().provinces
    return [provinces[code] for code in _POPULAR]


def find_provinces(text: str, limit: int = 5) -> list[ProvinceRef]:
    """Find current provinces from typed text, best first.

    Tried in order, stopping at the first that finds something: the exact folded name without
    "tỉnh"/"thành phố"/"TP", a common alias (HCM, Sài Gòn, HN, Huế, Vũng Tàu...) or an old
    province name (giving the current province(s) its old wards went to, most first); then
    word prefixes of current names, then of old names.

    Args:
        text: What was typed, in any case, with or without diacritics, NFC or NFD.
        limit: At most this many results.

    Returns:
        The matching provinces, best first; empty when nothing matches.
    """
    query = _query(text)
    if not query or limit <= 0:
        return []
    index = _index()
    name = _strip_prefix(query, _PROVINCE_TYPES)[1]
    codes = _unique([*index.province_exact.get(query, ()), *index.province_exact.get(name, ())])
    if not codes:
        codes = _unique(named.code for named in _best(index.province_named, name))
    return [index.provinces[code] for code in codes[:limit]]


def find_wards(text: str, province_code: int, limit: int = 5) -> list[WardRef]:
    """Find current wards of one current province from typed text, best first.

    Tried in order, stopping at the first that finds something:

    1. the exact folded name without its type ("ben thanh", "P. Bến Thành", "xa ...");
    2. an old ward name, alone or with its old district ("pham ngu lao", "phuong 5 quan 3"),
       giving the current ward(s) that took it over, with `formerly` = "old ward, old district";
    3. an old district name ("quan 1", "q1", "huyen cu chi", "tp thu duc"), giving the current
       wards that took over its wards, with `formerly` = the old district name;
    4. word prefixes, then "contains", on the current ward names of the province.

    Args:
        text: What was typed, in any case, with or without diacritics, NFC or NFD.
        province_code: The current province to search in; wards of others are never returned.
        limit: At most this many results.

    Returns:
        The matching wards, best first; empty when nothing matches.
    """
    query = _ward_query(text)
    if not query or limit <= 0:
        return []
    index = _index()
    kind, name = _strip_prefix(query, _WARD_TYPES)
    found = _exact_wards(index, province_code, query, kind, name)
    if not found:
        found = _old_wards(index, province_code, query, kind, name)
    if not found:
        found = index.ward_district.get((province_code, query), [])
    if not found:
        named = _best(index.ward_named.get(province_code, []), name, prefer_kind=kind)
        found = [replace(index.wards[entry.code], guessed=True) for entry in named]
    return _unique_wards(found)[:limit]


def _exact_wards(
    index: _Index, province_code: int, query: str, kind: str, name: str
) -> list[WardRef]:
    hits = index.ward_exact.get((province_code, name), [])
    if kind:  # "phuong X" prefers Phường X to Xã X; "xa phuong ..." may be a name itself
        hits = [hit for hit in hits if hit[1] == kind] or hits
        hits = hits + index.ward_exact.get((province_code, query), [])
    return [index.wards[code] for code, _ in hits]


def _old_wards(
    index: _Index, province_code: int, query: str, kind: str, name: str
) -> list[WardRef]:
    """Current wards from an old ward name, alone or with its old district before or after it."""
    hits = _old_named(index, province_code, query, kind, name)
    if not hits:
        words = query.split()
        for cut in range(1, len(words)):
            left, right = " ".join(words[:cut]), " ".join(words[cut:])
            for ward_part, district_part in ((left, right), (right, left)):
                districts = index.district_codes.get((province_code, district_part))
                if districts:
                    part_kind, part_name = _strip_prefix(ward_part, _WARD_TYPES)
                    named = _old_named(index, province_code, ward_part, part_kind, part_name)
                    hits += [hit for hit in named if hit.district in districts]
    return [hit.ref for hit in hits]


def _old_named(
    index: _Index, province_code: int, query: str, kind: str, name: str
) -> list[_OldWard]:
    hits = index.ward_old.get((province_code, name), [])
    if kind:
        hits = [hit for hit in hits if hit.kind == kind] or hits
        hits = hits + index.ward_old.get((province_code, query), [])
    return hits


def _query(text: str) -> str:
    """Fold `text`, or return "" when it is too long to be a place name."""
    text = text.strip()
    return "" if len(text) > _MAX_INPUT else fold(text)


def _ward_query(text: str) -> str:
    """Fold `text` and spell out the usual abbreviations: "P.05, Q.3" -> "phuong 5 quan 3"."""
    query = _T_P.sub("tp", _LEADING_ZEROS.sub(r"\1", _GLUED_NUMBER.sub(r"\1 \2", _query(text))))
    return " ".join(_ABBREVIATIONS.get(word, word) for word in query.split())


def _strip_prefix(folded: str, types: Iterable[str]) -> tuple[str, str]:
    """Split a leading division type off a folded name: ("phuong", "ben thanh").

    Returns:
        The type ("" if none) and the rest (`folded` itself if it starts with no type).
    """
    for kind in types:
        if folded.startswith(kind + " "):
            return kind, folded[len(kind) + 1 :]
    return "", folded


def _best(entries: list[_Named], name: str, prefer_kind: str = "") -> list[_Named]:
    """Entries matching `name` by word prefixes or "contains", best first."""
    words = tuple(name.split())
    if not words:
        return []
    glued = "".join(words)
    scored = []
    for position, entry in enumerate(entries):
        if not all(word in entry.glued for word in words):  # cheap: no match can pass this
            continue
        score = _score(words, glued, entry)
        if score is not None:
            other_kind = bool(prefer_kind) and entry.kind != prefer_kind
            whole = sum(word in entry.words for word in words)  # "ha": Hà Nội before Hải Phòng
            key = (entry.rank, score, other_kind, -whole, len(entry.words), entry.glued, position)
            scored.append((key, entry))
    scored.sort(key=lambda item: item[0])
    return [entry for _, entry in scored]


def _score(words: tuple[str, ...], glued: str, entry: _Named) -> int | None:
    """How well `entry` matches the typed words; lower is better.

    Returns:
        0 if the name starts with the typed words (as prefixes), 1 if it has them in a row
        later, 2 if it has them all in any order, 3 if it contains the typed letters (3 or
        more) in a row, None if it does not match.
    """
    count = len(words)
    for start in range(len(entry.words) - count + 1):
        if all(entry.words[start + i].startswith(word) for i, word in enumerate(words)):
            return 0 if start == 0 else 1
    if all(any(have.startswith(word) for have in entry.words) for word in words):
        return 2
    if len(glued) >= 3 and glued in entry.glued:
        return 3
    return None


def _unique(codes: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(codes))


def _unique_wards(refs: Iterable[WardRef]) -> list[WardRef]:
    seen: dict[int, WardRef] = {}
    for ref in refs:
        seen.setdefault(ref.code, ref)
    return list(seen.values())


def _named(folded: str, kind: str, code: int, rank: int = 0) -> _Named:
    words = tuple(folded.split())
    return _Named(words, "".join(words), kind, code, rank)


def _without_type(folded: str, kind: str) -> str:
    """The folded name without its folded type: ("phuong ben thanh", "phuong") -> "ben thanh"."""
    return folded[len(kind) + 1 :] if folded.startswith(kind + " ") else folded


@functools.cache
def _index() -> _Index:
    """Build the whole index (once): current names, aliases, old names, old districts."""
    from vietnam_provinces.legacy import District as LegacyDistrict  # noqa: PLC0415 (its tables load on import: only once the index is built)

    folded = functools.cache(fold)  # many old names repeat ("Phường 1", "Xã Tân Hòa")
    index = _Index()
    _add_provinces(index)
    successors = _add_wards(index, folded)
    districts = {int(item.code): item for item in LegacyDistrict.iter_all()}
    province_shares, district_shares = _add_old_wards(index, successors, districts, folded)
    _add_old_districts(index, district_shares, districts, folded)
    _add_old_provinces(index, province_shares)
    return index


def _add_provinces(index: _Index) -> None:
    from vietnam_provinces import Province  # noqa: PLC0415 (its tables load on import: only once the index is built)

    for item in Province.iter_all():
        ref = ProvinceRef(int(item.code), item.name)
        index.provinces[ref.code] = ref
        key = _strip_prefix(fold(item.name), _PROVINCE_TYPES)[1]
        index.province_exact.setdefault(key, []).append(ref.code)
        index.province_named.append(_named(key, "", ref.code))
    for alias, code in _PROVINCE_ALIASES.items():
        index.province_exact.setdefault(alias, []).append(code)


def _add_wards(index: _Index, folded: Callable[[str], str]) -> dict[int, _Successors]:
    """Index the current wards; return each old ward code with the current wards it went to."""
    from vietnam_provinces import Ward  # noqa: PLC0415 (its tables load on import: only once the index is built)

    successors: dict[int, _Successors] = {}
    for item in sorted(Ward.iter_all(), key=lambda found: int(found.code)):
        province_ref = index.provinces[int(item.province_code)]
        ref = WardRef(int(item.code), item.name, province_ref.code, province_ref.name)
        index.wards[ref.code] = ref
        kind = folded(item.division_type.value)
        key = _without_type(folded(item.name), kind)
        index.ward_exact.setdefault((ref.province_code, key), []).append((ref.code, kind))
        index.ward_named.setdefault(ref.province_code, []).append(_named(key, kind, ref.code))
        for old in item.get_legacy_sources():  # one old ward may have been split
            successors.setdefault(int(old.code), (old, []))[1].append(ref)
    return successors


def _add_old_wards(
    index: _Index,
    successors: dict[int, _Successors],
    districts: dict[int, LegacyDistrict],
    folded: Callable[[str], str],
) -> tuple[dict[int, dict[int, int]], dict[tuple[int, int], dict[int, list[int]]]]:
    """Index the old ward names.

    Returns:
        For each old province, how many of its old wards went to each current province; for
        each current province and old district, how many whole and split old wards went to
        each current ward.
    """
    province_shares: dict[int, dict[int, int]] = {}
    district_shares: dict[tuple[int, int], dict[int, list[int]]] = {}
    for old_code in sorted(successors):
        old, new_refs = successors[old_code]
        district = districts[int(old.district_code)]
        old_kind = folded(old.division_type.value)
        old_key = _without_type(folded(old.name), old_kind)
        formerly = f"{old.name}, {district.name}"
        split = 0 if len(new_refs) == 1 else 1
        for ref in new_refs:
            shares = province_shares.setdefault(int(district.province_code), {})
            shares[ref.province_code] = shares.get(ref.province_code, 0) + 1
            key = (ref.province_code, int(district.code))
            district_shares.setdefault(key, {}).setdefault(ref.code, [0, 0])[split] += 1
            found = _OldWard(replace(ref, formerly=formerly), old_kind, int(district.code))
            index.ward_old.setdefault((ref.province_code, old_key), []).append(found)
    return province_shares, district_shares


def _add_old_districts(
    index: _Index,
    district_shares: dict[tuple[int, int], dict[int, list[int]]],
    districts: dict[int, LegacyDistrict],
    folded: Callable[[str], str],
) -> None:
    """Index the old district names: the current wards that took most of their wards first."""
    for (province_code, district_code), shares in sorted(district_shares.items()):
        district = districts[district_code]
        ranked = sorted(shares, key=lambda code: (-shares[code][0], -shares[code][1], code))
        refs = [replace(index.wards[code], formerly=district.name) for code in ranked]
        full = folded(district.name)
        short = _without_type(full, folded(district.division_type.value))
        for key in [full] if short.isdigit() else [full, short]:  # not "1" for "Quận 1"
            index.ward_district.setdefault((province_code, key), []).extend(refs)
            index.district_codes.setdefault((province_code, key), []).append(district_code)


def _add_old_provinces(index: _Index, province_shares: dict[int, dict[int, int]]) -> None:
    """Index the old province names, built from where their old wards went."""
    from vietnam_provinces.legacy import Province as LegacyProvince  # noqa: PLC0415 (its tables load on import: only once the index is built)

    for item in sorted(LegacyProvince.iter_all(), key=lambda found: int(found.code)):
        key = _strip_prefix(fold(item.name), _PROVINCE_TYPES)[1]
        shares = province_shares.get(int(item.code), {})
        for code in sorted(shares, key=lambda code: (-shares[code], code)):
            index.province_exact.setdefault(key, []).append(code)
            index.province_named.append(_named(key, "", code, rank=1))
