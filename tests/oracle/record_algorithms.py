#!/usr/bin/env python3
"""Record signing test vectors for SDK-HMAC-SM3, V11-HMAC-SHA256, SDK-ECDSA-P256-SHA256 and SDK-SM2-SM3
from the official Huawei Cloud Python SDK (used as a test oracle; its code is driven, never copied).

Run with the oracle venv's python (see setup_venv.sh; ``cryptography`` must be installed in it too):

    <venv>/bin/python tests/oracle/record_algorithms.py

Writes, relative to the repository root, one file per case:

  tests/vectors/sdk-hmac-sm3/<case>.json            SM3Signer
  tests/vectors/v11-hmac-sha256/<case>.json         DerivationAKSKSigner (derived AK/SK)
  tests/vectors/sdk-ecdsa-p256-sha256/<case>.json   P256SHA256Signer
  tests/vectors/sdk-sm2-sm3/<case>.json             SM2SM3Signer

Same layout, fixtures and JSON style as record_vectors.py (which records SDK-HMAC-SHA256; its fixture
values and helpers are imported from it): keys sorted, 2-space indent, rewritten byte-identically on every
run, stale *.json files removed. Each file holds ``name``, ``description``, ``algorithm``, ``credentials``,
``time``, ``request`` (exactly as in record_vectors.py), ``derived`` (V11 only: region and service),
``nonce`` (ECDSA and SM2 only: the k injected into the SDK, 64 hex digits) and ``expected``:
canonical_request, string_to_sign, signed_headers, signature, authorization, headers, uri (as in
record_vectors.py), plus ``signing_key`` (V11: the derived key as the hex text the SDK uses as HMAC key),
``private_key`` / ``public_key`` (ECDSA and SM2: d and 04||x||y, zero-padded hex), and for SM2 ``za``
(Z_A exactly as the SDK computes it), ``za_standard`` (Z_A per GB/T 32918 with 32-byte coordinates,
computed here) and ``za_quirk`` (whether the two differ).

How the SDK is driven:
  * The four signer classes live in huaweicloudsdkcore/signer/signer.py. Credentials.sign_request
    (auth/credentials.py) picks one from SdkRequest.signing_algorithm (HttpConfig.signing_algorithm), unless
    the credentials carry a derived predicate that returns True for the request: then it calls
    DerivationAKSKSigner(credentials).sign(request, credentials._derived_auth_service_name,
    credentials._region_id). ClientBuilder.build() fills those two through
    credentials._process_derived_auth_params(builder._derived_auth_service_name, region.id), i.e. only with
    with_region(...) and _with_derived_auth_service_name(...). Here the signers are called directly (the
    intermediates come from their own internal steps, asserted to reproduce sign()), and every case is also
    signed once more through BasicCredentials.sign_request with the algorithm / derived parameters set as a
    client would set them; all three must agree.
  * Clock: record_vectors.fixed_clock (datetime.utcnow in the signer module) for cases without X-Sdk-Date.
  * Nonce: P256SigningKey.sign and SM2SigningKey.sign (huaweicloudsdkcore/signer/utils.py) draw k by calling
    the module-level function ``huaweicloudsdkcore.signer.utils._secure_randint(1, n - 1)`` (which wraps
    ``secrets.randbelow``), looked up at call time. ``injected_nonce(k)`` below replaces that module
    attribute for the duration of ONE signing call, asserts it is called exactly once with (1, n - 1), and
    restores it. k is SHA-256("hss-image-sync nonce/<algorithm>/<case name>") reduced into 1..n-1.

Checks run on every case (the run fails if any does not hold):
  * all: the intermediates reproduce sign()'s Authorization; the Authorization has the documented format;
    verify_algorithms.verify_request() accepts the recorded signature and rejects tampered ones.
  * SM3: HMAC-SM3 and SM3 recomputed with hashlib/hmac.
  * V11: HKDF-SHA256 (salt = AK, IKM = SK, info, L = 32) recomputed with hmac; the hex text is the HMAC key.
  * ECDSA / SM2: d recomputed with an independent KDF loop; Q = d*G checked independently (cryptography for
    P-256); r and s recomputed from the injected k with the standard formulas and DER-encoded here: equal to
    the SDK's bytes. ECDSA signatures verify with cryptography as standard ECDSA-P256-SHA256; SM2 signatures
    verify with the SDK's own SM2SigningKey.verify and with an independent verifier using the SDK's Z_A; with
    the standard Z_A they verify exactly when za_quirk is false.
  * SM2 Z_A quirk keys: AKs QUIRKAK0001, QUIRKAK0002, ... (SK QUIRK_SK) are tried in order; the first whose
    public x (and not y) is < 2^248 and the first whose y (and not x) is < 2^248 are recorded.
"""

