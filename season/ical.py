"""The season as an iCalendar (RFC 5545) document, built with the ``icalendar`` library.

Six events per partner and school year, when known: the planning form deadline, the pause start,
the resume date, the PowerSchool visibility instant (PowerSchool partners), the data review day and
the first day of school. Dates are partner-local all-day events; the PowerSchool instant is UTC.
UIDs are stable (partner, school year, event), so calendar apps update events in place.
"""

from datetime import date, datetime, timedelta

import icalendar
from django.utils import timezone

from syncs.selectors import Season

EVENTS = [
    ("form-deadline", "BTS planning form due"),
    ("pause-start", "Nightly roster sync pauses"),
    ("resume", "Nightly roster sync resumes"),
    ("powerschool-visible", "PowerSchool data expected in the platform"),
    ("data-review", "Data review day: check rosters, schools and grades"),
    ("first-day", "First day of school"),
]


def season_events(season: Season) -> list[tuple[str, str, date | datetime]]:
    """``[(key, title, date or aware UTC datetime)]`` of the season's known events, in ``EVENTS`` order."""
    year = season.school_year
    when = {
        "form-deadline": year.planning_deadline if year else None,
        "pause-start": season.window.start if season.window else None,
        "resume": season.window.resume if season.window else None,
        "powerschool-visible": season.powerschool_visible_at,
        "data-review": season.data_review_day,
        "first-day": season.first_day_of_school,
    }
    return [(key, title, day) for key, title in EVENTS if (day := when[key]) is not None]


def season_calendar(seasons: list[Season], name: str, base_url: str, *, named: bool = False) -> bytes:
    """An ``.ics`` document of ``seasons`` called ``name``; ``base_url`` makes each event's link
    to the partner's timeline. With ``named`` (a feed of several partners), titles start with the
    partner's name."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//BTS Portal//season calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    cal.add("x-published-ttl", "PT12H")
    stamp = timezone.now()
    for season in seasons:
        partner, label = season.partner, season.school_year.label if season.school_year else "none"
        prefix = f"{partner.name}: " if named else ""
        for key, title, when in season_events(season):
            event = icalendar.Event()
            event.add("uid", f"{partner.slug}-{label}-{key}@bts-portal")
            event.add("dtstamp", stamp)
            event.add("summary", prefix + title)
            if isinstance(when, datetime):
                event.add("dtstart", when)
                event.add("dtend", when + timedelta(minutes=30))
            else:
                event.add("dtstart", when)
                event.add("dtend", when + timedelta(days=1))
            event.add("url", f"{base_url}/p/{partner.slug}/timeline/")
            event.add("description", f"{partner.name}, school year {label}. Times are local to {partner.time_zone}.")
            cal.add_component(event)
    return cal.to_ical()
