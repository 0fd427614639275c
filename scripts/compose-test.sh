#!/usr/bin/env bash
# `make compose-test`: the docker-compose topology end to end, on this machine's Docker engine.
#
# 1. scripts/compose-setup.sh: the engine, docker-compose and the base image (CARAVAN_BASE_IMAGE, by default
#    the local caravan-base:bookworm); then `docker-compose build`, which builds the one image once.
# 2. The pilot: `docker-compose run --rm pilot` must exit 0 with every expectation holding, and leave on the
#    host, in out/compose/aze-geo-uzb-transit/run/, its events and every document with its signed envelope;
#    `caravan verify`, run in the uz container, accepts one envelope of each message type.
# 3. What the host reaches, on 127.0.0.1 only: the hub's published port answers /health to a client
#    certificate of the scenario CA and refuses a TLS client without one; a trader's system lodges a
#    declaration at the uz container's trader API (docs/TRADERS.md's worked example, run as written) and
#    reads its MRN, and the hub carried the declaration; the trainers' view (`docker-compose up view`)
#    serves the finished run.
# 4. A second run while the parties are up is refused by prepare (exit 3) and leaves the first run's results
#    alone. `docker stop` ends each party on SIGTERM with exit 0, long before the engine's 10 s grace period
#    would have it killed.
# 5. The faults scenario: when its restart step says it waits, `docker-compose restart hub` restarts the hub
#    container; the run must exit 0 with every expectation holding, the hub must be a new instance, and the
#    results must be on the host in out/compose/faults-red-bridge/run/.
# Every Docker command has a time limit, so a wedged engine fails the test instead of hanging it. Everything is
# taken down at the end, images this build left untagged are removed, and a dockerd that this script started is
# stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARAVAN_BASE_IMAGE=${CARAVAN_BASE_IMAGE:-caravan-base:bookworm}
# the published ports, from .env; a variable set in the shell wins, as it does for docker-compose
while IFS='=' read -r name value; do
    [[ -n ${!name:-} ]] || export "$name=$value"
done < <(grep -E '^CARAVAN_[A-Z_]+_PORT=' .env)
OUT=out/compose
PILOT=aze-geo-uzb-transit
FAULTS=faults-red-bridge
TRADER=UZ301234567001
export DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/run/caravan-dockerd.pid}
# vfs copies an image's whole tree for each container and deletes it on removal: on a busy machine that takes
# longer than docker-compose's default 60 s read timeout, which then fails the command mid-removal
export COMPOSE_HTTP_TIMEOUT=${COMPOSE_HTTP_TIMEOUT:-600}
RESULTS=()

step() { printf '\n== %s\n' "$*"; STEP_BEGAN=$SECONDS; }
passed() { echo "   ok: $* ($((SECONDS - STEP_BEGAN)) s)"; RESULTS+=("ok: $* ($((SECONDS - STEP_BEGAN)) s)"); }
fail() { echo "compose-test: FAILED: $*" >&2; exit 1; }
compose() { timeout 600 docker-compose "$@"; }

engine_was_running=false
timeout 20 docker info >/dev/null 2>&1 && engine_was_running=true

