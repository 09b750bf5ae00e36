#!/usr/bin/env bash
# dgc-scaling end to end: usage: test_scaling.sh PATH/TO/dgc-scaling
# Step times made by the model's own formula from known link parameters (alpha 100 us and a
# 3 Gbit/s cap, given; an efficiency per layout, rate and collective, fitted) and known local
# times must give back those, predictions within 0.05% of every point (fitted and held out), the
# crossover that the formula implies, and time to accuracy from the accuracy runs' epochs; its
# files and plots are written; a CSV that is not e2e.sh's is one error naming the file, and
# nothing is written. The bytes an allreduce or an allgatherv puts on a host link follow Open
# MPI's choice of algorithm (checked directly, and through 2x2 points that only the right bytes
# fit).
set -uo pipefail
scaling=${1:?usage: test_scaling.sh PATH/TO/dgc-scaling}
python=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$python" - "$work" <<'PY'
import sys
work = sys.argv[1]
alpha, cap = 100e-6, 3e9
# The part of each rate that each collective reaches (the fastest link is the cap).
efficiency = {("10mbit", "allreduce"): 0.60, ("100mbit", "allreduce"): 0.80,
              ("1gbit", "allreduce"): 0.70, ("10mbit", "allgather"): 0.50,
              ("100mbit", "allgather"): 0.60, ("1gbit", "allgather"): 0.50,
              ("10gbit", "allreduce"): 1, ("10gbit", "allgather"): 1}
efficiency_2x2 = {"10mbit": 0.54, "100mbit": 0.74, "1gbit": 0.66}  # on the fit's grid
rates = {"10mbit": 10e6, "100mbit": 100e6, "1gbit": 1e9, "10gbit": 10e9}
# exchange, epoch, t_local (s), sent, received (bytes per rank) at np 4 (4 hosts of 1)
runs = [("allreduce", 1, 0.250, 13_000_000, 13_000_000),
        ("fp16", 1, 0.240, 6_500_000, 6_500_000),
        ("dgc", 1, 0.300, 1_500_000, 4_600_000),
        ("dgc", 2, 0.260, 20_000, 62_000)]
with open(f"{work}/steps.csv", "w") as f:
    f.write("model,layout,hosts,ranks_per_host,np,rate,exchange,variant,epoch,setting,step_ms,"
            "images_per_s,bytes_sent,bytes_received\n")
    for x, e, local, sent, received in runs:
        for name, rate in rates.items():
            p = 4
            collective = "allreduce" if sent == received else "allgather"
            # At 4 hosts of 1: Rabenseifner's allreduce (1.5 times the buffer on each link in
            # 4 messages a rank, the largest half of it), and an allgatherv of every other
            # rank's message in 2 steps (Bruck's or the neighbour exchange), for the sizes and
            # the messages.
            w, c = (2 * (p - 1) / p * sent, 4) if sent == received else (received, 4)
            # Messages within Open MPI's eager limit get TCP's 0.95 of the rate below the
            # fastest link.
            piece = sent / 2 if collective == "allreduce" else sent
            eff = 0.95 if piece <= 65536 and name != "10gbit" else efficiency[(name, collective)]
            t = local + c * alpha + w * 8 / min(eff * rate, cap)
            f.write(f"convnet,4x1,4,1,4,{name},{x},default,{e},,{1000 * t:.3f},0,{sent},{received}\n")
            # Repeats of a point: their median (t) is the point.
            if x == "allreduce":
                for factor in (3, 0.9):
                    f.write(f"convnet,4x1,4,1,4,{name},{x},default,{e},,{factor * 1000 * t:.3f},0,"
                            f"{sent},{received}\n")
            # A variant must not enter the fit: wildly off.
            f.write(f"convnet,4x1,4,1,4,{name},{x},sleep,{e},,{5000 * t:.3f},0,{sent},{received}\n")
    # 2 hosts of 2 ranks: Open MPI's Rabenseifner puts a large buffer on each host link once
    # (4 messages a rank), recursive doubling a buffer under 8 KiB twice (2 messages; eager).
    for x, e, local, sent, w, c in (("allreduce", 1, 0.280, 13_000_000, 13_000_000, 4),
                                    ("powersgd", 2, 0.270, 8_000, 16_000, 2)):
        for name, rate in rates.items():
            eff = (0.95 if sent < 65536 else efficiency_2x2[name]) if name != "10gbit" else 1
            t = local + c * alpha + w * 8 / min(eff * rate, cap)
            f.write(f"convnet,2x2,2,2,4,{name},{x},default,{e},,{1000 * t:.3f},0,{sent},{sent}\n")
    # dgc_auto with 2 ranks per host: its counters may include a node's sum; out of the model.
    for name in rates:
        f.write(f"convnet,2x2,2,2,4,{name},dgc_auto,default,1,,1.0,0,13000000,1000\n")