import copy
import hashlib
import hmac
import os
import sys
from contextlib import contextmanager

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(REPO_ROOT, "tests", "vectors")

sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # importing the sibling scripts must not leave __pycache__ in the repo

import huaweicloudsdkcore.signer.utils as sdk_utils  # noqa: E402
from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.signer import hkdf  # noqa: E402
from huaweicloudsdkcore.signer.algorithm import SigningAlgorithm  # noqa: E402
from huaweicloudsdkcore.signer.signer import (  # noqa: E402
    DerivationAKSKSigner, P256SHA256Signer, SM2SM3Signer, SM3Signer)

import record_vectors as rv  # noqa: E402  (fixtures, JSON writing, fixed clock, SdkRequest building)
import verify_algorithms as va  # noqa: E402  (first: it explains a missing 'cryptography' package)

from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

SM3, V11, ECDSA, SM2 = va.SM3, va.V11, va.ECDSA, va.SM2
DIRS = {SM3: "sdk-hmac-sm3", V11: "v11-hmac-sha256", ECDSA: "sdk-ecdsa-p256-sha256", SM2: "sdk-sm2-sm3"}
SIGNERS = {SM3: SM3Signer, V11: DerivationAKSKSigner, ECDSA: P256SHA256Signer, SM2: SM2SM3Signer}
SDK_ALGORITHM_ENUM = {SM3: SigningAlgorithm.HMAC_SM3, ECDSA: SigningAlgorithm.ECDSA_P256_SHA256,
                      SM2: SigningAlgorithm.SM2_SM3}
CONTENT_HEADER = {SM3: "X-Sdk-Content-Sm3", V11: "X-Sdk-Content-Sha256", ECDSA: "X-Sdk-Content-Sha256",
                  SM2: "X-Sdk-Content-Sm3"}
HASH = {SM3: "sm3", V11: "sha256", ECDSA: "sha256", SM2: "sm3"}

# ---------------------------------------------------------------------------------------------
# Fixtures (shared ones come from record_vectors.py)
# ---------------------------------------------------------------------------------------------

AK, SK, TIME = rv.AK, rv.SK, rv.TIME
BODY_PRIVATE = rv.BODY_PRIVATE
BODY_NON_ASCII = '{"image_type": "私有镜像", "note": "café 🚀"}'
EPID0 = rv.EPID0
seed_headers = rv.seed_headers

QUIRK_AK_FORMAT = "QUIRKAK%04d"
QUIRK_SK = "QUIRKSK-sm2-za-search"
QUIRK_SEARCH_LIMIT = 9999
SHORT = 1 << 248  # a coordinate below this has a zero top byte: the SDK writes it with 31 bytes or fewer

DERIVED_DEFAULT = {"region": "cn-north-4", "service": "hss"}


def case(algorithm, name, description, method="POST", host=rv.HOST, path=rv.SEED_PATH, query=EPID0, headers=None,
         body=BODY_PRIVATE, ak=AK, sk=SK, time=TIME, derived=None, expect_quirk=None):
    """One case. ``expect_quirk`` (SM2, not written out) asserts whether the key must hit the Z_A quirk."""
    c = {
        "name": name,
        "description": description,
        "algorithm": algorithm,
        "credentials": {"ak": ak, "sk": sk},
        "time": time,
        "request": {
            "method": method,
            "host": host,
            "path": path,
            "query": [list(q) for q in query],
            "headers": seed_headers() if headers is None else headers,
            "body": body,
        },
    }
    if algorithm == V11:
        c["derived"] = dict(derived or DERIVED_DEFAULT)
    else:
        assert derived is None, name
    if algorithm in (ECDSA, SM2):
        c["nonce"] = "%064x" % nonce_for(algorithm, name)
    if algorithm == SM2:
        c["_expect_quirk"] = bool(expect_quirk)
    return c


