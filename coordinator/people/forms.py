"""Forms of the people pages: a volunteer's profile with the weekly availability grid,
and the admins' reference-data upload."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from coordinator.web.forms import (
    PHONE,
    CheckboxList,
    DataRequired,
    FlaskForm,
    Length,
    NumberRange,
    TextField,
)

# Blocks of the weekly availability grid: (code, start minute, end minute).
DAY_BLOCKS = (
    ("morning", 8 * 60, 12 * 60),
    ("afternoon", 13 * 60 + 30, 17 * 60 + 30),
    ("evening", 17 * 60 + 30, 21 * 60 + 30),
)


class ProfileForm(FlaskForm):
    full_name = TextField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    phone = TextField(_l("Phone (optional)"), validators=[Optional(), PHONE])
    home_ward = SelectField(_l("Home ward"), validators=[DataRequired()])
    skills = CheckboxList(_l("Skills"), validate_choice=True)
    languages = CheckboxList(_l("Languages"), validate_choice=True)
    accessibility_skills = CheckboxList(_l("Accessibility competencies"), validate_choice=True)
    max_sessions_per_week = IntegerField(
        _l("Sessions per week at most"), validators=[DataRequired(), NumberRange(1, 14)]
    )
    availability = CheckboxList(_l("When are you free each week?"), validate_choice=True)


class ReferenceImportForm(FlaskForm):
    kind = SelectField(
        _l("What the file holds"),
        choices=[
            SelectChoice("wards", _l("Wards and their neighbours (JSON or CSV)")),
            SelectChoice("competences", _l("Digital-competence framework (JSON)")),
        ],
    )
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file."))])


class ScopesForm(FlaskForm):
    units = TextField(
        _l("Units (province or ward codes, separated by commas or spaces)"),
        validators=[Optional(), Length(max=2000)],
    )