# Each accuracy run with its rank count's steps per epoch: 118 at np 4; the 2x2 allreduce's run
# is given 59 and its own curve, to show that each layout takes its own run's.
with open(f"{work}/accuracy.csv", "w") as f:
    f.write("model,exchange,layouts,steps_per_epoch,epoch,top1\n")
    for e, top1 in enumerate([80, 85, 88.5, 90], 1):
        f.write(f"convnet,allreduce,4x1,118,{e},{top1}\n")
    for e, top1 in enumerate([70, 84, 87, 88.1], 1):
        f.write(f"convnet,dgc,4x1,118,{e},{top1}\n")
    for e, top1 in enumerate([86, 88.2], 1):
        f.write(f"convnet,allreduce,2x2,59,{e},{top1}\n")
PY

"$scaling" "$work/steps.csv" --out-dir "$work/out" --accuracy "$work/accuracy.csv" \
  --targets convnet=88 --alpha-us 100 --cap-gbit 3 > "$work/stdout" 2> "$work/stderr" || { cat "$work/stderr"; fail "dgc-scaling failed"; }
grep -q "fit: alpha 100 us and cap 3 Gbit/s (given)" "$work/stdout" ||
  { cat "$work/stdout"; fail "alpha and the cap were not taken as given"; }
grep -q "left out of the model: 4 points of dgc_auto with several ranks per host" "$work/stdout" ||
  { cat "$work/stdout"; fail "dgc_auto with several ranks per host was modelled"; }
for expected in "4x1 10mbit allreduce: 0.60" "4x1 100mbit allreduce: 0.80" "4x1 1gbit allreduce: 0.70" \
                "4x1 10mbit allgather: 0.50" "4x1 100mbit allgather: 0.60" "4x1 1gbit allgather: 0.50" \
                "2x2 10mbit allreduce: 0.54" "2x2 100mbit allreduce: 0.74" "2x2 1gbit allreduce: 0.66"; do
  grep -q "efficiency $expected" "$work/stdout" ||
    { cat "$work/stdout"; fail "the efficiency $expected was not recovered"; }
done
grep -q "18 points predicted (the fastest link's give t_local): 18 points, median error 0.0%, largest 0.0%" \
  "$work/stdout" || { cat "$work/stdout"; fail "predictions off the formula"; }
# The allgather's cells hold one point each (DGC's second epoch is eager), and so do 2x2's
# allreduce cells: 6 have no held-out prediction.
grep -q "held out (each point's link fitted without it): 12 points, median error 0.0%, largest 0.0%" \
  "$work/stdout" || { cat "$work/stdout"; fail "held-out predictions off the formula"; }
grep -q '^| allreduce, [a-z0-9. ]* | [0-9,]* ([0-9,]*) \[3\] |' "$work/out/step_tables.md" ||
  { cat "$work/out/step_tables.md"; fail "the step tables do not give the repeats' median"; }
for f in points.csv efficiency.csv step_tables.md crossover.csv speedup.csv time_to_accuracy.csv speedup_bandwidth.png speedup_nodes.png; do
  [ -s "$work/out/$f" ] || fail "no $f"
done
# DGC's fixed time (0.260 s + 4 alpha) exceeds fp16's (0.240 + 4 alpha) by 20 ms, and the
# dense float32's (0.250 + 4 alpha) by 10 ms; a dense link carries 1.5 x 6.5 MB (fp16) or
# 1.5 x 13 MB (float32) at the allreduce's mean efficiency over the rates (0.7) against DGC's
# 62 kB, eager, at TCP's 0.95: DGC is faster below 8 (W_dense / 0.7 - 62 kB / 0.95) / gap.
"$python" - "$work/out" <<'PY' || fail "the crossover or the time to accuracy is wrong"
import csv, sys
out = sys.argv[1]
cross = {(r["sparse"], r["dense"]): r["sparse_faster_below"] for r in csv.DictReader(open(f"{out}/crossover.csv"))}
for dense, wire, gap in (("fp16", 1.5 * 6_500_000, 0.020), ("allreduce", 1.5 * 13_000_000, 0.010)):
    expected = 8 * (wire / 0.7 - 62_000 / 0.95) / gap / 1e6
    got = float(cross[("dgc", dense)].split()[0])  # "N Mbit/s"; the CSV's ms have 3 decimals
    assert abs(got - expected) < 0.001 * expected, (cross, expected)
