# lit configuration for dlc's text-in, FileCheck-out tests.
#   %dlc      the dlc binary of this build
#   %fashion  the Fashion-MNIST directory (tests that need it say REQUIRES: fashion-mnist)
#   %system_python  /usr/bin/python3 (tests that need its NumPy say REQUIRES: numpy)
import os
import lit.formats

config.name = "dlc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".dl", ".ir", ".test"]
config.excludes = ["unit", "Inputs", "CMakeLists.txt"]
config.test_source_root = os.path.join(config.dlc_src_root, "tests")
config.test_exec_root = os.path.join(config.dlc_obj_root, "tests")

config.environment["PATH"] = os.pathsep.join(
    [config.dlc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ.get("PATH", ""))])
config.substitutions.append(("%dlc", os.path.join(config.dlc_tools_dir, "dlc")))
config.substitutions.append(("%src", config.dlc_src_root))
config.substitutions.append(("%python", config.python_executable))
# examples/python runs with Debian's python3 and python3-numpy
# (tools/install-deps.sh), whichever python3 CMake found.
system_python = "/usr/bin/python3"
config.substitutions.append(("%system_python", system_python))
import subprocess
if os.path.exists(system_python) and subprocess.run(
        [system_python, "-c", "import numpy"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0:
    config.available_features.add("numpy")

fashion = "/usr/share/datasets/fashion-mnist"
config.substitutions.append(("%fashion", fashion))
if os.path.exists(os.path.join(fashion, "t10k-labels-idx1-ubyte.gz")):
    config.available_features.add("fashion-mnist")

# Vector-code checks need the CPU features they look for.
try:
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    if " avx2" in flags and " fma" in flags:
        config.available_features.add("host-avx2-fma")
except OSError:
    pass

import shutil
if shutil.which("dot"):
    config.available_features.add("graphviz")

# The page of `dlc explain` in a real browser: Debian's chromium driven by
# playwright-core from npm (tools/install-deps.sh installs both).
if (os.path.exists("/usr/bin/chromium") and shutil.which("node") and
        os.path.isdir(os.path.join(config.dlc_src_root, "tests", "page", "node_modules",
                                   "playwright-core"))):
    config.available_features.add("chromium-playwright")

# In a sanitizer tree (tools/build.sh with SANITIZE=...) the runtime linked
# into every model.so is instrumented: a program built by plain `cc`, or
# Python, cannot load such a library. Tests that do say UNSUPPORTED: sanitized.
if "-fsanitize" in getattr(config, "c_flags", ""):
    config.available_features.add("sanitized")
