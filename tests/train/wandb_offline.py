"""Reads back what an offline Weights & Biases run wrote (run-*.wandb: a 7-byte header, then
LevelDB-log framed records of wandb's own protobuf ``Record``), to check a sink against the real
library's output rather than a mock."""
import json
import struct
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7  # ":W&B", a 2-byte magic, a version byte


def _payloads(data):
    position, pieces = HEADER, []
    while position + 7 <= len(data):
        room = BLOCK - position % BLOCK
        if room < 7:                       # a block's tail too short for a record header: padding
            position += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position:position + 7])
        if kind == 0 and length == 0:      # zero padding before the next block
            position += room
            continue
        pieces.append(data[position + 7:position + 7 + length])
        position += 7 + length
        if kind in (1, 4):                 # FULL, or LAST of a fragmented record
            yield b"".join(pieces)
            pieces = []


def read_offline_run(run_folder):
    """{"history": [{key: value, "_step": n}], "config": {...}, "summary": {...}} of one offline run."""
    from wandb.proto import wandb_internal_pb2 as pb

    [path] = Path(run_folder).glob("run-*.wandb")
    found = {"history": [], "config": {}, "summary": {}}
    for payload in _payloads(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(payload)
        which = record.WhichOneof("record_type")
        if which == "history":
            row = {item.key or ".".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            if record.history.HasField("step"):
                row["_step"] = record.history.step.num
            found["history"].append(row)
        elif which == "config":
            found["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
        elif which == "run":
            found["config"].update({i.key: json.loads(i.value_json) for i in record.run.config.update})
        elif which == "summary":
            found["summary"].update({i.key or ".".join(i.nested_key): json.loads(i.value_json)
                                     for i in record.summary.update})
    return found
