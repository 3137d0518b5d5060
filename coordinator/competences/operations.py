"""Loading the competence framework from a data file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from coordinator.competences.models import Competence, ProficiencyLevel
from coordinator.errors import Invalid
from coordinator.extensions import db

DEFAULT_FRAMEWORK = Path(__file__).resolve().parent.parent / "data" / "competences_digcomp22.json"


def import_framework(data: dict[str, Any]) -> int:
    """Upsert levels, areas and competences; returns the number of areas and competences."""
    areas = data.get("areas")
    if not isinstance(areas, list) or not areas:
        raise Invalid.field("areas", _l("The framework needs 'areas'."))
    for level in data.get("levels", []):
        row = db.session.get(ProficiencyLevel, int(level["level"])) or ProficiencyLevel(
            level=int(level["level"])
        )
        row.name, row.name_en = level["name"], level.get("name_en")
        db.session.add(row)
    count = 0
    for position, area in enumerate(areas):
        count += 1
        _upsert(area, None, position)
        for sub_position, competence in enumerate(area.get("competences", [])):
            count += 1
            _upsert(competence, area["code"], sub_position)
    db.session.flush()
    return count


def _upsert(item: dict[str, Any], area_code: str | None, position: int) -> None:
    if not item.get("code") or not item.get("name"):
        raise Invalid.field("code", _l("Each item needs code and name."))
    row = db.session.get(Competence, item["code"]) or Competence(code=item["code"])
    row.name, row.name_en = item["name"], item.get("name_en")
    row.area_code, row.position = area_code, position
    db.session.add(row)
    db.session.flush()  # areas before their competences (self-referencing FK)


def import_framework_file(path: str | Path = DEFAULT_FRAMEWORK) -> int:
    return import_framework(json.loads(Path(path).read_text(encoding="utf-8")))


def require_competence(code: str, field: str = "competence_area") -> Competence:
    competence = db.session.get(Competence, code)
    if competence is None:
        raise Invalid.field(field, _l("Unknown competence '%(code)s'.", code=code))
    return competence
