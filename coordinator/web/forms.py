"""What every page form shares (Flask-WTF: CSRF on every one): the base form, validators
with translated messages, choices from the reference data, and `commit`, which shows a
rule's refusal next to the fields it names. Labels are English msgids, shown translated.
A feature's own forms live in its folder (`coordinator/<feature>/forms.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app, flash
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm as _FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired as _DataRequired
from wtforms.validators import EqualTo, Optional, Regexp, ValidationError
from wtforms.validators import Length as _Length
from wtforms.validators import NumberRange as _NumberRange
from wtforms.widgets import CheckboxInput, ListWidget, TextArea

from coordinator.errors import DomainError
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.geography.operations import exists_today
from coordinator.people.scopes import OutOfScope, scope_of
from coordinator.phones import PhoneRefused, looks_like_phone, to_e164
from coordinator.text import TextRefused, clean_text, vietnamese_sort_key
from coordinator.vocabularies.terms import vocabulary

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # the largest file an upload form accepts
UNIT_PREFIXES = ("Phường ", "Xã ", "Đặc khu ")


class _CatalogTranslations:
    """WTForms' own messages (it ships no Vietnamese) through our catalog."""

    def gettext(self, text: str) -> str:
        return gettext(text)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return gettext(singular if n == 1 else plural)


class FlaskForm(_FlaskForm):
    class Meta(_FlaskForm.Meta):
        def get_translations(self, form: _FlaskForm) -> _CatalogTranslations:
            return _CatalogTranslations()


def DataRequired() -> _DataRequired:  # noqa: N802 - validator factories read like the validators they make
    return _DataRequired(message=_l("This field is required."))


def Length(min: int = -1, max: int = -1) -> _Length:  # noqa: N802, A002 - as WTForms names them
    if min > 0:
        return _Length(min, max, message=_l("Between %(min)d and %(max)d characters."))
    return _Length(max=max, message=_l("At most %(max)d characters."))


def NumberRange(min: int, max: int) -> _NumberRange:  # noqa: N802, A002
    return _NumberRange(min, max, message=_l("A number from %(min)s to %(max)s."))


# The same shape the API's marshmallow Email field accepts; the mailbox itself is proved
# by the messages we send, not by a pattern.
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an email address."))


class _Phone:
    """A Vietnamese mobile number, as the API's `Phone` field takes it (libphonenumber
    decides); the field's data becomes E.164. `contact=True`: only a value with no '@' and
    no letters is read as a phone number (the API's `Contact`)."""

    message = _l("Enter a Vietnamese mobile number, e.g. 0912 345 678 or +84 912 345 678.")

    def __init__(self, contact: bool = False):
        self.contact = contact

    def __call__(self, form, field) -> None:
        if not field.data or (self.contact and not looks_like_phone(field.data)):
            return
        try:
            field.data = to_e164(field.data)
        except PhoneRefused:
            raise ValidationError(self.message) from None


PHONE = _Phone()
PHONE_CONTACT = _Phone(contact=True)
_REFUSED_TEXT = {
    "nul": _l("NUL characters are not allowed."),
    "control": _l("Line breaks, tabs and other control characters are not allowed here."),
}


class TextField(StringField):
    """Typed text under the API's rule (`coordinator.text.clean_text`, as the schemas'
    `Text` applies it): NFC and trimmed; `multiline=False` (names, contacts, phone
    numbers) refuses control characters, tabs and line breaks included, with a message
    next to the field (the input is kept); multi-line text keeps line breaks as LF."""

    def __init__(self, label=None, validators=None, *, multiline: bool = False, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.multiline = multiline

    def process_formdata(self, valuelist: list) -> None:
        super().process_formdata(valuelist)
        if self.data:
            try:
                self.data = clean_text(self.data, multiline=self.multiline)
            except TextRefused as refused:
                raise ValueError(str(_REFUSED_TEXT[refused.code])) from None


class TextAreaTextField(TextField):
    """A <textarea> under the multi-line rule."""

    widget = TextArea()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, multiline=True, **kwargs)


class CheckboxList(SelectMultipleField):
    """Several choices as a list of checkboxes (each with its own label)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), EMAIL, Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField(_l("Keep me logged in on this device"))


class RegisterForm(FlaskForm):
    full_name = TextField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), EMAIL, Length(max=320)])
    password = PasswordField(
        _l("Password (at least 10 characters)"), validators=[DataRequired(), Length(10, 1024)]
    )
    home_ward = SelectField(_l("Home ward"), validators=[DataRequired()])
    consent = BooleanField(
        _l("I agree that organizers may contact me about sessions"),
        validators=[_DataRequired(_l("Please agree to be contacted."))],
    )


def new_password_field() -> PasswordField:
    """A new password, as every form that sets one asks for it (with `confirm_password_field`)."""
    return PasswordField(
        _l("New password (at least 10 characters)"),
        validators=[DataRequired(), Length(10, 1024)],
        render_kw={"autocomplete": "new-password"},
    )


def confirm_password_field() -> PasswordField:
    """The new password again, equal to the form's `new_password`. (Fields made by
    functions, so each form lists them in its own order: the error summary follows it.)"""
    return PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=_l("The two new passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class PasswordForm(FlaskForm):
    """Change one's own password: the current one, and the new one twice."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = new_password_field()
    confirm_password = confirm_password_field()
    revoke_api_tokens = BooleanField(
        _l("Also revoke my API tokens (scripts that use them will need new ones)"), default=True
    )


