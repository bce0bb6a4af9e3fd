#!/bin/sh
# Everyday shell work for fdwatch's benign-workload test: pipelines, redirections,
# here-documents, subshells, command substitution, fd 3/4 redirections, background jobs
# that are waited for, nohup to /dev/null, xargs and find.
set -e
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
echo one two three | tr ' ' '\n' | sort -r | head -n 2 > "$t/out"
cat < "$t/out" | wc -l >> "$t/count"
ls /nonexistent 2>/dev/null || true
ls /nonexistent 2>&1 | cat > /dev/null
{ echo a; echo b >&2; } 2>&1 | cat >/dev/null
exec 3>"$t/fd3"; echo via3 >&3; exec 3>&-
exec 4<"$t/out"; read -r line <&4; exec 4<&-
x=$( (echo sub; echo shell) | tail -n 1 )
while read -r l; do :; done < "$t/out"
cat <<EOT > "$t/here"
here $x $line
EOT
( cd "$t" && cat here out > both ) 2>/dev/null
sleep 0.1 & wait
nohup sleep 0.2 >/dev/null 2>&1 &
wait
find /etc -maxdepth 1 -name '*.conf' 2>/dev/null | head -n 5 | xargs -r ls -l > /dev/null
seq 1 200 | awk '{ s += $1 } END { print s }' > "$t/sum"
grep -c . /etc/passwd > /dev/null
env | sort | uniq -c | sort -rn | head -n 3 > /dev/null
gzip -c /etc/passwd | gunzip -c | md5sum > /dev/null
