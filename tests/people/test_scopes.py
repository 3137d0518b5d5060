"""Organizer scopes: who reaches which units (the one place that decides it)."""

from __future__ import annotations

import pytest

from coordinator.demo import DATA
from coordinator.errors import Forbidden, Invalid
from coordinator.extensions import db
from coordinator.geography.changes import import_changes, parse_changes
from coordinator.people.models import User
from coordinator.people.scopes import NATIONAL, scope_of, set_scopes


@pytest.fixture
def merged(wards):
    """The 17 old Dong Da wards, merged into the 5 new ones (all in Hanoi, "01")."""
    text = (DATA / "changes_2025_dong_da.csv").read_text(encoding="utf-8")
    import_changes(parse_changes(text))
    db.session.commit()


def test_admins_and_organizers_without_units_are_national(make_user):
    assert scope_of(make_user("admin")) == NATIONAL
    assert scope_of(make_user("organizer")) == NATIONAL
    assert not scope_of(make_user("volunteer")).covers("kim_lien")
    assert not scope_of(None).covers("kim_lien")


def test_a_ward_organizer_reaches_the_ward_and_the_former_units_it_took_over(make_user, merged):
    organizer = make_user("organizer")
    set_scopes(organizer, ["00187"])
    db.session.commit()

    scope = scope_of(organizer)

    assert scope.ward_codes == {"00187", "lang_thuong", "lang_ha"}
    assert not scope.covers("00190") and not scope.covers(None)
    with pytest.raises(Forbidden):
        scope.require("kim_lien")


def test_a_province_organizer_reaches_every_unit_of_the_province(make_user, merged):
    organizer = make_user("organizer")
    set_scopes(organizer, ["ha_noi"])
    db.session.commit()

    scope = scope_of(organizer)

    assert scope.province_codes == {"01"}
    assert {"00187", "00235", "kim_lien", "lang_thuong"} <= scope.ward_codes


def test_scopes_are_replaced_and_unknown_units_or_non_organizers_refused(make_user, merged):
    organizer = make_user("organizer")
    assert set_scopes(organizer, ["00187", "00190", "00187"]) == ["00187", "00190"]
    assert set_scopes(organizer, ["00190"]) == ["00190"]
    db.session.commit()
    assert [s.ward_code for s in db.session.get(User, organizer.id).scopes] == ["00190"]

    with pytest.raises(Invalid):
        set_scopes(organizer, ["atlantis"])
    with pytest.raises(Invalid):
        set_scopes(make_user("volunteer"), ["00190"])


def test_the_cli_creates_a_scoped_organizer(runner, merged):
    args = ["create-user", "to@example.vn", "--role", "organizer", "--password", "0123456789"]

    result = runner.invoke(args=[*args, "--unit", "00187", "--unit", "01"])

    assert result.exit_code == 0, result.output
    assert "for 00187, 01" in result.output
    bad = runner.invoke(
        args=[
            "create-user",
            "x@example.vn",
            "--role",
            "organizer",
            "--password",
            "0123456789",
            "--unit",
            "nowhere",
        ]
    )
    assert bad.exit_code == 1 and "nowhere" in bad.output and "Traceback" not in bad.output
    assert db.session.query(User).filter_by(email="x@example.vn").count() == 0
