# Sourced by the store benchmarks: the best of three wall-clock times, in seconds, of
# `build/ftrun ARGS... --store STORE` (its output discarded).
#   best_of_three_seconds STORE ARGS...
best_of_three_seconds() {
  local store=$1
  shift
  local best=""
  for _ in 1 2 3; do
    local start end
    start=$(date +%s.%N)
    build/ftrun "$@" --store "$store" > /dev/null
    end=$(date +%s.%N)
    best=$(echo "$start $end ${best:-1000}" | awk '{ t = $2 - $1; print (t < $3 ? t : $3) }')
  done
  printf '%6.3f' "$best"
}
