"""Reasons, in Vietnamese and English: why each proposal, and why a seat stays empty."""

from __future__ import annotations

from coordinator.matching.engine.problem import (
    DAY,
    EXPERT_ROLES,
    Plan,
    Proposal,
    Role,
    Unfilled,
)
from coordinator.matching.engine.state import WorkingPlan

WEEKDAYS = (
    ("Thứ Hai", "Mon"),
    ("Thứ Ba", "Tue"),
    ("Thứ Tư", "Wed"),
    ("Thứ Năm", "Thu"),
    ("Thứ Sáu", "Fri"),
    ("Thứ Bảy", "Sat"),
    ("Chủ Nhật", "Sun"),
)
NEEDS = {
    "sign_language": ("biết ngôn ngữ ký hiệu", "signs VSL"),
    "screen_reader": ("dùng được trình đọc màn hình", "knows screen readers"),
    "easy_read": ("soạn được tài liệu dễ đọc", "writes easy-read"),
    "low_vision": ("hỗ trợ người nhìn kém", "supports low vision"),
    "mobility": ("hỗ trợ vận động", "supports mobility"),
}
DISTANCE: dict[int | None, tuple[str, str]] = {
    0: ("cùng phường", "same ward"),
    1: ("phường lân cận", "neighbouring ward"),
}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def proposal_reasons(plan: WorkingPlan, volunteer_id: int, role: Role) -> tuple[str, ...]:
    rules = plan.rules
    volunteer, session = rules.volunteer[volunteer_id], rules.session[role.session_id]
    reasons = []
    for need in sorted(session.needs & volunteer.accessibility):
        vi, en = NEEDS.get(need, (need, need))
        reasons.append(f"{vi} / {en}")
    if role.name in EXPERT_ROLES:
        reasons.append("chuyên gia / expert")
    vi, en = DISTANCE.get(rules.distance(volunteer, session), ("cách hai phường", "two wards away"))
    reasons.append(f"{vi} / {en}")
    for start, end in volunteer.spans:
        begin = session.weekday * DAY + session.local_start
        if start <= begin and session.weekday * DAY + session.local_end <= end:
            day_vi, day_en = WEEKDAYS[(start // DAY) % 7]
            span = f"{_hhmm(start % DAY)}-{_hhmm(end % DAY if end % DAY else DAY)}"
            if end - start // DAY * DAY > DAY:  # into the next day
                reasons.append(f"rảnh {day_vi} {span} hôm sau / free {day_en} {span} next day")
            else:
                reasons.append(f"rảnh {day_vi} {span} / free {day_en} {span}")
            break
    week = sum(1 for s in plan.busy[volunteer_id] if s.week == session.week)
    reasons.append(f"{week} buổi tuần này / {week} session{'s' if week > 1 else ''} this week")
    if session.series_people and volunteer_id in session.series_people:
        reasons.append("đã tham gia chuỗi buổi này / already in this series")
    if session.squads & volunteer.squads:
        reasons.append("cùng đội với người đã nhận / same squad as those booked")
    if volunteer.preferred_topics and session.topic in volunteer.preferred_topics:
        reasons.append("chủ đề yêu thích / a preferred topic")
    return tuple(reasons)


def unfilled_reasons(plan: WorkingPlan, role_index: int) -> tuple[str, ...]:
    rules = plan.rules
    role = plan.roles[role_index]
    session = rules.session[role.session_id]
    options = plan.candidates(role_index)
    if not options:
        return (
            "không ai vừa đủ kỹ năng, vừa rảnh giờ đó, vừa ở gần / "
            "nobody has the skills, is free at that time and lives near enough",
        )
    reasons = []
    missing = plan.missing_needs(session)
    if session.needs and (missing or not plan.staff[session.id]):
        labels = [NEEDS.get(n, (n, n)) for n in sorted(missing or session.needs)]
        reasons.append(
            "không có tình nguyện viên rảnh "
            + ", ".join(vi for vi, _ in labels)
            + " / no free volunteer who "
            + ", ".join(en for _, en in labels)
        )
    here = sum(1 for _, v in options if v in plan.staff[session.id])
    reasons.append(
        f"cả {len(options)} người phù hợp đã kín lịch giờ đó hoặc đủ số buổi trong tuần"
        + (f" ({here} người đã nhận vai trò khác ở buổi này)" if here else "")
        + f" / all {len(options)} suitable volunteers are booked then or at their weekly"
        + " limit"
        + (f" ({here} already in another role here)" if here else "")
    )
    return tuple(reasons)


def explain(plan: WorkingPlan) -> Plan:
    rules = plan.rules
    proposals = [
        Proposal(
            volunteer_id=volunteer_id,
            role_id=role_id,
            session_id=rules.role[role_id].session_id,
            cost=cost,
            reasons=proposal_reasons(plan, volunteer_id, rules.role[role_id]),
        )
        for (volunteer_id, role_id), cost in sorted(plan.proposals.items())
    ]
    unfilled = [
        Unfilled(
            role_id=role.id,
            session_id=role.session_id,
            seats=plan.free_seats(role),
            reasons=unfilled_reasons(plan, j),
        )
        for j, role in enumerate(plan.roles)
        if plan.free_seats(role) > 0
    ]
    objective = rules.objective(plan.pairs())
    return Plan(proposals=proposals, unfilled=unfilled, objective=objective)
