"""The environment the tests run in, and the locks it is built from, hold nothing unexpected.

A ``.pth`` file in a site directory runs its ``import`` lines at every interpreter start, before
any of our code: the way the litellm 1.82.7 / 1.82.8 releases ran their credential stealer. So
every ``.pth`` there must be on the allow-list below, with the content its installer writes; and
the project must exclude the compromised litellm releases, in pyproject.toml and in every lock,
where each requirement is pinned with its sha256 hashes.
"""
import re
import site
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
BAD_LITELLM = ["1.82.7", "1.82.8", "1.107.0"]  # compromised or reported releases

# The .pth files `make test` installs (a `python -m venv` environment, requirements/test.lock,
# then `pip install -e .`): name pattern, what its one line must be, and who writes it.
ALLOWED_PTH = {
    # setuptools (requirements/build.in): makes `import distutils` find setuptools' copy on
    # Pythons that still ship one; it imports only setuptools' own _distutils_hack.
    "distutils-precedence.pth": re.compile(
        r"import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os\.environ\.get\(var, 'local'\) == 'local'; "
        r"enabled and __import__\('_distutils_hack'\)\.add_shim\(\); *"),
    # this project's editable install (`pip install -e .`, setuptools' PEP 660 editable wheel):
    # installs the finder that maps `trace_opt` to this checkout, or (older modes) names the checkout.
    "__editable__.trace_opt_framework-*.pth": re.compile(
        r"import (__editable___trace_opt_framework_[0-9A-Za-z_]+_finder); \1\.install\(\)|" + re.escape(str(ROOT))),
}


def site_dirs():
    """Every directory whose .pth files this interpreter processes at start-up."""
    dirs = [*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    if site.ENABLE_USER_SITE:  # a venv turns the user's site directory off; then it is not processed
        dirs.append(site.getusersitepackages())
    return sorted({Path(d).resolve() for d in dirs if Path(d).is_dir()})


def first_line(path):
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines[0] if lines else ""


def unexpected_pth(directories):
    """One line per .pth file that is not on the allow-list or not as its installer writes it."""
    found = []
    for directory in directories:
        for pth in sorted(Path(directory).glob("*.pth")):
            pattern = next((p for name, p in ALLOWED_PTH.items() if pth.match(name)), None)
            lines = [line for line in pth.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
            if pattern is None or len(lines) != 1 or not pattern.fullmatch(lines[0]):
                why = "not on the allow-list" if pattern is None else "not the content its installer writes"
                found.append(f"{pth} ({why}); first line: {first_line(pth)[:200]!r}")
    return found


def test_every_pth_file_in_the_environment_is_expected():
    assert site_dirs(), "no site directory found"
    unexpected = unexpected_pth(site_dirs())
    assert not unexpected, "unexpected .pth files (each runs code at every start):\n" + "\n".join(unexpected)


def test_the_pth_check_names_the_file_and_its_first_line(tmp_path):
    (tmp_path / "litellm_init.pth").write_text("import base64; exec(base64.b64decode('cHJpbnQoMSk='))\n")
    (tmp_path / "distutils-precedence.pth").write_text("import os; os.system('curl http://example.invalid')\n")
    finder = "__editable___trace_opt_framework_0_1_0_finder"
    editable = f"import {finder}; {finder}.install()"
    (tmp_path / "__editable__.trace_opt_framework-0.1.0.pth").write_text(editable + "\n")
    found = unexpected_pth([tmp_path])
    assert len(found) == 2
    assert "distutils-precedence.pth (not the content its installer writes)" in found[0] and "os.system" in found[0]
    assert "litellm_init.pth (not on the allow-list); first line: \"import base64; exec(" in found[1]


def litellm_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    listed = project.get("dependencies", []) + [d for extra in project.get("optional-dependencies", {}).values()
                                                 for d in extra]
    return [Requirement(d) for d in listed if Requirement(d).name.lower() == "litellm"]


def test_pyproject_excludes_the_compromised_litellm_releases():
    requirements = litellm_requirements()
    assert requirements, "pyproject.toml does not name litellm"
    for requirement in requirements:
        allowed = [v for v in BAD_LITELLM if requirement.specifier.contains(v, prereleases=True)]
        assert not allowed, f"pyproject.toml's {requirement} allows litellm {', '.join(allowed)}"


def lock_entries(path):
    """{name: [version, text]} of a hash lock: each requirement line with its indented continuation
    lines (its --hash options, pip-compile's '# via' notes)."""
    entries, current = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line[0].isspace():
            current = None
            if not line.startswith("-"):  # not an option such as --find-links
                requirement = Requirement(line.split()[0])
                pins = [spec.version for spec in requirement.specifier if spec.operator == "=="]
                current = entries.setdefault(requirement.name.lower(), [pins[0] if pins else "", ""])
        if current is not None:
            current[1] += line + "\n"
    return entries


LOCKS = sorted((ROOT / "requirements").glob("*.lock"))


def lock_problems(lock):
    """What is wrong with a lock: a requirement not pinned, one without a sha256 hash, a
    compromised litellm or one outside pyproject.toml's range; a lock compiled from
    pyproject.toml must pin litellm."""
    entries, problems = lock_entries(lock), []
    if not entries:
        return [f"{lock.name} lists no requirement"]
    for name, (version, text) in entries.items():
        if not version:
            problems.append(f"{lock.name}: {name} is not pinned with ==")
        if not re.search(r"--hash=sha256:[0-9a-f]{64}\b", text):
            problems.append(f"{lock.name}: {name}=={version} has no sha256 hash")
    if "pyproject.toml" in lock.read_text(encoding="utf-8").split("\n\n", 1)[0] and "litellm" not in entries:
        problems.append(f"{lock.name} is compiled from pyproject.toml but does not pin litellm")
    version = entries.get("litellm", [None])[0]
    if version in BAD_LITELLM:
        problems.append(f"{lock.name} pins the compromised litellm {version}")
    elif version:
        problems += [f"{lock.name}: litellm {version} is outside {r}" for r in litellm_requirements()
                     if not r.specifier.contains(Version(version))]
    return problems


@pytest.mark.parametrize("lock", LOCKS, ids=[p.name for p in LOCKS])
def test_every_lock_pins_every_requirement_with_hashes_and_no_compromised_litellm(lock):
    assert len(lock_entries(lock)) == len(re.findall(r"^[A-Za-z0-9][^\s]*==", lock.read_text(), re.M))
    problems = lock_problems(lock)
    assert not problems, "\n".join(problems)


def test_the_lock_check_finds_a_missing_hash_and_a_compromised_litellm(tmp_path):
    lock = tmp_path / "bad.lock"
    lock.write_text("# pip-compile ... pyproject.toml\n\nlitellm==1.82.8 \\\n    --hash=sha256:" + "a" * 64 +
                    "\n    # via trace-opt-framework\nrequests==2.32.3\n    # via litellm\n")
    assert lock_problems(lock) == ["bad.lock: requests==2.32.3 has no sha256 hash",
                                   "bad.lock pins the compromised litellm 1.82.8"]
