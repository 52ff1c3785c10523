#!/usr/bin/env python3
"""Oracle verifier for signatures made by the crate's own signer, for the four non-default
algorithms: SDK-HMAC-SM3, V11-HMAC-SHA256, SDK-ECDSA-P256-SHA256 and SDK-SM2-SM3.

The official Huawei Cloud Python SDK is used as a test oracle only (its code is driven, never copied).
Run it with the oracle venv's python (see setup_venv.sh); it also needs ``cryptography`` in that venv:

    <venv>/bin/python tests/oracle/verify_algorithms.py < lines.jsonl

Protocol: one JSON object per stdin line,

    {"algorithm": "SDK-HMAC-SM3" | "V11-HMAC-SHA256" | "SDK-ECDSA-P256-SHA256" | "SDK-SM2-SM3",
     "ak": ..., "sk": ..., "string_to_sign": ..., "signature": "<lowercase hex>",
     "region": ..., "service": ...,            # required for V11-HMAC-SHA256, ignored otherwise
     "canonical_request": ...}                 # optional

and for each one exactly one JSON line on stdout, flushed at once: ``{"ok": true|false, "why": "..."}``.
Blank input lines are skipped; a line that is not a JSON object gets ``ok: false``. The process ends at EOF
with exit status 0.

What is checked:
  * The string to sign has the SDK's shape: ``ALG\\nYYYYMMDDTHHMMSSZ\\n[info\\n]<64 lowercase hex>``, the first
    line being the algorithm; for V11 the info line must be ``YYYYMMDD/<region>/<service>`` (the date part of
    the second line).
  * canonical_request, when given: its hash (SHA-256 for V11 and ECDSA, SM3 for SM3 and SM2, computed with the
    SDK signer's own ``_hash_hex_string``) must be the last line of the string to sign.
  * SDK-HMAC-SM3: the signature must equal ``SM3Signer(...)._sign_string_to_sign(string_to_sign, sk)``.
  * V11-HMAC-SHA256: the signature must equal ``DerivationAKSKSigner(...)._sign_string_to_sign(string_to_sign,
    hkdf.get_der_key_sha256(ak, sk, info))`` -- the SDK's derived key (hex text) and HMAC.
  * SDK-ECDSA-P256-SHA256: d comes from the SDK's ``P256SHA256Signer._derive_key()`` (the KDF loop), Q = d*G;
    the signature must be strict DER (lowercase hex) and verify with ``cryptography`` as standard
    ECDSA-P256-SHA256 over the UTF-8 string to sign.
  * SDK-SM2-SM3: d comes from the SDK's ``SM2SM3Signer._derive_key()``; the signature must be strict DER and
    verify with the SDK's own ``SM2SigningKey(d).verify`` (i.e. with the SDK's Z_A, unpadded coordinates).
    An independent SM2 verification written here must agree; ``why`` also says whether the key hits the Z_A
    quirk (then a standard GB/T 32918 verifier would reject the same signature).

The helpers below (strict DER, independent curve arithmetic, standard Z_A) are also used by
record_algorithms.py.
"""

import functools
import hashlib
import hmac
import json
import re
import sys
from datetime import datetime

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.signer import hkdf
from huaweicloudsdkcore.signer.signer import DerivationAKSKSigner, P256SHA256Signer, SM2SM3Signer, SM3Signer
from huaweicloudsdkcore.signer.utils import P256SigningKey, SM2SigningKey

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
except ImportError:  # pragma: no cover - environment problem, reported clearly
    sys.stderr.write("verify_algorithms: the 'cryptography' package is missing from the oracle venv; "
                     "install it there (<venv>/bin/python -m pip install cryptography)\n")
    raise

SM3 = "SDK-HMAC-SM3"
V11 = "V11-HMAC-SHA256"
ECDSA = "SDK-ECDSA-P256-SHA256"
SM2 = "SDK-SM2-SM3"
ALGORITHMS = (SM3, V11, ECDSA, SM2)

