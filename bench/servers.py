"""Helpers for benchmarks that start the project's servers (gunicorn, uvicorn) as processes."""

import subprocess
import time
import urllib.request


def wait_ready(process: subprocess.Popen, port: int, log, name: str, timeout: float = 60) -> None:
    """/healthz answers (the app is loaded), then /readyz (the database and Redis answer);
    raises with the tail of `log` (a binary file the server writes to) if `process` exits."""
    deadline = time.monotonic() + timeout
    for path in ("/healthz", "/readyz"):
        while True:
            if process.poll() is not None:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass  # not listening yet, or 503 while a service is still coming up
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not answer {path} within {timeout:.0f}s")
            time.sleep(0.2)
