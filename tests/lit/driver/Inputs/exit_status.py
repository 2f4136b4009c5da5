"""Runs a command with its output discarded and prints `exit N`, its exit
status, for FileCheck: lit's shell only tells zero from non-zero.

  exit_status.py COMMAND [ARGS...]
"""
import subprocess
import sys

print("exit", subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
