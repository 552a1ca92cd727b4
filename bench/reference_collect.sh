#!/usr/bin/env bash
# The reference for Argus's collector cost: what the original bash Argus ran each
# cycle to collect. Benchmarks run it side by side with Argus, in one run.
free -m
df -h /
nproc
cat /proc/loadavg
uptime -p
pgrep -cf 'node.*--test'
ps -eo pid,comm,%mem,rss,etime --sort=-rss
for socket in default agents argus; do
    tmux -L "$socket" list-sessions 2>/dev/null
done
curl -s -m 5 http://127.0.0.1:9/ >/dev/null
exit 0
