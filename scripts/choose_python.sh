#!/bin/sh
# The Python `make` builds .venv with: PYTHON if given (its one argument), else the newest Python
# 3.10 or later on PATH, looked for as python3.13, python3.12, python3.11, python3.10, then python3.
# Prints that command on stdout and, on stderr, one line saying which it is and why. With none
# usable it prints nothing and exits 1: the Makefile says so in one line.
version() {
  "$1" -c 'import sys; assert sys.version_info >= (3, 10); print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null
}
if [ -n "$1" ]; then
  found=$(version "$1") || exit 1
  echo "Python: $1 (Python $found), as PYTHON says" >&2
  echo "$1"
  exit 0
fi
for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
  command -v "$candidate" >/dev/null 2>&1 || continue
  found=$(version "$candidate") || continue
  echo "Python: $candidate (Python $found), the newest Python 3.10 or later on PATH (PYTHON=python3.x picks another)" >&2
  echo "$candidate"
  exit 0
done
exit 1