class NewPasswordForm(FlaskForm):
    """A new password twice (the forgot-password link's page)."""

    new_password = new_password_field()
    confirm_password = confirm_password_field()


class ReasonForm(FlaskForm):
    reason = TextField(
        _l("Reason (optional)"), validators=[Optional(), Length(max=500)], multiline=True
    )


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV file (UTF-8)"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(["csv", "txt"], _l("A .csv file, please.")),
        ],
    )
    valid_rows_only = BooleanField(_l("Import the valid rows even if some rows have errors"))


class EmptyForm(FlaskForm):
    """Just the CSRF token: for buttons that post."""


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices (tuples are deprecated there)."""
    return [SelectChoice(value, label) for value, label in pairs]


def ward_choices(keep: Iterable[str | None] = (), near: str | None = None) -> list[tuple[str, str]]:
    """Today's units a ward picker offers, as (code, name) pairs in Vietnamese order: for
    a scoped organizer their units; else the province of the ward `near` (a session's),
    of the volunteer's home ward, or the service's (COORDINATOR_PROVINCE); units with no
    province too. Plus the units in `keep` (what the record holds, even if it ended).
    The whole country is 3,321 units: no list a phone can scroll."""
    user = current_user if current_user and current_user.is_authenticated else None
    scope = scope_of(user)
    current = exists_today()
    if not scope.national and user is not None and user.has_role("organizer"):
        wards = _picker_wards(sa.and_(current, scope.where(Ward.code)))
    else:
        home = near or (user.volunteer.home_ward if user and user.volunteer else None)
        province = home and db.session.scalar(
            sa.select(Ward.province_code).where(Ward.code == home)
        )
        province = province or current_app.config["COORDINATOR_PROVINCE"]
        in_province = sa.or_(Ward.province_code == province, Ward.province_code.is_(None))
        # a service whose units are elsewhere (or not placed in provinces) offers them all
        wards = _picker_wards(sa.and_(current, in_province)) or _picker_wards(current)
    kept = [code for code in keep if code and code not in {w.code for w in wards}]
    if kept:
        wards += _picker_wards(Ward.code.in_(kept))
    return [(w.code, w.name) for w in sorted(wards, key=_picker_order)]


def _picker_wards(where: sa.ColumnElement[bool]) -> list[Ward]:
    return list(db.session.scalars(sa.select(Ward).where(where)))


def _picker_order(ward: Ward) -> tuple:
    """By name without its type ("Phường Bạch Mai" files under B), then by code."""
    name = ward.name
    for prefix in UNIT_PREFIXES:
        name = name.removeprefix(prefix)
    return vietnamese_sort_key(name), ward.code


def vocabulary_choices(name: str, current: Iterable[str] = ()) -> list[tuple[str, str]]:
    """A vocabulary as form choices, labelled in the page's language, plus codes the
    record already has that the vocabulary lacks (nothing chosen disappears)."""
    english = str(get_locale()) == "en"
    terms = [(t["code"], t["label_en"] if english else t["label"]) for t in vocabulary(name)]
    known = {code for code, _label in terms}
    return terms + [(code, code) for code in current if code not in known]


def fields_in_error(*forms: object) -> list:
    """The visible fields with errors of the page's forms (those defined), in order: the
    error summary links each."""
    return [
        field
        for form in forms
        if isinstance(form, _FlaskForm)
        for field in form
        if field.errors and field.type not in ("CSRFTokenField", "HiddenField")
    ]


REFUSED = object()  # what `commit` returns when a rule said no
_Result = TypeVar("_Result")


def commit(
    change: Callable[[], _Result],
    form: FlaskForm | None = None,
    aliases: dict[str, str] | None = None,
) -> _Result | object:
    """Run `change` (operations flush, never commit) and commit; return its result.
    When a rule refuses, roll back, show the messages next to the fields they name on
    `form` (or at the top of the page) and return REFUSED."""
    try:
        result = change()
        db.session.commit()
    except OutOfScope:
        db.session.rollback()
        raise  # the error page's 403: no form can fix a unit the caller does not organize
    except DomainError as error:
        db.session.rollback()
        if form is None or not apply_domain_error(form, error, aliases):
            flash(error.message, "error")
        return REFUSED
    return result


def apply_domain_error(
    form: FlaskForm, error: DomainError, aliases: dict[str, str] | None = None
) -> bool:
    """Put a rule's field messages next to the fields they concern; True if any landed."""
    landed = False
    for name, messages in (error.messages or {}).items():
        field = getattr(form, (aliases or {}).get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
            landed = True
    return landed
