"""`saksi demo` makes throw-away signing keys so its signing forms work (issue 19)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from app.auth.models import Role
from app.demo import demo_signing_keys
from app.runtime import Runtime
from app.settings import Pkcs12Key
from tests.app.factories import Factory


def _common_name(key: Pkcs12Key) -> str:
    assert key.passphrase_file is not None
    loaded = pkcs12.load_pkcs12(key.p12_file.read_bytes(), key.passphrase_file.read_bytes())
    assert loaded.cert is not None
    cert: x509.Certificate = loaded.cert.certificate
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_the_demo_signs_as_its_own_operator_and_subkoordinator(
    factory: Factory, runtime: Runtime
) -> None:
    operator = factory.user(Role.OPERATOR, username="operator-demo")
    subkoordinator = factory.user(Role.SUBKOORDINATOR, username="sub-demo")

    demo_signing_keys(runtime)
    keys = runtime.settings.signing

    assert sorted(keys) == ["operator", "seal", "subkoordinator"]
    assert _common_name(keys["operator"]) == operator.full_name
    assert _common_name(keys["subkoordinator"]) == subkoordinator.full_name


def test_keys_named_by_the_office_are_left_alone(factory: Factory, runtime: Runtime) -> None:
    factory.user(Role.OPERATOR, username="operator-own")
    factory.user(Role.SUBKOORDINATOR, username="sub-own")
    demo_signing_keys(runtime)
    configured = dict(runtime.settings.signing)
    del configured["seal"]
    runtime.settings = runtime.settings.model_copy(update={"signing": configured})

    demo_signing_keys(runtime)

    assert runtime.settings.signing == configured
