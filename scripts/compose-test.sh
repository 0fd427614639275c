#!/usr/bin/env bash
# `make compose-test`: the docker-compose topology end to end, on this machine's Docker engine.
#
# 1. scripts/compose-setup.sh: the engine, docker-compose and the base image (CARAVAN_BASE_IMAGE, by default
#    the local caravan-base:bookworm); then `docker-compose build`, which builds the one image once.
# 2. The pilot: `docker-compose run --rm pilot` must exit 0 with every expectation holding, and leave its
#    messages and events on the host in out/compose/aze-geo-uzb-transit/run/. The hub answers /health on its
#    published port. A second run while the parties are up is refused by prepare (exit 3) and leaves the
#    first run's results alone. `docker stop` ends each party on SIGTERM with exit 0, long before the
#    engine's 10 s grace period would have it killed.
# 3. The faults scenario: when its restart step says it waits, `docker-compose restart hub` restarts the hub
#    container; the run must exit 0 with every expectation holding, the hub must be a new instance, and the
#    results must be on the host in out/compose/faults-red-bridge/run/.
# Everything is taken down at the end, and a dockerd that this script started is stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARAVAN_BASE_IMAGE=${CARAVAN_BASE_IMAGE:-caravan-base:bookworm}
HUB_PORT=${CARAVAN_HUB_PORT:-8700}
OUT=out/compose
PILOT=aze-geo-uzb-transit
FAULTS=faults-red-bridge
export DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/run/caravan-dockerd.pid}
RESULTS=()

step() { printf '\n== %s\n' "$*"; }
passed() { echo "   ok: $*"; RESULTS+=("ok: $*"); }
fail() { echo "compose-test: FAILED: $*" >&2; exit 1; }

engine_was_running=false
docker info >/dev/null 2>&1 && engine_was_running=true

finish() {
    local status=$?
    step "taking the topology down"
    docker-compose down --remove-orphans >/dev/null 2>&1 || true
    if ! $engine_was_running && [[ -f $DOCKERD_PIDFILE ]]; then
        local pid
        pid=$(cat "$DOCKERD_PIDFILE")
        echo "   stopping the dockerd this test started (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        rm -f "$DOCKERD_PIDFILE"
    fi
    printf '\n== summary\n'
    printf '   %s\n' "${RESULTS[@]}"
    if [[ $status -eq 0 ]]; then echo "compose-test: PASSED"; else echo "compose-test: FAILED (exit $status)"; fi
}
trap finish EXIT

# Every expectation of a run's output holds: "Expectations: N/N hold" and no ✗.
verdict_holds() {
    local log=$1
    grep -Eq '^Expectations: ([0-9]+)/\1 hold' "$log" && ! grep -q '✗' "$log"
}

# The results a run left on the host: its messages and its events.
results_on_host() {
    local run=$OUT/$1/run minimum=$2 count
    count=$(find "$run/messages" -type f 2>/dev/null | wc -l)
    [[ $count -ge $minimum ]] || fail "$run/messages holds $count files, fewer than $minimum"
    [[ -s $run/events.jsonl ]] || fail "$run/events.jsonl is missing or empty"
    echo "$count"
}

started_at() { docker inspect -f '{{.State.StartedAt}}' "$(docker-compose ps -q "$1")"; }

step "engine, docker-compose and base image ($CARAVAN_BASE_IMAGE)"
scripts/compose-setup.sh "$CARAVAN_BASE_IMAGE"

step "building the image once"
docker-compose down --remove-orphans >/dev/null 2>&1 || true
mkdir -p "$OUT"
build_log=$(mktemp)
docker-compose build 2>&1 | tee "$build_log" | grep -E '^(Building|Successfully tagged)|uses an image' || true
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail "docker-compose build failed"
built=$(grep -c '^Building' "$build_log" || true)
[[ $built -eq 1 ]] || fail "docker-compose build built $built images, not one"
passed "one image built (caravan:latest), the other services use it"

