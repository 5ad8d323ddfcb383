"""Reading delivery windows from what customers write (English and Spanish), against the clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from agent.brains.parsing import WindowError, parse_date_window

NOW = datetime(2026, 11, 23, 6, 0)  # a Monday morning
CURRENT = (datetime(2026, 11, 23, 18), datetime(2026, 11, 23, 22))

CASES = [
    (
        "Please reschedule SHP-1027 to 2026-11-27 between 10:00 and 12:00.",
        "2026-11-27 10:00",
        "12:00",
    ),
    ("Reschedule SHP-1027 please. New window: Fri 27/11 14:00-16:00", "2026-11-27 14:00", "16:00"),
    ("December 2nd, late afternoon, for SHP-1027", "2026-12-02 15:00", "17:00"),
    ("SHP-1027 day after tomorrow between 10 and 12", "2026-11-25 10:00", "12:00"),
    ("Can we push SHP-1027 to next Monday 9-11am?", "2026-11-30 09:00", "11:00"),
    ("a week from today around noon for SHP-1027", "2026-11-30 11:00", "13:00"),
    ("first thing Wednesday for SHP-1027", "2026-11-25 08:00", "10:00"),
    ("tomorrow between 1 and 3 for SHP-1027", "2026-11-24 13:00", "15:00"),
    ("SHP-1027 - can it come the day after Thanksgiving, 10am-12pm?", "2026-11-27 10:00", "12:00"),
    ("SHP-1027: Thursday, after 3pm", "2026-11-26 15:00", "17:00"),
    (
        "Receiving is closed today for inventory. Please bring SHP-1004 tomorrow 2-4pm.",
        "2026-11-24 14:00",
        "16:00",
    ),
    ("keep the same time slot but move SHP-1027 to Friday", "2026-11-27 18:00", "22:00"),
    ("SHP-1027 between 14:00 and 16:00 on Thursday", "2026-11-26 14:00", "16:00"),
    ("SHP-1027 fri 10a-12p", "2026-11-27 10:00", "12:00"),
    ("friday from 9 to 11 in the morning, SHP-1027", "2026-11-27 09:00", "11:00"),
    ("SHP-1027 -> fri 2-4", "2026-11-27 14:00", "16:00"),
    ("re: SHP-1027 — the 27th, 10 to noon", "2026-11-27 10:00", "12:00"),
    (
        "Our purchase order is PO-165502. Could the delivery come Friday 2-4pm instead?",
        "2026-11-27 14:00",
        "16:00",
    ),
    ("Necesito mover SHP-1027 a mañana por la mañana", "2026-11-24 08:00", "12:00"),
    (
        "el jueves 26 de noviembre entre las 2 y las 4 de la tarde, envío SHP-1027",
        "2026-11-26 14:00",
        "16:00",
    ),
    ("reprogramar SHP-1027 para el 1 de diciembre de 10 a 12", "2026-12-01 10:00", "12:00"),
    ("mover el envío SHP-1027 al miércoles de 10 a 12", "2026-11-25 10:00", "12:00"),
    (
        "SHP-1027 Thursday 2-4pm — no wait, sorry, make that Friday 10am-12pm",
        "2026-11-27 10:00",
        "12:00",
    ),
    ("pls mvoe SHP-1027 to thrusday 2-4pm thx", "2026-11-26 14:00", "16:00"),
    ("HI WE NEED SHP-1027 ON FRIDAY 10AM-12PM NOT TUESDAY", "2026-11-27 10:00", "12:00"),
    (
        "Dr. Patel from receiving here — nobody will be at the dock Tuesday, could SHP-1027 come"
        " Wednesday 1-3pm instead? Thanks so much!",
        "2026-11-25 13:00",
        "15:00",
    ),
    ("tmrw arvo for SHP-1027?", "2026-11-24 12:00", "17:00"),
    (
        "Hello,\n\nRegarding shipment SHP-1027: we would like it on Friday 9am-11am.\n\n"
        "Best regards,\nJane Doe\nReceiving, 555-0100",
        "2026-11-27 09:00",
        "11:00",
    ),
    ("SHP-1027 wendsday 10am-12pm", "2026-11-25 10:00", "12:00"),
    ("Move SHP-1027 to Friday, November 27, 9am-11am.", "2026-11-27 09:00", "11:00"),
    ("deliver SHP-1027 on Dec 1 between 1 and 3pm", "2026-12-01 13:00", "15:00"),
    ("reschedule SHP-1027 to 12/2 at 10am", "2026-12-02 10:00", "12:00"),
    ("SHP-1027 - Wed 25th 11am–1pm works for us", "2026-11-25 11:00", "13:00"),
    ("Please deliver SHP-1027 in 3 days, 2-4pm", "2026-11-26 14:00", "16:00"),
    ("SHP-1027 same time next week please", "2026-11-30 18:00", "22:00"),
    ("Push SHP-1027 back by one day, same time window", "2026-11-24 18:00", "22:00"),
    ("Thu 2–4 pm for SHP-1027", "2026-11-26 14:00", "16:00"),
    ("2pm-4pm on the 27th would be great for SHP-1027", "2026-11-27 14:00", "16:00"),
    (
        "SHP-1027 Friday 2-4pm because our fridge is being serviced (call Bob at +1 555 010 9999)",
        "2026-11-27 14:00",
        "16:00",
    ),
    ("Saturday 10am to 12pm for SHP-1006", "2026-11-28 10:00", "12:00"),
    ("SHP-1027 Wednesday at 3pm", "2026-11-25 15:00", "17:00"),
    (
        "Hola, ¿pueden entregar el envío SHP-1027 el viernes por la tarde?",
        "2026-11-27 12:00",
        "17:00",
    ),
    ("la misma hora la semana que viene, por favor, envío SHP-1027", "2026-11-30 18:00", "22:00"),
    ("¿Se puede cambiar la entrega SHP-1006 al domingo de 10 a 12?", "2026-11-29 10:00", "12:00"),
    ("SHP-1027 on 11/31/2026 at 3pm", "ERR", ""),
    ("Deliver SHP-1027 on 2027-02-30 morning", "ERR", ""),
    ("SHP-1027!!! thursday!!! 3pm-5pm!!!", "2026-11-26 15:00", "17:00"),
    (
        "Please make sure SHP-1027 comes on 2026-11-23 between 18:00h and 22:00h",
        "2026-11-23 18:00",
        "22:00",
    ),
    ("SHP-1006 Thursday 9pm-10pm", "2026-11-26 21:00", "22:00"),
]


@pytest.mark.parametrize(("text", "start", "end"), CASES, ids=[c[0][:40] for c in CASES])
def test_window_read_from_text(text, start, end):
    if start == "ERR":
        with pytest.raises(WindowError, match="not a real date"):
            parse_date_window(text, NOW, current=CURRENT)
        return
    window = parse_date_window(text, NOW, current=CURRENT)
    assert (window.start.strftime("%Y-%m-%d %H:%M"), window.end.strftime("%H:%M")) == (start, end)


def test_no_date_is_a_question():
    with pytest.raises(WindowError, match="which day"):
        parse_date_window("SHP-1027 later please, we are swamped", NOW)
