# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the benchmark scripts (sourced): result rows, each checked against its
# target, printed as one aligned table. A missed target sets failed=1.

rows=()
failed=0
TABLE_UNIT= # set after sourcing, where the header names the unit

# row CASE OURS SYSTEMD UNIT KIND LIMIT [noratio]
#   KIND ratio: PASS if OURS/SYSTEMD ≤ LIMIT; abs: PASS if OURS ≤ LIMIT; info: no target.
#   noratio: no ratio, for values that are ratios already. UNIT follows each value,
#   except $TABLE_UNIT, which the script's header names instead.
row() {
        local case=$1 ours=$2 sd=$3 unit=$4 kind=$5 limit=$6 ratio=- target=- result=info
        if [ "$sd" != - ] && [ "${7:-}" != noratio ]; then
                ratio=$(awk -v a="$ours" -v b="$sd" 'BEGIN { printf "%.2f", a / b }')
        fi
        case $kind in
        ratio)
                target="≤ ${limit}×"
                result=$(awk -v a="$ours" -v b="$sd" -v l="$limit" 'BEGIN { print (a / b <= l) ? "PASS" : "FAIL" }')
                ;;
        abs)
                target="≤ $limit $unit"
                result=$(awk -v a="$ours" -v l="$limit" 'BEGIN { print (a <= l) ? "PASS" : "FAIL" }')
                ;;
        esac
        [ "$result" = FAIL ] && failed=1
        [ "$unit" = "$TABLE_UNIT" ] || { ours="$ours $unit"; [ "$sd" = - ] || sd="$sd $unit"; }
        rows+=("$case|$ours|$sd|$ratio|$target|$result")
}

# table HEADER: HEADER ("case|ours|…") and the rows, the first column to the left,
# the others to the right.
table() {
        {
                echo "$1"
                printf '%s\n' "${rows[@]}"
        } | python3 -c '
import sys
rows = [line.rstrip("\n").split("|") for line in sys.stdin]
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for n, r in enumerate(rows):
    print(" | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)).rstrip())
    if n == 0:
        print("-+-".join("-" * x for x in w))
'
}
