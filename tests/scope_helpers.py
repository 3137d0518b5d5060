"""Organizers with units, and a second province for them: Hanoi ("01", the demo's
wards) and Ho Chi Minh City ("79", one ward), so ward A, ward B and province P differ."""

from __future__ import annotations

import json

from coordinator.extensions import db
from coordinator.geography.operations import import_wards, parse_wards
from coordinator.people.scopes import set_scopes

WARD_A, WARD_B, PROVINCE_P = "kim_lien", "ben_thanh", "01"
HO_CHI_MINH = {
    "province": {
        "code": "79",
        "slug": "ho_chi_minh",
        "name": "Thành phố Hồ Chí Minh",
        "type": "thanh_pho",
    },
    "wards": [{"code": WARD_B, "name": "Phường Bến Thành", "type": "phuong", "neighbors": []}],
}


def import_second_province() -> None:
    """Ward B, in another province (commits)."""
    import_wards(parse_wards(json.dumps(HO_CHI_MINH), "ho_chi_minh.json"))
    db.session.commit()


def scoped_organizer(make_user, *units: str):
    """An organizer of `units` (commits)."""
    user = make_user("organizer")
    set_scopes(user, list(units))
    db.session.commit()
    return user
