"""Cassettes are real recordings with no secrets in them."""
import re
from pathlib import Path

import yaml

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
KEY_LIKE = re.compile(r"sk-[A-Za-z0-9_\-]{16,}|Bearer\s+[A-Za-z0-9_\-\.]{16,}|AIza[0-9A-Za-z_\-]{20,}")
SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "openai-organization"}


def _cassettes():
    files = sorted(CASSETTES.rglob("*.yaml"))
    assert files, "no cassettes found"
    return files


def test_no_cassette_holds_a_key_like_string():
    for path in _cassettes():
        found = KEY_LIKE.findall(path.read_text())
        assert not found, f"{path.name} holds key-like strings: {found[:3]}"


def test_no_cassette_holds_a_secret_header_and_each_was_recorded_from_the_local_server():
    for path in _cassettes():
        interactions = yaml.safe_load(path.read_text())["interactions"]
        assert interactions, f"{path.name} is empty"
        for item in interactions:
            headers = {name.lower() for name in item["request"].get("headers", {})}
            assert not headers & SECRET_HEADERS, f"{path.name} keeps {headers & SECRET_HEADERS}"
            assert item["request"]["uri"].startswith("http://127.0.0.1:8765/v1/")
            assert item["response"]["status"]["code"] == 200
