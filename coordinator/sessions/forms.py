"""The organizers' session form (create and edit)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Optional

from coordinator.sessions.limits import (
    CAPACITY,
    DESCRIPTION,
    DURATION_MINUTES,
    ROLE_SEATS,
    TITLE,
    VENUE,
    WEEKLY,
)
from coordinator.web.forms import (
    CheckboxList,
    DataRequired,
    FlaskForm,
    Length,
    NumberRange,
    TextAreaTextField,
    TextField,
)


class SessionForm(FlaskForm):
    # The API's rule for each: a title and a venue are multi-line text there too.
    title = TextField(_l("Title"), validators=[DataRequired(), Length(*TITLE)], multiline=True)
    description = TextAreaTextField(
        _l("Description"), validators=[Optional(), Length(*DESCRIPTION)]
    )
    competence_area = SelectField(_l("Topic (digital competence)"), validators=[DataRequired()])
    target_group = SelectField(_l("Who it is for"), validators=[DataRequired()])
    ward = SelectField(_l("Ward"), validators=[DataRequired()])
    venue = TextField(_l("Venue"), validators=[DataRequired(), Length(*VENUE)], multiline=True)
    venue_accessibility = CheckboxList(_l("Venue accessibility"), validate_choice=True)
    participant_needs = CheckboxList(_l("Participants' needs"), validate_choice=True)
    starts_at = StringField(
        _l("Starts (local time)"), validators=[DataRequired()], render_kw={"type": "datetime-local"}
    )
    duration_minutes = IntegerField(
        _l("Length in minutes"),
        default=120,
        validators=[InputRequired(), NumberRange(*DURATION_MINUTES)],
    )
    capacity = IntegerField(
        _l("Participants at most"), default=25, validators=[InputRequired(), NumberRange(*CAPACITY)]
    )
    leads = IntegerField(_l("Leads (experts)"), default=1, validators=[NumberRange(*ROLE_SEATS)])
    helpers = IntegerField(_l("Helpers"), default=2, validators=[NumberRange(*ROLE_SEATS)])
    interpreters = IntegerField(
        _l("Sign-language interpreters"), default=0, validators=[NumberRange(*ROLE_SEATS)]
    )
    weekly_count = IntegerField(
        _l("Repeat weekly (number of sessions)"), default=1, validators=[NumberRange(*WEEKLY)]
    )
