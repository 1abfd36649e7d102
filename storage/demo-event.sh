#!/usr/bin/env bash
# Seeds a demo organizer and a published demo event through the node's public API, once per
# database: the organizer's API key is kept in <state file>, and a second run only prints it.
#
#   storage/demo-event.sh <base url> <state file>
#
# Used by run.sh after the node is ready. Needs curl; prints the event's public URL.
set -euo pipefail
base=$1
state=$2
demo_email=demo@eventstripe.example
demo_password=demo-password-not-secret

json_field() {  # json_field NAME PREFIX: the first "NAME":"PREFIX..." string value on stdin
  grep -o "\"$1\":\"$2[^\"]*\"" | head -n 1 | sed "s/^\"$1\":\"//; s/\"\$//"
}

if [[ -s $state ]]; then
  echo "demo: event $(cat "$state")"
  exit 0
fi

signup=$(curl -sS -X POST "$base/api/v1/organizers" -H 'content-type: application/json' \
  -d "{\"email\":\"$demo_email\",\"password\":\"$demo_password\",\"workspace_name\":\"Demo\"}")
key=$(echo "$signup" | json_field key es_)
if [[ -z $key ]]; then
  echo "demo: no demo organizer created ($signup); skipping the demo event" >&2
  exit 0
fi
auth=(-H "authorization: Bearer $key" -H 'content-type: application/json')
starts=$(date -u -d '+30 days' +%Y-%m-%dT19:30:00Z)
ends=$(date -u -d '+30 days' +%Y-%m-%dT23:00:00Z)
event=$(curl -sS -X POST "$base/api/v1/organizer/events" "${auth[@]}" -d "{\"slug\":\"demo-night\",
  \"title\":\"EventStripe Demo Night\",\"description\":\"A demo event created by run.sh.\",
  \"venue\":{\"name\":\"Demo Hall\",\"address\":\"Example Street 1, Berlin\",\"latitude\":52.52,\"longitude\":13.405},
  \"time_zone\":\"Europe/Berlin\",\"starts_at\":\"$starts\",\"ends_at\":\"$ends\",\"currency\":\"EUR\",
  \"tax_country\":\"DE\"}")
event_id=$(echo "$event" | json_field id ev_)
curl -sS -o /dev/null -X POST "$base/api/v1/organizer/events/$event_id/ticket-types" "${auth[@]}" \
  -d '{"name":"General admission","capacity":500,"price":{"minor":2500,"currency":"EUR"},"max_per_order":6}'
curl -sS -o /dev/null -X POST "$base/api/v1/organizer/events/$event_id/ticket-types" "${auth[@]}" \
  -d '{"name":"VIP","capacity":50,"price":{"minor":12000,"currency":"EUR"},"max_per_order":2}'
curl -sS -o /dev/null -X POST "$base/api/v1/organizer/events/$event_id/publish" "${auth[@]}"
echo "$base/api/v1/events/$event_id  (organizer key: $key)" > "$state"
echo "demo: event $(cat "$state")"