def nonce_for(algorithm, name):
    n = va.CURVES[algorithm].n
    seed = hashlib.sha256(("hss-image-sync nonce/%s/%s" % (algorithm, name)).encode("utf-8")).digest()
    return int.from_bytes(seed, "big") % (n - 1) + 1


def common_cases(alg, what):
    """The request variants every algorithm gets. ``what`` names the content-hash header's hash."""
    ch = CONTENT_HEADER[alg]
    return [
        case(alg, "seed-private-epid-0",
             "Seed POST exactly as HssClient builds it (private_image, enterprise_project_id=0, region header), "
             "signed with %s." % alg),
        case(alg, "seed-private-security-token",
             "Seed POST with a long X-Security-Token (temporary AK/SK), signed like any header.",
             headers=seed_headers(token=rv.LONG_TOKEN)),
        case(alg, "seed-private-no-epid",
             "Seed POST without enterprise_project_id: empty canonical query line and URI without '?'.",
             query=[]),
        case(alg, "method-get-no-body",
             "GET without body (Content-Type kept, no region): the payload hash is the empty %s hash." % what,
             method="GET", query=[["limit", "10"], ["offset", "0"]], headers=seed_headers(region=None), body=""),
        case(alg, "content-type-text-plain",
             "Exact key Content-Type text/plain: the signer adds %s: UNSIGNED-PAYLOAD and uses it as the "
             "payload hash." % ch,
             headers=seed_headers(content_type="text/plain"), body="hello, world"),
        case(alg, "caller-content-hash-unsigned",
             "A caller-supplied %s: UNSIGNED-PAYLOAD with a JSON body is used verbatim as the payload hash "
             "and signed." % ch,
             headers=seed_headers(extra=[[ch, "UNSIGNED-PAYLOAD"]])),
        case(alg, "non-ascii-values",
             "Non-ASCII region header (signed as UTF-8 text), enterprise_project_id 'é' (%C3%A9) and a "
             "non-ASCII JSON body (hashed as UTF-8).",
             query=[["enterprise_project_id", "é"]], headers=seed_headers(region="中国"), body=BODY_NON_ASCII),
        case(alg, "credentials-long-sk",
             "Seed POST with a 200-character SK (longer than the 64-byte HMAC block).",
             sk=rv.LONG_SK),
        case(alg, "credentials-unusual-characters",
             "AK with '+/=_~.' (copied verbatim into Authorization) and SK with spaces, symbols and non-ASCII "
             "(used as UTF-8 bytes).",
             ak=rv.UNUSUAL_AK, sk=rv.UNUSUAL_SK),
    ]


def sm3_cases():
    return common_cases(SM3, "SM3") + [
        case(SM3, "caller-content-sha256-not-used",
             "A caller-supplied X-Sdk-Content-Sha256 is NOT the SM3 signer's content header: it is only signed "
             "as a header, and the body is hashed with SM3.",
             headers=seed_headers(extra=[["X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"]])),
        case(SM3, "empty-body-unsigned-payload",
             "Empty body with Content-Type text/plain: X-Sdk-Content-Sm3: UNSIGNED-PAYLOAD is added and signed, "
             "but the payload hash is still SM3('').",
             headers=seed_headers(content_type="text/plain"), body=""),
        case(SM3, "seed-private-clock-time",
             "Seed POST without X-Sdk-Date: the signer adds it from the clock (the case time).",
             headers=seed_headers(date=None)),
    ]


