"""EU Digital COVID Certificate ("HC1:") codec, signing and verification core.

Modules: `codec` (prefix, base45, zlib, CBOR/CWT), `cose` (COSE_Sign1 ES256/PS256), `keys`
(signing key and document-signer certificate), `issue` (payloads, UVCI, signing) and `verify`
(every check, in order). Errors are `errors.DccInvalid` with a `errors.Problem` reason.
"""

from bot.domain.dcc.errors import DccInvalid, Problem
from bot.domain.dcc.issue import sign_hc1, uvci, vaccination_payload
from bot.domain.dcc.verify import Verified, verify

__all__ = [
    "DccInvalid",
    "Problem",
    "Verified",
    "sign_hc1",
    "uvci",
    "vaccination_payload",
    "verify",
]
