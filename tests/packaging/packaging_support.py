"""Shared by the packaging tests (tests/packaging/): where things are, and `systemd-analyze
verify` on a copy of a unit whose ExecStart names a binary that exists here.

ctest passes VALTRONICS_SOURCE_DIR, VALTRONICS_BUILD_DIR, VALTRONICS_BIN, VALTRONICS_VERSION,
VALTRONICS_CMAKE and VALTRONICS_CPACK (tests/CMakeLists.txt); run by hand from this folder,
the defaults are the checkout and its build/ directory."""

import os
import re
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.environ.get("VALTRONICS_SOURCE_DIR") or os.path.join(HERE, "..", ".."))
BUILD_DIR = os.path.abspath(os.environ.get("VALTRONICS_BUILD_DIR") or os.path.join(SOURCE_DIR, "build"))
BIN = os.path.abspath(os.environ.get("VALTRONICS_BIN") or os.path.join(BUILD_DIR, "valtronics"))
CMAKE = os.environ.get("VALTRONICS_CMAKE") or "cmake"
CPACK = os.environ.get("VALTRONICS_CPACK") or "cpack"
UNIT_SOURCE = os.path.join(SOURCE_DIR, "packaging", "valtronics.service")
# The path the unit (as written, and as the .deb installs it) runs the server from.
PACKAGED_BIN = "/usr/bin/valtronics"


def project_version():
    """The project's version: from ctest, else from the top-level CMakeLists.txt."""
    if os.environ.get("VALTRONICS_VERSION"):
        return os.environ["VALTRONICS_VERSION"]
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*valtronics\s+VERSION\s+([0-9.]+)", f.read())
    return m.group(1)


def run(args, **kwargs):
    """subprocess.run with text output captured; raises with the output on failure."""
    proc = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if not path:
        raise AssertionError("systemd-analyze not found: scripts/install-deps installs systemd")
    return path


def verify_unit(unit_text, exec_path=None, name="valtronics.service"):
    """Runs `systemd-analyze verify` on `unit_text` written to a temporary folder as `name`,
    with /usr/bin/valtronics replaced by `exec_path` when given (verify checks that ExecStart's
    binary exists and is executable). Returns (exit code, the output lines about this unit,
    all output). Works as root in a container without a running systemd: verify loads the unit
    into a manager of its own. Its problems with the unit itself (unknown keys, values it cannot
    parse, a missing binary) are printed as warnings naming the file or the unit, often with
    exit code 0: the caller treats any such line as a failure."""
    if exec_path is not None:
        unit_text = unit_text.replace(PACKAGED_BIN, exec_path)
    with tempfile.TemporaryDirectory(prefix="valtronics-unit-") as tmp:
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(unit_text)
        # --man=no: the Documentation= pages are not man pages installed here;
        # --recursive-errors=no: only this unit's problems count, not those of the system's
        # own units it is ordered after (network-online.target...).
        proc = subprocess.run([systemd_analyze(), "verify", "--man=no", "--recursive-errors=no",
                               path], capture_output=True, text=True, cwd=tmp,
                              env=dict(os.environ, SYSTEMD_LOG_COLOR="0"))
    output = (proc.stdout + proc.stderr).strip()
    ours = [line for line in output.splitlines() if path in line or name in line]
    return proc.returncode, ours, output


def unit_directives(unit_text):
    """{(section, key): [values...]} of a unit file (comments and blank lines skipped)."""
    out = {}
    section = None
    for raw in unit_text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key.strip()), []).append(value.strip())
    return out
