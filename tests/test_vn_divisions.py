"""Current provinces and wards from typed text, including old (pre-2025) names."""

from __future__ import annotations

import re
import time
import unicodedata

import pytest
import vietnam_provinces
from vietnam_provinces import Province, Ward

from bot.vn.divisions import (
    DATA_VERSION,
    ProvinceRef,
    WardRef,
    find_provinces,
    find_wards,
    popular_provinces,
    province,
    ward,
)

HCM, HANOI, HUE = 79, 1, 46
BEN_THANH = 26743
QUAN_1 = {26737: "Phường Tân Định", 26740: "Phường Sài Gòn", BEN_THANH: "Phường Bến Thành"}


def codes(refs: list[ProvinceRef] | list[WardRef]) -> list[int]:
    return [ref.code for ref in refs]


def test_data_version_is_the_package_version() -> None:
    assert vietnam_provinces.__version__ == DATA_VERSION
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", DATA_VERSION)


def test_every_province_and_ward_of_the_data_is_there() -> None:
    provinces = list(Province.iter_all())
    wards = list(Ward.iter_all())
    assert (len(provinces), len(wards)) == (34, 3321)
    for item in provinces:
        assert province(int(item.code)) == ProvinceRef(int(item.code), item.name)
    for item in wards:
        found = ward(int(item.code))
        assert (found.name, found.province_code, found.formerly) == (
            item.name,
            int(item.province_code),
            None,
        )


def test_lookup_by_code() -> None:
    assert province(HCM) == ProvinceRef(HCM, "Thành phố Hồ Chí Minh")
    assert ward(BEN_THANH) == WardRef(BEN_THANH, "Phường Bến Thành", HCM, "Thành phố Hồ Chí Minh")
    with pytest.raises(KeyError):
        province(74)  # old Bình Dương: not a current code
    with pytest.raises(KeyError):
        ward(0)


def test_popular_provinces() -> None:
    assert codes(popular_provinces()) == [79, 1, 48, 92, 31]


@pytest.mark.parametrize(
    "typed",
    [
        "ben thanh",
        "Bến Thành",
        "P. Bến Thành",
        "p ben thanh",
        "phuong ben thanh",
        "PHƯỜNG BẾN THÀNH",
        "  Phường   Bến Thành ",
        unicodedata.normalize("NFD", "Phường Bến Thành"),
        "benthanh",
    ],
)
def test_ward_by_current_name(typed: str) -> None:
    found = find_wards(typed, HCM)
    assert [w.code for w in found] == [BEN_THANH]
    # Only a partial match is flagged as a guess, for the bot to confirm.
    assert found[0].guessed == (typed == "benthanh")


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("HCM", HCM),
        ("TPHCM", HCM),
        ("TP. HCM", HCM),
        ("tp hcm", HCM),
        ("Sài Gòn", HCM),
        ("SG", HCM),
        ("saigon", HCM),
        ("Thành phố Hồ Chí Minh", HCM),
        ("ho chi minh", HCM),
        ("hochiminh", HCM),
        ("HN", HANOI),
        ("Hà Nội", HANOI),
        ("TP Hà Nội", HANOI),
        ("Huế", HUE),
        ("TT Huế", HUE),
        ("Thừa Thiên Huế", HUE),
        ("brvt", HCM),
        ("Vũng Tàu", HCM),
        ("Bà Rịa - Vũng Tàu", HCM),
        ("Bình Dương", HCM),  # merged into HCM
        ("Quảng Nam", 48),  # merged into Đà Nẵng
        ("tinh dak nong", 68),  # merged into Lâm Đồng
        ("Đắk Lắk", 66),
        (unicodedata.normalize("NFD", "Tỉnh Đắk Lắk"), 66),
    ],
)
def test_province_by_name_alias_or_old_name(typed: str, code: int) -> None:
    assert codes(find_provinces(typed)) == [code]


def test_thanh_hoa_is_not_khanh_hoa() -> None:
    assert codes(find_provinces("thanh hoa")) == [38]
    assert codes(find_provinces("Tỉnh Thanh Hóa")) == [38]


def test_old_province_goes_where_its_wards_went() -> None:
    # The reference notes say Tiền Giang maps to Đồng Tháp *and* Tây Ninh: that comes from one
    # row of the package's conversion table (old ward 27691, Phường 4 of Tân An, Long An, is
    # labelled province 82). Built from the old wards themselves, Tiền Giang is Đồng Tháp only,
    # as in Resolution 202/2025 (Tây Ninh took Long An).
    assert codes(find_provinces("tien giang")) == [82]
    assert codes(find_provinces("long an")) == [80]


def test_province_prefixes_current_names_first() -> None:
    assert codes(find_provinces("ha"))[:3] == [1, 42, 31]  # Hà Nội, Hà Tĩnh, then Hải Phòng
    found = codes(find_provinces("quang"))
    assert found[:3] == [51, 22, 44]  # Quảng Ngãi, Quảng Ninh, Quảng Trị
    assert 48 in found  # Đà Nẵng, through the old Quảng Nam, after the current names
    assert len(find_provinces("quang", limit=2)) == 2


def test_ambiguous_short_form_is_not_guessed() -> None:
    assert find_provinces("dn") == []


