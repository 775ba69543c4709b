#!/usr/bin/env python3
"""Independent reference implementation of blepake version 1, written from PROTOCOL.md alone.

It exists to test whether PROTOCOL.md is complete: every place where the text left a choice open
is marked `# SPEC-GAP:` with the reading taken here. It is a test tool, not a product: the P-256
arithmetic below is plain affine Python and NOT constant-time, and Python cannot erase secrets.

Layout of this file, in protocol order:
  P-256 and SEC1 encodings · HKDF/HMAC · setup codes, Damm, Base45, Setup Info, QR payload ·
  Argon2id derivation and device record · SPAKE2+ (RFC 9383) · frames · records · alerts ·
  host and device connections (sans-IO state machines) · UART framing (§16: COBS, CRC-16,
  the host's and the device's ends of a link) · self-test · command line.

Command line:
  python3 blepake_ref.py selftest
  python3 blepake_ref.py provision [--code 8DIGITS] [--memory-kib M] [--iterations T]
                                   [--parallelism P] [--qr-secret]
"""

import argparse
import binascii
import collections
import hashlib
import hmac
import math
import os
import random
import secrets
import struct
import sys
import time
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand


class ProtocolViolation(Exception):
    """A check that PROTOCOL.md requires failed; `alert` is the alert code to send, if any."""

    def __init__(self, alert, message="", details=b""):
        super().__init__(message or ALERT_NAMES.get(alert, str(alert)))
        self.alert = alert
        self.details = details


class InvalidInput(ValueError):
    """A setup code, payload, Setup Info or record that a party must refuse."""


# ---------------------------------------------------------------------------------------------
# P-256 (SEC 2) in affine coordinates; the identity is None.
# ---------------------------------------------------------------------------------------------

P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_A = P256_P - 3
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)


def on_curve(point):
    x, y = point
    return (y * y - (x * x * x + P256_A * x + P256_B)) % P256_P == 0


def point_neg(point):
    if point is None:
        return None
    x, y = point
    return (x, (-y) % P256_P)


def point_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    x1, y1 = p1
    x2, y2 = p2
    if x1 == x2:
        if (y1 + y2) % P256_P == 0:
            return None
        slope = (3 * x1 * x1 + P256_A) * pow(2 * y1, -1, P256_P) % P256_P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P256_P) % P256_P
    x3 = (slope * slope - x1 - x2) % P256_P
    return (x3, (slope * (x1 - x3) - y1) % P256_P)


def point_sub(p1, p2):
    return point_add(p1, point_neg(p2))


def scalar_mult(k, point):
    """k·point by double-and-add (variable time: acceptable for a test tool only)."""
    result = None
    addend = point
    k %= P256_N
    while k:
        if k & 1:
            result = point_add(result, addend)
        addend = point_add(addend, addend)
        k >>= 1
    return result


def base_mult(k):
    return scalar_mult(k, P256_G)


def encode_compressed(point):
    if point is None:
        raise ValueError("the identity has no SEC1 compressed encoding")
    x, y = point
    return bytes([2 | (y & 1)]) + x.to_bytes(32, "big")


def encode_uncompressed(point):
    if point is None:
        raise ValueError("the identity has no SEC1 uncompressed encoding")
    x, y = point
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def decode_compressed(data):
    """SEC1 §2.3.4 for a 33-byte compressed point; None if it does not decode."""
    if len(data) != 33 or data[0] not in (2, 3):
        return None
    x = int.from_bytes(data[1:], "big")
    if x >= P256_P:
        return None
    rhs = (x * x * x + P256_A * x + P256_B) % P256_P
    y = pow(rhs, (P256_P + 1) // 4, P256_P)  # p = 3 mod 4
    if y * y % P256_P != rhs:
        return None
    if y & 1 != data[0] & 1:
        y = P256_P - y
    return (x, y)


def decode_uncompressed(data):
    if len(data) != 65 or data[0] != 4:
        return None
    x = int.from_bytes(data[1:33], "big")
    y = int.from_bytes(data[33:], "big")
    if x >= P256_P or y >= P256_P or not on_curve((x, y)):
        return None
    return (x, y)


def random_scalar():
    """A uniformly random scalar in [1, n-1]."""
    return secrets.randbelow(P256_N - 1) + 1


def scalar_bytes(k):
    return k.to_bytes(32, "big")


# RFC 9383 §4, P-256 constants (also in the RFC 9383 test vectors).
SPAKE_M = decode_compressed(bytes.fromhex(
    "02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f"))
SPAKE_N = decode_compressed(bytes.fromhex(
    "03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49"))


# ---------------------------------------------------------------------------------------------
# Hashes, HMAC, HKDF (PROTOCOL.md §1)
# ---------------------------------------------------------------------------------------------

def sha256(data):
    return hashlib.sha256(data).digest()


def hmac_sha256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def hkdf_extract(salt, ikm):
    """RFC 5869 §2.2; a nil salt is 32 zero bytes (PROTOCOL.md §1)."""
    return hmac_sha256(salt if salt is not None else bytes(32), ikm)


def hkdf_expand(prk, info, length):
    return HKDFExpand(algorithm=hashes.SHA256(), length=length, info=info).derive(prk)


def hkdf(salt, ikm, info, length):
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


def le64(n):
    return struct.pack("<Q", n)


# ---------------------------------------------------------------------------------------------
# Setup codes (§4.1), Damm check digit (§4.2)
# ---------------------------------------------------------------------------------------------

def is_trivial_code(code):
    """§4.1: one repeated digit, a +1/-1 run (mod 10), or a repeated 2- or 4-digit block."""
    digits = [int(c) for c in code]
    steps = {(b - a) % 10 for a, b in zip(digits, digits[1:])}
    if steps in ({0}, {1}, {9}):  # repeated digit, or a run in one direction throughout
        return True
    return code == code[:2] * 4 or code == code[:4] * 2


def validate_code(code):
    if len(code) != 8 or not code.isdigit() or not code.isascii():
        raise InvalidInput("a setup code is 8 decimal digits")
    if is_trivial_code(code):
        raise InvalidInput("trivial setup code")
    return code


DAMM_TABLE = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
]


def damm_interim(digits):
    interim = 0
    for c in digits:
        interim = DAMM_TABLE[interim][int(c)]
    return interim


def format_manual_code(code):
    nine = code + str(damm_interim(code))
    return f"{nine[0:3]}-{nine[3:6]}-{nine[6:9]}"


def parse_manual_code(text):
    """§4.2: the 8-digit code from a typed code, 9 digits with the check digit or the 8 without,
    grouped in any way by spaces and hyphens; raises InvalidInput."""
    digits = text.replace(" ", "").replace("-", "")
    if len(digits) not in (8, 9) or not digits.isdigit() or not digits.isascii():
        raise InvalidInput("a manual code is 9 digits (or the 8 of the code)")
    if len(digits) == 9 and damm_interim(digits) != 0:
        raise InvalidInput("wrong check digit")
    return validate_code(digits[:8])


# ---------------------------------------------------------------------------------------------
# Base45 (RFC 9285)
# ---------------------------------------------------------------------------------------------

BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
BASE45_VALUES = {c: i for i, c in enumerate(BASE45_ALPHABET)}