for r in csv.DictReader(open(f"{out}/points.csv")):
    assert r["runs"] == ("3" if r["exchange"] == "allreduce" and r["layout"] == "4x1" else "1"), r
tta = {(r["exchange"], r["rate"]): r for r in csv.DictReader(open(f"{out}/time_to_accuracy.csv"))
       if r["layout"] == "4x1"}
# Dense reaches 88 at epoch 3, DGC at epoch 4: epochs 1 (ratio setting) and 2.. (the last one's).
r = tta[("allreduce", "10mbit")]
assert r["epochs"] == "3", r
dense = 0.250 + 4 * 100e-6 + 1.5 * 13e6 * 8 / 6e6
assert abs(float(r["seconds"]) - 3 * 118 * dense) < 0.2, (r, 3 * 118 * dense)
r = tta[("dgc", "10mbit")]
first = 0.300 + 4 * 100e-6 + 4.6e6 * 8 / 5e6
later = 0.260 + 4 * 100e-6 + 62_000 * 8 / 9.5e6
assert r["epochs"] == "4" and abs(float(r["seconds"]) - 118 * (first + 3 * later)) < 0.2, r
r = next(r for r in csv.DictReader(open(f"{out}/time_to_accuracy.csv"))
         if (r["layout"], r["exchange"], r["rate"]) == ("2x2", "allreduce", "10mbit"))
dense_2x2 = 0.280 + 4 * 100e-6 + 13e6 * 8 / (0.54 * 10e6)
assert r["epochs"] == "2" and abs(float(r["seconds"]) - 2 * 59 * dense_2x2) < 0.2, (r, 2 * 59 * dense_2x2)
PY
# A bad accuracy CSV: exit 1 and one error naming what is wrong.
accuracy_error() {  # CSV MESSAGE WHAT
  "$scaling" "$work/steps.csv" --out-dir "$work/acc" --accuracy "$1" --targets convnet=88 \
    > /dev/null 2> "$work/stderr"
  [ $? -eq 1 ] && grep -q "$2" "$work/stderr" || { cat "$work/stderr"; fail "--accuracy took $3"; }
}
sed 's/^convnet,allreduce,2x2,59,/convnet,allreduce,4x1 2x2,59,/' "$work/accuracy.csv" > "$work/twice.csv"
accuracy_error "$work/twice.csv" "convnet allreduce at 4x1 is in two accuracy runs ('4x1' and '4x1 2x2')" \
  "a layout in two accuracy runs"
sed '3s/,118,/,117,/' "$work/accuracy.csv" > "$work/steps_differ.csv"
accuracy_error "$work/steps_differ.csv" "$work/steps_differ.csv:3: convnet allreduce (4x1) has 118 and 117 steps per epoch" \
  "one run with two step counts"
sed '2s/,118,/,0,/' "$work/accuracy.csv" > "$work/nosteps.csv"
accuracy_error "$work/nosteps.csv" "$work/nosteps.csv:2: steps_per_epoch must be positive, got 0" "no steps"
cut -d, -f1-3,5- "$work/accuracy.csv" > "$work/old_accuracy.csv"
accuracy_error "$work/old_accuracy.csv" "not a per-epoch accuracy CSV (needs the columns" "a CSV without steps_per_epoch"