SIGNER_CLASSES = {SM3: SM3Signer, V11: DerivationAKSKSigner, ECDSA: P256SHA256Signer, SM2: SM2SM3Signer}
SDK_KEY_CLASSES = {ECDSA: P256SigningKey, SM2: SM2SigningKey}

DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_DATE_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^(?:[0-9a-f]{2})+$")


# ---------------------------------------------------------------------------------------------
# Independent helpers (our own code, standard formulas; used as second opinions and by the recorder)
# ---------------------------------------------------------------------------------------------

class Curve:
    """Short Weierstrass curve y^2 = x^3 + a*x + b over GF(p), standard public parameters."""

    def __init__(self, name, p, a, b, gx, gy, n):
        self.name, self.p, self.a, self.b, self.g, self.n = name, p, a, b, (gx, gy), n


# NIST P-256 (FIPS 186-4 D.1.2.3).
P256 = Curve(
    "P-256",
    p=0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff,
    a=0xffffffff00000001000000000000000000000000fffffffffffffffffffffffc,
    b=0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b,
    gx=0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
    gy=0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5,
    n=0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551,
)
# SM2 recommended curve (GB/T 32918.5-2017).
SM2P256 = Curve(
    "SM2",
    p=0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff,
    a=0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc,
    b=0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93,
    gx=0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7,
    gy=0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0,
    n=0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123,
)
CURVES = {ECDSA: P256, SM2: SM2P256}

SM2_DEFAULT_ID = b"1234567812345678"


def ec_add(P, Q, curve):
    """Affine point addition; None is the point at infinity."""
    if P is None:
        return Q
    if Q is None:
        return P
    p = curve.p
    if P[0] == Q[0]:
        if (P[1] + Q[1]) % p == 0:
            return None
        lam = (3 * P[0] * P[0] + curve.a) * pow(2 * P[1], -1, p) % p
    else:
        lam = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, p) % p
    x = (lam * lam - P[0] - Q[0]) % p
    return x, (lam * (P[0] - x) - P[1]) % p


def ec_mul(k, P, curve):
    """Double-and-add scalar multiplication (not constant time: test code only)."""
    result, addend = None, P
    while k:
        if k & 1:
            result = ec_add(result, addend, curve)
        addend = ec_add(addend, addend, curve)
        k >>= 1
    return result


def on_curve(P, curve):
    x, y = P
    return (y * y - (x * x * x + curve.a * x + curve.b)) % curve.p == 0


def sm3(data):
    return hashlib.new("sm3", data).digest()


