"""Patient, guarantor and member identifiers, turned into tokens the moment they are read.

This is the only module of the HL7 v2 translation that reads identifier fields (PID-2/3, GT1-2,
IN1-36/49); it hands out tokens and never the values (DESIGN.md section 9). Names (PID-5, GT1-3,
IN1-16), birth dates (PID-7, IN1-18), addresses (PID-11, GT1-5, IN1-19) and phone numbers are
never read at all.

Token kinds are shared with the other formats so that the same person matches across sources:
``mrn`` for the medical record number, ``guarantor`` for a guarantor number, ``member`` for a
payer's member or policy id.
"""

from __future__ import annotations

from revbridge.core.ids import PatientToken
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2.message import Message, Segment

MRN = "mrn"
GUARANTOR = "guarantor"
MEMBER = "member"
_RECORD_NUMBER_TYPES = frozenset({"MR", "MRN"})  # HL7 table 0203 MR, and the common "MRN"


def patient_token(message: Message, ctx: ParseContext) -> PatientToken | None:
    """PID-3: the repetition typed MR (CX-5), else the first one with an id; else PID-2."""
    pid = message.first("PID")
    if pid is None:
        return None
    chosen = ""
    repetitions = pid.repetitions(3)
    for n in range(1, len(repetitions) + 1):
        value = pid.get(3, 1, 1, n).strip()
        if not value:
            continue
        if pid.get(3, 5, 1, n).strip().upper() in _RECORD_NUMBER_TYPES:
            chosen = value
            break
        if not chosen:
            chosen = value
    if not chosen:
        chosen = pid.get(2, 1).strip()
    return ctx.tokenizer(MRN, chosen) if chosen else None


def guarantor_token(message: Message, ctx: ParseContext) -> PatientToken | None:
    gt1 = message.first("GT1")
    if gt1 is None:
        return None
    value = gt1.get(2, 1).strip()
    return ctx.tokenizer(GUARANTOR, value) if value else None


def member_token(in1: Segment, ctx: ParseContext) -> PatientToken | None:
    """IN1-36 policy number, else IN1-49 insured's id number."""
    value = in1.get(36, 1).strip() or in1.get(49, 1).strip()
    return ctx.tokenizer(MEMBER, value) if value else None


def encounter_id(message: Message) -> tuple[str, str]:
    """The visit number PV1-19.1, else the patient account number PID-18.1, with the locator of
    the field it came from (or of the one that should have held it)."""
    pv1 = message.first("PV1")
    if pv1 is not None:
        value = pv1.get(19, 1).strip()
        if value:
            return value, pv1.locator(19, 1)
    pid = message.first("PID")
    if pid is not None:
        value = pid.get(18, 1).strip()
        if value:
            return value, pid.locator(18, 1)
    return "", "PV1[1]-19" if pv1 is not None or pid is None else "PID[1]-18"