# The bytes on a host link (and messages per rank; an allreduce's largest message between hosts)
# by the algorithm Open MPI 4.1.4 picks: what bench/cluster/collective_wire.sh reads off the links.
"$python" - "$scaling" <<'PY' || fail "a collective's bytes on the link are not Open MPI's algorithm's"
import importlib.machinery, importlib.util, sys
loader = importlib.machinery.SourceFileLoader("dgc_scaling", sys.argv[1])
spec = importlib.util.spec_from_loader("dgc_scaling", loader)
m = importlib.util.module_from_spec(spec)
loader.exec_module(m)
n = 13_000_000
assert m.allreduce_wire(n, 4, 2) == (n, 4, n / 4)               # Rabenseifner's, 2x2
assert m.allreduce_wire(n, 4, 4) == (1.5 * n, 4, n / 2)         # Rabenseifner's, 4x1
assert m.allreduce_wire(8000, 4, 2) == (16000, 2, 8000)         # recursive doubling, 2x2
assert m.allreduce_wire(8000, 4, 4) == (16000, 2, 8000)         # recursive doubling, 4x1
assert m.allreduce_wire(100_000, 2, 2) == (100_000, 2, 50_000)  # the segmented ring, 2x1
assert m.allreduce_wire(4, 2, 2) == (4, 2, 2)                   # the ring (under 8 bytes)
assert m.allreduce_wire(n, 256, 256)[:2] == (2 * 255 / 256 * n, 16)
assert m.allgatherv_wire(22_000, 4, 2) == (110_000, 2)       # Bruck's, 2x2: 5 blocks
assert m.allgatherv_wire(5_500, 4, 2) == (16_500, 3)         # the ring, 2x2: 3 blocks
assert m.allgatherv_wire(400_000, 4, 2) == (1_600_000, 2)    # the neighbour exchange, 2x2: 4
assert m.allgatherv_wire(22_000, 4, 4) == (66_000, 2)        # one rank per host: p - 1 blocks
assert m.allgatherv_wire(100_000, 256, 256) == (25_500_000, 255)
for ranks, hosts, size, says in ((512, 512, n, "beyond the model's table"),
                                 (6, 3, n, "powers of two only"),
                                 (128, 128, 100_000, "algorithm 2")):
    try:
        m.allreduce_wire(size, ranks, hosts)
        raise AssertionError(f"no error for {ranks} ranks")
    except m.PlotError as e:
        assert says in str(e), e
PY

