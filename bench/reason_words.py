"""What wording a run's proposal reasons costs write_plan: 15,000 proposals (a city's
month) of six reason codes each, worded per volunteer's language (a fifth in English)
as `matching.operations._reasons_in_their_language` does (the
run's page and API read its codes the same way, per organizer), against copying the codes.

    PYTHONPATH=. .venv/bin/python bench/reason_words.py [--copy]
"""

from __future__ import annotations

import sys
import time

from coordinator import create_app
from coordinator.matching.engine.explain import reason
from coordinator.matching.reasons import reasons_text
from coordinator.notifications.texts import speaking

ROWS = 15_000


def main() -> None:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    codes = [
        (
            reason("need", "sign_language"),
            reason("expert"),
            reason("distance", i % 3 or "far"),
            reason("free", i % 7, "18:00-21:00"),
            reason("week", i % 3),
            reason("squad"),
        )
        for i in range(ROWS)
    ]
    with app.app_context():
        start = time.perf_counter()
        if "--copy" in sys.argv:
            out = [list(row) for row in codes]
        else:
            out = []
            for locale in ("vi", "en"):
                said: dict[str, str] = {}
                with speaking(locale):
                    for k, row in enumerate(codes):
                        if (k % 5 == 0) == (locale == "en"):
                            out.append(reasons_text(row, said))
        print(f"{len(out)} rows in {(time.perf_counter() - start) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
