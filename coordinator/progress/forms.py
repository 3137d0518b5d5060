"""Filters of the progress and hours pages (GET forms in the query string)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from coordinator.progress import operations
from coordinator.web.forms import FlaskForm, NumberRange


class _QueryForm(FlaskForm):
    """Filters in the query string: a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    year = IntegerField(
        _l("Plan year"),
        validators=[Optional(), NumberRange(operations.MIN_YEAR, operations.MAX_YEAR)],
    )


class ProgressFilterForm(_QueryForm):
    level = SelectField(_l("Level"), default="ward", validators=[Optional()])
    unit = SelectField(_l("Province or ward"), validators=[Optional()])
    target_group = SelectField(_l("Target group"), validators=[Optional()])


class HoursFilterForm(_QueryForm):
    year = IntegerField(
        _l("Year"), validators=[Optional(), NumberRange(operations.MIN_YEAR, operations.MAX_YEAR)]
    )
    by = SelectField(
        _l("Hours of"),
        choices=[
            SelectChoice("volunteer", _l("Each volunteer")),
            SelectChoice("squad", _l("Each squad")),
        ],
        default="volunteer",
    )
