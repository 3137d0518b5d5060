"""The contract's vocabularies: built-in codes with Vietnamese and English labels,
plus terms an admin adds (stored in vocabulary_terms)."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.extensions import db
from coordinator.vocabularies.models import VocabularyTerm

BUILT_IN: dict[str, list[tuple[str, str, str]]] = {
    "target_group": [
        ("civil_servants", "Cán bộ, công chức, viên chức", "Civil servants"),
        ("students", "Học sinh, sinh viên", "Students"),
        ("workers", "Người lao động trong doanh nghiệp", "Enterprise workers"),
        ("residents", "Người dân", "Residents"),
        ("youth_disabilities", "Thanh niên khuyết tật", "Young people with disabilities"),
    ],
    "accessibility_skills": [
        ("sign_language", "Ngôn ngữ ký hiệu", "Sign language"),
        ("screen_reader", "Trình đọc màn hình", "Screen reader"),
        ("easy_read", "Tài liệu dễ đọc", "Easy read"),
        ("low_vision", "Hỗ trợ người nhìn kém", "Low vision"),
        ("mobility", "Hỗ trợ vận động", "Mobility"),
    ],
    "venue_accessibility": [
        ("wheelchair", "Lối đi xe lăn", "Wheelchair access"),
        ("hearing_loop", "Vòng từ hỗ trợ nghe", "Hearing loop"),
        ("accessible_toilet", "Nhà vệ sinh tiếp cận", "Accessible toilet"),
        ("quiet_room", "Phòng yên tĩnh", "Quiet room"),
    ],
    "roles": [
        ("lead", "Giảng viên chính (chuyên gia)", "Lead (an expert)"),
        ("helper", "Tình nguyện viên hỗ trợ", "Helper"),
        ("interpreter", "Phiên dịch ngôn ngữ ký hiệu", "Interpreter"),
    ],
    "skills": [
        ("smartphone_basics", "Điện thoại thông minh cơ bản", "Smartphone basics"),
        ("online_public_services", "Dịch vụ công trực tuyến, VNeID", "Online public services"),
        ("cyber_safety", "An toàn trên mạng", "Cyber safety"),
        ("e_payment", "Thanh toán điện tử", "E-payment"),
        ("office_basics", "Tin học văn phòng", "Office basics"),
        ("ai_basics", "Ứng dụng AI cơ bản", "AI basics"),
        ("social_media", "Mạng xã hội", "Social media"),
    ],
    "languages": [
        ("vi", "Tiếng Việt", "Vietnamese"),
        ("en", "Tiếng Anh", "English"),
    ],
}
# participant_needs / accessibility_needs share the accessibility_skills codes.
ALIASES = {
    "participant_needs": "accessibility_skills",
    "accessibility_needs": "accessibility_skills",
}
TARGET_GROUPS = tuple(code for code, _, _ in BUILT_IN["target_group"])
# Fixed by the contract (and a CHECK constraint on participants): admin terms are ignored,
# so the API never offers a code that every write would refuse.
CLOSED = frozenset({"target_group"})


def vocabulary(name: str) -> list[dict]:
    """All terms of one vocabulary: built-in first, then admin additions."""
    name = ALIASES.get(name, name)
    terms = [{"code": c, "label": vi, "label_en": en} for c, vi, en in BUILT_IN.get(name, [])]
    if name in CLOSED:
        return terms
    known = {t["code"] for t in terms}
    for term in db.session.scalars(
        sa.select(VocabularyTerm)
        .where(VocabularyTerm.vocabulary == name)
        .order_by(VocabularyTerm.id)
    ):
        if term.code not in known:
            terms.append({"code": term.code, "label": term.label, "label_en": term.label_en})
    return terms


def codes(name: str) -> set[str]:
    return {term["code"] for term in vocabulary(name)}


def all_vocabularies() -> dict[str, list[dict]]:
    return {name: vocabulary(name) for name in BUILT_IN}


def unknown_codes(name: str, values: list[str]) -> list[str]:
    """The values not in vocabulary `name` (empty when all are known)."""
    allowed = codes(name)
    return [v for v in values if v not in allowed]
