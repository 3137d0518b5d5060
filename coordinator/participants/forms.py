"""The participant registration form (by the learner, or by an organizer for them)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField
from wtforms.validators import DataRequired as _DataRequired
from wtforms.validators import Optional

from coordinator.web.forms import (
    PHONE_CONTACT,
    CheckboxList,
    DataRequired,
    FlaskForm,
    Length,
    TextField,
)


class ParticipantForm(FlaskForm):
    full_name = TextField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    ward = SelectField(_l("Ward where you live"), validators=[DataRequired()])
    target_group = SelectField(_l("You are"), validators=[DataRequired()])
    accessibility_needs = CheckboxList(_l("Support you need"), validate_choice=True)
    contact = TextField(
        _l("Phone or email (optional)"), validators=[Optional(), Length(max=320), PHONE_CONTACT]
    )
    guardian_contact = TextField(
        _l("Guardian's phone or email (for a minor)"),
        validators=[Optional(), Length(max=320), PHONE_CONTACT],
    )
    # Shown only when the name is already registered without a contact (a form sent
    # twice, or a real namesake).
    another_person = BooleanField(_l("This is another person with the same name"))
    consent = BooleanField(
        _l("I agree that the organizers keep these details to run the sessions"),
        validators=[_DataRequired(_l("Registration needs your consent."))],
    )
