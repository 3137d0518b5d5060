"""What each DigComp 2.2 proficiency level means, in words a squad lead can use at the
door (the framework's own wording, shortened): the check-in page shows these, not bare
numbers."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LEVEL_MEANINGS = {
    1: _l("does simple tasks with someone guiding"),
    2: _l("does simple tasks alone, with help when needed"),
    3: _l("does everyday tasks alone and solves clear problems"),
    4: _l("does tasks of their own choosing and solves new problems alone"),
    5: _l("can guide others through different tasks"),
    6: _l("adapts to others in complex situations"),
    7: _l("solves complex problems and guides others at work"),
    8: _l("proposes new ideas and ways of working"),
}
