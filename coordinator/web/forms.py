"""Page forms (Flask-WTF: CSRF on every one). Labels are English msgids, shown translated."""

from __future__ import annotations

from flask import flash
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm as _FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired as _DataRequired
from wtforms.validators import Length as _Length
from wtforms.validators import NumberRange as _NumberRange
from wtforms.validators import Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from coordinator.errors import DomainError
from coordinator.extensions import db


class _CatalogTranslations:
    """WTForms' own messages (it ships no Vietnamese) through our catalog."""

    def gettext(self, text: str) -> str:
        return gettext(text)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return gettext(singular if n == 1 else plural)


class FlaskForm(_FlaskForm):
    class Meta(_FlaskForm.Meta):
        def get_translations(self, form):
            return _CatalogTranslations()


def DataRequired():  # noqa: N802 - validator factories read like the validators they make
    return _DataRequired(message=_l("This field is required."))


def Length(min: int = -1, max: int = -1):  # noqa: N802, A002 - as WTForms names them
    if min > 0:
        return _Length(min, max, message=_l("Between %(min)d and %(max)d characters."))
    return _Length(max=max, message=_l("At most %(max)d characters."))


def NumberRange(min: int, max: int):  # noqa: N802, A002
    return _NumberRange(min, max, message=_l("A number from %(min)s to %(max)s."))


# The same shape the API's marshmallow Email field accepts; the mailbox itself is proved
# by the messages we send, not by a pattern.
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an email address."))

# Blocks of the weekly availability grid: (code, start minute, end minute).
DAY_BLOCKS = (
    ("morning", 8 * 60, 12 * 60),
    ("afternoon", 13 * 60 + 30, 17 * 60 + 30),
    ("evening", 17 * 60 + 30, 21 * 60 + 30),
)


class CheckboxList(SelectMultipleField):
    """Several choices as a list of checkboxes (each with its own label)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), EMAIL, Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField(_l("Keep me logged in on this device"))


class RegisterForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), EMAIL, Length(max=320)])
    password = PasswordField(
        _l("Password (at least 10 characters)"), validators=[DataRequired(), Length(10, 1024)]
    )
    home_ward = SelectField(_l("Home ward"), validators=[DataRequired()])
    consent = BooleanField(
        _l("I agree that organizers may contact me about sessions"),
        validators=[_DataRequired(_l("Please agree to be contacted."))],
    )


class ProfileForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    phone = StringField(_l("Phone (optional)"), validators=[Optional(), Length(max=40)])
    home_ward = SelectField(_l("Home ward"), validators=[DataRequired()])
    skills = CheckboxList(_l("Skills"), validate_choice=True)
    languages = CheckboxList(_l("Languages"), validate_choice=True)
    accessibility_skills = CheckboxList(_l("Accessibility competencies"), validate_choice=True)
    max_sessions_per_week = IntegerField(
        _l("Sessions per week at most"), validators=[DataRequired(), NumberRange(1, 14)]
    )
    availability = CheckboxList(_l("When are you free each week?"), validate_choice=True)


class SessionForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    competence_area = SelectField(_l("Topic (digital competence)"), validators=[DataRequired()])
    target_group = SelectField(_l("Who it is for"), validators=[DataRequired()])
    ward = SelectField(_l("Ward"), validators=[DataRequired()])
    venue = StringField(_l("Venue"), validators=[DataRequired(), Length(max=300)])
    venue_accessibility = CheckboxList(_l("Venue accessibility"), validate_choice=True)
    participant_needs = CheckboxList(_l("Participants' needs"), validate_choice=True)
    starts_at = StringField(
        _l("Starts (local time)"), validators=[DataRequired()], render_kw={"type": "datetime-local"}
    )
    duration_minutes = IntegerField(
        _l("Length in minutes"), default=120, validators=[DataRequired(), NumberRange(15, 720)]
    )
    capacity = IntegerField(
        _l("Participants at most"), default=25, validators=[DataRequired(), NumberRange(1, 2000)]
    )
    leads = IntegerField(_l("Leads (experts)"), default=1, validators=[NumberRange(0, 20)])
    helpers = IntegerField(_l("Helpers"), default=2, validators=[NumberRange(0, 50)])
    interpreters = IntegerField(
        _l("Sign-language interpreters"), default=0, validators=[NumberRange(0, 10)]
    )
    weekly_count = IntegerField(
        _l("Repeat weekly (number of sessions)"), default=1, validators=[NumberRange(1, 52)]
    )


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=500)])


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV file (UTF-8)"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(["csv", "txt"], _l("A .csv file, please.")),
        ],
    )
    valid_rows_only = BooleanField(_l("Import the valid rows even if some rows have errors"))


class ParticipantForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    ward = SelectField(_l("Ward where you live"), validators=[DataRequired()])
    target_group = SelectField(_l("You are"), validators=[DataRequired()])
    accessibility_needs = CheckboxList(_l("Support you need"), validate_choice=True)
    contact = StringField(_l("Phone or email (optional)"), validators=[Optional(), Length(max=320)])
    guardian_contact = StringField(
        _l("Guardian's phone or email (for a minor)"), validators=[Optional(), Length(max=320)]
    )
    consent = BooleanField(
        _l("I agree that the organizers keep these details to run the sessions"),
        validators=[_DataRequired(_l("Registration needs your consent."))],
    )


class ReferenceImportForm(FlaskForm):
    kind = SelectField(
        _l("What the file holds"),
        choices=[
            SelectChoice("wards", _l("Wards and their neighbours (JSON or CSV)")),
            SelectChoice("competences", _l("Digital-competence framework (JSON)")),
        ],
    )
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file."))])


class EmptyForm(FlaskForm):
    """Just the CSRF token: for buttons that post."""


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices (tuples are deprecated there)."""
    return [SelectChoice(value, label) for value, label in pairs]


REFUSED = object()  # what `commit` returns when a rule said no


def commit(change, form: FlaskForm | None = None, aliases: dict | None = None):
    """Run `change` (operations flush, never commit) and commit; return its result.
    When a rule refuses, roll back, show the messages next to the fields they name on
    `form` (or at the top of the page) and return REFUSED."""
    try:
        result = change()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        if form is None or not apply_domain_error(form, error, aliases):
            flash(error.message, "error")
        return REFUSED
    return result


def apply_domain_error(form: FlaskForm, error: DomainError, aliases: dict | None = None) -> bool:
    """Put a rule's field messages next to the fields they concern; True if any landed."""
    landed = False
    for name, messages in (error.messages or {}).items():
        field = getattr(form, (aliases or {}).get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
            landed = True
    return landed