def v11_cases():
    return common_cases(V11, "SHA-256") + [
        case(V11, "region-ap-southeast-1-service-apic",
             "Derived signing for region ap-southeast-1 and service apic (ROMA/APIC's derived auth service name).",
             host="apic.ap-southeast-1.myhuaweicloud.com", headers=seed_headers(region="ap-southeast-1"),
             derived={"region": "ap-southeast-1", "service": "apic"}),
        case(V11, "region-globe-service-iotda-date-rollover",
             "Region id 'globe' (what GlobalCredentials uses), service iotda, X-Sdk-Date 20231231T235959Z: the "
             "info string is 20231231/globe/iotda.",
             headers=seed_headers(region=None, date="20231231T235959Z"),
             derived={"region": "globe", "service": "iotda"}),
        case(V11, "local-endpoint-default-predicate",
             "Host 127.0.0.1:8080, for which the SDK's default derived predicate selects V11 (the standard "
             "hss.cn-north-4.myhuaweicloud.com host does not); region la-south-2, service hss; no X-Sdk-Date "
             "header (clock time).",
             host="127.0.0.1:8080", headers=seed_headers(date=None),
             derived={"region": "la-south-2", "service": "hss"}),
    ]


def ecdsa_cases():
    return common_cases(ECDSA, "SHA-256") + [
        case(ECDSA, "credentials-second-pair",
             "Seed POST with a second ordinary AK/SK pair (another derived key pair).",
             ak="EC2NDPAIRAK7Q3M9Z1X", sk="ecdsa-second-secret-0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
        case(ECDSA, "credentials-third-pair-empty-body-unsigned-payload",
             "A third AK/SK pair; DELETE with Content-Type text/plain and no body: "
             "X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD is signed but the payload hash is SHA-256('').",
             method="DELETE", headers=seed_headers(content_type="text/plain"), body="",
             ak="EC3RDPAIRAKW8V2N5T4", sk="third/SK+with=base64ish/chars"),
    ]


def sm2_cases(quirk_keys):
    (x_ak, x_index), (y_ak, y_index) = quirk_keys["x"], quirk_keys["y"]
    search = ("the AKs %s, %s, ... (SK %r) are tried in order"
              % (QUIRK_AK_FORMAT % 1, QUIRK_AK_FORMAT % 2, QUIRK_SK))
    return common_cases(SM2, "SM3") + [
        case(SM2, "za-quirk-short-x",
             "Seed POST with AK %s, the first key found (try #%d) whose public x < 2^248 (y is not): the SDK "
             "writes x unpadded in Z_A, so its Z_A differs from the standard one; %s."
             % (x_ak, x_index, search),
             ak=x_ak, sk=QUIRK_SK, expect_quirk=True),
        case(SM2, "za-quirk-short-y",
             "Seed POST with AK %s, the first key found (try #%d) whose public y < 2^248 (x is not): the SDK "
             "writes y unpadded in Z_A, so its Z_A differs from the standard one; %s."
             % (y_ak, y_index, search),
             ak=y_ak, sk=QUIRK_SK, expect_quirk=True),
        case(SM2, "credentials-second-pair-normal",
             "Seed POST with a second ordinary AK/SK pair whose Z_A equals the standard one.",
             ak="SM2NORMALAK4K8P2R6", sk="sm2-normal-secret-a1b2c3d4e5f60718293a4b5c6d7e8f90"),
    ]


# ---------------------------------------------------------------------------------------------
# SDK nonce injection and the Z_A quirk key search
# ---------------------------------------------------------------------------------------------

@contextmanager
def injected_nonce(k):
    """Make the SDK's next (and only) nonce draw return ``k``; see the module docstring."""
    real = sdk_utils._secure_randint
    calls = []

    def fixed(a, b):
        calls.append((a, b))
        assert len(calls) == 1, "the SDK drew a second nonce (r or s was 0?)"
        assert a == 1 and 1 <= k <= b, (a, b, k)
        return k

    sdk_utils._secure_randint = fixed
    try:
        yield
        assert len(calls) == 1, "the SDK did not draw exactly one nonce: %r" % calls
    finally:
        sdk_utils._secure_randint = real


def find_quirk_keys():
    """First AK (in QUIRKAK0001.. order) whose SM2 public x only, resp. y only, is < 2^248. d comes from the
    SDK's KDF; Q = d*G is computed with the fast independent arithmetic (the SDK's own point multiplication
    takes ~40 ms); the recorded cases then check everything with the SDK."""
    found = {}
    for i in range(1, QUIRK_SEARCH_LIMIT + 1):
        ak = QUIRK_AK_FORMAT % i
        d = SM2SM3Signer(BasicCredentials(ak, QUIRK_SK))._derive_key()
        x, y = va.ec_mul(d, va.SM2P256.g, va.SM2P256)
        if x < SHORT <= y and "x" not in found:
            found["x"] = (ak, i)
        if y < SHORT <= x and "y" not in found:
            found["y"] = (ak, i)
        if len(found) == 2:
            return found
    raise AssertionError("no Z_A quirk keys among %d AKs" % QUIRK_SEARCH_LIMIT)


# ---------------------------------------------------------------------------------------------
# Independent checks
# ---------------------------------------------------------------------------------------------

def independent_private_key(algorithm, ak, sk):
    """The KDF loop of SIGNING.md 3.4/3.5 written out here. The bound is P-256's n - 2 for BOTH algorithms:
    SM2SM3Signer._N_MINUS_TWO = SM2SigningKey.N_MINUS_TWO, which SM2SigningKey inherits from P256SigningKey
    without redefining it (only reachable with probability ~2^-32, but it is what the SDK does)."""
    bound = va.P256.n - 2
    for counter in range(0xff):
        data = (b"\x00\x00\x00\x01" + algorithm.encode("ascii") + b"\x00" + ak.encode("utf-8")
                + bytes([counter]) + b"\x00\x00\x01\x00")
        c = int.from_bytes(hmac.new(sk.encode("utf-8"), data, HASH[algorithm]).digest(), "big")
        if c <= bound:
            return c + 1
    raise AssertionError("KDF loop exhausted")


def check_signature_math(c, d, Q, sts, der, za=None):
    """r and s from the injected k with the standard formulas; our DER must equal the SDK's bytes."""
    alg, k = c["algorithm"], int(c["nonce"], 16)
    curve = va.CURVES[alg]
    n = curve.n
    x1 = va.ec_mul(k, curve.g, curve)[0]
    if alg == ECDSA:
        e = int.from_bytes(hashlib.sha256(sts.encode("utf-8")).digest(), "big")
        r = x1 % n
        s = pow(k, -1, n) * (e + r * d) % n
    else:
        e = int.from_bytes(va.sm3(za + sts.encode("utf-8")), "big")
        r = (e + x1) % n
        s = pow(1 + d, -1, n) * (k - r * d) % n
    assert r and s, c["name"]
    assert va.encode_der_signature(r, s) == der, "%s: SDK DER differs from the standard r,s" % c["name"]
    assert va.parse_der_signature(der) == (r, s), c["name"]


def check_with_verifier(c, expected):
    """verify_algorithms accepts the recorded signature (with the canonical request) and rejects tampering."""
    alg = c["algorithm"]
    line = {"algorithm": alg, "ak": c["credentials"]["ak"], "sk": c["credentials"]["sk"],
            "string_to_sign": expected["string_to_sign"], "signature": expected["signature"],
            "canonical_request": expected["canonical_request"]}
    if alg == V11:
        line.update(c["derived"])
    ok, why = va.verify_request(line)
    assert ok, "%s: verify_algorithms rejects it: %s" % (c["name"], why)
    sig = expected["signature"]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    for tampered in (dict(line, signature=flipped),
                     dict(line, string_to_sign=expected["string_to_sign"].replace("\n", "\n0", 1)),
                     dict(line, canonical_request=expected["canonical_request"] + " ")):
        ok, why = va.verify_request(tampered)
        assert not ok, "%s: verify_algorithms accepts a tampered input" % c["name"]


# ---------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------

def record_case(c):
    rv.validate_case(dict(c, quirks=[]))
    alg = c["algorithm"]
    ak, sk = c["credentials"]["ak"], c["credentials"]["sk"]
    credentials = BasicCredentials(ak, sk)
    request = rv.build_sdk_request(c)
    routed = rv.build_sdk_request(c)
    k = int(c["nonce"], 16) if "nonce" in c else None
    region = service = info = None
    if alg == V11:
        region, service = c["derived"]["region"], c["derived"]["service"]

    with rv.fixed_clock(c["time"]):
        # The signer's own internal steps, in the order sign() runs them, on a deep copy.
        signer = SIGNERS[alg](credentials)
        steps = copy.deepcopy(request)
        if isinstance(steps.body, str):
            steps.body = steps.body.encode("utf-8")
        signer._process_content_header(steps)
        t = signer._process_header_time(steps)
        signer._process_header_host(steps)
        signed_headers = signer._process_signed_headers(steps)
        canonical_request = signer._process_canonical_request(steps, signed_headers)
        if alg == V11:
            info = "%s/%s/%s" % (t.strftime("%Y%m%d"), region, service)
            string_to_sign = signer._process_string_to_sign(canonical_request, t, info)
            signing_key = hkdf.get_der_key_sha256(access_key=ak, secret_key=sk, info=info)
            signature = signer._sign_string_to_sign(string_to_sign, signing_key)
        else:
            string_to_sign = signer._process_string_to_sign(canonical_request, t)
            if alg == SM3:
                signature = signer._sign_string_to_sign(string_to_sign, sk)
            else:
                with injected_nonce(k):
                    signature = signer._sign_string_to_sign(string_to_sign)

        # The real thing.
        if alg == V11:
            DerivationAKSKSigner(credentials).sign(request, service, region)
        elif alg == SM3:
            SM3Signer(credentials).sign(request)
        else:
            with injected_nonce(k):
                SIGNERS[alg](credentials).sign(request)

        # The same request routed through BasicCredentials.sign_request as a client configures it.
        if alg == V11:
            routing = BasicCredentials(ak, sk).with_derived_predicate(lambda _request: True)
            routing._process_derived_auth_params(service, region)  # what ClientBuilder.build() does
            routing.sign_request(routed)
        else:
            routed.signing_algorithm = SDK_ALGORITHM_ENUM[alg]
            if k is None:
                BasicCredentials(ak, sk).sign_request(routed)
            else:
                with injected_nonce(k):
                    BasicCredentials(ak, sk).sign_request(routed)

    authorization = request.header_params["Authorization"]
    signed_headers_text = ";".join(signed_headers)
    if alg == V11:
        prefix = "V11-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=" % (ak, info, signed_headers_text)
    else:
        prefix = "%s Access=%s, SignedHeaders=%s, Signature=" % (alg, ak, signed_headers_text)
    assert authorization.startswith(prefix), (c["name"], authorization)
    assert authorization[len(prefix):] == signature, "%s: intermediates do not reproduce sign()" % c["name"]
    assert list(routed.header_params.items()) == list(request.header_params.items()) \
        and routed.uri == request.uri, \
        "%s: BasicCredentials.sign_request differs from the signer" % c["name"]

    # Shape and hash of the string to sign, independently.
    digest = hashlib.new(HASH[alg], canonical_request.encode("utf-8")).hexdigest()
    head = [alg, t.strftime(rv.DATE_FORMAT)] + ([info] if alg == V11 else [])
    assert string_to_sign == "\n".join(head + [digest]), c["name"]

    expected = {
        "canonical_request": canonical_request,
        "string_to_sign": string_to_sign,
        "signed_headers": signed_headers_text,
        "signature": signature,
        "authorization": authorization,
        "headers": [[name, rv.sdk_text(value)] for name, value in request.header_params.items()],
        "uri": request.uri,
    }

    if alg == SM3:
        assert hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"), "sm3").hexdigest() == signature

    if alg == V11:
        prk = hmac.new(ak.encode("utf-8"), sk.encode("utf-8"), "sha256").digest()
        okm = hmac.new(prk, info.encode("utf-8") + b"\x01", "sha256").digest()
        assert okm.hex() == signing_key, "%s: derived key is not HKDF-SHA256" % c["name"]
        assert hmac.new(signing_key.encode("ascii"), string_to_sign.encode("utf-8"), "sha256").hexdigest() \
            == signature, c["name"]
        # The default predicate: V11 for the local endpoint, never for the standard HSS host.
        predicate = BasicCredentials.get_default_derived_predicate()
        assert predicate(rv.build_sdk_request(c)) == (c["request"]["host"] == "127.0.0.1:8080"), c["name"]
        expected["signing_key"] = signing_key

    if alg in (ECDSA, SM2):
        d, Q, sdk_key = va.sdk_key(alg, ak, sk)
        assert d == independent_private_key(alg, ak, sk), "%s: KDF differs" % c["name"]
        assert 1 <= d < va.CURVES[alg].n
        assert Q == va.ec_mul(d, va.CURVES[alg].g, va.CURVES[alg]) and va.on_curve(Q, va.CURVES[alg])
        der = bytes.fromhex(signature)
        message = string_to_sign.encode("utf-8")
        expected["private_key"] = "%064x" % d
        expected["public_key"] = "04%064x%064x" % Q
        if alg == ECDSA:
            private = ec.derive_private_key(d, ec.SECP256R1())
            numbers = private.public_key().public_numbers()
            assert (numbers.x, numbers.y) == Q, "%s: cryptography disagrees on Q" % c["name"]
            public = ec.EllipticCurvePublicNumbers(Q[0], Q[1], ec.SECP256R1()).public_key()
            try:
                public.verify(der, message, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                raise AssertionError("%s: cryptography rejects the SDK's ECDSA signature" % c["name"])
            check_signature_math(c, d, Q, string_to_sign, der)
        else:
            za = sdk_key._z
            za_standard = va.sm2_za(Q[0], Q[1], padded=True)
            assert za == va.sm2_za(Q[0], Q[1], padded=False), "%s: SDK Z_A is not the unpadded form" % c["name"]
            quirk = za != za_standard
            assert quirk == (Q[0] < SHORT or Q[1] < SHORT), c["name"]
            assert quirk == c["_expect_quirk"], "%s: Z_A quirk is %s" % (c["name"], quirk)
            assert sdk_key.verify(der, message), "%s: the SDK's SM2 verify rejects it" % c["name"]
            r, s = va.parse_der_signature(der)
            assert va.sm2_verify_independent(za, Q, message, r, s), c["name"]
            assert va.sm2_verify_independent(za_standard, Q, message, r, s) == (not quirk), c["name"]
            check_signature_math(c, d, Q, string_to_sign, der, za=za)
            expected["za"] = za.hex()
            expected["za_standard"] = za_standard.hex()
            expected["za_quirk"] = quirk

    record = {key: value for key, value in c.items() if not key.startswith("_")}
    record["expected"] = expected
    check_with_verifier(c, expected)
    return record


def record_algorithm(alg, cases):
    out_dir = os.path.join(VECTORS, DIRS[alg])
    os.makedirs(out_dir, exist_ok=True)
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "%s: duplicate case names" % alg
    changed = 0
    for c in cases:
        record = record_case(c)
        changed += rv.write_if_changed(os.path.join(out_dir, c["name"] + ".json"), rv.dump_json(record))
    for f in sorted(os.listdir(out_dir)):
        if f.endswith(".json") and f[:-5] not in names:
            os.remove(os.path.join(out_dir, f))
            print("removed stale %s/%s" % (DIRS[alg], f))
    print("%s: %d cases, %d file(s) changed" % (DIRS[alg], len(cases), changed))


def main():
    # Sanity: SIGNING.md 3.3's check value and the curve constants the independent code uses.
    assert hkdf.get_der_key_sha256(AK, SK, "20240315/cn-north-4/hss") == \
        "75e30f2c2b5ddeb438163a004759dc65e99bf27550a810a907769b17410a9562"
    for curve, key_cls in ((va.P256, sdk_utils.P256SigningKey), (va.SM2P256, sdk_utils.SM2SigningKey)):
        assert (curve.p, curve.a, curve.b, curve.g, curve.n) == \
            (key_cls.PARAM_p, key_cls.PARAM_a, key_cls.PARAM_b, key_cls.PARAM_G, key_cls.PARAM_n), curve.name

    quirk_keys = find_quirk_keys()
    print("sdk-sm2-sm3: Z_A quirk keys: short x = %s (try #%d), short y = %s (try #%d)"
          % (quirk_keys["x"] + quirk_keys["y"]))
    record_algorithm(SM3, sm3_cases())
    record_algorithm(V11, v11_cases())
    record_algorithm(ECDSA, ecdsa_cases())
    record_algorithm(SM2, sm2_cases(quirk_keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