finish() {
    local status=$?
    step "taking the topology down"
    timeout 300 docker-compose --profile view down --remove-orphans >/dev/null 2>&1 || true
    # the image a build replaced keeps its label and loses its tag: remove those, nothing else
    timeout 300 docker image prune -f --filter label=org.opencontainers.image.title=caravan >/dev/null 2>&1 || true
    if ! $engine_was_running && [[ -f $DOCKERD_PIDFILE ]]; then
        local pid
        pid=$(cat "$DOCKERD_PIDFILE")
        echo "   stopping the dockerd this test started (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -0 "$pid" 2>/dev/null && echo "   dockerd (pid $pid) is still running after 30 s" >&2
        rm -f "$DOCKERD_PIDFILE"
    fi
    printf '\n== summary (%d s in all)\n' "$SECONDS"
    [[ ${#RESULTS[@]} -eq 0 ]] || printf '   %s\n' "${RESULTS[@]}"
    if [[ $status -eq 0 ]]; then echo "compose-test: PASSED"; else echo "compose-test: FAILED (exit $status)"; fi
}
trap finish EXIT

# Every expectation of a run's output holds: "Expectations: N/N hold" and no ✗.
verdict_holds() {
    local log=$1
    grep -Eq '^Expectations: ([0-9]+)/\1 hold' "$log" && ! grep -q '✗' "$log"
}

# The results a run left on the host: its events, and every document beside its signed envelope.
results_on_host() {
    local run=$OUT/$1/run minimum=$2 documents envelopes
    envelopes=$(find "$run/messages" -type f -name '*.envelope.xml' 2>/dev/null | wc -l)
    documents=$(find "$run/messages" -type f ! -name '*.envelope.xml' 2>/dev/null | wc -l)
    [[ $documents -ge $minimum ]] || fail "$run/messages holds $documents documents, fewer than $minimum"
    [[ $envelopes -eq $documents ]] || fail "$run/messages holds $documents documents but $envelopes envelopes"
    [[ -s $run/events.jsonl ]] || fail "$run/events.jsonl is missing or empty"
    echo "$documents"
}

started_at() { docker inspect -f '{{.State.StartedAt}}' "$(compose ps -q "$1")"; }

step "engine, docker-compose and base image ($CARAVAN_BASE_IMAGE)"
timeout 1800 scripts/compose-setup.sh "$CARAVAN_BASE_IMAGE" || fail "scripts/compose-setup.sh could not set Docker up (exit $?)"

step "building the image once"
compose --profile view down --remove-orphans >/dev/null 2>&1 || true
mkdir -p "$OUT"
build_log=$(mktemp)
set +e
timeout 2400 docker-compose build 2>&1 | tee "$build_log" | grep -E '^(Building|Successfully tagged)|uses an image'
rc=${PIPESTATUS[0]}
set -e
[[ $rc -eq 0 ]] || { tail -n 20 "$build_log"; fail "docker-compose build failed (exit $rc; 124: timed out)"; }
built=$(grep -c '^Building' "$build_log" || true)
[[ $built -eq 1 ]] || fail "docker-compose build built $built images, not one"
rm -f "$build_log"
passed "one image built (caravan:latest), the other services use it"

step "pilot: docker-compose run --rm pilot"
export CARAVAN_SCENARIO=$PILOT
set +e
timeout 1200 docker-compose run --rm -T pilot </dev/null 2>&1 | tee "$OUT/$PILOT.log"
rc=${PIPESTATUS[0]}
set -e
[[ $rc -eq 0 ]] || fail "the pilot exited $rc (124: timed out)"
verdict_holds "$OUT/$PILOT.log" || fail "the pilot's expectations do not all hold"
count=$(results_on_host $PILOT 40)
passed "pilot exit 0, $(grep -E '^Expectations:' "$OUT/$PILOT.log"), $count documents and as many envelopes in $OUT/$PILOT/run/messages/"

step "the envelopes on the host verify: caravan verify in the uz container, one per message type"
envelopes=()
for type in $(find "$OUT/$PILOT/run/messages" -name '*.envelope.xml' -printf '%f\n' | cut -d- -f2 | sort -u); do
    envelopes+=("$(find "$OUT/$PILOT/run/messages" -name "*-$type-*.envelope.xml" -printf '%f\n' | sort | head -n 1)")
done
verified=${#envelopes[@]}
[[ $verified -ge 10 ]] || fail "only $verified message types to verify"
# one exec for all: each file is checked by its own `caravan verify`, and the first refusal stops the loop
said=$(compose exec -T uz sh -c 'cd "$0" && for envelope; do caravan verify "$envelope" --ca ../../pki/ca.pem \
    || { echo "refused: $envelope"; exit 1; }; done' "/data/$PILOT/run/messages" "${envelopes[@]}" 2>&1) \
    || fail "caravan verify: $said"
passed "$verified envelopes verified, one of each message type (signature, signer, certificate chain)"

step "the hub's published port: mutual TLS from the host"
tls=$OUT/$PILOT/pki/tls
health=$(curl -sS --max-time 10 --cacert "$tls/ca.pem" --cert "$tls/driver.pem" --key "$tls/driver-key.pem" \
    "https://localhost:$CARAVAN_HUB_PORT/health")
[[ $health == *'"component": "hub"'* ]] || fail "the hub's published port answered: $health"
passed "https://localhost:$CARAVAN_HUB_PORT/health with the driver's certificate -> $health"
if refused=$(curl -sS --max-time 10 --cacert "$tls/ca.pem" "https://localhost:$CARAVAN_HUB_PORT/health" 2>&1); then
    fail "the hub answered a client without a certificate: $refused"
fi
passed "a client without a certificate gets no answer: curl ${refused##*curl: }"

step "trader API: docs/TRADERS.md's worked example against the uz container (127.0.0.1:$CARAVAN_UZ_PORT)"
deliveries() {
    curl -sS --fail --max-time 10 --cacert "$tls/ca.pem" --cert "$tls/driver.pem" --key "$tls/driver-key.pem" \
        "https://localhost:$CARAVAN_HUB_PORT/deliveries"
}
declarations=$(deliveries | grep -o '"message_type": "CC015C"' | wc -l)
example=$(awk '/^## Worked example/ { on = 1 } on && /^```bash$/ { grab = 1; next } grab && /^```$/ { exit } grab' \
    docs/TRADERS.md)
[[ -n $example ]] || fail "docs/TRADERS.md has no worked example"
workdir=$(mktemp -d)
set +e
(cd "$workdir" && PKI=$ROOT/$OUT/$PILOT/pki NODE=https://localhost:$CARAVAN_UZ_PORT ME=$TRADER \
    DECLARATION=$ROOT/scenarios/samples/p5/uz-cc015c-silk-road.xml timeout 120 bash -c "$example") \
    >"$OUT/$PILOT-trader.log" 2>&1
rc=$?
set -e
rm -rf "$workdir"
[[ $rc -eq 0 ]] || { cat "$OUT/$PILOT-trader.log"; fail "the worked example exited $rc"; }
codes=$(grep -E '^HTTP [0-9]{3}$' "$OUT/$PILOT-trader.log" | tr '\n' ' ')
[[ $codes == 'HTTP 202 HTTP 200 ' ]] || { cat "$OUT/$PILOT-trader.log"; fail "lodged, then again: $codes"; }
mrn=$(grep -oE '<MRN>26UZ[0-9A-Z]{14}</MRN>' "$OUT/$PILOT-trader.log" | head -n 1)
[[ -n $mrn ]] || { cat "$OUT/$PILOT-trader.log"; fail "no MRN in the CC028C the trader read"; }
after=$(deliveries | grep -o '"message_type": "CC015C"' | wc -l)
[[ $after -eq $((declarations + 1)) ]] || fail "the hub carried $((after - declarations)) declarations, not one"
passed "$TRADER lodged a CC015C (202), read its CC028C ($mrn), the same again was absorbed (200); the hub carried it once"

step "trainers' view: docker-compose up view (127.0.0.1:$CARAVAN_VIEW_PORT)"
compose up -d --no-deps view >/dev/null 2>&1 || fail "docker-compose up view failed: $(compose logs --no-color view)"
entries=$(wc -l <"$OUT/$PILOT/run/events.jsonl")
page=""
for _ in $(seq 1 60); do
    page=$(curl -sS --max-time 5 "http://localhost:$CARAVAN_VIEW_PORT/api/entries" 2>/dev/null) && break
    sleep 1
done
[[ $page == *'"finished": true'* ]] || fail "the view did not serve the finished run: $(compose logs --no-color view)"
shown=$(grep -o '"kind": ' <<<"$page" | wc -l)
[[ $shown -ge $entries ]] || fail "the view shows $shown entries of the run's $entries"
curl -sS --fail --max-time 5 "http://localhost:$CARAVAN_VIEW_PORT/" | grep -q '<html' || fail "the view's page is not served"
compose rm -sf view >/dev/null 2>&1
passed "http://localhost:$CARAVAN_VIEW_PORT/ serves the page and the run's $entries entries, finished"

step "a second run while the parties are up is refused"
set +e
timeout 600 docker-compose run --rm -T pilot </dev/null >"$OUT/$PILOT-again.log" 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "a second run on stores in use was not refused"
compose logs --no-color prepare | grep -q 'holds the store .* of a component still running' \
    || fail "prepare did not say why it refused: $(compose logs --no-color prepare | tail -n 3)"
[[ $(results_on_host $PILOT 40) -eq $count ]] || fail "the refused run changed the first run's results"
passed "second run refused (exit $rc): prepare names the store in use; the first results are untouched"

step "SIGTERM: docker stop ends each party cleanly"
seconds() { awk -v begin="$1" -v end="$2" 'BEGIN { printf "%.2f", end - begin }'; }
for service in uz az ge hub; do
    STEP_BEGAN=$SECONDS
    id=$(compose ps -q "$service")
    begin=$(date +%s.%N)
    timeout 60 docker stop -t 10 "$id" >/dev/null
    round_trip=$(seconds "$begin" "$(date +%s.%N)")
    exited=$(seconds "$begin" "$(date -d "$(docker inspect -f '{{.State.FinishedAt}}' "$id")" +%s.%N)")
    code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
    [[ $code -eq 0 ]] || fail "$service exited $code on SIGTERM"
    awk -v took="$exited" 'BEGIN { exit !(took < 10) }' || fail "$service took $exited s to stop: killed, not stopped"
    passed "$service: exit 0 ${exited} s after docker stop was asked (docker stop returned after $round_trip s)"
done
down_log=$(compose down --remove-orphans 2>&1) || fail "docker-compose down failed: $down_log"

step "faults scenario, with docker-compose restart hub in the middle"
export CARAVAN_SCENARIO=$FAULTS
log=$OUT/$FAULTS.log
timeout 1800 docker-compose run --rm -T pilot </dev/null >"$log" 2>&1 &
run=$!
for _ in $(seq 1 900); do
    grep -q 'waiting for hub to be restarted from outside' "$log" && break
    kill -0 $run 2>/dev/null || { cat "$log"; fail "the faults run ended before its restart step"; }
    sleep 1
done
grep -q 'waiting for hub to be restarted from outside' "$log" || { cat "$log"; fail "no restart step in 15 min"; }
before=$(started_at hub)
compose restart hub
set +e
wait $run
rc=$?
set -e
cat "$log"
[[ $rc -eq 0 ]] || fail "the faults run exited $rc (124: timed out)"
verdict_holds "$log" || fail "the faults run's expectations do not all hold"
grep -q 'hub was restarted: instance' "$log" || fail "the driver did not see a new hub instance"
after=$(started_at hub)
[[ $after != "$before" ]] || fail "the hub container was not restarted"
count=$(results_on_host $FAULTS 30)
passed "faults exit 0, $(grep -E '^Expectations:' "$log"), hub restarted mid-run ($before -> $after), $count documents and envelopes in $OUT/$FAULTS/run/"
