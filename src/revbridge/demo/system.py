"""The demo health system as its senders see it: who sends what, how much, and with which codes.

This is the traffic side of the reference configuration in ``examples/config`` (Mercy Health:
six hospitals in two legal entities). Every identifier here (MSH-4, payee ids, portal codes,
department codes, payer aliases) is one that configuration maps, so the generated traffic posts;
``check`` lists any that a given configuration does not, and the unit tests run it against
``examples/config``. The few values the configuration must *not* know are the deliberate faults'
(``UNMAPPED_DEPARTMENT``, ``UNKNOWN_PAYER_ALIAS``).

Volumes are per day at scale 1 (the generator multiplies them). Prices are chargemaster ranges
of a US community hospital; allowed shares and patient shares are rough payer-class averages.
Nothing here is real patient data, and nothing here is read from files: the generator is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from revbridge.masterdata.model import MasterData

UNMAPPED_DEPARTMENT = "RAD9"  # a typo'd radiology code (DESIGN.md section 4's own example)
UNKNOWN_PAYER_ALIAS = "60099"  # a payer id the registrars started using before anyone mapped it
RECEIVER = "MERCYHEALTH"  # ISA08 / GS03 of every file sent to revbridge

D = Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Procedure:
    code: str  # CPT / HCPCS / CDT as billed (FT1-25, SV1/SV2, SVC); "" for room and board
    cdm: str  # the chargemaster item (FT1-7)
    description: str
    revenue_code: str  # UB-04 revenue code, one of its department's in departments.yaml
    low: Decimal  # price range per unit
    high: Decimal
    max_units: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Department:
    code: str  # as sent in PV1-10 and FT1-13
    procedures: tuple[Procedure, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Payer:
    code: str  # payers.yaml code
    name: str
    payer_class: str
    in1_id: str  # the alias registration sends in IN1-3
    era_id: str  # the alias its 835s carry in TRN03
    isa_id: str  # ISA06 of its files
    filing: str  # CLP06 claim filing indicator
    allowed: tuple[Decimal, Decimal]  # allowed amount as a share of charges
    deductible: float  # probability that a deductible applies
    coinsurance: Decimal  # share of the allowed amount after deductible and copay
    copay: Decimal  # per outpatient or emergency visit
    fhir: str = ""  # its FHIR Organization reference, when it remits by FHIR to FHIR facilities


@dataclass(frozen=True, slots=True, kw_only=True)
class Facility:
    code: str  # facilities.yaml code: the facility dimension on journal lines
    name: str
    short: str  # prefix of its control ids, visit numbers and claim ids
    msh4: str
    payee_qualifier: str  # N1*PE N103: XX (NPI) or FI (tax id)
    payee_id: str  # N1*PE N104, a configured npi or tax_id
    npi: str  # 837 NM1*85, the billing provider; the reference configuration maps every one
    tax_id: str
    portal: str
    fhir: str  # its FHIR Organization reference, "" when it sends no FHIR
    encounters: int  # registrations per day at scale 1
    classes: tuple[tuple[str, int], ...]  # patient class (PV1-2) weights: E, I, O
    services: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # class -> PV1-10 weights
    payers: tuple[tuple[str, int], ...]  # payer code weights; "" is self-pay
    self_pay_in1: str = ""  # IN1-3 its PAS sends for self-pay visits ("" = no IN1 at all)

    def weights(self, patient_class: str) -> tuple[tuple[str, int], ...]:
        return next(w for c, w in self.services if c == patient_class)


def _p(code: str, cdm: str, text: str, rev: str, low: str, high: str, units: int = 1) -> Procedure:
    return Procedure(
        code=code, cdm=cdm, description=text, revenue_code=rev, low=D(low), high=D(high), max_units=units
    )


ED_VISITS = (
    _p("99283", "4500003", "ED VISIT LEVEL 3", "0450", "850.00", "1400.00"),
    _p("99284", "4500004", "ED VISIT LEVEL 4", "0450", "1400.00", "2400.00"),
    _p("99285", "4500005", "ED VISIT LEVEL 5", "0450", "2200.00", "3800.00"),
)
LAB = (
    _p("80053", "3000053", "COMPREHENSIVE METABOLIC PANEL", "0301", "120.00", "260.00"),
    _p("85025", "3000025", "CBC WITH DIFFERENTIAL", "0305", "60.00", "140.00"),
    _p("84484", "3000484", "TROPONIN QUANTITATIVE", "0301", "150.00", "300.00"),
    _p("81001", "3000001", "URINALYSIS AUTOMATED", "0300", "35.00", "80.00"),
)
RAD = (
    _p("71046", "3200046", "XR CHEST 2 VIEWS", "0320", "180.00", "450.00"),
    _p("70450", "3500450", "CT HEAD WITHOUT CONTRAST", "0350", "1400.00", "3200.00"),
    _p("74177", "3500177", "CT ABDOMEN PELVIS WITH CONTRAST", "0350", "2200.00", "4800.00"),
    _p("76700", "6100700", "US ABDOMEN COMPLETE", "0610", "450.00", "1100.00"),
)
PHARM = (
    _p("J1885", "2500885", "KETOROLAC 15 MG INJ", "0636", "25.00", "90.00", 4),
    _p("J2405", "2500405", "ONDANSETRON 1 MG INJ", "0636", "30.00", "110.00", 4),
    _p("J0696", "2500696", "CEFTRIAXONE 250 MG INJ", "0636", "60.00", "180.00", 4),
    _p("J7030", "2507030", "NORMAL SALINE 1000 CC", "0250", "15.00", "120.00", 3),
)
SURGERY = (
    _p("47562", "3600562", "LAPAROSCOPIC CHOLECYSTECTOMY", "0360", "9000.00", "18000.00"),
    _p("29881", "3600881", "KNEE ARTHROSCOPY MENISCECTOMY", "0360", "6000.00", "12000.00"),
    _p("49505", "3600505", "INGUINAL HERNIA REPAIR", "0360", "5000.00", "11000.00"),
)
ANESTHESIA = _p("00790", "3700790", "ANESTHESIA PER CASE", "0370", "1200.00", "3500.00")
DELIVERY = (
    _p("59400", "7200400", "VAGINAL DELIVERY ROUTINE", "0720", "6000.00", "11000.00"),
    _p("59510", "7200510", "CESAREAN DELIVERY ROUTINE", "0720", "9000.00", "16000.00"),
)
ENDOSCOPY = (
    _p("45378", "7500378", "COLONOSCOPY DIAGNOSTIC", "0750", "2500.00", "5200.00"),
    _p("43239", "7500239", "EGD WITH BIOPSY", "0750", "2200.00", "4500.00"),
)
THERAPY = (
    _p("90837", "9140837", "PSYCHOTHERAPY 60 MIN", "0914", "180.00", "320.00"),
    _p("90791", "9140791", "PSYCHIATRIC DIAGNOSTIC EVALUATION", "0914", "250.00", "450.00"),
)
DENTAL = (
    _p("D0120", "5100120", "PERIODIC ORAL EVALUATION", "0510", "60.00", "110.00"),
    _p("D1110", "5100110", "PROPHYLAXIS ADULT", "0510", "90.00", "160.00"),
    _p("D2391", "5102391", "RESIN COMPOSITE ONE SURFACE", "0510", "150.00", "280.00"),
)


ROOM_MED = _p("", "1200001", "MED SURG ROOM AND BOARD", "0120", "2200.00", "3600.00")
ROOM_ICU = _p("", "2000001", "ICU ROOM AND BOARD", "0200", "4500.00", "7800.00")
ROOM_OB = _p("", "7200001", "LABOR AND DELIVERY ROOM", "0720", "1800.00", "2900.00")
ROOM_PSYCH = _p("", "9000001", "PSYCH ROOM AND BOARD", "0900", "1400.00", "2200.00")
ROOM_BAY = _p("", "1200101", "MEDICINE ROOM AND BOARD", "0120", "2100.00", "3400.00")
ROOM_BAY_OB = _p("", "7200101", "MATERNITY ROOM AND BOARD", "0720", "1700.00", "2800.00")


DEPARTMENTS: tuple[Department, ...] = (
    Department(code="ED", procedures=ED_VISITS),
    Department(code="LAB", procedures=LAB),
    Department(code="RAD", procedures=RAD),
    Department(code="PHARM", procedures=PHARM),
    Department(code="SURG", procedures=(*SURGERY, ANESTHESIA)),
    Department(code="ICU", procedures=(ROOM_ICU,)),
    Department(code="MED", procedures=(ROOM_MED,)),
    Department(code="OB", procedures=(*DELIVERY, ROOM_OB)),
    Department(code="BEH", procedures=(*THERAPY, ROOM_PSYCH)),
    Department(code="DENT", procedures=DENTAL),
    # Bayside's PAS sends its own hospital-service codes (departments.yaml, facility MHS-BAY).
    Department(code="MD", procedures=(ROOM_BAY,)),
    Department(code="SU", procedures=SURGERY),
    Department(code="MA", procedures=(*DELIVERY, ROOM_BAY_OB)),
    Department(code="ES", procedures=ENDOSCOPY),
)
BY_CODE = {d.code: d for d in DEPARTMENTS}
ANCILLARY = ("LAB", "RAD", "PHARM")  # ordered during any visit, billed under their own departments
# The nightly room and board of an inpatient service: (department charged, chargemaster item).
ROOMS: dict[str, tuple[str, Procedure]] = {
    "MED": ("MED", ROOM_MED),
    "ICU": ("ICU", ROOM_ICU),
    "SURG": ("MED", ROOM_MED),
    "OB": ("OB", ROOM_OB),
    "BEH": ("BEH", ROOM_PSYCH),
    "MD": ("MD", ROOM_BAY),
    "SU": ("MD", ROOM_BAY),
    "MA": ("MA", ROOM_BAY_OB),
}
# Services whose first inpatient day carries the procedure itself (and surgery its anesthesia).
PROCEDURAL = frozenset({"SURG", "SU", "OB", "MA", "ES"})


def _payer(
    code: str, name: str, klass: str, in1: str, era: str, isa: str, filing: str, **terms: str
) -> Payer:
    return Payer(
        code=code,
        name=name,
        payer_class=klass,
        in1_id=in1,
        era_id=era,
        isa_id=isa,
        filing=filing,
        allowed=(D(terms["low"]), D(terms["high"])),
        deductible=float(terms.get("deductible", "0")),
        coinsurance=D(terms.get("coinsurance", "0")),
        copay=D(terms.get("copay", "0")),
        fhir=terms.get("fhir", ""),
    )


PAYERS: tuple[Payer, ...] = (
    _payer("MEDICARE-A", "MEDICARE PART A", "MEDICARE", "00301", "1512345678", "MCAREA", "MA",
           low="0.28", high="0.38", deductible="0.30", coinsurance="0.20"),
    _payer("MEDICARE-B", "MEDICARE PART B", "MEDICARE", "00302", "00302", "MCAREB", "MB",
           low="0.30", high="0.40", deductible="0.25", coinsurance="0.20"),
    _payer("HUMANA-MA", "HUMANA MEDICARE ADVANTAGE", "MEDICARE_ADV", "61101", "61101", "HUMANA", "16",
           low="0.32", high="0.45", deductible="0.10", coinsurance="0.10", copay="90.00"),
    _payer("NYS-MEDICAID", "NEW YORK STATE MEDICAID", "MEDICAID", "636", "1566339911", "NYSMCD", "MC",
           low="0.22", high="0.32"),
    _payer("BCBS-CNY", "BLUE CROSS BLUE SHIELD CNY", "COMMERCIAL", "608", "608", "BCBSCNY", "BL",
           low="0.50", high="0.68", deductible="0.35", coinsurance="0.15", copay="75.00"),
    _payer("MVP", "MVP HEALTH PLAN", "COMMERCIAL", "600", "600", "MVPHP", "HM",
           low="0.48", high="0.64", deductible="0.30", coinsurance="0.15", copay="50.00"),
    _payer("AETNA", "AETNA", "COMMERCIAL", "60054", "60054", "AETNA", "CI",
           low="0.52", high="0.70", deductible="0.35", coinsurance="0.20", copay="100.00",
           fhir="Organization/2"),
    _payer("UHC", "UNITEDHEALTHCARE", "COMMERCIAL", "87726", "87726", "UHC", "CI",
           low="0.50", high="0.66", deductible="0.35", coinsurance="0.20", copay="75.00"),
    _payer("CIGNA", "CIGNA", "COMMERCIAL", "62308", "62308", "CIGNA", "CI",
           low="0.50", high="0.66", deductible="0.30", coinsurance="0.20", copay="60.00"),
    _payer("ASHTABULA-ADAMH", "ASHTABULA COUNTY ADAMH BOARD", "GOVERNMENT", "6457839886", "1346000128",
           "ADAMH", "11", low="0.40", high="0.55"),
    _payer("NYSIF", "NEW YORK STATE INSURANCE FUND", "WORKERS_COMP", "NYSIF", "NYSIF", "NYSIF", "WC",
           low="0.60", high="0.80"),
)  # fmt: skip
PAYER_BY_CODE = {p.code: p for p in PAYERS}
SELF_PAY_SERVICES = frozenset({"DENT"})  # the dental clinic bills no medical payer: its patients pay
SECONDARY = "1"  # IN1-3 of the AARP Medicare supplement some Medicare patients carry as IN1 2

_GENERAL_PAYERS = (
    ("MEDICARE-A", 30), ("HUMANA-MA", 7), ("NYS-MEDICAID", 16), ("BCBS-CNY", 10), ("MVP", 7),
    ("AETNA", 8), ("UHC", 7), ("CIGNA", 4), ("NYSIF", 2), ("", 9),
)  # fmt: skip
_ED = ("ED", 1)


_ACUTE_SERVICES = (
    ("E", (_ED,)),
    ("I", (("MED", 60), ("ICU", 10), ("SURG", 18), ("OB", 12))),
    ("O", (("RAD", 38), ("LAB", 32), ("SURG", 15), ("PHARM", 8), ("BEH", 7))),
)
_ACUTE_CLASSES = (("E", 30), ("I", 12), ("O", 58))


def _facility(
    code: str,
    name: str,
    short: str,
    msh4: str,
    payee: tuple[str, str],
    *,
    npi: str,
    tax_id: str,
    portal: str,
    encounters: int,
    fhir: str = "",
    classes: tuple[tuple[str, int], ...] = _ACUTE_CLASSES,
    services: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = _ACUTE_SERVICES,
    payers: tuple[tuple[str, int], ...] = _GENERAL_PAYERS,
    self_pay_in1: str = "",
) -> Facility:
    return Facility(
        code=code,
        name=name,
        short=short,
        msh4=msh4,
        payee_qualifier=payee[0],
        payee_id=payee[1],
        npi=npi,
        tax_id=tax_id,
        portal=portal,
        fhir=fhir,
        encounters=encounters,
        classes=classes,
        services=services,
        payers=payers,
        self_pay_in1=self_pay_in1,
    )


FACILITIES: tuple[Facility, ...] = (
    _facility("MHN-STJ", "ST JOSEPH MEDICAL CENTER", "SJ", "STJ", ("XX", "5544667733"), npi="5544667733",
           tax_id="599944521", portal="STJ", fhir="Organization/1", encounters=380),
    _facility("MHN-HOPE", "MERCY HOPE REGIONAL HOSPITAL", "HR", "HOPE", ("XX", "6543210903"),
           npi="6543210903", tax_id="161234567", portal="HOPE", encounters=220),
    _facility("MHN-LAKE", "LAKE AREA BEHAVIORAL HEALTH HOSPITAL", "LA", "LAKE", ("FI", "346608640"),
           npi="1609876543", tax_id="346608640", portal="LAKE", encounters=40,
           classes=(("I", 45), ("O", 55)),
           services=(("I", (("BEH", 1),)), ("O", (("BEH", 1),))),
           payers=(("ASHTABULA-ADAMH", 25), ("NYS-MEDICAID", 25), ("MEDICARE-A", 15), ("BCBS-CNY", 8),
                   ("UHC", 7), ("AETNA", 5), ("", 15))),
    _facility("MHS-BAY", "BAYSIDE COMMUNITY HOSPITAL", "BY", "1", ("FI", "3UR334563"), npi="1487654321",
           tax_id="3UR334563", portal="BAY", encounters=200, self_pay_in1="705",
           services=(("E", (_ED,)), ("I", (("MD", 65), ("SU", 20), ("MA", 15))),
                     ("O", (("RAD", 30), ("LAB", 30), ("ES", 25), ("SU", 15))))),
    _facility("MHS-SVH", "ST VINCENT HOSPITAL AND DENTAL CLINIC", "SV", "SVH", ("FI", "999994703"),
           npi="1396541237", tax_id="999994703", portal="SVH", encounters=160,
           classes=(("E", 25), ("I", 8), ("O", 67)),
           services=(("E", (_ED,)), ("I", (("MED", 80), ("SURG", 20))),
                     ("O", (("DENT", 45), ("RAD", 25), ("LAB", 25), ("SURG", 5))))),
    _facility("MHS-GEN", "MERCY GENERAL SOUTH", "GS", "ABCHS", ("FI", "444313000"), npi="1295837461",
           tax_id="444313000", portal="GEN", encounters=260),
)  # fmt: skip
FACILITY_BY_CODE = {f.code: f for f in FACILITIES}


def check(master: MasterData) -> list[str]:
    """Every value the generator sends that ``master`` does not map as intended (empty: all
    good), and the deliberate faults' values if ``master`` maps them after all."""
    found: list[str] = []
    by_id = {i: f.code for f in master.facilities for i in f.identifiers.all()}
    aliases = {a: p for p in master.payers for a in p.aliases}
    departments = {(d.facility, d.code): d for d in master.departments}
    for facility in FACILITIES:
        sent = [facility.msh4, facility.payee_id, facility.npi, facility.portal] + (
            [facility.fhir] if facility.fhir else []
        )
        for value in sent:
            if by_id.get(value) != facility.code:
                found.append(f"facility {facility.code}: identifier {value!r} maps to {by_id.get(value)!r}")
        codes = {code for _, weights in facility.services for code, _ in weights} | set(ANCILLARY)
        codes |= {ROOMS[c][0] for c in codes if c in ROOMS}
        for code in sorted(codes):
            mapped = departments.get((facility.code, code)) or departments.get(("", code))
            if mapped is None:
                found.append(f"facility {facility.code}: department {code!r} is not mapped")
                continue
            for procedure in BY_CODE[code].procedures:
                if procedure.revenue_code not in mapped.revenue_codes:
                    found.append(f"department {code!r}: revenue code {procedure.revenue_code} is not its own")
        if (
            facility.self_pay_in1
            and getattr(aliases.get(facility.self_pay_in1), "payer_class", "") != master.self_pay_class
        ):
            found.append(
                f"facility {facility.code}: self-pay IN1-3 {facility.self_pay_in1!r} is not self-pay"
            )
    for payer in PAYERS:
        for alias in (payer.in1_id, payer.era_id) + ((payer.fhir,) if payer.fhir else ()):
            known = aliases.get(alias)
            if known is None or known.code != payer.code or known.payer_class != payer.payer_class:
                found.append(f"payer {payer.code}: alias {alias!r} maps to {getattr(known, 'code', None)!r}")
    if SECONDARY not in aliases:
        found.append(f"secondary payer alias {SECONDARY!r} is not mapped")
    if any(code == UNMAPPED_DEPARTMENT for _, code in departments):
        found.append(f"the deliberately unmapped department {UNMAPPED_DEPARTMENT!r} is mapped")
    if UNKNOWN_PAYER_ALIAS in aliases:
        found.append(f"the deliberately unknown payer alias {UNKNOWN_PAYER_ALIAS!r} is mapped")
    return found
