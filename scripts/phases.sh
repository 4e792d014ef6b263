# Sourced by scripts/test.sh and scripts/demo.sh: run named phases, time each, print a summary.
#   phase NAME COMMAND...   runs COMMAND, records its wall time under NAME (stops the script on failure)
#   phase_list              the recorded phases as "name=seconds,..." (for the test suite's own summary)
#   phase_summary           a line per phase and the total, as printed at the end of `make demo`
PHASES=()

phase() {
  local name=$1 started=$SECONDS
  shift
  "$@"
  PHASES+=("$name=$((SECONDS - started))")
}

phase_list() {
  local IFS=,
  echo "${PHASES[*]}"
}

phase_summary() {
  local item total=0
  echo "==> time per phase"
  for item in "${PHASES[@]}"; do
    printf '%8s s  %s\n' "${item#*=}" "${item%%=*}"
    total=$((total + ${item#*=}))
  done
  printf '%8s s  total\n' "$total"
}
