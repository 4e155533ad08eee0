#!/bin/bash
export PATH=/work/main/node_modules/.bin:$PATH
n=$1; reps=$2
for i in $(seq $reps); do echo "raw $(node profraw.ts $n)"; echo "lock $(node prof.ts $n)"; done | python3 -c '
import sys,collections,statistics
w=collections.defaultdict(list);c=collections.defaultdict(list)
for l in sys.stdin:
  f=l.split(); w[f[0]].append(float(f[1])); c[f[0]].append(float(f[4]))
for k in w: print(f"{k:10} wall min {min(w[k]):6.1f} med {statistics.median(w[k]):6.1f} | cpu min {min(c[k]):6.1f} med {statistics.median(c[k]):6.1f}")
'