# --statistic mean takes each run's step_mean_ms instead of its step_ms: the same steps with their
# medians made wildly off give back the same links; a CSV without the column is one error naming
# the first row.
"$python" - "$work" <<'PY'
import csv, sys
work = sys.argv[1]
rows = list(csv.DictReader(open(f"{work}/steps.csv")))
with open(f"{work}/means.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]) + ["step_mean_ms"])
    w.writeheader()
    for r in rows:
        w.writerow(dict(r, step_ms=3 * float(r["step_ms"]), step_mean_ms=r["step_ms"]))
PY
"$scaling" "$work/means.csv" --out-dir "$work/means" --alpha-us 100 --cap-gbit 3 --statistic mean \
  > "$work/stdout" 2> "$work/stderr" || { cat "$work/stderr"; fail "dgc-scaling --statistic mean failed"; }
grep -q "efficiency 4x1 10mbit allreduce: 0.60" "$work/stdout" &&
  grep -q "18 points predicted (the fastest link's give t_local): 18 points, median error 0.0%, largest 0.0%" "$work/stdout" ||
  { cat "$work/stdout"; fail "--statistic mean did not fit the means"; }
"$scaling" "$work/steps.csv" --out-dir "$work/means" --statistic mean > /dev/null 2> "$work/stderr"
[ $? -eq 1 ] && grep -q "$work/steps.csv:2: convnet 4x1 10mbit allreduce epoch 1 has no step_mean_ms" "$work/stderr" ||
  { cat "$work/stderr"; fail "--statistic mean took a CSV without the means"; }
"$scaling" "$work/steps.csv" --out-dir "$work/means" --statistic mode > /dev/null 2> "$work/stderr"
[ $? -eq 2 ] && grep -q "statistic takes median or mean, got 'mode'" "$work/stderr" ||
  { cat "$work/stderr"; fail "--statistic mode was not a usage error"; }

# --wire: collective_wire.sh's rows with Open MPI's default algorithm beside the model's bytes
# (the busiest host, each way); forced algorithms are not the model's and stay out. Where a row
# has its calls' times at a slower link, the part of the rate it reached on the model's bytes,
# with the same call at the fastest link as its t_local (there less its bytes at the 2.5 Gbit/s
# cap), beside the efficiency the model uses: at 2x2 and 10 Mbit/s the allreduce's 13 MB (at the
# cap 0.0416 s, so no t_local) in 20.8 s is 0.5 of the link (0.495 by the median, 21 s; 0.25 by
# the calls back to back, 41.6 s), where the steps above fit 0.54; the allgatherv's 22 kB are eager (TCP's 0.95), and 5 blocks of them
# in 0.12 s with 10 ms of t_local are 0.8 (at 100 Mbit/s faster than at the fastest link: no
# figure); no step fits an allgather of 158 kB at 2x2 (0.6). A row without times (measured
# before collective_wire.sh timed its calls) has none.
{ echo "collective,hosts,ranks_per_host,algorithm,node,bytes,tx_per_call,rx_per_call,seconds_median,seconds_mean,seconds_back_to_back,rate"
  echo "allreduce,2,2,default,0,13000000,13000000,13100000,21,20.8,41.6,10mbit"
  echo "allreduce,2,2,default,1,13000000,13050000,13000000,21,20.8,41.6,10mbit"
  echo "allreduce,2,2,default,0,13000000,13000000,13000000,0.0416,0.0416,0.0416,10gbit"
  echo "allreduce,2,2,4,0,13000000,19500000,19500000,30,30,30,10mbit"
  echo "allgatherv,2,2,default,0,22000,121000,121000,0.12,0.12,,10mbit"
  echo "allgatherv,2,2,default,1,22000,110000,110000,0.12,0.12,,10mbit"
  echo "allgatherv,2,2,default,0,22000,110000,110000,0.010352,0.010352,,10gbit"
  echo "allgatherv,2,2,default,0,22000,110000,110000,0.005,0.005,,100mbit"
  echo "allgatherv,2,2,default,0,158000,790000,790000,1.0533333,1.0533333,,10mbit"
  echo "allgatherv,2,2,default,0,158000,790000,790000,0.002528,0.002528,,10gbit"
  echo "allgatherv,2,2,default,0,5500,16500,16500,,,,"
} > "$work/wire.csv"
"$scaling" "$work/steps.csv" --out-dir "$work/wired" --wire "$work/wire.csv" --alpha-us 100 \
  --cap-gbit 3 > "$work/stdout" 2> "$work/stderr" || { cat "$work/stderr"; fail "dgc-scaling --wire failed"; }
grep -q "wire: 4 collectives read off the links, measured over the model's bytes 1.000 to 1.100" "$work/stdout" ||
  { cat "$work/stdout"; fail "--wire did not compare the busiest host with the model"; }
tr -d '\r' < "$work/wired/wire.csv" | grep -qx "allgatherv,2x2,22000,121000,110000,1.1" ||
  { cat "$work/wired/wire.csv"; fail "wire.csv does not hold the allgatherv's row"; }
grep -q "collectives timed alone: 4 (collective_efficiency.csv)" "$work/stdout" ||
  { cat "$work/stdout"; fail "--wire did not take the 4 timed rows below the fastest link"; }
for expected in "allgatherv,2x2,10mbit,22000,0.12,0.12,0.010352,0.8,0.8,,0.95,eager" \
                "allgatherv,2x2,10mbit,158000,1.0533333,1.0533333,0.002528,0.6,0.6,,,not fitted" \
                "allreduce,2x2,10mbit,13000000,20.8,21.0,0.0416,0.5,0.495,0.25,0.54,fitted" \
                "allgatherv,2x2,100mbit,22000,0.005,0.005,0.010352,,,,0.95,eager"; do
  tr -d '\r' < "$work/wired/collective_efficiency.csv" | grep -qx "$expected" ||
    { cat "$work/wired/collective_efficiency.csv"; fail "collective_efficiency.csv has no row $expected"; }
done
# The 2x2 allreduce's point at 10 Mbit/s predicted with the 0.5 its collective reached alone
# instead of the 0.54 fitted: 0.280 s of t_local + 4 alpha + 13 MB at 0.5 of 10 Mbit/s. The other
# points have no timed collective of their layout, rate and size.
grep -q "from the collectives alone (collective_wire.sh's efficiency of the same collective, layout, rate and size): 1 points" \
  "$work/stdout" || { cat "$work/stdout"; fail "no point was predicted from the collectives alone"; }
tr -d '\r' < "$work/wired/points.csv" | grep -q '^convnet,2x2,10mbit,allreduce,1,,[0-9.]*,1,[0-9.]*,[-0-9.]*,[0-9.]*,[-0-9.]*,21080.4,' ||
  { cat "$work/wired/points.csv"; fail "the 2x2 allreduce at 10 Mbit/s was not predicted from its collective alone"; }
[ "$(tr -d '\r' < "$work/wired/points.csv" | awk -F, '$13 != ""' | wc -l)" -eq 2 ] ||
  { cat "$work/wired/points.csv"; fail "points without a timed collective were predicted from one"; }
# A bad --wire CSV: exit 1 and one error naming what is wrong.
wire_error() {  # CSV MESSAGE WHAT
  "$scaling" "$work/steps.csv" --out-dir "$work/wired" --wire "$1" > /dev/null 2> "$work/stderr"
  [ $? -eq 1 ] && grep -q "$2" "$work/stderr" || { cat "$work/stderr"; fail "--wire took $3"; }
}
grep -v '^allgatherv,2,2,default,0,158000,790000,790000,0.002528' "$work/wire.csv" > "$work/nofast.csv"
wire_error "$work/nofast.csv" "the allgatherv of 158000 bytes at 2x2 has times at 10mbit but none at 10gbit" \
  "a timed call without its fastest link's"
sed 's/,10mbit$/,10mb/' "$work/wire.csv" > "$work/badrate.csv"
wire_error "$work/badrate.csv" "$work/badrate.csv:2: unknown rate '10mb'" "a row at an unknown rate"
sed 's/,0.12,0.12,,10mbit$/,0,0,,10mbit/' "$work/wire.csv" > "$work/notime.csv"
wire_error "$work/notime.csv" "$work/notime.csv:6: a collective took no time" "a call of no time"
wire_error "$work/steps.csv" "$work/steps.csv: not a bench/cluster/collective_wire.sh CSV" \
  "a CSV that is not collective_wire.sh's"
sed 's/^allgatherv,2,2,default,1,22000,/allgatherv,2,2,default,1,22k,/' "$work/wire.csv" > "$work/badwire.csv"
wire_error "$work/badwire.csv" "$work/badwire.csv:7: a number is not one" "a row whose bytes are not a number"

# Not e2e.sh's CSV: one error naming the file, exit 1, nothing written.
echo "a,b" > "$work/bad.csv"
"$scaling" "$work/bad.csv" --out-dir "$work/bad" > "$work/stdout" 2> "$work/stderr"
[ $? -eq 1 ] || fail "a CSV without e2e.sh's columns did not exit 1"
grep -q "dgc-scaling: $work/bad.csv: not a bench/cluster/e2e.sh CSV" "$work/stderr" ||
  { cat "$work/stderr"; fail "no clear error for the bad CSV"; }
[ ! -e "$work/bad/points.csv" ] || fail "the bad CSV wrote results"
# "Repeats" that carried other bytes are other points: one error naming the point.
{ cat "$work/steps.csv"; echo "convnet,4x1,4,1,4,1gbit,dgc,default,2,,300,0,40000,62000"; } > "$work/mixed.csv"
"$scaling" "$work/mixed.csv" --out-dir "$work/mixed" > "$work/stdout" 2> "$work/stderr"
[ $? -eq 1 ] && grep -q "the runs of convnet 4x1 1gbit dgc 2 sent different bytes" "$work/stderr" ||
  { cat "$work/stderr"; fail "repeats with different bytes were merged"; }
# Where e2e.sh recorded dgc_auto's schemes, the error names them.
{ echo "model,layout,hosts,ranks_per_host,np,rate,exchange,variant,epoch,setting,step_ms,images_per_s,bytes_sent,bytes_received,step_mean_ms,auto_schemes"
  echo "convnet,2x2,2,2,4,10gbit,dgc_auto,default,1,ratio 0.1,300,0,1500000,2200000,310,reduce_scatter"
  echo "convnet,2x2,2,2,4,10gbit,dgc_auto,default,1,ratio 0.1,320,0,2900000,4400000,330,hierarchical"
} > "$work/auto.csv"
"$scaling" "$work/auto.csv" --out-dir "$work/auto" > "$work/stdout" 2> "$work/stderr"
[ $? -eq 1 ] && grep -q "(1500000 to 2900000; dgc_auto took hierarchical and reduce_scatter)" "$work/stderr" ||
  { cat "$work/stderr"; fail "the error does not name dgc_auto's schemes"; }
"$scaling" "$work/steps.csv" > /dev/null 2> "$work/stderr"
[ $? -eq 2 ] && grep -q "usage: dgc-scaling" "$work/stderr" || fail "a missing --out-dir is no usage error"
echo "dgc-scaling: all checks passed"
