"""The words of every message, Vietnamese and English side by side.

One dict per language so a translator reads one column; `text(locale, key, **values)`
falls back to Vietnamese for a language we do not have.
"""

from __future__ import annotations

from datetime import datetime

LOCALES = ("vi", "en")

TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "booking_confirmed.subject": "Đã xác nhận: {title}",
        "booking_confirmed.intro": "Bạn đã có chỗ trong buổi học này. Chúng tôi sẽ nhắc lịch "
        "trước buổi học.",
        "reminder_1d.ask": "Bạn vẫn tham gia chứ? Bấm “Xác nhận”, hoặc “Không tham gia được” "
        "để nhường chỗ cho người khác.",
        "unconfirmed_volunteers.subject": "Chưa xác nhận tham gia: {title}",
        "unconfirmed_volunteers.intro": "Buổi học diễn ra vào ngày mai; các tình nguyện viên "
        "sau chưa xác nhận sẽ tham gia:",
        "label.lead": "Trưởng nhóm",
        "kind.booking_confirmed": "Xác nhận khi bạn có chỗ",
        "kind.unconfirmed_volunteers": "Tình nguyện viên chưa xác nhận (tối hôm trước)",
        "reminder_7d.subject": "Còn 7 ngày: {title}",
        "reminder_1d.subject": "Ngày mai: {title}",
        "reminder_2h.subject": "Còn 2 giờ: {title}",
        "reminder_7d.volunteer": "Buổi học bạn đã nhận sẽ diễn ra sau 7 ngày nữa.",
        "reminder_1d.volunteer": "Buổi học bạn đã nhận sẽ diễn ra vào ngày mai.",
        "reminder_2h.volunteer": "Buổi học bạn đã nhận sẽ bắt đầu sau 2 giờ nữa.",
        "reminder_1d.participant": "Buổi học bạn đã đăng ký sẽ diễn ra vào ngày mai.",
        "reminder_2h.participant": "Buổi học bạn đã đăng ký sẽ bắt đầu sau 2 giờ nữa.",
        "session_changed.subject": "Thay đổi lịch: {title}",
        "session_changed.intro": "Buổi học đã đổi thời gian hoặc địa điểm. Thông tin mới:",
        "session_cancelled.subject": "Đã hủy: {title}",
        "session_cancelled.intro": "Rất tiếc, buổi học này đã bị hủy.",
        "waitlist_promoted.subject": "Bạn đã có chỗ: {title}",
        "waitlist_promoted.intro": "Đã có chỗ trống: bạn được chuyển từ danh sách chờ "
        "và đã được xác nhận.",
        "proposal.subject": "Mời bạn tham gia: {title}",
        "proposal.intro": "Ban tổ chức đề xuất bạn tham gia buổi học này. Bạn có nhận không?",
        "proposal.expires": "Liên kết dùng được một lần, đến {expires}.",
        "proposal.reasons": "Vì sao là bạn",
        "proposal_expired.subject": "Đề xuất đã hết hạn: {title}",
        "proposal_expired.intro": "Đề xuất tham gia buổi học này đã hết hạn trả lời, nên chỗ "
        "đã được nhường cho người khác. Bạn vẫn có thể tìm buổi học khác phù hợp.",
        "assigned.subject": "Bạn được phân công: {title}",
        "assigned.intro": "Ban tổ chức đã phân công bạn vào buổi học này.",
        "registration_promoted.subject": "Bạn đã có chỗ: {title}",
        "registration_promoted.intro": "Đã có chỗ trống: bạn đã được xác nhận tham gia buổi học.",
        "unfilled_roles.subject": "Còn thiếu người: {title}",
        "unfilled_roles.intro": "Buổi học còn {days} ngày nữa nhưng vẫn thiếu người:",
        "unfilled_roles.row": "{role}: {confirmed}/{needed} đã xác nhận",
        "organizer_digest.subject": "Tổng hợp ngày {date}: rút lui và từ chối",
        "organizer_digest.intro": "Các trường hợp rút lui và từ chối trong 24 giờ qua:",
        "digest.withdrawn": "rút lui",
        "digest.declined": "từ chối",
        "digest.expired": "không trả lời đề xuất đúng hạn",
        "digest.late": "sát giờ",
        "label.when": "Thời gian",
        "label.where": "Địa điểm",
        "label.role": "Vai trò",
        "label.needs": "Nhu cầu hỗ trợ của học viên",
        "label.reason": "Lý do",
        "action.view": "Xem buổi học",
        "action.accept": "Xác nhận",
        "action.decline": "Không tham gia được",
        "action.choose": "Trả lời",
        "calendar.note": "Tệp lịch (.ics) đính kèm giúp bạn thêm buổi học vào lịch.",
        "footer.why": "Thư tự động của Bình dân học vụ số, xin đừng trả lời thư này.",
        "footer.preferences": "Chọn loại thư bạn muốn nhận",
        "footer.unsubscribe": "Không nhận loại thư này nữa",
        "greeting": "Chào {name},",
        "greeting.anonymous": "Xin chào,",
        "kind.reminder_7d": "Nhắc lịch trước 7 ngày",
        "kind.reminder_1d": "Nhắc lịch trước 1 ngày",
        "kind.reminder_2h": "Nhắc lịch trước 2 giờ",
        "kind.session_changed": "Buổi học đổi giờ hoặc địa điểm",
        "kind.session_cancelled": "Buổi học bị hủy",
        "kind.waitlist_promoted": "Được chuyển từ danh sách chờ",
        "kind.proposal": "Đề xuất chờ bạn trả lời",
        "kind.proposal_expired": "Đề xuất đã hết hạn trả lời",
        "kind.assigned": "Được ban tổ chức phân công",
        "kind.registration_promoted": "Có chỗ từ danh sách chờ",
        "kind.unfilled_roles": "Buổi học sắp tới còn thiếu người",
        "kind.organizer_digest": "Tổng hợp hằng ngày: rút lui và từ chối",
    },
    "en": {
        "booking_confirmed.subject": "Confirmed: {title}",
        "booking_confirmed.intro": "You have a place in this session. We will remind you "
        "before it starts.",
        "reminder_1d.ask": "Are you still coming? Tap “Confirm”, or “Can't make it” to give "
        "your place to someone else.",
        "unconfirmed_volunteers.subject": "Not confirmed yet: {title}",
        "unconfirmed_volunteers.intro": "The session is tomorrow; these volunteers have not "
        "confirmed they will come:",
        "label.lead": "Lead",
        "kind.booking_confirmed": "Confirmation when you have a place",
        "kind.unconfirmed_volunteers": "Volunteers who have not confirmed (the evening before)",
        "reminder_7d.subject": "In 7 days: {title}",
        "reminder_1d.subject": "Tomorrow: {title}",
        "reminder_2h.subject": "In 2 hours: {title}",
        "reminder_7d.volunteer": "The session you signed up for is one week away.",
        "reminder_1d.volunteer": "The session you signed up for is tomorrow.",
        "reminder_2h.volunteer": "The session you signed up for starts in two hours.",
        "reminder_1d.participant": "The session you registered for is tomorrow.",
        "reminder_2h.participant": "The session you registered for starts in two hours.",
        "session_changed.subject": "Changed: {title}",
        "session_changed.intro": "The session has a new time or place. The new details:",
        "session_cancelled.subject": "Cancelled: {title}",
        "session_cancelled.intro": "We are sorry: this session has been cancelled.",
        "waitlist_promoted.subject": "You have a place: {title}",
        "waitlist_promoted.intro": "A place opened up: you moved up from the waitlist "
        "and are confirmed.",
        "proposal.subject": "Can you help? {title}",
        "proposal.intro": "The organizers suggest you for this session. Will you take it?",
        "proposal.expires": "The links work once, until {expires}.",
        "proposal.reasons": "Why you",
        "proposal_expired.subject": "Proposal expired: {title}",
        "proposal_expired.intro": "The time to answer the proposal for this session has passed, "
        "so the seat went to someone else. You can still find another session that fits you.",
        "assigned.subject": "You are assigned: {title}",
        "assigned.intro": "An organizer has assigned you to this session.",
        "registration_promoted.subject": "You have a place: {title}",
        "registration_promoted.intro": "A place opened up: your registration is confirmed.",
        "unfilled_roles.subject": "Roles still open: {title}",
        "unfilled_roles.intro": "The session is {days} days away and still needs people:",
        "unfilled_roles.row": "{role}: {confirmed} of {needed} confirmed",
        "organizer_digest.subject": "Digest for {date}: withdrawals and declines",
        "organizer_digest.intro": "Withdrawals and declines in the last 24 hours:",
        "digest.withdrawn": "withdrew",
        "digest.declined": "declined",
        "digest.expired": "did not answer a proposal in time",
        "digest.late": "late",
        "label.when": "When",
        "label.where": "Where",
        "label.role": "Role",
        "label.needs": "Participants' access needs",
        "label.reason": "Reason",
        "action.view": "View the session",
        "action.accept": "Confirm",
        "action.decline": "Can't make it",
        "action.choose": "Answer",
        "calendar.note": "The attached calendar file (.ics) adds the session to your calendar.",
        "footer.why": "An automatic message from Bình dân học vụ số; please do not reply.",
        "footer.preferences": "Choose which emails you get",
        "footer.unsubscribe": "Stop these emails",
        "greeting": "Hello {name},",
        "greeting.anonymous": "Hello,",
        "kind.reminder_7d": "Reminder 7 days before",
        "kind.reminder_1d": "Reminder 1 day before",
        "kind.reminder_2h": "Reminder 2 hours before",
        "kind.session_changed": "A session changes time or place",
        "kind.session_cancelled": "A session is cancelled",
        "kind.waitlist_promoted": "Moved up from the waitlist",
        "kind.proposal_expired": "Proposal expired",
        "kind.proposal": "Proposals awaiting your answer",
        "kind.assigned": "Assigned by an organizer",
        "kind.registration_promoted": "A place from the waitlist",
        "kind.unfilled_roles": "Upcoming sessions with open roles",
        "kind.organizer_digest": "Daily digest of withdrawals and declines",
    },
}

WEEKDAYS = {
    "vi": ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS_EN = (
    "January February March April May June July August September October November December"
).split()


def language(locale: str | None) -> str:
    return locale if locale in LOCALES else "vi"


def text(locale: str, key: str, **values) -> str:
    return TEXTS[language(locale)][key].format(**values)


def when(locale: str, starts: datetime, ends: datetime | None = None) -> str:
    """'Thứ Ba, 02/12/2026, 18:00–20:00' or 'Tuesday 2 December 2026, 18:00–20:00' (times
    already in the display zone)."""
    locale = language(locale)
    weekday = WEEKDAYS[locale][starts.weekday()]
    if locale == "vi":
        day = f"{weekday}, {starts:%d/%m/%Y}"
    else:
        day = f"{weekday} {starts.day} {MONTHS_EN[starts.month - 1]} {starts.year}"
    hours = f"{starts:%H:%M}" + (f"–{ends:%H:%M}" if ends is not None else "")
    return f"{day}, {hours}"
