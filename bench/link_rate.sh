# Sourced by bench/slow_link.sh and bench/cluster/'s scripts: a link rate in tc's decimal bit
# units (bit, kbit, mbit, gbit, tbit; 100mbit, 1gbit, 2.5gbit). Only these: tc's bps means bytes
# per second, easy to misread.
# rate_bits RATE: RATE in bit/s on stdout; for anything else, status 1 and nothing printed (the
# caller names itself in the error).
rate_bits() {
  [[ ${1,,} =~ ^([0-9]+(\.[0-9]+)?)(bit|kbit|mbit|gbit|tbit)$ ]] || return 1
  local scale=1
  case ${BASH_REMATCH[3]} in
    kbit) scale=1e3 ;;
    mbit) scale=1e6 ;;
    gbit) scale=1e9 ;;
    tbit) scale=1e12 ;;
  esac
  awk -v v="${BASH_REMATCH[1]}" -v s="$scale" 'BEGIN { printf "%.0f\n", v * s }'
}
