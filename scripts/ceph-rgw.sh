#!/usr/bin/env bash
# A throw-away single-node Ceph cluster (one monitor, one OSD, radosgw) for tests and benchmarks,
# started without systemd. Every instance lives in its own directory and takes free ports, so
# several can run side by side (one per test file).
#
#   apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw   # Debian 12: Ceph 16.2
#   scripts/ceph-rgw.sh start DIR     # start (DIR is wiped first); prints the S3 settings
#   scripts/ceph-rgw.sh stop DIR      # stop the daemons by their pid files, remove DIR
#
# `start` writes DIR/s3.env (shell exports) and DIR/s3.json:
#   {"endpoint":"http://127.0.0.1:PORT","region":"us-east-1","accessKey":"..","secretKey":"..","pids":[..],"rgwPid":N}
#
# Environment:
#   RGW_PORT, MON_PORT, MON_PORT_V1   ports to use (default: free ports picked here)
#   OSD_STORE=memstore|bluestore      memstore keeps the data in RAM (fast start); bluestore in a sparse file
#   OSD_SIZE_MB=4096                  capacity of the OSD
#   OWNER_PID=PID                     stop the cluster by itself once this process is gone (a test
#                                     runner killed hard must not leave daemons behind)
#   S3_ACCESS_KEY / S3_SECRET_KEY     credentials of the S3 user that is created
#
# Two settings make it quick: paxos proposals every 0.1 s (start-up 13 s -> 2 s) and tcp_nodelay on
# the beast frontend (small requests 45 ms -> 5 ms).
set -euo pipefail

cmd=${1:-}
CEPH_DIR=${2:-}
if [ -z "$cmd" ] || [ -z "$CEPH_DIR" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
CEPH_DIR=$(realpath -m "$CEPH_DIR")
export CEPH_CONF=$CEPH_DIR/ceph.conf

stop() {
  local pids=() f pid
  for f in "$CEPH_DIR"/run/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null) || continue
    [ -n "$pid" ] && pids+=("$pid") && kill "$pid" 2>/dev/null || true
  done
  for _ in $(seq 20); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.25
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  # The watchdog's pid file has no .pid suffix: when the watchdog itself runs this, it must not kill itself.
  if [ -f "$CEPH_DIR/run/watchdog" ] && [ "$(cat "$CEPH_DIR/run/watchdog")" != "$$" ]; then
    kill "$(cat "$CEPH_DIR/run/watchdog")" 2>/dev/null || true
  fi
}

if [ "$cmd" = stop ]; then
  [ -d "$CEPH_DIR" ] || exit 0
  stop
  rm -rf "$CEPH_DIR"
  exit 0
fi
[ "$cmd" = start ] || { echo "$0: unknown command $cmd" >&2; exit 2; }

for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw)" >&2; exit 1; }
done
# Python comes with Ceph's packages; it picks ports and probes the gateway.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# Free TCP ports on 127.0.0.1, all bound at once so they differ; another process could still take
# one before the daemon binds it, which is rare enough (start fails with a clear message then).
free_ports() {
  "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

read -r p1 p2 p3 <<<"$(free_ports 3)"
RGW_PORT=${RGW_PORT:-$p1}
MON_PORT=${MON_PORT:-$p2}
MON_PORT_V1=${MON_PORT_V1:-$p3}
OSD_STORE=${OSD_STORE:-memstore}
OSD_SIZE_MB=${OSD_SIZE_MB:-4096}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-TESTACCESSKEY0000001}
S3_SECRET_KEY=${S3_SECRET_KEY:-testsecretkey0000000000000000000000000001}
MON_ADDR="[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_PORT_V1]"

[ -d "$CEPH_DIR/run" ] && stop
rm -rf "$CEPH_DIR"
mkdir -p "$CEPH_DIR"/{run,log,mon.a,osd0,rgw}
trap 'status=$?; if [ $status -ne 0 ]; then echo "ceph-rgw: start failed; logs in $CEPH_DIR/log" >&2; stop; fi' EXIT
FSID=$(cat /proc/sys/kernel/random/uuid)

