#!/usr/bin/env bash
# The reference for `argus stats`: upstream-style stats computed with jq over the
# registry, printing upstream's fields (generated_at, window_days, total_problems,
# by_type, by_severity, action_results, action_success_rate, hourly, daily).
# bench/bench_stats.py runs it side by side with Argus, in one run, and the tests
# check that both agree on the counts.
#
#   reference_stats.sh REGISTRY [DAYS|all] [slurp|stream]
#
# slurp (the default) reads the whole file into one array and groups it, as
# upstream's script did; stream folds record by record (`reduce inputs`), the
# fastest jq can do. Counts are per registry line in the window (ts >= now - DAYS);
# action_success_rate is success / (success + failure) over host actions and alerts,
# the definition Argus documents. A torn or garbage line makes jq fail: Argus skips
# it and says so.
set -euo pipefail

file=${1:?usage: reference_stats.sh REGISTRY [DAYS|all] [slurp|stream]}
days=${2:-7}
mode=${3:-slurp}
if [ "$days" = all ]; then
    since=""
    days_json=null
else
    since=$(date -u -d "@$(( $(date +%s) - days * 86400 ))" +%Y-%m-%dT%H:%M:%SZ)
    days_json=$days
fi

if [ "$mode" = slurp ]; then
    exec jq -s --arg since "$since" --argjson days "$days_json" '
      def counts(f): group_by(f) | map({key: (.[0] | f // "none"), value: length})
                     | from_entries;
      def counted: (.action_taken // "" | split(":")[0]) as $a
                   | ["restart_service", "kill_pid", "kill_tmux", "clean_disk", "alert"]
                   | index($a) != null;
      [.[] | select(.ts >= $since)] as $r
      | ($r | map(select(counted))) as $acts
      | ($acts | map(select(.action_result == "success")) | length) as $ok
      | ($acts | map(select(.action_result == "failure")) | length) as $bad
      | {generated_at: (now | todate), window_days: $days, total_problems: ($r | length),
         by_type: ($r | counts(.type)),
         by_severity: ($r | counts(.severity)),
         action_results: ($r | counts(.action_result)),
         action_success_rate: (if $ok + $bad > 0
                               then ($ok / ($ok + $bad) * 10000 | round) / 10000
                               else null end),
         hourly: ($r | group_by(.ts[0:13])
                  | map({bucket: (.[0].ts[0:13] + ":00:00Z"), count: length})),
         daily: ($r | group_by(.ts[0:10]) | map({bucket: .[0].ts[0:10], count: length}))}
    ' "$file"
fi

exec jq -n --arg since "$since" --argjson days "$days_json" '
  reduce (inputs | select(.ts >= $since)) as $r (
    {total: 0, by_type: {}, by_severity: {}, action_results: {}, hourly: {}, daily: {},
     ok: 0, bad: 0};
    ($r.action_taken // "" | split(":")[0]) as $a
    | .total += 1
    | .by_type[$r.type // "none"] += 1
    | .by_severity[$r.severity // "none"] += 1
    | .action_results[$r.action_result // "none"] += 1
    | .hourly[$r.ts[0:13] + ":00:00Z"] += 1
    | .daily[$r.ts[0:10]] += 1
    | if (["restart_service", "kill_pid", "kill_tmux", "clean_disk", "alert"]
          | index($a)) != null
      then (if $r.action_result == "success" then .ok += 1
            elif $r.action_result == "failure" then .bad += 1 else . end)
      else . end)
  | {generated_at: (now | todate), window_days: $days, total_problems: .total,
     by_type: .by_type, by_severity: .by_severity, action_results: .action_results,
     action_success_rate: (if .ok + .bad > 0
                           then (.ok / (.ok + .bad) * 10000 | round) / 10000
                           else null end),
     hourly: (.hourly | to_entries | sort_by(.key) | map({bucket: .key, count: .value})),
     daily: (.daily | to_entries | sort_by(.key) | map({bucket: .key, count: .value}))}
' "$file"