step "pilot: docker-compose run --rm pilot"
export CARAVAN_SCENARIO=$PILOT
set +e
docker-compose run --rm -T pilot </dev/null 2>&1 | tee "$OUT/$PILOT.log"
rc=${PIPESTATUS[0]}
set -e
[[ $rc -eq 0 ]] || fail "the pilot exited $rc"
verdict_holds "$OUT/$PILOT.log" || fail "the pilot's expectations do not all hold"
count=$(results_on_host $PILOT 40)
passed "pilot exit 0, $(grep -E '^Expectations:' "$OUT/$PILOT.log"), $count messages in $OUT/$PILOT/run/"

tls=$OUT/$PILOT/pki/tls
health=$(curl -sS --max-time 10 --cacert "$tls/ca.pem" --cert "$tls/driver.pem" --key "$tls/driver-key.pem" \
    "https://localhost:$HUB_PORT/health")
[[ $health == *'"component": "hub"'* ]] || fail "the hub's published port answered: $health"
passed "the hub answers on its published port: https://localhost:$HUB_PORT/health -> $health"

step "a second run while the parties are up is refused"
set +e
docker-compose run --rm -T pilot </dev/null >"$OUT/$PILOT-again.log" 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "a second run on stores in use was not refused"
docker-compose logs --no-color prepare | grep -q 'holds the store .* of a component still running' \
    || fail "prepare did not say why it refused: $(docker-compose logs --no-color prepare | tail -n 3)"
[[ $(results_on_host $PILOT 40) -eq $count ]] || fail "the refused run changed the first run's results"
passed "second run refused (exit $rc): prepare names the store in use; the first results are untouched"

step "SIGTERM: docker stop ends each party cleanly"
seconds() { awk -v begin="$1" -v end="$2" 'BEGIN { printf "%.2f", end - begin }'; }
for service in uz az ge hub; do
    id=$(docker-compose ps -q "$service")
    begin=$(date +%s.%N)
    docker stop -t 10 "$id" >/dev/null
    round_trip=$(seconds "$begin" "$(date +%s.%N)")
    exited=$(seconds "$begin" "$(date -d "$(docker inspect -f '{{.State.FinishedAt}}' "$id")" +%s.%N)")
    code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
    [[ $code -eq 0 ]] || fail "$service exited $code on SIGTERM"
    awk -v took="$exited" 'BEGIN { exit !(took < 10) }' || fail "$service took $exited s to stop: killed, not stopped"
    passed "$service: exit 0 ${exited} s after docker stop was asked (docker stop returned after $round_trip s)"
done
docker-compose down --remove-orphans >/dev/null 2>&1

step "faults scenario, with docker-compose restart hub in the middle"
export CARAVAN_SCENARIO=$FAULTS
log=$OUT/$FAULTS.log
docker-compose run --rm -T pilot </dev/null >"$log" 2>&1 &
run=$!
for _ in $(seq 1 900); do
    grep -q 'waiting for hub to be restarted from outside' "$log" && break
    kill -0 $run 2>/dev/null || { cat "$log"; fail "the faults run ended before its restart step"; }
    sleep 1
done
grep -q 'waiting for hub to be restarted from outside' "$log" || { cat "$log"; fail "no restart step in 15 min"; }
before=$(started_at hub)
docker-compose restart hub
set +e
wait $run
rc=$?
set -e
cat "$log"
[[ $rc -eq 0 ]] || fail "the faults run exited $rc"
verdict_holds "$log" || fail "the faults run's expectations do not all hold"
grep -q 'hub was restarted: instance' "$log" || fail "the driver did not see a new hub instance"
after=$(started_at hub)
[[ $after != "$before" ]] || fail "the hub container was not restarted"
count=$(results_on_host $FAULTS 30)
passed "faults exit 0, $(grep -E '^Expectations:' "$log"), hub restarted mid-run ($before -> $after), $count messages in $OUT/$FAULTS/run/"
