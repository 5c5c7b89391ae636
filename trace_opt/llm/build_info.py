"""What the embedded model's llama.cpp was built for, and whether this CPU can run it.

The build is a portable x86-64 baseline (scripts/build_llama.sh, requirements/llama-cpu.flags):
AVX2, FMA, F16C, BMI2 and nothing newer. A native build once took llama.cpp's AMX path on a
Xeon under KVM and crashed on every request, so the installed library's own report (its
system-info line) is read and checked, and a CPU without the baseline is told so before a
server is started that would die of an illegal instruction.

`main(["--check"])` prints the report and fails on a wrong build (scripts/build_llama.sh runs it).
"""
from __future__ import annotations

import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

REQUIRED_CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2")      # /proc/cpuinfo names
BASELINE = ("AVX", "AVX2", "FMA", "F16C")                        # what the library must report
FORBIDDEN = ("AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI", "AMX_INT8", "AMX_BF16",
             "AMX_TILE")                                          # paths a baseline build never takes
_PROBE = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode(errors='replace'))"


def missing_cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> List[str]:
    """The baseline's instruction sets this machine lacks ([] when it can run the build)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return [f"x86-64 (this is {platform.machine()})"]
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return []  # cannot tell: let the server try
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    return [flag for flag in REQUIRED_CPU_FLAGS if flag not in flags]


def system_info(python: str = sys.executable, timeout: float = 60.0) -> str:
    """llama.cpp's system-info line, read in a child process (loading the library costs memory)."""
    done = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"could not load llama_cpp: {(done.stderr or done.stdout).strip()[-500:]}")
    return done.stdout.strip()


def features(info: str) -> Dict[str, bool]:
    """{'AVX2': True, 'AMX_INT8': False, ...} from a system-info line ('AVX2 = 1 | ...')."""
    return {name: value == "1" for name, value in re.findall(r"([A-Z][A-Z0-9_]*) = (\d)", info)}


def problems(info: str) -> List[str]:
    """What is wrong with a build whose system-info line is `info` ([] for the portable baseline)."""
    found = features(info)
    wrong = [f"{name} is missing" for name in BASELINE if not found.get(name)]
    wrong += [f"{name} is compiled in (not portable)" for name in FORBIDDEN if found.get(name)]
    return wrong


def main(argv: List[str]) -> int:
    info = system_info()
    print(f"llama.cpp build: {info}")
    wrong = problems(info)
    if wrong and "--check" in argv:
        print("the installed llama-cpp-python is not the portable build: " + "; ".join(wrong) +
              ". Rebuild it with scripts/build_llama.sh (rm .venv/.llama-build-key first).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
