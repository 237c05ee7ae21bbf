#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets to fuzz/corpus/<target>/ (or the directory given as
the first argument) from spec/vectors/v1.json, spec/examples/*.json and deploy/*.toml, plus a few
scripted inputs for the structured targets. Deterministic; existing files are kept, so it can be
run over a corpus that fuzzing has grown.

    python3 fuzz/seed.py [CORPUS_DIR]
"""

import glob
import hashlib
import json
import os
import random
import struct
import sys

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(FUZZ, "corpus")
KINDS = ["notice", "receipt", "ack", "checkpoint", "cosignature", "heartbeat"]
rng = random.Random(2026)
written = {}


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    written[target] = written.get(target, 0) + 1


def chunk(tag, payload=b""):
    """One chunk of the chunked targets: [tag][len u16 LE][payload]."""
    return bytes([tag]) + struct.pack("<H", len(payload)) + payload


def noise(n):
    return bytes(rng.randrange(256) for _ in range(n))


with open(os.path.join(ROOT, "spec", "vectors", "v1.json")) as f:
    v = json.load(f)
names = [k["name"] for k in v["keys"]]
publics = [k["public"] for k in v["keys"]]


def signer_index(value):
    key = value.get("sender") or value.get("signer")
    return publics.index(key) if key in publics else 0


# message_open: every vector frame, valid and invalid.
for m in v["messages"]:
    put("message_open", bytes.fromhex(m["frame"]))
for m in v["invalid_frames"]:
    put("message_open", bytes.fromhex(m["frame"]))

# message_resigned: [kind][flags][body]; flags: mode 0 with ids and signatures fixed, or mode 2
# (raw bytes, network and signer patched); bits 4-5 the vector's signer.
bodies = []
for m in v["messages"]:
    kind = KINDS.index(m["kind"])
    signer = signer_index(m["value"])
    body = bytes.fromhex(m["body"])
    bodies.append((kind, signer, body))
    for mode in (0x0C, 0x02, 0x00):
        put("message_resigned", bytes([kind, mode | signer << 4]) + body)

# log_verifier: mode 0 with the vectors' log (verifies), truncated variants; mode 1 scripted.
leaves = [bytes.fromhex(e["leaf"]) for e in v["log"]["entries"]]
framed = b"".join(struct.pack(">H", len(l)) + l for l in leaves)
put("log_verifier", b"\x00" + framed)
for cut in (1, 2, 5, 12):
    put("log_verifier", b"\x00" + b"".join(struct.pack(">H", len(l)) + l for l in leaves[:cut]))
for n in (4, 16, 40):
    put("log_verifier", b"\x01" + b"".join(chunk(i, noise(rng.randrange(8, 80))) for i in range(n)))

# note: the vectors' checkpoint note, its body, the cosigned message.
cp = v["checkpoint"]
put("note", cp["note"])
put("note", cp["note"].split("\n\n")[0] + "\n")
put("note", cp["cosigned_message"])

# roster: the vectors' roster bytes.
put("roster", bytes.fromhex(v["roster"]["bytes"]))

# incident_json: the example incident and the vectors' one.
for path in sorted(glob.glob(os.path.join(ROOT, "spec", "examples", "*.json"))):
    with open(path, "rb") as f:
        put("incident_json", f.read())
put("incident_json", json.dumps(v["messages"][0]["value"]["body"]["incident"], ensure_ascii=False))

# config_toml: the deploy examples (node config, policy, fault scenario).
for path in sorted(glob.glob(os.path.join(ROOT, "deploy", "*.toml"))):
    with open(path, "rb") as f:
        put("config_toml", f.read())

# entry_bundle: [file][mode][...] for each file of both templates: patches and truncations.
# A mode byte with high nibble 0xf picks the large template.
for large in (0, 0xF0):
    for i in range(20):
        patch = b"".join(struct.pack(">HB", rng.randrange(65536), 1 << rng.randrange(8)) for _ in range(2))
        put("entry_bundle", bytes([i, large | 1]) + patch)
        put("entry_bundle", bytes([i, large | 4]) + struct.pack(">H", rng.randrange(400)))
put("entry_bundle", bytes([0, 3, 13]) + b"not a note\n")

# node_frames: scripted schedules. Ops (tag & 0x7f): 0 raw, 1 re-signed, 2 forged notice,
# 3 forged receipt, 4 forged ack, 5 checkpoint offer, 6 cosignature, 7 time, 8 persist, 9 pump,
# 10 deliver to alpha, 11 deliver to bravo, 12 alpha sends, 13 bravo sends, 14 alpha acks,
# 15 bravo acks, 16 checkpoint, 17 reconnect, 18 crash+restart, 19 queries, 20 clock offset.
# Bit 7: charlie (forging ops) / bravo (node ops).
PERSIST_BOTH = chunk(8) + chunk(8 | 0x80)
EXCHANGE = PERSIST_BOTH + chunk(9) + chunk(11, b"\x07") + chunk(10, b"\x07") + PERSIST_BOTH + chunk(9)
for k in range(7):
    script = chunk(12, bytes([0, 1, k]) + noise(40)) + EXCHANGE + EXCHANGE
    script += chunk(14, noise(8)) + chunk(15, noise(8)) + EXCHANGE + EXCHANGE
    script += chunk(13, bytes([0, 1, k]) + noise(40)) + EXCHANGE + EXCHANGE
    script += chunk(7, b"\x04") + EXCHANGE + chunk(16) + chunk(16 | 0x80) + EXCHANGE + EXCHANGE
    script += chunk(7, b"\x04") + EXCHANGE + chunk(19, noise(8))
    put("node_frames", script)
# Forged traffic from charlie and bravo: notices, then receipts/acks of what alpha sent.
for k in range(6):
    script = chunk(0x82, noise(60)) + chunk(0x02, noise(60)) + PERSIST_BOTH + chunk(9)
    script += chunk(12, noise(40)) + chunk(8) + chunk(9) + chunk(0x83, noise(12)) + chunk(0x84, noise(16))
    script += chunk(0x85, noise(12)) + chunk(0x85, noise(12)) + chunk(16) + chunk(8) + chunk(9)
    script += chunk(0x86, noise(12)) + chunk(7, b"\x04") + chunk(18, noise(4)) + chunk(7, b"\x04")
    script += chunk(20, noise(4)) + chunk(7, noise(4)) + EXCHANGE + chunk(19, noise(4))
    put("node_frames", script)
# The vectors' bodies re-signed and delivered to alpha by bravo and charlie.
for kind, signer, body in bodies:
    for peer in (0x00, 0x80):
        sig = 1 if peer == 0 else 2
        put("node_frames", chunk(peer | 1, bytes([kind, 0x0C | sig << 4]) + body) + PERSIST_BOTH + chunk(9))
for m in v["messages"]:
    put("node_frames", chunk(0x80, bytes.fromhex(m["frame"])))

# merkle: a few tree sizes.
for n in (0, 1, 2, 3, 7, 8, 255, 256, 257, 600):
    put("merkle", struct.pack("<H", n) + noise(64))

for t in sorted(written):
    print(f"{t}: {written[t]} seeds")
