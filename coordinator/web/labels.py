"""Words that reach templates as data (role names, statuses, weekdays) and are passed
through gettext there. Listed here so the extractor finds them for the catalog."""


def N_(text: str) -> str:  # noqa: N802 - the conventional gettext_noop name
    return text


DATA_WORDS = (
    N_("Lead"),
    N_("Helper"),
    N_("Interpreter"),
    N_("Queued"),
    N_("Running"),
    N_("Finished"),
    N_("Failed"),
    N_("Proposed"),
    N_("Confirmed"),
    N_("Waitlisted"),
    N_("Declined"),
    N_("Withdrawn"),
    N_("Cancelled"),
    N_("Expired"),
    N_("Covered"),
    N_("Admin"),
    N_("Organizer"),
    N_("Participant"),
    N_("Volunteer"),
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
    # WTForms' built-in messages (it has no Vietnamese catalog of its own).
    N_("Not a valid integer value."),
    N_("Not a valid choice."),
    N_("'%(value)s' is not a valid choice for this field."),
    N_("'%(value)s' are not valid choices for this field."),
    N_("The CSRF token is missing."),
    N_("The CSRF token has expired."),
    N_("The CSRF token is invalid."),
)
