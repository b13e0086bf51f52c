#!/usr/bin/env bash
# The main job, end to end, on the local emulator: seed an organization; `guardduty-enabler status` (drift, exit
# 2); the deploy-time bootstrap through the bootstrapper, as CloudFormation invokes it (findings export on); a new
# account announced by its CreateAccountResult event, in an SQS batch as the queue delivers it, through the
# responder (both functions served by `cargo lambda watch` over the Lambda runtime API); a tamper (someone stops
# monitoring that account in one region) repaired by the responder from CloudTrail's record of the call; then
# `guardduty-enabler status` again (in sync, exit 0); and last `guardduty-enabler report` of the demo organization, whose directory it
# prints (it is kept). Stops everything it started, by the process ids it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH"
py="$root/.venv/bin/python"
export EMULATOR_PORT=${EMULATOR_PORT:-4599}
lambda_port=${DEMO_LAMBDA_PORT:-9100}
catch_port=${DEMO_RESPONSE_PORT:-9101}
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
watch_pid=""
catch_pid=""

cleanup() {
  # cargo lambda watch runs in a process group of its own, with the function binaries it starts: stop that group.
  if [ -n "$watch_pid" ]; then kill -- "-$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true; fi
  if [ -n "$catch_pid" ]; then kill "$catch_pid" 2>/dev/null || true; fi
  tests/emulator/emulator.sh stop
  rm -rf "$work"
}
trap cleanup EXIT

url=$(tests/emulator/emulator.sh start)
echo "emulator: $url"
read -r management admin < <("$py" tests/demo.py seed "$url" 4)
echo "organization: management $management, delegated GuardDuty admin $admin, 4 members"

echo
echo "building the functions and the command line (the first time takes minutes) ..."
built=$(date +%s)
# (apart, as cargo lambda watch builds the functions: the command line's own features stay out of theirs)
cargo build --quiet -p bootstrapper -p responder
cargo build --quiet -p guardduty-enabler
echo "   built in $(( $(date +%s) - built )) s"
export AWS_ENDPOINT_URL="$url" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export GUARDDUTY_ADMIN_ACCOUNT_ID="$admin"
# findings exported from every governed region to one bucket (the status shows it per region)
findings="arn:aws:s3:::guardduty-findings-demo/guardduty"
findings_key="arn:aws:kms:us-east-1:999988887777:key/0c5f3a0e-6f7d-4c1a-9b3e-2f4d5e6a7b8c"
export GUARDDUTY_FINDINGS_DESTINATION="$findings" GUARDDUTY_FINDINGS_KMS_KEY="$findings_key"
status() {
  local code=0
  "$target/debug/guardduty-enabler" status || code=$?
  echo "(guardduty-enabler status exited $code)"
}

echo
echo "0) Before: guardduty-enabler status"
status

echo
echo "starting cargo lambda watch on port $lambda_port ..."
setsid cargo lambda watch --quiet --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$lambda_port" \
  --env-var "AWS_ENDPOINT_URL=$url,AWS_REGION=us-east-1,AWS_ACCESS_KEY_ID=testing,AWS_SECRET_ACCESS_KEY=testing,GUARDDUTY_ADMIN_ACCOUNT_ID=$admin,GUARDDUTY_FINDINGS_DESTINATION=$findings,GUARDDUTY_FINDINGS_KMS_KEY=$findings_key" \
  >"$work/watch.log" 2>&1 &
watch_pid=$!
for _ in $(seq 1 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$lambda_port") 2>/dev/null; then break; fi
  sleep 0.2
done
# cargo lambda watch builds each function on its first invocation: an event each ignores (no AWS call) gets that
# done before anything is timed
echo "   warming up the functions under cargo lambda watch ..."
warmed=$(date +%s)
for function in bootstrapper responder; do
  cargo lambda invoke "$function" --invoke-address 127.0.0.1 --invoke-port "$lambda_port" \
    --data-file tests/events/ec2-instance-state-change.json >/dev/null
done
echo "   ready in $(( $(date +%s) - warmed )) s"

echo
echo "1) CloudFormation creates the stack: Create request to the bootstrapper"
"$py" tests/demo.py catch "$catch_port" "$work/cfn-response.json" &
catch_pid=$!
sed -e "s#http://127.0.0.1:1/response#http://127.0.0.1:$catch_port/response#" -e "s/111122223333/$management/g" -e "s/222233334444/$admin/g" \
  tests/events/cfn-create.json >"$work/cfn-create.json"
start=$(date +%s%N)
cargo lambda invoke bootstrapper --invoke-address 127.0.0.1 --invoke-port "$lambda_port" --data-file "$work/cfn-create.json" >"$work/bootstrap.json"
echo "   bootstrapper answered in $(( ($(date +%s%N) - start) / 1000000 )) ms"
wait "$catch_pid"
catch_pid=""
"$py" tests/demo.py cfn "$work/cfn-response.json"

echo
echo "2) A new account is created; its CreateAccountResult event reaches the responder"
echo "   through the queue (an SQS batch)"
account=$("$py" tests/demo.py create-account "$url" newcomer)
sed -e "s/444455556666/$account/g" -e "s/111122223333/$management/g" tests/events/sqs-account-events.json >"$work/event.json"
start=$(date +%s%N)
cargo lambda invoke responder --invoke-address 127.0.0.1 --invoke-port "$lambda_port" --data-file "$work/event.json" >"$work/onboard.json"
echo "   responder answered in $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$py" tests/demo.py summary "$work/onboard.json"
"$py" tests/demo.py enrolled "$url" "$account" "$admin"

echo
echo "3) Tamper: someone stops monitoring that account in eu-west-1; CloudTrail's record of the call"
echo "   (StopMonitoringMembers) reaches the responder through the queue"
"$py" tests/demo.py tamper "$url" "$admin" "$account" eu-west-1
sed -e "s/777788889999/$admin/g" -e "s/444455556666/$account/g" -e "s/us-east-1/eu-west-1/g" \
  tests/events/tamper-guardduty-stop-monitoring-members.json >"$work/tamper-event.json"
"$py" -c 'import json,sys; b=json.load(open(sys.argv[1])); e=json.load(open(sys.argv[2])); b["Records"][0]["body"]=json.dumps(e); print(json.dumps(b))' \
  tests/events/sqs-account-events.json "$work/tamper-event.json" >"$work/tamper-batch.json"
start=$(date +%s%N)
cargo lambda invoke responder --invoke-address 127.0.0.1 --invoke-port "$lambda_port" --data-file "$work/tamper-batch.json" >"$work/tamper.json"
echo "   responder answered in $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$py" tests/demo.py repaired "$work/tamper.json" "$url" "$account" eu-west-1

echo
echo "4) After: guardduty-enabler status (in sync: exit 0, or the demo fails)"
"$target/debug/guardduty-enabler" status
echo "(guardduty-enabler status exited 0)"

echo
echo "5) Evidence for an auditor: guardduty-enabler report (reads only; clean: exit 0, or the demo fails)"
evidence="$target/demo-evidence"
rm -rf "$evidence"
"$target/debug/guardduty-enabler" report --out "$evidence"
"$target/debug/guardduty-enabler" report verify "$evidence" >/dev/null
echo "(guardduty-enabler report exited 0; its files verify)"
echo "the demo organization's evidence: $evidence/evidence.html"
