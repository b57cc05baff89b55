"""OAuth 2.0 through the ION API: the .ionapi file's backend service, the password grant with the
service account's keys, the token cached, renewed before it expires and once after a 401, and
refused credentials that never reach a journal or an error message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from connectors_journals import remittance
from infor_erp import InforErp
from infor_erp_rig import ACCESS_KEY, CLIENT_SECRET, SECRET_KEY, TENANT, connector, ionapi, make_erp

from revbridge.connectors import registry
from revbridge.connectors.base import ConnectorUnavailable
from revbridge.connectors.infor_ion import InforIonConnector, InforIonSettings
from revbridge.core.clock import SystemClock
from revbridge.store import Database


@pytest.fixture
def erp() -> Iterator[InforErp]:
    server = make_erp(token_lifetime=7200)
    yield server
    server.close()


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_token_is_asked_for_with_the_password_grant_and_kept(erp: InforErp) -> None:
    # the test ERP grants a token only to grant_type=password with the backend service's client
    # and the service account's keys (tests below: anything else is refused)
    ion = connector(erp)
    for n in range(3):
        ion.submit(remittance(trn=f"T{n}"))
    ion.close()
    assert ion.tokens_fetched == 1 and len(erp.calls("token")) == 1
    assert [r.status for r in erp.calls("message")] == [201, 201, 201]


def test_the_token_is_renewed_before_it_expires_and_once_after_a_401(erp: InforErp) -> None:
    tick = Tick()
    ion = connector(erp, monotonic=tick, refresh_margin=300)
    ion.submit(remittance(trn="A"))
    tick.now += 7200 - 300 - 1
    ion.submit(remittance(trn="B"))
    assert ion.tokens_fetched == 1
    tick.now += 2  # inside the margin: renewed before ION would refuse it
    ion.submit(remittance(trn="C"))
    assert ion.tokens_fetched == 2
    erp.expire_tokens()  # ION forgot it (revoked, restarted): one 401, a new token, the call again
    ion.submit(remittance(trn="D"))
    assert ion.tokens_fetched == 3
    statuses = [(r.route, r.status) for r in erp.calls()]
    assert statuses[-3:] == [("message", 401), ("token", 200), ("message", 201)]
    erp.fail_next("401", count=2, on="message")  # refused twice: not a loop, unavailable
    with pytest.raises(ConnectorUnavailable, match="401"):
        ion.submit(remittance(trn="E"))
    ion.close()


@pytest.mark.parametrize(
    ("field", "answer"),
    [("client_secret", "token endpoint answered 401"), ("secret_key", "token endpoint answered 400")],
)
def test_refused_credentials_are_unavailable_and_never_said(erp: InforErp, field: str, answer: str) -> None:
    wrong = "wrong-SECRET-value"
    ion = connector(erp, **{field: wrong})
    with pytest.raises(ConnectorUnavailable) as refused:
        ion.submit(remittance())
    ion.close()
    assert answer in str(refused.value) and wrong not in str(refused.value)
    assert not refused.value.uncertain
    assert erp.calls("message") == [] and erp.oneview.messages == []


def test_the_ionapi_file_fills_the_settings_and_secrets_stay_out_of_reprs(
    erp: InforErp, tmp_path: Path
) -> None:
    path = ionapi(erp, tmp_path / "revbridge.ionapi")
    settings = InforIonSettings(ionapi_file=path, accounting_entities={"MHN": "1000"})
    ion = InforIonConnector(settings)
    assert ion.settings.tenant == TENANT and ion.settings.secret_key == SECRET_KEY
    receipt = ion.submit(remittance())
    assert receipt.accepted
    for shown in (repr(ion), repr(ion.settings), repr(ion.auth)):
        assert CLIENT_SECRET not in shown and SECRET_KEY not in shown
    ion.close()
    env = registry.Environment(db=Database.open("sqlite://"), clock=SystemClock(), secrets={})
    built = registry.build("infor_ion", {"ionapi_file": str(path)}, env)
    assert isinstance(built, InforIonConnector) and built.settings.access_key == ACCESS_KEY
    built.close()
    (tmp_path / "broken.ionapi").write_text(json.dumps({"ti": TENANT}))
    with pytest.raises(ValueError, match="needs client_id"):
        InforIonSettings(ionapi_file=tmp_path / "broken.ionapi").resolved()
    with pytest.raises(ValueError, match="needs"):
        InforIonSettings(tenant=TENANT)
