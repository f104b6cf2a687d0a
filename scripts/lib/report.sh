# shellcheck shell=bash
# Sourced helper: one PASS or FAIL line per check, and the count of failures.
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
