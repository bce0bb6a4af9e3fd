#!/bin/sh
# Everyday shell work for fdwatch's benign-workload test: the pipelines and redirections
# of pipelines.sh (here-documents, subshells, command substitution, fd 3/4 redirections),
# then background jobs that are waited for, nohup to /dev/null, xargs and find.
set -e
. "$(dirname "$0")/pipelines.sh"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
sleep 0.1 & wait
nohup sleep 0.2 >/dev/null 2>&1 &
wait
find /etc -maxdepth 1 -name '*.conf' 2>/dev/null | head -n 5 | xargs -r ls -l > /dev/null
seq 1 200 | awk '{ s += $1 } END { print s }' > "$t/sum"
grep -c . /etc/passwd > /dev/null
env | sort | uniq -c | sort -rn | head -n 3 > /dev/null
gzip -c /etc/passwd | gunzip -c | md5sum > /dev/null