def base45_encode(data):
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        out += [BASE45_ALPHABET[n % 45], BASE45_ALPHABET[n // 45 % 45], BASE45_ALPHABET[n // 2025]]
    if len(data) % 2:
        out += [BASE45_ALPHABET[data[-1] % 45], BASE45_ALPHABET[data[-1] // 45]]
    return "".join(out)


def base45_decode(text):
    if len(text) % 3 == 1:
        raise InvalidInput("Base45 length")
    try:
        values = [BASE45_VALUES[c] for c in text]
    except KeyError:
        raise InvalidInput("character outside the Base45 alphabet") from None
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i:i + 3]
        n = sum(v * 45 ** j for j, v in enumerate(chunk))
        if len(chunk) == 3:
            if n > 0xFFFF:
                raise InvalidInput("Base45 triple above 65535")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise InvalidInput("Base45 pair above 255")
            out.append(n)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Setup Info (§4.3) and QR payload (§4.4)
# ---------------------------------------------------------------------------------------------

KDF_ARGON2ID = 0x01
KDF_HKDF = 0x02  # for a QR secret (§4.4)


@dataclass(frozen=True)
class KdfParams:
    memory_kib: int
    iterations: int
    parallelism: int
    salt: bytes
    algorithm: int = KDF_ARGON2ID

    def encode(self):
        return (bytes([self.algorithm]) + struct.pack("<I", self.memory_kib)
                + bytes([self.iterations, self.parallelism]) + self.salt)

    @classmethod
    def decode(cls, data):
        if len(data) != 23:
            raise InvalidInput("kdf_params is 23 bytes")
        return cls(algorithm=data[0], memory_kib=struct.unpack("<I", data[1:5])[0],
                   iterations=data[5], parallelism=data[6], salt=bytes(data[7:23]))

    def validate(self):
        """§4.3: every reader refuses invalid parameters, so that a forged code cannot make a
        host spend unbounded work."""
        p, t, m = self.parallelism, self.iterations, self.memory_kib
        if self.algorithm == KDF_ARGON2ID:
            if not (1 <= p <= 16 and 1 <= t <= 32 and 8 * p <= m <= 1048576):
                raise InvalidInput("Argon2id parameters out of range")
        elif self.algorithm == KDF_HKDF:
            if (m, t, p) != (0, 0, 0):
                raise InvalidInput("HKDF takes no memory, iterations or parallelism")
        else:
            raise InvalidInput("unknown KDF algorithm")
        return self

    @classmethod
    def for_qr_secret(cls, salt):
        return cls(0, 0, 0, salt, algorithm=KDF_HKDF)


SETUP_INFO_FORMAT = 0x01


@dataclass(frozen=True)
class SetupInfo:
    device_id: bytes
    kdf_params: KdfParams

    def encode(self):
        return bytes([SETUP_INFO_FORMAT]) + self.device_id + self.kdf_params.encode()

    @classmethod
    def decode(cls, data):
        if len(data) != 32 or data[0] != SETUP_INFO_FORMAT:
            raise InvalidInput("Setup Info is 32 bytes with format 0x01")
        params = KdfParams.decode(data[9:32]).validate()
        return cls(device_id=bytes(data[1:9]), kdf_params=params)


QR_PREFIX = "BP:"
QR_SECRET_LEN = 16


@dataclass(frozen=True)
class Password:
    """A device's one password (§4.4, §5.1): an 8-digit code or a 16-byte QR secret."""
    code: str = None
    qr_secret: bytes = None

    def pw(self):
        return self.code.encode("ascii") if self.code is not None else self.qr_secret

    def algorithm(self):
        return KDF_ARGON2ID if self.code is not None else KDF_HKDF


def encode_qr_payload(setup_info, password):
    if password.code is not None:
        secret = struct.pack("<I", int(password.code))
    else:
        secret = password.qr_secret
    return QR_PREFIX + base45_encode(setup_info.encode() + secret)


def parse_qr_payload(text):
    """§4.4: returns (SetupInfo, Password) or raises InvalidInput."""
    lengths = {57: KDF_ARGON2ID, 75: KDF_HKDF}
    if not text.startswith(QR_PREFIX) or len(text) not in lengths:
        raise InvalidInput("a QR payload is 'BP:' and 54 or 72 Base45 characters")
    raw = base45_decode(text[len(QR_PREFIX):])
    setup_info = SetupInfo.decode(raw[:32])
    if setup_info.kdf_params.algorithm != lengths[len(text)]:
        raise InvalidInput("the payload's length does not fit its KDF algorithm")
    if setup_info.kdf_params.algorithm == KDF_HKDF:
        return setup_info, Password(qr_secret=bytes(raw[32:]))
    code_value = struct.unpack("<I", raw[32:36])[0]
    if code_value > 99999999:
        raise InvalidInput("code out of range")
    return setup_info, Password(code=validate_code(f"{code_value:08d}"))


# ---------------------------------------------------------------------------------------------
# From code to verifier (§5)
# ---------------------------------------------------------------------------------------------

def derive_w0_w1(password, device_id, params):
    """§5.1: RFC 9383's PBKDF input (idProver empty, idVerifier = device_id) through Argon2id
    for a code or HKDF for a QR secret."""
    params.validate()
    if password.algorithm() != params.algorithm:
        raise InvalidInput("this device takes the other kind of password")
    pw = password.pw()
    kdf_input = le64(len(pw)) + pw + le64(0) + le64(len(device_id)) + device_id
    if params.algorithm == KDF_HKDF:
        out = hkdf(params.salt, kdf_input, b"blepake/1 w0w1", 80)
    else:
        out = hash_secret_raw(secret=kdf_input, salt=params.salt, time_cost=params.iterations,
                              memory_cost=params.memory_kib, parallelism=params.parallelism,
                              hash_len=80, type=Type.ID, version=0x13)
    w0 = int.from_bytes(out[:40], "big") % P256_N
    w1 = int.from_bytes(out[40:], "big") % P256_N
    if w0 == 0 or w1 == 0:
        raise InvalidInput("w0 or w1 is zero")
    return w0, w1


DEVICE_RECORD_FORMAT = 0x01


@dataclass(frozen=True)
class DeviceRecord:
    device_id: bytes
    kdf_params: KdfParams
    w0: int
    L: tuple
    w0M: tuple
    w0N: tuple

    def encode(self):
        return (bytes([DEVICE_RECORD_FORMAT]) + self.device_id + self.kdf_params.encode()
                + scalar_bytes(self.w0) + encode_compressed(self.L)
                + encode_compressed(self.w0M) + encode_compressed(self.w0N))

    @classmethod
    def decode(cls, data):
        """§5.2, with the load-time checks a device MUST make."""
        if len(data) != 163 or data[0] != DEVICE_RECORD_FORMAT:
            raise InvalidInput("a device record is 163 bytes with format 0x01")
        w0 = int.from_bytes(data[32:64], "big")
        if not 0 < w0 < P256_N:
            raise InvalidInput("w0 is zero or not below n")
        points = [decode_compressed(data[i:i + 33]) for i in (64, 97, 130)]
        if None in points:
            raise InvalidInput("a point of the device record does not decode")
        # §5.2: w0·M and w0·N are not checked against w0 (provisioning is trusted).
        return cls(device_id=bytes(data[1:9]), kdf_params=KdfParams.decode(data[9:32]).validate(),
                   w0=w0, L=points[0], w0M=points[1], w0N=points[2])


def provision(code=None, memory_kib=65536, iterations=3, parallelism=4, qr_secret=False):
    """Provisioning: a fresh device_id and salt, and a random code (or the given one) or a QR
    secret; returns (Password, SetupInfo, DeviceRecord)."""
    if qr_secret:
        password = Password(qr_secret=os.urandom(QR_SECRET_LEN))
    else:
        while code is None:
            candidate = f"{secrets.randbelow(10 ** 8):08d}"
            if not is_trivial_code(candidate):
                code = candidate
        password = Password(code=validate_code(code))
    device_id = os.urandom(8)
    while True:
        salt = os.urandom(16)
        if qr_secret:
            params = KdfParams.for_qr_secret(salt)
        else:
            params = KdfParams(memory_kib, iterations, parallelism, salt).validate()
        try:
            w0, w1 = derive_w0_w1(password, device_id, params)
            break
        except InvalidInput:
            continue  # §5.1: provisioning redraws the salt
    record = DeviceRecord(device_id, params, w0, base_mult(w1),
                          scalar_mult(w0, SPAKE_M), scalar_mult(w0, SPAKE_N))
    return password, SetupInfo(device_id, params), record


# ---------------------------------------------------------------------------------------------
# SPAKE2+ key schedule (RFC 9383 §3.3-3.4, PROTOCOL.md §6.2)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpakeKeys:
    transcript: bytes
    k_main: bytes
    k_confirm_p: bytes
    k_confirm_v: bytes
    k_shared: bytes
    confirm_p: bytes   # HMAC(K_confirmP, shareV)
    confirm_v: bytes   # HMAC(K_confirmV, shareP)


def spake2plus_keys(context, id_prover, id_verifier, share_p, share_v, z, v, w0):
    """Transcript and keys from points (affine tuples) and w0 (int)."""
    share_p_u = encode_uncompressed(share_p)
    share_v_u = encode_uncompressed(share_v)
    parts = [context, id_prover, id_verifier, encode_uncompressed(SPAKE_M),
             encode_uncompressed(SPAKE_N), share_p_u, share_v_u, encode_uncompressed(z),
             encode_uncompressed(v), scalar_bytes(w0)]
    transcript = b"".join(le64(len(part)) + part for part in parts)
    k_main = sha256(transcript)
    confirmation = hkdf(None, k_main, b"ConfirmationKeys", 64)
    k_confirm_p, k_confirm_v = confirmation[:32], confirmation[32:]
    return SpakeKeys(transcript, k_main, k_confirm_p, k_confirm_v,
                     hkdf(None, k_main, b"SharedKey", 32),
                     hmac_sha256(k_confirm_p, share_v_u), hmac_sha256(k_confirm_v, share_p_u))


def pairing_context(version, supported_versions, kdf_params, session_id):
    return (b"blepake/1 pairing" + bytes([version, supported_versions]) + kdf_params.encode()
            + session_id)


# ---------------------------------------------------------------------------------------------
# Frames (§3) and alerts (§9)
# ---------------------------------------------------------------------------------------------

PAIR_REQUEST, PAIR_RESPONSE, PAIR_CONFIRM = 1, 2, 3
RESUME_REQUEST, RESUME_RESPONSE, RESUME_FINISH = 4, 5, 6
ALERT, APPLICATION_DATA, CONTROL = 7, 8, 9

BODY_LENGTHS = {
    # Requests begin with the version and may change their length in later versions (§3, §11).
    PAIR_REQUEST: (2, 255), PAIR_RESPONSE: (65, 65), PAIR_CONFIRM: (32, 32),
    RESUME_REQUEST: (2, 255), RESUME_RESPONSE: (65, 65), RESUME_FINISH: (32, 32),
    ALERT: (1, 3), APPLICATION_DATA: (16, 528), CONTROL: (17, 18),
}

AUTHENTICATION_FAILED, UNAVAILABLE, LOCKED, UNSUPPORTED_VERSION = 1, 2, 3, 4
UNKNOWN_DEVICE, RESUME_REJECTED, PROTOCOL_ERROR, TIMEOUT, INTERNAL = 5, 6, 7, 8, 9
PAIRING_CLOSED = 10
ALERT_NAMES = {
    AUTHENTICATION_FAILED: "AuthenticationFailed", UNAVAILABLE: "Unavailable", LOCKED: "Locked",
    UNSUPPORTED_VERSION: "UnsupportedVersion", UNKNOWN_DEVICE: "UnknownDevice",
    RESUME_REJECTED: "ResumeRejected", PROTOCOL_ERROR: "ProtocolError", TIMEOUT: "Timeout",
    INTERNAL: "Internal", PAIRING_CLOSED: "PairingClosed",
}
# §9: the details' length of each known code; another length makes the alert malformed.
ALERT_DETAILS_LEN = {code: 0 for code in ALERT_NAMES} | {UNAVAILABLE: 2, UNSUPPORTED_VERSION: 1}

VERSION = 1
SUPPORTED_VERSIONS = 0x01  # bit v-1 for each version spoken

MAX_MESSAGE = 512
RECORDS_PER_KEY = 2 ** 20
CONTROL_KEY_UPDATE = 0x01
CONTROL_CLOSE = 0x02


def frame(frame_type, body):
    length = len(body)
    return bytes([frame_type << 4 | length >> 8, length & 0xFF]) + body


def describe_alert(body):
    """A short text for a received alert, with the details the table defines; None when a
    known code carries details of another length (§9: malformed)."""
    code, details = body[0], body[1:]
    if code not in ALERT_NAMES:
        return f"code{code}"  # unknown codes, with any details, are a generic failure
    if len(details) != ALERT_DETAILS_LEN[code]:
        return None
    if code == UNAVAILABLE:
        return f"Unavailable:retry_after={struct.unpack('<H', details)[0]}"
    if code == UNSUPPORTED_VERSION:
        return f"UnsupportedVersion:supported={details.hex()}"
    return ALERT_NAMES[code]


# ---------------------------------------------------------------------------------------------
# Records (§7)
# ---------------------------------------------------------------------------------------------

class TrafficKeys:
    """One direction's chain: secret_i, key_i, iv_i and the record count `seq`."""

    def __init__(self, root, label):
        self._load(hkdf_expand(root, label, 32))

    def _load(self, secret):
        self.secret = secret
        self.aead = AESCCM(hkdf_expand(secret, b"blepake/1 key", 16), tag_length=16)
        self.iv = hkdf_expand(secret, b"blepake/1 iv", 13)
        self.seq = 0

    def update(self):
        self._load(hkdf_expand(self.secret, b"blepake/1 update", 32))

    def nonce(self):
        counter = bytes(5) + self.seq.to_bytes(8, "big")
        return bytes(a ^ b for a, b in zip(self.iv, counter))


H2D_LABEL = b"blepake/1 host to device"
D2H_LABEL = b"blepake/1 device to host"


# ---------------------------------------------------------------------------------------------
# Connections: sans-IO state machines. `receive(bytes)` consumes stream bytes; output bytes and
# events accumulate until `take_output()` / `take_events()`.
# Events: ("connected", "paired"|"resumed"), ("bonded", device_id, host_id, bond_secret),
#         ("message", bytes), ("closed", by_peer: bool, reason: int), ("failed", text), where
#         text is sent:<Alert>, received:<Alert>[:detail], malformed-alert or LinkLost.
# ---------------------------------------------------------------------------------------------

OPEN, CLOSED, FAILED = "open", "closed", "failed"


class Connection:
    role = None
    # Frame types this side may receive in each handshake state (§12); Alert is always allowed.
    expected = {}

    def __init__(self, clock, handshake_timeout, records_per_key):
        self.clock = clock
        self.handshake_timeout = handshake_timeout
        self.records_per_key = records_per_key
        self.state = None
        self.deadline = None
        self._inbuf = bytearray()
        self._out = bytearray()
        self._events = []
        self._pending = []  # application messages given before the session opened
        self._send_keys = None
        self._recv_keys = None

    # --- application side ---

    def take_output(self):
        out, self._out = bytes(self._out), bytearray()
        return out

    def take_events(self):
        events, self._events = self._events, []
        return events

    @property
    def ended(self):
        return self.state in (CLOSED, FAILED)

    def send(self, message):
        """Queue or seal one application message; before Open it waits for the session."""
        if len(message) > MAX_MESSAGE:
            raise ValueError("an application message is at most 512 bytes")
        if self.ended:
            raise RuntimeError("the connection has ended")
        if self.state == OPEN:
            self._seal_application(message)
        else:
            self._pending.append(bytes(message))

    def key_update(self):
        if self.state != OPEN:
            raise RuntimeError("key updates need an open session")
        self._seal(CONTROL, bytes([CONTROL_KEY_UPDATE]))
        self._send_keys.update()

    def close(self, reason=0):
        # §7.4: before the session is open there is no Close (a handshake ends by dropping the
        # link); after sending it, all further input is ignored.
        if self.state != OPEN:
            raise RuntimeError("Close needs an open session")
        self._seal(CONTROL, bytes([CONTROL_CLOSE, reason]))
        self.state = CLOSED
        self._events.append(("closed", False, reason))
        self._on_end()

    def poll(self):
        """Checks the deadline; the application calls this now and then, and every input
        checks it first (§10.7)."""
        if self.deadline is not None and not self.ended and self.clock() >= self.deadline:
            self._fail(TIMEOUT, "deadline passed")

    def link_lost(self):
        """The BLE link dropped: LinkLost (§7.4) unless the session had ended already."""
        if not self.ended:
            self.state = FAILED
            self._events.append(("failed", "LinkLost"))
            self._on_end()

    def receive(self, data):
        self.poll()  # input after a deadline fails the connection instead of being processed
        if self.ended:
            return  # §9: a failed (or closed) party stops processing input
        self._inbuf += data
        try:
            self._process_frames()
        except ProtocolViolation as violation:
            self._fail(violation.alert, str(violation), violation.details)

    # --- stream parsing ---

    def _process_frames(self):
        while not self.ended and len(self._inbuf) >= 2:
            frame_type = self._inbuf[0] >> 4
            length = (self._inbuf[0] & 0x0F) << 8 | self._inbuf[1]
            bounds = BODY_LENGTHS.get(frame_type)
            if bounds is None or not bounds[0] <= length <= bounds[1]:
                if frame_type == ALERT:  # §3: never answered, even with a wrong length
                    raise ProtocolViolation(None, "malformed-alert")
                raise ProtocolViolation(PROTOCOL_ERROR, "bad frame header")
            # §3: an unexpected type MAY be refused at its header; this implementation does.
            if frame_type != ALERT and frame_type not in self._allowed_types():
                raise ProtocolViolation(PROTOCOL_ERROR, f"unexpected frame type {frame_type}")
            if len(self._inbuf) < 2 + length:
                return
            header = bytes(self._inbuf[:2])
            body = bytes(self._inbuf[2:2 + length])
            del self._inbuf[:2 + length]
            self._handle_frame(frame_type, header, body)

    def _allowed_types(self):
        if self.state == OPEN:
            return (APPLICATION_DATA, CONTROL)
        return self.expected.get(self.state, ())

    def _handle_frame(self, frame_type, header, body):
        if frame_type == ALERT:
            # §9: never answer an alert, well-formed or malformed.
            description = describe_alert(body)
            self._fail(None, "malformed-alert" if description is None
                       else "received:" + description)
        elif frame_type in (APPLICATION_DATA, CONTROL):
            self._open_record(frame_type, header, body)
        else:
            self._handle_handshake(frame_type, body)

    def _handle_handshake(self, frame_type, body):
        raise NotImplementedError

    # --- records ---

    def _start_session(self, root, how):
        h2d, d2h = TrafficKeys(root, H2D_LABEL), TrafficKeys(root, D2H_LABEL)
        self._send_keys, self._recv_keys = (h2d, d2h) if self.role == "host" else (d2h, h2d)
        self.state = OPEN
        self.deadline = None
        self._events.append(("connected", how))

    def _flush_pending(self):
        pending, self._pending = self._pending, []
        for message in pending:
            self._seal_application(message)

    def _seal_application(self, message):
        # §7.3: the last record a key may protect is reserved for the KeyUpdate that retires it.
        if self._send_keys.seq >= self.records_per_key - 1:
            self.key_update()
        self._seal(APPLICATION_DATA, message)

    def _seal(self, frame_type, plaintext):
        keys = self._send_keys
        length = len(plaintext) + 16
        header = bytes([frame_type << 4 | length >> 8, length & 0xFF])
        self._out += header + keys.aead.encrypt(keys.nonce(), plaintext, header)
        keys.seq += 1

    def _open_record(self, frame_type, header, body):
        keys = self._recv_keys
        if keys.seq >= self.records_per_key:
            raise ProtocolViolation(PROTOCOL_ERROR, "too many records under one key")
        try:
            plaintext = keys.aead.decrypt(keys.nonce(), body, header)
        except InvalidTag:
            raise ProtocolViolation(PROTOCOL_ERROR, "record failed authentication") from None
        keys.seq += 1
        if frame_type == APPLICATION_DATA:
            self._events.append(("message", plaintext))
        elif plaintext == bytes([CONTROL_KEY_UPDATE]):
            keys.update()
        elif len(plaintext) == 2 and plaintext[0] == CONTROL_CLOSE:
            self.state = CLOSED  # §7.4: bytes after a Close are ignored
            self._events.append(("closed", True, plaintext[1]))
            self._on_end()
        else:
            raise ProtocolViolation(PROTOCOL_ERROR, "unknown control record")

    # --- failure ---

    def _fail(self, alert, text, details=b""):
        if alert is not None:
            self._out += frame(ALERT, bytes([alert]) + details)
            text = "sent:" + ALERT_NAMES[alert]
        self.state = FAILED
        self._events.append(("failed", text))
        self._on_end()

    def _on_end(self):
        self._pending = []


# --- host ---------------------------------------------------------------------------------------

AWAIT_PAIR_RESPONSE = "await_pair_response"
AWAIT_RESUME_RESPONSE = "await_resume_response"


BOND_FORMAT = 0x01


@dataclass(frozen=True)
class HostBond:
    """What a host keeps after pairing, and the bond's bytes (§8.1)."""
    device_id: bytes
    host_id: bytes
    bond_secret: bytes

    def encode(self):
        return bytes([BOND_FORMAT]) + self.device_id + self.host_id + self.bond_secret

    @classmethod
    def decode(cls, data):
        if len(data) != 49 or data[0] != BOND_FORMAT:
            raise InvalidInput("a bond is 49 bytes with format 0x01")
        return cls(bytes(data[1:9]), bytes(data[9:17]), bytes(data[17:]))


class HostConnection(Connection):
    role = "host"
    expected = {AWAIT_PAIR_RESPONSE: (PAIR_RESPONSE,), AWAIT_RESUME_RESPONSE: (RESUME_RESPONSE,)}

    def __init__(self, clock=time.monotonic, handshake_timeout=30.0,
                 records_per_key=RECORDS_PER_KEY):
        super().__init__(clock, handshake_timeout, records_per_key)

    @classmethod
    def pair(cls, password, setup_info, w0_w1=None, previous_bond=None, **kwargs):
        """Starts a pairing; w0_w1 may be passed when the caller already ran §5.1. With the
        bond of an earlier pairing with this device, its host_id names the new bond (§6.1)."""
        conn = cls(**kwargs)
        if password.code is not None:
            validate_code(password.code)
        w0, w1 = w0_w1 or derive_w0_w1(password, setup_info.device_id, setup_info.kdf_params)
        conn._w0, conn._w1 = w0, w1
        conn._setup_info = setup_info
        if previous_bond is not None and previous_bond.device_id == setup_info.device_id:
            conn._host_id = previous_bond.host_id
        else:
            conn._host_id = os.urandom(8)
        conn._session_id = os.urandom(8)
        conn._x = random_scalar()
        conn._share_p = point_add(base_mult(conn._x), scalar_mult(w0, SPAKE_M))
        body = (bytes([VERSION, SUPPORTED_VERSIONS]) + setup_info.device_id + conn._host_id
                + conn._session_id + encode_compressed(conn._share_p))
        conn._begin(AWAIT_PAIR_RESPONSE, frame(PAIR_REQUEST, body))
        return conn

    @classmethod
    def resume(cls, bond, **kwargs):
        conn = cls(**kwargs)
        conn._bond = bond
        conn._x = random_scalar()
        prefix = (bytes([VERSION, SUPPORTED_VERSIONS]) + bond.device_id + bond.host_id
                  + encode_compressed(base_mult(conn._x)))
        binder_key = hkdf_expand(bond.bond_secret, b"blepake/1 binder", 32)
        conn._request = prefix + hmac_sha256(binder_key, prefix)[:16]
        conn._begin(AWAIT_RESUME_RESPONSE, frame(RESUME_REQUEST, conn._request))
        return conn

    def _begin(self, state, request):
        # §12: the timer starts when the request is queued, after any derivation.
        self.state = state
        self.deadline = self.clock() + self.handshake_timeout
        self._out += request

    def _handle_handshake(self, frame_type, body):
        if frame_type == PAIR_RESPONSE:
            self._on_pair_response(body)
        else:
            self._on_resume_response(body)

    def _on_pair_response(self, body):
        share_v = decode_compressed(body[:33])
        if share_v is None:
            raise ProtocolViolation(PROTOCOL_ERROR, "shareV does not decode")
        unblinded = point_sub(share_v, scalar_mult(self._w0, SPAKE_N))
        if unblinded is None:
            raise ProtocolViolation(PROTOCOL_ERROR, "shareV - w0·N is the identity")
        context = pairing_context(VERSION, SUPPORTED_VERSIONS, self._setup_info.kdf_params,
                                  self._session_id)
        keys = spake2plus_keys(context, self._host_id, self._setup_info.device_id,
                               self._share_p, share_v, scalar_mult(self._x, unblinded),
                               scalar_mult(self._w1, unblinded), self._w0)
        self._x = None
        if not hmac.compare_digest(keys.confirm_v, body[33:]):
            raise ProtocolViolation(AUTHENTICATION_FAILED, "confirmV did not verify")
        self._out += frame(PAIR_CONFIRM, keys.confirm_p)
        self._start_session(keys.k_shared, "paired")
        # §8.1: the host has its bond as soon as confirmV verifies.
        self._events.append(("bonded", HostBond(self._setup_info.device_id, self._host_id,
                                                hkdf_expand(keys.k_shared, b"blepake/1 bond", 32))))
        self._flush_pending()  # 0.5-RTT data, in the same write as PairConfirm

    def _on_resume_response(self, body):
        y_point = decode_compressed(body[:33])
        if y_point is None:
            raise ProtocolViolation(PROTOCOL_ERROR, "Y does not decode")
        keys = resume_keys(self._bond.bond_secret, self._request, body[:33],
                           scalar_mult(self._x, y_point))
        self._x = None
        if not hmac.compare_digest(keys.confirm_d, body[33:]):
            raise ProtocolViolation(AUTHENTICATION_FAILED, "confirmD did not verify")
        self._out += frame(RESUME_FINISH, keys.confirm_h)
        self._start_session(keys.session_root, "resumed")
        self._flush_pending()


@dataclass(frozen=True)
class ResumeKeys:
    confirm_d: bytes
    confirm_h: bytes
    session_root: bytes


def resume_keys(bond_secret, request_body, y_encoded, shared_point):
    """§8.2 from the ResumeRequest body, Y as sent, and x·Y = y·X."""
    dh = shared_point[0].to_bytes(32, "big")
    th = sha256(request_body + y_encoded)
    prk = hkdf_extract(bond_secret, dh)
    k_confirm_d = hkdf_expand(prk, b"blepake/1 resume device" + th, 32)
    k_confirm_h = hkdf_expand(prk, b"blepake/1 resume host" + th, 32)
    return ResumeKeys(hmac_sha256(k_confirm_d, th), hmac_sha256(k_confirm_h, th),
                      hkdf_expand(prk, b"blepake/1 resume session" + th, 32))


# --- device -------------------------------------------------------------------------------------

class StorageError(Exception):
    """A storage operation failed and reported it; the device goes on (§10)."""


class PowerCut(Exception):
    """The power failed during a write: the device stops here and boots again."""


class MemoryFlash:
    """The device's persistent store (§10 "Storage"): small values in named slots, in memory.

    `fail_writes` makes writes fail with an error, each slot keeping its old value.
    `cut_power(after, leaves)` cuts the power during the write that follows `after` more writes:
    that write leaves its slot holding "old", "new", "nothing" or a "prefix" of the new value,
    exactly the outcomes the storage contract allows, and raises PowerCut."""

    def __init__(self):
        self.values = {}
        self.fail_writes = False
        self._cut = None

    def read(self, slot):
        return self.values.get(slot)

    def cut_power(self, after, leaves):
        self._cut = [after, leaves]

    def write(self, slot, value):
        if self.fail_writes:
            raise StorageError("write failed")
        if self._cut is not None:
            if self._cut[0] > 0:
                self._cut[0] -= 1
            else:
                leaves, self._cut = self._cut[1], None
                if leaves == "nothing":
                    self.values.pop(slot, None)
                elif leaves == "prefix":
                    self.values[slot] = value[:len(value) // 2]
                elif leaves == "new":
                    self.values[slot] = value
                raise PowerCut(slot)
        self.values[slot] = value

    def delete(self, slot):
        self.values.pop(slot, None)


@dataclass
class DevicePolicy:
    """§10 parameters, seconds for times; and the bond table's size (§8.1)."""
    max_failures: int = 10
    free_attempts: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    request_timeout: float = 10.0
    handshake_timeout: float = 30.0
    pairing_window: float = 300.0
    max_bonds: int = 8
    keep_bonds: bool = True


# Slots and value layouts of §10 "Storage"; every value ends with a checksum.
COUNTER_SLOTS = ("counter 0", "counter 1")
STORED_FORMAT = 0x02
COUNTER_LEN = 11
STORED_BOND_LEN = 49
REPLAY_MEMORY = 8


def bond_slot(index):
    return f"bond {index}"


def with_checksum(value):
    return value + sha256(value)[:4]


def is_complete(value, length):
    """A stored value of the right length and format whose checksum matches."""
    return (value is not None and len(value) == length and value[0] == STORED_FORMAT
            and sha256(value[:-4])[:4] == value[-4:])


def encode_counter(sequence, failures):
    return with_checksum(bytes([STORED_FORMAT]) + struct.pack("<IH", sequence, failures))


def encode_stored_bond(host_id, sequence, bond_secret):
    return with_checksum(bytes([STORED_FORMAT]) + host_id + struct.pack("<I", sequence)
                         + bond_secret)


@dataclass(frozen=True)
class StoredBond:
    slot: int
    host_id: bytes
    sequence: int
    bond_secret: bytes


class Device:
    """One device: its record, persistent store, attempt counter, bond table, pairing window,
    handshake lock and replay memory (§10, §14)."""

    def __init__(self, record, flash=None, policy=None, clock=time.monotonic):
        self.record = record
        self.flash = flash if flash is not None else MemoryFlash()
        self.policy = policy or DevicePolicy()
        self.clock = clock
        self.failures, self._counter_sequence, self._counter_slot = self._load_counter()
        self.last_attempt = clock()  # §10.5: after a (re)boot, `last` is the boot time
        self._window_until = None
        self._lock_owner = None
        self._lock_expiry = 0.0
        self._answered_binders = collections.deque(maxlen=REPLAY_MEMORY)

    def connect(self, records_per_key=RECORDS_PER_KEY):
        """A new BLE connection to this device."""
        return DeviceConnection(self, records_per_key)

    # --- the count, in two copies ---

    def _load_counter(self):
        """(failures, sequence, slot) from the newest complete copy (§10 "Storage")."""
        complete, damaged = [], False
        for index, slot in enumerate(COUNTER_SLOTS):
            try:
                value = self.flash.read(slot)
            except StorageError:
                damaged = True
                continue
            if is_complete(value, COUNTER_LEN):
                sequence, failures = struct.unpack("<IH", value[1:7])
                complete.append((sequence, failures, index))
            elif value is not None:
                damaged = True
        if complete:
            sequence, failures, index = max(complete)
            return failures, sequence, index
        # Both empty: a new device. Only damage: locked, so that no fault gives a guess.
        return (self.policy.max_failures if damaged else 0), 0, 1

    def _write_count(self, failures):
        """Writes the slot that does not hold the newest complete copy; raises StorageError."""
        slot, sequence = 1 - self._counter_slot, self._counter_sequence + 1
        self.flash.write(COUNTER_SLOTS[slot], encode_counter(sequence, failures))
        self._counter_slot, self._counter_sequence = slot, sequence

    def count_attempt(self):
        """§10.2: raise the count and persist it before answering; False if the write failed
        (the raised count stays in memory)."""
        self.failures = min(self.failures + 1, 0xFFFF)
        self.last_attempt = self.clock()
        try:
            self._write_count(self.failures)
        except StorageError:
            return False
        return True

    def _clear_count(self):
        try:
            self._write_count(0)
        except StorageError:
            return  # §10.3: the session opens anyway; the count stays raised
        self.failures = 0

    def attempt_refusal(self):
        """§10.4-5: an alert (code, details) if a PairRequest may not be answered now."""
        p = self.policy
        if self.failures >= p.max_failures:
            return LOCKED, b""
        if self.failures >= p.free_attempts:
            wait = min(p.backoff_base * 2 ** (self.failures - p.free_attempts), p.backoff_max)
            remaining = self.last_attempt + wait - self.clock()
            if remaining > 0:
                return UNAVAILABLE, retry_after(remaining)
        return None

    # --- the pairing window ---

    def open_pairing_window(self):
        """A person pressed the button: clears the count and opens the window (§10.1, §10.3).
        Raises StorageError if the cleared count could not be written (the press did nothing)."""
        self._write_count(0)
        self.failures = 0
        self._window_until = self.clock() + self.policy.pairing_window

    def pairing_window_open(self):
        if not self.policy.keep_bonds or not self.bonds():
            return True  # a device without bonds is open
        return self._window_until is not None and self.clock() < self._window_until

    # --- bonds ---

    def bonds(self):
        """The complete bonds of the table; a damaged or unreadable slot reads as empty."""
        table = []
        for index in range(self.policy.max_bonds):
            try:
                value = self.flash.read(bond_slot(index))
            except StorageError:
                continue
            if is_complete(value, STORED_BOND_LEN):
                table.append(StoredBond(index, value[1:9], struct.unpack("<I", value[9:13])[0],
                                        value[13:45]))
        return table

    def bond_secret(self, host_id):
        return next((b.bond_secret for b in self.bonds() if b.host_id == host_id), None)

    def store_bond(self, host_id, bond_secret):
        """§8.1: over the same host's bond, else into a free slot, else over the oldest pairing's
        bond. Raises StorageError."""
        table = self.bonds()
        used = {b.slot for b in table}
        same = [b.slot for b in table if b.host_id == host_id]
        free = [i for i in range(self.policy.max_bonds) if i not in used]
        if same:
            slot = same[0]
        elif free:
            slot = free[0]
        else:
            slot = min(table, key=lambda b: b.sequence).slot
        sequence = max((b.sequence for b in table), default=0) + 1
        self.flash.write(bond_slot(slot), encode_stored_bond(host_id, sequence, bond_secret))

    def revoke_bond(self, host_id):
        for bond in self.bonds():
            if bond.host_id == host_id:
                self.flash.delete(bond_slot(bond.slot))

    def revoke_all_bonds(self):
        for index in range(self.policy.max_bonds):
            self.flash.delete(bond_slot(index))

    # --- RAM: the pairing lock and the replay memory ---

    def try_lock(self, conn):
        now = self.clock()
        if self._lock_owner not in (None, conn) and now < self._lock_expiry:
            return False
        self._lock_owner = conn
        self._lock_expiry = now + self.policy.handshake_timeout
        return True

    def lock_retry_after(self):
        return retry_after(self._lock_expiry - self.clock())

    def unlock(self, conn):
        if self._lock_owner is conn:
            self._lock_owner = None

    def answered_lately(self, binder):
        return binder in self._answered_binders

    def remember_answered(self, binder):
        self._answered_binders.append(binder)

    def pairing_succeeded(self, host_id, bond_secret):
        """§12: clear the count, close the window, store the bond; True if the bond was kept."""
        self._clear_count()
        self._window_until = None
        if not self.policy.keep_bonds:
            return False
        try:
            self.store_bond(host_id, bond_secret)
        except StorageError:
            return False  # §8.1: the pairing succeeds without a bond
        return True


def retry_after(seconds):
    """Seconds rounded up (§10.5-6), at least 1."""
    return struct.pack("<H", min(max(math.ceil(seconds), 1), 0xFFFF))


IDLE = "idle"
AWAIT_PAIR_CONFIRM = "await_pair_confirm"
AWAIT_RESUME_FINISH = "await_resume_finish"


class DeviceConnection(Connection):
    role = "device"
    expected = {IDLE: (PAIR_REQUEST, RESUME_REQUEST), AWAIT_PAIR_CONFIRM: (PAIR_CONFIRM,),
                AWAIT_RESUME_FINISH: (RESUME_FINISH,)}

    def __init__(self, device, records_per_key=RECORDS_PER_KEY):
        super().__init__(device.clock, device.policy.handshake_timeout, records_per_key)
        self.device = device
        self.state = IDLE
        self.deadline = self.clock() + device.policy.request_timeout  # §10.7

    def _handle_handshake(self, frame_type, body):
        handler = {PAIR_REQUEST: self._on_pair_request, RESUME_REQUEST: self._on_resume_request,
                   PAIR_CONFIRM: self._on_pair_confirm, RESUME_FINISH: self._on_resume_finish}
        handler[frame_type](body)

    def _check_request_header(self, body, version_1_length):
        """The checks common to PairRequest and ResumeRequest: the version rule (§11) before
        anything else of the request, whose layout depends on the version; then the version 1
        length and the device_id."""
        version, supported = body[0], body[1]
        common = supported & SUPPORTED_VERSIONS
        if common == 0 or version != common.bit_length():
            raise ProtocolViolation(UNSUPPORTED_VERSION, details=bytes([SUPPORTED_VERSIONS]))
        if len(body) != version_1_length:
            raise ProtocolViolation(PROTOCOL_ERROR, "request length")
        if body[2:10] != self.device.record.device_id:
            raise ProtocolViolation(UNKNOWN_DEVICE)

    def _answer(self, state, response):
        self._out += response
        self.state = state
        self.deadline = self.clock() + self.handshake_timeout

    def _on_pair_request(self, body):
        """§6.3's checks in order; none of the refusals counts or multiplies."""
        record = self.device.record
        self._check_request_header(body, 59)
        if not self.device.pairing_window_open():
            raise ProtocolViolation(PAIRING_CLOSED)
        share_p = decode_compressed(body[26:59])
        if share_p is None:
            raise ProtocolViolation(PROTOCOL_ERROR, "shareP does not decode")
        refusal = self.device.attempt_refusal()
        if refusal is not None:
            raise ProtocolViolation(refusal[0], details=refusal[1])
        if not self.device.try_lock(self):
            raise ProtocolViolation(UNAVAILABLE, details=self.device.lock_retry_after())
        if not self.device.count_attempt():
            raise ProtocolViolation(INTERNAL, "could not store the attempt count")
        unblinded = point_sub(share_p, record.w0M)
        if unblinded is None:
            raise ProtocolViolation(PROTOCOL_ERROR, "shareP - w0·M is the identity")
        self._host_id = body[10:18]
        y = random_scalar()
        share_v = point_add(base_mult(y), record.w0N)
        context = pairing_context(body[0], body[1], record.kdf_params, body[18:26])
        keys = spake2plus_keys(context, self._host_id, record.device_id, share_p, share_v,
                               scalar_mult(y, unblinded), scalar_mult(y, record.L), record.w0)
        self._expected_confirm = keys.confirm_p
        self._root = keys.k_shared
        self._answer(AWAIT_PAIR_CONFIRM,
                     frame(PAIR_RESPONSE, encode_compressed(share_v) + keys.confirm_v))

    def _on_pair_confirm(self, body):
        if not hmac.compare_digest(self._expected_confirm, body):
            # Records that followed in the same write are discarded: input stops at the failure.
            raise ProtocolViolation(AUTHENTICATION_FAILED, "confirmP did not verify")
        self.device.unlock(self)
        self._start_session(self._root, "paired")
        bond_secret = hkdf_expand(self._root, b"blepake/1 bond", 32)
        if self.device.pairing_succeeded(self._host_id, bond_secret):
            self._events.append(("bonded", HostBond(self.device.record.device_id, self._host_id,
                                                    bond_secret)))
        self._flush_pending()

    def _on_resume_request(self, body):
        """§8.2's checks in order; resumes take no lock."""
        self._check_request_header(body, 67)
        x_point = decode_compressed(body[18:51])
        if x_point is None:
            raise ProtocolViolation(PROTOCOL_ERROR, "X does not decode")
        bond_secret = self.device.bond_secret(body[10:18])
        if bond_secret is None:
            raise ProtocolViolation(RESUME_REJECTED, "no bond")
        binder = body[51:]
        binder_key = hkdf_expand(bond_secret, b"blepake/1 binder", 32)
        if not hmac.compare_digest(hmac_sha256(binder_key, body[:51])[:16], binder):
            raise ProtocolViolation(RESUME_REJECTED, "wrong binder")
        if self.device.answered_lately(binder):
            raise ProtocolViolation(RESUME_REJECTED, "replayed request")
        self.device.remember_answered(binder)
        y = random_scalar()
        y_encoded = encode_compressed(base_mult(y))
        keys = resume_keys(bond_secret, body, y_encoded, scalar_mult(y, x_point))
        self._expected_confirm = keys.confirm_h
        self._root = keys.session_root
        self._answer(AWAIT_RESUME_FINISH, frame(RESUME_RESPONSE, y_encoded + keys.confirm_d))

    def _on_resume_finish(self, body):
        if not hmac.compare_digest(self._expected_confirm, body):
            raise ProtocolViolation(AUTHENTICATION_FAILED, "confirmH did not verify")
        self._start_session(self._root, "resumed")
        self._flush_pending()

    def _on_end(self):
        super()._on_end()
        self.device.unlock(self)


# ---------------------------------------------------------------------------------------------
# UART framing (§16): COBS frames with a CRC-16, standing in for GATT
# ---------------------------------------------------------------------------------------------

UART_OPEN, UART_CLOSE, UART_READ_SETUP_INFO, UART_SETUP_INFO = 0x01, 0x02, 0x03, 0x04
UART_SUBSCRIBE, UART_INBOUND, UART_OUTBOUND = 0x05, 0x06, 0x07
UART_BOARD_FIRST, UART_BOARD_LAST = 0x70, 0x7F
UART_MAX_PAYLOAD = 244  # an ATT MTU of 247 less 3
# Type, payload and CRC are at most 247 bytes, which COBS makes 248 (one code byte per run of up
# to 254), 249 with the delimiter (§16.1).
UART_MAX_FRAME = 249
UART_SETUP_INFO_LEN = 32
# The payloads a sender puts in each type (§16.2). A receiver checks only the type: it ignores
# the payload of a type whose payload is empty, and a host checks the Setup Info as §4.3 says.
UART_PAYLOAD_LENGTHS = {
    UART_OPEN: (0, 0), UART_CLOSE: (0, 0), UART_READ_SETUP_INFO: (0, 0),
    UART_SETUP_INFO: (UART_SETUP_INFO_LEN, UART_SETUP_INFO_LEN), UART_SUBSCRIBE: (0, 0),
    UART_INBOUND: (0, UART_MAX_PAYLOAD), UART_OUTBOUND: (0, UART_MAX_PAYLOAD),
} | {board: (0, UART_MAX_PAYLOAD) for board in range(UART_BOARD_FIRST, UART_BOARD_LAST + 1)}


def crc16_ibm3740(data):
    """CRC-16/IBM-3740: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR; the
    standard library's crc_hqx is exactly this CRC when started at 0xFFFF."""
    return binascii.crc_hqx(data, 0xFFFF)


# COBS is written out here rather than taken from a package: this reference implements every
# wire format from the text itself, so that a reading of the text, not a library's, is tested.
def cobs_encode(data):
    """COBS (Cheshire and Baker, 1999): each run of up to 254 non-zero bytes gets a code byte,
    its length + 1; a full run (code 0xFF) implies no zero after it. No delimiter."""
    out = bytearray()
    runs = bytes(data).split(b"\x00")
    for index, run in enumerate(runs):
        while len(run) >= 254:
            out += b"\xff" + run[:254]
            run = run[254:]
            if not run and index == len(runs) - 1:
                return bytes(out)  # a final full run needs no empty code after it
        out += bytes([len(run) + 1]) + run
    return bytes(out)


def cobs_decode(encoded):
    """The inverse of cobs_encode; raises ValueError when `encoded` is no COBS encoding."""
    out = bytearray()
    index = 0
    while index < len(encoded):
        code = encoded[index]
        run = encoded[index + 1:index + code]
        if code == 0 or len(run) != code - 1 or 0 in run:
            raise ValueError("not a COBS encoding")
        out += run
        index += code
        if code != 0xFF and index < len(encoded):
            out.append(0)
    return bytes(out)


def encode_uart_frame(frame_type, payload=b""):
    """One frame on the line: COBS(type || payload || crc, big-endian) || 0x00 (§16.1)."""
    low, high = UART_PAYLOAD_LENGTHS[frame_type]
    if not low <= len(payload) <= high:
        raise ValueError(f"a payload of {len(payload)} bytes for UART frame type {frame_type:#x}")
    body = bytes([frame_type]) + bytes(payload)
    return cobs_encode(body + struct.pack(">H", crc16_ibm3740(body))) + b"\x00"


class UartReceiver:
    """Cuts the line into frames at each 0x00 and drops, without answer, every frame §16.1 says
    to drop; holds at most one frame's bytes, however long the input runs without a 0x00."""

    def __init__(self):
        self._frame = bytearray()
        self._overlong = False
        self.dropped = 0  # frames dropped (a count for tests and logs)

    @property
    def held(self):
        """How many bytes of an unfinished frame it holds."""
        return len(self._frame)

    def feed(self, data):
        """Returns the (type, payload) of each good frame that `data` completes."""
        frames = []
        for byte in data:
            if byte != 0:
                if len(self._frame) == UART_MAX_FRAME - 1:  # the delimiter would be one past
                    self._overlong = True
                    self._frame.clear()
                if not self._overlong:
                    self._frame.append(byte)
                continue
            encoded, overlong = bytes(self._frame), self._overlong
            self._frame.clear()
            self._overlong = False
            if not encoded and not overlong:
                continue  # an empty frame: ignored, not counted
            decoded = self._decode(encoded) if not overlong else None
            if decoded is None:
                self.dropped += 1
            else:
                frames.append(decoded)
        return frames

    @staticmethod
    def _decode(encoded):
        try:
            raw = cobs_decode(encoded)
        except ValueError:
            return None
        if len(raw) < 3 or crc16_ibm3740(raw[:-2]) != struct.unpack(">H", raw[-2:])[0]:
            return None
        if raw[0] not in UART_PAYLOAD_LENGTHS:
            return None
        return raw[0], raw[1:-2]


def uart_values(frame_type, stream_bytes):
    """Stream bytes as Inbound or Outbound frames of at most 244 bytes each (§16.2)."""
    return b"".join(encode_uart_frame(frame_type, stream_bytes[i:i + UART_MAX_PAYLOAD])
                    for i in range(0, len(stream_bytes), UART_MAX_PAYLOAD))


class UartHostLink:
    """The host's end of one link over the line (§16.2), sans-IO: `receive` takes line bytes,
    `take_output` gives line bytes. It opens the link at once; `read_setup_info` asks for the
    Setup Info (a host with only the code needs it to pair), `start` runs a HostConnection."""

    def __init__(self):
        self._receiver = UartReceiver()
        self._out = bytearray(encode_uart_frame(UART_OPEN))
        self.conn = None
        self.setup_info = None  # the SetupInfo answer, once it came (raw bytes)
        self.closed_by_device = False
        self.closed = False

    def read_setup_info(self):
        self._out += encode_uart_frame(UART_READ_SETUP_INFO)

    def start(self, conn):
        """Subscribes, then carries `conn`'s stream as Inbound values (§2: Subscribe first)."""
        self.conn = conn
        self._out += encode_uart_frame(UART_SUBSCRIBE)

    def board(self, command, payload=b""):
        """A board frame (0x70 + command) for the device's firmware, e.g. its button."""
        self._out += encode_uart_frame(UART_BOARD_FIRST + command, payload)

    def close(self):
        """Ends the link (after a Control Close, or to drop a handshake)."""
        if not self.closed:
            self._out += self._stream_output() + encode_uart_frame(UART_CLOSE)
            self.closed = True

    def receive(self, data):
        for frame_type, payload in self._receiver.feed(data):
            if self.closed:
                return
            if frame_type == UART_SETUP_INFO:
                self.setup_info = payload
            elif frame_type == UART_OUTBOUND and self.conn is not None:
                self.conn.receive(payload)
            elif frame_type == UART_CLOSE:
                # The device dropped the link: to the connection, a lost link (§7.4), unless
                # its session had ended already.
                self.closed_by_device = self.closed = True
                if self.conn is not None:
                    self.conn.link_lost()
            # §16.2: frames of the other direction's types are ignored, and so is an
            # Outbound before start (the device sends none before Subscribe).

    def take_output(self):
        out = bytes(self._out) + (self._stream_output() if not self.closed else b"")
        self._out = bytearray()
        return out

    def _stream_output(self):
        return uart_values(UART_INBOUND, self.conn.take_output()) if self.conn else b""


class UartDeviceLink:
    """The device's end of the line (§16.2), sans-IO, for one Device: one link at a time, a new
    Open replacing the old one (its connection sees the link lost)."""

    def __init__(self, device):
        self.device = device
        self._receiver = UartReceiver()
        self._out = bytearray()
        self.conn = None
        self._subscribed = False
        self.board_frames = []  # (command, payload) of board frames, which blepake ignores

    def receive(self, data):
        for frame_type, payload in self._receiver.feed(data):
            if frame_type == UART_OPEN:
                if self.conn is not None:
                    self.conn.link_lost()
                self.conn, self._subscribed = self.device.connect(), False
            elif frame_type == UART_READ_SETUP_INFO:
                info = SetupInfo(self.device.record.device_id, self.device.record.kdf_params)
                self._out += encode_uart_frame(UART_SETUP_INFO, info.encode())
            elif UART_BOARD_FIRST <= frame_type <= UART_BOARD_LAST:
                self.board_frames.append((frame_type - UART_BOARD_FIRST, payload))
            # §16.2: Subscribe, Inbound and Close without a link open are ignored, and so are
            # the device's own types.
            elif self.conn is None:
                continue
            elif frame_type == UART_SUBSCRIBE:
                self._subscribed = True
            elif frame_type == UART_INBOUND:
                self.conn.receive(payload)
            elif frame_type == UART_CLOSE:
                self.conn.link_lost()
                self.conn = None
            self._flush()

    def take_output(self):
        self._flush()
        out, self._out = bytes(self._out), bytearray()
        return out

    def _flush(self):
        """Sends the stream once subscribed; after a session ends, its last values (lost if the
        host never subscribed, as notifications are), then Close, and forgets the link (§16.2)."""
        if self.conn is None:
            return
        if self._subscribed:
            self._out += uart_values(UART_OUTBOUND, self.conn.take_output())
        if self.conn.ended:
            self._out += encode_uart_frame(UART_CLOSE)
            self.conn = None


# ---------------------------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------------------------

# RFC 9383 Appendix C, P256-SHA256-HKDF-SHA256-HMAC-SHA256 (external values, not computed here).
RFC9383_P256 = {
    "context": b"SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256 Test Vectors",
    "id_prover": b"client",
    "id_verifier": b"server",
    "w0": "bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3",
    "w1": "7e945f34d78785b8a3ef44d0df5a1a97d6b3b460409a345ca7830387a74b1dba",
    "L": "04eb7c9db3d9a9eb1f8adab81b5794c1f13ae3e225efbe91ea487425854c7fc00f00bfedcbd09b2400142d40a"
         "14f2064ef31dfaa903b91d1faea7093d835966efd",
    "x": "d1232c8e8693d02368976c174e2088851b8365d0d79a9eee709c6a05a2fad539",
    "shareP": "04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1de127727f418b5966a"
              "fadfdd95a6e4591d171056b333dab97a79c7193e341727",
    "y": "717a72348a182085109c8d3917d6c43d59b224dc6a7fc4f0483232fa6516d8b3",
    "shareV": "04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb5cc1ca7494db39e82f"
              "f2f50665255d76173e09986ab46742c798a9a68437b048",
    "Z": "04bbfce7dd7f277819c8da21544afb7964705569bdf12fb92aa388059408d50091a0c5f1d3127f56813b5337f"
         "9e4e67e2ca633117a4fbd559946ab474356c41839",
    "V": "0458bf27c6bca011c9ce1930e8984a797a3419797b936629a5a937cf2f11c8b9514b82b993da8a46e664f23db"
         "7c01edc87faa530db01c2ee405230b18997f16b68",
    "K_main": "4c59e1ccf2cfb961aa31bd9434478a1089b56cd11542f53d3576fb6c2a438a29",
    "K_confirmP": "871ae3f7b78445e34438fb284504240239031c39d80ac23eb5ab9be5ad6db58a",
    "K_confirmV": "ccd53c7c1fa37b64a462b40db8be101cedcf838950162902054e644b400f1680",
    "confirmP": "926cc713504b9b4d76c9162ded04b5493e89109f6d89462cd33adc46fda27527",
    "confirmV": "9747bcc4f8fe9f63defee53ac9b07876d907d55047e6ff2def2e7529089d3e68",
    "K_shared": "0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7",
}
RFC9383_TT_LENGTH = 570


class SelfTest:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition, name):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {name}")


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def pump(a, b, rng, max_chunk=20):
    """Moves bytes both ways, cut into random pieces, until neither side has output."""
    while True:
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.take_output()
            moved |= bool(data)
            while data:
                cut = rng.randint(1, max_chunk)
                dst.receive(data[:cut])
                data = data[cut:]
        if not moved:
            return


def events_of(conn, kind):
    return [e for e in conn.take_events() if e[0] == kind]


def test_rfc9383_vector(t):
    v = {k: bytes.fromhex(x) if isinstance(x, str) else x for k, x in RFC9383_P256.items()}
    w0, w1 = int.from_bytes(v["w0"], "big"), int.from_bytes(v["w1"], "big")
    x, y = int.from_bytes(v["x"], "big"), int.from_bytes(v["y"], "big")
    t.check(encode_uncompressed(base_mult(w1)) == v["L"], "RFC 9383: L = w1·P")
    share_p = point_add(base_mult(x), scalar_mult(w0, SPAKE_M))
    share_v = point_add(base_mult(y), scalar_mult(w0, SPAKE_N))
    t.check(encode_uncompressed(share_p) == v["shareP"], "RFC 9383: shareP")
    t.check(encode_uncompressed(share_v) == v["shareV"], "RFC 9383: shareV")
    z_verifier = scalar_mult(y, point_sub(share_p, scalar_mult(w0, SPAKE_M)))
    v_verifier = scalar_mult(y, decode_uncompressed(v["L"]))
    unblinded = point_sub(share_v, scalar_mult(w0, SPAKE_N))
    z_prover, v_prover = scalar_mult(x, unblinded), scalar_mult(w1, unblinded)
    t.check(encode_uncompressed(z_verifier) == v["Z"] == encode_uncompressed(z_prover),
            "RFC 9383: Z on both sides")
    t.check(encode_uncompressed(v_verifier) == v["V"] == encode_uncompressed(v_prover),
            "RFC 9383: V on both sides")
    keys = spake2plus_keys(v["context"], v["id_prover"], v["id_verifier"], share_p, share_v,
                           z_prover, v_prover, w0)
    t.check(len(keys.transcript) == RFC9383_TT_LENGTH, "RFC 9383: TT length")
    for name, value in (("K_main", keys.k_main), ("K_confirmP", keys.k_confirm_p),
                        ("K_confirmV", keys.k_confirm_v), ("confirmP", keys.confirm_p),
                        ("confirmV", keys.confirm_v), ("K_shared", keys.k_shared)):
        t.check(value == v[name], f"RFC 9383: {name}")


def test_points(t):
    t.check(scalar_mult(P256_N, P256_G) is None, "n·G is the identity")
    t.check(on_curve(SPAKE_M) and on_curve(SPAKE_N), "M and N are on the curve")
    k = random_scalar()
    point = base_mult(k)
    t.check(decode_compressed(encode_compressed(point)) == point, "compressed round trip")
    t.check(decode_uncompressed(encode_uncompressed(point)) == point, "uncompressed round trip")
    t.check(point_add(point, point_neg(point)) is None, "P + (-P) is the identity")
    t.check(scalar_mult(k + 1, P256_G) == point_add(point, P256_G), "(k+1)·G = k·G + G")
    good = encode_compressed(point)
    t.check(decode_compressed(b"\x04" + good[1:]) is None, "compressed: wrong prefix refused")
    t.check(decode_compressed(b"\x02" + P256_P.to_bytes(32, "big")) is None,
            "compressed: x >= p refused")
    off_curve = next(x for x in range(1, 100) if decode_compressed(b"\x02" + x.to_bytes(32, "big"))
                     is None)
    t.check(off_curve > 0, "compressed: an x with no point is refused")
    bad = bytearray(encode_uncompressed(point))
    bad[-1] ^= 1
    t.check(decode_uncompressed(bytes(bad)) is None, "uncompressed: off-curve point refused")


def test_codes(t):
    # PROTOCOL.md §4.1 / §4.2 examples.
    for code in ("00000000", "99999999", "12345678", "87654321", "89012345", "10987654",
                 "12121212", "12341234"):
        t.check(is_trivial_code(code), f"trivial code {code}")
    t.check(not is_trivial_code("31415926"), "31415926 is not trivial")
    t.check(not is_trivial_code("12323454"), "a run that changes direction is not trivial")
    t.check(format_manual_code("31415926") == "314-159-266", "Damm example of §4.2")
    for typed in ("314-159-266", "314 159-266", "31415926 6", "3-1-4-1-5-9-2-6-6", "31415926"):
        t.check(parse_manual_code(typed) == "31415926", f"manual code {typed!r} parses")
    for typed in ("314-159-267", "314_159_266", "314-159-2", "３14-159-266", "123-456-789"):
        t.check(refuses(parse_manual_code, typed), f"manual code {typed!r} refused")
    rng = random.Random(1)
    single_errors = transpositions = 0
    for _ in range(300):
        nine = format_manual_code(f"{rng.randrange(10 ** 8):08d}").replace("-", "")
        i = rng.randrange(9)
        wrong = nine[:i] + str((int(nine[i]) + rng.randrange(1, 10)) % 10) + nine[i + 1:]
        single_errors += damm_interim(wrong) != 0
        j = rng.randrange(8)
        if nine[j] != nine[j + 1]:
            swapped = nine[:j] + nine[j + 1] + nine[j] + nine[j + 2:]
            transpositions += damm_interim(swapped) == 0
    t.check(single_errors == 300, "Damm detects single-digit errors")
    t.check(transpositions == 0, "Damm detects adjacent transpositions")


def test_base45(t):
    # RFC 9285 §4.3 and §4.4 examples.
    for raw, text in ((b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
                      (b"ietf!", "QED8WEX0")):
        t.check(base45_encode(raw) == text, f"Base45 encode {raw!r}")
        t.check(base45_decode(text) == raw, f"Base45 decode {text!r}")
    for bad in ("GGW", "A", "ab"):
        t.check(refuses(base45_decode, bad), f"Base45 refuses {bad!r}")


def refuses(function, *args, error=InvalidInput):
    try:
        function(*args)
    except error:
        return True
    return False


def test_setup_payloads(t):
    info = SetupInfo(bytes(range(8)), KdfParams(65536, 3, 4, bytes(range(16, 32))))
    code = Password(code="31415926")
    text = encode_qr_payload(info, code)
    t.check(len(text) == 57, "QR payload is 57 characters")
    t.check(all(c in BASE45_ALPHABET for c in text), "QR payload is QR alphanumeric")
    t.check(parse_qr_payload(text) == (info, code), "QR payload round trip")
    t.check(refuses(parse_qr_payload, "bp:" + text[3:]), "QR: wrong prefix refused")
    t.check(refuses(parse_qr_payload, " " + text[:-1]), "QR: nothing is trimmed")
    t.check(refuses(parse_qr_payload, text[:-3]), "QR: wrong length refused")
    t.check(refuses(parse_qr_payload, encode_qr_payload(info, Password(code="12345678"))),
            "QR: trivial code")
    raw = info.encode() + struct.pack("<I", 10 ** 8)
    t.check(refuses(parse_qr_payload, QR_PREFIX + base45_encode(raw)), "QR: code out of range")
    for m, it, p in ((65536, 3, 0), (65536, 33, 4), (31, 1, 4), (1048577, 1, 1), (64, 1, 17)):
        bad = SetupInfo(info.device_id, KdfParams(m, it, p, info.kdf_params.salt))
        t.check(refuses(parse_qr_payload, encode_qr_payload(bad, code)),
                f"QR: parameters m={m} t={it} p={p} refused")
    t.check(len(info.encode()) == 32, "Setup Info is 32 bytes")

    secret_info = SetupInfo(info.device_id, KdfParams.for_qr_secret(bytes(16)))
    secret = Password(qr_secret=bytes(range(100, 116)))
    secret_text = encode_qr_payload(secret_info, secret)
    t.check(len(secret_text) == 75, "QR payload with a secret is 75 characters")
    t.check(parse_qr_payload(secret_text) == (secret_info, secret), "QR secret round trip")
    t.check(refuses(parse_qr_payload, encode_qr_payload(secret_info, code)),
            "QR: a code with HKDF parameters refused")
    t.check(refuses(parse_qr_payload, encode_qr_payload(info, secret)),
            "QR: a secret with Argon2id parameters refused")
    for m, it, p in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
        bad = SetupInfo(info.device_id, KdfParams(m, it, p, bytes(16), algorithm=KDF_HKDF))
        t.check(refuses(SetupInfo.decode, bad.encode()), f"HKDF with m={m} t={it} p={p} refused")
    unknown = SetupInfo(info.device_id, KdfParams(0, 0, 0, bytes(16), algorithm=3))
    t.check(refuses(SetupInfo.decode, unknown.encode()), "Setup Info: algorithm 3 refused")
    t.check(refuses(derive_w0_w1, code, secret_info.device_id, secret_info.kdf_params),
            "a code is not derived with HKDF")
    t.check(refuses(derive_w0_w1, secret, info.device_id, info.kdf_params),
            "a QR secret is not derived with Argon2id")


@dataclass
class Fixture:
    """A provisioned device and what a host needs to pair with it."""
    password: Password
    info: SetupInfo
    record: DeviceRecord
    w0_w1: tuple

    @classmethod
    def provision(cls, **kwargs):
        password, info, record = provision(**kwargs)
        w0_w1 = derive_w0_w1(password, info.device_id, info.kdf_params)
        return cls(password, info, record, w0_w1)

    def host(self, clock, password=None, **kwargs):
        w0_w1 = None if password is not None else self.w0_w1
        return HostConnection.pair(password or self.password, self.info, w0_w1=w0_w1,
                                   clock=clock, **kwargs)


def test_provisioning(t, f):
    w0, w1 = f.w0_w1
    t.check(len(f.record.encode()) == 163, "device record is 163 bytes")
    t.check(DeviceRecord.decode(f.record.encode()) == f.record, "device record round trip")
    t.check(f.record.w0 == w0 and f.record.L == base_mult(w1), "record holds w0 and L = w1·P")
    t.check(w0 != derive_w0_w1(f.password, os.urandom(8), f.info.kdf_params)[0],
            "w0 depends on device_id")
    for name, offset, value in (("w0 = 0", 32, bytes(32)),
                                ("w0 = n", 32, P256_N.to_bytes(32, "big")),
                                ("a bad point", 64, b"\x05"), ("format 2", 0, b"\x02"),
                                ("iterations 0", 14, b"\x00"), ("algorithm 3", 9, b"\x03")):
        bad = bytearray(f.record.encode())
        bad[offset:offset + len(value)] = value
        t.check(refuses(DeviceRecord.decode, bytes(bad)), f"record with {name} refused")


def test_qr_secret(t, rng):
    f = Fixture.provision(qr_secret=True)
    t.check(f.info.kdf_params.algorithm == KDF_HKDF and len(f.password.qr_secret) == 16,
            "provisioned with a QR secret and HKDF")
    text = encode_qr_payload(f.info, f.password)
    t.check(parse_qr_payload(text) == (f.info, f.password), "its payload round-trips")
    info_bytes = f.info.encode()
    t.check(info_bytes[10:16] == bytes(6) and info_bytes[9] == KDF_HKDF,
            "HKDF parameters are zero in the Setup Info")
    host, dconn = pair(Device(f.record, clock=FakeClock()), f, rng, password=f.password)
    t.check(host.state == OPEN and dconn.state == OPEN, "pairing from a QR secret")
    wrong = Password(qr_secret=os.urandom(16))
    host, dconn = pair(Device(f.record, clock=FakeClock()), f, rng, password=wrong)
    t.check(host.state == FAILED and events_of(host, "failed") ==
            [("failed", "sent:AuthenticationFailed")], "a wrong QR secret fails")


def pair(device, f, rng, host_messages=(), device_messages=(), **host_kwargs):
    host = f.host(device.clock, **host_kwargs)
    dconn = device.connect()
    for message in host_messages:
        host.send(message)
    for message in device_messages:
        dconn.send(message)
    pump(host, dconn, rng)
    return host, dconn


def count_of(device):
    """The count a reboot would read from flash."""
    return Device(device.record, flash=device.flash, policy=device.policy,
                  clock=device.clock).failures


def test_pairing_and_records(t, f, rng):
    device = Device(f.record, clock=FakeClock())
    host, dconn = pair(device, f, rng, host_messages=[b"early", b""],
                       device_messages=[b"hello host"])
    h_events, d_events = host.take_events(), dconn.take_events()
    t.check(("connected", "paired") in h_events and ("connected", "paired") in d_events,
            "pairing opens both sides")
    h_bond = [e for e in h_events if e[0] == "bonded"]
    d_bond = [e for e in d_events if e[0] == "bonded"]
    t.check(len(h_bond) == 1 and h_bond == d_bond, "both sides derive the same bond")
    t.check([e[1] for e in d_events if e[0] == "message"] == [b"early", b""],
            "0.5-RTT host messages arrive in order, the empty one too")
    t.check([e[1] for e in h_events if e[0] == "message"] == [b"hello host"],
            "device message queued before Open arrives")
    t.check(device.failures == 0 and count_of(device) == 0, "a verified pairing clears the count")

    messages = [os.urandom(rng.randrange(MAX_MESSAGE + 1)) for _ in range(20)] + [bytes(512)]
    for message in messages:
        host.send(message)
    host.key_update()
    host.send(b"after update")
    dconn.send(b"reply")
    pump(host, dconn, rng, max_chunk=300)
    got = [e[1] for e in events_of(dconn, "message")]
    t.check(got == messages + [b"after update"], "H2D messages across a key update")
    t.check([e[1] for e in events_of(host, "message")] == [b"reply"], "D2H message")

    host.close(7)
    wire = host.take_output()
    dconn.receive(wire + frame(ALERT, bytes([PROTOCOL_ERROR])))
    t.check(host.state == CLOSED and dconn.state == CLOSED, "Close ends both sides")
    t.check(events_of(dconn, "closed") == [("closed", True, 7)] and not dconn.take_output(),
            "Close reason delivered; bytes after it ignored")
    bond = h_bond[0][1]
    t.check(HostBond.decode(bond.encode()) == bond and len(bond.encode()) == 49,
            "a bond's bytes are 49 and round-trip")
    t.check(refuses(HostBond.decode, b"\x02" + bond.encode()[1:]), "a bond of format 2 refused")
    return bond


def test_automatic_key_update(t, f, rng):
    device = Device(f.record, clock=FakeClock())
    host = f.host(device.clock, records_per_key=4)
    dconn = device.connect(records_per_key=4)
    pump(host, dconn, rng)
    messages = [bytes([i]) * i for i in range(13)]
    for message in messages:
        host.send(message)
    wire = host.take_output()
    offset, control_records = 0, 0
    while offset < len(wire):
        control_records += wire[offset] >> 4 == CONTROL
        offset += 2 + ((wire[offset] & 0x0F) << 8 | wire[offset + 1])
    dconn.receive(wire)
    t.check([e[1] for e in events_of(dconn, "message")] == messages,
            "messages across automatic key updates")
    t.check(control_records == 4, "one KeyUpdate per 3 data records at 4 records per key")

    # A Close may be a key's last record (§7.3).
    for i in range(3):
        host.send(bytes([i]))
    host.close(1)
    dconn.receive(host.take_output())
    t.check(events_of(dconn, "closed") == [("closed", True, 1)], "a Close as a key's last record")

    # A sender that never updates: its 5th record under one key is refused by the receiver.
    device2 = Device(f.record, clock=FakeClock())
    host2 = f.host(device2.clock, records_per_key=100)
    dconn2 = device2.connect(records_per_key=4)
    pump(host2, dconn2, rng)
    for i in range(5):
        host2.send(bytes([i]))
    dconn2.receive(host2.take_output())
    events = dconn2.take_events()
    t.check(len([e for e in events if e[0] == "message"]) == 4 and dconn2.state == FAILED,
            "receiver refuses the record after the limit")
    t.check(dconn2.take_output() == frame(ALERT, bytes([PROTOCOL_ERROR])),
            "the refusal is a ProtocolError alert")


def resume(device, bond, rng):
    host = HostConnection.resume(bond, clock=device.clock)
    dconn = device.connect()
    pump(host, dconn, rng)
    return host, dconn


def test_resume(t, f, bond, rng):
    device = Device(f.record, clock=FakeClock())
    device.store_bond(bond.host_id, bond.bond_secret)
    host = HostConnection.resume(bond, clock=device.clock)
    host.send(b"0.5-RTT")
    request = host.take_output()
    dconn = device.connect()
    dconn.receive(request)
    host.receive(dconn.take_output())
    dconn.receive(host.take_output())
    t.check(("connected", "resumed") in host.take_events(), "resume opens the host")
    d_events = dconn.take_events()
    t.check(("connected", "resumed") in d_events and ("message", b"0.5-RTT") in d_events,
            "resume opens the device and delivers data after ResumeFinish")
    dconn.send(b"back")
    pump(host, dconn, rng)
    t.check(events_of(host, "message") == [("message", b"back")], "resumed D2H record")

    replay = device.connect()
    replay.receive(request)
    t.check(replay.take_output() == frame(ALERT, bytes([RESUME_REJECTED])),
            "a replayed ResumeRequest gets ResumeRejected")
    rebooted = Device(f.record, flash=device.flash, clock=device.clock)
    once = rebooted.connect()
    once.receive(request)
    t.check(once.take_output()[0] >> 4 == RESUME_RESPONSE,
            "after a reboot a recorded request is answered once (uselessly)")
    again = rebooted.connect()
    again.receive(request)
    t.check(again.take_output() == frame(ALERT, bytes([RESUME_REJECTED])), "and only once")
    for _ in range(REPLAY_MEMORY):
        resume(device, bond, rng)
    late = device.connect()
    late.receive(request)
    t.check(late.take_output()[0] >> 4 == RESUME_RESPONSE,
            "the replay memory holds the last 8 binders")

    stranger = HostBond(bond.device_id, os.urandom(8), bond.bond_secret)
    wrong_secret = HostBond(bond.device_id, bond.host_id, os.urandom(32))
    for name, other in (("unknown host_id", stranger), ("wrong binder", wrong_secret)):
        host, _ = resume(device, other, rng)
        t.check(events_of(host, "failed") == [("failed", "received:ResumeRejected")],
                f"resume refused: {name}")

    slot = device.bonds()[0].slot
    value = bytearray(device.flash.values[bond_slot(slot)])
    value[20] ^= 1
    device.flash.values[bond_slot(slot)] = bytes(value)
    host, _ = resume(device, bond, rng)
    t.check(events_of(host, "failed") == [("failed", "received:ResumeRejected")],
            "a damaged bond reads as absent")

    # A device impersonator without the bond secret fails confirmD.
    host = HostConnection.resume(bond, clock=device.clock)
    request = host.take_output()
    fake_y = encode_compressed(base_mult(random_scalar()))
    host.receive(frame(RESUME_RESPONSE, fake_y + os.urandom(32)))
    t.check(host.take_output() == frame(ALERT, bytes([AUTHENTICATION_FAILED]))
            and len(request) == 69, "host refuses a wrong confirmD with AuthenticationFailed")


def test_window_and_bonds(t, f, rng):
    clock = FakeClock()
    policy = DevicePolicy(max_bonds=3)
    device = Device(f.record, clock=clock, policy=policy)
    t.check(device.pairing_window_open(), "a device without bonds is open")
    first, _ = pair(device, f, rng)
    first_bond = events_of(first, "bonded")[0][1]
    t.check(not device.pairing_window_open(), "a successful pairing closes the window")

    host, _ = pair(device, f, rng)
    t.check(events_of(host, "failed") == [("failed", "received:PairingClosed")]
            and count_of(device) == 0, "PairingClosed outside the window, nothing counted")
    wrong, _ = pair(device, f, rng, password=Password(code="27182818"))
    t.check(events_of(wrong, "failed") == [("failed", "received:PairingClosed")],
            "a wrong code outside the window is not even tried")
    host, dconn = resume(device, first_bond, rng)
    t.check(host.state == OPEN, "bonded hosts resume while the window is closed")

    device.open_pairing_window()
    again, _ = pair(device, f, rng, previous_bond=first_bond)
    again_bond = events_of(again, "bonded")[0][1]
    t.check(again_bond.host_id == first_bond.host_id and len(device.bonds()) == 1,
            "pairing again with the old bond's host_id replaces that bond")
    host, _ = resume(device, first_bond, rng)
    t.check(events_of(host, "failed") == [("failed", "received:ResumeRejected")],
            "the replaced bond no longer resumes")

    bonds = [again_bond]
    for _ in range(3):
        device.open_pairing_window()
        host, _ = pair(device, f, rng)
        bonds.append(events_of(host, "bonded")[0][1])
    held = {b.host_id for b in device.bonds()}
    t.check(held == {b.host_id for b in bonds[1:]}, "a full table replaces the oldest pairing's bond")

    device.open_pairing_window()
    clock.now += policy.pairing_window
    host, _ = pair(device, f, rng)
    t.check(events_of(host, "failed") == [("failed", "received:PairingClosed")],
            "the window closes by itself")

    device.revoke_bond(bonds[1].host_id)
    host, _ = resume(device, bonds[1], rng)
    t.check(events_of(host, "failed") == [("failed", "received:ResumeRejected")],
            "a revoked bond no longer resumes")
    device.revoke_all_bonds()
    t.check(device.pairing_window_open() and not device.bonds(),
            "revoking every bond opens the window")

    keeper = Device(f.record, clock=clock, policy=DevicePolicy(keep_bonds=False))
    host, _ = pair(keeper, f, rng)
    t.check(host.state == OPEN and not keeper.bonds() and keeper.pairing_window_open(),
            "a device that keeps no bonds stays open")


def test_attempt_limits(t, f, rng):
    clock = FakeClock()
    policy = DevicePolicy()
    device = Device(f.record, clock=clock, policy=policy)
    wrong_code = Password(code="31415927" if f.password.code != "31415927" else "27182818")
    wrong_keys = derive_w0_w1(wrong_code, f.info.device_id, f.info.kdf_params)

    def attempt():
        host = HostConnection.pair(wrong_code, f.info, w0_w1=wrong_keys, clock=clock)
        pump(host, device.connect(), rng)
        return [e[1] for e in events_of(host, "failed")]

    t.check(attempt() == ["sent:AuthenticationFailed"], "wrong code: host refuses confirmV")
    t.check(device.failures == 1 and count_of(device) == 1,
            "the wrong guess stays counted on flash")
    attempt(), attempt()
    t.check(attempt() == ["received:Unavailable:retry_after=1"], "4th attempt: backoff of 1 s")
    t.check(device.failures == 3, "a refused attempt is not counted")
    clock.now += 1
    t.check(attempt() == ["sent:AuthenticationFailed"], "after the wait the attempt is answered")
    t.check(attempt() == ["received:Unavailable:retry_after=2"], "backoff doubles")
    for _ in range(policy.max_failures - device.failures):
        clock.now += 61
        attempt()
    t.check(device.failures == policy.max_failures, "count reaches max_failures")
    clock.now += 61
    t.check(attempt() == ["received:Locked"], "locked at max_failures")

    rebooted = Device(f.record, flash=device.flash, clock=clock)
    t.check(rebooted.failures == policy.max_failures, "the count survives a reboot")
    rebooted.open_pairing_window()
    host, dconn = pair(rebooted, f, rng)
    t.check(host.state == OPEN and dconn.state == OPEN, "opening the window allows pairing")

    flash = device.flash
    for slot in COUNTER_SLOTS:
        flash.values[slot] = encode_counter(1, 2)[:-1] + b"\0"
    t.check(count_of(device) == policy.max_failures, "damaged copies read as max_failures")
    flash.values[COUNTER_SLOTS[1]] = encode_counter(7, 4)
    t.check(count_of(device) == 4, "one complete copy holds the count")
    flash.values[COUNTER_SLOTS[0]] = encode_counter(8, 5)
    t.check(count_of(device) == 5, "the higher sequence number wins")
    for slot in COUNTER_SLOTS:
        del flash.values[slot]
    t.check(count_of(device) == 0, "two empty copies: a new device")

    faulty = Device(f.record, clock=clock)
    faulty.flash.fail_writes = True
    host, _ = pair(faulty, f, rng)
    t.check([e[1] for e in events_of(host, "failed")] == ["received:Internal"]
            and faulty.failures == 1, "a failed count write gives Internal, count kept in memory")
    faulty.flash.fail_writes = False
    clock.now += 1
    host, dconn = pair(faulty, f, rng)
    faulty.flash.fail_writes = True
    t.check(host.state == OPEN, "a clean write later pairs")
    cleared = Device(f.record, clock=clock)
    host = f.host(clock)
    dconn = cleared.connect()
    dconn.receive(host.take_output())
    host.receive(dconn.take_output())
    cleared.flash.fail_writes = True
    dconn.receive(host.take_output())
    t.check(dconn.state == OPEN and cleared.failures == 1,
            "a failed clear opens the session and leaves the count raised")


def test_power_cuts(t, f, rng):
    """§10: a power cut at any write, leaving any allowed outcome, never gives an extra guess."""
    wrong = Password(code="27182818" if f.password.code != "27182818" else "31415927")
    wrong_keys = derive_w0_w1(wrong, f.info.device_id, f.info.kdf_params)
    policy = DevicePolicy(max_failures=4, free_attempts=4)
    for leaves in ("old", "new", "nothing", "prefix"):
        for cut_at in range(1, 8):
            clock = FakeClock()
            flash = MemoryFlash()
            device = Device(f.record, flash=flash, policy=policy, clock=clock)
            answered, power_cuts = 0, 0
            for attempt in range(12):
                if attempt == cut_at:
                    flash.cut_power(0, leaves)
                host = HostConnection.pair(wrong, f.info, w0_w1=wrong_keys, clock=clock)
                try:
                    pump(host, device.connect(), rng)
                except PowerCut:
                    power_cuts += 1
                    device = Device(f.record, flash=flash, policy=policy, clock=clock)
                    continue
                answered += host.state == FAILED and events_of(host, "failed") == [
                    ("failed", "sent:AuthenticationFailed")]
            # A cut write that completed counted a guess it never answered: one fewer.
            expected = policy.max_failures - (power_cuts if leaves == "new" else 0)
            t.check(power_cuts == (1 if cut_at < policy.max_failures else 0)
                    and answered == expected,
                    f"power cut at guess {cut_at} leaving {leaves}: {answered} guesses answered")


def test_refusals(t, f, rng):
    clock = FakeClock()
    device = Device(f.record, clock=clock)

    first = f.host(clock)
    first_dev = device.connect()
    first_dev.receive(first.take_output())
    second, _ = pair(device, f, rng)
    t.check([e[1] for e in events_of(second, "failed")] == ["received:Unavailable:retry_after=30"],
            "a second pairing gets Unavailable")
    first_dev.link_lost()
    third, _ = pair(device, f, rng)
    t.check(third.state == OPEN, "a dropped link releases the handshake lock")
    bond = events_of(third, "bonded")[0][1]
    device.open_pairing_window()

    held = f.host(clock)
    held_dev = device.connect()
    held_dev.receive(held.take_output())
    t.check(held_dev.take_output()[0] >> 4 == PAIR_RESPONSE, "the held handshake is answered")
    host, _ = resume(device, bond, rng)
    t.check(host.state == OPEN, "a resume goes on while a pairing holds the lock")
    clock.now += 30
    held_dev.poll()
    t.check(held_dev.take_output() == frame(ALERT, bytes([TIMEOUT])), "device handshake timeout")
    held.poll()
    t.check(held.take_output() == frame(ALERT, bytes([TIMEOUT])), "host handshake timeout")

    idle = device.connect()
    clock.now += 9.9
    idle.poll()
    t.check(idle.state == IDLE, "an idle connection has request_timeout")
    late_host = f.host(clock)
    clock.now += 0.1
    idle.receive(late_host.take_output())
    t.check(idle.take_output() == frame(ALERT, bytes([TIMEOUT])) and idle.state == FAILED,
            "a request after request_timeout gets Timeout, not an answer")

    other = SetupInfo(os.urandom(8), f.info.kdf_params)
    host = HostConnection.pair(f.password, other, w0_w1=f.w0_w1, clock=clock)
    pump(host, device.connect(), rng)
    t.check([e[1] for e in events_of(host, "failed")] == ["received:UnknownDevice"],
            "PairRequest for another device gets UnknownDevice")

    host = f.host(clock)
    request = bytearray(host.take_output())
    request[3] = 0x02  # supported_versions: only version 2, while version says 1
    dconn = device.connect()
    dconn.receive(bytes(request))
    t.check(dconn.take_output() == frame(ALERT, bytes([UNSUPPORTED_VERSION, SUPPORTED_VERSIONS])),
            "version rule: UnsupportedVersion with the device's set")
    request[2:4] = bytes([0, 1])
    dconn = device.connect()
    dconn.receive(bytes(request))
    t.check(dconn.take_output() == frame(ALERT, bytes([UNSUPPORTED_VERSION, SUPPORTED_VERSIONS])),
            "version 0: UnsupportedVersion")

    tampered = bytearray(f.host(clock).take_output())
    tampered[22] ^= 1  # session_id: the context differs, confirmations fail
    dconn = device.connect()
    dconn.receive(bytes(tampered))
    t.check(dconn.state == AWAIT_PAIR_CONFIRM, "the device answers a (tampered) request")
    dconn.receive(frame(PAIR_CONFIRM, os.urandom(32)) + b"\x80\x10" + bytes(16))
    t.check(dconn.take_output()[-3:] == frame(ALERT, bytes([AUTHENTICATION_FAILED]))
            and not events_of(dconn, "message"), "wrong confirmP: AuthenticationFailed")

    dconn = device.connect()
    dconn.receive(b"\xa0")
    t.check(dconn.state == IDLE, "one header byte is buffered")
    dconn.receive(b"\x00")
    t.check(dconn.take_output() == frame(ALERT, bytes([PROTOCOL_ERROR])),
            "reserved type refused at the header")
    dconn = device.connect()
    dconn.receive(b"\x11\x00")
    t.check(dconn.state == FAILED, "PairRequest with length 256 refused at the header")
    dconn = device.connect()
    dconn.receive(b"\x10\x3c" + bytes([1, 1]) + bytes(58))
    t.check(dconn.take_output() == frame(ALERT, bytes([PROTOCOL_ERROR])),
            "a version 1 PairRequest of 60 bytes is a ProtocolError")
    dconn = device.connect()
    dconn.receive(b"\x10\x46" + bytes([2, 3]) + bytes(68))
    t.check(dconn.take_output() == frame(ALERT, bytes([UNSUPPORTED_VERSION, SUPPORTED_VERSIONS])),
            "a later version's PairRequest of another length gets UnsupportedVersion")
    dconn = device.connect()
    dconn.receive(b"\x80\x10")
    t.check(dconn.state == FAILED, "a record before Open is refused")

    device.open_pairing_window()
    host, dconn = pair(device, f, rng)
    host.send(b"secret")
    record_bytes = bytearray(host.take_output())
    record_bytes[5] ^= 0x40
    dconn.receive(bytes(record_bytes))
    t.check(dconn.state == FAILED and not events_of(dconn, "message"),
            "an altered record is not delivered")
    device.open_pairing_window()
    host, dconn = pair(device, f, rng)
    host.send(b"once")
    replayed = host.take_output()
    dconn.receive(replayed + replayed)
    t.check([e[1] for e in events_of(dconn, "message")] == [b"once"] and dconn.state == FAILED,
            "a replayed record fails the connection")
    for wire, outcome, name in ((frame(ALERT, bytes([42, 1, 2])), "received:code42",
                                 "an unknown alert code"),
                                (frame(ALERT, bytes([UNAVAILABLE])), "malformed-alert",
                                 "an Unavailable without details"),
                                (frame(ALERT, bytes([LOCKED, 0])), "malformed-alert",
                                 "a Locked with details"),
                                (b"\x70\x00", "malformed-alert", "an empty Alert"),
                                (b"\x71\x00", "malformed-alert", "an Alert of 256 bytes")):
        dconn = device.connect()
        dconn.receive(wire)
        t.check(dconn.take_events()[-1] == ("failed", outcome) and not dconn.take_output(),
                f"{name} fails the connection without a reply")


# COBS examples of Cheshire and Baker's encoding as the Wikipedia article on COBS lists them
# (external values; the article's trailing 0x00 delimiter left off).
COBS_EXAMPLES = [
    ("00", "0101"),
    ("0000", "010101"),
    ("001100", "01021101"),
    ("11220033", "0311220233"),
    ("11223344", "0511223344"),
    ("11000000", "0211010101"),
    (bytes(range(1, 255)).hex(), "ff" + bytes(range(1, 255)).hex()),
    (bytes(range(0, 255)).hex(), "01ff" + bytes(range(1, 255)).hex()),
    (bytes(range(1, 256)).hex(), "ff" + bytes(range(1, 255)).hex() + "02ff"),
    (bytes(range(2, 256)).hex() + "00", "ff" + bytes(range(2, 256)).hex() + "0101"),
    (bytes(range(3, 256)).hex() + "0001", "fe" + bytes(range(3, 256)).hex() + "0201"),
]


def uart_frames_of(data, rng):
    """Feeds `data` to a fresh receiver in random pieces; returns its frames and drop count."""
    receiver = UartReceiver()
    frames = []
    while data:
        cut = rng.randint(1, 40)
        frames += receiver.feed(data[:cut])
        data = data[cut:]
    return frames, receiver.dropped


def raw_uart_frame(raw):
    """A frame of any bytes (type, payload and CRC as given), COBS-encoded and delimited."""
    return cobs_encode(raw) + b"\x00"


def with_crc(body):
    return body + struct.pack(">H", crc16_ibm3740(body))


def test_uart_framing(t, rng):
    t.check(crc16_ibm3740(b"123456789") == 0x29B1, "CRC-16/IBM-3740 check value (§16.1)")
    t.check(all(cobs_encode(bytes.fromhex(d)) == bytes.fromhex(e) for d, e in COBS_EXAMPLES),
            "COBS encodes the published examples")
    t.check(all(cobs_decode(bytes.fromhex(e)) == bytes.fromhex(d) for d, e in COBS_EXAMPLES),
            "COBS decodes the published examples")
    t.check(encode_uart_frame(UART_OPEN) == cobs_encode(b"\x01" + struct.pack(
        ">H", crc16_ibm3740(b"\x01"))) + b"\x00", "Open is COBS(01 || crc, big-endian) || 00")

    types = sorted(UART_PAYLOAD_LENGTHS)
    sent, wire, longest = [], b"", 0
    for _ in range(300):
        frame_type = rng.choice(types)
        low, high = UART_PAYLOAD_LENGTHS[frame_type]
        length = rng.choice((low, high, rng.randint(low, high)))
        zeros = rng.random()
        payload = bytes(0 if rng.random() < zeros else rng.randint(1, 255) for _ in range(length))
        encoded = encode_uart_frame(frame_type, payload)
        longest = max(longest, len(encoded))
        sent.append((frame_type, payload))
        wire += encoded + b"\x00" * rng.choice((0, 0, 1))  # empty frames between some
    frames, dropped = uart_frames_of(wire, rng)
    t.check(frames == sent and dropped == 0, "300 frames of every type round-trip, cut anywhere")
    full = encode_uart_frame(UART_INBOUND, b"\xff" * UART_MAX_PAYLOAD)
    t.check(longest <= UART_MAX_FRAME and len(full) <= UART_MAX_FRAME
            and b"\x00" not in full[:-1], "frames are at most 249 bytes, 0x00 only at the end")
    t.check(refuses(encode_uart_frame, UART_INBOUND, bytes(UART_MAX_PAYLOAD + 1), error=ValueError)
            and refuses(encode_uart_frame, UART_OPEN, b"\x01", error=ValueError)
            and refuses(encode_uart_frame, UART_SETUP_INFO, bytes(31), error=ValueError),
            "the encoder refuses payloads their type does not allow")

    good = encode_uart_frame(UART_OUTBOUND, bytes(range(1, 40)))
    expected = (UART_OUTBOUND, bytes(range(1, 40)))
    for name, bad in (
            ("a bad CRC", raw_uart_frame(with_crc(b"\x07abc")[:-1] + b"\x00")),
            ("a frame shorter than 3 bytes", raw_uart_frame(b"\x07\x01")),
            ("a frame that does not decode", b"\x05\x07\x00"),
            ("an unknown type", raw_uart_frame(with_crc(b"\x08abc"))),
            ("type 0", raw_uart_frame(with_crc(b"\x00abc"))),
            ("a 245-byte payload (250 bytes encoded)",
             raw_uart_frame(with_crc(b"\x06" + b"\x01" * 245)))):
        frames, dropped = uart_frames_of(good + bad + good, rng)
        t.check(frames == [expected, expected] and dropped == 1,
                f"UART: {name} is dropped alone, the frames around it kept")
    t.check(uart_frames_of(b"\x00" * 5 + good + b"\x00\x00", rng) == ([expected], 0),
            "UART: empty frames are ignored")
    flips_caught = True
    for bit in range((len(good) - 1) * 8):
        damaged = bytearray(good)
        damaged[bit // 8] ^= 1 << (bit % 8)
        frames, _ = uart_frames_of(bytes(damaged), rng)
        flips_caught &= frames == []
    t.check(flips_caught, "UART: every single-bit error in a frame drops it")
    frames, dropped = uart_frames_of(b"\x55" * 2 * (UART_MAX_FRAME - 1) + good + good, rng)
    t.check(frames == [expected] and dropped == 1,
            "UART: a frame past 249 bytes is dropped whole, though it ends as a good one")
    receiver = UartReceiver()
    endless = receiver.feed(b"\x55" * 1_000_000)
    held = receiver.held
    t.check(endless == [] and held < UART_MAX_FRAME and receiver.feed(b"\x00" + good)
            == [expected] and receiver.dropped == 1,
            "UART: endless input without 0x00 is held within one frame, then skipped")


def uart_pump(host_link, device_link, rng, noise=False):
    """Moves line bytes both ways in random pieces, optionally with damaged frames between the
    good ones, until neither side has output."""
    while True:
        moved = False
        for src, dst in ((host_link, device_link), (device_link, host_link)):
            data = src.take_output()
            moved |= bool(data)
            if noise and data:
                data = raw_uart_frame(with_crc(b"\x06junk")[:-1] + b"\x01") + data
            while data:
                cut = rng.randint(1, 30)
                dst.receive(data[:cut])
                data = data[cut:]
        if not moved:
            return


def test_uart_links(t, f, rng):
    device = Device(f.record, clock=FakeClock())
    line = UartDeviceLink(device)
    host = UartHostLink()
    host.read_setup_info()
    uart_pump(host, line, rng, noise=True)
    t.check(host.setup_info == f.info.encode(), "UART: ReadSetupInfo answers the Setup Info")
    conn = HostConnection.pair(f.password, SetupInfo.decode(host.setup_info), w0_w1=f.w0_w1,
                               clock=device.clock)
    conn.send(b"early")
    host.start(conn)
    uart_pump(host, line, rng, noise=True)
    t.check(conn.state == OPEN and line.conn.state == OPEN, "UART: paired through noise")
    bond = events_of(conn, "bonded")[0][1]
    t.check(events_of(line.conn, "message") == [("message", b"early")], "UART: 0.5-RTT data")
    line.conn.send(b"x" * 512)
    uart_pump(host, line, rng)
    t.check(events_of(conn, "message") == [("message", b"x" * 512)],
            "UART: a 512-byte message in 244-byte values")
    device_conn = line.conn
    conn.close(7)
    uart_pump(host, line, rng)
    t.check(events_of(device_conn, "closed") == [("closed", True, 7)] and host.closed_by_device
            and line.conn is None, "UART: after a Close record the device sends Close")

    host = UartHostLink()
    conn = HostConnection.resume(bond, clock=device.clock)
    host.start(conn)
    uart_pump(host, line, rng)
    t.check(conn.state == OPEN and line.conn.state == OPEN, "UART: resumed")
    old = line.conn
    host = UartHostLink()
    uart_pump(host, line, rng)
    t.check(events_of(old, "failed") == [("failed", "LinkLost")] and line.conn is not old,
            "UART: an Open replaces the open link, which the device sees lost")

    conn = HostConnection.resume(bond, clock=device.clock)
    line.receive(encode_uart_frame(UART_OPEN) + uart_values(UART_INBOUND, conn.take_output()))
    unsubscribed = line.take_output()
    line.receive(encode_uart_frame(UART_SUBSCRIBE))
    frames, _ = uart_frames_of(line.take_output(), rng)
    t.check(unsubscribed == b"" and [kind for kind, _ in frames] == [UART_OUTBOUND],
            "UART: the device sends no Outbound before Subscribe")
    line.receive(encode_uart_frame(UART_OPEN)
                 + uart_values(UART_INBOUND, frame(PAIR_REQUEST, bytes(59))))
    frames, _ = uart_frames_of(line.take_output(), rng)
    line.receive(encode_uart_frame(UART_SUBSCRIBE))
    t.check(frames == [(UART_CLOSE, b"")] and line.conn is None and not line.take_output(),
            "UART: a session failed before Subscribe ends in Close alone")
    line.receive(raw_uart_frame(with_crc(b"\x03\x01")))
    t.check(uart_frames_of(line.take_output(), rng) == ([(UART_SETUP_INFO, f.info.encode())], 0),
            "UART: a payload on a type without one is ignored")

    device.open_pairing_window()
    host = UartHostLink()
    conn = HostConnection.pair(Password(code="27182818"), f.info, clock=device.clock)
    host.start(conn)
    host.board(0, b"\x01")
    uart_pump(host, line, rng)
    t.check(events_of(conn, "failed") == [("failed", "sent:AuthenticationFailed")]
            and host.closed_by_device and line.conn is None and count_of(device) == 1,
            "UART: a wrong code is counted and the device closes the link after the alert")
    t.check(line.board_frames == [(0, b"\x01")], "UART: board frames reach the board")

    host = UartHostLink()
    conn = HostConnection.resume(bond, clock=device.clock)
    host.start(conn)
    uart_pump(host, line, rng)
    device_conn = line.conn
    host.close()
    uart_pump(host, line, rng)
    t.check(events_of(device_conn, "failed") == [("failed", "LinkLost")] and line.conn is None
            and not host.closed_by_device, "UART: a host's Close drops the link")


def selftest():
    t = SelfTest()
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    test_rfc9383_vector(t)
    test_points(t)
    test_codes(t)
    test_base45(t)
    test_setup_payloads(t)

    started = time.monotonic()
    f = Fixture.provision()  # default parameters: 64 MiB, t = 3, p = 4
    print(f"provisioned with default Argon2id parameters in {time.monotonic() - started:.2f} s")
    t.check(parse_qr_payload(encode_qr_payload(f.info, f.password)) == (f.info, f.password),
            "payload of provision")
    test_provisioning(t, f)
    host = HostConnection.pair(f.password, f.info)  # the full path once, with its own derivation
    dconn = Device(f.record).connect()
    pump(host, dconn, rng)
    t.check(host.state == OPEN and dconn.state == OPEN, "pairing with default parameters")

    test_qr_secret(t, rng)
    bond = test_pairing_and_records(t, f, rng)
    test_automatic_key_update(t, f, rng)
    test_resume(t, f, bond, rng)
    test_window_and_bonds(t, f, rng)
    test_attempt_limits(t, f, rng)
    test_power_cuts(t, f, rng)
    test_refusals(t, f, rng)
    test_uart_framing(t, rng)
    test_uart_links(t, f, rng)
    print(f"{t.passed} passed, {t.failed} failed")
    return t.failed == 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("selftest", help="RFC 9383 vector and host-against-device checks")
    prov = commands.add_parser("provision", help="make a device: code, QR payload, record")
    prov.add_argument("--code")
    prov.add_argument("--memory-kib", type=int, default=65536)
    prov.add_argument("--iterations", type=int, default=3)
    prov.add_argument("--parallelism", type=int, default=4)
    prov.add_argument("--qr-secret", action="store_true", help="a QR secret instead of a code")
    args = parser.parse_args(argv)
    if args.command == "selftest":
        return 0 if selftest() else 1
    password, info, record = provision(args.code, args.memory_kib, args.iterations,
                                       args.parallelism, qr_secret=args.qr_secret)
    if password.code is not None:
        print(f"code {password.code}")
        print(f"manual {format_manual_code(password.code)}")
    print(f"setup-info {info.encode().hex()}")
    print(f"payload {encode_qr_payload(info, password)}")
    print(f"record {record.encode().hex()}")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
