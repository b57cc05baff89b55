"""Master data and the rulebook: configuration as code (DESIGN.md sections 4 and 5).

``load(dir)`` reads a configuration directory into a ``Configuration`` (or the located errors
that stop it), ``to_json``/``from_json`` give its canonical stored form and ``diff`` compares two
versions for an approver. ``Configuration`` answers the look-ups posting needs (facility by any
identifier, payer by alias, department by facility and code, account by role and dimensions) with
a value or a located problem, never a guess. Pure: no I/O beyond reading the directory it is given.
"""

from revbridge.masterdata.changes import diff
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.loader import FILES, load, load_texts
from revbridge.masterdata.model import (
    AccountMapping,
    AdjustmentCategory,
    CarcRule,
    Chart,
    ChartAccount,
    ConnectorConfig,
    Department,
    Facility,
    FacilityIdentifiers,
    LegalEntity,
    MasterData,
    Payer,
    PayerClass,
    PlbRule,
    PostingSettings,
    TransactionCode,
)
from revbridge.masterdata.rulebook import Dimension, EventKind, EventRule, LineSpec, Rulebook
from revbridge.masterdata.serialisation import from_json, to_documents, to_json
from revbridge.masterdata.yaml_reader import ConfigError

__all__ = [
    "FILES",
    "AccountMapping",
    "AdjustmentCategory",
    "CarcRule",
    "Chart",
    "ChartAccount",
    "ConfigError",
    "Configuration",
    "ConnectorConfig",
    "Department",
    "Dimension",
    "EventKind",
    "EventRule",
    "Facility",
    "FacilityIdentifiers",
    "LegalEntity",
    "LineSpec",
    "MasterData",
    "Payer",
    "PayerClass",
    "PlbRule",
    "PostingSettings",
    "Rulebook",
    "TransactionCode",
    "diff",
    "from_json",
    "load",
    "load_texts",
    "to_documents",
    "to_json",
]