def test_old_ward_name() -> None:
    expected = WardRef(
        BEN_THANH,
        "Phường Bến Thành",
        HCM,
        "Thành phố Hồ Chí Minh",
        formerly="Phường Phạm Ngũ Lão, Quận 1",
    )
    assert find_wards("pham ngu lao", HCM) == [expected]
    assert find_wards("Phường Phạm Ngũ Lão, Q.1", HCM) == [expected]
    assert find_wards("Quận 1 Phạm Ngũ Lão", HCM) == [expected]


def test_old_ward_split_between_two_current_wards() -> None:
    found = find_wards("Đa Kao", HCM)
    assert codes(found) == [26737, 26740]  # Tân Định and Sài Gòn
    assert {ref.formerly for ref in found} == {"Phường Đa Kao, Quận 1"}


@pytest.mark.parametrize("typed", ["phuong 5 quan 3", "p5 q3", "P.05, Q.3", "quận 3 phường 5"])
def test_old_numbered_ward_with_its_district(typed: str) -> None:
    found = find_wards(typed, HCM)
    assert [(ref.name, ref.formerly) for ref in found] == [("Phường Bàn Cờ", "Phường 5, Quận 3")]


def test_old_numbered_ward_alone_is_ambiguous() -> None:
    found = find_wards("phường 5", HCM)
    assert len(found) == 5
    assert all(ref.formerly and ref.formerly.startswith("Phường 5, ") for ref in found)
    more = find_wards("phường 5", HCM, limit=50)
    assert len(more) > 5
    assert codes(more) == sorted(set(codes(more)), key=codes(more).index)  # no repeats
    assert more[:5] == found


@pytest.mark.parametrize("typed", ["quan 1", "Quận 1", "q1", "q.1", "Q 1"])
def test_old_district(typed: str) -> None:
    found = find_wards(typed, HCM)
    assert set(QUAN_1) <= set(codes(found))
    assert {ref.formerly for ref in found} == {"Quận 1"}
    assert all(ref.province_code == HCM for ref in found)


def test_old_district_by_type_and_name() -> None:
    found = find_wards("huyện Củ Chi", HCM)
    assert found
    assert {ref.formerly for ref in found} == {"Huyện Củ Chi"}
    assert {ref.formerly for ref in find_wards("tp thu duc", HCM)} == {"Thành phố Thủ Đức"}


def test_current_name_wins_over_old_district() -> None:
    assert [ref.name for ref in find_wards("cu chi", HCM)] == ["Xã Củ Chi"]
    assert find_wards("thu duc", HCM) == [ward(26824)]  # Phường Thủ Đức


def test_typed_type_prefers_that_type() -> None:
    dong_thap = 82  # has both Phường Mỹ Tho and Xã Mỹ Thọ
    assert [ref.name for ref in find_wards("phuong my tho", dong_thap)] == ["Phường Mỹ Tho"]
    assert [ref.name for ref in find_wards("xã mỹ thọ", dong_thap)] == ["Xã Mỹ Thọ"]
    assert len(find_wards("my tho", dong_thap)) == 2


def test_current_numbered_ward() -> None:
    assert [ref.name for ref in find_wards("p1 bao loc", 68)] == ["Phường 1 Bảo Lộc"]


def test_word_prefixes() -> None:
    found = find_wards("ben", HCM)
    assert {"Phường Bến Thành", "Phường Bến Cát"} <= {ref.name for ref in found}
    assert all("Bến" in ref.name and ref.formerly is None for ref in found)


def test_only_wards_of_the_given_province() -> None:
    assert find_wards("ben thanh", HANOI) == []
    assert find_wards("hoan kiem", HCM) == []
    assert [ref.name for ref in find_wards("hoan kiem", HANOI)] == ["Phường Hoàn Kiếm"]
    for typed in ("phuong 1", "tan", "quan 1", "an"):
        assert all(ref.province_code == HCM for ref in find_wards(typed, HCM, limit=50))


@pytest.mark.parametrize("typed", ["", "   ", "xqzjwv", "😷😷", "!!!", "?", "12345678"])
def test_nothing_matches(typed: str) -> None:
    assert find_provinces(typed) == []
    assert find_wards(typed, HCM) == []


def test_limit() -> None:
    assert find_wards("quan 1", HCM, limit=0) == []
    assert len(find_wards("quan 1", HCM, limit=2)) == 2
    assert find_provinces("hcm", limit=0) == []


def test_deterministic() -> None:
    for typed in ("phuong 5", "ben", "huyen cu chi", "tan"):
        assert find_wards(typed, HCM, limit=50) == find_wards(typed, HCM, limit=50)
    assert find_provinces("ha") == find_provinces("ha")


def test_very_long_text_is_refused_quickly() -> None:
    find_wards("warm up", HCM)
    text = "Bến Thành " * 500
    started = time.perf_counter()
    assert find_wards(text, HCM) == []
    assert find_provinces(text) == []
    assert time.perf_counter() - started < 0.01


def test_a_ward_to_show_as_an_example() -> None:
    from bot.vn.divisions import example_ward

    assert example_ward(79).name == "Phường Bến Thành"
    for code in (1, 48, 66):
        assert example_ward(code).province_code == code
