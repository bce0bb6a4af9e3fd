#!/bin/sh
# Everyday shell pipelines and redirections, which must raise no alert: alert_negatives.rs
# runs this text with `sh -c` and `bash -c`, and benign.sh sources it.
set -e
t=$(mktemp -d)
echo one two three | tr ' ' '\n' | sort -r | head -n 2 > "$t/out"
cat < "$t/out" | wc -l >> "$t/count"
ls /nonexistent 2>/dev/null || true
ls /nonexistent 2>&1 | cat > /dev/null
{ echo a; echo b >&2; } 2>&1 | cat >/dev/null
exec 3>"$t/fd3"; echo via3 >&3; exec 3>&-
exec 4<"$t/out"; read -r line <&4; exec 4<&-
x=$( (echo sub; echo shell) | tail -n 1 )
while read -r l; do :; done < "$t/out"
cat <<EOF > "$t/here"
here $x
EOF
( cd "$t" && cat here out > both ) 2>/dev/null
sh -c 'echo nested | cat' > /dev/null
true | false | true
rm -rf "$t"