def sm2_za(x, y, padded, uid=SM2_DEFAULT_ID):
    """Z_A = SM3(ENTL_A || ID_A || a || b || xG || yG || xA || yA).

    padded=True: every field element as exactly 32 bytes (GB/T 32918.2, what gmssl/OpenSSL do).
    padded=False: minimal big-endian length, as the Python SDK writes them (only xA/yA can be shorter)."""
    def enc(v):
        return v.to_bytes(32 if padded else (v.bit_length() + 7) // 8, "big")
    c = SM2P256
    entl = (len(uid) * 8).to_bytes(2, "big")
    return sm3(entl + uid + b"".join(enc(v) for v in (c.a, c.b, c.g[0], c.g[1], x, y)))


def sm2_verify_independent(za, Q, message, r, s):
    """GB/T 32918.2 verification with the given Z_A (our own code)."""
    c = SM2P256
    if not (1 <= r < c.n and 1 <= s < c.n):
        return False
    e = int.from_bytes(sm3(za + message), "big")
    t = (r + s) % c.n
    if t == 0:
        return False
    point = ec_add(ec_mul(s, c.g, c), ec_mul(t, Q, c), c)
    if point is None:
        return False
    return (e + point[0]) % c.n == r


def encode_der_signature(r, s):
    """DER SEQUENCE { INTEGER r, INTEGER s } with minimal positive integers."""
    def integer(v):
        body = v.to_bytes(v.bit_length() // 8 + 1, "big")  # one extra byte when the top bit is set
        return b"\x02" + bytes([len(body)]) + body
    content = integer(r) + integer(s)
    return b"\x30" + bytes([len(content)]) + content


def parse_der_signature(der):
    """Strict DER parse of SEQUENCE { INTEGER r, INTEGER s } (short-form lengths, minimal, positive,
    no trailing bytes). Returns (r, s); raises ValueError with the reason."""
    if len(der) < 8 or der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    if der[1] >= 0x80 or der[1] != len(der) - 2:
        raise ValueError("bad SEQUENCE length")
    pos, values = 2, []
    for which in ("r", "s"):
        if pos + 2 > len(der) or der[pos] != 0x02:
            raise ValueError("%s is not an INTEGER" % which)
        length = der[pos + 1]
        body = der[pos + 2:pos + 2 + length]
        if length == 0 or length >= 0x80 or len(body) != length:
            raise ValueError("bad INTEGER length for %s" % which)
        if body[0] & 0x80:
            raise ValueError("%s is negative" % which)
        if length > 1 and body[0] == 0 and not body[1] & 0x80:
            raise ValueError("%s is not minimally encoded" % which)
        values.append(int.from_bytes(body, "big"))
        pos += 2 + length
    if pos != len(der):
        raise ValueError("trailing bytes after the SEQUENCE")
    return values[0], values[1]


# ---------------------------------------------------------------------------------------------
# SDK-backed helpers
# ---------------------------------------------------------------------------------------------

def sdk_signer(algorithm, ak, sk):
    return SIGNER_CLASSES[algorithm](BasicCredentials(ak, sk))


def sdk_hash_hex(algorithm, text):
    """Hex hash of UTF-8 text with the hash function of the algorithm's SDK signer."""
    return sdk_signer(algorithm, "ak", "sk")._hash_hex_string(text.encode("utf-8"))


@functools.lru_cache(maxsize=256)
def sdk_key(algorithm, ak, sk):
    """(d, (x, y), sdk_signing_key) for ECDSA/SM2, from the SDK's own KDF and key classes."""
    d = sdk_signer(algorithm, ak, sk)._derive_key()
    key = SDK_KEY_CLASSES[algorithm](d)
    return d, tuple(key._public_key), key


def sdk_v11_signing_key(ak, sk, info):
    return hkdf.get_der_key_sha256(access_key=ak, secret_key=sk, info=info)


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------

class Reject(Exception):
    pass


def _string(obj, key, required=True):
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise Reject("field %r must be a string" % key)
    return value


def _check_string_to_sign(algorithm, sts, region, service):
    lines = sts.split("\n")
    want = 4 if algorithm == V11 else 3
    if len(lines) != want:
        raise Reject("string_to_sign has %d lines, expected %d" % (len(lines), want))
    if lines[0] != algorithm:
        raise Reject("string_to_sign starts with %r, expected %r" % (lines[0], algorithm))
    date = lines[1]
    try:
        if not _DATE_RE.match(date):
            raise ValueError(date)
        datetime.strptime(date, DATE_FORMAT)
    except ValueError:
        raise Reject("string_to_sign date line %r is not YYYYMMDDTHHMMSSZ" % date)
    if not _HASH_RE.match(lines[-1]):
        raise Reject("string_to_sign hash line %r is not 64 lowercase hex digits" % lines[-1])
    info = None
    if algorithm == V11:
        info = "%s/%s/%s" % (date[:8], region, service)
        if lines[2] != info:
            raise Reject("string_to_sign info line %r, expected %r" % (lines[2], info))
    return lines, info


def verify_request(obj):
    """Returns (ok, why) for one input object."""
    try:
        if not isinstance(obj, dict):
            raise Reject("input line is not a JSON object")
        algorithm = _string(obj, "algorithm")
        if algorithm not in ALGORITHMS:
            raise Reject("unsupported algorithm %r (expected one of %s)" % (algorithm, ", ".join(ALGORITHMS)))
        ak, sk = _string(obj, "ak"), _string(obj, "sk")
        if not ak or not sk:
            raise Reject("ak and sk must be non-empty")
        sts = _string(obj, "string_to_sign")
        signature = _string(obj, "signature")
        region = service = None
        if algorithm == V11:
            region, service = _string(obj, "region", False), _string(obj, "service", False)
            if not region or not service:
                raise Reject("region and service are required for V11-HMAC-SHA256")
        canonical_request = _string(obj, "canonical_request", False)

        lines, info = _check_string_to_sign(algorithm, sts, region, service)
        notes = []
        if canonical_request is not None:
            digest = sdk_hash_hex(algorithm, canonical_request)
            if digest != lines[-1]:
                raise Reject("hash of canonical_request is %s but the string_to_sign hash line is %s"
                             % (digest, lines[-1]))
            notes.append("canonical_request hash matches")

        if algorithm in (SM3, V11):
            signer = sdk_signer(algorithm, ak, sk)
            key = sk if algorithm == SM3 else sdk_v11_signing_key(ak, sk, info)
            expected = signer._sign_string_to_sign(sts, key)
            if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
                raise Reject("signature differs from the SDK's: expected %s" % expected)
            notes.insert(0, "signature equals the SDK's %s" % algorithm)
            return True, "; ".join(notes)

        if not _HEX_RE.match(signature):
            raise Reject("signature is not lowercase hex of whole bytes")
        der = bytes.fromhex(signature)
        try:
            r, s = parse_der_signature(der)
        except ValueError as e:
            raise Reject("signature is not strict DER: %s" % e)
        d, (x, y), sdk_signing_key = sdk_key(algorithm, ak, sk)
        message = sts.encode("utf-8")

        if algorithm == ECDSA:
            public = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
            try:
                public.verify(der, message, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                raise Reject("ECDSA-P256-SHA256 signature does not verify (cryptography) with the public key "
                             "the SDK derives: 04%064x%064x" % (x, y))
            notes.insert(0, "ECDSA-P256-SHA256 signature verifies (cryptography) with the SDK-derived public key")
            return True, "; ".join(notes)

        # SM2
        try:
            sdk_ok = bool(sdk_signing_key.verify(der, message))
        except Exception as e:  # the SDK's decoder/verify raising counts as a rejection
            sdk_ok, sdk_error = False, "%s: %s" % (type(e).__name__, e)
        else:
            sdk_error = None
        za_sdk = sdk_signing_key._z
        own_ok = sm2_verify_independent(za_sdk, (x, y), message, r, s)
        quirk = za_sdk != sm2_za(x, y, padded=True)
        if sdk_ok != own_ok:
            raise Reject("the SDK's SM2 verify says %s but the independent check says %s (SDK error: %s)"
                         % (sdk_ok, own_ok, sdk_error))
        if not sdk_ok:
            raise Reject("SM2 signature does not verify with the SDK's Z_A %s (key hits the Z_A quirk: %s)%s"
                         % (za_sdk.hex(), "yes" if quirk else "no", "; " + sdk_error if sdk_error else ""))
        if quirk:
            tail = "key hits the Z_A quirk (public x or y < 2^248): a standard verifier would reject it"
        else:
            tail = "Z_A equals the standard one"
        notes.insert(0, "SM2 signature verifies with the SDK's Z_A (SDK verify and independent check); " + tail)
        return True, "; ".join(notes)
    except Reject as e:
        return False, str(e)
    except Exception as e:  # anything unexpected is a failed verification, never a crash of the loop
        return False, "error: %s: %s" % (type(e).__name__, e)


def main():
    # UTF-8 both ways whatever the locale of the driving process.
    sys.stdin.reconfigure(encoding="utf-8")
    sys.stdout.reconfigure(encoding="utf-8")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            ok, why = False, "bad input line (not JSON): %s" % e
        else:
            ok, why = verify_request(obj)
        sys.stdout.write(json.dumps({"ok": ok, "why": why}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