# The OSD takes its ports from Ceph's default range (6800-7568), trying the next one when a port
# is taken, so concurrent clusters share that range without clashing.
cat >"$CEPH_CONF" <<EOF
[global]
fsid = $FSID
mon host = $MON_ADDR
public addr = 127.0.0.1
cluster addr = 127.0.0.1
run dir = $CEPH_DIR/run
pid file = $CEPH_DIR/run/\$name.pid
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/log/\$name.log
keyring = $CEPH_DIR/keyring
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon pg warn min per osd = 0
paxos propose interval = 0.1
paxos min wait = 0.01
mon osd down out interval = 0
mon warn on insecure global id reclaim allowed = false
mon warn on osd down out interval zero = false
[mon]
mon data = $CEPH_DIR/mon.\$id
mon cluster log file = $CEPH_DIR/log/cluster.log
[osd]
osd data = $CEPH_DIR/osd\$id
osd objectstore = $OSD_STORE
osd crush initial weight = 1
osd op num shards = 2
osd op num threads per shard = 1
memstore device bytes = $((OSD_SIZE_MB * 1024 * 1024))
bluestore block path = $CEPH_DIR/osd\$id/block.file
bluestore block create = true
bluestore block size = $((OSD_SIZE_MB * 1024 * 1024))
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mkfs = false
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $CEPH_DIR/rgw
rgw thread pool size = 64
rgw dns name =
# Reclaim deleted objects' space within a minute instead of after two hours: commits copy every
# blob, and a full OSD blocks all writes. (radosgw-admin gc process --include-all does it at once.)
rgw gc obj min wait = 60
rgw gc processor period = 30
EOF

# Every key up front: ceph-mon --mkfs imports each entity of this keyring into its auth database.
K=$CEPH_DIR/keyring
ceph-authtool --create-keyring "$K" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n client.rgw --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null

monmaptool --create --fsid "$FSID" --addv a "$MON_ADDR" "$CEPH_DIR/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$K"
ceph-mon -i a

if [ -n "${OWNER_PID:-}" ]; then
  # Detached from this shell: it outlives the script and stops the cluster after its owner.
  setsid bash -c '
    while kill -0 "$1" 2>/dev/null && [ -d "$2/run" ]; do sleep 2; done
    [ -d "$2/run" ] && exec "$3" stop "$2"
  ' watchdog "$OWNER_PID" "$CEPH_DIR" "$(realpath "$0")" </dev/null >/dev/null 2>&1 &
  echo $! >"$CEPH_DIR/run/watchdog"
fi

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(ceph osd new "$OSD_UUID")
ceph-osd -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" 2>>"$CEPH_DIR/log/osd-mkfs.log"
ceph-osd -i "$OSD_ID" 2>>"$CEPH_DIR/log/osd-start.log"
for _ in $(seq 120); do
  ceph osd dump 2>/dev/null | grep -q "^osd.$OSD_ID up" && break
  sleep 0.25
done
ceph osd dump | grep -q "^osd.$OSD_ID up" || { echo "ceph-rgw: the OSD did not come up" >&2; exit 1; }

# Whether the gateway answers HTTP (any status) on its port.
rgw_answers() {
  "$PY" -c 'import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)' "http://127.0.0.1:$RGW_PORT/"
}

radosgw -n client.rgw
for _ in $(seq 240); do
  rgw_answers && break
  sleep 0.25
done
rgw_answers || { echo "ceph-rgw: radosgw did not answer on port $RGW_PORT" >&2; exit 1; }

radosgw-admin user create --uid=tester --display-name="test user" \
  --access-key="$S3_ACCESS_KEY" --secret="$S3_SECRET_KEY" >/dev/null

pids=$(cat "$CEPH_DIR"/run/*.pid | paste -sd, -)
cat >"$CEPH_DIR/s3.env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export S3_REGION=us-east-1
export S3_ACCESS_KEY=$S3_ACCESS_KEY
export S3_SECRET_KEY=$S3_SECRET_KEY
export S3_FORCE_PATH_STYLE=1
EOF
cat >"$CEPH_DIR/s3.json" <<EOF
{"endpoint":"http://127.0.0.1:$RGW_PORT","region":"us-east-1","accessKey":"$S3_ACCESS_KEY","secretKey":"$S3_SECRET_KEY","pids":[$pids],"rgwPid":$(cat "$CEPH_DIR/run/client.rgw.pid")}
EOF
cat "$CEPH_DIR/s3.env"
