#!/usr/bin/env bash
# Machines as network namespaces, for tests that cut a machine off the network.
#
#   testbed.sh check                 exit 0 when a test-bed can be made here; else the reason, exit 2
#   testbed.sh up TAG N              N machines; prints KEY=VALUE lines (below); undone on failure
#   testbed.sh cut TAG I | heal TAG I    machine I's back link down / up (a partition)
#   testbed.sh route TAG ADDR [I]    exit 0 only if ADDR routes through this test-bed's own link
#                                    (from the root namespace, or from machine I)
#   testbed.sh down TAG              removes everything `up` made (idempotent)
#   testbed.sh sweep                 removes test-beds whose TAG starts with the pid of a process
#                                    that is gone (a test killed before it could clean up)
#
# TAG is [0-9a-z-], at most 11 characters: the test process's pid, a dash and
# a counter (e.g. 12345-0), so that `sweep` can tell whose it is. Names: namespaces weft-TAG-m1..mN; root-side links
# wTAGfb / wTAGbb (bridges), wTAGf<I> / wTAGb<I> (veths). `up` refuses to
# start if any of them exists.
#
# Addresses: a free pair of 10.203.0.0/16 subnets, chosen under a lock:
#   front 10.203.F.0/24: the root namespace is 10.203.F.1 (bridge wTAGfb), machine I is 10.203.F.(10+I)
#   back  10.203.B.0/24: the root namespace is 10.203.B.1 (bridge wTAGbb, where the tests' throwaway
#         PostgreSQL listens), machine I is 10.203.B.(10+I)
# Inside machine I: links `front` and `back`, and loopback. No default route: a machine reaches only
# its two subnets. A partition is `ip link set wTAGb<I> down` (no tc, iptables or nft here).
#
# `up` prints: FRONT=10.203.F  BACK=10.203.B  GATEWAY=10.203.B.1  NS_<I>=weft-TAG-m<I>
#              FRONT_<I>=10.203.F.(10+I)  BACK_<I>=10.203.B.(10+I)  (one per line)
set -Eeuo pipefail

die() { echo "testbed: $*" >&2; exit 2; }

check() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
  command -v ip >/dev/null || die "no \`ip\` (iproute2)"
  ip netns list >/dev/null 2>&1 || die "\`ip netns\` does not work here"
  local probe="weft-probe-$$"
  ip netns add "$probe" 2>/dev/null || die "cannot create a network namespace (ip netns add failed)"
  ip netns del "$probe"
  ip link add "wprobe$$" type bridge 2>/dev/null || die "cannot create a bridge"
  ip link del "wprobe$$"
}

names() { # TAG N
  tag=$1
  [[ "$tag" =~ ^[0-9a-z-]{1,11}$ ]] || die "TAG must be 1-11 of [0-9a-z-]: $tag"
  fb="w${tag}fb"; bb="w${tag}bb"
}

taken() { # the subnets in use in the root namespace
  ip -4 route show | awk '{print $1}'; ip -4 -o addr show | awk '{print $4}'
}

down() { # TAG
  names "$1"
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^weft-${tag}-m[0-9]+$" || true); do
    # Processes the test left in its own namespace (it started them).
    local pid
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  local dev
  for dev in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^w${tag}(fb|bb|f[0-9]+|b[0-9]+|F[0-9]+|B[0-9]+)$" || true); do
    ip link del "$dev" 2>/dev/null || true
  done
}

sweep() {
  local tag pid
  for tag in $(ip netns list | awk '{print $1}' | sed -nE 's/^weft-([0-9]+-[0-9a-z]+)-m[0-9]+$/\1/p' | sort -u); do
    pid=${tag%%-*}
    kill -0 "$pid" 2>/dev/null || down "$tag"
  done
}

