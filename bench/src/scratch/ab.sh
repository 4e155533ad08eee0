#!/bin/bash
# usage: ab.sh N reps
export PATH=/work/main/node_modules/.bin:$PATH
for i in $(seq $2); do echo "raw $(node profraw.ts $1)"; echo "cl $(node prof.ts $1)"; done | awk '{k=$1; w[k]=w[k]" "$2; c[k]=c[k]" "$6} END {for (k in w) {print k, "wall", w[k]; print k, "cpu ", c[k]}}'
