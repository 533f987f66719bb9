"""The webhook verification code in docs/recipients.md works against the gateway's real signatures."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

from gateway.delivery.webhook import sign
from gateway.settings import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "recipients.md").read_text(encoding="utf-8")


def _block(lang: str, starts: str) -> str:
    for code in re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S):
        if code.startswith(starts):
            return code
    raise AssertionError(f"no {lang} block starting {starts!r} in docs/recipients.md")


def test_the_documented_python_verifier_accepts_real_signatures_and_refuses_tampering() -> None:
    namespace: dict[str, object] = {}
    exec(_block("python", "import hashlib, hmac, time"), namespace)
    verify = namespace["verify"]
    body = '{"notification_id":"x","payload":{"child":{"given_name":"Zoë"}}}'.encode()
    ts = str(int(time.time()))
    header = f"v1={sign('secret', ts, body)}"
    assert verify("secret", ts, header, body)  # type: ignore[operator]
    assert verify("secret", ts, f"v1=deadbeef, {header}", body)  # type: ignore[operator]  # rotation
    assert not verify("secret", ts, header, body + b" ")  # type: ignore[operator]
    assert not verify("other", ts, header, body)  # type: ignore[operator]
    old = str(int(time.time()) - 301)
    assert not verify("secret", old, f"v1={sign('secret', old, body)}", body)  # type: ignore[operator]


def test_the_documented_node_verifier_agrees_when_node_is_installed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    node = shutil.which("node")
    if node is None:  # the JavaScript is an extra for readers; the Python above is the reference
        return
    script = tmp_path / "verify.js"
    script.write_text(
        _block("js", 'const crypto = require("crypto");')
        + "\nconst [s, t, h, b] = process.argv.slice(2);\n"
        + 'const ok = (x) => verify(s, t, h, Buffer.from(x, "utf8"));\n'
        + 'console.log(ok(b), ok(b + " "));\n'
    )
    body = '{"a":"é"}'
    ts = str(int(time.time()))
    out = subprocess.run(
        [node, str(script), "sec", ts, f"v1={sign('sec', ts, body.encode())}", body],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert out == ["true", "false"]