up() { # TAG N
  names "$1"
  local n=$2
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 20 ] || die "N must be 1-20: $n"
  check
  if ip netns list | awk '{print $1}' | grep -qE "^weft-${tag}-"; then die "namespaces weft-${tag}-* exist already"; fi
  if ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -qE "^w${tag}"; then die "links w${tag}* exist already"; fi
  # Subnets: the first free pair, chosen and claimed under one lock.
  exec 9>/run/lock/weft-testbed.lock
  flock -w 30 9 || die "timed out waiting for the test-bed lock"
  local k front back used
  used=$(taken)
  for k in $(seq 1 100); do
    front=$((2 * k - 1)); back=$((2 * k))
    if ! grep -qE "^10\.203\.(${front}|${back})\." <<<"$used"; then break; fi
    front=""
  done
  [ -n "$front" ] || die "no free pair of 10.203.x.0/24 subnets"
  trap 'down "$tag"' ERR
  ip link add "$fb" type bridge
  ip link add "$bb" type bridge
  ip addr add "10.203.${front}.1/24" dev "$fb"
  ip addr add "10.203.${back}.1/24" dev "$bb"
  ip link set "$fb" up
  ip link set "$bb" up
  flock -u 9
  echo "FRONT=10.203.${front}"
  echo "BACK=10.203.${back}"
  echo "GATEWAY=10.203.${back}.1"
  local i ns
  for i in $(seq 1 "$n"); do
    ns="weft-${tag}-m${i}"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    local side
    for side in f b; do
      local bridge=$fb net=$front name=front
      [ "$side" = b ] && bridge=$bb net=$back name=back
      local upper; upper=$(tr fb FB <<<"$side")
      ip link add "w${tag}${side}${i}" type veth peer name "w${tag}${upper}${i}"
      ip link set "w${tag}${upper}${i}" netns "$ns"
      ip -n "$ns" link set "w${tag}${upper}${i}" name "$name"
      ip -n "$ns" addr add "10.203.${net}.$((10 + i))/24" dev "$name"
      ip -n "$ns" link set "$name" up
      ip link set "w${tag}${side}${i}" master "$bridge"
      ip link set "w${tag}${side}${i}" up
    done
    echo "NS_${i}=${ns}"
    echo "FRONT_${i}=10.203.${front}.$((10 + i))"
    echo "BACK_${i}=10.203.${back}.$((10 + i))"
  done
  trap - ERR
}

route() { # TAG ADDR [I]
  names "$1"
  local addr=$2 i=${3:-}
  [[ "$addr" =~ ^10\.203\.[0-9]+\.[0-9]+$ ]] || die "not a test-bed address: $addr"
  local out
  if [ -n "$i" ]; then
    out=$(ip -n "weft-${tag}-m${i}" route get "$addr" 2>&1) || die "no route to $addr from machine $i: $out"
    # From inside a machine: only through its own two links.
    grep -qE " dev (front|back) " <<<"$out" || die "$addr does not route through machine $i's own links: $out"
    grep -q " via " <<<"$out" && die "$addr routes through a gateway: $out"
  else
    out=$(ip route get "$addr" 2>&1) || die "no route to $addr: $out"
    if grep -qE "^local " <<<"$out"; then
      # One of the root namespace's own addresses: it must be one of this test-bed's bridges.
      ip -4 -o addr show dev "$fb" | grep -q " ${addr}/" || ip -4 -o addr show dev "$bb" | grep -q " ${addr}/" ||
        die "$addr is a local address but not this test-bed's: $out"
    else
      grep -qE " dev (${fb}|${bb}) " <<<"$out" || die "$addr does not route through this test-bed's links: $out"
      grep -q " via " <<<"$out" && die "$addr routes through a gateway: $out"
    fi
  fi
  echo "ok"
}

link() { # TAG I up|down
  names "$1"
  local dev="w${tag}b${2}"
  ip link show "$dev" >/dev/null 2>&1 || die "no back link $dev"
  ip link set "$dev" "$3"
}

cmd=${1:-}
shift || true
case "$cmd" in
  check) check ;;
  sweep) sweep ;;
  up) [ $# -eq 2 ] || die "usage: up TAG N"; up "$1" "$2" ;;
  down) [ $# -eq 1 ] || die "usage: down TAG"; down "$1" ;;
  cut) [ $# -eq 2 ] || die "usage: cut TAG I"; link "$1" "$2" down ;;
  heal) [ $# -eq 2 ] || die "usage: heal TAG I"; link "$1" "$2" up ;;
  route) [ $# -ge 2 ] || die "usage: route TAG ADDR [I]"; route "$@" ;;
  *) die "usage: testbed.sh check | sweep | up TAG N | cut TAG I | heal TAG I | route TAG ADDR [I] | down TAG" ;;
esac
